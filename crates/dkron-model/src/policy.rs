//! dkron-rs run policies beyond dkron's (issue 16, items 4 and 5): a per-fire jitter, pausing a
//! job after consecutive failed groups, and which outcome of the parent runs a child.
//!
//! Pure rules only: the scheduler applies the jitter, the store counts failed groups inside the
//! state machine (so every server agrees, and a leader change loses nothing).

use std::{fmt, str::FromStr, time::Duration};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Error, Job, JobSchedule, JobStatus};

#[cfg(test)]
mod tests;

/// Largest `jitter` a job may have: a day. A larger delay would no longer be a jitter of a
/// schedule, and it keeps the search for a pending jittered fire at start short.
pub const MAX_JITTER: Duration = Duration::from_secs(24 * 3600);

/// Most fires a `buffer_all` job keeps while its run goes on; later ones are skipped (and
/// counted), so a run that hangs cannot grow the buffer without bound.
pub const MAX_BUFFERED_FIRES: usize = 1000;

/// The delay added to the fire of `job_name` scheduled at `at`, for a jitter bound of `bound`:
/// in `0..=bound`, whole milliseconds.
///
/// Derived from a hash of the name and the instant, not from an RNG, so every server (and
/// `/next`) computes the same delay for the same fire, and a new leader fires it at the same
/// moment. The hash is our own (FNV-1a, then a 64-bit finaliser): std's hashers promise no
/// stability across Rust versions, and the delay must not change with the compiler.
pub fn jitter_delay(job_name: &str, at: Timestamp, bound: Duration) -> Duration {
    let range = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    if range == 0 {
        return Duration::ZERO;
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let instant = at.as_nanosecond().to_be_bytes();
    for byte in job_name.bytes().chain([0]).chain(instant) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV's low bits mix poorly; a splitmix64 finaliser spreads every input bit.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    Duration::from_millis(hash % range.saturating_add(1))
}

impl Job {
    /// When the fire scheduled at `at` is due: `at` plus [`jitter_delay`] for this job's
    /// `jitter` (`at` itself without one). The fire keeps `at` as its scheduled instant.
    pub fn jittered(&self, at: Timestamp) -> Timestamp {
        if self.jitter.is_zero() {
            return at;
        }
        let delay = jitter_delay(&self.name, at, self.jitter);
        SignedDuration::try_from(delay)
            .ok()
            .and_then(|d| at.checked_add(d).ok())
            .unwrap_or(at)
    }

    /// The instants the timer fires this job at after `now`, at most `count`, in schedule
    /// order: each fire of `schedule` (the job's own) at its jittered instant. A fire scheduled
    /// before `now` whose delay still runs is included. What `/next` and the web UI show.
    pub fn upcoming_fires(
        &self,
        schedule: &JobSchedule,
        now: Timestamp,
        count: usize,
    ) -> Vec<Timestamp> {
        let mut fires = Vec::with_capacity(count.min(64));
        // Fires scheduled up to `jitter` ago may still be due; older ones are not. The walk over
        // them is bounded by `MAX_JITTER`.
        let mut cursor = SignedDuration::try_from(self.jitter)
            .ok()
            .and_then(|jitter| now.checked_sub(jitter).ok())
            .unwrap_or(now);
        while fires.len() < count {
            match schedule.next_after(cursor) {
                Some(fire) if fire > cursor => {
                    let due = self.jittered(fire);
                    if due > now {
                        fires.push(due);
                    }
                    cursor = fire;
                }
                _ => break,
            }
        }
        fires
    }

    /// The instants of this job's schedule in `from..=to` (its `starts_at`/`expires_at` window
    /// applies), oldest first, at most `max + 1`, so a caller can tell "more than `max`". Empty
    /// for a child, a manual schedule or an invalid one. What a backfill runs.
    pub fn fires_in(&self, from: Timestamp, to: Timestamp, max: usize) -> Vec<Timestamp> {
        let Ok(Some(schedule)) = self.job_schedule() else {
            return Vec::new();
        };
        let since = from
            .checked_sub(SignedDuration::from_nanos(1))
            .unwrap_or(from);
        schedule.fires_between(since, to, max.saturating_add(1))
    }

    /// Counts a group that ended for good (its last attempt complete and no retry left) with
    /// `status`: a success resets the count of consecutive failed groups, a failure (full or
    /// partial) increments it, and reaching `pause_on_failure` disables the job with the reason
    /// in `paused_reason`. Returns whether this call paused the job.
    pub fn record_group_end(&mut self, status: JobStatus) -> bool {
        match status {
            JobStatus::Success => {
                self.consecutive_failures = 0;
                false
            }
            JobStatus::Failed | JobStatus::PartiallyFailed => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                let limit = self.pause_on_failure;
                if limit == 0 || self.consecutive_failures < limit || self.disabled {
                    return false;
                }
                self.disabled = true;
                self.paused_reason = format!(
                    "paused after {} consecutive failed runs (pause_on_failure: {limit})",
                    self.consecutive_failures
                );
                true
            }
            JobStatus::Untriggered => false,
        }
    }

    /// Keeps the failure count and pause reason of the `stored` version in this replacement a
    /// user submitted (an edit does not end a failure streak), unless the replacement enables
    /// a disabled job: enabling it (by a write or a toggle) clears the reason and starts
    /// counting afresh.
    pub fn merge_pause_fields(&mut self, stored: &Job) {
        if stored.disabled && !self.disabled {
            self.consecutive_failures = 0;
            self.paused_reason.clear();
        } else {
            self.consecutive_failures = stored.consecutive_failures;
            self.paused_reason.clone_from(&stored.paused_reason);
        }
    }

    /// Flips `disabled` (the toggle route). Enabling clears a pause for failures: the reason
    /// goes, and counting failed groups starts afresh.
    pub fn toggle_disabled(&mut self) {
        self.disabled = !self.disabled;
        if !self.disabled {
            self.consecutive_failures = 0;
            self.paused_reason.clear();
        }
    }

    /// Whether a finished group of the parent with `status` runs this child (see [`RunOn`]).
    pub fn runs_after(&self, status: JobStatus) -> bool {
        self.run_on.matches(status)
    }
}

