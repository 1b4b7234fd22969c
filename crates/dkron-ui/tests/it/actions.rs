//! The writes: the form (create, edit, errors at their fields), run, toggle, delete with its
//! confirmation, cancel; each goes through the cluster, and a refused one changes nothing.

use axum::http::StatusCode;
use dkron_model::{Concurrency, Execution};

use crate::support::{app, get, post_form, shell_job, ts};

const VALID: &str = "name=backup&displayname=Nightly+backup&schedule=0+30+2+*+*+*\
    &timezone=Europe%2FParis&executor=shell&executor_config.command=echo+hi\
    &executor_config=&tags=&metadata=team%3Dops&retries=1&concurrency=forbid\
    &parent_job=&owner=&owner_email=";

#[tokio::test]
async fn the_form_creates_a_job_and_redirects_to_it() {
    let (router, fake) = app();
    let reply = post_form(&router, "/ui/jobs/new", VALID).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("backup?done=saved"));
    let job = fake.lock().jobs.get("backup").cloned().expect("created");
    assert_eq!(job.display_name, "Nightly backup");
    assert_eq!(job.timezone, "Europe/Paris");
    assert_eq!(job.executor_config["command"], "echo hi");
    assert_eq!(job.metadata["team"], "ops");
    assert_eq!(job.retries, 1);
    assert_eq!(job.concurrency, Concurrency::Forbid);
    assert!(job.next.is_some());
    let page = get(&router, "/ui/jobs/backup?done=saved").await;
    assert!(page.text().contains("data-test=\"notice\""));
}

#[tokio::test]
async fn validation_errors_are_shown_at_their_fields_and_nothing_is_stored() {
    let (router, fake) = app();
    let bad_schedule = VALID.replace("0+30+2+*+*+*", "61+*+*+*+*+*");
    let reply = post_form(&router, "/ui/jobs/new", &bad_schedule).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let html = reply.text();
    assert!(html.contains("data-test=\"page-job-form\""));
    assert!(
        html.contains("data-test=\"field-error\" data-field=\"schedule\""),
        "{html}"
    );
    // The form keeps what was typed.
    assert!(html.contains("value=\"61 * * * * *\""), "{html}");
    assert!(fake.lock().jobs.is_empty());

    let bad_name = VALID.replace("name=backup", "name=Back+Up");
    let html = post_form(&router, "/ui/jobs/new", &bad_name).await.text();
    assert!(html.contains("data-field=\"name\""), "{html}");

    let bad_zone = VALID.replace("Europe%2FParis", "Mars%2FOlympus");
    let html = post_form(&router, "/ui/jobs/new", &bad_zone).await.text();
    assert!(html.contains("data-field=\"timezone\""), "{html}");

    let bad_retries = VALID.replace("retries=1", "retries=many");
    let html = post_form(&router, "/ui/jobs/new", &bad_retries)
        .await
        .text();
    assert!(html.contains("data-field=\"retries\""), "{html}");

    let orphan = VALID.replace("parent_job=", "parent_job=ghost");
    let reply = post_form(&router, "/ui/jobs/new", &orphan).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(
        reply.text().contains("data-field=\"parent_job\""),
        "{}",
        reply.text()
    );
    assert!(fake.lock().jobs.is_empty());

    fake.lock().paused = true;
    let reply = post_form(&router, "/ui/jobs/new", VALID).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains("paused"), "{}", reply.text());
    assert!(fake.lock().jobs.is_empty());
}

#[tokio::test]
async fn a_new_job_never_replaces_an_existing_one() {
    let (router, fake) = app();
    fake.put(shell_job("backup"));
    let reply = post_form(&router, "/ui/jobs/new", VALID).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("data-field=\"name\""));
    assert_eq!(fake.lock().jobs["backup"].display_name, "");
}

