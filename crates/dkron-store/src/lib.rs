//! `dkron-store` keeps dkron-rs' replicated state and Raft log in one RocksDB.
//!
//! `dkron-raft`'s state machine applies each committed command through one [`Store`] method,
//! which reads what it needs and writes **one atomic write batch** that also records the Raft
//! position ([`Apply`]); its log storage keeps entries and votes here as opaque bytes. The API
//! and the scheduler read jobs, history, stats and launch records directly.
//!
//! # What it does not do
//!
//! It knows no HTTP, no JSON wire format and no openraft types: Raft entries, votes and log ids
//! are bytes encoded by `dkron-raft`. It never reads the clock (callers pass `today`, `next`,
//! …) and does not validate jobs on their own ([`dkron_model::Job::validate`] is the caller's);
//! it enforces the rules that need the other stored jobs. It is the only crate that names
//! `rocksdb`.
//!
//! # Overview
//!
//! - [`Store::open`] with [`Options`] (memory budgets, node-wide [`dkron_model::Limits`]).
//! - Jobs: [`Store::set_job`] (dkron's merge rules, parent bookkeeping), [`Store::delete_job`],
//!   [`Store::toggle_job`], [`Store::set_job_next`], [`Store::job`], [`Store::list_jobs`]
//!   with a [`JobQuery`] (filters, [`dkron_model::JobSort`], [`SortOrder`], `_start`/`_end`).
//! - Executions: [`Store::record_execution_start`], [`Store::record_execution_done`]
//!   (idempotent; returns [`ExecutionDone`]), [`Store::delete_executions`],
//!   [`Store::executions`], [`Store::execution`], [`Store::running_executions`],
//!   [`Store::stats`].
//! - Launch records: [`Store::record_launch`] (refuses a launch made already), [`Store::last_scheduled`], [`Store::last_launch`], [`Store::launch`].
//! - Members: [`Store::set_member`], [`Store::remove_member`], [`Store::members`].
//! - Cluster pause: [`Store::set_paused`], [`Store::paused`].
//! - Raft: [`Store::raft_append`], [`Store::raft_entries`], [`Store::raft_truncate_from`],
//!   [`Store::raft_purge_to`], [`Store::raft_meta_put`], [`Store::applied`].
//! - Snapshots: [`Store::export_snapshot`], [`Store::import_snapshot`].
//! - [`Error`]: refusals callers branch on ([`Error::JobNotFound`], [`Error::ParentNotFound`],
//!   [`Error::HasDependents`]) and storage failures ([`Error::Corrupt`],
//!   [`Error::FormatVersion`], [`Error::Rocks`]).
//!
//! The on-disk layout (column families, key formats) is documented in one place, the `keys`
//! module; values are a version byte plus JSON of the model type.
//!
//! # Invariants
//!
//! - Every state-machine operation is one atomic RocksDB write batch, and the batch carries the
//!   Raft applied position when one is given; a refused command still records its position.
//! - A write made with `durable: true` has its WAL fsynced before the call returns.
//! - A finished execution is counted at most once (idempotent by execution id within the
//!   retained history).
//! - A job with children cannot be deleted; a job's parent exists; `dependent_jobs` is kept by
//!   the store, never taken from the caller.
//! - Unfiltered job listing costs O(log n + page) (in-memory rank index rebuilt at open).
//! - Bad stored bytes, unknown versions and bad snapshot streams are errors, never panics.

#![warn(missing_docs)]

mod codec;
mod error;
mod executions;
mod group;
mod index;
mod jobs;
mod keys;
mod launches;
mod members;
mod paused;
mod raft;
mod snapshot;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
pub use executions::{
    DayStats, ExecutionDone, ExecutionStarted, HistoryPage, ListedExecution, truncate_output_tail,
};
pub use group::WriteGroup;
pub use index::SortOrder;
pub use jobs::{JobPage, JobQuery, JobWritten};
pub use launches::LAUNCHES_KEPT;
pub use raft::RAFT_LAST_PURGED;
pub use snapshot::SnapshotInfo;
pub use store::{Apply, FORMAT_VERSION, Options, RaftApplied, Store};
