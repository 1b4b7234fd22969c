//! `dispatch-lead`: the leader records and hands over a fire of an `allow` job ahead of its
//! instant, and the node that runs it (an agent over RPC, the server itself) starts it on the
//! instant, never before.

use std::time::Duration;

use jiff::Timestamp;

use crate::{
    cluster::{temp_dir, wait_for_members},
    support::*,
};

/// The start each run's command saw (`date +%s%N`), as an instant.
fn command_start(run: &serde_json::Value) -> Timestamp {
    let output = run["output"].as_str().unwrap_or_default().trim();
    let nanos: i128 = output
        .parse()
        .unwrap_or_else(|_| panic!("not a date +%s%N output: {run}"));
    Timestamp::from_nanosecond(nanos).expect("in range")
}

/// A server with a 2 s lead and an agent; an untagged `@every 1s` job runs on both. Every run
/// starts at or after its scheduled instant, and the history records it starting there: its
/// start was stamped with the instant itself because the launch was committed ahead of it.
#[test]
fn fires_handed_over_ahead_start_on_their_instant() {
    let server = Dkrond::start_in(temp_dir(), &["--dispatch-lead", "2s"]);
    let agent = Dkrond::start_agent(temp_dir(), "a1", &[server.rpc()], &["agent=yes"]);
    wait_for_members(&server, &["a1", "test-node"]);
    let job = serde_json::json!({
        "name": "ahead", "schedule": "@every 1s", "executor": "shell",
        "executor_config": { "command": "date +%s%N" },
    });
    assert_eq!(server.post("/v1/jobs", &job.to_string()).status, 201);
    // Company due on the same instants: their hand-overs to the agent travel in batches.
    for i in 0..10 {
        let other = serde_json::json!({
            "name": format!("company-{i}"), "schedule": "@every 1s", "executor": "shell",
            "executor_config": { "command": "true" }, "tags": { "agent": "yes" },
        });
        assert_eq!(server.post("/v1/jobs", &other.to_string()).status, 201);
    }

    let runs = finished(&server, "ahead", 12, Duration::from_secs(60));
    let mut on_the_instant = 0;
    for node in ["test-node", "a1"] {
        let of_node: Vec<_> = runs.iter().filter(|r| r["node_name"] == node).collect();
        assert!(
            of_node.len() >= 3,
            "{node} ran {} of {runs:?}",
            of_node.len()
        );
        for run in of_node {
            assert_eq!(run["success"], true, "{run}");
            let scheduled = time(&run["scheduled_at"]);
            let started = time(&run["started_at"]);
            assert!(started >= scheduled, "recorded before its instant: {run}");
            assert!(
                command_start(run) >= scheduled,
                "the command ran before its instant: {run}"
            );
            // Stamped with the instant (a few ns apart when several start at once).
            if started.duration_since(scheduled) < jiff::SignedDuration::from_micros(1) {
                on_the_instant += 1;
            }
        }
    }
    // A 2 s lead covers a commit and a hand-over on any machine this runs on; a run that still
    // missed it (a stalled CI box) starts late, as above, and is not counted here.
    assert!(
        on_the_instant * 2 >= runs.len(),
        "only {on_the_instant} of {} runs were stamped on their instant: {runs:?}",
        runs.len()
    );
    for i in 0..10 {
        let runs = finished(&server, &format!("company-{i}"), 3, Duration::from_secs(60));
        assert!(
            runs.iter()
                .all(|r| r["success"] == true && r["node_name"] == "a1"),
            "{runs:?}"
        );
    }
    drop(agent);
}
