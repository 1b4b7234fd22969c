//! [`Command`]: every replicated write, and [`Response`]: what applying it returned.
//!
//! A command is the unit of the Raft log. Its effect is decided by `dkron-store` when the entry
//! is applied (merge rules, idempotence), so every replica reaches the same state from the same
//! log. Commands carry everything they need (no clock reads, no randomness at apply time).

use dkron_model::{BackfillOverlap, Execution, Job, JobStatus, LaunchRecord, Member};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A replicated write. The variants mirror `dkron-store`'s state-machine operations (dkron's
/// `SetJob`, `DeleteJob`, `SetExecution`, `DeleteExecutions`, `ExecutionDone`, plus ours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// Create or replace a job (already validated by the caller). Boxed: a job is several
    /// times larger than any other command.
    SetJob(Box<Job>),
    /// Delete a job with its history and launch records.
    DeleteJob {
        /// Job name.
        name: String,
    },
    /// Flip a job's `disabled`.
    ToggleJob {
        /// Job name.
        name: String,
    },
    /// Persist a job's next fire time.
    SetJobNext {
        /// Job name.
        name: String,
        /// The next fire, `None` when it will not fire again.
        next: Option<Timestamp>,
    },
    /// An execution started (dkron's `SetExecution`).
    ExecutionStarted(Execution),
    /// An execution finished (dkron's `ExecutionDone`); idempotent by execution id.
    ExecutionDone(Execution),
    /// Wipe a job's history and reset its counters.
    DeleteExecutions {
        /// Job name.
        job: String,
    },
    /// The leader launches a fire: recorded before dispatch so a new leader never repeats it.
    RecordLaunch {
        /// The launch.
        launch: LaunchRecord,
        /// When `Some`, also persist the job's next fire in the same batch.
        next: Option<Option<Timestamp>>,
        /// When `Some`, the launch's execution on each of its targets is recorded running from
        /// this instant, only if the launch is new (so a refused launch leaves no run that
        /// never happens): the fire's start travels with its launch, one command per fire.
        /// Absent in entries written before it existed, which record the launch alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_at: Option<Timestamp>,
    },
    /// Run a job now (dkron's `POST /v1/jobs/{name}`), whichever server took the request: the
    /// leader's scheduler launches it when it sees this applied. Writes nothing; refused when
    /// the job does not exist.
    RunJob {
        /// Job name.
        name: String,
    },
    /// Backfill a job (dkron-rs `POST /v1/jobs/{name}/backfill`): the leader's scheduler runs
    /// `fires` with `overlap` when it sees this applied, as [`Command::RunJob`] does. Writes
    /// nothing; refused when the job does not exist.
    Backfill {
        /// Job name.
        name: String,
        /// The scheduled instants to run, oldest first (bounded by the API).
        fires: Vec<Timestamp>,
        /// How the runs overlap.
        overlap: BackfillOverlap,
    },
    /// Record a cluster member's state (status transitions, tags).
    SetMember(Member),
    /// Forget a cluster member.
    RemoveMember {
        /// Member name.
        name: String,
    },
    /// Pause (`true`) or unpause the cluster: while paused, the API refuses new and changed
    /// jobs on every server (dkron's `/v1/pause`, replicated here instead of per node).
    SetPaused(bool),
    /// Timer fires the leader's scheduler dropped past their misfire bound, per job: added to
    /// each job's `skipped_count`. A job deleted meanwhile is passed over. The leader sends one
    /// such command a second at most, so counting costs no Raft write per dropped fire.
    RecordSkipped(Vec<SkippedFires>),
    /// Test only: panics inside apply, standing in for a bug in a command's code.
    #[cfg(test)]
    PanicForTest,
    /// Several commands in one log entry, applied in order. [`crate::RaftNode::write`] forms
    /// these from concurrent writes (group commit: one entry, one fsync, many writes); a batch
    /// inside a batch is refused.
    Batch(Vec<Command>),
}

impl Command {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::SetJob(_) => "set_job",
            Command::DeleteJob { .. } => "delete_job",
            Command::ToggleJob { .. } => "toggle_job",
            Command::SetJobNext { .. } => "set_job_next",
            Command::ExecutionStarted(_) => "execution_started",
            Command::ExecutionDone(_) => "execution_done",
            Command::DeleteExecutions { .. } => "delete_executions",
            Command::RecordLaunch { .. } => "record_launch",
            Command::RunJob { .. } => "run_job",
            Command::Backfill { .. } => "backfill",
            Command::SetMember(_) => "set_member",
            Command::RemoveMember { .. } => "remove_member",
            Command::SetPaused(_) => "set_paused",
            Command::RecordSkipped(_) => "record_skipped",
            Command::Batch(_) => "batch",
            #[cfg(test)]
            Command::PanicForTest => "panic_for_test",
        }
    }
}

/// One job's entry in [`Command::RecordSkipped`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFires {
    /// Job name.
    pub job: String,
    /// Fires dropped since the last record.
    pub count: u64,
    /// The scheduled instant of the latest one.
    pub last: Timestamp,
}

