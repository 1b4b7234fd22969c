//! Scheduling precision (perf-anchors §3 (a), variant A "scheduler path"): N jobs `@every 1s`
//! with a no-op dispatch, for N = 1k, 10k, 100k, each peer in its own process, one after the
//! other, in the same run: dkron-scheduler, robfig/cron v3 (dkron's engine, Go, from
//! `peers/robfig`) and tokio-cron-scheduler.
//!
//! ```text
//! cargo bench -p dkron-benches --bench scheduler --features scheduler
//! DKRON_SCHED_BENCH_N=1000,10000 DKRON_SCHED_BENCH_SECS=10 cargo bench -p dkron-benches --bench scheduler --features scheduler
//! ```
//!
//! Each peer runs N jobs for SECS seconds (default 10) on a 2-worker runtime (Go: GOMAXPROCS
//! default, 2 here), notes the wall-clock time of every fire (ours also its scheduled instant)
//! and writes them to a file; this parent computes the same statistics for all: lateness against
//! the whole second (ours: against the scheduled instant, which is that second), fires delivered
//! per steady second (the first 2 seconds and the last one are dropped, as in the probes), CPU
//! over the firing period and peak RSS. Memory per job is heap bytes: robfig's is Go's
//! `HeapAlloc` growth while adding (its entries hold a closure, no job definition); ours is
//! counted by a global allocator while upserting, minus what N bare `Arc<Job>` definitions cost
//! (measured the same way), so it is the scheduler's own index; tokio-cron-scheduler's is RSS
//! growth while adding. `DKRON_SCHED_BENCH_JOB=loadgen` gives our jobs the fields of the load
//! harness's jobs (free text, an http executor with four settings, a tag, three metadata
//! entries), which the scheduler keeps packed and rebuilds on every fire: the fire latency then
//! includes that rebuild, and `defs_per_job` is what a whole `Arc<Job>` of that kind costs
//! (`B/job` the scheduler's own bytes minus that, negative when it keeps less than the whole
//! job). If `go` is
//! missing, the robfig peer is skipped with a message (Debian: `golang-go`
//! `golang-github-robfig-cron-dev`).
//!
//! Not criterion: each measurement is a 10-second real-time run; the table is the result.

#![expect(clippy::print_stdout, reason = "the bench prints its result table")]

use std::{
    collections::BTreeMap,
    io::{BufRead, BufWriter, Write},
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use dkron_model::{Job, Limits};

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// A global allocator that counts live heap bytes while switched on, to measure bytes per job
/// exactly (as Go's `HeapAlloc` does for the robfig peer). Off during the timing runs.
#[expect(
    unsafe_code,
    reason = "a global allocator is unsafe to implement; it only forwards"
)]
mod counting {
    use std::{
        alloc::{GlobalAlloc, Layout, System},
        sync::atomic::{AtomicBool, AtomicI64, Ordering},
    };

    pub(crate) static ON: AtomicBool = AtomicBool::new(false);
    pub(crate) static LIVE: AtomicI64 = AtomicI64::new(0);

    #[derive(Debug)]
    pub(crate) struct Counting;

    fn count(delta: i64) {
        if ON.load(Ordering::Relaxed) {
            LIVE.fetch_add(delta, Ordering::Relaxed);
        }
    }

