//! The run policies and notification rule through the form and on the job page, and the job
//! page's backfill form: each through the cluster as the API does, a refused one changes nothing.

use std::time::Duration;

use axum::http::StatusCode;
use dkron_model::{BackfillOverlap, Channel, NotifyPolicy, RunOn};

use crate::support::{app, get, post_form, shell_job, ts};

const BASE: &str = "name=nightly&displayname=&schedule=0+30+2+*+*+*&timezone=&executor=shell\
    &executor_config.command=echo+hi&executor_config=&tags=&metadata=&retries=0\
    &concurrency=allow&parent_job=&owner=&owner_email=ops%40example.com";

/// `hook`'s element text, up to its first tag.
fn text_of(html: &str, hook: &str) -> String {
    let attr = format!("data-test=\"{hook}\"");
    let at = html
        .find(&attr)
        .unwrap_or_else(|| panic!("no {attr} in {html}"));
    let rest = &html[at..];
    let inner = &rest[rest.find('>').expect("tag closes") + 1..];
    inner[..inner.find('<').unwrap_or(inner.len())].to_owned()
}

#[tokio::test]
async fn the_form_sets_the_policies_and_notify_and_the_page_says_them() {
    let (router, fake) = app();
    let body = format!(
        "{BASE}&jitter=5m&pause_on_failure=3&run_on=success&notify=custom\
         &notify.channels=mail&notify.channels=webhook&notify.on_failure=true&notify.on_recovery=true"
    );
    let reply = post_form(&router, "/ui/jobs/new", &body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let job = fake.lock().jobs.get("nightly").cloned().expect("created");
    assert_eq!(job.jitter, Duration::from_secs(300));
    assert_eq!(job.pause_on_failure, 3);
    let expected = NotifyPolicy {
        channels: Some(vec![Channel::Mail, Channel::Webhook]),
        on_success: false,
        on_failure: true,
        on_recovery: true,
    };
    assert_eq!(job.notify, Some(expected.clone()));

    let html = get(&router, "/ui/jobs/nightly").await.text();
    assert_eq!(
        text_of(&html, "notify-words"),
        "Notifications on mail, webhook: the first success after a failed run and every failure."
    );
    assert!(text_of(&html, "jitter-words").contains("up to 5 min 00 s"));
    assert!(text_of(&html, "pause-words").contains("after 3 consecutive failed runs; 0 so far"));
    assert!(text_of(&html, "concurrency-words").ends_with("(concurrency: allow)."));
    // run_on is said only for a child.
    assert!(!html.contains("data-test=\"run-on-words\""));

    // The edit form shows them as stored; saving it untouched keeps them.
    let edit = get(&router, "/ui/jobs/nightly/edit").await.text();
    assert!(edit.contains("name=\"jitter\" value=\"5m\""), "{edit}");
    assert!(
        edit.contains("<option value=\"custom\" selected>"),
        "{edit}"
    );
    assert!(edit.contains("name=\"notify.channels\" type=\"checkbox\" value=\"mail\" checked"));
    assert!(
        !edit.contains("name=\"notify.channels\" type=\"checkbox\" value=\"cronitor\" checked")
    );
    assert!(!edit.contains("name=\"notify.on_success\" type=\"checkbox\" value=\"true\" checked"));
    let reply = post_form(&router, "/ui/jobs/nightly/edit", &body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let saved = fake.lock().jobs.get("nightly").cloned().expect("kept");
    assert_eq!(saved.notify, Some(expected));
    assert_eq!(saved.jitter, Duration::from_secs(300));

    // Back to the servers' default: the policy goes, whatever the boxes say.
    let default = body.replace("notify=custom", "notify=default");
    post_form(&router, "/ui/jobs/nightly/edit", &default).await;
    assert_eq!(fake.lock().jobs["nightly"].notify, None);
    let html = get(&router, "/ui/jobs/nightly").await.text();
    assert!(text_of(&html, "notify-words").contains("the servers' default"));
}

#[tokio::test]
async fn a_child_chooses_when_it_runs_and_the_page_says_so() {
    let (router, fake) = app();
    fake.put(shell_job("parent"));
    let body = BASE
        .replace("schedule=0+30+2+*+*+*", "schedule=")
        .replace("parent_job=", "parent_job=parent")
        + "&run_on=failure";
    let reply = post_form(&router, "/ui/jobs/new", &body).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(fake.lock().jobs["nightly"].run_on, RunOn::Failure);
    let html = get(&router, "/ui/jobs/nightly").await.text();
    assert!(html.contains("data-test=\"run-on-words\">Runs after its parent <a href=\"../jobs/parent\">parent</a> fails"), "{html}");
    // A child has no schedule to backfill: no form.
    assert!(!html.contains("data-test=\"backfill-form\""));
}

#[tokio::test]
async fn bad_policies_are_shown_at_their_fields_and_nothing_is_stored() {
    let (router, fake) = app();
    for (extra, field) in [
        ("&jitter=25h", "jitter"),
        ("&jitter=soon", "jitter"),
        ("&pause_on_failure=many", "pause_on_failure"),
        // run_on other than success needs a parent (the model's rule).
        ("&run_on=always", "run_on"),
        ("&notify=custom&notify.channels=sms", "notify.channels"),
    ] {
        let reply = post_form(&router, "/ui/jobs/new", &format!("{BASE}{extra}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{extra}");
        let html = reply.text();
        assert!(
            html.contains(&format!(
                "data-test=\"field-error\" data-field=\"{field}\" id=\"error-{field}\""
            )),
            "{extra}: {html}"
        );
        // The refused value is shown again as typed.
        if extra.starts_with("&jitter") {
            assert!(
                html.contains(&format!("value=\"{}\"", &extra[8..])),
                "{extra}"
            );
        }
        assert!(fake.lock().jobs.is_empty(), "{extra}");
    }
}

#[tokio::test]
async fn the_backfill_form_launches_the_instants_and_says_which() {
    let (router, fake) = app();
    let mut hourly = shell_job("hourly");
    hourly.schedule = "0 0 * * * *".into();
    hourly.timezone = "Europe/Paris".into();
    fake.put(hourly);
    let page = get(&router, "/ui/jobs/hourly").await.text();
    assert!(page.contains("data-test=\"backfill-form\""));
    assert!(page.contains("action=\"../jobs/hourly/backfill\""));

    // Times without an offset are the job's zone's: 01:00–03:00 Paris is 00:00–02:00 UTC.
    let reply = post_form(
        &router,
        "/ui/jobs/hourly/backfill",
        "from=2026-01-20+01%3A00&to=2026-01-20+03%3A00&overlap=buffer_all",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let html = reply.text();
    assert!(html.contains("data-test=\"page-backfill\""));
    assert!(
        html.contains("data-test=\"backfill-launched\" data-count=\"3\""),
        "{html}"
    );
    assert_eq!(reply.count("data-test=\"backfill-instant\""), 3);
    assert!(html.contains("2026-01-20 01:00:00 CET (+01:00)"), "{html}");
    let asked = fake.lock().backfills.clone();
    assert_eq!(
        asked,
        [(
            "hourly".to_owned(),
            vec![
                ts("2026-01-20T00:00:00Z"),
                ts("2026-01-20T01:00:00Z"),
                ts("2026-01-20T02:00:00Z")
            ],
            BackfillOverlap::BufferAll
        )]
    );

    // skip: the first instant only.
    let reply = post_form(
        &router,
        "/ui/jobs/hourly/backfill",
        "from=2026-01-20T00%3A00%3A00Z&to=2026-01-20T05%3A00%3A00Z&overlap=skip",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.count("data-test=\"backfill-instant\""), 1);
    assert_eq!(fake.lock().backfills.len(), 2);
}

#[tokio::test]
async fn a_refused_backfill_says_why_and_launches_nothing() {
    let (router, fake) = app();
    let mut every_second = shell_job("busy");
    every_second.schedule = "@every 1s".into();
    fake.put(every_second);
    let mut off = shell_job("off");
    off.disabled = true;
    fake.put(off);
    for (uri, body, status, field) in [
        (
            "/ui/jobs/busy/backfill",
            "from=&to=2026-01-20+00%3A00",
            StatusCode::BAD_REQUEST,
            "from",
        ),
        (
            "/ui/jobs/busy/backfill",
            "from=2026-01-20+00%3A00&to=later",
            StatusCode::BAD_REQUEST,
            "to",
        ),
        (
            "/ui/jobs/busy/backfill",
            "from=2026-01-20+01%3A00&to=2026-01-20+00%3A00",
            StatusCode::BAD_REQUEST,
            "to",
        ),
        (
            "/ui/jobs/busy/backfill",
            "from=2026-01-20+00%3A00&to=2026-01-20+00%3A00&overlap=twice",
            StatusCode::BAD_REQUEST,
            "overlap",
        ),
        // An hour of @every 1s is more than max-backfill-fires (1000).
        (
            "/ui/jobs/busy/backfill",
            "from=2026-01-20+00%3A00&to=2026-01-20+01%3A00",
            StatusCode::BAD_REQUEST,
            "to",
        ),
        (
            "/ui/jobs/off/backfill",
            "from=2026-01-20+00%3A00&to=2026-01-20+01%3A00",
            StatusCode::CONFLICT,
            "",
        ),
    ] {
        let reply = post_form(&router, uri, body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        let html = reply.text();
        assert!(
            html.contains(&format!("data-test=\"field-error\" data-field=\"{field}\"")),
            "{body}: {html}"
        );
        assert!(html.contains("Nothing was launched."), "{body}");
    }
    let reply = post_form(
        &router,
        "/ui/jobs/ghost/backfill",
        "from=2026-01-20+00%3A00&to=2026-01-20+01%3A00",
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(fake.lock().backfills.is_empty());
}
