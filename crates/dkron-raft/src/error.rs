//! [`Error`]: what the control API and the transport fail with.

use crate::types::{NodeId, NodeInfo};

/// A failed dkron-raft operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// This node is not the leader; forward to `leader` when one is known.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The current leader, if this node knows it: its id and addresses.
        leader: Option<(NodeId, NodeInfo)>,
    },
    /// The leader could not reach a quorum to confirm it still leads (linearizable read).
    #[error("no quorum to confirm leadership")]
    NoQuorum,
    /// A membership change was refused (another change in progress, unknown node, …).
    #[error("membership change refused: {reason}")]
    Membership {
        /// Why.
        reason: String,
    },
    /// No member of the cluster has this name or numeric id (`raft remove-peer`).
    #[error("no member is named or numbered `{peer}` (members: {})", members.join(", "))]
    UnknownPeer {
        /// The name or id asked for.
        peer: String,
        /// The members' names, as the server asked knows them.
        members: Vec<String>,
    },
    /// The cluster is already initialized (bootstrap asked twice, or a peer already has state).
    #[error("the cluster is already initialized")]
    AlreadyInitialized,
    /// Waiting for something (bootstrap peers, a leader) passed its deadline.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
    },
    /// Raft stopped on a fatal error (storage failure, shutdown).
    #[error("raft stopped: {reason}")]
    Fatal {
        /// The fatal error as openraft reports it.
        reason: String,
    },
    /// The store failed outside Raft (opening, reading).
    #[error("store operation failed")]
    Store(#[from] dkron_store::Error),
    /// Openraft refused the configuration.
    #[error("invalid raft configuration: {reason}")]
    Config {
        /// Why.
        reason: String,
    },
    /// A peer could not be connected to: the request was not delivered, so it had no effect
    /// there (safe to retry, unlike [`Error::Rpc`] after the request was sent).
    #[error("peer {target} is unreachable: {reason}")]
    Unreachable {
        /// Peer address.
        target: String,
        /// Why.
        reason: String,
    },
    /// A peer RPC failed at the transport level.
    #[error("peer rpc to {target} failed: {reason}")]
    Rpc {
        /// Peer address.
        target: String,
        /// Why.
        reason: String,
    },
    /// A file or socket operation failed.
    #[error("i/o error: {context}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias for dkron-raft operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
