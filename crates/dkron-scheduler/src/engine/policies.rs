//! The loop's run policies beyond dkron's: the jittered instant a fire is due at, which
//! children a finished parent group runs (`run_on`; children of several parents are in
//! `parents.rs`), and the fires `buffer_one`/`buffer_all`
//! jobs keep while they run.
//!
//! Kept apart from the timer loop so the policies read as one piece; they only use the loop's
//! slots and its launch path.

use std::collections::VecDeque;

use dkron_model::{BackfillOverlap, Concurrency, Job, JobStatus, MAX_BUFFERED_FIRES, Trigger};
use jiff::{SignedDuration, Timestamp};
use tracing::{debug, warn};

use super::{Engine, LaunchSpec, Slot, group_of};
use crate::{Error, stats::add};

impl Slot {
    /// When the next timer fire is due: its scheduled instant plus the job's jitter for that
    /// instant ([`Job::jittered`]). The heap orders fires by this; the launch keeps the
    /// scheduled instant.
    pub(super) fn due(&self) -> Option<Timestamp> {
        self.next().map(|at| self.job.jittered(at))
    }

    /// When the loop takes the next timer fire: [`Slot::due`], less `lead` for a job whose runs
    /// may overlap (`allow`), so its fire is recorded and handed over in time to start on its
    /// instant (see [`crate::SchedulerBuilder::lead`]). Other policies decide against the
    /// runs going at the due instant itself, so they are taken then.
    pub(super) fn wake(&self, lead: SignedDuration) -> Option<Timestamp> {
        self.due()
            .map(|due| wake_at(self.job.concurrency(), due, lead))
    }
}

/// [`Slot::wake`] for a fire due at `due` of a job with this `concurrency`.
pub(super) fn wake_at(concurrency: Concurrency, due: Timestamp, lead: SignedDuration) -> Timestamp {
    if concurrency == Concurrency::Allow {
        due.checked_sub(lead).unwrap_or(due)
    } else {
        due
    }
}

impl Engine {
    /// The parent group ended for good with `status` (failed, and no retry left): run the
    /// children whose `run_on` takes a failure.
    pub(super) fn failed_for_good(
        &mut self,
        job_name: &str,
        status: JobStatus,
        now: Timestamp,
        ready: Option<&[String]>,
    ) {
        // Without children there is nothing to run, and no need to rebuild the job.
        let Some((_, slot)) = self
            .slot_named(job_name)
            .filter(|(_, slot)| slot.job.has_dependents())
        else {
            return;
        };
        let job = slot.job.full();
        self.run_children(&job, status, now, ready);
    }

    /// Runs the children of `job` whose `run_on` matches the parent group's `status`, each in a
    /// group of its own, through their concurrency policy. A child of several parents runs
    /// only when this group completed a round of its parents ([`Engine::completes_round`]).
    /// Disabled, paused or inactive children are skipped.
    pub(super) fn run_children(
        &mut self,
        job: &Job,
        status: JobStatus,
        now: Timestamp,
        ready: Option<&[String]>,
    ) {
        for child in &job.dependent_jobs {
            let Some((idx, slot)) = self.slot_named(child) else {
                warn!(job = %job.name, child = %child, "dependent job not found");
                continue;
            };
            let runs = if slot.job.waits_for_parents() {
                self.completes_round(idx, &job.name, status, ready)
            } else {
                slot.job.runs_after(status)
            };
            let Some(slot) = self.slot(idx).filter(|_| runs) else {
                continue;
            };
            if slot.job.disabled() || slot.paused || !slot.job.active_at(now) {
                debug!(job = %child, "dependent run skipped: child disabled, paused or inactive");
                add(&self.ports.counters.skipped, 1);
                continue;
            }
            if !self.admit(idx, Buffered::Dependent) {
                continue;
            }
            let group = self.new_group(now);
            add(&self.ports.counters.dependent, 1);
            self.launch(idx, LaunchSpec::first(Trigger::Dependent, now, group));
        }
    }
}

/// A fire a `buffer_*` job keeps until its running group ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Buffered {
    /// A timer fire, launched later with its own scheduled instant (and group).
    Scheduled(Timestamp),
    /// A run its parent asked for, launched later in a new group.
    Dependent,
    /// An instant a `buffer_all` backfill runs, in a new group, with the instant as its
    /// scheduled time.
    Backfill(Timestamp),
}

