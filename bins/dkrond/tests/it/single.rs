//! One real single-server dkrond: the seed document's examples, scheduling with real shell
//! executions, restart, bad input, metrics.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Dkrond, wait_for};

/// The seed document's sample job, byte for byte (its legacy `command` is accepted and dropped).
const SEED_JOB: &str = r#"{
   "name":"cron_job",
   "schedule":"@every 2s",
   "command":"date",
   "owner":"foo",
   "owner_email":"foo@bar.com"
}"#;

fn shell_job(name: &str, schedule: &str, command: &str) -> String {
    serde_json::json!({
        "name": name,
        "schedule": schedule,
        "executor": "shell",
        "executor_config": { "command": command },
    })
    .to_string()
}

/// Whether an execution (as the API renders it) has finished: a running one has Go's zero time
/// as `finished_at`.
fn is_finished(execution: &Value) -> bool {
    execution["finished_at"]
        .as_str()
        .is_some_and(|t| !t.starts_with("0001-"))
}

/// The executions of `job` once at least `n` finished ones exist.
fn finished_executions(node: &Dkrond, job: &str, n: usize) -> Vec<Value> {
    wait_for(
        &format!("{n} finished executions of {job}"),
        Duration::from_secs(20),
        || {
            let reply = node.get(&format!("/v1/jobs/{job}/executions"));
            let list = reply.json().as_array()?.clone();
            let finished: Vec<Value> = list.into_iter().filter(is_finished).collect();
            (finished.len() >= n).then_some(finished)
        },
    )
}

/// Every curl example of the seed document answers as documented.
#[test]
fn seed_document_examples_work() {
    let node = Dkrond::start();
    for path in ["/v1", "/v1/members", "/v1/leader", "/v1/jobs"] {
        let reply = node.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
        assert_eq!(
            reply.headers.get("x-whom").map(String::as_str),
            Some("test-node")
        );
    }
    assert_eq!(node.get("/v1").json()["agent"]["name"], "test-node");
    assert_eq!(node.get("/v1/leader").json()["Name"], "test-node");

    let created = node.post("/v1/jobs/", SEED_JOB);
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        node.get("/v1/jobs/cron_job").json()["owner_email"],
        "foo@bar.com"
    );

    // The manual-run, executions and delete examples use a job named aggregate_stats.
    let created = node.post(
        "/v1/jobs",
        &shell_job("aggregate_stats", "@manually", "echo aggregated"),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let run = node.post("/v1/jobs/aggregate_stats", "");
    assert_eq!(run.status, 200, "{}", run.text());
    let executions = wait_for("the manual run to finish", Duration::from_secs(20), || {
        let list = node.get("/v1/executions/aggregate_stats").json();
        let list = list.as_array()?.clone();
        list.iter().any(is_finished).then_some(list)
    });
    let finished = executions
        .iter()
        .find(|e| is_finished(e))
        .expect("a finished run");
    assert_eq!(finished["output"], "aggregated\n");
    assert_eq!(finished["success"], true);
    let deleted = node.request("DELETE", "/v1/job/aggregate_stats", None);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(node.get("/v1/jobs/aggregate_stats").status, 404);
}