#[tokio::test]
async fn editing_changes_the_shown_fields_and_keeps_the_rest() {
    let (router, fake) = app();
    let mut job = shell_job("backup");
    job.history_limit = Some(3);
    job.success_count = 9;
    fake.put(job);
    let form = get(&router, "/ui/jobs/backup/edit").await.text();
    assert!(
        form.contains("name=\"name\" value=\"backup\" required readonly"),
        "{form}"
    );
    assert!(form.contains("action=\"../../jobs/backup/edit\""), "{form}");
    // The path names the job, whatever the form says.
    let body = VALID.replace("name=backup", "name=other");
    let reply = post_form(&router, "/ui/jobs/backup/edit", &body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("../backup?done=saved"));
    let state = fake.lock();
    assert!(!state.jobs.contains_key("other"));
    let job = &state.jobs["backup"];
    assert_eq!(job.display_name, "Nightly backup");
    assert_eq!(job.history_limit, Some(3));
    assert_eq!(job.success_count, 9, "server counters stay");
}

#[tokio::test]
async fn run_toggle_and_cancel_go_through_the_cluster() {
    let (router, fake) = app();
    fake.put(shell_job("backup"));
    fake.lock().hold_runs = true;
    let reply = post_form(&router, "/ui/jobs/backup/run", "").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        Some("../backup?done=run#executions")
    );
    assert_eq!(fake.lock().runs, ["backup"]);

    let page = get(&router, "/ui/jobs/backup").await.text();
    let start = page.find("data-execution=\"").expect("row") + "data-execution=\"".len();
    let id = &page[start..start + page[start..].find('"').expect("end")];
    assert!(page.contains("data-status=\"running\""));
    let reply = post_form(
        &router,
        &format!("/ui/jobs/backup/executions/{id}/cancel"),
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(
        reply.header("location"),
        Some("../../../backup?done=cancel#executions")
    );

    fake.add_execution(Execution {
        job_name: "backup".into(),
        started_at: ts("2026-01-01T00:00:00Z"),
        finished_at: Some(ts("2026-01-01T00:00:01Z")),
        node_name: "node1".into(),
        ..Execution::default()
    });
    let done = Execution::id_for(ts("2026-01-01T00:00:00Z"), "node1");
    let reply = post_form(
        &router,
        &format!("/ui/jobs/backup/executions/{done}/cancel"),
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("already finished"));

    let reply = post_form(&router, "/ui/jobs/backup/toggle", "").await;
    assert_eq!(reply.header("location"), Some("../backup?done=disabled"));
    assert!(fake.lock().jobs["backup"].disabled);
    let page = get(&router, "/ui/jobs/backup").await.text();
    assert!(page.contains(">Enable</button>"), "{page}");
    assert!(page.contains("data-test=\"job-enabled\">false<"), "{page}");
    // A disabled job cannot be run by hand (dkron's rule): said, not hidden.
    let reply = post_form(&router, "/ui/jobs/backup/run", "").await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("is disabled"));
}

#[tokio::test]
async fn delete_asks_first() {
    let (router, fake) = app();
    fake.put(shell_job("backup"));
    let reply = post_form(&router, "/ui/jobs/backup/delete", "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text().contains("data-test=\"page-confirm-delete\""));
    assert!(reply.text().contains("data-test=\"confirm-delete\""));
    assert!(
        fake.lock().jobs.contains_key("backup"),
        "not deleted before confirming"
    );
    let reply = post_form(&router, "/ui/jobs/backup/delete", "confirm=yes").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), Some("../../jobs"));
    assert!(fake.lock().jobs.is_empty());
    let reply = post_form(&router, "/ui/jobs/backup/delete", "confirm=yes").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_parent_with_children_is_not_deleted() {
    let (router, fake) = app();
    let mut parent = shell_job("parent");
    parent.dependent_jobs = vec!["child".into()];
    fake.put(parent);
    let reply = post_form(&router, "/ui/jobs/parent/delete", "confirm=yes").await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("dependent jobs"), "{}", reply.text());
    assert!(fake.lock().jobs.contains_key("parent"));
}

#[tokio::test]
async fn a_form_posted_from_another_site_is_refused() {
    let (router, fake) = app();
    let reply = crate::support::send(
        &router,
        axum::http::Method::POST,
        "/ui/jobs/new",
        Some(VALID),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(fake.lock().jobs.is_empty());
}
