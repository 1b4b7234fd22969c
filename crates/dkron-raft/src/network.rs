//! Peer RPC over HTTP/1.1 (HTTPS when the caller gives the client a rustls config): the server routes ([`server::router`]) mounted on the node's RPC
//! port, and the pooled client ([`client::Network`]) openraft replicates through.
//!
//! [`Command`]: crate::Command
//! [`RaftNode::write`]: crate::RaftNode::write
//! [`RaftNode::leave`]: crate::RaftNode::leave
//!
//! Routes (all `POST` except `info` and `peers`):
//!
//! | path | body | answer |
//! |---|---|---|
//! | `/raft/append` | JSON `AppendEntriesRequest` | JSON `Result<AppendEntriesResponse, RaftError>` |
//! | `/raft/vote` | JSON `VoteRequest` | JSON `Result<VoteResponse, RaftError>` |
//! | `/raft/snapshot` | header length u32 BE, JSON `InstallSnapshotRequest` without its data, raw chunk | JSON `Result<InstallSnapshotResponse, RaftError<InstallSnapshotError>>` |
//! | `GET /raft/info` | — | JSON [`PeerInfo`] (bootstrap discovery) |
//! | `/raft/join` | JSON `JoinRequest` (id, node) | JSON `Result<(), JoinRefused>`: the leader adds the sender as a voter |
//! | `/raft/forward` | JSON [`Command`] | JSON `Result<Written, ForwardRefused>`: the receiver commits it with [`RaftNode::write`] |
//! | `GET /raft/peers` | — | JSON `Vec<Peer>`: the membership as the receiver knows it, with who leads |
//! | `/raft/remove-peer` | JSON `RemovePeerRequest` (id) | JSON `Result<(), ForwardRefused>`: the leader removes the member |
//! | `/raft/leave` | — | JSON `Result<(), ForwardRefused>`: the receiver leaves ([`RaftNode::leave`]) |
//!
//! `forward` and `remove-peer` answer `NotLeader` naming the leader on a follower: the sender
//! follows it (at most a few hops, [`client::Network::call_leader`]) rather than the receiver proxying,
//! so a request never loops between servers that disagree on who leads.
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

use crate::{
    Error,
    types::{NodeId, NodeInfo},
};

/// Header carrying the cluster key on every peer request.
pub const KEY_HEADER: &str = "x-dkron-cluster-key";

pub(crate) const APPEND_PATH: &str = "/raft/append";
pub(crate) const VOTE_PATH: &str = "/raft/vote";
pub(crate) const SNAPSHOT_PATH: &str = "/raft/snapshot";
pub(crate) const INFO_PATH: &str = "/raft/info";
pub(crate) const JOIN_PATH: &str = "/raft/join";
pub(crate) const FORWARD_PATH: &str = "/raft/forward";
pub(crate) const PEERS_PATH: &str = "/raft/peers";
pub(crate) const REMOVE_PEER_PATH: &str = "/raft/remove-peer";
pub(crate) const LEAVE_PATH: &str = "/raft/leave";

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

/// A member to remove (`POST /raft/remove-peer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RemovePeerRequest {
    pub(crate) id: NodeId,
}

/// Why a forwarded request (`forward`, `remove-peer`) was not done: the [`Error`] variants a
/// caller branches on, in a form that crosses the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ForwardRefused {
    /// Ask the leader instead (when known).
    NotLeader { leader: Option<(NodeId, NodeInfo)> },
    /// The leader could not reach a quorum.
    NoQuorum,
    /// A membership change was refused.
    Membership { reason: String },
    /// The receiver gave up waiting for something.
    Timeout { what: String },
    /// Anything else: the receiver's Raft stopped, its store failed, …
    Fatal { reason: String },
}

impl From<Error> for ForwardRefused {
    fn from(error: Error) -> ForwardRefused {
        match error {
            Error::NotLeader { leader } => ForwardRefused::NotLeader { leader },
            Error::NoQuorum => ForwardRefused::NoQuorum,
            Error::Membership { reason } => ForwardRefused::Membership { reason },
            Error::Timeout { what } => ForwardRefused::Timeout { what },
            other => ForwardRefused::Fatal {
                reason: crate::command::error_chain(&other),
            },
        }
    }
}

impl From<ForwardRefused> for Error {
    fn from(refused: ForwardRefused) -> Error {
        match refused {
            ForwardRefused::NotLeader { leader } => Error::NotLeader { leader },
            ForwardRefused::NoQuorum => Error::NoQuorum,
            ForwardRefused::Membership { reason } => Error::Membership { reason },
            ForwardRefused::Timeout { what } => Error::Timeout { what },
            ForwardRefused::Fatal { reason } => Error::Fatal { reason },
        }
    }
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
