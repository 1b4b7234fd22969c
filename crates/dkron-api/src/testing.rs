//! An in-memory [`Cluster`] with dkron's store rules, for the tests of this crate and of the
//! crates that serve pages over it (`dkron-ui`): one fake, so both test what the same rules do.
//! Behind the `testing` feature; never in a build that ships.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, MutexGuard},
};

use dkron_model::{BackfillOverlap, Execution, Job, Member, MemberStatus, Trigger};
use jiff::{Timestamp, civil::Date};
use tokio::sync::Notify;

use crate::{
    BoxFuture, Cluster, ClusterError, DayStats, ExecQuery, Health, JobQuery, NodeInfo, Page,
    UpsertOptions,
};

#[derive(Debug, Default)]
pub struct State {
    pub jobs: BTreeMap<String, Job>,
    pub executions: BTreeMap<String, Vec<Execution>>,
    pub members: Vec<Member>,
    pub leader: Option<String>,
    pub is_leader: bool,
    pub paused: bool,
    pub stats: Vec<DayStats>,
    pub healthy: bool,
    pub left: bool,
    /// Names passed to `run_job`, in order (also by `?runoncreate`).
    pub runs: Vec<String>,
    /// Backfills asked for, in order: job, instants, overlap.
    pub backfills: Vec<(String, Vec<Timestamp>, BackfillOverlap)>,
    /// When set, `get_job` and `list_jobs` fail with it.
    pub fail_reads: Option<ClusterError>,
    /// Whether manual runs stay running until [`FakeCluster::release`] is notified.
    pub hold_runs: bool,
    /// Clock for execution start times: advanced by one second per run.
    pub clock: i64,
    /// Output a running execution has so far, by id: what `busy` reports (the node's memory),
    /// not what the store holds.
    pub live_output: BTreeMap<String, String>,
    /// Every `list_jobs` query, in order (the UI must ask for pages, never for everything).
    pub job_queries: Vec<JobQuery>,
}

/// The fake: a [`State`] behind a mutex, plus a notifier that finishes held runs.
#[derive(Debug)]
pub struct FakeCluster {
    pub name: String,
    pub state: Mutex<State>,
    pub release: Notify,
}

