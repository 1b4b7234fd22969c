//! Store benchmarks: set-job, record-done, get-job and a list page at 1k, 10k and 100k stored
//! jobs (the page must cost the same at every size), plus resident memory per stored job and
//! reopen time at 100k.
//!
//! Run (RocksDB is compiled once per cargo profile; this reuses the dev-profile build, whose
//! dependencies are already at opt-level 2, and optimises the workspace crates too):
//!
//! ```text
//! CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo bench -p dkron-benches --features store --profile dev \
//!     --bench store -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The memory figures are printed to stderr as `store-memory: …` lines. Jobs are populated by
//! a child process (this binary re-run with `DKRON_BENCH_STORE_POPULATE=<dir>`), so the
//! measuring process starts clean: RSS is read before opening the 100k-job store, after
//! opening it (index rebuilt), and after reading every job once (block cache warm).

use std::{
    hint::black_box,
    io::Write,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion};
use dkron_benches::workload;
use dkron_model::{Execution, Job, JobSort};
use dkron_store::{Apply, JobQuery, Options, SortOrder, Store};
use jiff::Timestamp;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const MEMORY_JOBS: usize = 100_000;
const POPULATE_ENV: &str = "DKRON_BENCH_STORE_POPULATE";
const PAGE: usize = 20;

/// The shared bench job, plus what the store's listing and sorting exercise: `shell`, a
/// second metadata pair, and spread `next` instants.
fn bench_job(i: usize) -> Job {
    let mut job = workload::bench_job(i);
    job.executor_config.insert("shell".into(), "true".into());
    job.metadata.insert("env".into(), "prod".into());
    job.next = Timestamp::from_second(1_800_000_000 + (i as i64 * 37) % 3600).ok();
    job
}

fn populate(store: &Store, n: usize) {
    for i in 0..n {
        // Not synced: population speed is not what is measured.
        store
            .set_job(bench_job(i), &Apply::local())
            .expect("populate");
    }
}

fn rss_bytes() -> u64 {
    // /proc/self/statm: size resident shared ... in pages.
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Child mode: create MEMORY_JOBS jobs, report the RSS growth of doing so.
fn populate_child(dir: &Path) {
    let before = rss_bytes();
    let store = Store::open(dir, Options::default()).expect("open");
    let started = Instant::now();
    populate(&store, MEMORY_JOBS);
    let elapsed = started.elapsed();
    let after = rss_bytes();
    store.sync_wal().expect("sync");
    let json = serde_json::to_vec(&bench_job(12345))
        .map(|v| v.len())
        .unwrap_or(0);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "populate {before} {after} {} {json}",
        elapsed.as_millis()
    );
}

fn memory_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(std::env::current_exe().expect("current exe"))
        .env(POPULATE_ENV, dir.path())
        .output()
        .expect("populate child");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("populate "))
        .unwrap_or("populate 0 0 0 0")
        .to_owned();
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let [child_before, child_after, populate_ms, one_job_json] = fields[..] else {
        return;
    };
    let jobs = MEMORY_JOBS as u64;
    eprintln!(
        "store-memory: creating {jobs} jobs: RSS {} -> {} MiB, {:.0} B/job (incl. memtables); {populate_ms} ms; \
         one job is {one_job_json} B of JSON",
        child_before >> 20,
        child_after >> 20,
        (child_after.saturating_sub(child_before)) as f64 / jobs as f64,
    );
    let before = rss_bytes();
    let started = Instant::now();
    let store = Store::open(dir.path(), Options::default()).expect("reopen");
    let reopen = started.elapsed();
    let opened = rss_bytes();
    let mut found = 0usize;
    store
        .for_each_job(&mut |job| {
            found += usize::from(!job.name.is_empty());
        })
        .expect("scan");
    for i in (0..MEMORY_JOBS).step_by(7) {
        found += usize::from(store.job(&format!("job-{i:06}")).expect("get").is_some());
    }
    let warm = rss_bytes();
    eprintln!(
        "store-memory: reopen {} ms; RSS {} MiB before open, {} MiB open ({:.0} B/job), {} MiB after reading all ({:.0} B/job); \
         data dir {} MiB; {found} reads",
        reopen.as_millis(),
        before >> 20,
        opened >> 20,
        (opened.saturating_sub(before)) as f64 / jobs as f64,
        warm >> 20,
        (warm.saturating_sub(before)) as f64 / jobs as f64,
        dir_bytes(dir.path()) >> 20,
    );
}

fn store_benches(c: &mut Criterion) {
    for &n in &SIZES {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), Options::default()).expect("open");
        populate(&store, n);
        let mut group = c.benchmark_group("store");
        group.sample_size(30);

        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::new("set_job", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7919) % n;
                store.set_job(bench_job(i), &Apply::local()).expect("set")
            });
        });

        let mut started = 2_000_000_000i64;
        group.bench_with_input(BenchmarkId::new("record_done", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7919) % n;
                started += 1;
                let at = Timestamp::from_second(started).expect("in range");
                let execution = Execution {
                    job_name: format!("job-{i:06}"),
                    started_at: at,
                    finished_at: Some(at),
                    success: started % 5 != 0,
                    output: "report uploaded\n".to_owned(),
                    node_name: "node-1".to_owned(),
                    group: started,
                    attempt: 1,
                    ..Execution::default()
                };
                store
                    .record_execution_done(execution, &Apply::local())
                    .expect("done")
            });
        });

        group.bench_with_input(BenchmarkId::new("get_job", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7919) % n;
                store.job(black_box(&format!("job-{i:06}"))).expect("get")
            });
        });

        for (label, sort) in [
            ("list_page_by_name", JobSort::Name),
            ("list_page_by_success", JobSort::SuccessCount),
        ] {
            group.bench_with_input(BenchmarkId::new(label, n), &n, |b, &n| {
                b.iter(|| {
                    i = (i + 7919) % n;
                    let start = i.min(n - PAGE);
                    let query = JobQuery {
                        sort,
                        order: SortOrder::Desc,
                        start,
                        end: Some(start + PAGE),
                        ..JobQuery::default()
                    };
                    let page = store.list_jobs(black_box(&query)).expect("list");
                    assert_eq!(page.jobs.len(), PAGE);
                    page
                });
            });
        }

        group.bench_with_input(BenchmarkId::new("list_page_filtered", n), &n, |b, _| {
            let mut query = JobQuery {
                start: 0,
                end: Some(PAGE),
                ..JobQuery::default()
            };
            query.metadata.insert("team".into(), "team-5".into());
            b.iter(|| store.list_jobs(black_box(&query)).expect("list"));
        });

        group.bench_with_input(BenchmarkId::new("set_job_durable", n), &n, |b, &n| {
            b.iter(|| {
                i = (i + 7919) % n;
                store.set_job(bench_job(i), &Apply::durable()).expect("set")
            });
        });
        group.finish();
        drop(store);
    }
}

fn main() {
    if let Some(dir) = std::env::var_os(POPULATE_ENV) {
        populate_child(Path::new(&dir));
        return;
    }
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    if std::env::args().all(|arg| arg != "--list") {
        memory_report();
    }
    store_benches(&mut criterion);
    criterion.final_summary();
}
