//! History trimming from the job's trim floor.

use dkron_model::{Execution, Job};
use jiff::Timestamp;
use rocksdb::perf::{PerfContext, PerfMetric, PerfStatsLevel, set_perf_stats};

use crate::{Apply, Options, Store};

fn job(limit: u32) -> Job {
    let mut job = Job::new("j");
    job.schedule = "@every 1m".to_owned();
    job.history_limit = Some(limit);
    job
}

fn start(store: &Store, second: i64) {
    let execution = Execution {
        job_name: "j".to_owned(),
        started_at: Timestamp::from_second(second).expect("timestamp in range"),
        node_name: "n".to_owned(),
        group: second,
        attempt: 1,
        ..Execution::default()
    };
    store
        .record_execution_start(execution, &Apply::local())
        .expect("start recorded");
}

/// Start seconds of the stored history, oldest first.
fn history(store: &Store) -> Vec<i64> {
    let mut seconds: Vec<i64> = store
        .executions("j", None)
        .expect("history")
        .into_iter()
        .map(|listed| listed.execution.started_at.as_second())
        .collect();
    seconds.sort_unstable();
    seconds
}

/// Deletions RocksDB skipped while this thread ran `f` (tombstones walked over).
fn deletes_skipped(f: impl FnOnce()) -> u64 {
    set_perf_stats(PerfStatsLevel::EnableCount);
    let mut context = PerfContext::default();
    context.reset();
    f();
    let skipped = context.metric(PerfMetric::InternalDeleteSkippedCount);
    set_perf_stats(PerfStatsLevel::Disable);
    skipped
}

/// After thousands of trims, one more trim does not walk over the tombstones the earlier ones
/// left (they stay until compaction; all of them are in the memtable here), while a scan of the
/// job's range from its start does: the measure is real.
#[test]
fn a_trim_does_not_walk_over_earlier_trims() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("store opens");
    store.set_job(job(5), &Apply::local()).expect("job stored");
    for second in 0..2_000 {
        start(&store, second);
    }
    assert_eq!(history(&store), vec![1_995, 1_996, 1_997, 1_998, 1_999]);

    let from_start = deletes_skipped(|| {
        let prefix = crate::keys::index_prefix(crate::keys::IDX_META, "j");
        let end = crate::keys::index_prefix_end(crate::keys::IDX_META, "j");
        let cf = store.cf(crate::keys::Cf::Indexes);
        let live = store
            .db()
            .iterator_cf_opt(
                cf,
                Store::bounded(prefix, end),
                rocksdb::IteratorMode::Start,
            )
            .count();
        assert_eq!(live, 5);
    });
    assert!(
        from_start >= 1_000,
        "a scan from the start skips {from_start}"
    );

    // A late report older than everything is trimmed at once, and leaves the floor where it was.
    start(&store, -1);
    assert_eq!(history(&store), vec![1_995, 1_996, 1_997, 1_998, 1_999]);
    let one_trim = deletes_skipped(|| start(&store, 2_000));
    assert!(one_trim <= 10, "one trim skipped {one_trim} deletions");
    assert_eq!(history(&store), vec![1_996, 1_997, 1_998, 1_999, 2_000]);
}

/// An execution older than the floor (a late report, kept because the limit was raised) lowers
/// the floor, so the next trim still removes the oldest execution first.
#[test]
fn a_late_execution_below_the_floor_is_trimmed_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("store opens");
    store.set_job(job(3), &Apply::local()).expect("job stored");
    for second in 10..16 {
        start(&store, second);
    }
    assert_eq!(history(&store), vec![13, 14, 15]);

    store
        .set_job(job(4), &Apply::local())
        .expect("limit raised");
    start(&store, 5);
    assert_eq!(history(&store), vec![5, 13, 14, 15]);
    start(&store, 16);
    assert_eq!(history(&store), vec![13, 14, 15, 16]);

    // A wiped history forgets the floor with it.
    store
        .delete_executions("j", &Apply::local())
        .expect("history wiped");
    for second in [1, 2, 3, 4, 0] {
        start(&store, second);
    }
    assert_eq!(history(&store), vec![1, 2, 3, 4]);
}
