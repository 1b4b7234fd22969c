//! Launch records: the last fire per job, exact lookups, bounded retention.

use dkron_model::{LaunchRecord, Trigger};
use dkron_store::{Apply, Error, LAUNCHES_KEPT};

use crate::support::*;

fn launch(job: &str, at: i64) -> LaunchRecord {
    LaunchRecord {
        job_name: job.to_owned(),
        scheduled_at: ts(at),
        group: at * 1_000_000_000,
        attempt: 1,
        targets: vec!["n1".into(), "n2".into()],
        trigger: Trigger::Scheduled,
    }
}

fn retry_of(fire: &LaunchRecord, attempt: u32) -> LaunchRecord {
    LaunchRecord {
        attempt,
        trigger: Trigger::Retry,
        ..fire.clone()
    }
}

/// The newest record is the last launch; exact lookups find recorded attempts only; `next` is
/// persisted in the same batch when given.
#[test]
fn last_and_exact_launches() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    put(&store, job("b"));
    assert_eq!(store.last_launch("a").unwrap(), None);
    assert_eq!(store.last_scheduled("a").unwrap(), None);
    store
        .record_launch(&launch("a", 60), Some(Some(ts(120))), &Apply::durable())
        .unwrap();
    store
        .record_launch(&launch("a", 120), Some(Some(ts(180))), &Apply::local())
        .unwrap();
    store
        .record_launch(&launch("b", 30), None, &Apply::local())
        .unwrap();
    assert_eq!(store.last_launch("a").unwrap(), Some(launch("a", 120)));
    assert_eq!(store.last_scheduled("a").unwrap(), Some(ts(120)));
    let group_60 = launch("a", 60).group;
    assert_eq!(
        store.launch("a", group_60, 1).unwrap(),
        Some(launch("a", 60))
    );
    assert_eq!(store.launch("a", group_60, 2).unwrap(), None);
    assert_eq!(store.launch("a", 90_000_000_000, 1).unwrap(), None);
    assert_eq!(store.job("a").unwrap().unwrap().next, Some(ts(180)));
    assert_eq!(store.job("b").unwrap().unwrap().next, None);
    assert_eq!(store.last_launch("b").unwrap(), Some(launch("b", 30)));
    assert!(matches!(
        store.record_launch(&launch("zz", 1), None, &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
}

/// The launch rule holds in the store: a scheduled instant at or before the last one and a
/// repeated `(group, attempt)` are refused and change nothing; a retry gets a record of its own
/// and never moves the last scheduled fire back (the bug where a retry replaced its fire's
/// record, and a restart fired that instant again).
#[test]
fn repeats_are_refused_and_retries_never_replace_their_fire() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let first = launch("a", 60);
    let second = launch("a", 120);
    store.record_launch(&first, None, &Apply::local()).unwrap();
    store.record_launch(&second, None, &Apply::local()).unwrap();
    let retry = retry_of(&second, 2);
    store.record_launch(&retry, None, &Apply::local()).unwrap();
    for repeat in [first.clone(), second.clone(), retry.clone()] {
        assert!(
            matches!(
                store.record_launch(&repeat, None, &Apply::local()),
                Err(Error::AlreadyLaunched { .. })
            ),
            "{repeat:?} was accepted twice"
        );
    }
    assert_eq!(store.last_scheduled("a").unwrap(), Some(ts(120)));
    assert_eq!(
        store.launch("a", second.group, 1).unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.launch("a", second.group, 2).unwrap(), Some(retry));
    assert_eq!(store.launches("a").unwrap().len(), 3);
}

/// Only the newest LAUNCHES_KEPT records per job are kept; the last scheduled fire survives
/// trimming.
#[test]
fn retention_is_bounded() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let total = LAUNCHES_KEPT as i64 + 10;
    for at in 0..total {
        store
            .record_launch(&launch("a", at * 60), None, &Apply::local())
            .unwrap();
    }
    // A retry of an old group is recorded and kept (the oldest by group): the oldest other
    // record makes room.
    let late_retry = retry_of(&launch("a", 0), 2);
    store
        .record_launch(&late_retry, None, &Apply::local())
        .unwrap();
    let kept = store.launches("a").unwrap();
    assert_eq!(kept.len(), LAUNCHES_KEPT);
    assert_eq!(kept[0], launch("a", (total - 1) * 60));
    assert_eq!(kept.last(), Some(&late_retry));
    let oldest_kept = total - LAUNCHES_KEPT as i64 + 1;
    assert_eq!(kept[kept.len() - 2], launch("a", oldest_kept * 60));
    let trimmed = launch("a", (oldest_kept - 1) * 60);
    assert_eq!(store.launch("a", trimmed.group, 1).unwrap(), None);
    assert_eq!(
        store.last_scheduled("a").unwrap(),
        Some(ts((total - 1) * 60))
    );
}

