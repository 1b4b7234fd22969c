//! Node and cluster routes, CORS, panics, restore, and the error mapping.

use axum::http::{Method, StatusCode};
use dkron_api::{ApiOptions, ClusterError, DayStats};
use serde_json::json;

use crate::support::{app, app_with, get, post, send, shell_job};

/// `/v1` and `/v1/`: agent, serf statistics (member counts from the member list), tags.
#[tokio::test]
async fn index() {
    let (router, _fake) = app();
    let reply = get(&router, "/v1").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["agent"]["name"], "node1");
    assert_eq!(body["serf"]["members"], "2");
    assert_eq!(body["serf"]["failed"], "1");
    assert_eq!(body["serf"]["encrypted"], "false");
    assert_eq!(body["tags"]["role"], "dkron");
    assert_eq!(get(&router, "/v1/").await.json(), body);
}

/// Members with Go's field names, `id`, `statusText`, `X-Total-Count`; the leader without
/// `id`; `isleader` strings.
#[tokio::test]
async fn members_and_leader() {
    let (router, fake) = app();
    let reply = get(&router, "/v1/members").await;
    assert_eq!(reply.header("x-total-count"), Some("2"));
    let members = reply.json();
    assert_eq!(members[0]["Name"], "node1");
    assert_eq!(members[0]["Status"], 1);
    assert_eq!(members[0]["statusText"], "alive");
    assert_eq!(members[0]["id"], "node1");
    assert_eq!(members[0]["Tags"]["rpc_addr"], "127.0.0.1:6868");
    assert_eq!(members[1]["statusText"], "failed");

    let leader = get(&router, "/v1/leader").await.json();
    assert_eq!(leader["Name"], "node1");
    assert_eq!(leader["Addr"], "127.0.0.1");
    assert!(leader.get("id").is_none());

    let yes = get(&router, "/v1/isleader").await;
    assert_eq!(
        (yes.status, yes.json()),
        (StatusCode::OK, json!("I am a leader"))
    );
    fake.lock().is_leader = false;
    fake.lock().leader = None;
    let no = get(&router, "/v1/isleader").await;
    assert_eq!(
        (no.status, no.json()),
        (StatusCode::NOT_FOUND, json!("I am a follower"))
    );
    assert_eq!(
        get(&router, "/v1/leader").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// `/debug/vars`: dkron's expvar keys; the leader lists the jobs its scheduler fires (not
/// disabled ones, not children), a follower none.
#[tokio::test]
async fn debug_vars() {
    let (router, fake) = app();
    let mut fired = dkron_model::Job::new("fired");
    fired.schedule = "@every 1m".to_owned();
    fired.next = Some("2026-01-02T03:04:05Z".parse().expect("time"));
    fake.put(fired);
    let mut disabled = dkron_model::Job::new("off");
    disabled.schedule = "@every 1m".to_owned();
    disabled.disabled = true;
    fake.put(disabled);
    let reply = get(&router, "/debug/vars").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();
    assert_eq!(body["node"], "node1");
    assert_eq!(body["scheduler_started"], 1);
    assert!(body["cmdline"].is_array());
    assert_eq!(
        body["cron_entries"]["fired"]["next"],
        "2026-01-02T03:04:05Z"
    );
    assert!(body["cron_entries"].get("off").is_none());

    fake.lock().is_leader = false;
    let body = get(&router, "/debug/vars").await.json();
    assert_eq!(body["scheduler_started"], 0);
    assert_eq!(body["cron_entries"], json!({}));
}

/// Busy lists running executions oldest first; leave answers the members and leaves.
#[tokio::test]
async fn busy_and_leave() {
    let (router, fake) = app();
    post(&router, "/v1/jobs", &shell_job("a")).await;
    fake.lock().hold_runs = true;
    post(&router, "/v1/jobs/a/run", "").await;
    post(&router, "/v1/jobs/a/run", "").await;
    let busy = get(&router, "/v1/busy").await;
    assert_eq!(busy.header("x-total-count"), Some("2"));
    let list = busy.json();
    assert!(list[0]["started_at"].as_str() < list[1]["started_at"].as_str());
    assert_eq!(list[0]["finished_at"], "0001-01-01T00:00:00Z");
    let left = post(&router, "/v1/leave", "").await;
    assert_eq!(left.status, StatusCode::OK);
    assert_eq!(left.json().as_array().map(Vec::len), Some(2));
    assert!(fake.lock().left);
}

/// Stats: one zero-filled entry per UTC day ending today, oldest first; `days` clamped.
#[tokio::test]
async fn stats() {
    let (router, fake) = app();
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    fake.lock().stats.push(DayStats {
        date: today,
        success_count: 42,
        failed_count: 3,
    });
    let default = get(&router, "/v1/stats").await.json();
    let days = default["stats"].as_array().expect("array");
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["success_count"], 42);
    assert_eq!(days[29]["failed_count"], 3);
    assert_eq!(days[0]["success_count"], 0);
    let date = days[29]["date"].as_str().expect("date");
    assert!(
        date.ends_with("T00:00:00Z") && date.starts_with(&today.to_string()),
        "{date}"
    );
    let count = |uri: &'static str| {
        let router = router.clone();
        async move {
            get(&router, uri).await.json()["stats"]
                .as_array()
                .map(Vec::len)
        }
    };
    assert_eq!(count("/v1/stats?days=2").await, Some(2));
    assert_eq!(count("/v1/stats?days=abc").await, Some(30));
    assert_eq!(count("/v1/stats?days=1000").await, Some(365));
    assert_eq!(count("/v1/stats?days=0").await, Some(1));
}

