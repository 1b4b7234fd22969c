//! Fires that come too late: the misfire bound checked just before a timer fire is recorded,
//! and the per-job tally of the fires it dropped.
//!
//! Why at that point: past capacity, fires queue between the timer and the launch log (launch
//! batches wait for the previous batch's record, which waits for Raft). A fire whose start is
//! already later than its job allows is dropped there, before it costs a record, a dispatch and
//! a run; so the queue holds at most the bound's worth of fires, and the cluster spends its
//! capacity on fires that are still useful. The policy decides what "too late" means and
//! whether late fires are dropped or coalesced.

use std::{collections::HashMap, time::Duration};

use dkron_model::MisfirePolicy;
use jiff::{SignedDuration, Timestamp};

#[cfg(test)]
mod tests;

/// How late a timer fire may be recorded, by default, for jobs whose `misfire_policy` has no
/// window of its own (`skip`, `run_once`).
pub const DEFAULT_MISFIRE_THRESHOLD: Duration = Duration::from_secs(5);

/// What to do with a timer fire about to be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the bound (or the policy runs it anyway): record and dispatch it.
    Run,
    /// Later than the bound: dropped (`skip`, or `catch_up` past its window).
    Skip,
    /// Later than the bound, and a later fire of the job is already due: that one stands for
    /// both (`run_once`), so the backlog of late fires runs once.
    Coalesce,
}

/// The verdict on a timer fire scheduled at `at`, about to be recorded at `now`; `next` is the
/// job's next regular fire after it (as computed when it fired).
///
/// The bound is `catch_up`'s window, or `threshold` for `skip` and `run_once`. A fire exactly
/// at the bound still runs.
pub(crate) fn verdict(
    policy: MisfirePolicy,
    threshold: Duration,
    at: Timestamp,
    next: Option<Timestamp>,
    now: Timestamp,
) -> Verdict {
    let bound = match policy {
        MisfirePolicy::CatchUp { window } => window,
        MisfirePolicy::Skip | MisfirePolicy::RunOnce => threshold,
    };
    let late = now.duration_since(at);
    let within = SignedDuration::try_from(bound).map_or(true, |bound| late <= bound);
    if within {
        return Verdict::Run;
    }
    match policy {
        MisfirePolicy::Skip | MisfirePolicy::CatchUp { .. } => Verdict::Skip,
        MisfirePolicy::RunOnce if next.is_some_and(|next| next <= now) => Verdict::Coalesce,
        MisfirePolicy::RunOnce => Verdict::Run,
    }
}

/// Timer fires of one job that the misfire bound dropped, since they were last taken
/// ([`crate::Scheduler::take_skipped`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// The job's name.
    pub job: String,
    /// Fires dropped (skipped or coalesced).
    pub count: u64,
    /// The scheduled instant of the latest one.
    pub last: Timestamp,
}

/// The loop's tally of dropped fires per job. Holds one entry per job with drops since the
/// last take, so it is bounded by the number of jobs (and emptied by every take).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    jobs: HashMap<String, (u64, Timestamp)>,
}

impl Tally {
    pub(crate) fn add(&mut self, job: String, at: Timestamp) {
        let entry = self.jobs.entry(job).or_insert((0, at));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = entry.1.max(at);
    }

    /// Forgets a removed job's drops: nothing would show them.
    pub(crate) fn forget(&mut self, job: &str) {
        self.jobs.remove(job);
    }

    /// Every job's drops since the last take, in name order.
    pub(crate) fn take(&mut self) -> Vec<Skipped> {
        let mut taken: Vec<Skipped> = std::mem::take(&mut self.jobs)
            .into_iter()
            .map(|(job, (count, last))| Skipped { job, count, last })
            .collect();
        taken.sort_unstable_by(|a, b| a.job.cmp(&b.job));
        taken
    }
}
