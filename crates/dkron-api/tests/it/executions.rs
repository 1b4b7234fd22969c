//! Execution routes through the router.

use axum::http::{Method, StatusCode};
use dkron_model::{Execution, Job};
use serde_json::{Value, json};

use crate::support::{app, delete, get, post, send, shell_job, ts};

fn finished(job: &str, started: &str, output: &str, success: bool) -> Execution {
    Execution {
        job_name: job.into(),
        started_at: ts(started),
        finished_at: Some(ts(started)),
        success,
        output: output.into(),
        node_name: "node1".into(),
        group: 1,
        attempt: 1,
        ..Execution::default()
    }
}

/// A job without runs lists `[]`; an unknown job is 404.
#[tokio::test]
async fn empty_and_unknown() {
    let (router, _fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    let reply = get(&router, "/v1/jobs/a/executions").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!([]));
    assert_eq!(reply.header("x-total-count"), Some("0"));
    assert_eq!(
        get(&router, "/v1/jobs/b/executions").await.status,
        StatusCode::NOT_FOUND
    );
}

/// `output_size_limit` keeps the last N bytes and flags them; short outputs are untouched;
/// the single-execution route returns the full output.
#[tokio::test]
async fn output_size_limit_keeps_the_tail() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    let long = format!("{}END", "x".repeat(497));
    fake.add_execution(finished("a", "2026-01-01T00:00:00Z", &long, true));
    fake.add_execution(finished("a", "2026-01-01T00:01:00Z", "short", false));
    let reply = get(&router, "/v1/jobs/a/executions?output_size_limit=200").await;
    let list = reply.json();
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2);
    // Newest first.
    assert_eq!(list[0]["output"], "short");
    assert_eq!(list[0]["output_truncated"], false);
    let cut = list[1]["output"].as_str().expect("string");
    assert_eq!(cut.len(), 200);
    assert!(cut.ends_with("END"));
    assert_eq!(list[1]["output_truncated"], true);

    let full_list = get(&router, "/v1/jobs/a/executions").await.json();
    assert_eq!(full_list[1]["output"].as_str().map(str::len), Some(500));

    let id = list[1]["id"].as_str().expect("id");
    assert_eq!(id, "1767225600000000000-node1");
    let one = get(&router, &format!("/v1/jobs/a/executions/{id}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["output"], long.as_str());
    let missing = get(&router, "/v1/jobs/a/executions/5-node9").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Times are shown in the job's zone; a running execution's `finished_at` is Go's zero time.
#[tokio::test]
async fn times_in_job_zone_and_running_zero_time() {
    let (router, fake) = app();
    post(
        &router,
        "/v1/jobs",
        r#"{"name":"tz","schedule":"@every 1m","timezone":"Asia/Tokyo"}"#,
    )
    .await;
    let mut running = finished("tz", "2026-01-01T00:00:00Z", "", false);
    running.finished_at = None;
    fake.add_execution(running);
    let list = get(&router, "/v1/jobs/tz/executions").await.json();
    assert_eq!(list[0]["started_at"], "2026-01-01T09:00:00+09:00");
    assert_eq!(list[0]["finished_at"], "0001-01-01T00:00:00Z");
    assert_eq!(list[0]["success"], false);
    assert!(list[0].get("output").is_none(), "empty output omitted");
}

/// The old `/v1/executions/{job}` path and the trailing-slash form list the same executions;
/// `_order=ASC` and paging work, with `X-Total-Count` the whole history.
#[tokio::test]
async fn old_path_trailing_slash_and_paging() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    for minute in 0..5 {
        fake.add_execution(finished(
            "a",
            &format!("2026-01-01T00:0{minute}:00Z"),
            "ok",
            true,
        ));
    }
    let new = get(&router, "/v1/jobs/a/executions").await.json();
    assert_eq!(get(&router, "/v1/executions/a").await.json(), new);
    assert_eq!(get(&router, "/v1/jobs/a/executions/").await.json(), new);
    let page = get(&router, "/v1/jobs/a/executions?_order=ASC&_start=1&_end=3").await;
    assert_eq!(page.header("x-total-count"), Some("5"));
    let starts: Vec<String> = page
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|e| e["started_at"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(starts, ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"]);
}

/// DELETE wipes history and resets counters, answering the job.
#[tokio::test]
async fn delete_history() {
    let (router, fake) = app();
    let mut job = Job::new("a");
    job.schedule = "@every 1m".into();
    job.success_count = 3;
    job.last_success = Some(ts("2026-01-01T00:00:00Z"));
    fake.put(job);
    fake.add_execution(finished("a", "2026-01-01T00:00:00Z", "ok", true));
    let reply = delete(&router, "/v1/jobs/a/executions").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["success_count"], 0);
    assert_eq!(body["last_success"], Value::Null);
    assert_eq!(
        get(&router, "/v1/jobs/a/executions").await.json(),
        json!([])
    );
}

/// Cancel: 202 with the running execution; 409 once finished; 404 for unknown ids.
#[tokio::test]
async fn cancel() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    let mut running = finished("a", "2026-01-01T00:00:00Z", "", false);
    running.finished_at = None;
    let id = running.id();
    fake.add_execution(running);
    fake.add_execution(finished("a", "2026-01-01T00:05:00Z", "ok", true));
    let uri = format!("/v1/jobs/a/executions/{id}/cancel");
    let reply = send(&router, Method::POST, &uri, None, &[]).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.json()["id"], id.as_str());
    let done = send(
        &router,
        Method::POST,
        "/v1/jobs/a/executions/1767225900000000000-node1/cancel",
        None,
        &[],
    )
    .await;
    assert_eq!(done.status, StatusCode::CONFLICT);
    let unknown = send(
        &router,
        Method::POST,
        "/v1/jobs/a/executions/1-x/cancel",
        None,
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// `…/stream` of a finished execution answers its stored output and `end` as server-sent
/// events at once; an unknown execution or job is 404.
#[tokio::test]
async fn stream_of_a_finished_execution() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    fake.add_execution(finished("a", "2026-01-01T00:00:00Z", "one\ntwo", false));
    let id = "1767225600000000000-node1";
    let reply = get(&router, &format!("/v1/jobs/a/executions/{id}/stream")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        reply.text(),
        "event: output\ndata: one\ndata: two\n\n\
         event: end\ndata: {\"success\":false,\"finished_at\":\"2026-01-01T00:00:00Z\",\"exit_code\":null}\n\n"
    );
    let missing = get(&router, "/v1/jobs/a/executions/5-node9/stream").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let no_job = get(&router, &format!("/v1/jobs/b/executions/{id}/stream")).await;
    assert_eq!(no_job.status, StatusCode::NOT_FOUND);
}
