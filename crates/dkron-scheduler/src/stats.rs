//! Counters of what the scheduler did, for tests, metrics and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the scheduler's counters since start. Every fire is counted exactly once as
/// launched or skipped; every launch exactly once as dispatched, dropped by the misfire bound,
/// duplicate or failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Timer fires handed to the launch log (scheduled and misfire catch-up).
    pub scheduled: u64,
    /// Manual runs handed to the launch log.
    pub manual: u64,
    /// Dependent (child) runs handed to the launch log.
    pub dependent: u64,
    /// Retry attempts handed to the launch log.
    pub retries: u64,
    /// Fires of the misfire policy (included in `scheduled`).
    pub misfires: u64,
    /// Fires skipped by `concurrency: forbid` (or a disabled/inactive child).
    pub skipped: u64,
    /// Running executions cancelled by `concurrency: replace`.
    pub replaced: u64,
    /// Launches the log had already recorded (not dispatched again).
    pub duplicates: u64,
    /// Launches the log failed to record (not dispatched).
    pub launch_failures: u64,
    /// Launches dispatched.
    pub dispatched: u64,
    /// Timer fires dropped because they would have started later than their job's misfire
    /// bound (skipped or coalesced; included in `scheduled`, never recorded or dispatched).
    pub misfire_dropped: u64,
    /// Executions the sink failed to record.
    pub sink_failures: u64,
    /// Ephemeral jobs removed after success.
    pub ephemeral_deleted: u64,
}

/// The live counters. The loop's and the launch tasks' counters sit on separate cache lines, so a
/// storm does not bounce one line between the two threads.
#[derive(Debug, Default)]
#[repr(C, align(64))]
pub(crate) struct Counters {
    // Written by the timer loop.
    pub(crate) scheduled: AtomicU64,
    pub(crate) manual: AtomicU64,
    pub(crate) dependent: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) misfires: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) replaced: AtomicU64,
    pub(crate) ephemeral_deleted: AtomicU64,
    _line: CacheLine,
    // Written by the launch batches and the dispatch tasks.
    pub(crate) duplicates: AtomicU64,
    pub(crate) launch_failures: AtomicU64,
    pub(crate) dispatched: AtomicU64,
    pub(crate) sink_failures: AtomicU64,
    pub(crate) misfire_dropped: AtomicU64,
}

/// A zero-sized field that starts a new cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct CacheLine;

/// Adds `n` to a counter. Relaxed: counters are statistics, never used to synchronise.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            scheduled: get(&self.scheduled),
            manual: get(&self.manual),
            dependent: get(&self.dependent),
            retries: get(&self.retries),
            misfires: get(&self.misfires),
            skipped: get(&self.skipped),
            replaced: get(&self.replaced),
            duplicates: get(&self.duplicates),
            launch_failures: get(&self.launch_failures),
            dispatched: get(&self.dispatched),
            misfire_dropped: get(&self.misfire_dropped),
            sink_failures: get(&self.sink_failures),
            ephemeral_deleted: get(&self.ephemeral_deleted),
        }
    }
}
