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

/// The newest record is the last fire; exact lookups find recorded instants only; `next` is
/// persisted in the same batch when given.
#[test]
fn last_and_exact_launches() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    put(&store, job("b"));
    assert_eq!(store.last_launch("a").unwrap(), None);
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
    assert_eq!(store.launch("a", ts(60)).unwrap(), Some(launch("a", 60)));
    assert_eq!(store.launch("a", ts(90)).unwrap(), None);
    assert_eq!(store.job("a").unwrap().unwrap().next, Some(ts(180)));
    assert_eq!(store.job("b").unwrap().unwrap().next, None);
    assert_eq!(store.last_launch("b").unwrap(), Some(launch("b", 30)));
    assert!(matches!(
        store.record_launch(&launch("zz", 1), None, &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
}

/// Only the newest LAUNCHES_KEPT records per job are kept, whatever order they arrive in.
#[test]
fn retention_is_bounded() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let total = LAUNCHES_KEPT as i64 + 10;
    for at in (0..total).rev().chain(total..total + 3) {
        store
            .record_launch(&launch("a", at * 60), None, &Apply::local())
            .unwrap();
    }
    let kept = store.launches("a").unwrap();
    assert_eq!(kept.len(), LAUNCHES_KEPT);
    assert_eq!(kept[0], launch("a", (total + 2) * 60));
    let oldest_kept = total + 3 - LAUNCHES_KEPT as i64;
    assert_eq!(kept.last(), Some(&launch("a", oldest_kept * 60)));
    assert_eq!(store.launch("a", ts((oldest_kept - 1) * 60)).unwrap(), None);
}
