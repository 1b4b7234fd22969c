//! The pages that read: their hooks, paging through the cluster, escaping, headers, assets.

use axum::http::{Method, StatusCode};
use dkron_api::{DayStats, JobQuery};
use dkron_model::{Execution, JobStatus, MemberStatus};
use jiff::{Timestamp, ToSpan, tz::TimeZone};

use crate::support::{app, get, send, shell_job, ts};

/// The text inside the element that carries `hook` (`data-test="…"`), up to its first tag.
fn text_of(html: &str, hook: &str) -> String {
    let attr = format!("data-test=\"{hook}\"");
    let at = html
        .find(&attr)
        .unwrap_or_else(|| panic!("no {attr} in {html}"));
    let rest = &html[at..];
    let open_end = rest.find('>').expect("tag closes") + 1;
    let inner = &rest[open_end..];
    inner[..inner.find('<').unwrap_or(inner.len())].to_owned()
}

#[tokio::test]
async fn every_page_has_its_hook_the_theme_and_a_strict_policy() {
    let (router, fake) = app();
    fake.put(shell_job("backup"));
    for (path, page) in [
        ("/ui/", "page-dashboard"),
        ("/ui/jobs", "page-jobs"),
        ("/ui/jobs/backup", "page-job"),
        ("/ui/jobs/new", "page-job-form"),
        ("/ui/jobs/backup/edit", "page-job-form"),
        ("/ui/members", "page-members"),
        ("/ui/login", "page-login"),
    ] {
        let reply = get(&router, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        let html = reply.text();
        assert!(html.starts_with("<!DOCTYPE html>"), "{path}");
        assert!(
            html.contains(&format!("<main id=\"main\" data-test=\"{page}\">")),
            "{path}"
        );
        assert!(
            html.contains("<html lang=\"en\" data-theme=\"light\">"),
            "{path}"
        );
        assert_eq!(reply.count("data-test=\"theme-toggle\""), 1, "{path}");
        let csp = reply.header("content-security-policy").expect("CSP");
        assert!(csp.starts_with("default-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        // No inline script or style (the CSP would block them), no inline handlers.
        assert!(
            !html.contains("<script>") && !html.contains(" onclick="),
            "{path}"
        );
        assert!(!html.contains(" style="), "{path}");
    }
}

#[tokio::test]
async fn ui_without_slash_and_a_browser_at_root_are_sent_to_the_ui() {
    let (router, _) = app();
    let reply = get(&router, "/ui").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.header("location"), Some("ui/"));
    let reply = send(&router, Method::GET, "/", None, &[("accept", "text/html")]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("ui/"));
}

#[tokio::test]
async fn dashboard_shows_leader_nodes_jobs_chart_and_running_executions() {
    let (router, fake) = app();
    for name in ["a", "b", "c"] {
        fake.put(shell_job(name));
    }
    let mut failed = shell_job("d");
    failed.status = JobStatus::Failed;
    failed.disabled = true;
    fake.put(failed);
    let today = Timestamp::now().to_zoned_datetime(TimeZone::UTC).date();
    fake.lock().stats = vec![DayStats {
        date: today.checked_sub(1.day()).expect("in range"),
        success_count: 7,
        failed_count: 3,
    }];
    fake.add_execution(Execution {
        job_name: "a".into(),
        started_at: Timestamp::now(),
        node_name: "node1".into(),
        ..Execution::default()
    });
    let reply = get(&router, "/ui/").await;
    let html = reply.text();
    assert_eq!(text_of(&html, "leader"), "node1");
    assert_eq!(text_of(&html, "node-count"), "2");
    assert_eq!(text_of(&html, "job-count"), "4");
    assert!(html.contains("<svg data-test=\"stats-chart\""), "{html}");
    assert!(html.contains(": 7 succeeded, 3 failed"), "{html}");
    assert!(html.contains("10 in all"), "{html}");
    let running = &html[html.find("data-test=\"running-now\"").expect("running-now")..];
    assert!(running.contains(">a</a>"), "{running}");
    assert!(html.contains("failed</span>: 1"), "{html}");
    assert!(html.contains("disabled: 1"), "{html}");
    // Counts are empty pages: the dashboard never asks for jobs themselves.
    let queries = fake.lock().job_queries.clone();
    assert!(!queries.is_empty());
    assert!(queries.iter().all(|q| q.end == Some(0)), "{queries:?}");
}

#[tokio::test]
async fn jobs_list_pages_searches_filters_and_sorts_through_the_cluster() {
    let (router, fake) = app();
    for i in 0..60 {
        let mut job = shell_job(&format!("job-{i:02}"));
        job.disabled = i % 10 == 0;
        if i % 3 == 0 {
            job.status = JobStatus::Success;
        }
        fake.put(job);
    }
    let reply = get(&router, "/ui/jobs").await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert_eq!(reply.count("data-test=\"job-row\""), 25);
    assert!(html.contains("data-job=\"job-00\""), "{html}");
    assert!(!html.contains("data-job=\"job-25\""));
    assert_eq!(text_of(&html, "jobs-total"), "60");
    assert_eq!(text_of(&html, "page-number"), "1");
    assert!(
        html.contains("<a href=\"jobs/job-00\">job-00</a>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"jobs?page=2\" data-test=\"pager-next\""),
        "{html}"
    );
    assert!(!html.contains("pager-prev"));
    assert!(
        html.contains(
            "<form class=\"filters\" method=\"get\" action=\"jobs\" data-test=\"jobs-search\""
        ),
        "{html}"
    );
    assert!(html.contains("name=\"q\""));
    // The default list asks the cluster for exactly one page in name order.
    let last = fake.lock().job_queries.last().cloned().expect("asked");
    assert!(last.is_plain_name_page(), "{last:?}");
    assert_eq!((last.start, last.end), (0, Some(25)));

    let reply = get(&router, "/ui/jobs?page=3").await;
    assert_eq!(reply.count("data-test=\"job-row\""), 10);
    assert!(reply.text().contains("data-test=\"pager-prev\""));
    assert!(!reply.text().contains("data-test=\"pager-next\""));
    assert_eq!(text_of(&reply.text(), "page-number"), "3");

    let reply = get(&router, "/ui/jobs?q=job-1&enabled=true").await;
    let html = reply.text();
    assert_eq!(text_of(&html, "jobs-total"), "9");
    assert!(
        !html.contains("data-job=\"job-10\""),
        "disabled one filtered out"
    );

    let reply = get(
        &router,
        "/ui/jobs?status=success&sort=name&order=desc&per_page=5",
    )
    .await;
    let html = reply.text();
    assert_eq!(text_of(&html, "jobs-total"), "20");
    let first = html.find("data-job=\"job-57\"").expect("newest first");
    let second = html.find("data-job=\"job-54\"").expect("second");
    assert!(first < second);
    assert!(
        html.contains("href=\"jobs?status=success&amp;order=desc&amp;page=2&amp;per_page=5\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_bad_list_parameter_is_named_and_the_default_stands_in() {
    let (router, fake) = app();
    fake.put(shell_job("a"));
    let reply = get(&router, "/ui/jobs?status=bogus&page=0").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let html = reply.text();
    assert!(
        html.contains("data-test=\"field-error\" data-field=\"status\""),
        "{html}"
    );
    assert!(
        html.contains("data-test=\"field-error\" data-field=\"page\""),
        "{html}"
    );
    assert_eq!(reply.count("data-test=\"job-row\""), 1);
}

#[tokio::test]
async fn job_page_shows_fields_schedule_fires_actions_and_executions() {
    let (router, fake) = app();
    let mut job = shell_job("backup");
    job.schedule = "0 30 9 * * 1-5".into();
    job.timezone = "Europe/Paris".into();
    job.display_name = "<script>alert(1)</script>".into();
    job.skipped_count = 7;
    job.last_skipped = Some(ts("2026-12-01T09:30:00Z"));
    fake.put(job);
    let long = "x".repeat(5000) + "THE END";
    fake.add_execution(Execution {
        job_name: "backup".into(),
        started_at: ts("2026-12-01T10:00:00Z"),
        finished_at: Some(ts("2026-12-01T10:00:04Z")),
        success: true,
        output: long.clone(),
        node_name: "node1".into(),
        attempt: 1,
        ..Execution::default()
    });
    fake.add_execution(Execution {
        job_name: "backup".into(),
        started_at: ts("2026-12-02T10:00:00Z"),
        node_name: "node1".into(),
        attempt: 1,
        ..Execution::default()
    });
    let reply = get(&router, "/ui/jobs/backup").await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert_eq!(text_of(&html, "job-name"), "backup");
    assert_eq!(
        text_of(&html, "schedule-words"),
        "at 09:30 on Monday-Friday"
    );
    assert_eq!(reply.count("data-test=\"next-fire\""), 5);
    assert!(
        html.contains("(+01:00)") || html.contains("(+02:00)"),
        "fires in Paris: {html}"
    );
    assert_eq!(text_of(&html, "job-enabled"), "true");
    assert_eq!(text_of(&html, "job-skipped"), "7");
    assert_eq!(text_of(&html, "toggle"), "Disable");
    for hook in ["run-now", "delete", "edit"] {
        assert_eq!(reply.count(&format!("data-test=\"{hook}\"")), 1, "{hook}");
    }
    // Escaped, never markup.
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Newest first; the running one can be cancelled, the finished one shows its tail.
    assert_eq!(reply.count("data-test=\"execution-row\""), 2);
    let running = html.find("data-status=\"running\"").expect("running row");
    let finished = html.find("data-status=\"success\"").expect("finished row");
    assert!(running < finished);
    assert_eq!(reply.count("data-test=\"cancel-execution\""), 1);
    assert!(html.contains("took 4.0 s"), "{html}");
    assert!(html.contains("THE END"));
    assert!(!html.contains(&long), "long output is cut");
    let id = Execution::id_for(ts("2026-12-01T10:00:00Z"), "node1");
    assert!(
        html.contains(&format!(
            "href=\"?epage=1&amp;full={id}#exec-{id}\" data-test=\"output-show-all\""
        )),
        "{html}"
    );
    let reply = get(&router, &format!("/ui/jobs/backup?full={id}")).await;
    assert!(reply.text().contains(&long), "all of it");
    assert!(!reply.text().contains("output-show-all"));
}

#[tokio::test]
async fn running_output_comes_from_the_node_running_it() {
    let (router, fake) = app();
    fake.put(shell_job("slow"));
    let running = Execution {
        job_name: "slow".into(),
        started_at: ts("2026-12-02T10:00:00Z"),
        node_name: "node1".into(),
        ..Execution::default()
    };
    let id = running.id();
    fake.add_execution(running);
    // The store has no output yet; the node running it has some.
    fake.lock()
        .live_output
        .insert(id.clone(), "halfway\n".into());
    let reply = get(&router, "/ui/jobs/slow").await;
    assert!(reply.text().contains("halfway"), "{}", reply.text());
    assert!(reply.text().contains("data-live"));
    // The script follows it from the stream under /ui/ (relative to the job page).
    assert!(
        reply.text().contains(&format!(
            "data-test=\"execution-output\" data-stream=\"../jobs/slow/executions/{id}/stream\""
        )),
        "{}",
        reply.text()
    );
}

#[tokio::test]
async fn the_stream_of_an_execution_is_served_under_ui() {
    let (router, fake) = app();
    fake.put(shell_job("done"));
    let execution = Execution {
        job_name: "done".into(),
        started_at: ts("2026-12-02T10:00:00Z"),
        finished_at: Some(ts("2026-12-02T10:00:01Z")),
        success: true,
        output: "all\n".into(),
        node_name: "node1".into(),
        ..Execution::default()
    };
    let id = execution.id();
    fake.add_execution(execution);
    let page = get(&router, "/ui/jobs/done").await;
    assert!(
        !page.text().contains("data-stream"),
        "a finished one is not followed"
    );
    let reply = get(&router, &format!("/ui/jobs/done/executions/{id}/stream")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert!(
        reply
            .text()
            .starts_with("event: output\ndata: all\ndata: \n\nevent: end\n"),
        "{}",
        reply.text()
    );
    let missing = get(&router, "/ui/jobs/done/executions/1-x/stream").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("data-test=\"page-error\""));
}

#[tokio::test]
async fn unknown_job_is_a_404_page() {
    let (router, _) = app();
    let reply = get(&router, "/ui/jobs/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.text().contains("data-test=\"page-error\""));
    assert!(reply.text().contains("job nope not found"));
    let reply = get(&router, "/ui/jobs/nope/edit").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn members_mark_the_leader() {
    let (router, fake) = app();
    fake.lock().members[1].status = MemberStatus::Alive;
    let reply = get(&router, "/ui/members").await;
    let html = reply.text();
    assert_eq!(reply.count("data-test=\"member-row\""), 2);
    assert_eq!(reply.count("data-test=\"leader-mark\""), 1);
    let leader_row = html.find("data-member=\"node1\"").expect("node1");
    let agent_row = html.find("data-member=\"agent1\"").expect("agent1");
    let mark = html.find("data-test=\"leader-mark\"").expect("mark");
    assert!(leader_row < mark && mark < agent_row, "{html}");
}

#[tokio::test]
async fn schedule_preview_explains_as_typed() {
    let (router, _) = app();
    let reply = get(&router, "/ui/schedule?schedule=%40every+15m&timezone=").await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["description"], "every 15m");
    assert_eq!(json["next"].as_array().expect("list").len(), 5);
    let reply = get(&router, "/ui/schedule?schedule=bad&timezone=").await;
    let json = reply.json();
    assert!(
        json["error"].as_str().expect("error").contains("bad"),
        "{json}"
    );
    let reply = get(&router, "/ui/jobs/new").await;
    let html = reply.text();
    assert!(html.contains("data-test=\"schedule-preview\""));
    assert!(html.contains("data-url=\"../schedule\""), "{html}");
}

#[tokio::test]
async fn assets_are_compiled_in_and_cached() {
    let (router, _) = app();
    for (file, kind) in [
        ("app.css", "text/css"),
        ("app.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let reply = get(&router, &format!("/ui/assets/{file}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{file}");
        assert!(
            reply
                .header("content-type")
                .expect("type")
                .starts_with(kind)
        );
        assert_eq!(reply.header("cache-control"), Some("public, max-age=86400"));
        assert!(!reply.body.is_empty());
    }
    assert_eq!(
        get(&router, "/ui/assets/other.js").await.status,
        StatusCode::NOT_FOUND
    );
    let html = get(&router, "/ui/").await.text();
    assert!(html.contains("href=\"assets/app.css?v="), "{html}");
    let html = get(&router, "/ui/jobs/new").await.text();
    assert!(html.contains("src=\"../assets/app.js?v="), "{html}");
}

#[tokio::test]
async fn list_queries_are_pages_even_at_the_last_page() {
    let (router, fake) = app();
    fake.put(shell_job("only"));
    let reply = get(&router, "/ui/jobs?page=99999999999").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.count("data-test=\"job-row\""), 0);
    assert!(reply.text().contains("data-test=\"pager-prev\""));
    let asked: JobQuery = fake.lock().job_queries.last().cloned().expect("asked");
    assert_eq!(asked.end.map(|end| end - asked.start), Some(25));
}

/// A job the cluster paused for failures says why, with its run policies; enabling it from the
/// page clears the reason.
#[tokio::test]
async fn a_paused_job_shows_why_and_its_run_policies() {
    let (router, fake) = app();
    let mut flaky = shell_job("flaky");
    flaky.jitter = std::time::Duration::from_secs(90);
    flaky.pause_on_failure = 2;
    flaky.record_group_end(JobStatus::Failed);
    assert!(flaky.record_group_end(JobStatus::Failed));
    fake.put(flaky);
    let html = get(&router, "/ui/jobs/flaky").await.text();
    assert_eq!(
        text_of(&html, "paused-reason"),
        "Disabled by the cluster: paused after 2 consecutive failed runs (pause_on_failure: 2)"
    );
    assert_eq!(text_of(&html, "job-enabled"), "false");
    assert!(html.contains("up to 1 min 30 s"), "{html}");
    assert!(html.contains("after 2 consecutive failed runs"));
    let reply = crate::support::post_form(&router, "/ui/jobs/flaky/toggle", "").await;
    assert!(reply.status.is_redirection(), "{}", reply.status);
    let html = get(&router, "/ui/jobs/flaky").await.text();
    assert!(!html.contains("data-test=\"paused-reason\""));
    assert_eq!(text_of(&html, "job-enabled"), "true");
}
