//! Restart and crash: reopening keeps everything, and `kill -9` at random points never loses an
//! acknowledged durable batch nor leaves one half-applied.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use dkron_model::LaunchRecord;
use dkron_store::{Apply, JobQuery, Store};
use jiff::civil::date;

use crate::support::*;

/// Everything written is there after closing and reopening: jobs (and their index), history,
/// running marks, stats, launches, Raft log and meta, applied position.
#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot_before = {
        let store = open(dir.path());
        put(&store, job("p"));
        put(&store, child("c", "p"));
        done(&store, finished(started("p", "n1", 10, 10), 1, true));
        store
            .record_execution_start(started("c", "n1", 20, 20), &Apply::local())
            .unwrap();
        let launch = LaunchRecord {
            job_name: "p".into(),
            scheduled_at: ts(10),
            group: 10,
            attempt: 1,
            ..Default::default()
        };
        store
            .record_launch(&launch, Some(Some(ts(70))), &Apply::local())
            .unwrap();
        store.raft_append(&[(1, b"one".to_vec())], false).unwrap();
        store.raft_meta_put("vote", b"v", false).unwrap();
        store
            .record_applied(&Apply::raft(
                dkron_store::RaftApplied {
                    index: 9,
                    bytes: vec![9],
                },
                true,
            ))
            .unwrap();
        describe(&store)
    };
    let store = open(dir.path());
    assert_eq!(describe(&store), snapshot_before);
    assert_eq!(store.job_count(), 2);
    // Durable state and index agree after reopen: a new write still merges correctly.
    assert_eq!(
        done(&store, finished(started("p", "n1", 30, 30), 1, true))
            .job
            .success_count,
        2
    );
}

fn describe(store: &Store) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        store.list_jobs(&JobQuery::default()).unwrap(),
        store.executions("p", None).unwrap(),
        store.running_executions().unwrap(),
        store.stats(2, date(1970, 1, 1)).unwrap(),
        store.last_launch("p").unwrap(),
        store.raft_entries(..).unwrap(),
        store.raft_meta_get("vote").unwrap(),
        store.applied().unwrap(),
    )
}

const CHILD_DIR_ENV: &str = "DKRON_STORE_CRASH_CHILD_DIR";
const CHILD_SEED_ENV: &str = "DKRON_STORE_CRASH_CHILD_SEED";
const CHILD_START_ENV: &str = "DKRON_STORE_CRASH_CHILD_START";
/// Each round numbers its operations from `round * OPS_STRIDE`, so rounds never reuse a number
/// (an unacknowledged operation of a killed round may or may not have been applied).
const OPS_STRIDE: u64 = 10_000;
const ROUNDS: usize = 4;
const MAX_OPS_PER_ROUND: u64 = 3000;

/// A child process applies durable batches (job creations, some as children of earlier jobs,
/// and execution reports) and prints `ack <n>` after each returns. The parent `kill -9`s it at a
/// random point, reopens, and checks that every acknowledged batch is present and that no batch
/// is half-applied: parents list exactly their children, and each job's counters, its stored
/// executions and the daily stats agree. Several rounds crash the same directory repeatedly.
///
/// When run with `DKRON_STORE_CRASH_CHILD_DIR` set, this test *is* the child.
#[test]
fn crash_kill_9_keeps_acknowledged_batches() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        let number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1)
        };
        run_child(
            Path::new(&dir),
            number(CHILD_SEED_ENV),
            number(CHILD_START_ENV),
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    let mut acked_total: BTreeSet<u64> = BTreeSet::new();
    for round in 0..ROUNDS {
        seed = xorshift(seed);
        let kill_after = 5 + seed % 200;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "durability::crash_kill_9_keeps_acknowledged_batches",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_ENV, dir.path())
            .env(CHILD_SEED_ENV, seed.to_string())
            .env(CHILD_START_ENV, (round as u64 * OPS_STRIDE).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (acks_tx, acks_rx) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line
                    .strip_prefix("ack ")
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    let _ = acks_tx.send(n);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut acked_this_round = 0;
        while acked_this_round < kill_after {
            let left = deadline.saturating_duration_since(Instant::now());
            match acks_rx.recv_timeout(left) {
                Ok(n) => {
                    acked_total.insert(n);
                    acked_this_round += 1;
                }
                Err(_) => break,
            }
        }
        // SIGKILL: no destructors, no flush; whatever RocksDB had not synced may be lost.
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        acked_total.extend(acks_rx.try_iter());
        assert!(
            acked_this_round > 0,
            "round {round}: the child acknowledged nothing within the deadline"
        );
        verify_after_crash(dir.path(), &acked_total);
    }
}

/// Operation `n` of the child: a job creation every third op (every other one a child of an
/// earlier job), otherwise an execution report for an earlier job.
fn run_child(dir: &Path, seed: u64, start: u64) {
    let store = open(dir);
    let mut rng = seed;
    let mut stdout = std::io::stdout().lock();
    for n in start..start + MAX_OPS_PER_ROUND {
        rng = xorshift(rng);
        apply_op(&store, n, rng);
        // The batch was written with `durable: true`: it is acknowledged only after it returned.
        writeln!(stdout, "ack {n}").unwrap();
        stdout.flush().unwrap();
    }
}

