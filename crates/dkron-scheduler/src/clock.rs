//! The clock: the only way the scheduler learns the time.
//!
//! The timer loop is the only code that reads it. Fire times are wall-clock [`Timestamp`]s
//! (schedules are calendar rules), but waiting happens on tokio's timer, so
//! [`Clock::instant_at`] maps a wall-clock deadline to a tokio [`Instant`]. [`TokioClock`]
//! derives the wall clock from tokio's own clock, so tests under `tokio::time::pause` (or
//! `#[tokio::test(start_paused = true)]`) run days of schedule in milliseconds, deterministically.

use std::{fmt, time::Duration};

use jiff::Timestamp;
use tokio::time::Instant;

/// A source of the current time, and a way to wait for a wall-clock instant.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;

    /// The tokio instant at which `at` is reached, for sleeping. The default assumes the clock
    /// advances at the pace of tokio's clock (true of both clocks here): now plus the gap.
    fn instant_at(&self, at: Timestamp) -> Instant {
        Instant::now() + until(self.now(), at)
    }

    /// How long before a deadline the timer loop wakes, to yield its way through the rest and
    /// fire on time. tokio's timer rounds every sleep up to the next millisecond, and an idle
    /// virtual CPU takes a while to wake; waking a little early and spinning the remainder
    /// (only after an idle stretch, never in a dense schedule) removes both from the lateness.
    /// The default, zero, never spins: required for clocks that only move when tokio's paused
    /// clock is advanced, since a spinning loop keeps the runtime busy.
    fn wake_margin(&self) -> Duration {
        Duration::ZERO
    }
}

/// The non-negative gap from `now` to `at` (zero when `at` has passed).
pub(crate) fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// The system's wall clock ([`Timestamp::now`]), slept on with tokio's timer.
///
/// If the wall clock jumps while the loop sleeps, the loop wakes at the old estimate, reads the
/// clock again, and sleeps once more or fires: fires never run early.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    /// 2 ms: one millisecond of timer rounding plus the wake-up latency measured on a 2-vCPU VM.
    fn wake_margin(&self) -> Duration {
        Duration::from_millis(2)
    }
}

/// A wall clock that is tokio's clock plus a fixed origin: `now = origin + (tokio now - start)`.
///
/// Under paused tokio time (tests), it stands still until tokio advances, and advancing tokio
/// advances it by exactly as much.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Timestamp,
    start: Instant,
}

impl TokioClock {
    /// A clock that reads `origin` now and moves with tokio's clock.
    pub fn starting_at(origin: Timestamp) -> TokioClock {
        TokioClock {
            origin,
            start: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        // Saturates only past the year 9999, which jiff cannot represent anyway.
        self.origin.checked_add(elapsed).unwrap_or(Timestamp::MAX)
    }

    fn instant_at(&self, at: Timestamp) -> Instant {
        // Exact: no rounding through `now()`, so paused-time tests land on the instant itself.
        match Duration::try_from(at.duration_since(self.origin)) {
            Ok(offset) => self.start + offset,
            Err(_) => self.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let origin: Timestamp = "2026-03-29T00:59:58Z".parse().unwrap();
        let clock = TokioClock::starting_at(origin);
        assert_eq!(clock.now(), origin);
        let target = origin
            .checked_add(jiff::SignedDuration::from_secs(3))
            .unwrap();
        tokio::time::sleep_until(clock.instant_at(target)).await;
        assert_eq!(clock.now(), target);
    }

    #[test]
    fn until_is_never_negative() {
        let a: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-01-01T00:00:01Z".parse().unwrap();
        assert_eq!(until(a, b), Duration::from_secs(1));
        assert_eq!(until(b, a), Duration::ZERO);
    }
}
