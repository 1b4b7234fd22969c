//! The openraft type configuration and the node identity: [`TypeConfig`], [`NodeId`],
//! [`NodeInfo`] and [`node_id_from_name`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::command::{Command, Response};

/// A Raft node id. dkron names nodes; ids are derived from names ([`node_id_from_name`]) unless
/// the configuration sets one.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// dkron-rs' Raft types: [`Command`] in, [`Response`] out, [`NodeInfo`] per member, and
    /// snapshots as files on disk (never a whole snapshot in memory).
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = NodeId,
        Node = NodeInfo,
        SnapshotData = tokio::fs::File,
);

/// A Raft member as the membership config records it: what peers and the API need to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeInfo {
    /// The dkron node name (unique in the cluster).
    pub name: String,
    /// `host:port` of the node's RPC endpoint (Raft peer RPC lives there).
    pub rpc_addr: String,
    /// `host:port` of the node's HTTP API (for forwarding clients, `/v1/leader`).
    pub api_addr: String,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.rpc_addr)
    }
}

/// The stable Raft id of a node named `name`: 64-bit FNV-1a of the UTF-8 name.
///
/// Why a fixed hash: every node must compute the same id for a name, across builds and
/// platforms (`DefaultHasher` promises neither). Two names colliding in 64 bits is negligible
/// for clusters of a handful of servers; a configuration may still set ids explicitly.
pub fn node_id_from_name(name: &str) -> NodeId {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    name.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}
