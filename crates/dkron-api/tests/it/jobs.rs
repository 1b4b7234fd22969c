//! Job routes through the router (tower `oneshot`, no socket).

use axum::http::{Method, StatusCode};
use dkron_api::ApiOptions;
use dkron_model::JobStatus;
use serde_json::{Value, json};

use crate::support::{app, app_with, delete, get, post, send, shell_job};

/// Create answers 201 with the stored job, a relative `Location`, `X-Whom`; GET reads it back.
#[tokio::test]
async fn create_then_get() {
    let (router, fake) = app();
    let reply = post(&router, "/v1/jobs", &shell_job("backup")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("jobs/backup"));
    assert_eq!(reply.header("x-whom"), Some("node1"));
    let body = reply.json();
    assert_eq!(body["id"], "backup");
    assert_eq!(body["name"], "backup");
    assert_eq!(body["executor"], "shell");
    assert_ne!(
        body["next"], "0001-01-01T00:00:00Z",
        "the stored job has next computed"
    );
    assert!(fake.lock().jobs.contains_key("backup"));

    let read = get(&router, "/v1/jobs/backup").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json(), body);
}

/// The seed document's examples, verbatim: `POST /v1/jobs/` (trailing slash, curl's
/// form-urlencoded content type), the sample job with a top-level `command`, the run and
/// the singular delete alias.
#[tokio::test]
async fn seed_document_examples() {
    let (router, fake) = app();
    let sample = r#"{
   "name":"cron_job",
   "schedule":"@every 2s",
   "command":"date",
   "owner":"foo",
   "owner_email":"foo@bar.com"
}"#;
    let reply = send(
        &router,
        Method::POST,
        "/v1/jobs/",
        Some(sample),
        &[("content-type", "application/x-www-form-urlencoded")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.header("location"), Some("cron_job"));
    let stored = fake.lock().jobs["cron_job"].clone();
    assert_eq!(stored.executor, "shell");
    assert_eq!(stored.executor_config["command"], "date");

    for (method, uri) in [
        (Method::GET, "/v1"),
        (Method::GET, "/v1/members"),
        (Method::GET, "/v1/leader"),
        (Method::GET, "/v1/jobs"),
        (Method::POST, "/v1/jobs/cron_job"),
        (Method::PUT, "/v1/jobs/cron_job"),
        (Method::GET, "/v1/executions/cron_job"),
    ] {
        let reply = send(&router, method.clone(), uri, None, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{method} {uri}: {}",
            reply.text()
        );
    }
    assert_eq!(fake.lock().runs, ["cron_job", "cron_job"]);

    let gone = delete(&router, "/v1/job/cron_job").await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.json()["name"], "cron_job");
    assert!(!fake.lock().jobs.contains_key("cron_job"));
}

/// Clients re-send whole records they read (id, next, status, counters, nulls, unknown and
/// legacy fields) with an `Authorization` header and no `Content-Type`: accepted.
#[tokio::test]
async fn whole_record_resend_is_accepted() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    fake.lock().jobs.get_mut("a").expect("stored").status = JobStatus::Success;
    let mut record = get(&router, "/v1/jobs/a").await.json();
    record["owner"] = json!("changed");
    record["command"] = json!("legacy");
    record["unknown_future_field"] = json!([1, 2]);
    record["tags"] = Value::Null;
    let reply = send(
        &router,
        Method::PUT,
        "/v1/jobs/a",
        Some(&record.to_string()),
        &[("authorization", "Bearer secret")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["owner"], "changed");
    assert_eq!(body["status"], "success", "stored status is kept");
    assert_eq!(body["executor_config"]["command"], "echo hi");
}

