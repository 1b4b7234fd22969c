//! `dkron-node` composes one dkron-rs server: it opens the store, starts Raft, runs the
//! scheduler while this server leads, executes the fires it launches, and serves the REST API,
//! `/health` and `/metrics`.
//!
//! `bins/dkrond` parses configuration, binds the sockets and calls [`Node::start`]; everything
//! between a bound socket and a finished execution lives here. The crates it composes do not
//! know each other: `dkron-api` speaks to the node through the [`dkron_api::Cluster`] trait,
//! `dkron-scheduler` through its ports ([`dkron_scheduler::JobSource`],
//! [`dkron_scheduler::LaunchLog`], [`dkron_scheduler::ExecutionSink`],
//! [`dkron_scheduler::Dispatch`]), which this crate implements with Raft and `dkron-executor`.
//!
//! # What it does not do
//!
//! No argument parsing, logging setup or signal handling (dkrond's). For now a node is a single
//! server (`bootstrap-expect = 1`): no joining, no agents, no dispatch to other nodes, no write
//! forwarding (a follower answers [`dkron_api::ClusterError::NotLeader`]).
//!
//! Pause (`/v1/pause`) is replicated, not per node and in memory as in dkron: it is committed
//! through Raft ([`dkron_raft::Command::SetPaused`]), read from the local store and survives
//! restarts. As in dkron 4.0.9 it only gates job submissions (create and update answer 503);
//! scheduled fires, manual runs, toggles and deletes go on while paused.
//!
//! # Overview
//!
//! - [`NodeConfig`]: what a node needs (name, data dir, tags, limits, timeouts).
//! - [`Node`]: [`Node::start`] on two bound listeners (HTTP API, peer RPC), [`Node::run`] until a
//!   shutdown future or `POST /v1/leave`, [`Node::shutdown`].
//! - Internally: `cluster` (the [`dkron_api::Cluster`] implementation: reads from the local
//!   store, writes through Raft), `ports` (the scheduler's ports over Raft, local dispatch with
//!   live executions for `/v1/busy`), `leader` (starts the scheduler on gaining leadership and
//!   stops it on losing it), `metrics` (the Prometheus recorder).
//! - [`control`]: the operator's calls to a running server's peer RPC (list and remove Raft
//!   peers, leave), for `dkrond raft …` and `dkrond leave`.
//!
//! # Data flows
//!
//! - Write: API → `cluster` → Raft commit → state machine → store; then, on the leader, the
//!   scheduler is told (under the scheduler lock, so a scheduler starting meanwhile cannot miss
//!   it) → reply.
//! - Fire: scheduler → launch records committed through Raft (one batch entry per batch of
//!   fires) → local dispatch: execution start committed, executor runs, the job's processors
//!   rewrite the result, the finished execution is committed (counters, status, stats, history
//!   trim in the state machine) → the scheduler applies retries, dependents, ephemeral.
//! - Leadership gained: linearizable barrier, executions the store shows running that run
//!   nowhere (a crash cut them off) are recorded as failed, then the scheduler starts.
//!
//! # Invariants
//!
//! - Only the leader runs a scheduler, and it is started only after a linearizable barrier, so
//!   it loads every job and launch record committed before it took over.
//! - A fire is dispatched only after its launch record is committed (the scheduler's rule; the
//!   launch log here refuses a fire the store already records).
//! - Every task the node spawns is owned and awaited (bounded) by [`Node::shutdown`].

mod cluster;
mod config;
pub mod control;
mod error;
mod leader;
mod metrics;
mod node;
mod ports;

pub use config::{NodeConfig, PORTS_FILE};
pub use error::Error;
pub use node::{Node, Ports};
