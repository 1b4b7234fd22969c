//! The traits through which the scheduler reaches the world: where jobs come from, where launch
//! records and finished executions go. The embedding code implements them (the cluster node
//! through Raft); [`crate::MemoryStore`] implements all three in memory.
//!
//! They are object-safe (`Arc<dyn …>`), and their async methods return [`BoxFuture`], so no
//! generic parameter crosses the crate boundary.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use dkron_model::{Execution, Job, LaunchRecord};
use jiff::Timestamp;

use crate::BoxError;

/// A boxed, sendable future: what the traits' async methods return, so they stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where jobs come from when the scheduler starts, and where an ephemeral job is deleted.
///
/// After start, the embedding code keeps the scheduler current with [`crate::Scheduler::upsert`]
/// and [`crate::Scheduler::remove`]; the scheduler never polls the source.
pub trait JobSource: Send + Sync + fmt::Debug {
    /// Every stored job (enabled or not, parents and children).
    fn load_jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, BoxError>>;

    /// Deletes an ephemeral job after its group succeeded. The scheduler has already dropped
    /// the job from its timer when this is called.
    fn delete_job<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// The durable log of launched fires: the guard against running a fire twice.
///
/// Every fire's [`LaunchRecord`] is handed to [`LaunchLog::record_launches`] *before* it is
/// dispatched, and only a `true` for it lets the dispatch happen. The cluster node commits the
/// records through Raft, so a new leader's scheduler sees what the old one launched.
///
/// Records come in batches (everything that came due while the previous batch was being
/// recorded), in launch order, one call at a time: one Raft commit can carry thousands of fires,
/// and a job's fire times reach the log in increasing order.
pub trait LaunchLog: Send + Sync + fmt::Debug {
    /// Records a batch of launches. Returns one flag per record, in order: `true` when newly
    /// recorded (dispatch it), `false` when that fire was launched already (do not dispatch).
    /// `Err` means none was recorded; the scheduler dispatches none of them and logs the error.
    ///
    /// "Launched already" means: for a [`dkron_model::Trigger::Scheduled`] record, a scheduled
    /// record of the same job with a `scheduled_at` at or after this one exists (a job's fire
    /// times only move forward); for a [`dkron_model::Trigger::Retry`] record, a record with the
    /// same job, `group` and `attempt` exists. Manual and dependent runs open new groups and are
    /// always new.
    fn record_launches<'a>(
        &'a self,
        records: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>>;

    /// [`LaunchLog::record_launches`], given the job each record launches as the scheduler
    /// holds it (`jobs[i]` for `records[i]`): a log that needs the job (the cluster node
    /// persists its next fire with the launch) takes it from here instead of reading and
    /// decoding it from its store once per fire. The scheduler calls this one; by default it
    /// ignores the jobs.
    fn record_launches_of<'a>(
        &'a self,
        records: &'a [LaunchRecord],
        jobs: &'a [Arc<Job>],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        let _ = jobs;
        self.record_launches(records)
    }

    /// The `scheduled_at` of the job's latest recorded scheduled fire, if any. Read once per job
    /// at start to apply the job's [`dkron_model::MisfirePolicy`].
    fn last_fire<'a>(
        &'a self,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>>;
}

/// Where executions reported in-process ([`crate::Run::report`]) go.
///
/// The scheduler hands over each reported execution before it acts on the group's status
/// (retry, dependents, ephemeral delete). A dispatch whose results travel through a replicated
/// store (the cluster node) records them there and never reaches the sink.
pub trait ExecutionSink: Send + Sync + fmt::Debug {
    /// Records one finished execution. A failure is logged and counted; it does not change what
    /// the scheduler does next.
    fn record_execution<'a>(
        &'a self,
        execution: &'a Execution,
    ) -> BoxFuture<'a, Result<(), BoxError>>;
}