fn op_job_name(n: u64) -> String {
    format!("job-{n:06}")
}

fn op_done_exists(store: &Store, n: u64) -> bool {
    store.job_names().iter().any(|name| {
        store
            .execution(
                name,
                &dkron_model::Execution::id_for(ts(n as i64 + 1), "node"),
            )
            .ok()
            .flatten()
            .is_some()
    })
}

fn apply_op(store: &Store, n: u64, rng: u64) {
    let names = store.job_names();
    if n.is_multiple_of(3) || names.is_empty() {
        let mut new_job = job(&op_job_name(n));
        new_job.history_limit = Some(100_000);
        if n.is_multiple_of(2) && !names.is_empty() {
            new_job = child(&op_job_name(n), &names[(rng % names.len() as u64) as usize]);
            new_job.history_limit = Some(100_000);
        }
        store.set_job(new_job, &Apply::durable()).unwrap();
    } else {
        let target = &names[(rng % names.len() as u64) as usize];
        let run = finished(
            started(target, "node", n as i64 + 1, n as i64),
            1,
            !rng.is_multiple_of(4),
        );
        store.record_execution_done(run, &Apply::durable()).unwrap();
    }
}

fn verify_after_crash(dir: &Path, acked: &BTreeSet<u64>) {
    let store = open(dir);
    let names = store.job_names();
    let jobs: BTreeMap<String, dkron_model::Job> = names
        .iter()
        .map(|name| (name.clone(), store.job(name).unwrap().unwrap()))
        .collect();
    // Every acknowledged batch is present.
    for &n in acked {
        if jobs.contains_key(&op_job_name(n)) {
            continue;
        }
        assert!(
            op_done_exists(&store, n),
            "acknowledged operation {n} is missing after the crash"
        );
    }
    // No half-applied job write: parent and child agree both ways.
    for (name, job) in &jobs {
        if let Some(parent) = &job.parent_job {
            assert!(
                jobs[parent].dependent_jobs.contains(name),
                "{parent} does not list its child {name}"
            );
        }
        for child_name in &job.dependent_jobs {
            assert_eq!(jobs[child_name].parent_job.as_deref(), Some(name.as_str()));
        }
    }
    // No half-applied report: counters, stored executions and stats agree.
    let mut total = 0;
    for (name, job) in &jobs {
        let executions = store.executions(name, None).unwrap();
        let ok = executions.iter().filter(|e| e.execution.success).count() as u64;
        assert_eq!(job.success_count, ok, "{name}");
        assert_eq!(job.error_count, executions.len() as u64 - ok, "{name}");
        total += executions.len() as u64;
    }
    let stats: u64 = store
        .stats(2, date(1970, 1, 1))
        .unwrap()
        .iter()
        .map(|d| d.success_count + d.failed_count)
        .sum();
    assert_eq!(stats, total);
    assert!(store.running_executions().unwrap().is_empty());
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// An import interrupted after its marker was synced (state half cleared) is finished by the
/// next open from the spooled snapshot.
#[test]
fn interrupted_import_is_finished_at_open() {
    let (_source_dir, source) = temp_store();
    put(&source, job("from-snapshot"));
    done(
        &source,
        finished(started("from-snapshot", "n1", 10, 10), 1, true),
    );
    let mut stream = Vec::new();
    source.export_snapshot(&mut stream).unwrap();

    let dir = tempfile::tempdir().unwrap();
    {
        let target = open(dir.path());
        put(&target, job("old"));
    }
    // The crash point: spool written and synced, marker set, the old state partly gone.
    std::fs::write(dir.path().join("snapshot-import.spool"), &stream).unwrap();
    {
        let path = dir.path().join("rocksdb");
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, families).unwrap();
        db.put_cf(db.cf_handle("meta").unwrap(), b"import_in_progress", b"")
            .unwrap();
        db.delete_cf(db.cf_handle("jobs").unwrap(), b"old").unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.job_names(), ["from-snapshot"]);
    assert_eq!(
        store.job("from-snapshot").unwrap().unwrap().success_count,
        1
    );
    assert_eq!(store.executions("from-snapshot", None).unwrap().len(), 1);
    assert!(!dir.path().join("snapshot-import.spool").exists());
    drop(store);
    // The marker is gone: a second open does not replay anything.
    assert_eq!(open(dir.path()).job_names(), ["from-snapshot"]);
}

/// The state size counts what reached SST files: nothing in a new store, the recovered writes
/// after a reopen (RocksDB flushes the replayed WAL at open), and never the Raft log.
#[test]
fn state_size_counts_state_files_only() {
    let (dir, store) = temp_store();
    assert_eq!(store.state_size_bytes().expect("size"), 0);
    put(&store, job("sized"));
    let before = store.state_size_bytes().expect("size");
    store
        .raft_append(&[(1, vec![7; 1 << 16])], true)
        .expect("log entry");
    drop(store);
    let store = open(dir.path());
    let size = store.state_size_bytes().expect("size");
    assert!(size > before, "{size} bytes after the flush at open");
    assert!(
        size < 1 << 16,
        "{size} bytes: the 64 KiB log entry is not state"
    );
}
