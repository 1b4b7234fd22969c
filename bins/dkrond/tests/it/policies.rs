//! Run policies through a real single-server dkrond with real shell executions: jitter,
//! `buffer_one`, `pause_on_failure` and `run_on` children.

use std::time::Duration;

use dkron_model::Job;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::support::{Dkrond, finished, time, wait_for};

fn shell(name: &str, schedule: &str, command: &str, extra: Value) -> String {
    let mut job = json!({
        "name": name,
        "schedule": schedule,
        "executor": "shell",
        "executor_config": { "command": command },
    });
    let (Value::Object(job_map), Value::Object(extra)) = (&mut job, extra) else {
        unreachable!("both are objects");
    };
    job_map.extend(extra);
    job.to_string()
}

fn create(node: &Dkrond, body: &str) {
    let reply = node.post("/v1/jobs", body);
    assert_eq!(reply.status, 201, "{}", reply.text());
}

/// Each fire starts after its own derived delay and keeps the schedule's instant;
/// `/next` lists the same jittered instants the scheduler uses.
#[test]
fn jitter_delays_each_fire_by_its_derived_delay() {
    let node = Dkrond::start();
    create(
        &node,
        &shell(
            "spread",
            "*/2 * * * * *",
            "true",
            json!({"jitter": "1500ms"}),
        ),
    );
    let model = Job {
        name: "spread".into(),
        jitter: Duration::from_millis(1500),
        ..Job::default()
    };
    let next = node.get("/v1/jobs/spread/next?count=10").json();
    let fires = next["next"].as_array().expect("array");
    assert_eq!(fires.len(), 10);
    for fire in fires {
        let due = time(fire);
        // The schedule fires on even seconds; the delay is below 2 s.
        let second = due.as_second();
        let scheduled = Timestamp::from_second(second - second.rem_euclid(2)).unwrap();
        assert_eq!(model.jittered(scheduled), due, "{fire}");
    }
    let runs = finished(&node, "spread", 3, Duration::from_secs(30));
    let mut delays = Vec::new();
    for run in &runs {
        let scheduled = time(&run["scheduled_at"]);
        assert_eq!(scheduled.subsec_nanosecond(), 0, "the cron instant: {run}");
        assert_eq!(scheduled.as_second().rem_euclid(2), 0, "{run}");
        let started = time(&run["started_at"]);
        assert!(
            started >= model.jittered(scheduled),
            "started {started} before its jittered instant {}",
            model.jittered(scheduled)
        );
        delays.push(model.jittered(scheduled).duration_since(scheduled));
    }
    assert!(
        delays
            .iter()
            .all(|d| *d <= SignedDuration::from_millis(1500))
    );
}

/// `buffer_one`: a fire that comes while the job runs waits for it, and starts when it ends,
/// with its own scheduled instant; runs never overlap.
#[test]
fn buffer_one_starts_a_waiting_fire_when_the_run_ends() {
    let node = Dkrond::start();
    create(
        &node,
        &shell(
            "queued",
            "* * * * * *",
            "sleep 2.5",
            json!({"concurrency": "buffer_one"}),
        ),
    );
    let runs = finished(&node, "queued", 3, Duration::from_secs(40));
    assert_eq!(
        node.get("/v1/jobs/queued").json()["concurrency"],
        "buffer_one"
    );
    for pair in runs.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(
            time(&after["started_at"]) >= time(&before["finished_at"]),
            "overlap: {before} then {after}"
        );
        assert!(time(&after["scheduled_at"]) > time(&before["scheduled_at"]));
    }
    // The buffered fires waited: they started well after their instant (a `forbid` job would
    // have skipped them, an `allow` one started them on time).
    let waited = runs.iter().skip(1).any(|run| {
        time(&run["started_at"]).duration_since(time(&run["scheduled_at"]))
            > SignedDuration::from_millis(1000)
    });
    assert!(waited, "{runs:?}");
}