/// How the runs of a backfill call overlap (the call's `overlap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum BackfillOverlap {
    /// Start every instant at once.
    #[default]
    Allow,
    /// Start the first instant only, and none if a run of the job is going: the others would
    /// overlap it (Temporal's `skip` for a backfill).
    Skip,
    /// Start them one after the other, oldest first, each when the previous run ended.
    BufferAll,
}

impl BackfillOverlap {
    /// The wire text: `allow`, `skip`, `buffer_all`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillOverlap::Allow => "allow",
            BackfillOverlap::Skip => "skip",
            BackfillOverlap::BufferAll => "buffer_all",
        }
    }
}

impl FromStr for BackfillOverlap {
    type Err = Error;

    /// `allow` (or empty), `skip`, `buffer_all`.
    fn from_str(s: &str) -> Result<BackfillOverlap, Error> {
        match s {
            "" | "allow" => Ok(BackfillOverlap::Allow),
            "skip" => Ok(BackfillOverlap::Skip),
            "buffer_all" => Ok(BackfillOverlap::BufferAll),
            _ => Err(Error::UnknownValue {
                kind: "backfill overlap",
                value: s.to_owned(),
            }),
        }
    }
}

/// Which outcome of its parent's group runs a child job (`run_on`).
///
/// dkron runs children after a successful parent group only, which stays the default. A group
/// counts once its last attempt is complete and no retry is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RunOn {
    /// After the parent's group succeeded (dkron's behaviour).
    #[default]
    Success,
    /// After it failed, fully or partly, with its retries used up.
    Failure,
    /// After it ended, whatever the outcome.
    Always,
}

impl RunOn {
    /// The wire text: `success`, `failure`, `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOn::Success => "success",
            RunOn::Failure => "failure",
            RunOn::Always => "always",
        }
    }

    /// Whether a parent group that ended with `status` runs the child.
    pub fn matches(self, status: JobStatus) -> bool {
        match status {
            JobStatus::Success => matches!(self, RunOn::Success | RunOn::Always),
            JobStatus::Failed | JobStatus::PartiallyFailed => {
                matches!(self, RunOn::Failure | RunOn::Always)
            }
            JobStatus::Untriggered => false,
        }
    }
}

impl fmt::Display for RunOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunOn {
    type Err = Error;

    /// `success` (or empty), `failure`, `always`.
    fn from_str(s: &str) -> Result<RunOn, Error> {
        match s {
            "" | "success" => Ok(RunOn::Success),
            "failure" => Ok(RunOn::Failure),
            "always" => Ok(RunOn::Always),
            _ => Err(Error::InvalidRunOn {
                value: s.to_owned(),
            }),
        }
    }
}