/// A retry whose launch record was trimmed is still refused once its group's history holds an
/// execution of that attempt or a later one (the soak's finding 7: a late retry launched twice
/// under the same attempt after its record was trimmed); the next attempt is still new.
#[test]
fn a_trimmed_retry_is_refused_by_its_history() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let fire = launch("a", 0);
    store.record_launch(&fire, None, &Apply::local()).unwrap();
    let retry = retry_of(&fire, 2);
    store.record_launch(&retry, None, &Apply::local()).unwrap();
    let run = retry.execution("n1", ts(5));
    store
        .record_execution_start(run.clone(), &Apply::local())
        .unwrap();
    done(&store, finished(run, 1, false));
    for at in 1..=LAUNCHES_KEPT as i64 {
        store
            .record_launch(&launch("a", at * 60), None, &Apply::local())
            .unwrap();
    }
    assert_eq!(store.launch("a", fire.group, 2).unwrap(), None, "trimmed");
    let stale = retry_of(&fire, 1);
    for repeat in [retry.clone(), stale] {
        assert!(
            matches!(
                store.record_launch(&repeat, None, &Apply::local()),
                Err(Error::AlreadyLaunched { .. })
            ),
            "{repeat:?} was accepted again"
        );
    }
    let next = retry_of(&fire, 3);
    store.record_launch(&next, None, &Apply::local()).unwrap();
    assert_eq!(store.launch("a", fire.group, 3).unwrap(), Some(next));
}

/// A launch carrying its start records the launch's execution on each target, running from
/// that instant, with the launch; a launch that is not new records none (no run that never
/// happens), and a bad target name refuses the whole launch. Without a start the launch is
/// recorded alone, as before.
#[test]
fn a_launch_records_its_starts_only_when_new() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let fire = launch("a", 60);
    let at = ts(61);
    store
        .record_launch_started(&fire, Some(Some(ts(120))), Some(at), &Apply::local())
        .unwrap();
    let mut running = store.running_executions().unwrap();
    running.sort_by(|a, b| a.node_name.cmp(&b.node_name));
    assert_eq!(
        running,
        [fire.execution("n1", at), fire.execution("n2", at)]
    );
    assert_eq!(store.executions("a", None).unwrap().len(), 2);
    assert_eq!(store.job("a").unwrap().unwrap().next, Some(ts(120)));

    // The same fire again (a second leader, a repeated entry), with another start: refused,
    // nothing recorded.
    assert!(matches!(
        store.record_launch_started(&fire, None, Some(ts(62)), &Apply::local()),
        Err(Error::AlreadyLaunched { .. })
    ));
    let retry = retry_of(&fire, 2);
    let bad = LaunchRecord {
        targets: vec!["n1".into(), String::new()],
        ..retry.clone()
    };
    assert!(matches!(
        store.record_launch_started(&bad, None, Some(ts(63)), &Apply::local()),
        Err(Error::InvalidName { .. })
    ));
    assert_eq!(store.launch("a", fire.group, 2).unwrap(), None);
    assert_eq!(store.executions("a", None).unwrap().len(), 2);

    // No start: the launch alone.
    store
        .record_launch_started(&retry, None, None, &Apply::local())
        .unwrap();
    assert_eq!(store.launch("a", fire.group, 2).unwrap(), Some(retry));
    assert_eq!(store.executions("a", None).unwrap().len(), 2);
}