impl Engine {
    /// A backfill of `name`: `fires` (scheduled instants, oldest first) run now as new groups
    /// (`allow`), only the first and only if no run is going (`skip`), or one after the other
    /// (`buffer_all`, bounded like a `buffer_all` job). Returns how many were launched or queued.
    pub(super) fn backfill(
        &mut self,
        name: &str,
        fires: Vec<Timestamp>,
        overlap: BackfillOverlap,
    ) -> Result<usize, Error> {
        let (idx, slot) = self.slot_named(name).ok_or_else(|| Error::JobNotFound {
            name: name.to_owned(),
        })?;
        if slot.job.disabled() {
            return Err(Error::JobDisabled {
                name: name.to_owned(),
            });
        }
        let running = self.running.get(name).is_some_and(|runs| !runs.is_empty());
        let now = self.ports.clock.now();
        match overlap {
            BackfillOverlap::Allow => {
                let count = fires.len();
                for at in fires {
                    let group = self.new_group(now);
                    self.launch(idx, LaunchSpec::first(Trigger::Backfill, at, group));
                }
                Ok(count)
            }
            BackfillOverlap::Skip => match fires.first() {
                Some(&at) if !running => {
                    let group = self.new_group(now);
                    self.launch(idx, LaunchSpec::first(Trigger::Backfill, at, group));
                    Ok(1)
                }
                _ => Ok(0),
            },
            BackfillOverlap::BufferAll => {
                let queue = self.buffered.entry(name.to_owned()).or_default();
                let room = MAX_BUFFERED_FIRES.saturating_sub(queue.len());
                let count = fires.len().min(room);
                queue.extend(fires.into_iter().take(count).map(Buffered::Backfill));
                self.release_buffered(name);
                Ok(count)
            }
        }
    }

    /// Keeps `fire` of the `buffer_one`/`buffer_all` job `name` for when its run ends: at most
    /// one for `buffer_one`, [`MAX_BUFFERED_FIRES`] for `buffer_all`; a fire beyond is skipped.
    pub(super) fn buffer(&mut self, name: String, policy: Concurrency, fire: Buffered) {
        let cap = match policy {
            Concurrency::BufferOne => 1,
            _ => MAX_BUFFERED_FIRES,
        };
        let queue = self.buffered.entry(name).or_default();
        if queue.len() >= cap {
            debug!(?fire, "skipping fire: the job's buffer is full");
            add(&self.ports.counters.skipped, 1);
            return;
        }
        queue.push_back(fire);
    }

    /// The fires [`crate::plan::resume_buffered`] rebuilt for `name` at start. Released when the
    /// adopted run reports its end.
    pub(super) fn buffer_at_start(&mut self, name: &str, fires: Vec<Timestamp>) {
        if fires.is_empty() {
            return;
        }
        let queue = self.buffered.entry(name.to_owned()).or_default();
        queue.extend(fires.into_iter().map(Buffered::Scheduled));
    }

    /// Starts the oldest buffered fire of `name` once none of its runs is in flight. A fire of a
    /// job disabled, paused or removed meanwhile is dropped with the rest of its buffer.
    pub(super) fn release_buffered(&mut self, name: &str) {
        if self.running.get(name).is_some_and(|runs| !runs.is_empty()) {
            return;
        }
        let Some(fire) = self.buffered.get_mut(name).and_then(VecDeque::pop_front) else {
            return;
        };
        if self.buffered.get(name).is_some_and(VecDeque::is_empty) {
            self.buffered.remove(name);
        }
        let Some((idx, slot)) = self.slot_named(name) else {
            self.buffered.remove(name);
            return;
        };
        let now = self.ports.clock.now();
        let spec = match fire {
            Buffered::Scheduled(at) if slot.timed() => {
                add(&self.ports.counters.scheduled, 1);
                self.last_group = self.last_group.max(group_of(at));
                LaunchSpec::first(Trigger::Scheduled, at, group_of(at))
            }
            Buffered::Dependent if !slot.job.disabled() && !slot.paused => {
                add(&self.ports.counters.dependent, 1);
                LaunchSpec::first(Trigger::Dependent, now, self.new_group(now))
            }
            Buffered::Backfill(at) if !slot.job.disabled() => {
                LaunchSpec::first(Trigger::Backfill, at, self.new_group(now))
            }
            _ => {
                debug!(job = %name, "buffered fires dropped: job disabled or paused");
                self.buffered.remove(name);
                return;
            }
        };
        self.launch(idx, spec);
    }
}