/// The outcome of applying one log entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Response {
    /// Nothing to report (blank and membership entries, launch records, member records, the
    /// paused flag).
    #[default]
    Done,
    /// [`Command::SetJob`]: the job as stored after merging.
    JobWritten {
        /// The stored job.
        job: Job,
        /// Whether it did not exist before.
        created: bool,
    },
    /// Commands that return the job as stored (delete returns the deleted job).
    Job(Job),
    /// [`Command::ExecutionStarted`].
    ExecutionStarted {
        /// False when a finished copy was already stored.
        stored: bool,
        /// Executions trimmed to respect the history limit.
        trimmed: usize,
    },
    /// [`Command::ExecutionDone`].
    ExecutionDone {
        /// False for a duplicate report (not counted again).
        counted: bool,
        /// Status of the execution's group.
        group_status: JobStatus,
        /// Whether every target of the execution's attempt has finished it.
        attempt_complete: bool,
        /// Nodes whose run of that attempt failed.
        failed_nodes: Vec<String>,
        /// The job as stored after the report.
        job: Job,
        /// Executions trimmed to respect the history limit.
        trimmed: usize,
    },
    /// dkron's rules rejected the command; the entry is still applied (its outcome is this).
    Refused(Refusal),
    /// [`Command::Batch`]: one response per command, in order.
    Batch(Vec<Response>),
}

/// Why the state machine refused a command. Mirrors `dkron_store::Error`'s refusals, in a form
/// that travels between nodes (a follower forwarding a write gets the same answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The job does not exist.
    #[error("job `{job}` not found")]
    JobNotFound {
        /// Job name.
        job: String,
    },
    /// The job's parent does not exist.
    #[error("parent job `{parent}` of job `{job}` not found")]
    ParentNotFound {
        /// Job name.
        job: String,
        /// Missing parent.
        parent: String,
    },
    /// The job still has children.
    #[error("job `{job}` has dependent jobs {children:?}, delete them first")]
    HasDependents {
        /// Job name.
        job: String,
        /// Its children.
        children: Vec<String>,
    },
    /// The launch was recorded already (see `dkron_model::LaunchRecord::is_new`): the fire
    /// must not be dispatched again.
    #[error("job `{job}`: group {group} attempt {attempt} was launched already")]
    AlreadyLaunched {
        /// Job name.
        job: String,
        /// The launch's group.
        group: i64,
        /// The launch's attempt.
        attempt: u32,
    },
    /// Another rule needing the stored jobs (a parent cycle, a bad key name, an unfinished
    /// execution reported done): the store's message.
    #[error("{message}")]
    Invalid {
        /// The store's message, with its causes.
        message: String,
    },
    /// Applying the command failed in a way that is not a storage I/O failure: a record that
    /// does not decode, a value that does not encode, a bug that panicked. Its writes were
    /// dropped and later entries apply as usual (logged at ERROR with the log index).
    #[error("command `{kind}` could not be applied: {message}")]
    Failed {
        /// [`Command::kind`].
        kind: String,
        /// What went wrong.
        message: String,
    },
    /// This build's store cannot apply the command (kept in the log; applied as a no-op).
    #[error("command `{kind}` is not supported by this store")]
    Unsupported {
        /// [`Command::kind`].
        kind: String,
    },
}

impl Refusal {
    /// The refusal for a store error, or `None` when the error is a storage I/O failure (which
    /// must stop Raft instead: a disk that fails writes nothing reliably). Any other failure
    /// (a corrupt stored record, an encoding failure) refuses this one command ([`Refusal::Failed`]),
    /// so one bad record never stops a node from applying every later entry.
    pub(crate) fn from_store(error: &dkron_store::Error, kind: &str) -> Option<Refusal> {
        if matches!(
            error,
            dkron_store::Error::Rocks(_) | dkron_store::Error::Io { .. }
        ) {
            return None;
        }
        if !error.is_refusal() {
            return Some(Refusal::Failed {
                kind: kind.to_owned(),
                message: error_chain(error),
            });
        }
        Some(match error {
            dkron_store::Error::JobNotFound { job } => Refusal::JobNotFound { job: job.clone() },
            dkron_store::Error::ParentNotFound { job, parent } => Refusal::ParentNotFound {
                job: job.clone(),
                parent: parent.clone(),
            },
            dkron_store::Error::HasDependents { job, children } => Refusal::HasDependents {
                job: job.clone(),
                children: children.clone(),
            },
            dkron_store::Error::AlreadyLaunched {
                job,
                group,
                attempt,
            } => Refusal::AlreadyLaunched {
                job: job.clone(),
                group: *group,
                attempt: *attempt,
            },
            other => Refusal::Invalid {
                message: error_chain(other),
            },
        })
    }
}

/// `error: cause: cause…`, for messages that cross the network (Raft's and the node RPC's).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