/// A job `@every 1s` running `echo hello` produces successful executions with its output,
/// counted on the job and in the metrics.
#[test]
fn every_second_job_runs_and_is_counted() {
    let node = Dkrond::start();
    let created = node.post("/v1/jobs", &shell_job("hello", "@every 1s", "echo hello"));
    assert_eq!(created.status, 201, "{}", created.text());
    let executions = finished_executions(&node, "hello", 2);
    for execution in &executions {
        assert_eq!(execution["output"], "hello\n", "{execution}");
        assert_eq!(execution["success"], true);
        assert_eq!(execution["node_name"], "test-node");
    }
    let job = node.get("/v1/jobs/hello").json();
    assert!(job["success_count"].as_u64().unwrap_or(0) >= 2, "{job}");
    assert_eq!(job["status"], "success");
    assert!(!job["next"].is_null(), "{job}");

    let metrics = node.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains(r#"dkron_job_executions_succeeded_total{job_name="hello"}"#),
        "{text}"
    );
    assert!(
        text.contains("dkron_scheduler_lateness_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("dkron_raft_commit_seconds_bucket"), "{text}");
    assert!(text.contains("dkron_jobs 1"), "{text}");
}

/// A restart keeps jobs and history and resumes scheduling.
#[test]
fn restart_keeps_jobs_and_history_and_resumes() {
    let node = Dkrond::start();
    assert_eq!(
        node.post("/v1/jobs", &shell_job("tick", "@every 1s", "echo tick"))
            .status,
        201
    );
    let before = finished_executions(&node, "tick", 1);
    let (dir, status) = node.stop();
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    let node = Dkrond::start_in(dir, &[]);
    assert_eq!(node.get("/v1/jobs/tick").status, 200);
    let kept = node.get("/v1/jobs/tick/executions").json();
    let first_id = before[0]["id"].clone();
    let kept = kept.as_array().cloned().unwrap_or_default();
    assert!(
        kept.iter().any(|e| e["id"] == first_id),
        "history kept across restart"
    );
    finished_executions(&node, "tick", before.len() + 2);
}

/// Bad JSON, wrong types, bad schedules, unknown jobs and oversized bodies get the right 4xx,
/// and nothing stored changes.
#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let node = Dkrond::start();
    assert_eq!(
        node.post("/v1/jobs", &shell_job("keep", "@every 1h", "true"))
            .status,
        201
    );
    let before = node.get("/v1/jobs").text();

    let cases: [(&str, &str, &str, u16); 5] = [
        ("POST", "/v1/jobs", "{not json", 400),
        ("POST", "/v1/jobs", r#"{"name":"keep","schedule":5}"#, 400),
        (
            "POST",
            "/v1/jobs",
            r#"{"name":"keep","schedule":"every day at noon"}"#,
            400,
        ),
        ("POST", "/v1/jobs/nope", "", 404),
        ("DELETE", "/v1/jobs/nope", "", 404),
    ];
    for (method, path, body, status) in cases {
        let reply = node.request(method, path, Some(body.as_bytes()));
        assert_eq!(
            reply.status,
            status,
            "{method} {path} {body}: {}",
            reply.text()
        );
    }
    let huge = format!(
        r#"{{"name":"big","schedule":"@every 1h","owner":"{}"}}"#,
        "x".repeat(2 << 20)
    );
    assert_eq!(node.post("/v1/jobs", &huge).status, 413);
    assert_eq!(node.get("/v1/jobs/nope").status, 404);
    assert_eq!(
        node.get("/v1/jobs").text(),
        before,
        "nothing stored changed"
    );
}

/// `/health`, `/v1/isleader`, `/v1/busy`, pause and unpause on a live node. The pause is
/// replicated state: it survives a restart. As in dkron it gates job submissions only; a manual
/// run still runs while paused.
#[test]
fn node_routes_answer() {
    let node = Dkrond::start();
    let health = node.get("/health");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "healthy");
    assert_eq!(node.get("/v1/isleader").status, 200);
    assert_eq!(node.get("/v1/busy").status, 200);
    assert_eq!(
        node.post("/v1/jobs", &shell_job("early", "@manually", "true"))
            .status,
        201
    );
    assert_eq!(
        node.post("/v1/jobs", &shell_job("ticking", "@every 1h", "true"))
            .status,
        201
    );
    let vars = node.get("/debug/vars").json();
    assert_eq!(vars["scheduler_started"], 1, "{vars}");
    assert!(
        vars["cron_entries"]["ticking"]["next"].is_string(),
        "{vars}"
    );

    assert_eq!(node.get("/v1/pause").json()["paused"], false);
    assert_eq!(node.post("/v1/pause", "").json()["paused"], true);
    assert_eq!(node.get("/v1/pause").json()["paused"], true);
    let refused = node.post("/v1/jobs", &shell_job("late", "@every 1h", "true"));
    assert_eq!(refused.status, 503, "{}", refused.text());

    let (dir, status) = node.stop();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    let node = Dkrond::start_in(dir, &[]);
    assert_eq!(
        node.get("/v1/pause").json()["paused"],
        true,
        "pause survives a restart"
    );
    let refused = node.post("/v1/jobs", &shell_job("late", "@every 1h", "true"));
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(node.get("/v1/jobs/late").status, 404, "nothing was created");
    assert_eq!(node.post("/v1/jobs/early/run", "").status, 200);
    finished_executions(&node, "early", 1);

    assert_eq!(node.post("/v1/unpause", "").json()["paused"], false);
    assert_eq!(
        node.post("/v1/jobs", &shell_job("late", "@every 1h", "true"))
            .status,
        201
    );
}

/// A long job shows in `/v1/busy` while it runs, and cancelling it ends it as failed.
#[test]
fn busy_lists_running_executions_and_cancel_stops_them() {
    let node = Dkrond::start();
    assert_eq!(
        node.post("/v1/jobs", &shell_job("slow", "@manually", "sleep 30"))
            .status,
        201
    );
    assert_eq!(node.post("/v1/jobs/slow/run", "").status, 200);
    let busy = wait_for(
        "the run to show in /v1/busy",
        Duration::from_secs(20),
        || {
            let list = node.get("/v1/busy").json();
            let list = list.as_array()?.clone();
            (!list.is_empty()).then_some(list)
        },
    );
    assert_eq!(busy[0]["job_name"], "slow");
    let id = busy[0]["id"].as_str().expect("execution id").to_owned();
    let cancel = node.post(&format!("/v1/jobs/slow/executions/{id}/cancel"), "");
    assert!(cancel.status < 300, "{} {}", cancel.status, cancel.text());
    let done = finished_executions(&node, "slow", 1);
    assert_eq!(done[0]["success"], false);
    assert_eq!(node.get("/v1/busy").json(), serde_json::json!([]));
}

/// A YAML config file with dkron's key names configures the node (tags and datacenter show in
/// `/v1`), under the flags.
#[test]
fn config_file_configures_the_node() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dkron.yml");
    std::fs::write(
        &path,
        "datacenter: eu-west\ntags:\n  rack: r7\nnode-name: overridden-by-flag\n",
    )
    .expect("write config");
    let path = path.to_str().expect("utf-8 path").to_owned();
    let node = Dkrond::start_in(dir, &["--config", &path]);
    let index = node.get("/v1").json();
    assert_eq!(
        index["agent"]["name"], "test-node",
        "the flag wins over the file"
    );
    assert_eq!(index["tags"]["rack"], "r7", "{index}");
    assert_eq!(index["tags"]["dc"], "eu-west", "{index}");
}

