//! Execution history: start, done (idempotent), group status, trimming, output limits, stats.

use dkron_model::{Execution, JobStatus};
use dkron_store::{Apply, DayStats, Error, truncate_output_tail};
use jiff::civil::date;

use crate::support::*;

/// A started execution is running and readable by id; its done report clears the running mark,
/// stores the output and counts it.
#[test]
fn start_then_done() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let run = started("a", "n1", 1_650_914_821, 1);
    let outcome = store
        .record_execution_start(run.clone(), &Apply::local())
        .unwrap();
    assert!(outcome.stored);
    assert_eq!(store.running_executions().unwrap(), vec![run.clone()]);
    assert_eq!(store.running_executions_of("a").unwrap(), vec![run.clone()]);
    assert_eq!(run.id(), "1650914821000000000-n1");
    assert_eq!(store.execution("a", &run.id()).unwrap(), Some(run.clone()));

    let finished_run = finished(run.clone(), 3, true);
    let done = store
        .record_execution_done(finished_run.clone(), &Apply::durable())
        .unwrap();
    assert!(done.counted);
    assert_eq!(done.group_status, JobStatus::Success);
    assert_eq!(done.job.success_count, 1);
    assert_eq!(done.job.last_success, finished_run.finished_at);
    assert_eq!(done.job.status, JobStatus::Success);
    assert!(store.running_executions().unwrap().is_empty());
    assert_eq!(
        store.execution("a", &run.id()).unwrap().unwrap().output,
        "ok"
    );
    assert_eq!(store.job("a").unwrap().unwrap(), done.job);
}

/// A duplicate done report is not counted again (counters, last_*, stats unchanged); a late start
/// report for a finished execution is ignored.
#[test]
fn duplicate_done_is_not_double_counted() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let run = finished(started("a", "n1", 86_400 * 3 + 10, 1), 5, false);
    assert!(done(&store, run.clone()).counted);
    let again = done(&store, run.clone());
    assert!(!again.counted);
    assert_eq!(again.job.error_count, 1);
    assert_eq!(again.job.status, JobStatus::Failed);
    let stats = store.stats(1, date(1970, 1, 4)).unwrap();
    assert_eq!(
        stats,
        vec![DayStats {
            date: date(1970, 1, 4),
            success_count: 0,
            failed_count: 1
        }]
    );

    let late_start = started("a", "n1", 86_400 * 3 + 10, 1);
    assert!(
        !store
            .record_execution_start(late_start, &Apply::local())
            .unwrap()
            .stored
    );
    assert!(store.running_executions().unwrap().is_empty());
    assert!(
        store
            .execution("a", &run.id())
            .unwrap()
            .unwrap()
            .finished_at
            .is_some()
    );
}

/// A second done report replaces the stored copy only when it ends later and is the run's own
/// end (a success, or a failure with an exit code), or when the stored copy is a "never ran"
/// close (`finished_at` = the start). A later close without an exit code (a restarted node's
/// "interrupted" after the leader's "lost") keeps the earlier end.
#[test]
fn a_late_close_does_not_stretch_an_ended_run() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let stored_end = |run: &Execution| {
        let stored = store.execution("a", &run.id()).unwrap().unwrap();
        (stored.finished_at, stored.success, stored.output)
    };

    // The leader's "lost" close, then the restarted node's "interrupted" close, later.
    let run = started("a", "n1", 100, 1);
    let lost = finished(run.clone(), 5, false);
    done(&store, lost.clone());
    let interrupted = finished(run.clone(), 9, false);
    assert!(!done(&store, interrupted).counted);
    assert_eq!(
        stored_end(&run),
        (lost.finished_at, false, "boom".to_owned())
    );
    // An earlier close does not replace either.
    done(&store, finished(run.clone(), 2, false));
    assert_eq!(stored_end(&run).0, lost.finished_at);
    // The process's own end, later, does: a failure with an exit code, then a success.
    let mut exited = finished(run.clone(), 7, false);
    exited.exit_code = Some(3);
    done(&store, exited.clone());
    assert_eq!(stored_end(&run).0, exited.finished_at);
    let success = finished(run.clone(), 8, true);
    done(&store, success.clone());
    assert_eq!(
        stored_end(&run),
        (success.finished_at, true, "ok".to_owned())
    );
    // A success is never replaced by a later close.
    done(&store, finished(run.clone(), 20, false));
    assert_eq!(
        stored_end(&run),
        (success.finished_at, true, "ok".to_owned())
    );

    // The reconciler's "never ran" close is replaced by any later report of the run.
    let run = started("a", "n2", 200, 2);
    done(&store, finished(run.clone(), 0, false));
    let cancelled = finished(run.clone(), 4, false);
    done(&store, cancelled.clone());
    assert_eq!(stored_end(&run).0, cancelled.finished_at);

    let job = store.job("a").unwrap().unwrap();
    assert_eq!((job.success_count, job.error_count), (0, 2));
}

