//! A child of several parents (`parent_jobs`) on a real single-server dkrond with real shell
//! executions: it runs once per round of its parents, a round survives a restart (the parent
//! ends are replicated state), `run_on: failure` waits for both parents' failures, and bad
//! graphs are refused.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::support::{Dkrond, finished, time, wait_for};

const WAIT: Duration = Duration::from_secs(30);

fn create(node: &Dkrond, body: &Value) {
    let reply = node.post("/v1/jobs", &body.to_string());
    assert_eq!(reply.status, 201, "{}", reply.text());
}

fn parent(name: &str, command: &str) -> Value {
    json!({
        "name": name,
        "schedule": "@manually",
        "executor": "shell",
        "executor_config": { "command": command },
    })
}

fn child(name: &str, parents: &[&str], run_on: &str) -> Value {
    json!({
        "name": name,
        "parent_jobs": parents,
        "run_on": run_on,
        "executor": "shell",
        "executor_config": { "command": "echo child" },
    })
}

/// Runs `job` by hand and waits until its `n`-th run finished; returns that run's end.
fn run(node: &Dkrond, job: &str, n: usize) -> Timestamp {
    let reply = node.post(&format!("/v1/jobs/{job}/run"), "");
    assert_eq!(reply.status, 200, "{}", reply.text());
    time(&finished(node, job, n, WAIT)[n - 1]["finished_at"])
}

#[test]
fn a_child_of_two_parents_runs_once_per_round_of_both() {
    let node = Dkrond::start();
    create(&node, &parent("a", "echo a"));
    create(&node, &parent("b", "echo b"));
    create(&node, &child("both", &["a", "b"], "success"));
    let stored = node.get("/v1/jobs/both").json();
    assert_eq!(stored["parent_jobs"], json!(["a", "b"]));
    assert_eq!(
        stored["parent_job"], "",
        "several parents are not dkron's parent_job"
    );
    for name in ["a", "b"] {
        assert_eq!(
            node.get(&format!("/v1/jobs/{name}")).json()["dependent_jobs"],
            json!(["both"])
        );
    }

    // Round 1: a, then b. The child starts only after both ended.
    let a1 = run(&node, "a", 1);
    let b1 = run(&node, "b", 1);
    let runs = finished(&node, "both", 1, WAIT);
    assert_eq!(runs[0]["trigger"], "dependent");
    assert!(time(&runs[0]["started_at"]) >= a1.max(b1), "{runs:?}");

    // Round 2: b alone is not a round; a is noted, then the server restarts (the note is
    // replicated state), and b completes the round on the restarted server.
    let b2 = run(&node, "b", 2);
    let (dir, _) = node.stop();
    let node = Dkrond::start_in(dir, &[]);
    wait_for("a leader after the restart", WAIT, || {
        (node.get("/v1/leader").status == 200).then_some(())
    });
    let a2 = run(&node, "a", 2);
    let runs = finished(&node, "both", 2, WAIT);
    assert!(
        time(&runs[1]["started_at"]) >= a2.max(b2),
        "b's second run alone did not start the child: {runs:?}"
    );

    // Round 3: a twice, then b: still one run, after b.
    let _ = run(&node, "a", 3);
    let a4 = run(&node, "a", 4);
    let b3 = run(&node, "b", 3);
    let runs = finished(&node, "both", 3, WAIT);
    assert!(time(&runs[2]["started_at"]) >= a4.max(b3), "{runs:?}");

    // A parent named by the child cannot be deleted.
    let refused = node.request("DELETE", "/v1/jobs/b", None);
    assert_eq!(refused.status, 409, "{}", refused.text());
}

#[test]
fn a_failure_child_of_two_parents_waits_for_both_failures() {
    let node = Dkrond::start();
    create(&node, &parent("fa", "exit 1"));
    create(&node, &parent("fb", "exit 1"));
    create(&node, &parent("ok", "echo ok"));
    create(&node, &child("cleanup", &["fa", "fb"], "failure"));
    create(&node, &child("mixed", &["fa", "ok"], "failure"));
    let fa = run(&node, "fa", 1);
    let fb = run(&node, "fb", 1);
    let runs = finished(&node, "cleanup", 1, WAIT);
    assert!(time(&runs[0]["started_at"]) >= fa.max(fb), "{runs:?}");
    assert_eq!(runs[0]["success"], true);
    // `mixed` needs ok to fail too: its success leaves `mixed` waiting. Checked after a later
    // round of `cleanup`, launched after `ok`'s end was reported.
    let _ = run(&node, "ok", 1);
    let _ = run(&node, "fa", 2);
    let _ = run(&node, "fb", 2);
    let _ = finished(&node, "cleanup", 2, WAIT);
    assert_eq!(node.get("/v1/jobs/mixed/executions").json(), json!([]));
}

#[test]
fn bad_parent_lists_are_refused_and_change_nothing() {
    let node = Dkrond::start();
    create(&node, &parent("a", "echo a"));
    create(&node, &parent("b", "echo b"));
    // Both fields, naming different parents: 400 naming parent_jobs.
    let mut both = child("x", &["a", "b"], "success");
    both["parent_job"] = json!("a");
    let reply = node.post("/v1/jobs", &both.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("parent_jobs"), "{}", reply.text());
    // The same parent in both fields is one parent.
    let mut same = child("same", &["a"], "success");
    same["parent_job"] = json!("a");
    create(&node, &same);
    let stored = node.get("/v1/jobs/same").json();
    assert_eq!(
        (stored["parent_job"].clone(), stored["parent_jobs"].clone()),
        (json!("a"), Value::Null)
    );
    // A missing parent: 404, nothing written.
    let reply = node.post(
        "/v1/jobs",
        &child("y", &["a", "nope"], "success").to_string(),
    );
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(node.get("/v1/jobs/y").status, 404);
    // A cycle through the second parent: c has parents a and b; b may not become c's child.
    create(&node, &child("c", &["a", "b"], "success"));
    let mut looped = child("b", &["a", "c"], "success");
    looped["schedule"] = json!("@manually");
    let reply = node.post("/v1/jobs", &looped.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("cycle"), "{}", reply.text());
    assert_eq!(node.get("/v1/jobs/b").json()["parent_jobs"], Value::Null);
    assert_eq!(
        node.get("/v1/jobs/a").json()["dependent_jobs"],
        json!(["c", "same"])
    );
}
