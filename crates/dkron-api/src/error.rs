//! [`ClusterError`]: what the cluster behind the API can answer instead of a value.
//!
//! The implementer of [`crate::Cluster`] picks the variant; the API alone decides which status
//! code and body each variant becomes (one exhaustive match in `reply.rs`), so a new variant
//! cannot be added without deciding its status code.

/// Why a [`crate::Cluster`] call failed.
///
/// Messages are lower case without a trailing period (crate style); the HTTP bodies that must
/// match dkron byte for byte are written by the API, not taken from `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// No job of that name. HTTP 404, empty body (dkron).
    #[error("job {job} not found")]
    JobNotFound {
        /// The name asked for.
        job: String,
    },
    /// The job exists but has no execution with that id. HTTP 404, empty body (dkron).
    #[error("execution {id} of job {job} not found")]
    ExecutionNotFound {
        /// The job.
        job: String,
        /// The execution id asked for.
        id: String,
    },
    /// A job names a `parent_job` that does not exist; nothing was written. HTTP 404 with
    /// dkron's text `specified parent job not found`.
    #[error("specified parent job {parent} not found")]
    ParentNotFound {
        /// The missing parent.
        parent: String,
    },
    /// Deleting a job that still has children; nothing was deleted. HTTP 409 (dkron: 404).
    #[error("job {job} has dependent jobs {dependents:?}, delete them first")]
    HasDependents {
        /// The job that was to be deleted.
        job: String,
        /// Its children.
        dependents: Vec<String>,
    },
    /// The job is invalid in a way only the cluster can see (e.g. a parent cycle across stored
    /// jobs). HTTP 400 `Job validation failed: <reason>.`, like the API's own validation.
    #[error("job validation failed: {0}")]
    Validation(dkron_model::Error),
    /// A manual run of a disabled top-level job (dkron refuses it). HTTP 404 (dkron) with a text
    /// body.
    #[error("job {job} is disabled")]
    JobDisabled {
        /// The job.
        job: String,
    },
    /// No alive member matches the job's tags, so a run has nowhere to go. HTTP 404 (dkron)
    /// with a text body.
    #[error("no target nodes for job {job}")]
    NoTargets {
        /// The job.
        job: String,
    },
    /// Cancelling an execution that has already finished. HTTP 409.
    #[error("execution {id} of job {job} has already finished")]
    ExecutionFinished {
        /// The job.
        job: String,
        /// The execution id.
        id: String,
    },
    /// This node cannot perform the write and could not forward it to the leader. HTTP 503; the
    /// leader's name, when known, goes in the `X-Dkron-Leader` header.
    #[error("this node is not the leader")]
    NotLeader {
        /// The current leader's node name, if one is known.
        leader: Option<String>,
    },
    /// Job submissions are paused (`POST /v1/pause`). HTTP 503 with dkron's text.
    #[error("new job submissions are currently paused")]
    Paused,
    /// The cluster cannot answer now: no leader elected, quorum lost, timeout. HTTP 503.
    #[error("cluster unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the response body and logs.
        reason: String,
    },
    /// Anything else (storage failure, bug). HTTP 500 with the reason as text.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: String,
    },
}

impl ClusterError {
    /// Shorthand for [`ClusterError::JobNotFound`].
    pub fn job_not_found(job: impl Into<String>) -> ClusterError {
        ClusterError::JobNotFound { job: job.into() }
    }

    /// Shorthand for [`ClusterError::Internal`] from any displayable error.
    pub fn internal(reason: impl std::fmt::Display) -> ClusterError {
        ClusterError::Internal {
            reason: reason.to_string(),
        }
    }

    /// Shorthand for [`ClusterError::Unavailable`] from any displayable reason.
    pub fn unavailable(reason: impl std::fmt::Display) -> ClusterError {
        ClusterError::Unavailable {
            reason: reason.to_string(),
        }
    }
}

impl From<dkron_model::Error> for ClusterError {
    fn from(error: dkron_model::Error) -> ClusterError {
        ClusterError::Validation(error)
    }
}
