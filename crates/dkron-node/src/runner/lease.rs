//! [`Lease`]: how long this node may run what it was given without hearing from a leader.
//!
//! The leader fails a node that sent no heartbeat for the failure timeout (and does not answer),
//! closes its running executions as lost, and fires their jobs again elsewhere. So a node cut
//! off from the leader (partitioned, paused, starved) must stop its runs by then, or "closed,
//! node lost" is untrue and a `forbid` job overlaps. The lease is renewed by every heartbeat a
//! leader accepted, from the instant that heartbeat was sent (before the leader's receipt, so
//! the node's bound ends first). Once it lapsed, the runs accepted before are fenced: the
//! running ones are cancelled, and those not started yet never start. A lapse is detected by a
//! watchdog tick or by the next accepted heartbeat, whichever comes first, so a node that was
//! paused past its lease fences what it held before anything runs on.

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Lease {
    /// How long after sending an accepted heartbeat the node may keep running.
    bound: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// When the last heartbeat a leader accepted was sent.
    renewed: Instant,
    /// Whether the lease lapsed since (no lapse is counted twice).
    lapsed: bool,
    /// How many lapses so far: a run is fenced when this moved since it was accepted.
    epoch: u64,
}

impl Lease {
    /// A lease of `bound` (the failure timeout), held from `now`; or, for a node that restarts
    /// (`restarted`), lapsed until its first heartbeat is accepted: the leader may still count
    /// the crashed process alive and be about to fail it and close its runs (the soak saw a
    /// restarted server accept a run the leader closed as lost 0.2 s later).
    pub(crate) fn new(bound: Duration, now: Instant, restarted: bool) -> Lease {
        Lease {
            bound,
            state: Mutex::new(State {
                renewed: now,
                lapsed: restarted,
                epoch: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Each critical section leaves the state whole: poisoning cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current epoch: a run accepted now belongs to it.
    pub(crate) fn epoch(&self) -> u64 {
        self.state().epoch
    }

    /// Detects a lapse at `now`; returns the current epoch.
    pub(crate) fn check(&self, now: Instant) -> u64 {
        let mut state = self.state();
        Lease::lapse_if_past(&mut state, self.bound, now);
        state.epoch
    }

    /// Whether the lease is lapsed at `now` (detecting a lapse first). A node whose lease
    /// lapsed takes no run until a heartbeat renews it: the leader may be closing its runs.
    pub(crate) fn lapsed(&self, now: Instant) -> bool {
        let mut state = self.state();
        Lease::lapse_if_past(&mut state, self.bound, now);
        state.lapsed
    }

    /// A heartbeat sent at `sent` was accepted at `now`: first a lapse before it is detected
    /// (a renewal must not hide it), then the lease runs from `sent`.
    pub(crate) fn renewed(&self, sent: Instant, now: Instant) {
        let mut state = self.state();
        Lease::lapse_if_past(&mut state, self.bound, now);
        if sent >= state.renewed {
            state.renewed = sent;
            state.lapsed = false;
        }
    }

    fn lapse_if_past(state: &mut State, bound: Duration, now: Instant) {
        if !state.lapsed && now.saturating_duration_since(state.renewed) > bound {
            state.lapsed = true;
            state.epoch += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lapse_moves_the_epoch_once_even_when_a_late_renewal_comes_first() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let lease = Lease::new(Duration::from_secs(5), start, false);
        // Renewed every second: no lapse.
        for s in 1..=10 {
            lease.renewed(at(s * 1000 - 100), at(s * 1000));
            assert_eq!(lease.check(at(s * 1000 + 500)), 0);
        }
        // Paused from 10 s to 17 s: the first thing after the pause is an accepted heartbeat
        // (sent at 17 s); the lapse is still seen, before the renewal.
        lease.renewed(at(17_000), at(17_050));
        assert_eq!(lease.epoch(), 1);
        assert_eq!(lease.check(at(17_100)), 1);
        assert!(!lease.lapsed(at(17_100)));
        // No heartbeat accepted from 17 s: the watchdog sees the lapse once, past the bound.
        assert_eq!(lease.check(at(22_000)), 1);
        assert!(!lease.lapsed(at(22_000)));
        assert_eq!(lease.check(at(22_001)), 2);
        assert!(lease.lapsed(at(22_001)));
        assert_eq!(lease.check(at(60_000)), 2);
        // An old heartbeat answered late does not move the lease back.
        lease.renewed(at(61_000), at(61_010));
        lease.renewed(at(60_500), at(61_020));
        assert_eq!(lease.check(at(65_900)), 2);
        assert_eq!(lease.check(at(66_011)), 3);
    }

    #[test]
    fn a_restarted_node_holds_no_lease_until_a_heartbeat_is_accepted() {
        let start = Instant::now();
        let lease = Lease::new(Duration::from_secs(5), start, true);
        assert!(lease.lapsed(start));
        lease.renewed(
            start + Duration::from_millis(10),
            start + Duration::from_millis(20),
        );
        assert!(!lease.lapsed(start + Duration::from_millis(30)));
        // Nothing was accepted before: the first renewal fences nothing.
        assert_eq!(lease.epoch(), 0);
    }
}
