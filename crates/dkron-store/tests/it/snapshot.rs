//! Snapshot export and import: round trip, replacement, consistency under writes, and
//! truncated or corrupt streams refused without touching the state.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

use dkron_model::{JobSort, LaunchRecord};
use dkron_store::{Apply, Error, JobQuery, RaftApplied, SortOrder, Store};
use jiff::civil::date;

use crate::support::*;

fn populated() -> (tempfile::TempDir, Store) {
    let (dir, store) = temp_store();
    put(&store, job("p"));
    put(&store, child("c", "p"));
    for i in 0..5 {
        done(
            &store,
            finished(started("p", "n1", 100 + i, 100 + i), 1, i % 2 == 0),
        );
    }
    store
        .record_execution_start(started("c", "n2", 500, 500), &Apply::local())
        .unwrap();
    let launch = LaunchRecord {
        job_name: "p".into(),
        scheduled_at: ts(100),
        group: 100,
        attempt: 1,
        ..Default::default()
    };
    store.record_launch(&launch, None, &Apply::local()).unwrap();
    let member = dkron_model::Member {
        name: "n1".into(),
        server: true,
        ..Default::default()
    };
    store.set_member(&member, &Apply::local()).unwrap();
    store
        .record_applied(&Apply::raft(
            RaftApplied {
                index: 42,
                bytes: b"log-id".to_vec(),
            },
            true,
        ))
        .unwrap();
    (dir, store)
}

fn state_of(store: &Store) -> String {
    let jobs = store.list_jobs(&JobQuery::default()).unwrap().jobs;
    let executions: Vec<_> = store
        .job_names()
        .iter()
        .map(|name| store.executions(name, None).unwrap())
        .collect();
    let running = store.running_executions().unwrap();
    let stats = store.stats(3, date(1970, 1, 2)).unwrap();
    let launches: Vec<_> = store
        .job_names()
        .iter()
        .map(|name| store.launches(name).unwrap())
        .collect();
    let members = store.members().unwrap();
    format!(
        "{jobs:?}\n{executions:?}\n{running:?}\n{stats:?}\n{launches:?}\n{members:?}\n{:?}",
        store.applied().unwrap()
    )
}

/// Export then import into another store reproduces the state and the applied position, and
/// replaces what the target had; the target's Raft log is untouched.
#[test]
fn round_trip_replaces_state() {
    let (_source_dir, source) = populated();
    let mut stream = Vec::new();
    let exported = source.export_snapshot(&mut stream).unwrap();
    assert_eq!(
        exported.applied,
        Some(RaftApplied {
            index: 42,
            bytes: b"log-id".to_vec()
        })
    );
    assert_eq!(exported.bytes, stream.len() as u64);

    let (_target_dir, target) = temp_store();
    put(&target, job("stale"));
    target.raft_append(&[(1, b"keep".to_vec())], true).unwrap();
    let imported = target.import_snapshot(&mut stream.as_slice()).unwrap();
    assert_eq!(imported, exported);
    assert_eq!(state_of(&target), state_of(&source));
    assert_eq!(target.job("stale").unwrap(), None);
    assert_eq!(target.job_count(), 2);
    assert_eq!(
        target.raft_entries(..).unwrap(),
        vec![(1, b"keep".to_vec())]
    );
    // The rebuilt index sorts the imported jobs.
    let page = target
        .list_jobs(&JobQuery {
            sort: JobSort::SuccessCount,
            order: SortOrder::Desc,
            ..JobQuery::default()
        })
        .unwrap();
    assert_eq!(page.jobs[0].name, "p");
    // And writes continue on top of it.
    assert!(done(&target, finished(started("p", "n1", 900, 900), 1, true)).counted);
    // The imported state survives a reopen.
    let dir = target.dir().to_owned();
    drop(target);
    let reopened = open(&dir);
    assert_eq!(reopened.job_count(), 2);
    assert_eq!(reopened.applied().unwrap().unwrap().index, 42);
}

/// Every truncation of the stream, and a flipped byte, is refused and leaves the target as it
/// was.
#[test]
fn truncated_or_corrupt_streams_are_refused() {
    let (_source_dir, source) = populated();
    let mut stream = Vec::new();
    source.export_snapshot(&mut stream).unwrap();
    let (_target_dir, target) = temp_store();
    put(&target, job("mine"));
    let before = state_of(&target);
    let step = (stream.len() / 97).max(1);
    for len in (0..stream.len()).step_by(step).chain([stream.len() - 1]) {
        let error = target.import_snapshot(&mut &stream[..len]).unwrap_err();
        assert!(
            matches!(error, Error::Snapshot { .. }),
            "length {len}: {error}"
        );
    }
    for at in [3, 20, stream.len() / 2, stream.len() - 2] {
        let mut corrupt = stream.clone();
        corrupt[at] ^= 0x55;
        let error = target.import_snapshot(&mut corrupt.as_slice()).unwrap_err();
        assert!(
            matches!(error, Error::Snapshot { .. } | Error::Corrupt { .. }),
            "byte {at}: {error}"
        );
    }
    let mut longer = stream.clone();
    longer.push(0);
    assert!(matches!(
        target.import_snapshot(&mut longer.as_slice()),
        Err(Error::Snapshot { .. })
    ));
    assert_eq!(state_of(&target), before);
    assert!(!target.dir().join("snapshot-import.spool").exists());
}

/// Exports taken while another thread records executions are each one point in time: in every
/// imported copy, counters, stored executions and daily stats agree.
#[test]
fn export_is_point_in_time_under_writes() {
    let (_dir, store) = temp_store();
    for j in 0..5 {
        let mut j_job = job(&format!("j{j}"));
        j_job.history_limit = Some(100_000);
        put(&store, j_job);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                let name = format!("j{}", i % 5);
                done(
                    &store,
                    finished(started(&name, "n1", 1000 + i, i), 1, i % 3 != 0),
                );
                i += 1;
            }
            i
        })
    };
    for _ in 0..3 {
        let mut stream = Vec::new();
        store.export_snapshot(&mut stream).unwrap();
        let (_copy_dir, copy) = temp_store();
        copy.import_snapshot(&mut stream.as_slice()).unwrap();
        let mut counted = 0;
        let mut stored = 0;
        for name in copy.job_names() {
            let job = copy.job(&name).unwrap().unwrap();
            counted += job.success_count + job.error_count;
            stored += copy.executions(&name, None).unwrap().len() as u64;
        }
        let stats: u64 = copy
            .stats(2, date(1970, 1, 1))
            .unwrap()
            .iter()
            .map(|d| d.success_count + d.failed_count)
            .sum();
        assert_eq!(counted, stored);
        assert_eq!(stats, stored);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
}
