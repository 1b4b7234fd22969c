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
