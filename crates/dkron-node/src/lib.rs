//! `dkron-node` composes one dkron-rs server: it opens the store, starts Raft and forms or joins
//! the cluster, runs the scheduler while this server leads, executes the fires it launches, and
//! serves the REST API, `/health` and `/metrics`.
//!
//! `bins/dkrond` parses configuration, binds the sockets and calls [`Node::start`]; everything
//! between a bound socket and a finished execution lives here. The crates it composes do not
//! know each other: `dkron-api` speaks to the node through the [`dkron_api::Cluster`] trait,
//! `dkron-scheduler` through its ports ([`dkron_scheduler::JobSource`],
//! [`dkron_scheduler::LaunchLog`],
//! [`dkron_scheduler::Dispatch`]), which this crate implements with Raft and `dkron-executor`.
//!
//! # What it does not do
//!
//! No argument parsing, logging setup or signal handling (dkrond's). An agent ([`Agent`])
//! serves no HTTP API: users talk to servers.
//!
//! Pause (`/v1/pause`) is replicated, not per node and in memory as in dkron: it is committed
//! through Raft ([`dkron_raft::Command::SetPaused`]), read from the local store and survives
//! restarts. As in dkron 4.0.9 it only gates job submissions (create and update answer 503);
//! scheduled fires, manual runs, toggles and deletes go on while paused.
//!
//! # Overview
//!
//! - [`NodeConfig`]: what a node needs (name, data dir, tags, cluster settings, limits).
//! - [`Node`]: a server. [`Node::start`] on two bound listeners (HTTP API, peer RPC),
//!   [`Node::run`] until a shutdown future or `POST /v1/leave`, [`Node::shutdown`].
//! - [`Agent`]: a node without Raft or store: heartbeats to the leader, runs what it is sent,
//!   reports through a durable outbox. [`Tags`] changes either's tags while it runs (SIGHUP).
//! - Internally, data moves one way: API or RPC → Raft → applied changes → leader services →
//!   dispatch → runner → report → Raft.
//!   - `handles`: what the parts share, read-only (store, Raft, config, this member), and
//!     `Handles::write`, the one way to write (forwarded to the leader from a follower).
//!   - `api`: the [`dkron_api::Cluster`] implementation: reads from the local store, writes
//!     through `handles`.
//!   - `membership`: forming or joining the group at start, the member record.
//!   - `leader`: the leadership task. It follows the applied-changes feed
//!     ([`dkron_raft::Applied`]) on every server, and while this server leads it runs the
//!     scheduler, handing it job changes and finished executions (which drive retries,
//!     dependents, ephemeral deletes), and watches heartbeat deadlines (`leader::liveness`:
//!     only transitions are committed; a silent node is failed and its runs closed); its
//!     ports (`leader::ports`) record launches through Raft, pick targets by tags among the
//!     alive members, and hand each fire to this node's runner or to the target over RPC.
//!   - `runner`: runs executions on this node (the only caller of `dkron-executor`), keeps a
//!     ledger of their process groups (a restarted node kills what its crash left running),
//!     and reports them through a `Report`: `report::RaftReport` on a server (through Raft,
//!     retried), `report::RemoteReport` on an agent (to any server over RPC, through an
//!     on-disk outbox, re-delivered until acknowledged). It knows nothing of Raft or the
//!     scheduler itself.
//!   - `rpc`: node-to-node routes on the RPC port next to Raft's (run, cancel, busy, report,
//!     heartbeat) and their client.
//!   - `agent`: the composition of an agent.
//!   - `serve` ([`serve()`], [`ServeOptions`]): the one HTTP serving loop of both listeners:
//!     connection limit, header and request timeouts, optional TLS, the peer's address in
//!     every request, graceful shutdown.
//!   - `key`: the cluster key the node runs with ([`CLUSTER_KEY_FILE`]); `tls`: PEM files
//!     into rustls ([`TlsFiles`]).
//!   - `metrics`: the Prometheus recorder.
//! - [`control`]: the operator's calls to a running server's peer RPC (list and remove Raft
//!   peers, leave), for `dkrond raft …` and `dkrond leave`.
//!
//! # Invariants
//!
//! - Only the leader runs a scheduler, and it is started only after a linearizable barrier, so
//!   it loads every job and launch record committed before it took over.
//! - A fire is dispatched only after its launch record is committed, and the state machine
//!   refuses a launch it holds already ([`dkron_model::LaunchRecord::is_new`]), so no leader
//!   can launch a (job, scheduled instant) twice.
//! - The scheduler learns of every change from what the state machine applied, whichever
//!   server took the write.
//! - Every task the node spawns is owned and awaited (bounded) by [`Node::shutdown`].

mod agent;
mod api;
mod config;
pub mod control;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod handles;
mod key;
mod leader;
mod live;
mod membership;
mod metrics;
mod node;
mod notify;
mod report;
mod rpc;
mod runner;
mod serve;
mod throttle;
mod tls;

pub use agent::Agent;
pub use config::{DEFAULT_DISPATCH_LEAD, MAX_DISPATCH_LEAD, NodeConfig, PORTS_FILE};
/// The largest `raft-multiplier`, for the CLI's validation.
pub use dkron_raft::MAX_RAFT_MULTIPLIER;
pub use error::Error;
pub use key::{CLUSTER_KEY_FILE, generate_cluster_key, read_cluster_key};
pub use live::DEFAULT_MAX_OUTPUT_STREAMS;
pub use node::{Node, Ports, Tags};
pub use runner::{ExecutionSlots, Overflow};
pub use serve::{RPC_REQUEST_TIMEOUT, ServeOptions, serve};
pub use tls::TlsFiles;
