//! [`KeptJob`]: a job as the timer loop keeps it between fires, in a fraction of the memory of
//! a `Job`: a 128 B struct plus its name and one buffer of everything else, against a 712 B
//! `Job` struct plus an allocation per string and per map.
//!
//! Why: the loop holds every job for as long as it is loaded (100k jobs on a leader), and
//! decides with a few of its fields only: its name, `disabled`, `concurrency`, the window
//! (`starts_at`, `expires_at`), `jitter`, `misfire_policy`, `retries`, `ephemeral`, `run_on`,
//! the phase `next`, and whether it has parents or children. Those are kept typed; everything
//! else (free text, the executor and its settings, the four maps, counters, the schedule's own
//! text) is encoded once into one buffer (`codec`) and the whole `Job` is rebuilt only when a
//! fire leaves the loop ([`KeptJob::full`], a few µs: see docs/benchmarks.md). A job that
//! fires often is kept whole instead ([`KeptJob::keep_whole`]).

use std::{borrow::Cow, sync::Arc, time::Duration};

use dkron_model::{Concurrency, Job, JobStatus, MisfirePolicy, NotifyPolicy, RunOn, jitter_delay};
use jiff::{SignedDuration, Timestamp};

mod codec;
mod pack;

use codec::Writer;
use pack::{decode, encode, write_timing};

/// A job as the loop keeps it: packed (the decision fields, the rest in one buffer), or whole.
/// Cloning is a reference-count increment.
#[derive(Debug, Clone)]
pub(crate) struct KeptJob(Form);

#[derive(Debug, Clone)]
enum Form {
    Packed(Arc<Packed>),
    Whole(Arc<Job>),
}

/// The fields the loop decides with, typed, and the others in `rest`.
#[derive(Debug)]
struct Packed {
    name: Box<str>,
    /// Every other field but `notify`, written by [`encode`]: first the timing fields
    /// (`schedule`, `timezone`, `parent_job`, `parent_jobs`), `timing_len` bytes, then the rest.
    rest: Box<[u8]>,
    /// Rarely set, and a policy rather than text: kept as it is, boxed (8 bytes when unset).
    notify: Option<Box<NotifyPolicy>>,
    jitter: Duration,
    misfire_policy: MisfirePolicy,
    starts_at: OptTime,
    expires_at: OptTime,
    /// The phase of a never-fired `@every` job ([`Job::next`]).
    next: OptTime,
    retries: u32,
    timing_len: u32,
    concurrency: Concurrency,
    run_on: RunOn,
    disabled: bool,
    ephemeral: bool,
    /// `dependent_jobs` is not empty.
    has_dependents: bool,
    /// [`Job::is_child`].
    is_child: bool,
    /// [`Job::waits_for_parents`].
    waits_for_parents: bool,
}

/// An `Option<Timestamp>` in 12 bytes where it takes 24.
// Why: a packed job keeps three; 36 bytes less brings `Arc<Packed>` into a smaller allocator
// size class (144 B → mimalloc's 160 B bin instead of 176 B → 192 B).
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
struct OptTime {
    second: i64,
    /// [`OptTime::NONE`] for `None`: never a valid `Timestamp` nanosecond (±999,999,999).
    nanosecond: i32,
}

impl OptTime {
    const NONE: i32 = i32::MIN;

    fn new(at: Option<Timestamp>) -> OptTime {
        match at {
            Some(at) => OptTime {
                second: at.as_second(),
                nanosecond: at.subsec_nanosecond(),
            },
            None => OptTime {
                second: 0,
                nanosecond: OptTime::NONE,
            },
        }
    }

    fn get(self) -> Option<Timestamp> {
        // Fields are copied out: a packed struct's fields can't be borrowed.
        let (second, nanosecond) = (self.second, self.nanosecond);
        // `None` for NONE; otherwise always `Some`: the pair came from a `Timestamp`.
        Timestamp::new(second, nanosecond).ok()
    }
}

impl KeptJob {
    pub(crate) fn new(job: Job) -> KeptJob {
        KeptJob(Form::Packed(Arc::new(encode(job))))
    }

    /// Whether the job is packed ([`KeptJob::full`] then rebuilds it).
    pub(crate) fn is_packed(&self) -> bool {
        matches!(self.0, Form::Packed(_))
    }

    /// Unpacks for good (until the job is replaced): for a job that fires so often that
    /// rebuilding it each time costs more than its memory is worth.
    pub(crate) fn keep_whole(&mut self) {
        if self.is_packed() {
            self.0 = Form::Whole(self.full());
        }
    }

    /// The job to update in place (a child's round of parents, `parent_ends`), copied on write
    /// if a fire still holds it. Keeps the job whole from then on: the update would otherwise
    /// mean re-encoding it, and it is rare (children of several parents, reports received
    /// in-process).
    pub(crate) fn make_mut(&mut self) -> &mut Job {
        self.keep_whole();
        match &mut self.0 {
            Form::Whole(job) => Arc::make_mut(job),
            // `keep_whole` just made it whole.
            Form::Packed(_) => unreachable!("kept whole above"),
        }
    }

