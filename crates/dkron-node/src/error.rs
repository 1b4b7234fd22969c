//! [`Error`]: why a node could not start or stop cleanly.

use std::path::PathBuf;

/// A node failure at start or shutdown. Request-time failures are
/// [`dkron_api::ClusterError`]s instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data dir holds a store of another format: written by another version of dkron-rs.
    #[error(
        "data dir {path} was written by another version of dkron-rs (store format {found}, this build reads {expected})"
    )]
    DataDirVersion {
        /// The data dir.
        path: PathBuf,
        /// Format found on disk.
        found: u32,
        /// Format this build reads.
        expected: u32,
    },
    /// The store could not be opened (locked by another process, unreadable, corrupt).
    #[error("cannot open the store in data dir {path}")]
    Store {
        /// The data dir.
        path: PathBuf,
        /// Cause.
        #[source]
        source: Box<dkron_store::Error>,
    },
    /// Raft could not start, bootstrap or find a leader.
    #[error("raft: {0}")]
    Raft(#[source] Box<dkron_raft::Error>),
    /// The data dir has no cluster state and nothing says to create one.
    #[error(
        "data dir {path} holds no cluster yet and bootstrap-expect is 0: start with --bootstrap-expect 1 to create a single-server cluster"
    )]
    NothingToBootstrap {
        /// The data dir.
        path: PathBuf,
    },
    /// An agent was started without servers to join.
    #[error("an agent needs servers to join: give --join or --retry-join with their RPC addresses")]
    NothingToJoin,
    /// A node that must share the cluster's key (a server joining or forming a cluster, an
    /// agent) was given none.
    #[error(
        "no cluster key: servers joining or forming a cluster and agents need the cluster's key; give it with --encrypt (a single server stores the key it generated in its data dir, as {path}; make a new one with `dkrond keygen`)"
    )]
    NoClusterKey {
        /// Where this node would have found a stored key.
        path: PathBuf,
    },
    /// A TLS certificate, key or CA could not be loaded, or the key does not match.
    #[error("{reason}")]
    Tls {
        /// Which file and why.
        reason: String,
    },
    /// The scheduler could not start.
    #[error("scheduler: {0}")]
    Scheduler(#[source] Box<dkron_scheduler::Error>),
    /// A file or socket operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The metrics recorder could not be built.
    #[error("cannot set up metrics: {reason}")]
    Metrics {
        /// Why.
        reason: String,
    },
    /// The notifier could not start.
    #[error("cannot set up notifications: {reason}")]
    Notify {
        /// Why.
        reason: String,
    },
}

impl From<dkron_raft::Error> for Error {
    fn from(error: dkron_raft::Error) -> Error {
        Error::Raft(Box::new(error))
    }
}

impl From<dkron_scheduler::Error> for Error {
    fn from(error: dkron_scheduler::Error) -> Error {
        Error::Scheduler(Box::new(error))
    }
}
