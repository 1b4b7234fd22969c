//! [`MemoryStore`]: the in-memory job source, launch log and execution sink for embedded use and
//! tests.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Mutex, MutexGuard, PoisonError},
};

use dkron_model::{Execution, Job, LaunchRecord, Limits};
use jiff::Timestamp;

use crate::{
    BoxError,
    ports::{BoxFuture, ExecutionSink, JobSource, LaunchLog},
};

#[cfg(test)]
mod tests;

/// `(group, attempt)` keys remembered per job to refuse a repeated launch (a retry decided
/// twice). Repeats are of recent launches, so a short window suffices.
const ATTEMPT_KEYS_KEPT: usize = 64;

/// Jobs, launch records and executions in memory, behind one short-held mutex.
///
/// Bounded: per job it keeps the last `history` executions (the job's `history_limit`, else
/// [`Limits::DKRON`]) and the last `launches_kept` launch records, plus one timestamp and a few
/// retry keys for de-duplication. Nothing survives the process: an embedded service that must
/// not repeat fires after a restart implements [`LaunchLog`] on its own storage.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    limits: Limits,
    launches_kept: usize,
}

#[derive(Debug, Default)]
struct Inner {
    jobs: BTreeMap<String, Job>,
    launches: HashMap<String, JobLaunches>,
    executions: HashMap<String, VecDeque<Execution>>,
}

#[derive(Debug, Default)]
struct JobLaunches {
    last_scheduled: Option<Timestamp>,
    attempt_keys: VecDeque<(i64, u32)>,
    recent: VecDeque<LaunchRecord>,
    total: u64,
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store keeping dkron's 100 executions per job and the last 16 launch records.
    pub fn new() -> MemoryStore {
        MemoryStore::with_limits(Limits::DKRON, 16)
    }

    /// An empty store with node-wide `limits` (executions kept per job when the job sets none)
    /// and `launches_kept` launch records kept per job (0 keeps only what de-duplication needs).
    pub fn with_limits(limits: Limits, launches_kept: usize) -> MemoryStore {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            limits,
            launches_kept,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent, so a panic elsewhere cannot have
        // left half an update: continuing after poisoning is safe.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or replaces a job (what [`JobSource::load_jobs`] returns at the next start).
    pub fn put_job(&self, job: Job) {
        self.lock().jobs.insert(job.name.clone(), job);
    }

    /// The stored job named `name`.
    pub fn job(&self, name: &str) -> Option<Job> {
        self.lock().jobs.get(name).cloned()
    }

    /// Names of the stored jobs, sorted.
    pub fn job_names(&self) -> Vec<String> {
        self.lock().jobs.keys().cloned().collect()
    }

    /// The kept executions of `job`, oldest first.
    pub fn executions(&self, job: &str) -> Vec<Execution> {
        self.lock()
            .executions
            .get(job)
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The kept launch records of `job`, oldest first.
    pub fn launches(&self, job: &str) -> Vec<LaunchRecord> {
        self.lock()
            .launches
            .get(job)
            .map(|l| l.recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many launches of `job` were recorded in total.
    pub fn launch_count(&self, job: &str) -> u64 {
        self.lock().launches.get(job).map_or(0, |l| l.total)
    }

    /// Records one launch (the logic behind [`LaunchLog::record_launches`]); `false` when it was
    /// launched already.
    pub fn record(&self, record: &LaunchRecord) -> bool {
        self.record_locked(&mut self.lock(), record)
    }

    fn record_locked(&self, inner: &mut Inner, record: &LaunchRecord) -> bool {
        let entry = match inner.launches.get_mut(record.job_name.as_str()) {
            Some(entry) => entry,
            None => inner.launches.entry(record.job_name.clone()).or_default(),
        };
        let key = (record.group, record.attempt);
        if !record.is_new(entry.last_scheduled, entry.attempt_keys.contains(&key)) {
            return false;
        }
        entry.last_scheduled = record.last_scheduled_after(entry.last_scheduled);
        if entry.attempt_keys.len() == ATTEMPT_KEYS_KEPT {
            entry.attempt_keys.pop_front();
        }
        entry.attempt_keys.push_back(key);
        entry.total += 1;
        if self.launches_kept > 0 {
            if entry.recent.len() == self.launches_kept {
                entry.recent.pop_front();
            }
            entry.recent.push_back(record.clone());
        }
        true
    }

    fn keep_execution(&self, execution: &Execution) {
        let mut inner = self.lock();
        let limit = inner
            .jobs
            .get(execution.job_name.as_str())
            .map_or(self.limits.history, |job| {
                job.effective_history_limit(&self.limits)
            });
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit == 0 {
            return;
        }
        let kept = inner
            .executions
            .entry(execution.job_name.clone())
            .or_default();
        while kept.len() >= limit {
            kept.pop_front();
        }
        kept.push_back(execution.clone());
    }
}

impl JobSource for MemoryStore {
    fn load_jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, BoxError>> {
        let jobs = self.lock().jobs.values().cloned().collect();
        Box::pin(std::future::ready(Ok(jobs)))
    }

    fn delete_job<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        self.lock().jobs.remove(name);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl LaunchLog for MemoryStore {
    fn record_launches<'a>(
        &'a self,
        records: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        let mut inner = self.lock();
        let fresh = records
            .iter()
            .map(|record| self.record_locked(&mut inner, record))
            .collect();
        Box::pin(std::future::ready(Ok(fresh)))
    }

    fn last_fire<'a>(
        &'a self,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        let last = self
            .lock()
            .launches
            .get(job_name)
            .and_then(|l| l.last_scheduled);
        Box::pin(std::future::ready(Ok(last)))
    }
}

impl ExecutionSink for MemoryStore {
    fn record_execution<'a>(
        &'a self,
        execution: &'a Execution,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.keep_execution(execution);
        Box::pin(std::future::ready(Ok(())))
    }
}
