//! [`Handles`]: what the parts of a node share, read-only (the store, Raft, the configuration,
//! this node as a member), and the one way they write: [`Handles::write`] through Raft.
//!
//! No module reaches into another module's state through it: the runner keeps its busy map,
//! the leadership task its scheduler.

use std::time::Instant;

use dkron_model::Member;
use dkron_raft::{Command, RaftNode, Written};
use dkron_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::{NodeConfig, metrics};

/// The node's shared, read-only parts.
#[derive(Debug)]
pub(crate) struct Handles {
    pub(crate) config: NodeConfig,
    pub(crate) store: Store,
    pub(crate) raft: RaftNode,
    pub(crate) metrics: PrometheusHandle,
    /// This node as a cluster member.
    pub(crate) member: Member,
    /// Cancelled by `POST /v1/leave`.
    pub(crate) leave: CancellationToken,
    /// A peer RPC client (with the cluster key), to ask other servers who they are.
    pub(crate) peers: dkron_raft::Network,
}

/// Why a replicated write did not happen. The node's own error: the API turns it into its
/// status codes, the runner into a retry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// No leader could take it (none known, or it could not be reached).
    #[error("no leader took the write (leader: {leader:?})")]
    NotLeader {
        /// The leader's name, if known.
        leader: Option<String>,
    },
    /// Raft could not commit it (no quorum, timeout, stopped).
    #[error("the cluster could not commit the write")]
    Unavailable(#[source] dkron_raft::Error),
}

impl Handles {
    /// Commits `command` through Raft; a follower forwards it to the leader and returns once
    /// it has applied it too ([`RaftNode::write_anywhere`]), so a client reads its own write
    /// from the server it wrote through. Timed in the `raft_commit` histogram.
    pub(crate) async fn write(&self, command: Command) -> Result<Written, WriteError> {
        self.commit(command, false).await
    }

    /// Commits `command` only while this server leads: never forwarded, so a server that lost
    /// leadership (paused, or not told yet) fails here instead of having a new leader commit
    /// what its stale scheduler decided. The scheduler's launches and the starts of the runs
    /// it hands over go this way: that is what fences an old leader's scheduler (see
    /// docs/architecture.md, "Fencing").
    pub(crate) async fn write_as_leader(&self, command: Command) -> Result<Written, WriteError> {
        self.commit(command, true).await
    }

    async fn commit(&self, command: Command, leader_only: bool) -> Result<Written, WriteError> {
        let kind = command.kind();
        let started = Instant::now();
        let result = if leader_only {
            self.raft.write(command).await
        } else {
            self.raft.write_anywhere(command).await
        };
        ::metrics::histogram!(metrics::RAFT_COMMIT).record(started.elapsed().as_secs_f64());
        match result {
            Ok(written) => Ok(written),
            Err(dkron_raft::Error::NotLeader { leader }) => Err(WriteError::NotLeader {
                leader: leader.map(|(_, node)| node.name),
            }),
            Err(error @ (dkron_raft::Error::NoQuorum | dkron_raft::Error::Timeout { .. })) => {
                Err(WriteError::Unavailable(error))
            }
            Err(error) => {
                tracing::error!(%error, command = kind, "raft write failed");
                Err(WriteError::Unavailable(error))
            }
        }
    }

    /// The name of this node.
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }
}
