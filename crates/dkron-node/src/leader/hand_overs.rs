//! [`HandOvers`]: the runs this server's schedulers are handing over, across leaderships.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
};

use dkron_model::LaunchRecord;

/// The runs this server is handing to other nodes, by execution id: from before their start is
/// recorded until the target answered or the failure was recorded. It outlives each scheduler
/// (a leadership change does not end a hand-over already under way), so a new scheduler counts
/// them as in flight even when their start record is not applied yet, and a node declared lost
/// keeps them running: the hand-over's own outcome settles them (the target accepted it in time
/// and will report, or the call failed and a failed execution is recorded). Without this, the
/// soak saw `forbid` jobs overlap across a leadership change and after a paused agent resumed.
#[derive(Debug, Default)]
pub(crate) struct HandOvers(Mutex<BTreeMap<String, LaunchRecord>>);

impl HandOvers {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LaunchRecord>> {
        // Plain inserts and removals: poisoning cannot leave the map half changed.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers execution `id` of `launch` until the returned guard drops.
    pub(super) fn begin(self: &Arc<Self>, id: String, launch: LaunchRecord) -> HandOverGuard {
        self.lock().insert(id.clone(), launch);
        HandOverGuard {
            hand_overs: Arc::clone(self),
            id,
        }
    }

    /// Whether execution `id` is being handed over.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// The ids of the executions being handed over.
    pub(crate) fn ids(&self) -> std::collections::BTreeSet<String> {
        self.lock().keys().cloned().collect()
    }

    /// The launches being handed over.
    pub(crate) fn launches(&self) -> Vec<LaunchRecord> {
        self.lock().values().cloned().collect()
    }
}

/// Ends a hand-over's registration when dropped (also when its task is cancelled).
pub(super) struct HandOverGuard {
    hand_overs: Arc<HandOvers>,
    id: String,
}

impl Drop for HandOverGuard {
    fn drop(&mut self) {
        self.hand_overs.lock().remove(&self.id);
    }
}
