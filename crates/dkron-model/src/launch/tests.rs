use jiff::Timestamp;

use crate::{Execution, JobStatus, LaunchRecord, Trigger, group_progress};

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).unwrap()
}

fn record(trigger: Trigger, second: i64, attempt: u32) -> LaunchRecord {
    LaunchRecord {
        job_name: "job".into(),
        scheduled_at: at(second),
        group: second,
        attempt,
        targets: Vec::new(),
        trigger,
    }
}

fn run(node: &str, attempt: u32, finished: bool, success: bool) -> Execution {
    Execution {
        job_name: "job".into(),
        started_at: at(i64::from(attempt)),
        finished_at: finished.then(|| at(i64::from(attempt) + 1)),
        success,
        node_name: node.into(),
        group: 7,
        attempt,
        ..Execution::default()
    }
}

/// A scheduled fire is new only after the last scheduled one; a repeat of a recorded attempt
/// never is, whatever its trigger.
#[test]
fn launch_rule_scheduled_fires_only_move_forward() {
    let fire = record(Trigger::Scheduled, 10, 1);
    assert!(fire.is_new(None, false));
    assert!(fire.is_new(Some(at(9)), false));
    assert!(!fire.is_new(Some(at(10)), false), "the same instant again");
    assert!(
        !fire.is_new(Some(at(11)), false),
        "an instant before the last"
    );
    assert!(
        !fire.is_new(None, true),
        "the same group and attempt recorded"
    );

    let retry = record(Trigger::Retry, 10, 2);
    assert!(
        retry.is_new(Some(at(10)), false),
        "a retry keeps its fire's instant"
    );
    assert!(!retry.is_new(Some(at(10)), true), "the same retry twice");
    assert!(record(Trigger::Manual, 5, 1).is_new(Some(at(10)), false));
}

/// A retry or manual run never moves the last scheduled fire (the bug where a retry's record
/// replaced its fire's and the last fire went back in time).
#[test]
fn launch_rule_last_scheduled_moves_only_with_scheduled_fires() {
    assert_eq!(
        record(Trigger::Scheduled, 10, 1).last_scheduled_after(None),
        Some(at(10))
    );
    assert_eq!(
        record(Trigger::Scheduled, 5, 1).last_scheduled_after(Some(at(10))),
        Some(at(10))
    );
    assert_eq!(
        record(Trigger::Retry, 20, 2).last_scheduled_after(Some(at(10))),
        Some(at(10))
    );
    assert_eq!(
        record(Trigger::Manual, 20, 1).last_scheduled_after(None),
        None
    );
}

/// With named targets, an attempt completes when every target finished it.
#[test]
fn progress_waits_for_every_target() {
    let targets = vec!["a".to_owned(), "b".to_owned()];
    let one = [run("a", 1, true, false)];
    let progress = group_progress(&one, 1, &targets);
    assert!(!progress.attempt_complete);

    let both = [run("a", 1, true, false), run("b", 1, true, true)];
    let progress = group_progress(&both, 1, &targets);
    assert!(progress.attempt_complete);
    assert_eq!(progress.status, JobStatus::PartiallyFailed);
    assert_eq!(progress.failed_nodes, vec!["a".to_owned()]);

    let running = [run("a", 1, true, true), run("b", 1, false, false)];
    assert!(!group_progress(&running, 1, &targets).attempt_complete);
}

/// Without targets one finished execution completes the attempt; earlier attempts only count
/// for the status.
#[test]
fn progress_of_a_local_run_and_of_a_retry() {
    assert!(!group_progress(&[], 1, &[]).attempt_complete);
    let group = [run("local", 1, true, false), run("local", 2, true, true)];
    let second = group_progress(&group, 2, &[]);
    assert!(second.attempt_complete);
    assert_eq!(second.status, JobStatus::Success);
    assert!(second.failed_nodes.is_empty());
    let first = group_progress(&group[..1], 1, &[]);
    assert_eq!(first.status, JobStatus::Failed);
    assert_eq!(first.failed_nodes, vec!["local".to_owned()]);
}
