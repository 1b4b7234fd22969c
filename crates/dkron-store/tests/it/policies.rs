//! `pause_on_failure`: the state machine counts failed groups and disables the job.

use dkron_model::JobStatus;
use dkron_store::Apply;

use crate::support::*;

/// Group `group`'s attempt `attempt` on n1, finished with `success`.
fn attempt(job: &str, group: i64, attempt: u32, success: bool) -> dkron_model::Execution {
    let mut run = started(job, "n1", 1_000 + group * 10 + i64::from(attempt), group);
    run.attempt = attempt;
    finished(run, 1, success)
}

#[test]
fn consecutive_failed_groups_pause_the_job_with_a_reason() {
    let (dir, store) = temp_store();
    let mut flaky = job("flaky");
    flaky.pause_on_failure = 2;
    flaky.retries = 1;
    put(&store, flaky);
    // Group 1: the first attempt fails but a retry is left, so the group has not ended.
    let first = done(&store, attempt("flaky", 1, 1, false));
    assert!(!first.paused);
    assert_eq!(first.job.consecutive_failures, 0);
    // Its retry fails too: one failed group.
    let retry = attempt("flaky", 1, 2, false);
    let ended = done(&store, retry.clone());
    assert!(!ended.paused);
    assert_eq!(ended.job.consecutive_failures, 1);
    // A re-delivered report of that retry counts nothing.
    let again = done(&store, retry);
    assert!(!again.counted && !again.paused);
    assert_eq!(again.job.consecutive_failures, 1);
    // Group 2 succeeds at once: the count starts over.
    assert_eq!(
        done(&store, attempt("flaky", 2, 1, true))
            .job
            .consecutive_failures,
        0
    );
    // Groups 3 and 4 fail for good: the second pauses the job.
    done(&store, attempt("flaky", 3, 1, false));
    assert!(!done(&store, attempt("flaky", 3, 2, false)).paused);
    done(&store, attempt("flaky", 4, 1, false));
    let paused = done(&store, attempt("flaky", 4, 2, false));
    assert!(paused.paused);
    assert!(paused.job.disabled);
    assert_eq!(paused.job.status, JobStatus::Failed);
    assert_eq!(
        paused.job.paused_reason,
        "paused after 2 consecutive failed runs (pause_on_failure: 2)"
    );
    // Stored, and still there after a reopen.
    drop(store);
    let store = open(dir.path());
    let stored = store.job("flaky").unwrap().unwrap();
    assert!(stored.disabled);
    assert_eq!(stored.paused_reason, paused.job.paused_reason);
}

#[test]
fn enabling_a_paused_job_clears_the_reason_and_the_count() {
    let (_dir, store) = temp_store();
    let mut flaky = job("flaky");
    flaky.pause_on_failure = 1;
    put(&store, flaky.clone());
    assert!(done(&store, attempt("flaky", 1, 1, false)).paused);
    // A client re-sends the job as it read it (disabled): the reason stays, whatever it sent.
    let mut resent = flaky.clone();
    resent.disabled = true;
    resent.paused_reason = "client text".into();
    let kept = put(&store, resent);
    assert!(kept.paused_reason.starts_with("paused after 1"));
    assert_eq!(kept.consecutive_failures, 1);
    // Toggled on: cleared.
    let enabled = store.toggle_job("flaky", &Apply::local()).unwrap();
    assert!(!enabled.disabled);
    assert!(enabled.paused_reason.is_empty());
    assert_eq!(enabled.consecutive_failures, 0);
    // Paused again, then enabled by a write.
    assert!(done(&store, attempt("flaky", 2, 1, false)).paused);
    let written = put(&store, flaky);
    assert!(!written.disabled);
    assert!(written.paused_reason.is_empty());
}

#[test]
fn without_pause_on_failure_a_failing_job_keeps_running() {
    let (_dir, store) = temp_store();
    put(&store, job("plain"));
    for group in 1..=5 {
        assert!(!done(&store, attempt("plain", group, 1, false)).paused);
    }
    let stored = store.job("plain").unwrap().unwrap();
    assert!(!stored.disabled);
    assert_eq!(stored.consecutive_failures, 5);
    // Editing the job does not end the streak.
    let mut edited = job("plain");
    edited.owner = "ops".into();
    assert_eq!(put(&store, edited).consecutive_failures, 5);
}