/// A failing job is retried `retries` times; a parent's success runs its child; an ephemeral
/// job is deleted after it succeeds.
#[test]
fn retries_dependents_and_ephemeral_apply() {
    let node = Dkrond::start();
    let failing = serde_json::json!({ "name": "flaky", "schedule": "@manually", "retries": 1,
        "executor": "shell", "executor_config": { "command": "false" } });
    assert_eq!(node.post("/v1/jobs", &failing.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/flaky/run", "").status, 200);
    let attempts = finished_executions(&node, "flaky", 2);
    let mut numbers: Vec<u64> = attempts
        .iter()
        .filter_map(|e| e["attempt"].as_u64())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2], "{attempts:?}");
    assert!(attempts.iter().all(|e| e["success"] == false));
    assert_eq!(node.get("/v1/jobs/flaky").json()["status"], "failed");

    assert_eq!(
        node.post("/v1/jobs", &shell_job("parent", "@manually", "echo parent"))
            .status,
        201
    );
    let child = serde_json::json!({ "name": "kid", "parent_job": "parent", "executor": "shell",
        "executor_config": { "command": "echo kid" } });
    assert_eq!(node.post("/v1/jobs", &child.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/parent/run", "").status, 200);
    let kid = finished_executions(&node, "kid", 1);
    assert_eq!(kid[0]["output"], "kid\n");
    assert_eq!(kid[0]["trigger"], "dependent");

    let once = serde_json::json!({ "name": "once", "schedule": "@manually", "ephemeral": true,
        "executor": "shell", "executor_config": { "command": "true" } });
    assert_eq!(node.post("/v1/jobs", &once.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/once/run", "").status, 200);
    wait_for(
        "the ephemeral job to be deleted",
        Duration::from_secs(20),
        || (node.get("/v1/jobs/once").status == 404).then_some(()),
    );
}

/// SIGTERM waits for a running execution to finish, records it, and exits cleanly; after a
/// restart the finished execution is in the history.
#[test]
fn sigterm_waits_for_running_executions() {
    let node = Dkrond::start();
    let job = serde_json::json!({ "name": "short", "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": "sleep 1" } });
    assert_eq!(node.post("/v1/jobs", &job.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/short/run", "").status, 200);
    wait_for("the run to start", Duration::from_secs(20), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array().map(Vec::len) == Some(1)).then_some(())
    });
    let (dir, status) = node.stop();
    assert!(status.success(), "{status}");
    let node = Dkrond::start_in(dir, &[]);
    let done = finished_executions(&node, "short", 1);
    assert_eq!(
        done[0]["success"], true,
        "the run finished before the node stopped: {done:?}"
    );
}

/// An execution cut off by a crash (SIGKILL) is recorded as failed when the node comes back,
/// instead of reading as running forever.
#[test]
fn crash_interrupted_execution_is_closed_on_restart() {
    let node = Dkrond::start();
    let job = serde_json::json!({ "name": "long", "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": "sleep 5" } });
    assert_eq!(node.post("/v1/jobs", &job.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/long/run", "").status, 200);
    wait_for("the run to start", Duration::from_secs(20), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array().map(Vec::len) == Some(1)).then_some(())
    });
    let node = Dkrond::start_in(node.kill(), &[]);
    let done = finished_executions(&node, "long", 1);
    assert_eq!(done[0]["success"], false);
    assert!(
        done[0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("interrupted"),
        "{done:?}"
    );
}

/// `--log-format json` writes one JSON object per log line (structured logs).
#[test]
fn json_logs_are_one_object_per_line() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--log-format", "json"],
    );
    let (dir, status) = node.stop();
    assert!(status.success());
    let log = std::fs::read_to_string(dir.path().join("dkrond.log")).expect("log");
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.iter().any(|l| l.contains("node started")), "{log}");
    for line in lines {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            value["level"].is_string() && value["timestamp"].is_string(),
            "{line}"
        );
    }
}

