//! Every route of the API on a live single server, with its status codes.

use std::time::Duration;

use serde_json::json;

use crate::support::{Dkrond, wait_for};

fn job(name: &str) -> String {
    json!({ "name": name, "schedule": "@every 1h", "executor": "shell", "executor_config": { "command": "true" } })
        .to_string()
}

/// Job routes: PUT and PATCH create, toggle, run of a disabled job, next fires, executions
/// listing and wiping, missing executions, parents and children.
#[test]
fn job_routes_answer_with_their_status_codes() {
    let node = Dkrond::start();
    // PUT ignores the path segment: the body's name decides (dkron).
    let put = node.request("PUT", "/v1/jobs/ignored", Some(job("put_job").as_bytes()));
    assert_eq!(put.status, 201, "{}", put.text());
    assert_eq!(node.get("/v1/jobs/put_job").status, 200);
    assert_eq!(node.get("/v1/jobs/ignored").status, 404);
    let patch = node.request("PATCH", "/v1/jobs", Some(job("patch_job").as_bytes()));
    assert_eq!(patch.status, 201, "{}", patch.text());
    let listed = node.get("/v1/jobs");
    assert_eq!(
        listed.headers.get("x-total-count").map(String::as_str),
        Some("2")
    );

    assert_eq!(node.get("/v1/jobs/put_job/next").status, 200);
    let toggled = node.post("/v1/jobs/put_job/toggle", "");
    assert_eq!(toggled.status, 200, "{}", toggled.text());
    assert_eq!(toggled.json()["disabled"], true);
    assert_eq!(
        node.post("/v1/jobs/put_job/run", "").status,
        404,
        "a disabled top-level job cannot run"
    );
    assert_eq!(
        node.post("/v1/jobs/put_job/toggle", "").json()["disabled"],
        false
    );

    assert_eq!(node.get("/v1/jobs/put_job/executions").json(), json!([]));
    assert_eq!(
        node.get("/v1/jobs/put_job/executions/1-nowhere").status,
        404
    );
    assert_eq!(node.get("/v1/jobs/nope/executions").status, 404);
    let wiped = node.request("DELETE", "/v1/jobs/put_job/executions", None);
    assert_eq!(wiped.status, 200, "{}", wiped.text());

    let orphan =
        json!({ "name": "orphan", "parent_job": "missing", "executor": "shell" }).to_string();
    let refused = node.post("/v1/jobs", &orphan);
    assert_eq!(refused.status, 404, "{}", refused.text());
    assert!(refused.text().contains("specified parent job not found"));
    let child = json!({ "name": "child", "parent_job": "put_job", "executor": "shell",
                        "executor_config": { "command": "true" } })
    .to_string();
    assert_eq!(node.post("/v1/jobs", &child).status, 201);
    assert_eq!(
        node.get("/v1/jobs/put_job").json()["dependent_jobs"],
        json!(["child"])
    );
    assert_eq!(
        node.request("DELETE", "/v1/jobs/put_job", None).status,
        409,
        "parent with children"
    );
    assert_eq!(node.request("DELETE", "/v1/jobs/child", None).status, 200);
    assert_eq!(node.request("DELETE", "/v1/jobs/put_job", None).status, 200);
}

/// Node routes: stats, members, the OpenAPI document, unknown paths.
#[test]
fn node_routes_answer_with_their_status_codes() {
    let node = Dkrond::start();
    let stats = node.get("/v1/stats?days=3");
    assert_eq!(stats.status, 200, "{}", stats.text());
    assert_eq!(stats.json()["stats"].as_array().map(Vec::len), Some(3));
    let members = node.get("/v1/members").json();
    assert_eq!(members[0]["Name"], "test-node");
    assert_eq!(members[0]["statusText"], "alive");
    assert_eq!(node.get("/v1/openapi.json").status, 200);
    assert_eq!(node.get("/v1/no-such-route").status, 404);
    assert_eq!(
        node.get("/").status,
        404,
        "an API client (no Accept: text/html) is not sent to the UI"
    );
}

/// `POST /v1/leave` answers, then the process stops cleanly by itself.
#[test]
fn leave_stops_the_node() {
    let mut node = Dkrond::start();
    assert_eq!(node.post("/v1/leave", "").status, 200);
    let status = wait_for(
        "dkrond to exit after leave",
        Duration::from_secs(30),
        || node.try_exit(),
    );
    assert!(status.success(), "{status}");
}

/// `?runoncreate` runs the new job at once; one execution is readable by id with its output; a
/// finished execution cannot be cancelled (409); unknown ids are 404.
#[test]
fn run_on_create_and_execution_by_id() {
    let node = Dkrond::start();
    let body = json!({ "name": "now", "schedule": "@manually", "executor": "shell",
                       "executor_config": { "command": "echo now" } })
    .to_string();
    let created = node.post("/v1/jobs?runoncreate=true", &body);
    assert_eq!(created.status, 201, "{}", created.text());
    let id = wait_for(
        "the run on create to finish",
        Duration::from_secs(20),
        || {
            let list = node.get("/v1/jobs/now/executions").json();
            let first = list.as_array()?.first()?.clone();
            let finished = first["finished_at"]
                .as_str()
                .is_some_and(|t| !t.starts_with("0001-"));
            finished
                .then(|| first["id"].as_str().map(str::to_owned))
                .flatten()
        },
    );
    let one = node.get(&format!("/v1/jobs/now/executions/{id}"));
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.json()["output"], "now\n");
    let cancel = node.post(&format!("/v1/jobs/now/executions/{id}/cancel"), "");
    assert_eq!(cancel.status, 409, "{}", cancel.text());
    assert_eq!(
        node.get("/v1/jobs/now/executions/123-elsewhere").status,
        404
    );
    assert_eq!(
        node.post("/v1/jobs/now/executions/123-elsewhere/cancel", "")
            .status,
        404
    );
}

/// `POST /v1/restore` imports a backup (the `GET /v1/jobs` array) from a multipart upload.
#[test]
fn restore_imports_a_backup() {
    let node = Dkrond::start();
    let backup = json!([
        { "name": "restored_parent", "schedule": "@every 1h", "executor": "shell",
          "executor_config": { "command": "true" }, "success_count": 7 },
        { "name": "restored_child", "parent_job": "restored_parent", "executor": "shell",
          "executor_config": { "command": "true" } },
    ])
    .to_string();
    let boundary = "dkrondtestboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"backup.json\"\r\nContent-Type: application/json\r\n\r\n{backup}\r\n--{boundary}--\r\n"
    );
    let reply = request_with_type(
        &node,
        "/v1/restore",
        &body,
        &format!("multipart/form-data; boundary={boundary}"),
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    let parent = node.get("/v1/jobs/restored_parent").json();
    assert_eq!(parent["success_count"], 7, "counters are kept: {parent}");
    assert_eq!(parent["dependent_jobs"], json!(["restored_child"]));
}

fn request_with_type(
    node: &Dkrond,
    path: &str,
    body: &str,
    content_type: &str,
) -> crate::support::Reply {
    crate::support::request_typed(node.http, "POST", path, body.as_bytes(), content_type)
}
