use dkron_cron::Schedule;
use jiff::tz::TimeZone;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn schedule(expr: &str) -> JobSchedule {
    JobSchedule::new(Schedule::parse(expr).unwrap(), TimeZone::UTC, None, None)
}

#[test]
fn floor_second_rounds_down() {
    assert_eq!(
        floor_second(ts("2026-01-01T00:00:00.7Z")),
        ts("2026-01-01T00:00:00Z")
    );
    assert_eq!(
        floor_second(ts("2026-01-01T00:00:05Z")),
        ts("2026-01-01T00:00:05Z")
    );
}

#[test]
fn new_interval_job_counts_from_the_whole_second() {
    let every2 = schedule("@every 2s");
    assert_eq!(
        first_fire(&every2, ts("2026-01-01T10:00:00.7Z")),
        Some(ts("2026-01-01T10:00:02Z"))
    );
}

#[test]
fn a_new_interval_job_keeps_the_phase_it_was_stored_with() {
    let every60 = schedule("@every 60s");
    let now = ts("2026-01-01T10:00:00.7Z");
    // Stored with its first fire 37 s from now: that is its first fire.
    let stored = Some(ts("2026-01-01T10:00:37Z"));
    assert_eq!(first_fire_in_phase(&every60, stored, now), stored);
    // Its stored first fire passed while no scheduler ran: the next one in phase.
    let passed = Some(ts("2026-01-01T09:58:37Z"));
    assert_eq!(
        first_fire_in_phase(&every60, passed, now),
        Some(ts("2026-01-01T10:00:37Z"))
    );
    // Nothing stored, or a stored instant more than a period ahead: counted from now.
    let from_now = Some(ts("2026-01-01T10:01:00Z"));
    assert_eq!(first_fire_in_phase(&every60, None, now), from_now);
    let far = Some(ts("2026-01-01T11:00:00Z"));
    assert_eq!(first_fire_in_phase(&every60, far, now), from_now);
    // A calendar schedule has its own instants.
    let daily = schedule("0 30 9 * * *");
    assert_eq!(
        first_fire_in_phase(&daily, stored, now),
        Some(ts("2026-01-02T09:30:00Z"))
    );
}

#[test]
fn new_cron_job_fires_at_its_next_field_match() {
    let daily = schedule("0 30 9 * * *");
    assert_eq!(
        first_fire(&daily, ts("2026-01-01T10:00:00Z")),
        Some(ts("2026-01-02T09:30:00Z"))
    );
}

#[test]
fn interval_keeps_its_phase_from_the_last_fire() {
    let every10 = schedule("@every 10s");
    let last = ts("2026-01-01T00:00:03Z");
    // 47 s later: fires at :03, :13, :23, :33, :43 passed; next is :53.
    assert_eq!(
        next_regular(&every10, Some(last), ts("2026-01-01T00:00:50Z")),
        Some(ts("2026-01-01T00:00:53Z"))
    );
    // Exactly on a phase instant: strictly after now.
    assert_eq!(
        next_regular(&every10, Some(last), ts("2026-01-01T00:00:53Z")),
        Some(ts("2026-01-01T00:01:03Z"))
    );
}

#[test]
fn resume_applies_the_misfire_policy() {
    let minutely = schedule("0 * * * * *");
    let last = ts("2026-01-01T00:00:00Z");
    let now = ts("2026-01-01T00:05:30Z");
    let (missed, next) = resume(&minutely, MisfirePolicy::Skip, last, now, 100);
    assert!(missed.is_empty());
    assert_eq!(next, Some(ts("2026-01-01T00:06:00Z")));

    let (missed, _) = resume(&minutely, MisfirePolicy::RunOnce, last, now, 100);
    assert_eq!(missed, [ts("2026-01-01T00:01:00Z")]);

    let window = std::time::Duration::from_secs(150);
    let (missed, _) = resume(&minutely, MisfirePolicy::CatchUp { window }, last, now, 100);
    // A fire exactly `window` old (00:03:00) still counts.
    let want = [
        "2026-01-01T00:03:00Z",
        "2026-01-01T00:04:00Z",
        "2026-01-01T00:05:00Z",
    ];
    assert_eq!(missed, want.map(ts));

    let (missed, _) = resume(
        &minutely,
        MisfirePolicy::CatchUp {
            window: std::time::Duration::from_secs(3600),
        },
        last,
        now,
        2,
    );
    assert_eq!(
        missed,
        [ts("2026-01-01T00:01:00Z"), ts("2026-01-01T00:02:00Z")]
    );
}

#[test]
fn one_shot_in_the_past_never_fires() {
    let at = schedule("@at 2026-01-01T00:00:00Z");
    assert_eq!(first_fire(&at, ts("2026-01-01T00:00:01Z")), None);
    assert_eq!(
        first_fire(&at, ts("2025-12-31T23:59:59Z")),
        Some(ts("2026-01-01T00:00:00Z"))
    );
}