/// A job's processors are applied to its finished executions: `files` writes the output to
/// `<log_dir>/<execution id>.log` and, without `forward`, stores the file's path as output.
#[test]
fn processors_apply_to_finished_executions() {
    let node = Dkrond::start();
    let logs = tempfile::tempdir().expect("temp dir");
    let log_dir = logs.path().to_str().expect("utf-8").to_owned();
    let job = serde_json::json!({ "name": "logged", "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": "echo to-file" },
        "processors": { "files": { "log_dir": log_dir } } });
    assert_eq!(node.post("/v1/jobs", &job.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/logged/run", "").status, 200);
    let done = finished_executions(&node, "logged", 1);
    let id = done[0]["id"].as_str().expect("id");
    let file = logs.path().join(format!("{id}.log"));
    assert_eq!(
        std::fs::read_to_string(&file).expect("log file"),
        "to-file\n"
    );
    assert_eq!(done[0]["output"].as_str(), file.to_str(), "{done:?}");
}

/// A second SIGTERM during the graceful stop ends the process at once (exit code 130) instead
/// of waiting out the shutdown timeout for a running execution.
#[test]
fn second_sigterm_exits_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut node = Dkrond::start_in(dir, &["--shutdown-timeout", "60s"]);
    let job = serde_json::json!({ "name": "stuck", "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": "sleep 8" } });
    assert_eq!(node.post("/v1/jobs", &job.to_string()).status, 201);
    assert_eq!(node.post("/v1/jobs/stuck/run", "").status, 200);
    wait_for("the run to start", Duration::from_secs(20), || {
        let busy = node.get("/v1/busy").json();
        (busy.as_array().map(Vec::len) == Some(1)).then_some(())
    });
    node.terminate();
    // The second signal's listener starts after the first is handled: repeat until it exits.
    let status = wait_for(
        "dkrond to exit on a second SIGTERM",
        Duration::from_secs(6),
        || {
            node.terminate();
            node.try_exit()
        },
    );
    assert_eq!(status.code(), Some(130), "{status}");
}

