//! [`NodeCluster`]: the [`dkron_api::Cluster`] of a server node. Reads come from the local
//! store; writes go through Raft (forwarded to the leader from a follower). The scheduler
//! learns of job writes from the applied-changes feed (see `leader`), not from here.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::{Router, routing::get};
use dkron_api::{
    ApiOptions, BoxFuture, Cluster, ClusterError, DayStats, ExecQuery, ExecSort, Health, JobQuery,
    NodeInfo, OutputStream, Page, UpsertOptions,
};
use dkron_model::{BackfillOverlap, Execution, Job, Member, MemberStatus};
use dkron_raft::{Command, Refusal, Response};
use dkron_store::SortOrder;
use jiff::{Timestamp, civil::Date};

use crate::{
    handles::{Handles, WriteError},
    leader::Leader,
    live::{Follow, OutputStreams},
    metrics,
    rpc::{CancelRequest, client::NodeClient},
    runner::Runner,
};

/// How long a run request waits for the leader's scheduler to take it in before answering (it
/// is committed either way).
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(2);

/// The REST API of `cluster`, plus `/metrics` (Prometheus text) and, when [`ApiOptions::ui`] is
/// on, the web UI under `/ui/`, all behind the same access control. `tls`: the API is served
/// over TLS (the UI's token cookie is then `Secure`).
pub(crate) fn router(cluster: Arc<NodeCluster>, options: ApiOptions, tls: bool) -> Router {
    let handles = Arc::clone(&cluster.handles);
    let metrics_route = get(move || {
        let handles = Arc::clone(&handles);
        async move {
            let jobs = handles.store.job_count();
            ::metrics::gauge!(metrics::JOBS).set(jobs as f64);
            handles.metrics.run_upkeep();
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                handles.metrics.render(),
            )
        }
    });
    let mut routes = Router::new().route("/metrics", metrics_route);
    if options.ui {
        let ui = dkron_ui::UiOptions::default()
            .with_access(options.access.clone())
            .with_secure_cookies(tls)
            .with_max_backfill_fires(options.max_backfill_fires);
        routes = routes.merge(dkron_ui::router(Arc::clone(&cluster) as _, ui));
    }
    dkron_api::router_with(cluster, options, routes)
}

/// The node as the API sees it.
#[derive(Debug)]
pub(crate) struct NodeCluster {
    handles: Arc<Handles>,
    runner: Arc<Runner>,
    leader: Arc<Leader>,
    /// Other nodes' RPC (their running executions, cancellation, output).
    client: NodeClient,
    /// Slots for following executions' output.
    streams: OutputStreams,
}

impl NodeCluster {
    /// Asks every other alive node to cancel the execution; the first that runs it answers it.
    async fn cancel_on_any_node(&self, job: &str, id: &str) -> Option<Execution> {
        let members = self.handles.store.members().ok()?;
        let request = CancelRequest {
            job: job.to_owned(),
            id: id.to_owned(),
        };
        let others = members
            .iter()
            .filter(|m| m.is_alive() && m.name != self.handles.name());
        let answers = futures_util::future::join_all(
            others.map(|member| self.client.cancel(&member.rpc_addr, &request)),
        )
        .await;
        answers.into_iter().find_map(|answer| answer.ok().flatten())
    }

    pub(crate) fn new(
        handles: Arc<Handles>,
        runner: Arc<Runner>,
        leader: Arc<Leader>,
        client: NodeClient,
        streams: OutputStreams,
    ) -> NodeCluster {
        NodeCluster {
            handles,
            runner,
            leader,
            client,
            streams,
        }
    }

    /// Commits `command`, in the API's terms.
    async fn write(&self, command: Command) -> Result<dkron_raft::Written, ClusterError> {
        self.handles
            .write(command)
            .await
            .map_err(|error| match error {
                WriteError::NotLeader { leader } => ClusterError::NotLeader { leader },
                WriteError::Unavailable(error) => ClusterError::unavailable(error),
            })
    }

    fn stored_job(&self, name: &str) -> Result<Job, ClusterError> {
        self.handles
            .store
            .job(name)
            .map_err(ClusterError::internal)?
            .ok_or_else(|| ClusterError::job_not_found(name))
    }

    /// Commits a job-changing command and answers once it is committed.
    ///
    /// It does not wait for the leader's scheduler to take the change in: a run requested
    /// right after is itself a command on the same applied-changes feed, behind this one, so it
    /// finds the job anyway; and past capacity the feed lags behind the finished executions it
    /// carries, which made every job write wait out a timeout (500 upserts took 147 s).
    async fn write_job(&self, command: Command) -> Result<Job, ClusterError> {
        let written = self.write(command).await?;
        let job = match written.response {
            Response::JobWritten { job, .. } | Response::Job(job) => job,
            Response::Refused(refusal) => return Err(refused(refusal)),
            other => {
                return Err(ClusterError::internal(format!(
                    "unexpected raft response {other:?}"
                )));
            }
        };
        Ok(job)
    }