/// PUT `/v1/jobs/{job}`: the body's name wins (dkron); a body without a name takes the path's.
/// PATCH `/v1/jobs` replaces the whole job.
#[tokio::test]
async fn put_and_patch_replace() {
    let (router, fake) = app();
    let reply = send(
        &router,
        Method::PUT,
        "/v1/jobs/a",
        Some(&shell_job("b")),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.header("location"), Some("b"));
    let unnamed =
        r#"{"schedule":"@every 5m","executor":"shell","executor_config":{"command":"x"}}"#;
    let reply = send(&router, Method::PUT, "/v1/jobs/c", Some(unnamed), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["name"], "c");
    let replacement = r#"{"name":"b","schedule":"@every 7m"}"#;
    let reply = send(&router, Method::PATCH, "/v1/jobs", Some(replacement), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let stored = fake.lock().jobs["b"].clone();
    assert_eq!(stored.schedule, "@every 7m");
    assert!(stored.executor.is_empty(), "PATCH is a full replace");
}

/// Bad JSON, wrong types, bad schedules and the other validation rules answer 400 with
/// dkron's text and the field header; nothing is stored.
#[tokio::test]
async fn invalid_jobs_are_refused_and_nothing_changes() {
    let (router, fake) = app();
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("{\"name\":", "Unable to parse payload: ", None),
        (
            "[1,2]",
            "Unable to parse payload: expected a JSON object",
            None,
        ),
        ("", "Unable to parse payload: EOF.", None),
        (
            r#"{"name":"a","retries":"many"}"#,
            "Unable to parse payload: field \"retries\": ",
            Some("retries"),
        ),
        (
            r#"{"name":"a","schedule":"invalid-schedule"}"#,
            "Job validation failed: can't parse job schedule: ",
            Some("schedule"),
        ),
        (
            r#"{"name":"a","schedule":"@at badtime"}"#,
            "Job validation failed: can't parse job schedule: ",
            Some("schedule"),
        ),
        (
            r#"{"name":"BAD JOB NAME!","schedule":"@every 1m"}"#,
            "Job validation failed: name contains illegal character 'B'.",
            Some("name"),
        ),
        (
            r#"{"name":"","schedule":"@every 1m"}"#,
            "Job validation failed: name cannot be empty.",
            Some("name"),
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","parent_job":"a"}"#,
            "Job validation failed: the job can not have itself as parent.",
            Some("parent_job"),
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","concurrency":"never"}"#,
            "Job validation failed: invalid concurrency policy value",
            Some("concurrency"),
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","timezone":"Mars/Olympus"}"#,
            "Job validation failed: unknown time zone Mars/Olympus.",
            Some("timezone"),
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","executor":"shell","executor_config":{"timeout":"soon"}}"#,
            "Job validation failed: Error parsing job timeout value.",
            Some("executor_config.timeout"),
        ),
    ];
    for (body, prefix, field) in cases {
        let reply = post(&router, "/v1/jobs", body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text()
        );
        assert!(
            reply.text().starts_with(prefix),
            "{body}: {:?} should start with {prefix:?}",
            reply.text()
        );
        assert_eq!(reply.header("x-dkron-error-field"), *field, "{body}");
    }
    assert!(fake.lock().jobs.is_empty());
}

