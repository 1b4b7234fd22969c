//! `dkron-scheduler` is dkron-rs' embeddable scheduler: it decides when each job fires and runs
//! dkron's run semantics around every fire.
//!
//! One timer task owns every job: a min-heap of next fires, one tokio sleep until the earliest,
//! and a command channel. There is never one task per job, and upserting, removing, pausing or
//! resuming a job costs O(log n). Around each fire it applies `concurrency` (allow / forbid /
//! replace), `retries` with the job's backoff, dependent (child) jobs when the group succeeds,
//! `ephemeral` deletion, `starts_at`/`expires_at`, `@at`/`@after` one-shots,
//! `@manually`/`@triggered`, manual runs, and the job's `misfire_policy` for fires missed while
//! no scheduler ran.
//!
//! **What it does not do:** no storage, no HTTP server, no Raft, no target selection, no
//! processes of its own (the optional default dispatch hands jobs to `dkron-executor`). It reaches the world only through small traits the embedding code implements:
//! [`JobSource`] (jobs at start, ephemeral deletes), [`LaunchLog`] (launch records, before
//! dispatch), [`ExecutionSink`] (finished executions), [`Dispatch`] (how a fire runs) and
//! [`Clock`]. The cluster node implements them with Raft and RPC; an embedded service uses
//! [`MemoryStore`] and [`ExecutorDispatch`] (the local `dkron-executor`: shell, http) or
//! [`FnDispatch`] (a closure).
//!
//! # Example
//!
//! A job every second under paused tokio time, run by a closure:
//!
//! ```
//! use std::{sync::Arc, time::Duration};
//!
//! use dkron_model::Job;
//! use dkron_scheduler::{FnDispatch, MemoryStore, Scheduler, TokioClock};
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let store = Arc::new(MemoryStore::new());
//!     let clock = Arc::new(TokioClock::starting_at("2026-01-01T00:00:00Z".parse()?));
//!     let dispatch = FnDispatch::new(|run| async move { Ok(format!("hello from {}", run.job.name)) });
//!     let scheduler = Scheduler::builder()
//!         .memory_store(Arc::clone(&store))
//!         .clock(clock)
//!         .dispatch(Arc::new(dispatch))
//!         .start()
//!         .await?;
//!
//!     let mut job = Job::new("hello");
//!     job.schedule = "@every 1s".into();
//!     scheduler.upsert(job).await?;
//!
//!     tokio::time::sleep(Duration::from_millis(3500)).await;
//!     let report = scheduler.shutdown(Duration::from_secs(5)).await;
//!     assert!(report.drained);
//!     let runs = store.executions("hello");
//!     assert_eq!(runs.len(), 3);
//!     assert_eq!(runs[0].output, "hello from hello");
//!     Ok(())
//! }
//! ```
//!
//! # Overview
//!
//! - [`Scheduler`] (handle) and [`SchedulerBuilder`]; [`JobState`], [`Stats`],
//!   [`ShutdownReport`].
//! - Ports: [`JobSource`], [`LaunchLog`], [`ExecutionSink`] (in `ports`), [`Dispatch`] with
//!   [`Run`], [`Clock`] with [`SystemClock`] and [`TokioClock`].
//! - Defaults: [`MemoryStore`], [`ExecutorDispatch`] (feature `executor`, on by default),
//!   [`FnDispatch`].
//!
//! # Semantics worth knowing
//!
//! - **Launch before dispatch.** Every fire's [`dkron_model::LaunchRecord`] (job, scheduled
//!   instant, group, attempt, targets, trigger) is recorded in the [`LaunchLog`] before it is
//!   dispatched; a fire the log has already seen, or could not record, is not dispatched. Records
//!   go in ordered batches, so a Raft-backed log commits many fires at once.
//! - **Dispatch is a hand-off; reports drive what follows.** A dispatch future is first polled
//!   inside the launch batch (most finish at once or only hand work over), then moved to its
//!   own task if pending; a `Dispatch` that does blocking work before its first `.await` delays
//!   the fires after it. Results come back as reports, never as the dispatch's return value:
//!   in-process through [`Run::report`] (what [`FnDispatch`] and [`ExecutorDispatch`] do), or
//!   through a replicated store and [`Scheduler::report`] with the group's
//!   [`dkron_model::GroupProgress`] (what the cluster node does), so a new leader continues
//!   the groups its predecessor launched.
//! - **Precision.** With the [`SystemClock`] the loop wakes 2 ms early after an idle stretch and
//!   yields its way to the deadline ([`Clock::wake_margin`]), so fires start within tens of
//!   microseconds of their instant instead of tokio's millisecond-rounded timer.
//! - **No drift.** The next fire is computed from the previous *scheduled* instant, never from
//!   "now"; `@every` keeps its phase across updates and restarts. A new `@every` job counts from
//!   the whole second (as robfig/dkron).
//! - **Groups.** A timer fire's group id is its scheduled instant in Unix nanoseconds (the same
//!   whichever scheduler launches it); manual and dependent runs take the clock, made unique.
//! - **Concurrency** applies to timer and dependent fires: `forbid` skips while a run is going,
//!   `replace` cancels the running executions (their [`Run::cancel`] token) and runs. Manual runs
//!   ignore it, and ignore `starts_at`/`expires_at` and pausing, as dkron's; a disabled job
//!   cannot be run manually (dkron too). Only runs launched while a job is forbid/replace are
//!   tracked for it: changing `allow` to `forbid` does not see runs launched before.
//! - **Retries**: once every target of an attempt reported ([`dkron_model::group_progress`]),
//!   when the group's status is failed or partially failed and the attempt is at most
//!   `retries`, the same group is launched again (trigger `Retry`, attempt + 1, targets = the
//!   nodes that failed) after `retry_backoff.delay(attempt)`, through the timer, never a
//!   sleeping task.
//! - **Dependents and ephemeral**: when the group succeeds, each child runs (trigger
//!   `Dependent`, a new group) unless it is disabled, paused, outside `starts_at..=expires_at`,
//!   or skipped by its own concurrency; then an ephemeral job is removed and
//!   [`JobSource::delete_job`] is called.
//! - **Misfires** (at start only): for a job whose latest launched fire the log knows, fires in
//!   `(last, now]` are skipped, run once (stamped with the first missed instant) or caught up
//!   within a window (at most [`DEFAULT_MAX_CATCH_UP`] per job, configurable), per its
//!   [`dkron_model::MisfirePolicy`]. They launch at once with trigger `Scheduled` and their own
//!   scheduled instants, so the launch log's forward-only rule
//!   ([`dkron_model::LaunchRecord::is_new`], which every launch log applies) also guards them. A job the log
//!   never saw starts fresh; a past `@at` never runs, a past `@after` runs once if still within
//!   its grace window (as dkron).
//! - **Late fires** (while running, past capacity): a regular timer fire still waiting to be
//!   recorded past its misfire bound ([`SchedulerBuilder::misfire_threshold`], default
//!   [`DEFAULT_MISFIRE_THRESHOLD`], or `catch_up`'s window) is dropped, never recorded nor
//!   dispatched: skipped (`skip`, `catch_up`) or coalesced into the job's next due fire
//!   (`run_once`). Counted in [`Stats::misfire_dropped`] and per job by
//!   [`Scheduler::take_skipped`]. One-shots keep their own grace rules.
//! - **Shutdown** stops the timer, waits a bounded time for running executions, then cancels
//!   them.
//!
//! # Invariants
//!
//! - Every scheduling decision is made in the timer loop, the only code that reads the clock to
//!   decide (dispatches read it only to stamp executions); the decisions themselves are pure
//!   functions of `(schedule, last fire, now)` in `plan`.
//! - Every task (each launch batch, each pending dispatch, each ephemeral delete) belongs to one
//!   tracker that shutdown closes and awaits with a bound.
//! - Per job the loop keeps about 200 bytes (a boxed slot with the parsed schedule and two fire
//!   times, a heap entry, a slab cell, a name-table entry), besides the job it is given, which it
//!   keeps packed: the fields it decides with in a small struct, every other field encoded in
//!   one buffer, rebuilt into the whole job when a fire leaves the loop: a [`Run`] always
//!   carries the whole job. A job that fires again within 10 s keeps its whole definition
//!   instead (until updated), so frequent fires cost no rebuild.
//! - A fire is dispatched only after the launch log returned `true` for its record.

#![warn(missing_docs)]

mod clock;
mod dispatch;
mod engine;
mod error;
mod kept;
mod memory;
mod misfire;
mod plan;
mod ports;
mod scheduler;
mod stats;

pub use clock::{Clock, SystemClock, TokioClock};
#[cfg(feature = "executor")]
pub use dispatch::ExecutorDispatch;
pub use dispatch::{Dispatch, FnDispatch, Handoff, Run};
pub use error::{BoxError, Error};
pub use memory::MemoryStore;
pub use misfire::{DEFAULT_MISFIRE_THRESHOLD, Skipped};
pub use ports::{BoxFuture, ExecutionSink, JobSource, LaunchLog};
pub use scheduler::{DEFAULT_MAX_CATCH_UP, JobState, Scheduler, SchedulerBuilder, ShutdownReport};
pub use stats::Stats;
