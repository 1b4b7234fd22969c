//! [`Starts`]: the starts the leader's launch log commits with their launches, kept until the
//! dispatch that hands them over takes them.
//!
//! A fire's start travels in its `RecordLaunch` command ([`dkron_raft::Command`]), so the
//! hand-over needs no Raft write of its own; the dispatch only learns which instant was
//! recorded (the executions' ids and `start_by` derive from it) and takes over the hand-over
//! registrations made before the commit.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, hash_map::Entry},
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

/// How long a handed-out start instant is remembered. Every later stamp is at or after "now"
/// (never behind the latest now seen), so an instant older than this is never asked for again.
const REMEMBERED: SignedDuration = SignedDuration::from_secs(10);

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
    stamps: Mutex<Stamps>,
}

/// The start instants handed out lately, so none is handed out twice.
#[derive(Default)]
struct Stamps {
    /// Every instant handed out at or after the latest now seen less [`REMEMBERED`].
    issued: BTreeSet<Timestamp>,
    /// Per instant asked for, where to look next: a burst of launches due at one instant costs
    /// a step each, not a scan of the burst.
    next: HashMap<Timestamp, Timestamp>,
    /// The latest now seen: a clock stepped back does not reach below what was pruned.
    now: Timestamp,
}

impl Stamps {
    fn stamp(&mut self, not_before: Timestamp, now: Timestamp) -> Timestamp {
        self.now = self.now.max(now);
        let base = not_before.max(self.now);
        let mut at = self.next.get(&base).copied().unwrap_or(base);
        while !self.issued.insert(at) {
            at = at.checked_add(SignedDuration::from_nanos(1)).unwrap_or(at);
        }
        self.next.insert(
            base,
            at.checked_add(SignedDuration::from_nanos(1)).unwrap_or(at),
        );
        at
    }

    fn prune(&mut self) {
        let Ok(cutoff) = self.now.checked_sub(REMEMBERED) else {
            return;
        };
        self.issued = self.issued.split_off(&cutoff);
        self.next.retain(|base, _| *base >= cutoff);
    }
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
            stamps: Mutex::new(Stamps::default()),
        }
    }

    /// A start instant for a launch about to be recorded: `not_before` (a fire handed over
    /// ahead of its due instant starts then), or now if later, moved on by nanoseconds past any
    /// instant handed out before. An execution's id is its start's nanosecond and its node, so
    /// two launches (two jobs due at one instant on one node, or backfilled fires of one job)
    /// must not share an instant.
    pub(super) fn stamp(&self, not_before: Timestamp) -> Timestamp {
        let mut stamps = self.stamps.lock().unwrap_or_else(PoisonError::into_inner);
        stamps.stamp(not_before, Timestamp::now())
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
        self.stamps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prune();
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
