//! Bounds end to end (issue 13): job ceilings, request sizes, client-sent counters, the
//! state machine staying up on a saturated counter, execution slots, and paged history.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Dkrond, wait_for};

fn shell_job(name: &str, command: &str) -> Value {
    json!({
        "name": name,
        "schedule": "@manually",
        "executor": "shell",
        "executor_config": { "command": command, "shell": "true" },
    })
}

fn is_finished(execution: &Value) -> bool {
    execution["finished_at"]
        .as_str()
        .is_some_and(|t| !t.starts_with("0001-"))
}

/// The executions of `job` once `n` have finished.
fn finished(node: &Dkrond, job: &str, n: usize) -> Vec<Value> {
    wait_for(
        &format!("{n} finished executions of {job}"),
        Duration::from_secs(30),
        || {
            let list = node.get(&format!("/v1/jobs/{job}/executions")).json();
            let done: Vec<Value> = list
                .as_array()?
                .iter()
                .filter(|e| is_finished(e))
                .cloned()
                .collect();
            (done.len() >= n).then_some(done)
        },
    )
}

fn job_names(node: &Dkrond) -> Vec<String> {
    node.get("/v1/jobs")
        .json()
        .as_array()
        .expect("a job list")
        .iter()
        .map(|j| j["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// Each ceiling: a job above it is refused with 400 naming the field, the value and the
/// setting, on create and on update, and nothing stored changes; a restore fails that job.
#[test]
fn jobs_above_a_ceiling_are_refused_and_change_nothing() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &[
            "--max-history-limit=200",
            "--max-output-limit=300000",
            "--max-retries=3",
            "--max-job-name-length=12",
        ],
    );
    let mut kept = shell_job("kept", "true");
    kept["retries"] = json!(3);
    kept["history_limit"] = json!(200);
    assert_eq!(node.post("/v1/jobs", &kept.to_string()).status, 201);
    let stored_before = node.get("/v1/jobs/kept").json();
    let cases = [
        ("history_limit", json!(201), "max-history-limit"),
        ("output_limit", json!(300_001), "max-output-limit"),
        ("retries", json!(4), "max-retries"),
        (
            "displayname",
            json!("a display name longer than twelve"),
            "max-job-name-length",
        ),
    ];
    for (field, value, setting) in cases {
        for name in ["kept", "fresh"] {
            let mut job = shell_job(name, "true");
            job[field] = value.clone();
            let reply = node.post("/v1/jobs", &job.to_string());
            assert_eq!(reply.status, 400, "{field} on {name}: {}", reply.text());
            let text = reply.text();
            assert!(
                text.contains(field) && text.contains(setting),
                "{field}: {text}"
            );
        }
    }
    let reply = node.post("/v1/jobs", &shell_job("thirteen-char", "true").to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply
            .text()
            .contains("name 13 is above this server's limit of 12 (setting max-job-name-length)"),
        "{}",
        reply.text()
    );
    assert_eq!(job_names(&node), ["kept"]);
    assert_eq!(node.get("/v1/jobs/kept").json(), stored_before);
    // A restore fails the job above a ceiling alone (dkron fails invalid jobs one by one).
    let mut over = shell_job("restored-over", "true");
    over["retries"] = json!(50);
    let backup = json!([shell_job("restored-ok", "true"), over]).to_string();
    let reply = node.post("/v1/restore", &backup);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!("[\"success create restored-ok\",\"fail create restored-over\"]")
    );
    assert_eq!(job_names(&node), ["kept", "restored-ok"]);
}

/// A body above `--max-request-bytes` (and a restore above `--max-restore-bytes`) is refused
/// with 413 and stores nothing.
#[test]
fn bodies_above_the_size_limits_are_413() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--max-request-bytes=4096", "--max-restore-bytes=8192"],
    );
    let mut big = shell_job("big", "true");
    big["metadata"] = json!({ "padding": "x".repeat(6000) });
    let reply = node.post("/v1/jobs", &big.to_string());
    assert_eq!(reply.status, 413, "{}", reply.text());
    let mut small = shell_job("small", "true");
    small["metadata"] = json!({ "padding": "x".repeat(3000) });
    assert_eq!(node.post("/v1/jobs", &small.to_string()).status, 201);
    // A restore may be larger than a request, up to its own limit.
    let mut restored = shell_job("restored", "true");
    restored["metadata"] = json!({ "padding": "x".repeat(6000) });
    let reply = node.post("/v1/restore", &json!([restored]).to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let mut too_big = shell_job("too-big", "true");
    too_big["metadata"] = json!({ "padding": "x".repeat(9000) });
    let reply = node.post("/v1/restore", &json!([too_big]).to_string());
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert_eq!(job_names(&node), ["restored", "small"]);
}

