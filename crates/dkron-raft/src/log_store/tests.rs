use dkron_store::Options;

use super::*;

/// The flusher thread lives exactly as long as its log store: dropping the store joins it, so
/// the flag is already down when `drop` returns (no waiting).
#[test]
fn dropping_the_log_store_joins_its_flusher() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("store"), Options::default()).expect("store opens");
    for _ in 0..20 {
        let log = LogStore::new(store.clone()).expect("log store starts");
        let stats = log.stats();
        assert!(stats.snapshot().flusher_running);
        drop(log);
        assert!(!stats.snapshot().flusher_running);
    }
}

fn blank(index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
        payload: openraft::EntryPayload::Blank,
    }
}

fn indexes(entries: &[Entry<TypeConfig>]) -> Vec<u64> {
    entries.iter().map(|entry| entry.log_id.index).collect()
}

/// The tail answers only ranges that start inside it, follows truncations, purges and gaps,
/// and keeps to its byte budget.
#[test]
fn the_tail_holds_a_run_ending_at_the_last_entry() {
    let mut tail = Tail::default();
    assert!(tail.read(&(1..)).is_none(), "an empty tail answers nothing");
    for index in 5..=9 {
        tail.push(blank(index), 10);
    }
    assert!(tail.read(&(4..7)).is_none(), "starts before the tail");
    assert_eq!(indexes(&tail.read(&(6..8)).expect("inside")), [6, 7]);
    assert_eq!(indexes(&tail.read(&(8..)).expect("to the end")), [8, 9]);
    let after_six = (Bound::Excluded(6), Bound::Included(8));
    assert_eq!(
        indexes(&tail.read(&after_six).expect("excluded start")),
        [7, 8]
    );
    assert!(
        tail.read(&(..)).is_none(),
        "the whole log starts before the tail"
    );
    assert_eq!(
        indexes(&tail.read(&(8..100)).expect("past the end")),
        [8, 9]
    );
    // An append over entry 8 (after a conflict) replaces 8 and 9.
    tail.push(blank(8), 10);
    assert_eq!(indexes(&tail.read(&(5..)).expect("all")), [5, 6, 7, 8]);
    tail.truncate_from(7);
    tail.purge_to(5);
    assert_eq!(indexes(&tail.read(&(6..)).expect("all")), [6]);
    assert_eq!(tail.bytes, 10);
    // A gap (the log continues after a snapshot) restarts the tail.
    tail.push(blank(20), 10);
    assert!(tail.read(&(6..)).is_none());
    assert_eq!(indexes(&tail.read(&(20..=20)).expect("restarted")), [20]);
    // The byte budget drops the oldest entries.
    for index in 21..=40 {
        tail.push(blank(index), TAIL_BYTES / 4);
    }
    assert_eq!(tail.first_index(), Some(37));
    assert!(tail.bytes <= TAIL_BYTES);
}

/// Reads served from memory equal reads from RocksDB, before and after a truncation.
#[tokio::test]
async fn reads_from_the_tail_match_reads_from_rocksdb() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("store"), Options::default()).expect("store opens");
    let mut log = LogStore::new(store.clone()).expect("log store starts");
    let entries = (1..=30).map(|index| Entry {
        log_id: LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
        payload: openraft::EntryPayload::Normal(crate::Command::ToggleJob {
            name: format!("job-{index}"),
        }),
    });
    // `append` minus the flush callback (openraft's callback type cannot be made here).
    assert_eq!(log.write_entries(entries).expect("written"), 30);
    log.truncate(LogId::new(openraft::CommittedLeaderId::new(1, 1), 25))
        .await
        .expect("truncated");
    let mut reader = log.get_log_reader().await;
    let from_tail = reader.try_get_log_entries(10..40).await.expect("tail read");
    assert_eq!(indexes(&from_tail), (10..25).collect::<Vec<_>>());
    assert!(
        log.tail.lock().read(&(10..40)).is_some(),
        "served by the tail"
    );
    // A second log store on the same RocksDB starts with an empty tail: RocksDB answers.
    drop(log);
    let mut fresh = LogStore::new(store).expect("log store starts");
    assert!(fresh.tail.lock().read(&(10..40)).is_none());
    let from_rocksdb = fresh
        .try_get_log_entries(10..40)
        .await
        .expect("rocksdb read");
    assert_eq!(from_tail, from_rocksdb);
}
