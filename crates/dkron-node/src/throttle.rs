//! [`Throttle`]: a warning that can come once per fire logged at most once per interval.
//!
//! Why: when an agent refuses runs or the leader loses its write path, the launch path could
//! warn for every fire (45,282 lines in one overload run of `loadgen`), and writing those lines
//! costs CPU and disk exactly when the node has none to spare. Each such run is recorded as a
//! failed execution with its reason anyway; the log only has to say that it happens, and how
//! often.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// Admits one occurrence per interval; counts the others.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When an occurrence was last admitted.
    last: Option<Instant>,
    /// Occurrences held back since then.
    held_back: u64,
}

impl Throttle {
    pub(crate) const fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            state: Mutex::new(State {
                last: None,
                held_back: 0,
            }),
        }
    }

    /// Whether the occurrence at `now` is to be logged: `Some(n)` with the `n` held back
    /// since the last one admitted, `None` when it is held back itself.
    pub(crate) fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let due = state
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if due {
            state.last = Some(now);
            Some(std::mem::take(&mut state.held_back))
        } else {
            state.held_back += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first occurrence is logged; the next ones within the interval are counted and the
    /// count is given with the first one after it.
    #[test]
    fn one_per_interval_with_the_count_held_back() {
        let throttle = Throttle::new(Duration::from_secs(5));
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(throttle.admit(at(0)), Some(0));
        assert_eq!(throttle.admit(at(1)), None);
        assert_eq!(throttle.admit(at(4_999)), None);
        assert_eq!(throttle.admit(at(5_000)), Some(2));
        assert_eq!(throttle.admit(at(5_001)), None);
        assert_eq!(throttle.admit(at(20_000)), Some(1));
        assert_eq!(throttle.admit(at(20_000)), None);
    }
}
