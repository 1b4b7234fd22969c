//! Past capacity, end to end: a server that could not launch fires in time (stopped with
//! SIGSTOP, standing in for an overloaded machine) skips them as each job's `misfire_policy`
//! says, counts them per job in the API and in `/metrics`, and resumes by itself.

use std::time::Duration;

use serde_json::Value;

use crate::{
    cluster::every_second_with,
    support::{Dkrond, wait_for},
};

fn field(node: &Dkrond, job: &str, name: &str) -> Value {
    node.get(&format!("/v1/jobs/{job}")).json()[name].clone()
}

#[test]
fn fires_later_than_the_misfire_bound_are_skipped_counted_and_the_node_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = Dkrond::start_in(dir, &["--misfire-threshold", "1s"]);
    for (name, policy) in [("late", "skip"), ("window", "catch_up:10m")] {
        let created = node.post("/v1/jobs", &every_second_with(name, policy));
        assert_eq!(created.status, 201, "{}", created.text());
    }
    let ran = |job: &str| field(&node, job, "success_count").as_u64().unwrap_or(0);
    wait_for("a first run", Duration::from_secs(30), || {
        (ran("late") >= 1).then_some(())
    });
    assert_eq!(field(&node, "late", "skipped_count"), 0);

    // Four seconds in which nothing can start: every fire due meanwhile is 1-4 s late.
    node.signal("STOP");
    std::thread::sleep(Duration::from_secs(4));
    node.signal("CONT");

    let skipped = wait_for("skips counted", Duration::from_secs(30), || {
        let job = node.get("/v1/jobs/late").json();
        (job["skipped_count"].as_u64()? >= 1).then_some(job)
    });
    assert!(skipped["last_skipped"].is_string(), "{skipped}");
    // `catch_up:10m` allows ten minutes: nothing of it was skipped.
    assert_eq!(field(&node, "window", "skipped_count"), 0);
    let metrics = node.get("/metrics").text();
    assert!(
        metrics.contains("dkron_scheduler_fires_skipped_total"),
        "{metrics}"
    );

    // It resumes by itself: later fires run again.
    let before = ran("late");
    wait_for("runs after the overload", Duration::from_secs(30), || {
        (ran("late") >= before + 2).then_some(())
    });
    // A client's upsert (counters cleared by the API) keeps the count.
    let count = field(&node, "late", "skipped_count").as_u64().unwrap_or(0);
    let updated = node.post("/v1/jobs", &every_second_with("late", "skip"));
    assert!(updated.status < 300, "{}", updated.text());
    assert!(field(&node, "late", "skipped_count").as_u64().unwrap_or(0) >= count);
}
