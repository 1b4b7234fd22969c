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

fn page(newest_first: bool, start: usize, end: Option<usize>) -> crate::HistoryPage {
    crate::HistoryPage {
        newest_first,
        start,
        end,
    }
}

fn page_seconds(store: &Store, page: crate::HistoryPage) -> (Vec<i64>, usize) {
    let (listed, total) = store.executions_page("j", page, None).expect("page");
    let seconds = listed
        .into_iter()
        .map(|listed| listed.execution.started_at.as_second())
        .collect();
    (seconds, total)
}

/// Pages in both orders, at the boundaries, past the end, and of an empty history; the total
/// is the number kept, after trims too.
#[test]
fn history_pages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    store.set_job(job(5), &Apply::local()).expect("job stored");
    assert_eq!(page_seconds(&store, page(true, 0, None)), (vec![], 0));
    assert_eq!(page_seconds(&store, page(true, 3, Some(1))), (vec![], 0));
    for second in 1..=8 {
        start(&store, second);
    }
    // Kept: 4..=8.
    assert_eq!(
        page_seconds(&store, page(true, 0, None)),
        (vec![8, 7, 6, 5, 4], 5)
    );
    assert_eq!(
        page_seconds(&store, page(true, 0, Some(2))),
        (vec![8, 7], 5)
    );
    assert_eq!(
        page_seconds(&store, page(true, 2, Some(4))),
        (vec![6, 5], 5)
    );
    assert_eq!(page_seconds(&store, page(true, 4, Some(10))), (vec![4], 5));
    assert_eq!(page_seconds(&store, page(true, 5, Some(10))), (vec![], 5));
    assert_eq!(page_seconds(&store, page(true, 9, None)), (vec![], 5));
    assert_eq!(
        page_seconds(&store, page(false, 0, Some(2))),
        (vec![4, 5], 5)
    );
    assert_eq!(page_seconds(&store, page(false, 3, None)), (vec![7, 8], 5));
    assert_eq!(
        store
            .executions_page("missing", page(true, 0, None), None)
            .map(|(listed, _)| listed.len())
            .unwrap_err()
            .to_string(),
        "job `missing` not found"
    );
}

/// A page reads the records of its executions only: with large outputs, the bytes read from
/// disk for a page of 2 out of 50 are far below one tenth of the history's (the page is read
/// first, so neither is helped by the other's cached blocks).
#[test]
fn a_page_reads_only_its_executions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    store
        .set_job(job(100), &Apply::local())
        .expect("job stored");
    // Incompressible output (the store compresses its files).
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = || {
        (0..20_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'!' + (state % 90) as u8)
            })
            .collect::<String>()
    };
    for second in 1..=50 {
        let output = noise();
        let execution = Execution {
            job_name: "j".to_owned(),
            started_at: Timestamp::from_second(second).expect("timestamp in range"),
            finished_at: Some(Timestamp::from_second(second).expect("timestamp in range")),
            node_name: "n".to_owned(),
            group: second,
            attempt: 1,
            output,
            ..Execution::default()
        };
        store
            .record_execution_done(execution, &Apply::local())
            .expect("done recorded");
    }
    // Reads from SST files are what perf contexts measure (memtable reads count nothing).
    for cf in [crate::keys::Cf::Executions, crate::keys::Cf::Indexes] {
        store.db().flush_cf(store.cf(cf)).expect("flush");
    }
    let read = |f: &dyn Fn()| {
        set_perf_stats(PerfStatsLevel::EnableCount);
        let mut context = PerfContext::default();
        context.reset();
        f();
        let bytes = [
            PerfMetric::BlockReadByte,
            PerfMetric::GetReadBytes,
            PerfMetric::MultigetReadBytes,
            PerfMetric::IterReadBytes,
        ]
        .map(|metric| context.metric(metric))
        .iter()
        .sum::<u64>();
        set_perf_stats(PerfStatsLevel::Disable);
        bytes
    };
    let paged = read(&|| {
        let (listed, total) = store
            .executions_page("j", page(true, 10, Some(12)), None)
            .expect("page");
        assert_eq!((listed.len(), total), (2, 50));
    });
    let whole = read(&|| {
        assert_eq!(store.executions("j", None).expect("history").len(), 50);
    });
    assert!(whole >= 40 * 20_000, "the whole history read {whole} bytes");
    assert!(paged < whole / 10, "a page read {paged} of {whole} bytes");
}