#[test]
fn a_jittered_fire_still_ahead_is_resumed_not_missed() {
    let minutely = schedule("0 * * * * *");
    let last = ts("2026-01-01T00:00:00Z");
    let now = ts("2026-01-01T00:03:10Z");
    let jitter = std::time::Duration::from_secs(30);
    // The 00:03 fire is due at 00:03:20 (20 s of jitter), the others had no delay.
    let due = |at: Timestamp| {
        if at == ts("2026-01-01T00:03:00Z") {
            ts("2026-01-01T00:03:20Z")
        } else {
            at
        }
    };
    let policy = MisfirePolicy::CatchUp {
        window: std::time::Duration::from_secs(3600),
    };
    let (missed, next) = resume_jittered(&minutely, policy, last, now, 100, jitter, due);
    assert_eq!(next, Some(ts("2026-01-01T00:03:00Z")));
    assert_eq!(
        missed,
        [ts("2026-01-01T00:01:00Z"), ts("2026-01-01T00:02:00Z")]
    );
    // Once it is due, it is missed like any other fire.
    let later = ts("2026-01-01T00:03:25Z");
    let (missed, next) = resume_jittered(&minutely, policy, last, later, 100, jitter, due);
    assert_eq!(next, Some(ts("2026-01-01T00:04:00Z")));
    assert_eq!(missed.len(), 3);
    // Without a jitter it is exactly `resume`.
    assert_eq!(
        resume_jittered(
            &minutely,
            policy,
            last,
            now,
            100,
            std::time::Duration::ZERO,
            due
        ),
        resume(&minutely, policy, last, now, 100)
    );
}

#[test]
fn a_buffer_is_rebuilt_from_the_last_launched_fire() {
    let every = schedule("@every 1s");
    let last = ts("2026-01-01T00:00:01Z");
    let now = ts("2026-01-01T00:00:05.5Z");
    let none = std::time::Duration::ZERO;
    let (one, next) = resume_buffered(&every, last, now, Concurrency::BufferOne, none, |t| t);
    assert_eq!(one, [ts("2026-01-01T00:00:02Z")]);
    assert_eq!(next, Some(ts("2026-01-01T00:00:06Z")));
    let (all, _) = resume_buffered(&every, last, now, Concurrency::BufferAll, none, |t| t);
    assert_eq!(all.len(), 4);
    assert_eq!(all.last(), Some(&ts("2026-01-01T00:00:05Z")));
    // Bounded: a run that hung for a day keeps only MAX_BUFFERED_FIRES.
    let day_later = ts("2026-01-02T00:00:00Z");
    let (all, _) = resume_buffered(&every, last, day_later, Concurrency::BufferAll, none, |t| t);
    assert_eq!(all.len(), MAX_BUFFERED_FIRES);
    assert_eq!(all[0], ts("2026-01-01T00:00:02Z"), "oldest first");
}

/// A fire due less than the misfire threshold before the scheduler starts is late, not missed:
/// resuming just before it makes it the next regular fire, whatever the misfire policy.
#[test]
fn a_fire_due_within_the_threshold_is_late_not_missed() {
    let threshold = Duration::from_secs(5);
    let every = schedule("@every 1s");
    let last = ts("2026-01-01T00:00:01Z");
    // A new leader 20 ms after the next instant.
    let now = ts("2026-01-01T00:00:02.020Z");
    let late = late_fire(&every, last, now, threshold);
    assert_eq!(late, Some(ts("2026-01-01T00:00:02Z")));
    let before = late.unwrap() - SignedDuration::from_nanos(1);
    let (missed, next) = resume(&every, MisfirePolicy::Skip, last, before, 100);
    assert!(missed.is_empty());
    assert_eq!(next, late);
    // Without it, `skip` dropped that fire.
    assert_eq!(
        resume(&every, MisfirePolicy::Skip, last, now, 100).1,
        Some(ts("2026-01-01T00:00:03Z"))
    );

    // Longer down: only the latest fire is late (the loop launches one late fire and moves on);
    // the earlier ones are the policy's, in phase with `last`.
    let now = ts("2026-01-01T00:00:09.500Z");
    assert_eq!(
        late_fire(&every, last, now, threshold),
        Some(ts("2026-01-01T00:00:09Z"))
    );
    // Nothing after `last` yet, or the threshold passed: none.
    assert_eq!(
        late_fire(&every, last, ts("2026-01-01T00:00:01.5Z"), threshold),
        None
    );
    assert_eq!(
        late_fire(&every, last, now, Duration::from_millis(400)),
        None
    );

    // A calendar schedule: the latest instant within the threshold, if any.
    let minutely = schedule("0 * * * * *");
    let last = ts("2026-01-01T00:00:00Z");
    assert_eq!(
        late_fire(&minutely, last, ts("2026-01-01T00:05:03Z"), threshold),
        Some(ts("2026-01-01T00:05:00Z"))
    );
    assert_eq!(
        late_fire(&minutely, last, ts("2026-01-01T00:05:30Z"), threshold),
        None
    );
}