    fn size(bytes: usize) -> i64 {
        i64::try_from(bytes).unwrap_or(i64::MAX)
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            count(size(layout.size()));
            // SAFETY: forwarded as received.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            count(-size(layout.size()));
            // SAFETY: forwarded as received.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            count(size(layout.size()));
            // SAFETY: forwarded as received.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            count(size(new_size) - size(layout.size()));
            // SAFETY: forwarded as received.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Live bytes counted so far.
    pub(crate) fn live() -> i64 {
        LIVE.load(Ordering::Relaxed)
    }

    pub(crate) fn set(on: bool) {
        ON.store(on, Ordering::Relaxed);
    }
}
use dkron_scheduler::{BoxFuture, Dispatch, Handoff, MemoryStore, Run, Scheduler};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const CHILD: &str = "DKRON_SCHED_BENCH_CHILD";

fn main() -> Res<()> {
    let n: usize = env_or("DKRON_SCHED_BENCH_N_CHILD", "0").parse()?;
    let secs: u64 = env_or("DKRON_SCHED_BENCH_SECS", "10").parse()?;
    match std::env::var(CHILD).ok().as_deref() {
        Some("ours") => ours(n, secs),
        Some("tcs") => tcs(n, secs),
        _ => parent(secs),
    }
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

fn now_ns() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// CPU seconds (user + system, all threads) of this process, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line; clock ticks are 100 Hz on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn bench_job(i: usize) -> Job {
    let mut job = Job::new(format!("job-{i}"));
    job.schedule = "@every 1s".to_owned();
    if env_or("DKRON_SCHED_BENCH_JOB", "bare") == "loadgen" {
        // As `loadgen`'s `job_body` (benches/src/bin/loadgen/scenarios.rs).
        let pairs = |p: &[(&str, String)]| -> BTreeMap<String, String> {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect()
        };
        job.display_name = format!("loadgen job {i}");
        job.owner = "loadgen".into();
        job.owner_email = "loadgen@example.invalid".into();
        job.executor = "http".into();
        job.executor_config = pairs(&[
            ("method", "GET".into()),
            ("url", format!("http://127.0.0.1:40000/j/{i}")),
            ("expectCode", "200".into()),
            ("timeout", "30".into()),
        ]);
        job.tags = pairs(&[("pool", "server".into())]);
        job.metadata = pairs(&[
            ("team", "load-harness".into()),
            (
                "purpose",
                "end-to-end lateness, missed and duplicated fires, counted at a local sink".into(),
            ),
            ("ticket", "issue-15".into()),
        ]);
    }
    job
}

/// The no-op dispatch: notes (fire time, scheduled instant) and reports no execution.
#[derive(Debug)]
struct Probe {
    fires: Mutex<Vec<(i64, i64)>>,
}

impl Dispatch for Probe {
    fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
        let fired = now_ns();
        let scheduled = i64::try_from(run.launch.scheduled_at.as_nanosecond()).unwrap_or(0);
        self.fires
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((fired, scheduled));
        Box::pin(std::future::ready(Handoff::Handed))
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()?)
}