/// A long name of lower-case Unicode letters, digits, `-` and `_` is accepted (dkron's test).
#[tokio::test]
async fn unicode_name_is_accepted() {
    let (router, _fake) = app();
    let name = "ßñëäïüøáéíóýćàèìòùâêîôûæšłç-0_9";
    let reply = post(&router, "/v1/jobs", &shell_job(name)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let location = reply.header("location").expect("location");
    assert!(location.starts_with("jobs/%C3%9F"), "{location}");
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let read = get(&router, &format!("/v1/jobs/{encoded}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["name"], name);
}

/// An unknown parent answers 404 with dkron's exact body and creates nothing.
#[tokio::test]
async fn unknown_parent() {
    let (router, fake) = app();
    let reply = post(
        &router,
        "/v1/jobs",
        r#"{"name":"child","parent_job":"nobody"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text(), "specified parent job not found");
    assert_eq!(
        get(&router, "/v1/jobs/child").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(fake.lock().jobs.is_empty());
}

/// Parent bookkeeping survives updates; a parent with children cannot be deleted (409).
#[tokio::test]
async fn parents_and_children() {
    let (router, _fake) = app();
    post(&router, "/v1/jobs", &shell_job("parent")).await;
    let child = post(
        &router,
        "/v1/jobs",
        r#"{"name":"kid","parent_job":"parent"}"#,
    )
    .await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text());
    assert_eq!(
        child.json()["next"],
        "0001-01-01T00:00:00Z",
        "children never fire alone"
    );
    post(&router, "/v1/jobs", &shell_job("parent")).await;
    let parent = get(&router, "/v1/jobs/parent").await.json();
    assert_eq!(parent["dependent_jobs"], json!(["kid"]));
    let refused = delete(&router, "/v1/jobs/parent").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("kid"));
    assert_eq!(delete(&router, "/v1/jobs/kid").await.status, StatusCode::OK);
    assert_eq!(
        delete(&router, "/v1/jobs/parent").await.status,
        StatusCode::OK
    );
}

/// Unknown jobs: 404 with an empty body on every job route.
#[tokio::test]
async fn unknown_job_is_404_everywhere() {
    let (router, _fake) = app();
    for (method, uri) in [
        (Method::GET, "/v1/jobs/nope"),
        (Method::DELETE, "/v1/jobs/nope"),
        (Method::POST, "/v1/jobs/nope"),
        (Method::POST, "/v1/jobs/nope/run"),
        (Method::POST, "/v1/jobs/nope/toggle"),
        (Method::GET, "/v1/jobs/nope/executions"),
        (Method::DELETE, "/v1/jobs/nope/executions"),
        (Method::GET, "/v1/executions/nope"),
        (Method::POST, "/v1/jobs/nope/executions/1-node1/cancel"),
        (Method::DELETE, "/v1/job/nope"),
        (Method::GET, "/v1/jobs/nope/next"),
        (Method::GET, "/v1/jobs/nope/executions/1-node1"),
    ] {
        let reply = send(&router, method.clone(), uri, None, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
        assert!(reply.body.is_empty(), "{method} {uri}: {}", reply.text());
    }
}

/// A body above the limit answers 413 and stores nothing.
#[tokio::test]
async fn oversized_body_is_refused() {
    let (router, fake) = app_with(ApiOptions::default().with_max_body_bytes(1024));
    let big = format!(
        r#"{{"name":"big","schedule":"@every 1m","owner":"{}"}}"#,
        "x".repeat(2000)
    );
    let reply = post(&router, "/v1/jobs", &big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(fake.lock().jobs.is_empty());
}

/// Pause blocks create/update with 503 and dkron's text; runs and toggles still work; unpause
/// restores creation.
#[tokio::test]
async fn pause_blocks_submissions() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    assert_eq!(
        get(&router, "/v1/pause").await.json(),
        json!({"paused": false})
    );
    assert_eq!(
        post(&router, "/v1/pause", "").await.json(),
        json!({"paused": true})
    );
    assert_eq!(
        post(&router, "/v1/pause", "").await.json(),
        json!({"paused": true})
    );
    let refused = post(&router, "/v1/jobs", &shell_job("b")).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.text().contains("paused"));
    assert!(!fake.lock().jobs.contains_key("b"));
    assert_eq!(
        post(&router, "/v1/jobs/a/run", "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        post(&router, "/v1/jobs/a/toggle", "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        post(&router, "/v1/unpause", "").await.json(),
        json!({"paused": false})
    );
    assert_eq!(
        post(&router, "/v1/jobs", &shell_job("b")).await.status,
        StatusCode::CREATED
    );
}

/// Toggle flips `disabled` both ways and answers the job with a `Location`.
#[tokio::test]
async fn toggle_flips() {
    let (router, _fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    let first = post(&router, "/v1/jobs/a/toggle", "").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json()["disabled"], true);
    assert_eq!(first.header("location"), Some("../a"));
    let second = post(&router, "/v1/jobs/a/toggle/", "").await;
    assert_eq!(second.json()["disabled"], false);
}

/// A run answers 200 with the job at once; a disabled job cannot be run (404); `?runoncreate`
/// runs after the write.
#[tokio::test]
async fn run_now() {
    let (router, fake) = app();
    post(&router, "/v1/jobs?runoncreate=true", &shell_job("a")).await;
    assert_eq!(fake.lock().runs, ["a"]);
    let run = post(&router, "/v1/jobs/a", "").await;
    assert_eq!(run.status, StatusCode::OK);
    assert_eq!(run.json()["name"], "a");
    assert_eq!(run.header("location"), Some("a"));
    post(&router, "/v1/jobs/a/toggle", "").await;
    let refused = post(&router, "/v1/jobs/a/run", "").await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(refused.text().contains("disabled"));
}

/// Listing: filters, sort, paging with `X-Total-Count` = filtered total, `?pretty`, bad
/// parameters refused with the parameter named.
#[tokio::test]
async fn list_filter_sort_page() {
    let (router, _fake) = app();
    for name in ["delta", "alpha", "charlie", "bravo"] {
        post(&router, "/v1/jobs", &shell_job(name)).await;
    }
    post(
        &router,
        "/v1/jobs",
        r#"{"name":"echo","schedule":"@every 1m","metadata":{"team":"ops"},"disabled":true}"#,
    )
    .await;
    let all = get(&router, "/v1/jobs").await;
    assert_eq!(all.header("x-total-count"), Some("5"));
    let names = |reply: &crate::support::Reply| -> Vec<String> {
        reply
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|j| j["name"].as_str().expect("name").to_owned())
            .collect()
    };
    assert_eq!(names(&all), ["alpha", "bravo", "charlie", "delta", "echo"]);
    let page = get(&router, "/v1/jobs?_sort=id&_order=DESC&_start=1&_end=3").await;
    assert_eq!(page.header("x-total-count"), Some("5"));
    assert_eq!(names(&page), ["delta", "charlie"]);
    let filtered = get(&router, "/v1/jobs?q=a&disabled=false&_start=0&_end=1").await;
    assert_eq!(filtered.header("x-total-count"), Some("4"));
    assert_eq!(names(&filtered), ["alpha"]);
    let meta = get(&router, "/v1/jobs?metadata[team]=ops").await;
    assert_eq!(names(&meta), ["echo"]);
    let untriggered = get(&router, "/v1/jobs?status=untriggered").await;
    assert_eq!(untriggered.header("x-total-count"), Some("5"));
    let pretty = get(&router, "/v1/jobs?pretty&_end=1").await;
    assert!(
        pretty.text().starts_with("[\n    {\n        \"id\""),
        "{}",
        pretty.text()
    );
    assert_eq!(
        pretty.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let bad = get(&router, "/v1/jobs?_sort=owner").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.header("x-dkron-error-field"), Some("_sort"));
    let beyond = get(&router, "/v1/jobs?_start=50&_end=60").await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert_eq!(beyond.json(), json!([]));
}

/// `/next`: the next N fires in the job's zone, 2 s apart for `@every 2s`; children have none.
#[tokio::test]
async fn next_fires() {
    let (router, _fake) = app();
    post(
        &router,
        "/v1/jobs",
        r#"{"name":"fast","schedule":"@every 2s"}"#,
    )
    .await;
    let reply = get(&router, "/v1/jobs/fast/next?count=3").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let fires: Vec<jiff::Timestamp> = reply.json()["next"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t.as_str().expect("string").parse().expect("RFC 3339"))
        .collect();
    assert_eq!(fires.len(), 3);
    assert_eq!(fires[1].as_second() - fires[0].as_second(), 2);
    assert_eq!(fires[2].as_second() - fires[1].as_second(), 2);

    post(
        &router,
        "/v1/jobs",
        r#"{"name":"berlin","schedule":"0 30 9 * * *","timezone":"Europe/Berlin"}"#,
    )
    .await;
    let reply = get(&router, "/v1/jobs/berlin/next").await.json();
    assert_eq!(reply["timezone"], "Europe/Berlin");
    let next = reply["next"].as_array().expect("array");
    assert_eq!(next.len(), 5);
    for fire in next {
        let text = fire.as_str().expect("string");
        assert!(
            text.contains("T09:30:00+01:00") || text.contains("T09:30:00+02:00"),
            "{text}"
        );
    }
    post(&router, "/v1/jobs", r#"{"name":"kid","parent_job":"fast"}"#).await;
    assert_eq!(
        get(&router, "/v1/jobs/kid/next").await.json()["next"],
        json!([])
    );
    let too_many = get(&router, "/v1/jobs/fast/next?count=100000").await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_many.header("x-dkron-error-field"), Some("count"));
}

/// A rejected update (bad JSON, wrong type, bad schedule, oversized) leaves the stored job
/// exactly as it was; error bodies are plain text.
#[tokio::test]
async fn rejected_update_changes_nothing() {
    let (router, fake) = app_with(ApiOptions::default().with_max_body_bytes(2048));
    post(&router, "/v1/jobs", &shell_job("keep")).await;
    let before = fake.lock().jobs["keep"].clone();
    let oversized = format!(r#"{{"name":"keep","owner":"{}"}}"#, "y".repeat(4096));
    for body in [
        r#"{"name":"keep","schedule":"@every 1m""#,
        r#"{"name":"keep","schedule":"@every 1m","retries":[1]}"#,
        r#"{"name":"keep","schedule":"61 * * * * *"}"#,
        oversized.as_str(),
    ] {
        let reply = send(&router, Method::PUT, "/v1/jobs/keep", Some(body), &[]).await;
        assert!(reply.status.is_client_error(), "{body}: {}", reply.status);
        if reply.status == StatusCode::BAD_REQUEST {
            assert_eq!(
                reply.header("content-type"),
                Some("text/plain; charset=utf-8")
            );
        }
        assert_eq!(fake.lock().jobs["keep"], before, "{body}");
    }
}

/// `HEAD` answers like `GET` without a body; `?pretty` works on single objects too.
#[tokio::test]
async fn head_and_pretty() {
    let (router, _fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    let head = send(&router, Method::HEAD, "/v1/jobs/a", None, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    let pretty = get(&router, "/v1/jobs/a?pretty=1").await;
    assert!(
        pretty.text().starts_with("{\n    \"id\": \"a\","),
        "{}",
        pretty.text()
    );
    assert_eq!(pretty.json(), get(&router, "/v1/jobs/a").await.json());
}

/// A cross-site `text/plain` POST (what a web page can send without a preflight) is refused
/// and creates nothing; the API's own origin, a listed origin and requests without `Origin`
/// (curl, the seed document's examples) still write.
#[tokio::test]
async fn cross_origin_writes_are_refused() {
    let (router, cluster) = app_with(
        ApiOptions::default().with_cors_origins(vec!["https://ui.example.com".to_owned()]),
    );
    let evil = send(
        &router,
        Method::POST,
        "/v1/jobs",
        Some(&shell_job("evil")),
        &[
            ("origin", "http://evil.example"),
            ("host", "localhost:8080"),
            ("content-type", "text/plain"),
        ],
    )
    .await;
    assert_eq!(evil.status, 403, "{}", evil.text());
    assert!(!cluster.lock().jobs.contains_key("evil"), "nothing created");
    let deleted = send(
        &router,
        Method::DELETE,
        "/v1/jobs/evil",
        None,
        &[("origin", "null"), ("host", "localhost:8080")],
    )
    .await;
    assert_eq!(deleted.status, 403);

    for (name, origin) in [
        ("own", Some("http://localhost:8080")),
        ("listed", Some("https://ui.example.com")),
        ("curl", None),
    ] {
        let mut headers = vec![("host", "localhost:8080")];
        headers.extend(origin.map(|o| ("origin", o)));
        let reply = send(
            &router,
            Method::POST,
            "/v1/jobs",
            Some(&shell_job(name)),
            &headers,
        )
        .await;
        assert_eq!(reply.status, 201, "{name}: {}", reply.text());
    }
    // Reads stay open to every origin (dkron's CORS).
    let read = send(
        &router,
        Method::GET,
        "/v1/jobs",
        None,
        &[("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(read.status, 200);
}
