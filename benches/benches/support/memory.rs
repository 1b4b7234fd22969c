//! An in-memory [`Cluster`] for the benches that drive a router in process (`api`, `ui`): a
//! name-ordered map of jobs, paged in O(page) on the plain name-ordered path and through
//! `JobQuery::apply_borrowed` (O(n)) otherwise, as the node's store does.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use dkron_api::{
    BoxFuture, Cluster, ClusterError, DayStats, ExecQuery, Health, JobQuery, NodeInfo, Page,
    UpsertOptions,
};
use dkron_benches::workload::bench_job;
use dkron_model::{Execution, Job, Member};
use jiff::{Timestamp, civil::Date};

/// In-memory jobs and one job's executions; enough of [`Cluster`] for the routes measured.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    name: String,
    jobs: RwLock<BTreeMap<String, Job>>,
    executions: Vec<Execution>,
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

fn unsupported<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, ClusterError>> {
    ready(Err(ClusterError::internal("not part of the benchmark")))
}

impl Memory {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Job>> {
        // A poisoned lock means a benchmark already panicked.
        self.jobs.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Cluster for Memory {
    fn node_name(&self) -> &str {
        &self.name
    }
    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>> {
        unsupported()
    }
    fn health(&self) -> BoxFuture<'_, Health> {
        ready(Health {
            healthy: true,
            issues: Vec::new(),
            leader: Some(true),
        })
    }
    fn list_jobs(&self, query: JobQuery) -> BoxFuture<'_, Result<Page<Job>, ClusterError>> {
        let jobs = self.read();
        let page = if query.is_plain_name_page() && !query.descending {
            let end = query.end.unwrap_or(jobs.len()).min(jobs.len());
            let start = query.start.min(end);
            Page {
                items: jobs
                    .values()
                    .skip(start)
                    .take(end - start)
                    .cloned()
                    .collect(),
                total: jobs.len(),
            }
        } else {
            query.apply_borrowed(&mut jobs.values())
        };
        ready(Ok(page))
    }
    fn get_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let found = self.read().get(&name).cloned();
        ready(found.ok_or_else(|| ClusterError::job_not_found(name)))
    }
    fn upsert_job(&self, job: Job, _: UpsertOptions) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut jobs = self.jobs.write().unwrap_or_else(|e| e.into_inner());
        jobs.insert(job.name.clone(), job.clone());
        ready(Ok(job))
    }
    fn delete_job(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn run_job(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn backfill_job(
        &self,
        _: String,
        _: Vec<jiff::Timestamp>,
        _: dkron_model::BackfillOverlap,
    ) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn toggle_job(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn list_executions(
        &self,
        _: String,
        query: ExecQuery,
    ) -> BoxFuture<'_, Result<Page<Execution>, ClusterError>> {
        ready(Ok(query.apply(self.executions.clone())))
    }
    fn get_execution(
        &self,
        _: String,
        _: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        unsupported()
    }
    fn delete_executions(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn cancel_execution(
        &self,
        _: String,
        _: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        unsupported()
    }
    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>> {
        ready(Ok(Vec::new()))
    }
    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>> {
        ready(Ok(None))
    }
    fn is_leader(&self) -> BoxFuture<'_, bool> {
        ready(true)
    }
    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        ready(Ok(Vec::new()))
    }
    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>> {
        ready(Ok(false))
    }
    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>> {
        ready(Ok(paused))
    }
    fn stats(&self, _: Date, _: Date) -> BoxFuture<'_, Result<Vec<DayStats>, ClusterError>> {
        ready(Ok(Vec::new()))
    }
    fn leave(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        unsupported()
    }
}

/// `jobs` bench jobs ([`bench_job`]) and 100 finished executions of `job-000000` with 4 KiB of
/// output each.
pub(crate) fn memory(jobs: usize) -> Arc<Memory> {
    let started = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let executions = (0..100)
        .map(|i| Execution {
            job_name: "job-000000".into(),
            started_at: started + jiff::SignedDuration::from_secs(i * 60),
            finished_at: Some(started + jiff::SignedDuration::from_secs(i * 60 + 1)),
            success: true,
            output: "x".repeat(4096),
            node_name: "node1".into(),
            group: i,
            attempt: 1,
            ..Execution::default()
        })
        .collect();
    Arc::new(Memory {
        name: "node1".into(),
        jobs: RwLock::new(
            (0..jobs)
                .map(|i| (bench_job(i).name, bench_job(i)))
                .collect(),
        ),
        executions,
    })
}