    /// The whole job, as it was given: what leaves the loop (dispatch, target selection).
    pub(crate) fn full(&self) -> Arc<Job> {
        match &self.0 {
            Form::Whole(job) => Arc::clone(job),
            Form::Packed(packed) => Arc::new(decode(packed)),
        }
    }

    pub(crate) fn name(&self) -> &str {
        match &self.0 {
            Form::Packed(p) => &p.name,
            Form::Whole(job) => &job.name,
        }
    }

    pub(crate) fn disabled(&self) -> bool {
        match &self.0 {
            Form::Packed(p) => p.disabled,
            Form::Whole(job) => job.disabled,
        }
    }

    pub(crate) fn ephemeral(&self) -> bool {
        match &self.0 {
            Form::Packed(p) => p.ephemeral,
            Form::Whole(job) => job.ephemeral,
        }
    }

    pub(crate) fn concurrency(&self) -> Concurrency {
        match &self.0 {
            Form::Packed(p) => p.concurrency,
            Form::Whole(job) => job.concurrency,
        }
    }

    pub(crate) fn misfire_policy(&self) -> MisfirePolicy {
        match &self.0 {
            Form::Packed(p) => p.misfire_policy,
            Form::Whole(job) => job.misfire_policy,
        }
    }

    pub(crate) fn retries(&self) -> u32 {
        match &self.0 {
            Form::Packed(p) => p.retries,
            Form::Whole(job) => job.retries,
        }
    }

    pub(crate) fn jitter(&self) -> Duration {
        match &self.0 {
            Form::Packed(p) => p.jitter,
            Form::Whole(job) => job.jitter,
        }
    }

    pub(crate) fn starts_at(&self) -> Option<Timestamp> {
        match &self.0 {
            Form::Packed(p) => p.starts_at.get(),
            Form::Whole(job) => job.starts_at,
        }
    }

    pub(crate) fn expires_at(&self) -> Option<Timestamp> {
        match &self.0 {
            Form::Packed(p) => p.expires_at.get(),
            Form::Whole(job) => job.expires_at,
        }
    }

    /// [`Job::next`]: the phase a never-fired `@every` job keeps.
    pub(crate) fn next(&self) -> Option<Timestamp> {
        match &self.0 {
            Form::Packed(p) => p.next.get(),
            Form::Whole(job) => job.next,
        }
    }

    /// Whether `dependent_jobs` is not empty.
    pub(crate) fn has_dependents(&self) -> bool {
        match &self.0 {
            Form::Packed(p) => p.has_dependents,
            Form::Whole(job) => !job.dependent_jobs.is_empty(),
        }
    }

    /// [`Job::is_child`].
    pub(crate) fn is_child(&self) -> bool {
        match &self.0 {
            Form::Packed(p) => p.is_child,
            Form::Whole(job) => job.is_child(),
        }
    }

    /// [`Job::waits_for_parents`].
    pub(crate) fn waits_for_parents(&self) -> bool {
        match &self.0 {
            Form::Packed(p) => p.waits_for_parents,
            Form::Whole(job) => job.waits_for_parents(),
        }
    }

    /// [`Job::runs_after`].
    pub(crate) fn runs_after(&self, status: JobStatus) -> bool {
        match &self.0 {
            Form::Packed(p) => p.run_on.matches(status),
            Form::Whole(job) => job.runs_after(status),
        }
    }

    /// [`Job::active_at`].
    pub(crate) fn active_at(&self, now: Timestamp) -> bool {
        match &self.0 {
            Form::Packed(p) => {
                p.starts_at.get().is_none_or(|start| now >= start)
                    && p.expires_at.get().is_none_or(|end| now <= end)
            }
            Form::Whole(job) => job.active_at(now),
        }
    }

    /// [`Job::jittered`]: the instant the fire scheduled at `at` is due.
    pub(crate) fn jittered(&self, at: Timestamp) -> Timestamp {
        match &self.0 {
            // As `Job::jittered` (the unit tests compare the two).
            Form::Packed(p) if p.jitter.is_zero() => at,
            Form::Packed(p) => SignedDuration::try_from(jitter_delay(&p.name, at, p.jitter))
                .ok()
                .and_then(|d| at.checked_add(d).ok())
                .unwrap_or(at),
            Form::Whole(job) => job.jittered(at),
        }
    }

    /// Whether `other` has the same timing: schedule, zone, window, parents and jitter (an
    /// update that keeps them keeps the job's pending fire).
    pub(crate) fn same_timing(&self, other: &KeptJob) -> bool {
        self.timing() == other.timing()
            && self.starts_at() == other.starts_at()
            && self.expires_at() == other.expires_at()
            && self.jitter() == other.jitter()
    }

    /// `schedule`, `timezone`, `parent_job` and `parent_jobs` as [`encode`] writes them.
    fn timing(&self) -> Cow<'_, [u8]> {
        match &self.0 {
            Form::Packed(p) => Cow::Borrowed(p.rest.get(..p.timing_len as usize).unwrap_or(&[])),
            Form::Whole(job) => {
                let mut out = Writer::default();
                write_timing(
                    &mut out,
                    &job.schedule,
                    &job.timezone,
                    job.parent_job.as_deref(),
                    &job.parent_jobs,
                );
                Cow::Owned(out.0)
            }
        }
    }
}

#[cfg(test)]
mod tests;
