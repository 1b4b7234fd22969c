//! `dkron-raft` replicates dkron-rs' state between servers: openraft 0.9 over `dkron-store`,
//! with peer RPC over HTTP.
//!
//! A write becomes a [`Command`] in the Raft log; once a majority has it on disk, every server's
//! [`StateMachine`] applies it to its own `dkron-store` in one atomic batch that also records the
//! applied position. The node drives all of it through [`RaftNode`]: bootstrap, membership,
//! leadership, [`RaftNode::write`] (which answers [`Error::NotLeader`] on followers so callers
//! can forward), [`RaftNode::write_anywhere`] (which forwards to the leader itself) and
//! linearizable reads.
//!
//! # What it does not do
//!
//! It never names RocksDB (and must never depend on it): the log, the vote and the state go
//! through `dkron-store`'s API;
//! snapshot files live in a directory the caller gives. It does not validate jobs (the API
//! does, before writing), run the scheduler, or decide membership policy (who to add or remove
//! is the node's call). Peer RPC is plain HTTP: run it on a private network, with a cluster key.
//!
//! # Overview
//!
//! - [`TypeConfig`], [`NodeId`], [`NodeInfo`], [`node_id_from_name`]: openraft's types.
//! - [`Command`] / [`Response`] / [`Refusal`]: the replicated writes and their outcomes.
//! - [`LogStore`]: the log; appends are written at once and acknowledged by a flusher thread
//!   after a WAL sync shared by every append queued meanwhile.
//! - Group commit: [`RaftNode::write`] queues concurrent writes and proposes them as one
//!   [`Command::Batch`] entry while earlier batches are in flight (openraft 0.9 flushes each
//!   entry on its own), so many writes share one fsync on every server ([`LogStats`] counts
//!   writes, entries and syncs).
//! - [`Applied`] / [`Change`]: the feed of applied changes ([`RaftConfig::applied_feed`]), sent
//!   after each apply is written, so the node's leader services follow the replicated state.
//! - [`StateMachine`]: applies entries; snapshots are files (the store's export stream plus a
//!   trailer with the snapshot meta), sent in chunks, never held whole in memory.
//! - [`Network`] / [`router`] / [`serve`]: peer RPC (append, vote, snapshot chunks, info, join,
//!   forwarded writes, peers and their removal), with the [`ClusterKey`] checked in constant time.
//! - [`list_peers`], [`remove_peer`], [`leave`]: the operator's client calls (`raft list-peers`,
//!   `raft remove-peer`, `leave`) to a server's RPC address.
//! - [`RaftNode`], [`RaftConfig`]: the control API — [`RaftNode::bootstrap_single`],
//!   [`RaftNode::bootstrap_expect`], [`RaftNode::join`], [`RaftNode::leave`], learners,
//!   promotion and removal, the leader and membership, a [`Leadership`] watch, writes and
//!   linearizable reads.
//!
//! # Invariants
//!
//! - An append is acknowledged to openraft only after a WAL sync that began after its write;
//!   the vote and truncations are synced before returning.
//! - Each applied command's effect and its applied position (log id + membership, and inside a
//!   batch entry how many of its commands are done) are one atomic store batch: a crash never
//!   applies a command twice or loses one the position claims.
//! - A snapshot is built only after a WAL sync, so the log it allows purging is never needed to
//!   rebuild state a crash could lose.
//! - Refused commands (dkron's rules) are applied as outcomes ([`Response::Refused`]); only
//!   storage failures stop Raft.

#![warn(missing_docs)]

mod applied;
mod codec;
mod command;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod log_store;
mod network;
mod node;
mod state_machine;
mod types;

pub use applied::{Applied, AppliedFeed, Change, FinishedExecution};
pub use command::{Command, Refusal, Response, SkippedFires, error_chain};
pub use error::{Error, Result};
pub use log_store::{LogReader, LogStats, LogStatsSnapshot, LogStore};
pub use network::{
    ClusterKey, KEY_HEADER, PeerInfo,
    client::{Network, PeerClient, leave, list_peers, remove_peer},
    server::{serve, serve_with_shutdown},
};
pub use node::{Bootstrap, Leadership, MAX_RAFT_MULTIPLIER, Peer, RaftConfig, RaftNode, Written};
pub use state_machine::{SnapshotBuilder, StateMachine};
pub use types::{NodeId, NodeInfo, TypeConfig, node_id_from_name};

/// The peer RPC routes of a running Raft, to merge into the node's RPC router (also
/// [`RaftNode::router`]).
pub fn router(node: &RaftNode) -> axum::Router {
    node.router()
}
