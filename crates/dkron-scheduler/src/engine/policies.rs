//! The loop's run policies beyond dkron's: the jittered instant a fire is due at, and which
//! children a finished parent group runs (`run_on`).
//!
//! Kept apart from the timer loop so the policies read as one piece; they only use the loop's
//! slots and its launch path.

use std::sync::Arc;

use dkron_model::{Job, JobStatus, Trigger};
use jiff::Timestamp;
use tracing::{debug, warn};

use super::{Engine, LaunchSpec, Slot};
use crate::stats::add;

impl Slot {
    /// When the next timer fire is due: its scheduled instant plus the job's jitter for that
    /// instant ([`Job::jittered`]). The heap orders fires by this; the launch keeps the
    /// scheduled instant.
    pub(super) fn due(&self) -> Option<Timestamp> {
        self.next().map(|at| self.job.jittered(at))
    }
}

impl Engine {
    /// The parent group ended for good with `status` (failed, and no retry left): run the
    /// children whose `run_on` takes a failure.
    pub(super) fn failed_for_good(&mut self, job_name: &str, status: JobStatus, now: Timestamp) {
        let Some((_, slot)) = self.slot_named(job_name) else {
            return;
        };
        let job = Arc::clone(&slot.job);
        self.run_children(&job, status, now);
    }

    /// Runs the children of `job` whose `run_on` matches the parent group's `status`, each in a
    /// group of its own, through their concurrency policy. Disabled, paused or inactive children
    /// are skipped.
    pub(super) fn run_children(&mut self, job: &Job, status: JobStatus, now: Timestamp) {
        for child in &job.dependent_jobs {
            let Some((idx, slot)) = self.slot_named(child) else {
                warn!(job = %job.name, child = %child, "dependent job not found");
                continue;
            };
            if !slot.job.runs_after(status) {
                continue;
            }
            if slot.job.disabled || slot.paused || !slot.job.active_at(now) {
                debug!(job = %child, "dependent run skipped: child disabled, paused or inactive");
                add(&self.ports.counters.skipped, 1);
                continue;
            }
            if !self.admit(idx) {
                continue;
            }
            let group = self.new_group(now);
            add(&self.ports.counters.dependent, 1);
            self.launch(idx, LaunchSpec::first(Trigger::Dependent, now, group));
        }
    }
}
