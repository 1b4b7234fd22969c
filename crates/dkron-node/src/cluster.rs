//! [`NodeCluster`]: the [`dkron_api::Cluster`] of a server node. Reads come from the local
//! store; writes go through Raft and then, on the leader, to the scheduler.

use std::{
    collections::BTreeMap,
    sync::{Arc, PoisonError},
};

use axum::{Router, routing::get};
use dkron_api::{
    ApiOptions, BoxFuture, Cluster, ClusterError, DayStats, Health, JobQuery, NodeInfo, Page,
    UpsertOptions,
};
use dkron_model::{Execution, Job, Member};
use dkron_raft::{Command, Refusal, Response};
use dkron_store::SortOrder;
use jiff::{Timestamp, civil::Date};

use crate::{metrics, node::Shared};

/// The REST API of `cluster`, plus `/metrics` (Prometheus text).
pub(crate) fn router(
    cluster: Arc<NodeCluster>,
    options: ApiOptions,
    shared: Arc<Shared>,
) -> Router {
    let metrics_route = get(move || {
        let shared = Arc::clone(&shared);
        async move {
            let jobs = shared.store.job_count();
            ::metrics::gauge!(metrics::JOBS).set(jobs as f64);
            shared.metrics.run_upkeep();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                shared.metrics.render(),
            )
        }
    });
    dkron_api::router(cluster, options).route("/metrics", metrics_route)
}

/// The node as the API sees it.
#[derive(Debug)]
pub(crate) struct NodeCluster {
    shared: Arc<Shared>,
}

impl NodeCluster {
    pub(crate) fn new(shared: Arc<Shared>) -> NodeCluster {
        NodeCluster { shared }
    }

    fn stored_job(&self, name: &str) -> Result<Job, ClusterError> {
        self.shared
            .store
            .job(name)
            .map_err(ClusterError::internal)?
            .ok_or_else(|| ClusterError::job_not_found(name))
    }

    /// Commits a job-changing command and tells the leader's scheduler about the result, both
    /// under the scheduler lock (see `Shared::scheduler`).
    ///
    /// The scheduler finds a job's children through the parent's `dependent_jobs`, which the
    /// store maintains: so the old and new parents of a written or deleted job are reloaded
    /// into the scheduler too.
    async fn write_job(&self, command: Command) -> Result<Job, ClusterError> {
        let scheduler = self.shared.scheduler.lock().await;
        let (name, deleting) = match &command {
            Command::SetJob(job) => (job.name.clone(), false),
            Command::DeleteJob { name } => (name.clone(), true),
            Command::ToggleJob { name } => (name.clone(), false),
            other => {
                return Err(ClusterError::internal(format!(
                    "not a job write: {}",
                    other.kind()
                )));
            }
        };
        let mut parents: Vec<String> = Vec::new();
        if let Command::SetJob(job) = &command {
            parents.extend(job.parent_job.clone());
        }
        let old_parent = self
            .shared
            .store
            .job(&name)
            .ok()
            .flatten()
            .and_then(|j| j.parent_job);
        parents.extend(old_parent);
        parents.retain(|p| !p.is_empty());
        parents.dedup();

        let job = match self.shared.write(command).await? {
            Response::JobWritten { job, .. } | Response::Job(job) => job,
            Response::Refused(refusal) => return Err(refused(refusal)),
            other => {
                return Err(ClusterError::internal(format!(
                    "unexpected raft response {other:?}"
                )));
            }
        };
        if let Some(scheduler) = scheduler.as_ref() {
            let mut told = if deleting {
                scheduler.remove(&job.name).await.map(drop)
            } else {
                scheduler.upsert(job.clone()).await
            };
            for parent in &parents {
                if let Ok(Some(parent)) = self.shared.store.job(parent) {
                    told = told.and(scheduler.upsert(parent).await);
                }
            }
            if let Err(error) = told {
                // The write is committed; the scheduler reloads from the store on the next
                // leadership change. Say so rather than fail a durable write.
                tracing::error!(%error, job = %job.name, "scheduler not updated after a job write");
            }
        }
        Ok(job)
    }

    fn busy(&self) -> Vec<Execution> {
        let busy = self
            .shared
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        busy.values().map(|b| b.execution.clone()).collect()
    }