fn write_fires(fires: impl Iterator<Item = String>) -> Res<()> {
    let path = std::env::var("FIRES_FILE")?;
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for line in fires {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// Child: dkron-scheduler with N jobs.
fn ours(n: usize, secs: u64) -> Res<()> {
    let probe = Arc::new(Probe {
        fires: Mutex::new(Vec::with_capacity(n * (secs as usize + 2))),
    });
    let (cpu_pct, bytes_per_job) = runtime()?.block_on(async {
        // Memory first, on a scheduler of its own whose jobs are due only in an hour, so no
        // fire (and its launch state) lands inside the count however long the upserts take.
        // `@every 1h` parses to the same representation as `@every 1s`.
        let (index, defs) = {
            let counted = Scheduler::builder()
                .memory_store(Arc::new(MemoryStore::with_limits(Limits::DKRON, 0)))
                .dispatch(probe.clone())
                .start()
                .await?;
            let hourly = |i| {
                let mut job = bench_job(i);
                job.schedule = "@every 1h".to_owned();
                job
            };
            counting::set(true);
            // Bare definitions first, counted then freed.
            let live0 = counting::live();
            let jobs: Vec<Arc<Job>> = (0..n).map(|i| Arc::new(hourly(i))).collect();
            let defs = (counting::live() - live0) as f64 / n as f64 - 8.0;
            drop(jobs);
            let live0 = counting::live();
            for i in 0..n {
                counted.upsert(hourly(i)).await?;
            }
            let index = (counting::live() - live0) as f64 / n as f64 - defs;
            counting::set(false);
            counted.shutdown(Duration::from_secs(5)).await;
            (index, defs)
        };
        // Launch records: de-duplication state only (no record kept), as a node would keep.
        let store = Arc::new(MemoryStore::with_limits(Limits::DKRON, 0));
        let scheduler = Scheduler::builder()
            .memory_store(store)
            .dispatch(probe.clone())
            .start()
            .await?;
        // Start right after a whole second: the first fires are due at the next second.
        let into_second = Duration::from_nanos((now_ns().rem_euclid(1_000_000_000)) as u64);
        tokio::time::sleep(Duration::from_millis(1010).saturating_sub(into_second)).await;
        for i in 0..n {
            scheduler.upsert(bench_job(i)).await?;
        }
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let cpu = cpu_seconds() - cpu0;
        let wall = wall0.elapsed().as_secs_f64();
        scheduler.shutdown(Duration::from_secs(5)).await;
        Ok::<_, Box<dyn std::error::Error>>((100.0 * cpu / wall, (index, defs)))
    })?;
    let (bytes_per_job, defs) = bytes_per_job;
    let fires = std::mem::take(&mut *probe.fires.lock().unwrap_or_else(PoisonError::into_inner));
    write_fires(
        fires
            .into_iter()
            .map(|(fired, scheduled)| format!("{fired} {scheduled}")),
    )?;
    println!(
        "peer=ours n={n} cpu_pct={cpu_pct:.1} maxrss_kib={} bytes_per_job={bytes_per_job:.0} defs_per_job={defs:.0}",
        status_kib("VmHWM")
    );
    Ok(())
}

/// Child: tokio-cron-scheduler with N jobs `* * * * * *` (its every-second form).
fn tcs(n: usize, secs: u64) -> Res<()> {
    use tokio_cron_scheduler::{Job as TcsJob, JobScheduler};
    let fires = Arc::new(Mutex::new(Vec::<i64>::with_capacity(
        n * (secs as usize + 2),
    )));
    let (cpu_pct, bytes_per_job) = runtime()?.block_on(async {
        let scheduler = JobScheduler::new().await?;
        let rss0 = status_kib("VmRSS");
        for _ in 0..n {
            let fires = Arc::clone(&fires);
            let job = TcsJob::new_async("* * * * * *", move |_id, _scheduler| {
                let fires = Arc::clone(&fires);
                Box::pin(async move {
                    let fired = now_ns();
                    fires
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(fired);
                })
            })?;
            scheduler.add(job).await?;
        }
        let rss1 = status_kib("VmRSS");
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        scheduler.start().await?;
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let cpu = cpu_seconds() - cpu0;
        let wall = wall0.elapsed().as_secs_f64();
        let bytes_per_job = (rss1.saturating_sub(rss0) * 1024) as f64 / n as f64;
        Ok::<_, Box<dyn std::error::Error>>((100.0 * cpu / wall, bytes_per_job))
    })?;
    let fires = std::mem::take(&mut *fires.lock().unwrap_or_else(PoisonError::into_inner));
    write_fires(fires.into_iter().map(|fired| fired.to_string()))?;
    println!(
        "peer=tcs n={n} cpu_pct={cpu_pct:.1} maxrss_kib={} bytes_per_job={bytes_per_job:.0}",
        status_kib("VmHWM")
    );
    // Its scheduler tasks would keep the runtime alive; the measurement is written.
    std::process::exit(0);
}

/// One peer's result at one N.
#[derive(Debug, Default, Clone)]
struct Row {
    peer: String,
    delivered: f64,
    worst_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    cpu_pct: f64,
    maxrss_mib: f64,
    bytes_per_job: f64,
    defs_per_job: f64,
}

fn parse_line(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn field(map: &BTreeMap<String, String>, key: &str) -> f64 {
    map.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Statistics over a fires file: lateness and delivery in the steady window.
fn analyse(path: &Path, n: usize) -> Res<Row> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    // (second the fire belongs to, lateness in ns)
    let mut fires: Vec<(i64, i64)> = Vec::new();
    for line in file.lines() {
        let line = line?;
        let mut parts = line.split_whitespace().map(|p| p.parse::<i64>());
        let fired = match parts.next() {
            Some(Ok(fired)) => fired,
            _ => continue,
        };
        match parts.next() {
            Some(Ok(scheduled)) => {
                fires.push((scheduled.div_euclid(1_000_000_000), fired - scheduled))
            }
            _ => fires.push((
                fired.div_euclid(1_000_000_000),
                fired.rem_euclid(1_000_000_000),
            )),
        }
    }
    let (Some(first), Some(last)) = (
        fires.iter().map(|f| f.0).min(),
        fires.iter().map(|f| f.0).max(),
    ) else {
        return Ok(Row::default());
    };
    let window = (first + 2)..last;
    let mut per_second: BTreeMap<i64, usize> = window.clone().map(|s| (s, 0)).collect();
    let mut late: Vec<i64> = Vec::new();
    for (second, lateness) in fires {
        if window.contains(&second) {
            *per_second.entry(second).or_default() += 1;
            late.push(lateness);
        }
    }
    late.sort_unstable();
    let q = |p: f64| {
        if late.is_empty() {
            return f64::NAN;
        }
        let i = ((late.len() as f64 * p) as usize).min(late.len() - 1);
        late[i] as f64 / 1e6
    };
    let seconds = per_second.len().max(1) as f64;
    Ok(Row {
        delivered: late.len() as f64 / (seconds * n as f64),
        worst_second: per_second.values().copied().min().unwrap_or(0) as f64 / n as f64,
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        max_ms: late.last().map_or(f64::NAN, |l| *l as f64 / 1e6),
        ..Row::default()
    })
}

fn run_child(
    program: &Path,
    envs: &[(&str, String)],
    args: &[String],
    fires: &Path,
    n: usize,
    peer: &str,
) -> Res<Row> {
    let output = Command::new(program)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("FIRES_FILE", fires)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "{peer} at n={n} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("peer="))
        .ok_or("no result line")?;
    let map = parse_line(line);
    let mut row = analyse(fires, n)?;
    row.peer = peer.to_owned();
    row.cpu_pct = field(&map, "cpu_pct");
    row.maxrss_mib = field(&map, "maxrss_kib") / 1024.0;
    row.bytes_per_job = field(&map, "bytes_per_job");
    row.defs_per_job = field(&map, "defs_per_job");
    let _ = std::fs::remove_file(fires);
    Ok(row)
}

/// Builds the Go peer; `None` (with a message) when Go or the robfig package is missing.
fn build_robfig() -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/robfig/main.go");
    let binary = std::env::temp_dir().join("dkron-bench-robfig-sched");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .output();
    match built {
        Ok(out) if out.status.success() => Some(binary),
        Ok(out) => {
            println!(
                "robfig peer skipped: go build failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            None
        }
        Err(error) => {
            println!(
                "robfig peer skipped: `go` not runnable ({error}); apt-get install golang-go golang-github-robfig-cron-dev"
            );
            None
        }
    }
}

fn parent(secs: u64) -> Res<()> {
    let ns: Vec<usize> = env_or("DKRON_SCHED_BENCH_N", "1000,10000,100000")
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let me = std::env::current_exe()?;
    let robfig = build_robfig();
    let fires = std::env::temp_dir().join(format!("dkron-bench-fires-{}", std::process::id()));
    println!(
        "scheduler precision: N x `@every 1s`, no-op dispatch, {secs} s per run, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:>7} {:<6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6} {:>8} {:>8}",
        "N",
        "peer",
        "delivered",
        "worst s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU %",
        "RSS MiB",
        "B/job"
    );
    for &n in &ns {
        let child_env = |which: &str| {
            vec![
                (CHILD, which.to_owned()),
                ("DKRON_SCHED_BENCH_N_CHILD", n.to_string()),
                ("DKRON_SCHED_BENCH_SECS", secs.to_string()),
            ]
        };
        let mut rows = Vec::new();
        let ours = run_child(&me, &child_env("ours"), &[], &fires, n, "ours")?;
        rows.push(ours.clone());
        if let Some(binary) = &robfig {
            rows.push(run_child(
                binary,
                &[],
                &[n.to_string(), secs.to_string()],
                &fires,
                n,
                "robfig",
            )?);
        }
        rows.push(run_child(&me, &child_env("tcs"), &[], &fires, n, "tcs")?);
        for row in &rows {
            println!(
                "{:>7} {:<6} {:>8.2}% {:>8.2}% {:>9.2} {:>9.2} {:>9.2} {:>6.1} {:>8.1} {:>8.0}",
                n,
                row.peer,
                100.0 * row.delivered,
                100.0 * row.worst_second,
                row.p50_ms,
                row.p99_ms,
                row.max_ms,
                row.cpu_pct,
                row.maxrss_mib,
                row.bytes_per_job
            );
        }
        println!(
            "{n:>7} ours: {:.0} B/job of scheduler index (heap), besides {:.0} B/job for each Arc<Job> definition it holds",
            ours.bytes_per_job, ours.defs_per_job
        );
        for row in rows.iter().skip(1) {
            println!(
                "{n:>7} ratio ours/{}: p50 {:.2}x, p99 {:.2}x, CPU {:.2}x",
                row.peer,
                ours.p50_ms / row.p50_ms,
                ours.p99_ms / row.p99_ms,
                ours.cpu_pct / row.cpu_pct
            );
        }
    }
    Ok(())
}
