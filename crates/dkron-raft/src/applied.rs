//! [`Applied`]: what the state machine reports after applying entries, so the node's leader
//! services (the scheduler above all) learn of every change from the replicated state itself,
//! whichever server took the write, and whether it came from a client, a forward or a restore.

use dkron_model::{BackfillOverlap, Execution, JobStatus};
use jiff::Timestamp;
use tokio::sync::mpsc;

/// The sending side of the feed, given to [`crate::RaftConfig::applied_feed`].
pub type AppliedFeed = mpsc::UnboundedSender<Applied>;

/// The changes of one `apply` call of the state machine, sent after they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Index of the last log entry applied: every change up to it is in the store.
    pub index: u64,
    /// What changed, in log order.
    pub changes: Vec<Change>,
}

/// One change a leader service may act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A job's stored definition changed: created, updated, toggled or deleted, or its
    /// `dependent_jobs` changed. Read it from the store (absent: deleted).
    Job(String),
    /// A run of the job was requested ([`crate::Command::RunJob`]): the leader launches it.
    RunRequested(String),
    /// A backfill of the job was requested ([`crate::Command::Backfill`]): the leader runs it.
    BackfillRequested {
        /// Job name.
        name: String,
        /// The scheduled instants to run, oldest first.
        fires: Vec<Timestamp>,
        /// How the runs overlap.
        overlap: BackfillOverlap,
    },
    /// An execution was reported done and counted for the first time.
    ExecutionDone(Box<FinishedExecution>),
    /// A snapshot replaced the whole state: read everything again.
    Restored,
}

/// A counted execution report and where its group stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedExecution {
    /// The execution, without its output.
    pub execution: Execution,
    /// Status of its group.
    pub group_status: JobStatus,
    /// Whether every target of its attempt has finished it.
    pub attempt_complete: bool,
    /// Nodes whose run of that attempt failed.
    pub failed_nodes: Vec<String>,
    /// Children of several parents this report made ready to run (`parent_jobs`).
    pub ready_children: Vec<String>,
}
