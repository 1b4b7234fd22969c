//! [`Starts`]: the starts the leader's launch log commits with their launches, kept until the
//! dispatch that hands them over takes them.
//!
//! A fire's start travels in its `RecordLaunch` command ([`dkron_raft::Command`]), so the
//! hand-over needs no Raft write of its own; the dispatch only learns which instant was
//! recorded (the executions' ids and `start_by` derive from it) and takes over the hand-over
//! registrations made before the commit.

use std::{
    collections::{BTreeMap, HashMap, hash_map::Entry},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use dkron_model::LaunchRecord;
use jiff::{SignedDuration, Timestamp};

use super::{HandOvers, hand_overs::HandOverGuard};

/// How long a recorded start waits for its dispatch before it is dropped. The dispatch follows
/// the commit at once; this only bounds what a scheduler stopped in between leaves behind, so
/// its hand-over registrations cannot keep the reconciler off those runs for ever.
const ABANDONED: Duration = Duration::from_secs(60);

/// One launch's `(job, group, attempt)`.
type Key = (String, i64, u32);

/// A recorded start waiting for its dispatch.
struct Pending {
    started_at: Timestamp,
    /// The hand-over registration of each target's execution.
    guards: BTreeMap<String, HandOverGuard>,
    since: Instant,
}

/// A recorded start, taken by the dispatch.
pub(super) struct Recorded {
    /// When the launch's executions are recorded to have started.
    pub(super) started_at: Timestamp,
    /// The hand-over registration of each target's execution.
    pub(super) guards: BTreeMap<String, HandOverGuard>,
}

/// The starts recorded (or being recorded) with their launches, not yet dispatched.
pub(crate) struct Starts {
    hand_overs: Arc<HandOvers>,
    pending: Mutex<HashMap<Key, Pending>>,
    /// The last start instant handed out.
    last: Mutex<Timestamp>,
}

impl std::fmt::Debug for Starts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Starts").finish_non_exhaustive()
    }
}

fn key(launch: &LaunchRecord) -> Key {
    (launch.job_name.clone(), launch.group, launch.attempt)
}

impl Starts {
    pub(crate) fn new(hand_overs: Arc<HandOvers>) -> Starts {
        Starts {
            hand_overs,
            pending: Mutex::new(HashMap::new()),
            last: Mutex::new(Timestamp::UNIX_EPOCH),
        }
    }

    /// A start instant for a launch about to be recorded: now, and strictly after the one
    /// handed out before. An execution's id is its start's nanosecond and its node, so two
    /// launches of one batch (two jobs on one node, or backfilled fires of one job) must not
    /// share an instant.
    pub(super) fn stamp(&self) -> Timestamp {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Timestamp::now();
        let next = last
            .checked_add(SignedDuration::from_nanos(1))
            .map_or(now, |after| now.max(after));
        *last = next;
        next
    }

    /// Registers the hand-overs of `launch`'s executions started at `started_at`, before the
    /// launch is committed: a scheduler started meanwhile on this server counts them in flight,
    /// and no reconciler closes them while they are being handed over (as [`HandOvers`] says).
    /// `false`, registering nothing, when a start of the same launch is pending already (a
    /// repeat, which the state machine refuses): the pending one must stay for its dispatch.
    pub(super) fn begin(&self, launch: &LaunchRecord, started_at: Timestamp) -> bool {
        // One lock for the check and the insert: two begins of one launch cannot both pass.
        let mut pending = self.lock();
        let Entry::Vacant(slot) = pending.entry(key(launch)) else {
            return false;
        };
        let guards = launch
            .targets
            .iter()
            .map(|target| {
                let id = dkron_model::Execution::id_for(started_at, target);
                (target.clone(), self.hand_overs.begin(id, launch.clone()))
            })
            .collect();
        slot.insert(Pending {
            started_at,
            guards,
            since: Instant::now(),
        });
        true
    }

    /// Drops the starts that waited for their dispatch longer than [`ABANDONED`] (called once
    /// per batch of launches: a pass over every pending start per launch would cost a storm's
    /// square).
    pub(super) fn prune(&self) {
        self.lock().retain(|(job, group, attempt), waiting| {
            let kept = waiting.since.elapsed() < ABANDONED;
            if !kept {
                tracing::warn!(%job, group, attempt, "a recorded start was never dispatched; dropping it");
            }
            kept
        });
    }

    /// Forgets the start of a launch that was not recorded (refused, or the commit failed).
    pub(super) fn forget(&self, launch: &LaunchRecord) {
        self.lock().remove(&key(launch));
    }

    /// Takes the recorded start of `launch`, if its launch log recorded one.
    pub(super) fn take(&self, launch: &LaunchRecord) -> Option<Recorded> {
        self.lock().remove(&key(launch)).map(|pending| Recorded {
            started_at: pending.started_at,
            guards: pending.guards,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Pending>> {
        // Plain inserts and removals: poisoning cannot leave the map half changed.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
