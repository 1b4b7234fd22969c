//! The [`Cluster`] trait: everything the API asks of the node, and the plain types it trades in.
//!
//! The trait is object safe (`Arc<dyn Cluster>`): async methods return a boxed future
//! ([`BoxFuture`]), so an implementation writes `Box::pin(async move { … })`. Arguments are owned
//! so the future can hold them without lifetimes.

use std::{collections::BTreeMap, future::Future, pin::Pin};

use dkron_model::{BackfillOverlap, Execution, Job, Member};
use jiff::{Timestamp, civil::Date};

use crate::{ClusterError, ExecQuery, JobQuery, OutputStream, Page};

/// A boxed, sendable future: the return type of every async [`Cluster`] method.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the API needs from the node it runs on. `dkron-node` implements it over Raft, the store,
/// the scheduler and the executors; tests implement it in memory.
///
/// Reads (`get_job`, `list_jobs`, executions, members) may be served from the local replica.
/// Writes (`upsert_job`, `delete_job`, `toggle_job`, `delete_executions`) must be committed
/// (forwarded to the leader if needed) before they return `Ok`: a 2xx answer is a durability
/// promise. A read after one's own write on the same node must see it.
///
/// Jobs handed to [`Cluster::upsert_job`] are validated by the API with [`Job::validate`]
/// first; the implementation adds the checks that need other jobs (parent exists, no cycle).
///
/// The API sets no deadline of its own: implementations bound their waits (forwarding to the
/// leader, committing) and answer [`ClusterError::Unavailable`] rather than hang a request.
pub trait Cluster: Send + Sync + 'static {
    /// This node's name: the `X-Whom` header of every response, and the node of `/v1`.
    fn node_name(&self) -> &str;

    /// Identity, tags and free-form statistics of this node for `GET /v1`.
    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>>;

    /// Health of this node for `GET /health`. Infallible: an unhealthy node says so in the value.
    fn health(&self) -> BoxFuture<'_, Health>;

    /// Jobs matching `query`, sorted and sliced by it; [`Page::total`] is the count of matching
    /// jobs before slicing. [`JobQuery::apply`] does all of it over any iterator of jobs; when
    /// [`JobQuery::is_plain_name_page`] holds, answer from a name-ordered scan in O(page) so a
    /// paged list costs the same at 100k jobs as at 1k.
    fn list_jobs(&self, query: JobQuery) -> BoxFuture<'_, Result<Page<Job>, ClusterError>>;

    /// One job, or [`ClusterError::JobNotFound`].
    fn get_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// Creates the job or replaces the stored one of the same name (dkron has no partial update)
    /// and returns the job as stored.
    ///
    /// The submitted job carries what the client sent for the server-maintained fields:
    /// `success_count`, `error_count`, `last_success`, `last_error` as sent (so restoring a backup
    /// keeps history counters), while the API has already cleared `status`, `dependent_jobs` and
    /// `next`. The implementation merges with the stored version ([`Job::merge_server_fields`]:
    /// counters take the maximum, `status` and `dependent_jobs` stay the stored ones), maintains
    /// the parent's `dependent_jobs`, and recomputes `next`.
    ///
    /// Errors: [`ClusterError::ParentNotFound`], [`ClusterError::Validation`] (cycles),
    /// [`ClusterError::Paused`], the availability variants.
    fn upsert_job(
        &self,
        job: Job,
        options: UpsertOptions,
    ) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// Deletes the job and all its executions, removes it from its parent's `dependent_jobs`,
    /// and returns it as it was. Errors: [`ClusterError::JobNotFound`],
    /// [`ClusterError::HasDependents`].
    fn delete_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// Starts a manual run and returns the job **at once**; the execution proceeds in the
    /// background (dkron held the HTTP request until every target finished). Manual runs ignore
    /// `concurrency`, `starts_at`, `expires_at` and the pause flag, as in dkron.
    ///
    /// Errors: [`ClusterError::JobNotFound`], [`ClusterError::JobDisabled`] (a disabled
    /// top-level job, if the node keeps dkron's rule), [`ClusterError::NoTargets`].
    fn run_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// dkron-rs: runs `fires` (scheduled instants of the job, oldest first, already bounded
    /// and filtered for `skip` by the API) as backfilled runs with `overlap`, in the background,
    /// and returns the job at once. Errors: [`ClusterError::JobNotFound`].
    fn backfill_job(
        &self,
        name: String,
        fires: Vec<Timestamp>,
        overlap: BackfillOverlap,
    ) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// Flips `disabled` and returns the job as stored. Not blocked by pause.
    fn toggle_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// One page of the job's retained executions, sorted and sliced as `query` says, with the
    /// number retained ([`Page::total`], `X-Total-Count`); [`ExecQuery::apply`] does it over a
    /// list. An implementation with a large history should read only the page (dkron-node does
    /// for the default order). An unknown job may give [`ClusterError::JobNotFound`] or an
    /// empty page: the API checks existence with [`Cluster::get_job`] first.
    fn list_executions(
        &self,
        job: String,
        query: ExecQuery,
    ) -> BoxFuture<'_, Result<Page<Execution>, ClusterError>>;

    /// One execution by its id (`<started_at unix nanos>-<node>`), with its full stored output.
    /// Errors: [`ClusterError::JobNotFound`], [`ClusterError::ExecutionNotFound`].
    fn get_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>>;

    /// Follows the output of execution `id` of `job` (`GET …/executions/{id}/stream`): what it
    /// output so far (at most its output limit), each new chunk as the node running it reads
    /// it, then its end; a finished execution's stored output and end at once. The stream
    /// ends when dropped (the client went away). Errors: [`ClusterError::JobNotFound`],
    /// [`ClusterError::ExecutionNotFound`], [`ClusterError::Unavailable`] (too many streams).
    ///
    /// The default serves the stored execution only ([`crate::stored_output`]): a running
    /// one's stored output, then [`crate::OutputEvent::Interrupted`].
    fn execution_output(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<OutputStream, ClusterError>> {
        Box::pin(async move {
            let execution = self.get_execution(job, id).await?;
            Ok(crate::stored_output(&execution))
        })
    }

    /// Deletes every execution of the job, resets `success_count`, `error_count`,
    /// `last_success`, `last_error`, and returns the updated job.
    fn delete_executions(&self, job: String) -> BoxFuture<'_, Result<Job, ClusterError>>;

    /// Asks the node running the execution to stop it and returns the execution as known now
    /// (it may still read as running: cancellation is asynchronous). Errors:
    /// [`ClusterError::ExecutionNotFound`], [`ClusterError::ExecutionFinished`].
    fn cancel_execution(
        &self,
        job: String,
        id: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>>;

    /// Every known member, servers and agents, in any state.
    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>>;

    /// The current leader, or `None` if none is known.
    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>>;

    /// Whether this node is the leader now.
    fn is_leader(&self) -> BoxFuture<'_, bool>;

    /// Executions running now anywhere in the cluster (the API sorts them by start).
    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>>;

    /// Whether job submissions are paused.
    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>>;

    /// Pauses or resumes job submissions; returns the new state.
    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>>;

    /// Execution counts per UTC day for the days `from..=to` that have any; the API fills the
    /// other days with zeros and orders them.
    fn stats(&self, from: Date, to: Date) -> BoxFuture<'_, Result<Vec<DayStats>, ClusterError>>;

    /// Makes this node leave the cluster gracefully (`POST /v1/leave`). The HTTP answer is
    /// written before the node actually stops, so the implementation should stop in the
    /// background.
    fn leave(&self) -> BoxFuture<'_, Result<(), ClusterError>>;
}

/// Options of [`Cluster::upsert_job`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertOptions {
    /// `?runoncreate`: start a manual run right after the write (in the background).
    pub run_on_create: bool,
}

/// This node as `GET /v1` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// dkron-rs version.
    pub version: String,
    /// All tags of this node, reserved ones included ([`Member::all_tags`]).
    pub tags: BTreeMap<String, String>,
    /// Extra statistics rendered in dkron's `serf` map (all values strings). The API fills
    /// `members`, `failed` and `left` from [`Cluster::members`] when they are absent.
    pub stats: BTreeMap<String, String>,
}

/// Health of this node (`GET /health`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// `false` gives HTTP 503 `{"status":"unhealthy",…}`.
    pub healthy: bool,
    /// What is wrong, one sentence each.
    pub issues: Vec<String>,
    /// Servers only: whether this node leads (`None` on agents).
    pub leader: Option<bool>,
}

/// Execution counts of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStats {
    /// The day.
    pub date: Date,
    /// Successful executions that finished that day.
    pub success_count: u64,
    /// Failed executions that finished that day.
    pub failed_count: u64,
}