impl FakeCluster {
    /// A healthy single-node cluster `node1`, leader of itself.
    pub fn new() -> Arc<FakeCluster> {
        let me = Member {
            name: "node1".into(),
            addr: "127.0.0.1".into(),
            port: 8946,
            rpc_addr: "127.0.0.1:6868".into(),
            server: true,
            region: "global".into(),
            datacenter: "dc1".into(),
            version: "0.1.0".into(),
            ..Member::default()
        };
        let agent = Member {
            name: "agent1".into(),
            addr: "127.0.0.2".into(),
            port: 8946,
            status: MemberStatus::Failed,
            ..Member::default()
        };
        Arc::new(FakeCluster {
            name: "node1".into(),
            state: Mutex::new(State {
                members: vec![me, agent],
                leader: Some("node1".into()),
                is_leader: true,
                healthy: true,
                clock: 1_650_914_821,
                ..State::default()
            }),
            release: Notify::new(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed.
        self.state.lock().expect("fake cluster lock")
    }

    /// Stores a job directly (bypassing the API).
    pub fn put(&self, job: Job) {
        self.lock().jobs.insert(job.name.clone(), job);
    }

    /// Stores an execution directly.
    pub fn add_execution(&self, execution: Execution) {
        self.lock()
            .executions
            .entry(execution.job_name.clone())
            .or_default()
            .push(execution);
    }

    fn reads_fail(&self) -> Result<(), ClusterError> {
        match self.lock().fail_reads.clone() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn upsert(&self, mut job: Job, options: UpsertOptions) -> Result<Job, ClusterError> {
        let mut state = self.lock();
        if state.paused {
            return Err(ClusterError::Paused);
        }
        job.normalize_parents();
        let parents: Vec<String> = job.parents().map(str::to_owned).collect();
        if let Some(parent) = parents.iter().find(|p| !state.jobs.contains_key(*p)) {
            return Err(ClusterError::ParentNotFound {
                parent: parent.clone(),
            });
        }
        let old_parents: Vec<String> = state
            .jobs
            .get(&job.name)
            .map(|stored| stored.parents().map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(stored) = state.jobs.get(&job.name) {
            job.merge_server_fields(stored);
        }
        if job.next.is_none() {
            job.next = job.next_fire_after(Timestamp::now());
        }
        for old in old_parents.iter().filter(|p| !parents.contains(p)) {
            if let Some(old) = state.jobs.get_mut(old) {
                old.remove_dependent(&job.name);
            }
        }
        for parent in &parents {
            if let Some(parent) = state.jobs.get_mut(parent) {
                parent.add_dependent(&job.name);
            }
        }
        state.jobs.insert(job.name.clone(), job.clone());
        if options.run_on_create {
            state.runs.push(job.name.clone());
        }
        Ok(job)
    }

    fn start_run(self: &Arc<Self>, name: &str) -> Result<Job, ClusterError> {
        let mut state = self.lock();
        let job = state
            .jobs
            .get(name)
            .cloned()
            .ok_or_else(|| ClusterError::job_not_found(name))?;
        if job.disabled && !job.is_child() {
            return Err(ClusterError::JobDisabled { job: job.name });
        }
        state.clock += 1;
        let execution = Execution {
            job_name: job.name.clone(),
            started_at: Timestamp::from_second(state.clock).expect("in range"),
            node_name: "node1".into(),
            group: state.clock * 1_000_000_000,
            attempt: 1,
            trigger: Trigger::Manual,
            ..Execution::default()
        };
        let id = execution.id();
        state.runs.push(job.name.clone());
        state
            .executions
            .entry(job.name.clone())
            .or_default()
            .push(execution);
        let hold = state.hold_runs;
        drop(state);
        // The run finishes in the background: at once, or when the test releases it.
        let me = Arc::clone(self);
        let job_name = job.name.clone();
        let finish = async move {
            if hold {
                me.release.notified().await;
            }
            let mut state = me.lock();
            if let Some(e) = state
                .executions
                .get_mut(&job_name)
                .and_then(|list| list.iter_mut().find(|e| e.id() == id))
            {
                e.finished_at = Some(e.started_at);
                e.success = true;
                e.output = "ran\n".into();
            }
        };
        tokio::spawn(finish);
        Ok(job)
    }
}

/// The handle the router gets: the trait needs `Arc<Self>` to spawn background work.
#[derive(Debug, Clone)]
pub struct Handle(pub Arc<FakeCluster>);

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl Cluster for Handle {
    fn node_name(&self) -> &str {
        &self.0.name
    }

    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>> {
        let mut tags = BTreeMap::new();
        tags.insert("role".to_owned(), "dkron".to_owned());
        tags.insert("server".to_owned(), "true".to_owned());
        ready(Ok(NodeInfo {
            name: self.0.name.clone(),
            version: "0.1.0".into(),
            tags,
            stats: BTreeMap::new(),
        }))
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        let state = self.0.lock();
        ready(Health {
            healthy: state.healthy,
            issues: if state.healthy {
                Vec::new()
            } else {
                vec!["plugin x has exited".into()]
            },
            leader: Some(state.is_leader),
        })
    }

    fn list_jobs(&self, query: JobQuery) -> BoxFuture<'_, Result<Page<Job>, ClusterError>> {
        self.0.lock().job_queries.push(query.clone());
        let result = self
            .0
            .reads_fail()
            .map(|()| query.apply_borrowed(&mut self.0.lock().jobs.values()));
        ready(result)
    }

    fn get_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        if name == "panic" {
            panic!("the fake cluster panics on the job named panic");
        }
        let result = self.0.reads_fail().and_then(|()| {
            self.0
                .lock()
                .jobs
                .get(&name)
                .cloned()
                .ok_or_else(|| ClusterError::job_not_found(name))
        });
        ready(result)
    }

    fn upsert_job(
        &self,
        job: Job,
        options: UpsertOptions,
    ) -> BoxFuture<'_, Result<Job, ClusterError>> {
        ready(self.0.upsert(job, options))
    }

    fn delete_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        let result = match state.jobs.get(&name) {
            None => Err(ClusterError::job_not_found(name)),
            Some(job) if !job.dependent_jobs.is_empty() => Err(ClusterError::HasDependents {
                job: name,
                dependents: job.dependent_jobs.clone(),
            }),
            Some(_) => {
                let job = state.jobs.remove(&name).expect("present");
                state.executions.remove(&name);
                for parent in job.parents() {
                    if let Some(parent) = state.jobs.get_mut(parent) {
                        parent.remove_dependent(&name);
                    }
                }
                Ok(job)
            }
        };
        ready(result)
    }

    fn run_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        ready(self.0.start_run(&name))
    }