    fn leader_member(&self) -> Option<Member> {
        let (_, node) = self.shared.raft.leader()?;
        if node.name == self.shared.member.name {
            return Some(self.shared.member.clone());
        }
        let (host, port) = node
            .rpc_addr
            .rsplit_once(':')
            .unwrap_or((node.rpc_addr.as_str(), ""));
        Some(Member {
            name: node.name.clone(),
            addr: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: port.parse().unwrap_or(0),
            rpc_addr: node.rpc_addr.clone(),
            server: true,
            ..Member::default()
        })
    }
}

/// The store's form of an API listing query (without `id=` filters).
fn store_query(query: JobQuery) -> dkron_store::JobQuery {
    dkron_store::JobQuery {
        metadata: query.metadata,
        q: query.text,
        status: query.status,
        disabled: query.disabled,
        sort: query.sort,
        order: if query.descending {
            SortOrder::Desc
        } else {
            SortOrder::Asc
        },
        start: query.start,
        end: query.end,
    }
}

/// The API error for a state-machine refusal.
fn refused(refusal: Refusal) -> ClusterError {
    match refusal {
        Refusal::JobNotFound { job } => ClusterError::JobNotFound { job },
        Refusal::ParentNotFound { parent, .. } => ClusterError::ParentNotFound { parent },
        Refusal::HasDependents { job, children } => ClusterError::HasDependents {
            job,
            dependents: children,
        },
        other => ClusterError::internal(other),
    }
}

