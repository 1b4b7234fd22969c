//! `dkron-model` is the data model of dkron-rs: jobs, executions, cluster members, and the pure
//! rules over them.
//!
//! It holds every field of a dkron 4.1 job and execution, plus dkron-rs' own additions
//! (misfire policy, retry backoff, `replace` concurrency, per-job history and output limits,
//! execution trigger, exit code and scheduled time). On top of the data it provides:
//!
//! - validation with dkron's rules and messages ([`Job::validate`], [`validate_parent_chain`]),
//! - the status of an execution group ([`group_status`]),
//! - tag targeting ([`select_targets`]),
//! - the next fire time of a job ([`Job::next_fire_after`], [`JobSchedule`]),
//! - the shell executor's memory-limit syntax ([`parse_mem_limit`]).
//!
//! # What it does not do
//!
//! No IO, no clock, no randomness of its own: callers pass `now` and an RNG. It does not know
//! dkron's HTTP JSON: the types carry no wire names, and `dkron-api` converts by hand. The
//! serde derives exist only for the internal persisted and replicated encoding owned by
//! `dkron-store`/`dkron-raft`; every struct is `#[serde(default)]` so fields can be added.
//!
//! # Overview
//!
//! - [`Job`] with [`Concurrency`], [`JobStatus`], [`MisfirePolicy`], [`RetryBackoff`], [`RunOn`]
//!   and the per-fire [`jitter_delay`], and the
//!   node-wide [`Limits`] that fill in per-job limits left unset, and the server-wide
//!   [`Ceilings`] no job may exceed.
//! - [`Execution`] (one run of a job on one node, one attempt) with [`Trigger`], and
//!   [`LaunchRecord`], what the leader commits before dispatching a fire.
//! - [`Member`] with [`MemberStatus`].
//! - [`JobSort`]: dkron's sort keys for job lists and the one order they define, over any
//!   [`SortFields`].
//! - [`Error`]: one enum; its `Display` is dkron's exact validation reason (the API prefixes
//!   `Job validation failed: ` and appends `.`).
//!
//! # Invariants and conventions
//!
//! - An execution's id is `<started_at as Unix nanoseconds>-<node_name>` ([`Execution::id`]); it
//!   is derived, never stored separately, so it cannot disagree with the fields.
//! - `finished_at == None` means the execution is still running.
//! - A job's empty `timezone` means UTC (dkron uses the server's local zone; we want every
//!   server to compute the same fire times).
//! - A job with a `parent_job` (or `parent_jobs`) is never fired by the timer; its schedule is
//!   ignored.

#![warn(missing_docs)]

mod ceilings;
mod error;
mod execution;
mod job;
mod launch;
mod member;
mod notify;
mod parents;
mod policy;
mod sort;
mod target;
mod validate;

pub use ceilings::Ceilings;
pub use error::Error;
pub use execution::{Execution, LaunchRecord, Trigger, group_status, parse_execution_id};
pub use job::{
    Concurrency, DEFAULT_CATCH_UP_WINDOW, Job, JobSchedule, JobStatus, Limits, MisfirePolicy,
    RetryBackoff,
};
pub use launch::{GroupProgress, group_progress};
pub use member::{Member, MemberStatus};
pub use notify::{Channel, NotifyPolicy};
pub use parents::MAX_PARENTS;
pub use policy::{BackfillOverlap, MAX_BUFFERED_FIRES, MAX_JITTER, RunOn, jitter_delay};
pub use sort::{JobSort, SortFields};
pub use target::{TargetSpec, select_targets};
pub use validate::{MAX_PARENT_CHAIN, parse_mem_limit, validate_name, validate_parent_chain};
