//! Pure scheduling decisions: when a job fires first, and where it resumes after a restart.
//!
//! No clock and no IO: every function takes `now`. The timer loop calls these; the tests call
//! them directly.

use std::time::Duration;

use dkron_cron::ScheduleKind;
use dkron_model::{Concurrency, JobSchedule, MAX_BUFFERED_FIRES, MisfirePolicy};
use jiff::{SignedDuration, Timestamp};

#[cfg(test)]
mod tests;

/// `t` rounded down to a whole second.
pub(crate) fn floor_second(t: Timestamp) -> Timestamp {
    let second = t.as_second();
    let floor = if t.subsec_nanosecond() < 0 {
        second - 1
    } else {
        second
    };
    Timestamp::from_second(floor).unwrap_or(t)
}

/// The first fire of a job the scheduler has never launched, added at `now`.
///
/// `@every` counts from the whole second at or before `now` (as dkron's robfig: the first fire
/// of `@every 2s` added at 10:00:00.7 is 10:00:02), so intervals land on whole seconds. An
/// `@after` one-shot whose instant has passed but whose grace window has not fires at once,
/// stamped with its own instant.
pub(crate) fn first_fire(schedule: &JobSchedule, now: Timestamp) -> Option<Timestamp> {
    if let Some(at) = after_within_grace(schedule, now) {
        return Some(at);
    }
    schedule.next_after(floor_second(now))
}

/// [`first_fire`] for a job whose stored definition says when it fires first (`stored`: the
/// job's `next`, computed by the server that took the write): an interval keeps that phase,
/// so a scheduler started later (a new leader, a restart, a feed that lags behind the writes)
/// does not move every job it has not fired yet onto its own start: past a leader change,
/// a hundred thousand `@every 60s` jobs created over a minute stay spread over the minute
/// instead of all firing on one second. A stored first fire already passed (no scheduler ran
/// then) is followed by the next one in phase. Calendar schedules and one-shots have their
/// instants whatever `stored` says; a `stored` more than a period ahead is not trusted.
pub(crate) fn first_fire_in_phase(
    schedule: &JobSchedule,
    stored: Option<Timestamp>,
    now: Timestamp,
) -> Option<Timestamp> {
    let in_phase = |stored: Timestamp| {
        let stored = floor_second(stored);
        let period = schedule.schedule().period()?;
        if schedule.schedule().kind() != ScheduleKind::Interval
            || stored > now.checked_add(period).ok()?
        {
            return None;
        }
        if stored > now {
            return Some(stored);
        }
        next_regular(schedule, Some(stored), now)
    };
    stored
        .and_then(in_phase)
        .or_else(|| first_fire(schedule, now))
}

/// The first regular fire strictly after `now` for a job whose latest fire was `last`.
///
/// An interval keeps its phase from `last` (a restart or an unchanged update does not shift
/// `@every` fires, unlike dkron, issue #546); calendar schedules and one-shots are the same
/// whatever `last` is.
pub(crate) fn next_regular(
    schedule: &JobSchedule,
    last: Option<Timestamp>,
    now: Timestamp,
) -> Option<Timestamp> {
    if schedule.schedule().kind() == ScheduleKind::Interval {
        let Some(last) = last else {
            return schedule.next_after(floor_second(now));
        };
        if let Some(prev) = latest_interval_fire(schedule, last, now) {
            return schedule.next_after(prev);
        }
    }
    schedule.next_after(now)
}

/// For an interval schedule: the latest instant `last + k * period` (k ≥ 0) at or before `now`,
/// or `None` when `last` is after `now` or the period is unknown.
fn latest_interval_fire(
    schedule: &JobSchedule,
    last: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    if last > now {
        return None;
    }
    let period = schedule.schedule().period()?.as_nanos();
    if period <= 0 {
        return None;
    }
    let elapsed = now.duration_since(last).as_nanos();
    let steps = elapsed / period;
    let offset = i64::try_from(steps.checked_mul(period)?).ok()?;
    last.checked_add(SignedDuration::from_nanos(offset)).ok()
}

/// The latest fire of `schedule` after `last` that is due by `now` but less than `threshold`
/// late: a scheduler starting then (a new leader that took over just after an instant) owes it
/// as a late fire, as its timer loop launches a fire up to the misfire threshold late, rather
/// than as a missed one for the misfire policy to drop.
pub(crate) fn late_fire(
    schedule: &JobSchedule,
    last: Timestamp,
    now: Timestamp,
    threshold: Duration,
) -> Option<Timestamp> {
    let horizon = SignedDuration::try_from(threshold)
        .ok()
        .and_then(|t| now.checked_sub(t).ok())
        .unwrap_or(Timestamp::MIN);
    let late = if schedule.schedule().kind() == ScheduleKind::Interval {
        // In phase with `last`.
        latest_interval_fire(schedule, last, now)
    } else {
        // Only the fires within the threshold are walked (a few for a per-second schedule).
        let since = last.max(
            horizon
                .checked_sub(SignedDuration::from_nanos(1))
                .unwrap_or(horizon),
        );
        schedule.fires_between(since, now, MAX_PENDING_SEARCH).pop()
    };
    late.filter(|&fire| fire > last && fire >= horizon)
}