/// Health: 200 healthy with `leader`; 503 unhealthy with issues.
#[tokio::test]
async fn health() {
    let (router, fake) = app();
    let ok = get(&router, "/health").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json(), json!({"status": "healthy", "leader": true}));
    fake.lock().healthy = false;
    let bad = get(&router, "/health").await;
    assert_eq!(bad.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(bad.json()["status"], "unhealthy");
    assert_eq!(bad.json()["issues"], json!(["plugin x has exited"]));
}

/// `/`: browsers go to `ui/` (303, relative) when the UI is on; otherwise 404.
#[tokio::test]
async fn root_redirect() {
    let (router, _fake) = app_with(ApiOptions::default().with_ui(true));
    let browser = send(&router, Method::GET, "/", None, &[("accept", "text/html")]).await;
    assert_eq!(browser.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.header("location"), Some("ui/"));
    let curl = send(&router, Method::GET, "/", None, &[("accept", "*/*")]).await;
    assert_eq!(curl.status, StatusCode::NOT_FOUND);
    let (no_ui, _fake) = app();
    let browser = send(&no_ui, Method::GET, "/", None, &[("accept", "text/html")]).await;
    assert_eq!(browser.status, StatusCode::NOT_FOUND);
}

/// CORS: the API's own origin and listed ones get preflights answered (with `Authorization`
/// allowed) and responses that expose every header; other origins get no grant, and their
/// preflights are refused.
#[tokio::test]
async fn cors() {
    let (router, _fake) =
        app_with(ApiOptions::default().with_cors_origins(vec!["https://ui.example".to_owned()]));
    for origin in ["https://ui.example", "http://localhost:8080"] {
        let preflight = send(
            &router,
            Method::OPTIONS,
            "/v1/jobs/a",
            None,
            &[
                ("host", "localhost:8080"),
                ("origin", origin),
                ("access-control-request-method", "DELETE"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
            ],
        )
        .await;
        assert_eq!(preflight.status, StatusCode::OK, "{origin}");
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some(origin)
        );
        assert_eq!(preflight.header("x-whom"), Some("node1"));
        let methods = preflight
            .header("access-control-allow-methods")
            .unwrap_or_default();
        assert!(methods.contains("DELETE"), "{methods}");
        assert_eq!(
            preflight.header("access-control-allow-headers"),
            Some("authorization,content-type")
        );
        let simple = send(
            &router,
            Method::GET,
            "/v1/jobs",
            None,
            &[("host", "localhost:8080"), ("origin", origin)],
        )
        .await;
        assert_eq!(simple.header("access-control-allow-origin"), Some(origin));
        assert_eq!(simple.header("access-control-expose-headers"), Some("*"));
        let missing = send(
            &router,
            Method::GET,
            "/v1/jobs/nope",
            None,
            &[("host", "localhost:8080"), ("origin", origin)],
        )
        .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.header("access-control-allow-origin"), Some(origin));
        assert_eq!(missing.header("x-whom"), Some("node1"));
    }

    let refused = send(
        &router,
        Method::OPTIONS,
        "/v1/jobs/a",
        None,
        &[
            ("host", "localhost:8080"),
            ("origin", "https://elsewhere.example"),
            ("access-control-request-method", "DELETE"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    for grant in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        assert_eq!(refused.header(grant), None, "{grant}");
    }
    assert!(
        refused.text().contains("--cors-origins"),
        "{}",
        refused.text()
    );
    // Reads are still served (curl sends no Origin; a browser hides the answer from the page).
    let read = send(
        &router,
        Method::GET,
        "/v1/jobs",
        None,
        &[
            ("host", "localhost:8080"),
            ("origin", "https://elsewhere.example"),
        ],
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.header("access-control-allow-origin"), None);
    assert_eq!(read.header("access-control-expose-headers"), None);
    assert!(read.header("vary").is_some_and(|v| v.contains("origin")));
}

/// A panicking handler answers an empty 500 and the router keeps serving.
#[tokio::test]
async fn panic_is_500() {
    let (router, _fake) = app();
    let reply = get(&router, "/v1/jobs/panic").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("x-whom"), Some("node1"));
    assert_eq!(get(&router, "/v1/jobs").await.status, StatusCode::OK);
}