    fn leader_member(&self) -> Result<Option<Member>, ClusterError> {
        let Some((_, node)) = self.handles.raft.leader() else {
            return Ok(None);
        };
        Ok(self
            .members_now()?
            .into_iter()
            .find(|member| member.name == node.name))
    }

    /// Every member, from replicated state: the member records servers commit at start (with
    /// their tags), and the Raft group for servers not recorded yet. A recorded server no
    /// longer in the group has left.
    fn members_now(&self) -> Result<Vec<Member>, ClusterError> {
        let peers = self.handles.raft.membership();
        let mut members = self
            .handles
            .store
            .members()
            .map_err(ClusterError::internal)?;
        for member in &mut members {
            if member.server && !peers.iter().any(|peer| peer.node.name == member.name) {
                member.status = MemberStatus::Left;
            }
        }
        for peer in peers {
            if !members.iter().any(|member| member.name == peer.node.name) {
                members.push(member_of_peer(&peer.node));
            }
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(members)
    }
}

/// A server known only from the Raft group (its member record is not committed yet).
fn member_of_peer(node: &dkron_raft::NodeInfo) -> Member {
    let (host, port) = node
        .rpc_addr
        .rsplit_once(':')
        .unwrap_or((node.rpc_addr.as_str(), ""));
    Member {
        name: node.name.clone(),
        addr: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        port: port.parse().unwrap_or(0),
        rpc_addr: node.rpc_addr.clone(),
        server: true,
        status: MemberStatus::Alive,
        ..Member::default()
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
        &self.handles.config.name
    }

    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>> {
        Box::pin(async move {
            let mut tags = self.handles.member.all_tags();
            tags.insert(
                "expect".to_owned(),
                self.handles.config.bootstrap_expect.to_string(),
            );
            let metrics = self.handles.raft.metrics();
            let stats = BTreeMap::from([
                ("raft_state".to_owned(), format!("{:?}", metrics.state)),
                ("raft_term".to_owned(), metrics.current_term.to_string()),
                (
                    "raft_last_applied".to_owned(),
                    metrics.last_applied.map_or(0, |id| id.index).to_string(),
                ),
            ]);
            Ok(NodeInfo {
                name: self.handles.config.name.clone(),
                version: self.handles.config.version.clone(),
                tags,
                stats,
            })
        })
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            let leader = self.handles.raft.is_leader();
            let mut issues = Vec::new();
            if let Some(reason) = self.handles.raft.stopped() {
                // Nothing is applied any more: every write would fail and reads go stale.
                issues.push(format!("raft has stopped: {reason}"));
            } else if self.handles.raft.leader().is_none() {
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
                    .handles
                    .store
                    .list_jobs(&store_query(query))
                    .map_err(ClusterError::internal)?;
                return Ok(Page {
                    items: page.jobs,
                    total: page.total,
                });
            }
            // `id=` filters (react-admin's getMany) are not in the store's index: filter here.
            let mut jobs = Vec::with_capacity(self.handles.store.job_count());
            self.handles
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
            if self
                .handles
                .store
                .paused()
                .map_err(ClusterError::internal)?
            {
                return Err(ClusterError::Paused);
            }
            // Checked here too (the store refuses the same) so the answer is a 400, not a 500.
            let store = &self.handles.store;
            job.check_ceilings(&self.handles.config.ceilings)?;
            self.runner.validate(&job)?;
            dkron_model::validate_parent_chain(&job, &|name| {
                store
                    .job(name)
                    .ok()
                    .flatten()
                    .map_or_else(Vec::new, |j| j.parents().map(str::to_owned).collect())
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
            // Checked here for a clear answer; a child is run by its parent's success even
            // when disabled (the scheduler's rule).
            if job.disabled && !job.is_child() {
                return Err(ClusterError::JobDisabled { job: name });
            }
            // A replicated request, so any server takes it: the leader's scheduler launches the
            // run when it sees it applied.
            let written = self.write(Command::RunJob { name }).await?;
            match written.response {
                Response::Job(job) => {
                    self.leader.followed(written.index, FOLLOW_TIMEOUT).await;
                    Ok(job)
                }
                Response::Refused(refusal) => Err(refused(refusal)),
                other => Err(ClusterError::internal(format!(
                    "unexpected raft response {other:?}"
                ))),
            }
        })
    }

    fn backfill_job(
        &self,
        name: String,
        fires: Vec<Timestamp>,
        overlap: BackfillOverlap,
    ) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move {
            // Replicated like a run request: the leader's scheduler runs it when it sees it
            // applied, whichever server took the call.
            let written = self
                .write(Command::Backfill {
                    name,
                    fires,
                    overlap,
                })
                .await?;
            match written.response {
                Response::Job(job) => {
                    self.leader.followed(written.index, FOLLOW_TIMEOUT).await;
                    Ok(job)
                }
                Response::Refused(refusal) => Err(refused(refusal)),
                other => Err(ClusterError::internal(format!(
                    "unexpected raft response {other:?}"
                ))),
            }
        })
    }

    fn toggle_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move { self.write_job(Command::ToggleJob { name }).await })
    }

    fn list_executions(
        &self,
        job: String,
        query: ExecQuery,
    ) -> BoxFuture<'_, Result<Page<Execution>, ClusterError>> {
        Box::pin(async move {
            let not_found = |error| match error {
                dkron_store::Error::JobNotFound { job } => ClusterError::JobNotFound { job },
                error => ClusterError::internal(error),
            };
            let store = &self.handles.store;
            if query.sort == ExecSort::StartedAt {
                // Start order is key order: only the page is read.
                let page = dkron_store::HistoryPage {
                    newest_first: query.descending,
                    start: query.start,
                    end: query.end,
                };
                let (listed, total) = store.executions_page(&job, page, None).map_err(not_found)?;
                return Ok(Page {
                    items: listed.into_iter().map(|l| l.execution).collect(),
                    total,
                });
            }
            // Other orders load the job's history, which its history limit bounds (at most
            // `max-history-limit` executions).
            let listed = store.executions(&job, None).map_err(not_found)?;
            Ok(query.apply(listed.into_iter().map(|l| l.execution).collect()))
        })
    }

    fn get_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        Box::pin(async move {
            match self
                .handles
                .store
                .execution(&job, &id)
                .map_err(ClusterError::internal)?
            {
                Some(execution) => Ok(execution),
                None => {
                    self.stored_job(&job)?;
                    // An `allow` job's start is recorded once its node accepted the run, so a
                    // run listed in `/v1/busy` may not be in the store yet: ask the nodes.
                    match self.cancel_on_any_node(&job, &id).await {
                        Some(cancelled) => Ok(cancelled),
                        None => Err(ClusterError::ExecutionNotFound { job, id }),
                    }
                }
            }
        })
    }

    fn execution_output(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<OutputStream, ClusterError>> {
        let follow = Follow {
            handles: Arc::clone(&self.handles),
            runner: Arc::clone(&self.runner),
            client: self.client.clone(),
            streams: self.streams.clone(),
        };
        Box::pin(async move { follow.follow(job, id).await })
    }

    fn delete_executions(&self, job: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        Box::pin(async move {
            match self
                .write(Command::DeleteExecutions { job })
                .await?
                .response
            {
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
            let running = self.runner.cancel(&job, &id);
            if let Some(execution) = running {
                return Ok(execution);
            }
            match self
                .handles
                .store
                .execution(&job, &id)
                .map_err(ClusterError::internal)?
            {
                Some(execution) if !execution.is_running() => {
                    Err(ClusterError::ExecutionFinished { job, id })
                }
                // Running on another node: ask it to stop it there.
                Some(execution) if execution.node_name != self.handles.name() => {
                    let member = self
                        .handles
                        .store
                        .member(&execution.node_name)
                        .map_err(ClusterError::internal)?;
                    let Some(member) = member.filter(Member::is_alive) else {
                        // Its node is gone: the leader closes it as lost.
                        return Ok(execution);
                    };
                    let request = CancelRequest {
                        job: job.clone(),
                        id: id.clone(),
                    };
                    match self.client.cancel(&member.rpc_addr, &request).await {
                        Ok(Some(cancelled)) => Ok(cancelled),
                        Ok(None) => Ok(execution),
                        Err(error) => Err(ClusterError::unavailable(error)),
                    }
                }
                // Recorded as running here but not running: a crash cut it off. Nothing to stop.
                Some(execution) => Ok(execution),
                None => {
                    self.stored_job(&job)?;
                    // An `allow` job's start is recorded once its node accepted the run, so a
                    // run listed in `/v1/busy` may not be in the store yet: ask the nodes.
                    match self.cancel_on_any_node(&job, &id).await {
                        Some(cancelled) => Ok(cancelled),
                        None => Err(ClusterError::ExecutionNotFound { job, id }),
                    }
                }
            }
        })
    }

    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>> {
        Box::pin(async move { self.members_now() })
    }

    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>> {
        Box::pin(async move { self.leader_member() })
    }

    fn is_leader(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.handles.raft.is_leader() })
    }

    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        Box::pin(async move {
            // Every alive node's, asked at once; a node that does not answer is left out.
            let mut running = self.runner.running();
            let members = self
                .handles
                .store
                .members()
                .map_err(ClusterError::internal)?;
            let others = members
                .iter()
                .filter(|m| m.is_alive() && m.name != self.handles.name());
            let answers = futures_util::future::join_all(
                others.map(|member| self.client.busy(&member.rpc_addr)),
            )
            .await;
            for answer in answers {
                match answer {
                    Ok(theirs) => running.extend(theirs),
                    Err(error) => tracing::debug!(%error, "a node's running executions unknown"),
                }
            }
            Ok(running)
        })
    }

    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>> {
        Box::pin(async move { self.handles.store.paused().map_err(ClusterError::internal) })
    }

    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>> {
        Box::pin(async move {
            match self.write(Command::SetPaused(paused)).await?.response {
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
                .handles
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
            self.handles.leave.cancel();
            Ok(())
        })
    }
}
