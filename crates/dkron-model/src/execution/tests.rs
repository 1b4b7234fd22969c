//! Tests for execution ids and group status.

use jiff::Timestamp;

use super::*;

fn exec(node: &str, attempt: u32, started_secs: i64, finished: bool, success: bool) -> Execution {
    let started_at = Timestamp::from_second(started_secs).expect("valid second");
    Execution {
        job_name: "j".to_owned(),
        node_name: node.to_owned(),
        attempt,
        started_at,
        finished_at: finished.then_some(started_at),
        success,
        group: 7,
        ..Execution::default()
    }
}

/// The id is dkron's `<unix nanos>-<node>` and parses back.
#[test]
fn ids() {
    let started: Timestamp = "2022-04-25T19:27:01.024805435Z".parse().expect("ts");
    let e = Execution {
        started_at: started,
        node_name: "node1".to_owned(),
        ..Execution::default()
    };
    assert_eq!(e.id(), "1650914821024805435-node1");
    assert_eq!(
        parse_execution_id(&e.id()),
        Some((1_650_914_821_024_805_435, "node1"))
    );
    assert_eq!(
        parse_execution_id("5-node-with-dashes"),
        Some((5, "node-with-dashes"))
    );
    assert_eq!(parse_execution_id("-5-n"), Some((-5, "n")));
    for bad in ["", "5", "5-", "x-node", "-node", "-", "5x-node"] {
        assert_eq!(parse_execution_id(bad), None, "{bad:?}");
    }
    assert!(e.is_running());
}

/// Group status table, including dkron's retry quirk fixed and running executions.
#[test]
fn group_status_table() {
    let check = |executions: &[Execution], want: JobStatus| {
        assert_eq!(group_status(executions), want, "{executions:#?}");
    };
    check(&[], JobStatus::Untriggered);
    check(&[exec("a", 1, 0, true, true)], JobStatus::Success);
    check(&[exec("a", 1, 0, true, false)], JobStatus::Failed);
    // Failed, then the retry succeeded: success (dkron says partially_failed).
    check(
        &[exec("a", 1, 0, true, false), exec("a", 2, 5, true, true)],
        JobStatus::Success,
    );
    // Order of the input does not matter.
    check(
        &[exec("a", 2, 5, true, true), exec("a", 1, 0, true, false)],
        JobStatus::Success,
    );
    // Succeeded first, and a later attempt failed (only the last counts).
    check(
        &[exec("a", 1, 0, true, true), exec("a", 2, 5, true, false)],
        JobStatus::Failed,
    );
    // Multi-node mixed.
    check(
        &[exec("a", 1, 0, true, true), exec("b", 1, 0, true, false)],
        JobStatus::PartiallyFailed,
    );
    check(
        &[exec("a", 1, 0, true, true), exec("b", 1, 0, true, true)],
        JobStatus::Success,
    );
    check(
        &[exec("a", 1, 0, true, false), exec("b", 1, 0, true, false)],
        JobStatus::Failed,
    );
    // One node retried to success, the other failed for good.
    check(
        &[
            exec("a", 1, 0, true, false),
            exec("a", 2, 3, true, true),
            exec("b", 1, 0, true, false),
        ],
        JobStatus::PartiallyFailed,
    );
    // Running executions are not successful yet, even if `success` were set early.
    check(&[exec("a", 1, 0, false, false)], JobStatus::Failed);
    check(&[exec("a", 1, 0, false, true)], JobStatus::Failed);
    check(
        &[exec("a", 1, 0, true, true), exec("b", 1, 0, false, false)],
        JobStatus::PartiallyFailed,
    );
    // A retry still running hides the earlier failure but is not a success yet.
    check(
        &[exec("a", 1, 0, true, false), exec("a", 2, 5, false, false)],
        JobStatus::Failed,
    );
    // Same attempt twice on one node (a re-delivered start): the later start counts.
    check(
        &[exec("a", 1, 0, true, false), exec("a", 1, 9, true, true)],
        JobStatus::Success,
    );
}

/// Trigger text round-trips.
#[test]
fn trigger_text() {
    for t in [
        Trigger::Scheduled,
        Trigger::Manual,
        Trigger::Dependent,
        Trigger::Retry,
    ] {
        assert_eq!(t.as_str().parse::<Trigger>(), Ok(t));
    }
    assert_eq!(
        "cron".parse::<Trigger>(),
        Err(Error::UnknownValue {
            kind: "trigger",
            value: "cron".to_owned()
        })
    );
}

/// Output keeps its tail, on a character boundary, and says it was cut.
#[test]
fn output_tail() {
    let check = |output: &str, limit: u64, want: &str, truncated: bool| {
        let mut e = Execution {
            output: output.to_owned(),
            ..Execution::default()
        };
        e.truncate_output(limit);
        assert_eq!(
            (e.output.as_str(), e.output_truncated),
            (want, truncated),
            "{output:?} {limit}"
        );
    };
    check("hello", 10, "hello", false);
    check("hello", 5, "hello", false);
    check("hello", 3, "llo", true);
    check("hello", 0, "", true);
    // "é" is two bytes: a cut inside it moves forward.
    check("aé", 1, "", true);
    check("aé", 2, "é", true);
    check("", 0, "", false);
}
