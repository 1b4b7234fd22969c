//! Peer RPC over HTTP/1.1: the server routes ([`server::router`]) mounted on the node's RPC
//! port, and the pooled client ([`client::Network`]) openraft replicates through.
//!
//! Routes (all `POST` except `info`):
//!
//! | path | body | answer |
//! |---|---|---|
//! | `/raft/append` | JSON `AppendEntriesRequest` | JSON `Result<AppendEntriesResponse, RaftError>` |
//! | `/raft/vote` | JSON `VoteRequest` | JSON `Result<VoteResponse, RaftError>` |
//! | `/raft/snapshot` | header length u32 BE, JSON `InstallSnapshotRequest` without its data, raw chunk | JSON `Result<InstallSnapshotResponse, RaftError<InstallSnapshotError>>` |
//! | `GET /raft/info` | — | JSON [`PeerInfo`] (bootstrap discovery) |
//! | `/raft/join` | JSON `JoinRequest` (id, node) | JSON `Result<(), JoinRefused>`: the leader adds the sender as a voter |
//!
//! Snapshot chunks travel as raw bytes (JSON would inflate them about 3.5×); openraft sends a
//! snapshot file chunk by chunk, so neither side holds it whole.
//!
//! With a cluster key configured, every request must carry it in [`KEY_HEADER`]; the server
//! compares in constant time and answers 401 otherwise. Without a key, peers are not
//! authenticated (fine on a private network only).

pub(crate) mod client;
pub(crate) mod server;

use serde::{Deserialize, Serialize};

use crate::types::{NodeId, NodeInfo};

/// Header carrying the cluster key on every peer request.
pub const KEY_HEADER: &str = "x-dkron-cluster-key";

pub(crate) const APPEND_PATH: &str = "/raft/append";
pub(crate) const VOTE_PATH: &str = "/raft/vote";
pub(crate) const SNAPSHOT_PATH: &str = "/raft/snapshot";
pub(crate) const INFO_PATH: &str = "/raft/info";
pub(crate) const JOIN_PATH: &str = "/raft/join";

/// Largest request body the server accepts: a batch of entries or one snapshot chunk.
pub(crate) const MAX_BODY: usize = 64 << 20;

/// The shared secret peers present to each other.
#[derive(Clone)]
pub struct ClusterKey(Vec<u8>);

impl ClusterKey {
    /// A key from its text (as configured; every server must use the same).
    pub fn new(key: &str) -> ClusterKey {
        ClusterKey(key.as_bytes().to_vec())
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `presented` is this key, in time independent of where they differ. (The length
    /// of the key may leak; its content does not.)
    pub fn matches(&self, presented: &[u8]) -> bool {
        if presented.len() != self.0.len() {
            return false;
        }
        let diff = self
            .0
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str("ClusterKey(..)")
    }
}

/// What `GET /raft/info` tells a peer: who this node is and whether it already has a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Raft id.
    pub id: NodeId,
    /// Name and addresses.
    pub node: NodeInfo,
    /// Whether this node has Raft state (a log or a membership): it must not be bootstrapped.
    pub initialized: bool,
    /// The leader this node knows, if any.
    pub leader: Option<NodeId>,
    /// Voters and learners of the membership this node knows (empty before bootstrap).
    pub members: Vec<NodeId>,
}

/// A server asking to become a voter (`POST /raft/join`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JoinRequest {
    pub(crate) id: NodeId,
    pub(crate) node: NodeInfo,
}

/// Why a join was not done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum JoinRefused {
    /// Ask the leader instead (when known).
    NotLeader { leader: Option<(NodeId, NodeInfo)> },
    /// The membership change failed (another change in progress, Raft stopping, …).
    Failed { reason: String },
}

/// Splits a snapshot body into its header (JSON) and its raw chunk.
pub(crate) fn split_snapshot_body(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = body.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// Builds a snapshot body from its header (JSON) and its raw chunk.
pub(crate) fn join_snapshot_body(header: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(header.len()).ok()?;
    let mut body = Vec::with_capacity(4 + header.len() + data.len());
    body.extend_from_slice(&len.to_be_bytes());
    body.extend_from_slice(header);
    body.extend_from_slice(data);
    Some(body)
}

#[cfg(test)]
mod tests;