/// Where a job resumes when the scheduler starts and the launch log says its latest fire was
/// `last`: the missed fires the job's misfire policy wants run now (oldest first, at most `max`),
/// and the first regular fire after `now`.
pub(crate) fn resume(
    schedule: &JobSchedule,
    policy: MisfirePolicy,
    last: Timestamp,
    now: Timestamp,
    max: usize,
) -> (Vec<Timestamp>, Option<Timestamp>) {
    let missed = policy.fires_to_run(schedule, last, now, max);
    (missed, next_regular(schedule, Some(last), now))
}

/// Fires of a jittered job looked at, at most, for one still pending at start: enough for a
/// day's jitter over a per-minute schedule; past it the job resumes as an unjittered one would.
const MAX_PENDING_SEARCH: usize = 10_000;

/// [`resume`] for a job with a `jitter`: a fire scheduled before `now` whose jittered instant
/// (`due`) is still ahead was not missed, it is merely not due yet (a new leader took over
/// during its delay). The first such fire after `last` is the next regular fire; the fires
/// before it go to the misfire policy as usual.
pub(crate) fn resume_jittered(
    schedule: &JobSchedule,
    policy: MisfirePolicy,
    last: Timestamp,
    now: Timestamp,
    max: usize,
    jitter: Duration,
    due: impl Fn(Timestamp) -> Timestamp,
) -> (Vec<Timestamp>, Option<Timestamp>) {
    // Fires at or before `now - jitter` are due by now whatever their delay.
    let Some(horizon) = SignedDuration::try_from(jitter)
        .ok()
        .filter(|j| !j.is_zero())
        .and_then(|j| now.checked_sub(j).ok())
    else {
        return resume(schedule, policy, last, now, max);
    };
    let mut cursor = last.max(horizon);
    for _ in 0..MAX_PENDING_SEARCH {
        match schedule.next_after(cursor) {
            Some(fire) if fire > cursor && fire <= now => {
                if due(fire) > now {
                    let before = fire
                        .checked_sub(SignedDuration::from_nanos(1))
                        .unwrap_or(fire);
                    let missed = policy.fires_to_run(schedule, last, before.max(last), max);
                    return (missed, Some(fire));
                }
                cursor = fire;
            }
            _ => break,
        }
    }
    resume(schedule, policy, last, now, max)
}

/// Where a `buffer_one`/`buffer_all` job resumes when a run of it is still going at start:
/// the fires since the latest launched one (`last`) are exactly those a scheduler would have
/// buffered meanwhile, because a buffered fire is launched only after the run ends and fires
/// launch in order. So the buffer is recomputed from the launch log, not replicated: its first
/// fire for `buffer_one`, up to [`MAX_BUFFERED_FIRES`] for `buffer_all`, oldest first; and the
/// next regular fire as [`resume_jittered`] finds it. The misfire policy does not apply: the
/// job was running, so these fires were not missed but waiting.
pub(crate) fn resume_buffered(
    schedule: &JobSchedule,
    last: Timestamp,
    now: Timestamp,
    concurrency: Concurrency,
    jitter: Duration,
    due: impl Fn(Timestamp) -> Timestamp,
) -> (Vec<Timestamp>, Option<Timestamp>) {
    let (_, next) = resume_jittered(schedule, MisfirePolicy::Skip, last, now, 0, jitter, due);
    let until = match next {
        // A fire scheduled before `now` whose jittered instant is ahead stays a regular fire.
        Some(next) if next <= now => next
            .checked_sub(SignedDuration::from_nanos(1))
            .unwrap_or(next),
        _ => now,
    };
    let cap = match concurrency {
        Concurrency::BufferOne => 1,
        _ => MAX_BUFFERED_FIRES,
    };
    (schedule.fires_between(last, until, cap), next)
}

/// For `@after <instant> <grace>`: the instant, when it has passed but `now` is still within
/// the grace window (end inclusive, as dkron). Every other schedule: `None`.
pub(crate) fn after_within_grace(schedule: &JobSchedule, now: Timestamp) -> Option<Timestamp> {
    let one_shot = schedule.schedule().one_shot()?;
    one_shot.is_due_late(now).then_some(one_shot.at)
}