/// Done reports for unknown jobs or without a finish time are refused.
#[test]
fn done_refusals() {
    let (_dir, store) = temp_store();
    let error = store
        .record_execution_done(
            finished(started("gone", "n1", 1, 1), 1, true),
            &Apply::local(),
        )
        .unwrap_err();
    assert!(matches!(error, Error::JobNotFound { .. }));
    put(&store, job("a"));
    let error = store
        .record_execution_done(started("a", "n1", 1, 1), &Apply::local())
        .unwrap_err();
    assert!(matches!(error, Error::NotFinished { .. }));
    assert!(matches!(
        store.record_execution_start(started("gone", "n1", 1, 1), &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
}

/// Group status: mixed → partially failed; all ok → success; all failed → failed; a node still
/// running counts as not successful; a successful retry replaces that node's failed attempt.
#[test]
fn group_status_rules() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    // Two targets; n1 finishes first while n2 runs.
    store
        .record_execution_start(started("a", "n2", 100, 100), &Apply::local())
        .unwrap();
    let first = done(&store, finished(started("a", "n1", 100, 100), 1, true));
    assert_eq!(first.group_status, JobStatus::PartiallyFailed);
    let second = done(&store, finished(started("a", "n2", 100, 100), 2, true));
    assert_eq!(second.group_status, JobStatus::Success);

    // All failed.
    done(&store, finished(started("a", "n1", 200, 200), 1, false));
    let failed = done(&store, finished(started("a", "n2", 200, 200), 1, false));
    assert_eq!(failed.group_status, JobStatus::Failed);

    // Mixed.
    done(&store, finished(started("a", "n1", 300, 300), 1, true));
    let mixed = done(&store, finished(started("a", "n2", 300, 300), 1, false));
    assert_eq!(mixed.group_status, JobStatus::PartiallyFailed);
    assert_eq!(
        store.job("a").unwrap().unwrap().status,
        JobStatus::PartiallyFailed
    );

    // Retry on n2 succeeds: the group is now a success.
    let mut retry = started("a", "n2", 310, 300);
    retry.attempt = 2;
    let retried = done(&store, finished(retry, 1, true));
    assert_eq!(retried.group_status, JobStatus::Success);
    assert_eq!(retried.job.success_count, 4);
    assert_eq!(retried.job.error_count, 3);
}

/// History is trimmed to the job's limit in the same batch, oldest first; listing is newest
/// first; a late report older than everything kept is dropped at once.
#[test]
fn history_trimmed_to_limit() {
    let (_dir, store) = temp_store();
    let mut a = job("a");
    a.history_limit = Some(3);
    put(&store, a);
    for second in 1..=5 {
        done(
            &store,
            finished(started("a", "n1", second * 10, second * 10), 1, true),
        );
    }
    let listed: Vec<i64> = store
        .executions("a", None)
        .unwrap()
        .iter()
        .map(|e| e.execution.started_at.as_second())
        .collect();
    assert_eq!(listed, vec![50, 40, 30]);
    // A report older than all kept ones is counted but not kept.
    let late = done(&store, finished(started("a", "n9", 5, 5), 1, true));
    assert!(late.counted);
    assert_eq!(late.trimmed, 1);
    assert_eq!(late.job.success_count, 6);
    assert_eq!(store.executions("a", None).unwrap().len(), 3);
    // Running executions trimmed away lose their running mark.
    for second in 6..=9 {
        store
            .record_execution_start(
                started("a", "n1", second * 10, second * 10),
                &Apply::local(),
            )
            .unwrap();
    }
    assert_eq!(store.executions("a", None).unwrap().len(), 3);
    assert_eq!(store.running_executions_of("a").unwrap().len(), 3);
}

/// The default history limit is dkron's 100.
#[test]
fn default_history_limit_is_100() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    for second in 0..105 {
        store
            .record_execution_start(started("a", "n1", second, second), &Apply::local())
            .unwrap();
    }
    let listed = store.executions("a", None).unwrap();
    assert_eq!(listed.len(), 100);
    assert_eq!(listed[0].execution.started_at.as_second(), 104);
    assert_eq!(listed[99].execution.started_at.as_second(), 5);
}

/// Output is stored cut to the job's limit (tail kept); listings can cut further and say so;
/// the single-execution read returns the stored output in full.
#[test]
fn output_limits() {
    let (_dir, store) = temp_store();
    let mut a = job("a");
    a.output_limit = Some(10);
    put(&store, a);
    let mut run = finished(started("a", "n1", 1, 1), 1, true);
    run.output = "0123456789abcdef".into();
    done(&store, run.clone());
    let stored = store.execution("a", &run.id()).unwrap().unwrap();
    assert_eq!(stored.output, "6789abcdef");
    assert!(stored.output_truncated);
    let listed = store.executions("a", Some(4)).unwrap();
    assert_eq!(listed[0].execution.output, "cdef");
    assert!(listed[0].output_truncated);
    assert!(!store.executions("a", Some(100)).unwrap()[0].output_truncated);

    // Tail truncation respects UTF-8 boundaries.
    let mut text = "ééé".to_owned();
    assert!(truncate_output_tail(&mut text, 3));
    assert_eq!(text, "é");
}

/// Deleting executions wipes history and resets counters, keeping the job.
#[test]
fn delete_executions_resets_counters() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    done(&store, finished(started("a", "n1", 1, 1), 1, true));
    done(&store, finished(started("a", "n1", 2, 2), 1, false));
    store
        .record_execution_start(started("a", "n1", 3, 3), &Apply::local())
        .unwrap();
    let job = store.delete_executions("a", &Apply::local()).unwrap();
    assert_eq!(
        (
            job.success_count,
            job.error_count,
            job.last_success,
            job.last_error
        ),
        (0, 0, None, None)
    );
    assert!(store.executions("a", None).unwrap().is_empty());
    assert!(store.running_executions().unwrap().is_empty());
    assert!(matches!(
        store.delete_executions("zz", &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
    // Counting starts again from zero.
    assert_eq!(
        done(&store, finished(started("a", "n1", 4, 4), 1, true))
            .job
            .success_count,
        1
    );
}

/// Daily stats count once per execution by its UTC finish day, zero-filled and oldest first.
#[test]
fn daily_stats() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let day = 86_400;
    // 1970-01-02: 2 ok, 1 failed; 1970-01-04: 1 ok (finishing just after midnight).
    done(&store, finished(started("a", "n1", day + 5, 1), 1, true));
    done(&store, finished(started("a", "n2", day + 5, 1), 1, true));
    done(&store, finished(started("a", "n1", day + 50, 2), 1, false));
    done(
        &store,
        finished(started("a", "n1", 3 * day - 1, 3), 2, true),
    );
    let stats = store.stats(5, date(1970, 1, 5)).unwrap();
    let counts: Vec<(i8, u64, u64)> = stats
        .iter()
        .map(|d| (d.date.day(), d.success_count, d.failed_count))
        .collect();
    assert_eq!(
        counts,
        vec![(1, 0, 0), (2, 2, 1), (3, 0, 0), (4, 1, 0), (5, 0, 0)]
    );
    assert!(store.stats(0, date(1970, 1, 5)).unwrap().is_empty());
}

/// Unknown or malformed execution ids are simply not found.
#[test]
fn execution_lookup_misses() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    assert_eq!(store.execution("a", "not-an-id").unwrap(), None);
    assert_eq!(store.execution("a", "123-n1").unwrap(), None);
    assert_eq!(store.execution("zz", "123-n1").unwrap(), None);
    assert!(matches!(
        store.executions("zz", None),
        Err(Error::JobNotFound { .. })
    ));
    assert_eq!(store.execution("a", "").unwrap(), None::<Execution>);
}

/// Lowering a job's history limit trims its oldest executions in the same write.
#[test]
fn lowered_history_limit_trims_at_once() {
    let (_dir, store) = temp_store();
    let mut a = job("a");
    put(&store, a.clone());
    for second in 1..=6 {
        done(
            &store,
            finished(started("a", "n1", second, second), 1, true),
        );
    }
    a.history_limit = Some(2);
    let stored = put(&store, a.clone());
    assert_eq!(stored.success_count, 6);
    let listed: Vec<i64> = store
        .executions("a", None)
        .unwrap()
        .iter()
        .map(|e| e.execution.started_at.as_second())
        .collect();
    assert_eq!(listed, vec![6, 5]);
    // The count stays exact: two more fill up to the limit without extra trimming.
    a.history_limit = Some(4);
    put(&store, a);
    done(&store, finished(started("a", "n1", 7, 7), 1, true));
    assert_eq!(
        done(&store, finished(started("a", "n1", 8, 8), 1, true)).trimmed,
        0
    );
    assert_eq!(
        done(&store, finished(started("a", "n1", 9, 9), 1, true)).trimmed,
        1
    );
    assert_eq!(store.executions("a", None).unwrap().len(), 4);
}

/// Counters a client set to their maximum (they are API fields) saturate instead of
/// overflowing: the report is recorded and nothing panics (issue 13's crash loop).
#[test]
fn counters_at_their_maximum_saturate() {
    let (_dir, store) = temp_store();
    let mut maxed = job("a");
    maxed.success_count = u64::MAX;
    maxed.error_count = u64::MAX;
    put(&store, maxed);
    let ok = finished(started("a", "n1", 1_650_914_821, 1), 3, true);
    let done = store.record_execution_done(ok, &Apply::local()).unwrap();
    assert!(done.counted);
    assert_eq!(done.job.success_count, u64::MAX);
    let failed = finished(started("a", "n1", 1_650_914_900, 2), 3, false);
    let done = store
        .record_execution_done(failed, &Apply::local())
        .unwrap();
    assert_eq!(done.job.error_count, u64::MAX);
}
