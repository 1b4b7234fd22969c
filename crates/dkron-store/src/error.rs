//! [`Error`]: everything a store operation can fail with, shaped for callers to branch on.

use std::path::PathBuf;

/// A failed store operation.
///
/// Variants up to [`Error::NotFinished`] are *refusals*: the command was well-formed storage-wise
/// but dkron's rules reject it. A refused state-machine command still advances the Raft applied
/// index when one was given (see [`crate::Apply`]), because the refusal is its outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job does not exist.
    #[error("job `{job}` not found")]
    JobNotFound {
        /// Name asked for.
        job: String,
    },
    /// The job names a `parent_job` that does not exist.
    #[error("parent job `{parent}` of job `{job}` not found")]
    ParentNotFound {
        /// The job being written.
        job: String,
        /// Its missing parent.
        parent: String,
    },
    /// The job still has children; delete them first.
    #[error("job `{job}` has dependent jobs {children:?}, delete them first")]
    HasDependents {
        /// The job asked to be deleted.
        job: String,
        /// Its `dependent_jobs`.
        children: Vec<String>,
    },
    /// The job breaks a model rule that needs the other stored jobs (a parent cycle).
    #[error("invalid job `{job}`")]
    InvalidJob {
        /// The job being written.
        job: String,
        /// The rule it breaks.
        #[source]
        source: dkron_model::Error,
    },
    /// A name used inside a key is empty or contains a NUL byte (the key separator).
    #[error("invalid name {name:?} for a storage key")]
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// An execution reported as done has no `finished_at`.
    #[error("execution `{id}` of job `{job}` is reported done but has no finish time")]
    NotFinished {
        /// Its job.
        job: String,
        /// Its id.
        id: String,
    },
    /// A stored value or key cannot be decoded.
    #[error("corrupt entry in column family `{cf}` at key `{key}`: {reason}")]
    Corrupt {
        /// Column family.
        cf: &'static str,
        /// The key, printable (non-ASCII bytes escaped).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The launch was recorded already: a scheduled fire at or before the job's last one, or
    /// a `(group, attempt)` already held (see `dkron_model::LaunchRecord::is_new`).
    #[error("job `{job}`: group {group} attempt {attempt} was launched already")]
    AlreadyLaunched {
        /// Job name.
        job: String,
        /// The launch's group.
        group: i64,
        /// The launch's attempt.
        attempt: u32,
    },
    /// The database was written by an incompatible version of dkron-store.
    #[error("unsupported store format version {found} (this build reads version {expected})")]
    FormatVersion {
        /// Version found on disk (0: none found in a non-empty database).
        found: u32,
        /// Version this build reads and writes.
        expected: u32,
    },
    /// A snapshot stream is truncated, corrupt or of an unknown format. The state was not
    /// touched.
    #[error("invalid snapshot stream: {reason}")]
    Snapshot {
        /// What is wrong with it.
        reason: String,
    },
    /// A file or stream operation failed.
    #[error("i/o error on {path}")]
    Io {
        /// File concerned (or a description of the stream).
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be encoded (never expected for the model types).
    #[error("cannot encode a value for column family `{cf}`")]
    Encode {
        /// Column family.
        cf: &'static str,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// RocksDB failed.
    #[error("rocksdb operation failed")]
    Rocks(#[from] rocksdb::Error),
}

impl Error {
    /// Whether this is a refusal by dkron's rules (the data is fine, the command is rejected),
    /// as opposed to a storage failure.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::JobNotFound { .. }
                | Error::ParentNotFound { .. }
                | Error::HasDependents { .. }
                | Error::InvalidJob { .. }
                | Error::InvalidName { .. }
                | Error::NotFinished { .. }
                | Error::AlreadyLaunched { .. }
        )
    }
}

/// Result alias for store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