/// `pause_on_failure: 2`: two failed runs in a row disable the job, with the reason on the job
/// and on its web UI page; enabling it clears the reason.
#[test]
fn pause_on_failure_disables_a_failing_job_and_says_why() {
    let node = Dkrond::start();
    create(
        &node,
        &shell(
            "flaky",
            "* * * * * *",
            "exit 3",
            json!({"pause_on_failure": 2}),
        ),
    );
    let job = wait_for("flaky paused", Duration::from_secs(30), || {
        let job = node.get("/v1/jobs/flaky").json();
        (job["disabled"] == true).then_some(job)
    });
    let reason = "paused after 2 consecutive failed runs (pause_on_failure: 2)";
    assert_eq!(job["paused_reason"], reason);
    assert!(job["consecutive_failures"].as_u64() >= Some(2), "{job}");
    assert!(job["error_count"].as_u64() >= Some(2), "{job}");
    let page = node.get("/ui/jobs/flaky");
    assert_eq!(page.status, 200);
    assert!(page.text().contains(reason), "{}", page.text());

    let enabled = node.post("/v1/jobs/flaky/toggle", "").json();
    assert_eq!(enabled["disabled"], false);
    assert_eq!(enabled["paused_reason"], "");
    assert_eq!(enabled["consecutive_failures"], 0);
}

/// Children with `run_on: failure` and `always` run after the parent's group failed; a
/// `success` child does not.
#[test]
fn children_run_on_their_parent_failure() {
    let node = Dkrond::start();
    create(&node, &shell("parent", "@manually", "exit 1", json!({})));
    for (name, run_on) in [
        ("on-ok", "success"),
        ("on-fail", "failure"),
        ("on-end", "always"),
    ] {
        create(
            &node,
            &shell(
                name,
                "",
                "echo child",
                json!({"parent_job": "parent", "run_on": run_on}),
            ),
        );
    }
    assert_eq!(node.get("/v1/jobs/on-fail").json()["run_on"], "failure");
    let run = node.post("/v1/jobs/parent/run", "");
    assert_eq!(run.status, 200, "{}", run.text());
    let parent = finished(&node, "parent", 1, Duration::from_secs(20));
    assert_eq!(parent[0]["success"], false);
    for name in ["on-fail", "on-end"] {
        let runs = finished(&node, name, 1, Duration::from_secs(20));
        assert_eq!(runs[0]["trigger"], "dependent", "{name}");
        assert_eq!(runs[0]["success"], true, "{name}");
    }
    // Launched in the same step as the two above, had it been launched at all.
    let ok = node.get("/v1/jobs/on-ok/executions").json();
    assert_eq!(
        ok,
        json!([]),
        "a success child does not run after a failure"
    );
}

/// A backfill through a real server: the instants of a past range run one after the other
/// (`buffer_all`) with trigger `backfill` and their instants as `scheduled_at`; a range above
/// `--max-backfill-fires` is refused.
#[test]
fn backfill_runs_a_past_range_one_after_the_other() {
    let node = Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--max-backfill-fires", "3"],
    );
    create(
        &node,
        &shell("hourly", "0 0 * * * *", "sleep 0.3", json!({})),
    );
    let reply = node.post(
        "/v1/jobs/hourly/backfill",
        r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T02:00:00Z","overlap":"buffer_all"}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["count"], 3);
    let runs = finished(&node, "hourly", 3, Duration::from_secs(30));
    let scheduled: Vec<Timestamp> = runs.iter().map(|r| time(&r["scheduled_at"])).collect();
    let expected: Vec<Timestamp> = [
        "2026-01-01T00:00:00Z",
        "2026-01-01T01:00:00Z",
        "2026-01-01T02:00:00Z",
    ]
    .iter()
    .map(|t| t.parse().unwrap())
    .collect();
    assert_eq!(scheduled, expected);
    for pair in runs.windows(2) {
        assert!(
            time(&pair[1]["started_at"]) >= time(&pair[0]["finished_at"]),
            "in turn"
        );
    }
    assert!(
        runs.iter()
            .all(|r| r["trigger"] == "backfill" && r["success"] == true)
    );

    let above = node.post(
        "/v1/jobs/hourly/backfill",
        r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T03:00:00Z"}"#,
    );
    assert_eq!(above.status, 400);
    assert!(
        above.text().contains("max-backfill-fires"),
        "{}",
        above.text()
    );

    // The web UI's backfill form has the same limit: the node passes the setting to it.
    let origin = format!("http://{}", node.http);
    let ui = crate::support::request_with_headers(
        node.http,
        "POST",
        "/ui/jobs/hourly/backfill",
        b"from=2026-01-01T00%3A00%3A00Z&to=2026-01-01T03%3A00%3A00Z",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &origin),
        ],
    );
    assert_eq!(ui.status, 400, "{}", ui.text());
    let page = ui.text();
    assert!(
        page.contains("more than 3 scheduled instants") && page.contains("data-field=\"to\""),
        "{page}"
    );
    let all = node.get("/v1/jobs/hourly/executions").json();
    assert_eq!(all.as_array().map_or(0, Vec::len), 3, "nothing more ran");
}