/// The crash loop: a job posted with `success_count: u64::MAX` runs several times;
/// the node stays up and healthy, writes keep working, and the counters are the server's
/// (the posted ones are ignored; a restored `u64::MAX` saturates).
#[test]
fn client_counters_are_ignored_and_the_node_stays_up() {
    let node = Dkrond::start();
    let mut job = shell_job("counted", "true");
    job["success_count"] = json!(u64::MAX);
    job["error_count"] = json!(5);
    job["last_success"] = json!("2030-01-01T00:00:00Z");
    job["status"] = json!("success");
    let reply = node.post("/v1/jobs", &job.to_string());
    assert_eq!(reply.status, 201, "{}", reply.text());
    let created = reply.json();
    assert_eq!(created["success_count"], 0, "{created}");
    assert_eq!(created["error_count"], 0, "{created}");
    assert_eq!(created["last_success"], Value::Null, "{created}");
    assert_eq!(created["status"], "", "{created}");
    for run in 1..=3 {
        assert_eq!(node.post("/v1/jobs/counted", "").status, 200);
        finished(&node, "counted", run);
    }
    // Re-sent counters on an update do not move the stored ones either.
    assert_eq!(node.post("/v1/jobs", &job.to_string()).status, 201);
    let stored = node.get("/v1/jobs/counted").json();
    assert_eq!(stored["success_count"], 3, "{stored}");
    assert_eq!(stored["error_count"], 0, "{stored}");
    // A restore keeps the file's counters (dkron's backup contract): at u64::MAX the next
    // runs saturate instead of stopping the state machine.
    let mut restored = shell_job("restored", "true");
    restored["success_count"] = json!(u64::MAX);
    let reply = node.post("/v1/restore", &json!([restored]).to_string());
    assert_eq!(reply.json(), json!("[\"success create restored\"]"));
    for run in 1..=2 {
        assert_eq!(node.post("/v1/jobs/restored", "").status, 200);
        finished(&node, "restored", run);
    }
    let stored = node.get("/v1/jobs/restored").json();
    assert_eq!(stored["success_count"], json!(u64::MAX), "{stored}");
    let health = node.get("/health");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(
        node.post("/v1/jobs", &shell_job("after", "true").to_string())
            .status,
        201
    );
}

/// Start and end (Unix nanoseconds) of the run an execution's output reports.
fn run_span(execution: &Value) -> (u128, u128) {
    let output = execution["output"].as_str().expect("output");
    let stamps: Vec<u128> = output
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    assert_eq!(stamps.len(), 2, "{output:?}");
    (stamps[0], stamps[1])
}

const TIMED: &str = "date +%s%N; sleep 1; date +%s%N";

/// With one slot and `queue` (the default policy), a second execution waits for the first:
/// both succeed, one after the other, and the waiting one is listed as running meanwhile.
#[test]
fn with_one_slot_a_second_execution_waits() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--max-concurrent-executions=1"],
    );
    for name in ["first", "second"] {
        assert_eq!(
            node.post("/v1/jobs", &shell_job(name, TIMED).to_string())
                .status,
            201
        );
    }
    assert_eq!(node.post("/v1/jobs/first", "").status, 200);
    wait_for("the first to run", Duration::from_secs(10), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array()?.len() == 1).then_some(())
    });
    assert_eq!(node.post("/v1/jobs/second", "").status, 200);
    // Waiting, the second is recorded and listed as running.
    wait_for("both to be busy", Duration::from_secs(10), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array()?.len() == 2).then_some(())
    });
    let first = &finished(&node, "first", 1)[0];
    let second = &finished(&node, "second", 1)[0];
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(second["success"], true, "{second}");
    let (_, first_end) = run_span(first);
    let (second_start, _) = run_span(second);
    assert!(
        second_start >= first_end,
        "the runs overlapped: {first} {second}"
    );
}

/// With one slot and `fail`, a second execution is recorded as failed, saying why; the first
/// is not disturbed and nothing is lost.
#[test]
fn with_one_slot_and_fail_a_second_execution_fails_with_the_reason() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--max-concurrent-executions=1", "--execution-overflow=fail"],
    );
    for name in ["first", "second"] {
        assert_eq!(
            node.post("/v1/jobs", &shell_job(name, TIMED).to_string())
                .status,
            201
        );
    }
    assert_eq!(node.post("/v1/jobs/first", "").status, 200);
    wait_for("the first to run", Duration::from_secs(10), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array()?.len() == 1).then_some(())
    });
    assert_eq!(node.post("/v1/jobs/second", "").status, 200);
    let second = &finished(&node, "second", 1)[0];
    assert_eq!(second["success"], false, "{second}");
    assert_eq!(
        second["output"],
        "node test-node is at its limit of 1 concurrent executions (max-concurrent-executions); execution refused"
    );
    let first = &finished(&node, "first", 1)[0];
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(node.get("/v1/jobs/first").json()["success_count"], 1);
    assert_eq!(node.get("/v1/jobs/second").json()["error_count"], 1);
    // A slot is free again: the next run runs.
    assert_eq!(node.post("/v1/jobs/second", "").status, 200);
    let runs = finished(&node, "second", 2);
    assert!(runs.iter().any(|e| e["success"] == true), "{runs:?}");
}

