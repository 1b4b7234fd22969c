use std::collections::BTreeSet;

use dkron_model::Execution;
use jiff::Timestamp;

use super::never_reached;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).expect("in range")
}

fn running(job: &str, started_ms: i64) -> Execution {
    Execution {
        job_name: job.to_owned(),
        node_name: "a1".to_owned(),
        started_at: at(started_ms),
        ..Execution::default()
    }
}

fn ids(executions: &[&Execution]) -> Vec<String> {
    executions.iter().map(|e| e.job_name.clone()).collect()
}

#[test]
fn only_runs_past_the_hand_over_bound_that_the_node_does_not_hold_are_closed() {
    let asked_at = at(100_000);
    // The bound is 2.5 s of hand-over plus 1 s of clock slack: 3.5 s.
    let old = running("old", 100_000 - 3_501);
    let young = running("young", 100_000 - 3_400);
    let held_there = running("held", 90_000);
    let handing = running("handing", 90_000);
    let all = [
        old.clone(),
        young.clone(),
        held_there.clone(),
        handing.clone(),
    ];
    let held: BTreeSet<String> = [held_there.id()].into();
    let handed: BTreeSet<String> = [handing.id()].into();
    assert_eq!(ids(&never_reached(&all, &held, &handed, asked_at)), ["old"]);
    // Nothing held and nothing being handed over: every run past the bound is closed, the
    // young one still may be accepted.
    let none = BTreeSet::new();
    assert_eq!(
        ids(&never_reached(&all, &none, &none, asked_at)),
        ["old", "held", "handing"]
    );
    // Exactly at the bound it may still be accepted (a node refuses only after `start_by`).
    let edge = [running("edge", 100_000 - 3_500)];
    assert!(never_reached(&edge, &none, &none, asked_at).is_empty());
}