/// The bug of issue 11: a retry's launch record replaced its fire's, the last scheduled fire
/// went back in time, and after a crash a `run_once` job ran that instant again. Now a job that
/// always fails, with one retry, killed -9 after a retry and restarted, runs each group's
/// attempts once: no `(group, attempt)` twice, no instant launched twice.
#[test]
fn a_retried_fire_is_not_run_again_after_a_crash() {
    let node = Dkrond::start();
    let job = serde_json::json!({
        "name": "flaky", "schedule": "@every 1s", "executor": "shell",
        "executor_config": { "command": "false" },
        "retries": 1, "retry_backoff": { "initial": "100ms", "max": "100ms" },
        "misfire_policy": "run_once",
    });
    assert_eq!(node.post("/v1/jobs", &job.to_string()).status, 201);
    wait_for("a finished retry", Duration::from_secs(20), || {
        let list = node.get("/v1/jobs/flaky/executions").json();
        list.as_array()?
            .iter()
            .any(|e| e["attempt"] == 2 && is_finished(e))
            .then_some(())
    });
    let dir = node.kill();
    // Down long enough for the misfire policy to have instants to run once.
    std::thread::sleep(Duration::from_millis(2500));
    let node = Dkrond::start_in(dir, &[]);
    let groups_before_check = |node: &Dkrond| -> usize {
        let list = node.get("/v1/jobs/flaky/executions").json();
        let groups: std::collections::BTreeSet<i64> = list
            .as_array()
            .map(|l| l.iter().filter_map(|e| e["group"].as_i64()).collect())
            .unwrap_or_default();
        groups.len()
    };
    let before = groups_before_check(&node);
    wait_for("fires after the restart", Duration::from_secs(20), || {
        (groups_before_check(&node) >= before + 3).then_some(())
    });
    let list = node.get("/v1/jobs/flaky/executions").json();
    let executions = list.as_array().expect("a list");
    let mut seen = std::collections::BTreeMap::new();
    for execution in executions {
        let key = (
            execution["group"].as_i64().expect("group"),
            execution["attempt"].as_u64().expect("attempt"),
        );
        *seen.entry(key).or_insert(0) += 1;
        assert!(key.1 <= 2, "more attempts than retries allow: {execution}");
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "(group, attempt) run more than once: {repeated:?}\n{executions:#?}"
    );
    let first_attempts: Vec<&str> = executions
        .iter()
        .filter(|e| e["attempt"] == 1 && e["trigger"] == "scheduled")
        .filter_map(|e| e["scheduled_at"].as_str())
        .collect();
    let unique: std::collections::BTreeSet<&&str> = first_attempts.iter().collect();
    assert_eq!(
        unique.len(),
        first_attempts.len(),
        "an instant launched twice"
    );
}

/// A job whose executor or processor configuration its executor refuses is a 400 when it is
/// written (issue 13), not a failure at every run; nothing is stored. A good one still passes,
/// and an executor this node does not know is still accepted (dkron's plugins).
#[test]
fn executor_config_is_checked_when_the_job_is_written() {
    let node = Dkrond::start();
    let bad_timeout = serde_json::json!({ "name": "bad", "schedule": "@every 1m",
        "executor": "shell", "executor_config": { "command": "true", "timeout": "-5s" } });
    let reply = node.post("/v1/jobs", &bad_timeout.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(reply.text().contains("shell"), "{}", reply.text());
    let bad_processor = serde_json::json!({ "name": "bad", "schedule": "@every 1m",
        "executor": "shell", "executor_config": { "command": "true" },
        "processors": { "no-such-processor": {} } });
    let reply = node.post("/v1/jobs", &bad_processor.to_string());
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(node.get("/v1/jobs/bad").status, 404, "nothing stored");
    let plugin = serde_json::json!({ "name": "plugin", "schedule": "@every 1m",
        "executor": "kafka", "executor_config": { "topic": "t" } });
    assert_eq!(node.post("/v1/jobs", &plugin.to_string()).status, 201);
    let good = shell_job("good", "@every 1m", "true");
    assert_eq!(node.post("/v1/jobs", &good).status, 201);
}
