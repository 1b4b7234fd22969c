//! Shared helpers: temporary stores and small model values.

use std::path::Path;

use dkron_model::{Execution, Job};
use dkron_store::{Apply, Options, Store};
use jiff::Timestamp;
use tempfile::TempDir;

/// A fresh store in its own temporary directory (kept alive by the returned guard).
pub(crate) fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    (dir, store)
}

pub(crate) fn open(dir: &Path) -> Store {
    Store::open(dir, Options::default()).expect("open store")
}

pub(crate) fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("timestamp in range")
}

/// A top-level job firing every minute.
pub(crate) fn job(name: &str) -> Job {
    let mut job = Job::new(name);
    job.schedule = "@every 1m".to_owned();
    job.executor = "shell".to_owned();
    job
}

pub(crate) fn child(name: &str, parent: &str) -> Job {
    let mut job = Job::new(name);
    job.parent_job = Some(parent.to_owned());
    job
}

/// A running execution of `job` on `node`, started at `started` seconds, in group `group`.
pub(crate) fn started(job: &str, node: &str, started: i64, group: i64) -> Execution {
    Execution {
        job_name: job.to_owned(),
        started_at: ts(started),
        node_name: node.to_owned(),
        group,
        attempt: 1,
        ..Execution::default()
    }
}

/// The same execution, finished `after` seconds later.
pub(crate) fn finished(mut execution: Execution, after: i64, success: bool) -> Execution {
    execution.finished_at = Some(ts(execution.started_at.as_second() + after));
    execution.success = success;
    execution.output = if success {
        "ok".to_owned()
    } else {
        "boom".to_owned()
    };
    execution
}

pub(crate) fn put(store: &Store, job: Job) -> Job {
    store.set_job(job, &Apply::local()).expect("set job").job
}

pub(crate) fn done(store: &Store, execution: Execution) -> dkron_store::ExecutionDone {
    store
        .record_execution_done(execution, &Apply::local())
        .expect("record done")
}
