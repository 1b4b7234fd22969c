//! The crate's one error type.

/// An error the embedding code implements its traits with: any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong when talking to the scheduler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job's schedule or time zone was rejected.
    #[error("invalid job `{name}`: {source}")]
    InvalidJob {
        /// The job's name.
        name: String,
        /// What the model said.
        #[source]
        source: dkron_model::Error,
    },
    /// No job with that name is loaded.
    #[error("job not found: {name}")]
    JobNotFound {
        /// The name asked for.
        name: String,
    },
    /// A manual run was asked of a disabled job (dkron refuses it too).
    #[error("job is disabled: {name}")]
    JobDisabled {
        /// The job's name.
        name: String,
    },
    /// The job source failed while the scheduler started.
    #[error("loading jobs failed: {0}")]
    Load(#[source] BoxError),
    /// The launch log failed while the scheduler started (reading last fires).
    #[error("reading the launch log failed: {0}")]
    LaunchLog(#[source] BoxError),
    /// No [`crate::Dispatch`] was given and the `executor` feature (the default one) is off.
    #[error("no dispatch configured")]
    NoDispatch,
    /// The scheduler has shut down (or its loop ended); the request was not applied.
    #[error("scheduler is shut down")]
    ShutDown,
}