/// Processes have their own bound: with its one process slot taken and `fail`, a second shell
/// execution is refused naming `max-concurrent-processes`, while an `http` execution (a request
/// from the node's own process) runs meanwhile.
#[test]
fn with_one_process_slot_http_runs_while_a_second_shell_run_is_refused() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--max-concurrent-processes=1", "--execution-overflow=fail"],
    );
    for name in ["first", "second"] {
        assert_eq!(
            node.post("/v1/jobs", &shell_job(name, "sleep 60").to_string())
                .status,
            201
        );
    }
    let request = json!({
        "name": "request",
        "schedule": "@manually",
        "executor": "http",
        "executor_config": {
            "method": "GET",
            "url": format!("http://{}/health", node.http),
            "expectCode": "200",
        },
    });
    assert_eq!(node.post("/v1/jobs", &request.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/first", "").status, 200);
    wait_for("the first to run", Duration::from_secs(10), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array()?.len() == 1).then_some(())
    });
    assert_eq!(node.post("/v1/jobs/second", "").status, 200);
    assert_eq!(node.post("/v1/jobs/request", "").status, 200);
    let second = &finished(&node, "second", 1)[0];
    assert_eq!(
        second["output"],
        "node test-node is at its limit of 1 concurrent processes (max-concurrent-processes); execution refused"
    );
    // With `fail`, a request that needed the process slot would have been refused.
    let request = &finished(&node, "request", 1)[0];
    assert_eq!(request["success"], true, "{request}");
    // The command still holds the process slot: cancel it rather than wait for it.
    let running = node.get("/v1/jobs/first/executions").json();
    let first = &running[0];
    assert!(!is_finished(first), "the command ended first: {first}");
    let id = first["id"].as_str().expect("an id");
    let reply = node.post(&format!("/v1/jobs/first/executions/{id}/cancel"), "");
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(finished(&node, "first", 1)[0]["success"], false);
}

/// The history listing pages in both orders with the total in `X-Total-Count`.
#[test]
fn execution_history_is_paged() {
    let node = Dkrond::start();
    assert_eq!(
        node.post("/v1/jobs", &shell_job("paged", "true").to_string())
            .status,
        201
    );
    for run in 1..=3 {
        assert_eq!(node.post("/v1/jobs/paged", "").status, 200);
        finished(&node, "paged", run);
    }
    let all = node.get("/v1/jobs/paged/executions").json();
    let ids: Vec<&str> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 3);
    let page = node.get("/v1/jobs/paged/executions?_start=1&_end=2");
    assert_eq!(
        page.headers.get("x-total-count").map(String::as_str),
        Some("3")
    );
    assert_eq!(page.json()[0]["id"], ids[1]);
    let ascending = node.get("/v1/jobs/paged/executions?_order=ASC&_start=0&_end=1");
    assert_eq!(ascending.json()[0]["id"], ids[2]);
    let past = node.get("/v1/jobs/paged/executions?_start=5&_end=9");
    assert_eq!(past.json(), json!([]));
    assert_eq!(
        past.headers.get("x-total-count").map(String::as_str),
        Some("3")
    );
}

/// An execution waiting for a slot can be cancelled: it is recorded as failed, saying so, and
/// the running one is not disturbed.
#[test]
fn a_waiting_execution_can_be_cancelled() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--max-concurrent-executions=1"],
    );
    for name in ["first", "second"] {
        assert_eq!(
            node.post("/v1/jobs", &shell_job(name, TIMED).to_string())
                .status,
            201
        );
    }
    assert_eq!(node.post("/v1/jobs/first", "").status, 200);
    wait_for("the first to run", Duration::from_secs(10), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array()?.len() == 1).then_some(())
    });
    assert_eq!(node.post("/v1/jobs/second", "").status, 200);
    let waiting = wait_for("the second to wait", Duration::from_secs(10), || {
        let list = node.get("/v1/jobs/second/executions").json();
        list.as_array()?.first().cloned()
    });
    let id = waiting["id"].as_str().expect("an id");
    let reply = node.post(&format!("/v1/jobs/second/executions/{id}/cancel"), "");
    assert_eq!(reply.status, 202, "{}", reply.text());
    let second = &finished(&node, "second", 1)[0];
    assert_eq!(second["success"], false, "{second}");
    assert_eq!(
        second["output"],
        "execution cancelled while waiting for a free execution slot"
    );
    let first = &finished(&node, "first", 1)[0];
    assert_eq!(first["success"], true, "{first}");
}
