//! `dkron-executor` runs one execution of a job: a shell command or an HTTP call, with its
//! output captured, bounded and streamed, and applies processors to a finished execution.
//!
//! The scheduler (or an agent) hands an executor the job's name, its `executor_config` map, the
//! output limit, a cancellation token and an optional progress sink; it gets back one
//! [`ExecutionOutcome`]. This is the only crate of the workspace that spawns processes.
//!
//! **What it does not do:** it knows nothing about schedules, retries, Raft, RocksDB or dkron's
//! REST JSON; it does not decide *when* to run, and it never serves HTTP.
//!
//! # Overview
//! - [`Executor`] is the object-safe trait every executor implements; [`ExecutorRegistry`] maps
//!   names (`shell`, `http`) to `Arc<dyn Executor>` and validates a job's config early
//!   ([`ExecutorRegistry::validate`]), so an unknown executor or a bad key is an API error, not a
//!   run-time surprise.
//! - [`ExecutionRequest`] is what one run needs; [`ExecutionOutcome`] is what it produced.
//! - [`ShellExecutor`] runs a command in its own process group; [`HttpExecutor`] sends one
//!   request through a pooled client (reqwest on rustls with the ring provider).
//!   [`become_subreaper`] (call once at startup) makes orphaned grandchildren of commands come
//!   back to this process, so the shell executor can reap them even under an init that does not.
//! - After a crash of the process that ran commands: [`OutputSink::spawned`] tells the caller
//!   each command's process group as it starts; the caller records it with
//!   [`group_leader_start`] and [`boot_id`], and after a restart [`kill_group_if`] kills a
//!   recorded group only if its leader is still the same process.
//! - [`TailBuffer`] keeps the last N bytes of output; [`OutputSink`] receives output as it comes.
//! - [`Processor`] acts on a finished execution ([`ProcessorInput`]): [`LogProcessor`],
//!   [`FilesProcessor`], [`SyslogProcessor`], looked up through [`ProcessorRegistry`].
//!
//! # Invariants
//! - A shell command is the leader of its own process group. Whatever ends the run (exit,
//!   timeout, memory limit, cancellation, the execution future being dropped), the whole group is
//!   sent SIGKILL; the direct child, and the group's processes re-parented to this process, are
//!   reaped before the outcome is returned: no process of the group outlives the execution. (A
//!   process that leaves the group with `setsid` escapes, as it would escape any supervisor.)
//! - Captured output never exceeds the request's limit: the *tail* is kept, and
//!   [`ExecutionOutcome::output_truncated`] says when bytes were dropped.
//! - `execute` never panics on bad config: it returns an outcome with `success == false` and
//!   [`ExecutionOutcome::error`] set.
//! - This crate depends on `dkron-cron` (Go durations) and `dkron-model` (the `mem_limit` syntax,
//!   the execution processors act on) only; never on the store, raft or the API crates.

mod error;
mod executor;
mod http;
mod output;
mod processor;
mod shell;

pub use error::Error;
pub use executor::{
    BoxFuture, DEFAULT_OUTPUT_LIMIT, ExecutionOutcome, ExecutionRequest, Executor, ExecutorConfig,
    ExecutorRegistry, OutputSink, Stopped,
};
pub use http::{HttpExecutor, ensure_crypto_provider};
pub use output::TailBuffer;
pub use processor::{
    FilesProcessor, LogProcessor, Processor, ProcessorConfig, ProcessorInput, ProcessorRegistry,
    SyslogProcessor,
};
pub use shell::{ShellExecutor, become_subreaper, boot_id, group_leader_start, kill_group_if};
