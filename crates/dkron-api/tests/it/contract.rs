//! The OpenAPI document and the router agree: every documented route answers, with and
//! without a trailing slash.

use axum::http::{Method, StatusCode};
use dkron_model::Execution;
use serde_json::Value;

use crate::support::{app, send, shell_job, ts};

/// Each documented path and method reaches a handler (never 405, never the router's 404), and
/// its trailing-slash twin answers the same status.
#[tokio::test]
async fn every_documented_route_answers() {
    let doc: Value = serde_json::from_str(dkron_api::OPENAPI_JSON).expect("valid JSON");
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            let method: Method = method.to_ascii_uppercase().parse().expect("method");
            let mut statuses = Vec::new();
            for slash in ["", "/"] {
                let (router, fake) = app();
                send(
                    &router,
                    Method::POST,
                    "/v1/jobs",
                    Some(&shell_job("contract")),
                    &[],
                )
                .await;
                let execution = Execution {
                    job_name: "contract".into(),
                    started_at: ts("2026-01-01T00:00:00Z"),
                    node_name: "node1".into(),
                    ..Execution::default()
                };
                let id = execution.id();
                fake.add_execution(execution);
                let uri = path
                    .replace("{job}", "contract")
                    .replace("{execution}", &id);
                let uri = if path == "/" {
                    uri
                } else {
                    format!("{uri}{slash}")
                };
                let body = match (method.as_str(), path.as_str()) {
                    ("POST" | "PUT" | "PATCH", "/v1/jobs") => Some(shell_job("contract")),
                    _ => None,
                };
                let reply = send(&router, method.clone(), &uri, body.as_deref(), &[]).await;
                assert_ne!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri}"
                );
                if path != "/" {
                    assert_ne!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
                }
                statuses.push(reply.status);
            }
            assert_eq!(
                statuses[0], statuses[1],
                "{method} {path} with and without '/'"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations documented");
}

/// The document is served as JSON.
#[tokio::test]
async fn document_is_served() {
    let (router, _fake) = app();
    let reply = send(&router, Method::GET, "/v1/openapi.json", None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["openapi"], "3.1.0");
}