    fn backfill_job(
        &self,
        name: String,
        fires: Vec<Timestamp>,
        overlap: BackfillOverlap,
    ) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        let result = match state.jobs.get(&name).cloned() {
            None => Err(ClusterError::job_not_found(name)),
            Some(job) => {
                state.backfills.push((name, fires, overlap));
                Ok(job)
            }
        };
        ready(result)
    }

    fn toggle_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        let result = match state.jobs.get_mut(&name) {
            None => Err(ClusterError::job_not_found(name)),
            Some(job) => {
                job.toggle_disabled();
                Ok(job.clone())
            }
        };
        ready(result)
    }

    fn list_executions(
        &self,
        job: String,
        query: ExecQuery,
    ) -> BoxFuture<'_, Result<Page<Execution>, ClusterError>> {
        let list = self
            .0
            .lock()
            .executions
            .get(&job)
            .cloned()
            .unwrap_or_default();
        ready(Ok(query.apply(list)))
    }

    fn get_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        let state = self.0.lock();
        let found = state
            .executions
            .get(&job)
            .and_then(|list| list.iter().find(|e| e.id() == id))
            .cloned();
        ready(found.ok_or(ClusterError::ExecutionNotFound { job, id }))
    }

    fn delete_executions(&self, job: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut state = self.0.lock();
        state.executions.remove(&job);
        let result = match state.jobs.get_mut(&job) {
            None => Err(ClusterError::job_not_found(job)),
            Some(stored) => {
                stored.success_count = 0;
                stored.error_count = 0;
                stored.last_success = None;
                stored.last_error = None;
                Ok(stored.clone())
            }
        };
        ready(result)
    }

    fn cancel_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        let state = self.0.lock();
        let found = state
            .executions
            .get(&job)
            .and_then(|list| list.iter().find(|e| e.id() == id))
            .cloned();
        let result = match found {
            None => Err(ClusterError::ExecutionNotFound { job, id }),
            Some(e) if !e.is_running() => Err(ClusterError::ExecutionFinished { job, id }),
            Some(e) => Ok(e),
        };
        ready(result)
    }

    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>> {
        ready(Ok(self.0.lock().members.clone()))
    }

    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>> {
        let state = self.0.lock();
        let leader = state
            .leader
            .as_ref()
            .and_then(|name| state.members.iter().find(|m| &m.name == name))
            .cloned();
        ready(Ok(leader))
    }

    fn is_leader(&self) -> BoxFuture<'_, bool> {
        ready(self.0.lock().is_leader)
    }

    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        let state = self.0.lock();
        let running = state
            .executions
            .values()
            .flatten()
            .filter(|e| e.is_running())
            .cloned()
            .map(|mut e| {
                if let Some(live) = state.live_output.get(&e.id()) {
                    live.clone_into(&mut e.output);
                }
                e
            })
            .collect();
        ready(Ok(running))
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>> {
        ready(Ok(self.0.lock().paused))
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>> {
        self.0.lock().paused = paused;
        ready(Ok(paused))
    }

    fn stats(&self, from: Date, to: Date) -> BoxFuture<'_, Result<Vec<DayStats>, ClusterError>> {
        let stats = self
            .0
            .lock()
            .stats
            .iter()
            .filter(|s| s.date >= from && s.date <= to)
            .copied()
            .collect();
        ready(Ok(stats))
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        self.0.lock().left = true;
        ready(Ok(()))
    }
}
