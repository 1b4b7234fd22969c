//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong when looking up, validating or applying an executor or processor.
///
/// Failures *of a run* (non-zero exit, timeout, unexpected HTTP status) are not errors: they are
/// reported in [`crate::ExecutionOutcome`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No executor is registered under this name.
    #[error("unknown executor `{name}`")]
    UnknownExecutor {
        /// The name that was asked for.
        name: String,
    },
    /// No processor is registered under this name.
    #[error("unknown processor `{name}`")]
    UnknownProcessor {
        /// The name that was asked for.
        name: String,
    },
    /// A key of an executor's or processor's config has a value it cannot use.
    #[error("invalid `{component}` config `{key}`: {reason}")]
    InvalidConfig {
        /// The executor or processor (`shell`, `http`, `files`, ...).
        component: &'static str,
        /// The config key at fault.
        key: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// A processor could not write where it was told to.
    #[error("processor `{processor}` could not write to {}", path.display())]
    ProcessorIo {
        /// The processor that failed.
        processor: &'static str,
        /// The file or socket it was writing to.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(
        component: &'static str,
        key: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            component,
            key,
            reason: reason.into(),
        }
    }
}