/// `buffer_one` across a leader change: the leader is killed while a run goes on, and the new
/// leader rebuilds the buffer from the launch log, so the fire that came during the run still
/// starts when the run ends, with its own instant, and never overlaps it.
#[test]
fn buffer_one_survives_a_leader_change() {
    use crate::cluster::{
        FORM_TIMEOUT, agreed_leader, executions, is_done, node_name, three_servers,
    };

    let mut servers = three_servers();
    // On every server, so a run survives the leader's death on the others.
    create(
        &servers[1],
        &shell(
            "held",
            "* * * * * *",
            "sleep 8",
            json!({"concurrency": "buffer_one"}),
        ),
    );
    let first = wait_for("the first run to start", FORM_TIMEOUT, || {
        let list = executions(&servers[1], "held");
        let first = list.iter().min_by_key(|e| time(&e["started_at"]))?.clone();
        let started = time(&first["started_at"]);
        // Kill once the fire after it has come (and was buffered by this leader).
        (Timestamp::now().duration_since(started) > SignedDuration::from_secs(2)).then_some(first)
    });
    let first_group = first["group"].clone();
    let leader = agreed_leader(&servers);
    let index = servers
        .iter()
        .position(|s| node_name(s) == leader)
        .expect("the leader among the servers");
    drop(servers.remove(index).kill());
    // The group ends (the dead leader's run is closed as lost), then the buffered fire runs.
    let (group_one, group_two) = wait_for("the buffered fire to run", FORM_TIMEOUT, || {
        let list = executions(&servers[0], "held");
        let one: Vec<Value> = list
            .iter()
            .filter(|e| e["group"] == first_group)
            .cloned()
            .collect();
        let next_group = list
            .iter()
            .filter(|e| e["group"] != first_group && e["trigger"] == "scheduled")
            .min_by_key(|e| time(&e["scheduled_at"]))?["group"]
            .clone();
        let two: Vec<Value> = list
            .iter()
            .filter(|e| e["group"] == next_group)
            .cloned()
            .collect();
        (one.len() == 3 && one.iter().all(is_done)).then_some((one, two))
    });
    let scheduled_one = time(&first["scheduled_at"]);
    let scheduled_two = time(&group_two[0]["scheduled_at"]);
    assert_eq!(
        scheduled_two.duration_since(scheduled_one),
        SignedDuration::from_secs(1),
        "the first fire after the running one was kept: {group_two:?}"
    );
    let ended = group_one
        .iter()
        .map(|e| time(&e["finished_at"]))
        .max()
        .expect("three runs");
    for run in &group_two {
        let started = time(&run["started_at"]);
        assert!(started >= ended, "overlap: {run} before {ended}");
        assert!(
            started.duration_since(scheduled_two) > SignedDuration::from_secs(3),
            "it waited for the run: {run}"
        );
    }
}