impl Cluster for NodeCluster {
    fn node_name(&self) -> &str {
        &self.shared.config.name
    }

    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>> {
        Box::pin(async move {
            let mut tags = self.shared.member.all_tags();
            tags.insert(
                "expect".to_owned(),
                self.shared.config.bootstrap_expect.to_string(),
            );
            let metrics = self.shared.raft.metrics();
            let stats = BTreeMap::from([
                ("raft_state".to_owned(), format!("{:?}", metrics.state)),
                ("raft_term".to_owned(), metrics.current_term.to_string()),
                (
                    "raft_last_applied".to_owned(),
                    metrics.last_applied.map_or(0, |id| id.index).to_string(),
                ),
            ]);
            Ok(NodeInfo {
                name: self.shared.config.name.clone(),
                version: self.shared.config.version.clone(),
                tags,
                stats,
            })
        })
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            let leader = self.shared.raft.is_leader();
            let mut issues = Vec::new();
            if self.shared.raft.leader().is_none() {
                issues.push("no raft leader is known".to_owned());
            }
            Health {
                healthy: issues.is_empty(),
                issues,
                leader: Some(leader),
            }
        })
    }

    fn list_jobs(&self, query: JobQuery) -> BoxFuture<'_, Result<Page<Job>, ClusterError>> {
        Box::pin(async move {
            if query.names.is_empty() {
                // The store pages from its in-memory index: O(log n + page) unfiltered.
                let page = self
                    .shared
                    .store
                    .list_jobs(&store_query(query))
                    .map_err(ClusterError::internal)?;
                return Ok(Page {
                    items: page.jobs,
                    total: page.total,
                });
            }
            // `id=` filters (react-admin's getMany) are not in the store's index: filter here.
            let mut jobs = Vec::with_capacity(self.shared.store.job_count());
            self.shared
                .store
                .for_each_job(&mut |job| jobs.push(job))
                .map_err(ClusterError::internal)?;
            Ok(query.apply(&mut jobs.into_iter()))
        })
    }

    fn get_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move { self.stored_job(&name) })
    }

    fn upsert_job(
        &self,
        mut job: Job,
        options: UpsertOptions,
    ) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move {
            // dkron's pause gates submissions only: the scheduler keeps firing and manual runs
            // still run (see the crate docs).
            if self.shared.store.paused().map_err(ClusterError::internal)? {
                return Err(ClusterError::Paused);
            }
            // Checked here too (the store refuses the same) so the answer is a 400, not a 500.
            let store = &self.shared.store;
            dkron_model::validate_parent_chain(&job, &|name| {
                store.job(name).ok().flatten().and_then(|j| j.parent_job)
            })?;
            job.next = if job.disabled {
                None
            } else {
                job.next_fire_after(Timestamp::now())
            };
            let name = job.name.clone();
            let stored = self.write_job(Command::SetJob(Box::new(job))).await?;
            if options.run_on_create {
                self.run_job(name).await?;
            }
            Ok(stored)
        })
    }

    fn delete_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move { self.write_job(Command::DeleteJob { name }).await })
    }

    fn run_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move {
            let job = self.stored_job(&name)?;
            let scheduler = self.shared.scheduler.lock().await.clone();
            let Some(scheduler) = scheduler else {
                let leader = self.shared.raft.leader().map(|(_, node)| node.name);
                return Err(ClusterError::NotLeader { leader });
            };
            match scheduler.run_now(&name).await {
                Ok(_group) => Ok(job),
                Err(dkron_scheduler::Error::JobNotFound { name }) => {
                    Err(ClusterError::JobNotFound { job: name })
                }
                Err(dkron_scheduler::Error::JobDisabled { name }) => {
                    Err(ClusterError::JobDisabled { job: name })
                }
                Err(error) => Err(ClusterError::unavailable(error)),
            }
        })
    }

    fn toggle_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move { self.write_job(Command::ToggleJob { name }).await })
    }

    fn list_executions(&self, job: String) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        Box::pin(async move {
            match self.shared.store.executions(&job, None) {
                Ok(listed) => Ok(listed.into_iter().map(|l| l.execution).collect()),
                Err(dkron_store::Error::JobNotFound { job }) => {
                    Err(ClusterError::JobNotFound { job })
                }
                Err(error) => Err(ClusterError::internal(error)),
            }
        })
    }

    fn get_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        Box::pin(async move {
            match self
                .shared
                .store
                .execution(&job, &id)
                .map_err(ClusterError::internal)?
            {
                Some(execution) => Ok(execution),
                None => {
                    self.stored_job(&job)?;
                    Err(ClusterError::ExecutionNotFound { job, id })
                }
            }
        })
    }

    fn delete_executions(&self, job: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move {
            match self.shared.write(Command::DeleteExecutions { job }).await? {
                Response::Job(job) => Ok(job),
                Response::Refused(refusal) => Err(refused(refusal)),
                other => Err(ClusterError::internal(format!(
                    "unexpected raft response {other:?}"
                ))),
            }
        })
    }

    fn cancel_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        Box::pin(async move {
            let running = {
                let busy = self
                    .shared
                    .busy
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                busy.get(&id)
                    .filter(|b| b.execution.job_name == job)
                    .map(|b| {
                        b.cancel.cancel();
                        b.execution.clone()
                    })
            };
            if let Some(execution) = running {
                return Ok(execution);
            }
            match self
                .shared
                .store
                .execution(&job, &id)
                .map_err(ClusterError::internal)?
            {
                Some(execution) if !execution.is_running() => {
                    Err(ClusterError::ExecutionFinished { job, id })
                }
                // Recorded as running but not running here: its node is gone (single server:
                // a crash). Nothing to stop.
                Some(execution) => Ok(execution),
                None => {
                    self.stored_job(&job)?;
                    Err(ClusterError::ExecutionNotFound { job, id })
                }
            }
        })
    }

    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>> {
        Box::pin(async move { Ok(vec![self.shared.member.clone()]) })
    }

    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>> {
        Box::pin(async move { Ok(self.leader_member()) })
    }

    fn is_leader(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.shared.raft.is_leader() })
    }

    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        Box::pin(async move { Ok(NodeCluster::busy(self)) })
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>> {
        Box::pin(async move { self.shared.store.paused().map_err(ClusterError::internal) })
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>> {
        Box::pin(async move {
            match self.shared.write(Command::SetPaused(paused)).await? {
                Response::Done => Ok(paused),
                Response::Refused(refusal) => Err(refused(refusal)),
                other => Err(ClusterError::internal(format!(
                    "unexpected raft response {other:?}"
                ))),
            }
        })
    }

    fn stats(&self, from: Date, to: Date) -> BoxFuture<'_, Result<Vec<DayStats>, ClusterError>> {
        Box::pin(async move {
            let span = from.until(to).map_err(ClusterError::internal)?;
            let days = u32::try_from(span.get_days().max(0))
                .unwrap_or(0)
                .saturating_add(1);
            let stats = self
                .shared
                .store
                .stats(days, to)
                .map_err(ClusterError::internal)?;
            Ok(stats
                .into_iter()
                .filter(|d| d.success_count > 0 || d.failed_count > 0)
                .map(|d| DayStats {
                    date: d.date,
                    success_count: d.success_count,
                    failed_count: d.failed_count,
                })
                .collect())
        })
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        Box::pin(async move {
            self.shared.leave.cancel();
            Ok(())
        })
    }
}