/// Every cluster error has its status code (and dkron's body where dkron has one).
#[tokio::test]
async fn error_mapping() {
    let (router, fake) = app();
    let model_error = dkron_model::validate_name("X").expect_err("invalid");
    let cases = [
        (ClusterError::job_not_found("a"), StatusCode::NOT_FOUND, ""),
        (
            ClusterError::ExecutionNotFound {
                job: "a".into(),
                id: "1-n".into(),
            },
            StatusCode::NOT_FOUND,
            "",
        ),
        (
            ClusterError::ParentNotFound { parent: "p".into() },
            StatusCode::NOT_FOUND,
            "specified parent job not found",
        ),
        (
            ClusterError::HasDependents {
                job: "a".into(),
                dependents: vec!["b".into()],
            },
            StatusCode::CONFLICT,
            "job a has dependent jobs",
        ),
        (
            ClusterError::Validation(model_error),
            StatusCode::BAD_REQUEST,
            "Job validation failed: name contains illegal character 'X'.",
        ),
        (
            ClusterError::JobDisabled { job: "a".into() },
            StatusCode::NOT_FOUND,
            "job a is disabled",
        ),
        (
            ClusterError::NoTargets { job: "a".into() },
            StatusCode::NOT_FOUND,
            "no target nodes",
        ),
        (
            ClusterError::ExecutionFinished {
                job: "a".into(),
                id: "1-n".into(),
            },
            StatusCode::CONFLICT,
            "already finished",
        ),
        (
            ClusterError::NotLeader {
                leader: Some("node2".into()),
            },
            StatusCode::SERVICE_UNAVAILABLE,
            "not the leader",
        ),
        (
            ClusterError::Paused,
            StatusCode::SERVICE_UNAVAILABLE,
            "New job submissions are currently paused",
        ),
        (
            ClusterError::unavailable("no quorum"),
            StatusCode::SERVICE_UNAVAILABLE,
            "no quorum",
        ),
        (
            ClusterError::internal("disk on fire"),
            StatusCode::INTERNAL_SERVER_ERROR,
            "disk on fire",
        ),
    ];
    for (error, status, body) in cases {
        fake.lock().fail_reads = Some(error.clone());
        let reply = get(&router, "/v1/jobs/a").await;
        assert_eq!(reply.status, status, "{error:?}");
        assert!(
            if body.is_empty() {
                reply.body.is_empty()
            } else {
                reply.text().contains(body)
            },
            "{error:?}: {:?}",
            reply.text()
        );
        if let ClusterError::NotLeader { .. } = error {
            assert_eq!(reply.header("x-dkron-leader"), Some("node2"));
        }
    }
}

/// Restore: a multipart `file` of jobs (children before parents in the file) is written
/// parents first; an invalid job fails alone and its children are skipped (as dkron); the
/// answer is a JSON string holding a JSON array; counters are kept.
#[tokio::test]
async fn restore() {
    let (router, fake) = app();
    let file = r#"[{"name":"child","parent_job":"parent"},
                   {"name":"parent","schedule":"@every 1m","success_count":26},
                   {"name":"bad","schedule":"never"},
                   {"name":"orphan","parent_job":"bad"}]"#;
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"backup.json\"\r\nContent-Type: application/json\r\n\r\n{file}\r\n\
         --b0undary--\r\n"
    );
    let reply =
        crate::support::restore(&router, &body, "multipart/form-data; boundary=b0undary").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let results = reply.restore_results();
    assert_eq!(
        results,
        [
            "success create parent",
            "fail create bad",
            "success create child"
        ]
    );
    assert!(!fake.lock().jobs.contains_key("bad"));
    assert!(!fake.lock().jobs.contains_key("orphan"));
    let parent = fake.lock().jobs["parent"].clone();
    assert_eq!(parent.success_count, 26);
    assert_eq!(parent.dependent_jobs, ["child"]);

    let no_file = send(
        &router,
        Method::POST,
        "/v1/restore",
        Some("--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n"),
        &[("content-type", "multipart/form-data; boundary=b")],
    )
    .await;
    assert_eq!(no_file.status, StatusCode::NOT_FOUND);
    let orphan = send(
        &router,
        Method::POST,
        "/v1/restore",
        Some(r#"[{"name":"lost","parent_job":"nobody"}]"#),
        &[("content-type", "application/json")],
    )
    .await;
    assert_eq!(orphan.status, StatusCode::BAD_REQUEST);
    assert!(!fake.lock().jobs.contains_key("lost"));
}
