//! When jobs fire: intervals, calendar schedules, DST days, windows, one-shots, manual runs.

use dkron_cron::Schedule;
use dkron_model::Trigger;
use dkron_scheduler::Error;
use jiff::{SignedDuration, tz::TimeZone};

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn every_second_fires_on_each_second_without_drift() {
    let h = Harness::start(vec![job("tick", "@every 1s")]).await;
    h.run_for(10.5).await;
    assert_eq!(h.recorder.starts("tick"), (1..=10).collect::<Vec<_>>());
    for seen in h.recorder.seen_of("tick") {
        // Paused time: a fire starts exactly at its scheduled instant.
        assert_eq!(seen.started, seen.scheduled_at);
        assert_eq!(seen.trigger, Trigger::Scheduled);
        assert_eq!(seen.attempt, 1);
        assert_eq!(i128::from(seen.group), seen.scheduled_at.as_nanosecond());
    }
    let state = h.scheduler.job_state("tick").await.unwrap().unwrap();
    assert_eq!(state.next_fire, Some(at(11)));
    assert_eq!(state.last_fire, Some(at(10)));
    assert_eq!(h.store.executions("tick").len(), 10);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn calendar_schedule_fires_at_its_matching_seconds() {
    let h = Harness::start(vec![
        job("quarter", "*/15 * * * * *"),
        job("daily", "0 0 9 * * *"),
    ])
    .await;
    h.run_for(60.5).await;
    assert_eq!(h.recorder.starts("quarter"), [15, 30, 45, 60]);
    assert!(h.recorder.starts("daily").is_empty());
    let state = h.scheduler.job_state("daily").await.unwrap().unwrap();
    assert_eq!(state.next_fire, Some(ts("2026-01-01T09:00:00Z")));
    h.stop().await;
}

/// Fires of `expr` in `tz` from `from` for `secs` seconds, as the schedule itself computes them.
fn expected_fires(
    expr: &str,
    tz: &TimeZone,
    from: jiff::Timestamp,
    secs: i64,
) -> Vec<jiff::Timestamp> {
    let schedule = Schedule::parse(expr).unwrap();
    let end = from.checked_add(SignedDuration::from_secs(secs)).unwrap();
    schedule
        .upcoming(from, tz)
        .take_while(|t| *t <= end)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn dst_days_fire_exactly_at_the_schedule_instants_once_each() {
    // Berlin: 2026-03-29 02:00 -> 03:00 (gap), 2026-10-25 03:00 -> 02:00 (overlap).
    // The harness starts at 2026-01-01; run 300 days of virtual time, with jobs that care.
    let mut daily = job("daily-0230", "0 30 2 * * *");
    daily.timezone = "Europe/Berlin".into();
    let mut half_hourly = job("half-hourly", "0 */30 * * * *");
    half_hourly.timezone = "Europe/Berlin".into();
    let h = Harness::start(vec![daily, half_hourly]).await;
    let days = 300;
    h.run_for((days * 86_400) as f64 + 0.5).await;

    let tz = TimeZone::get("Europe/Berlin").unwrap();
    for (name, expr) in [
        ("daily-0230", "0 30 2 * * *"),
        ("half-hourly", "0 */30 * * * *"),
    ] {
        let want = expected_fires(expr, &tz, at(0), days * 86_400);
        let got: Vec<_> = h
            .recorder
            .seen_of(name)
            .iter()
            .map(|s| s.scheduled_at)
            .collect();
        assert_eq!(got.len(), want.len(), "{name}");
        assert_eq!(got, want, "{name}");
        for seen in h.recorder.seen_of(name) {
            assert_eq!(seen.started, seen.scheduled_at);
        }
    }
    // The daily job runs exactly once on each of the two transition days.
    let on_day = |day: &str| {
        h.recorder
            .seen_of("daily-0230")
            .iter()
            .filter(|s| tz.to_datetime(s.scheduled_at).date().to_string() == day)
            .count()
    };
    assert_eq!(on_day("2026-03-29"), 1);
    assert_eq!(on_day("2026-10-25"), 1);
    // The half-hourly job has 46 fires on the 23-hour day and 50 on the 25-hour day.
    let half_on = |day: &str| {
        h.recorder
            .seen_of("half-hourly")
            .iter()
            .filter(|s| tz.to_datetime(s.scheduled_at).date().to_string() == day)
            .count()
    };
    assert_eq!(half_on("2026-03-29"), 46);
    assert_eq!(half_on("2026-10-25"), 50);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn starts_at_and_expires_at_bound_timer_fires() {
    let mut windowed = job("windowed", "@every 1s");
    windowed.starts_at = Some(at(3));
    windowed.expires_at = Some(at(6));
    let h = Harness::start(vec![windowed]).await;
    h.run_for(10.5).await;
    assert_eq!(h.recorder.starts("windowed"), [3, 4, 5, 6]);
    let state = h.scheduler.job_state("windowed").await.unwrap().unwrap();
    assert_eq!(state.next_fire, None);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn one_shots_fire_once_or_never() {
    let jobs = vec![
        job("at-future", "@at 2026-01-01T00:00:05Z"),
        job("at-past", "@at 2025-12-31T23:59:00Z"),
        // Passed 10 s ago, grace 1 min: runs at once, stamped with its instant.
        job("after-in-grace", "@after 2025-12-31T23:59:50Z <PT1M"),
        job("after-too-late", "@after 2025-12-31T23:00:00Z <PT1M"),
        job("after-future", "@after 2026-01-01T00:00:07Z <PT1M"),
    ];
    let h = Harness::start(jobs).await;
    h.run_for(30.0).await;
    assert_eq!(h.recorder.starts("at-future"), [5]);
    assert!(h.recorder.seen_of("at-past").is_empty());
    let late = h.recorder.seen_of("after-in-grace");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].started, at(0));
    assert_eq!(late[0].scheduled_at, ts("2025-12-31T23:59:50Z"));
    assert!(h.recorder.seen_of("after-too-late").is_empty());
    assert_eq!(h.recorder.starts("after-future"), [7]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn manual_schedules_only_run_when_asked() {
    let mut forbid = job("busy", "@every 1s");
    forbid.concurrency = dkron_model::Concurrency::Forbid;
    let mut future = job("not-yet", "@every 1s");
    future.starts_at = Some(at(1000));
    let mut disabled = job("off", "@every 1s");
    disabled.disabled = true;
    let h = Harness::start(vec![
        job("manual", "@manually"),
        job("triggered", "@triggered"),
        forbid,
        future,
        disabled,
    ])
    .await;
    h.recorder.set(
        "busy",
        Behaviour {
            duration: std::time::Duration::from_secs(5),
            fail_attempts: 0,
        },
    );
    h.run_for(3.5).await;
    assert!(h.recorder.seen_of("manual").is_empty());
    assert!(h.recorder.seen_of("triggered").is_empty());
    assert!(h.recorder.seen_of("off").is_empty());
    assert_eq!(
        h.scheduler
            .job_state("manual")
            .await
            .unwrap()
            .unwrap()
            .next_fire,
        None
    );

    let group = h.scheduler.run_now("manual").await.unwrap();
    // A manual run ignores forbid (the 1 s fire is still running), and starts_at.
    h.scheduler.run_now("busy").await.unwrap();
    h.scheduler.run_now("not-yet").await.unwrap();
    assert!(matches!(
        h.scheduler.run_now("off").await,
        Err(Error::JobDisabled { .. })
    ));
    assert!(matches!(
        h.scheduler.run_now("nope").await,
        Err(Error::JobNotFound { .. })
    ));
    h.run_for(0.5).await;

    let manual = h.recorder.seen_of("manual");
    assert_eq!(manual.len(), 1);
    assert_eq!(manual[0].trigger, Trigger::Manual);
    assert_eq!(manual[0].group, group);
    assert_eq!(
        manual[0].scheduled_at,
        at(0)
            .checked_add(SignedDuration::from_millis(3500))
            .unwrap()
    );
    let busy = h.recorder.seen_of("busy");
    assert_eq!(
        busy.iter().map(|s| s.trigger).collect::<Vec<_>>(),
        [Trigger::Scheduled, Trigger::Manual]
    );
    assert_eq!(h.recorder.seen_of("not-yet").len(), 1);
    // Manual runs do not shift the schedule.
    assert_eq!(
        h.scheduler
            .job_state("not-yet")
            .await
            .unwrap()
            .unwrap()
            .next_fire,
        Some(at(1000))
    );
    let executions = h.store.executions("manual");
    assert_eq!(executions[0].scheduled_at, None);
    h.stop().await;
}

/// A job that never fired keeps the first fire it was stored with (its `next`): a scheduler
/// started later (a new leader) does not re-phase `@every` jobs onto its own start.
#[tokio::test(start_paused = true)]
async fn a_never_fired_interval_job_keeps_its_stored_phase() {
    let mut spread = job("spread", "@every 60s");
    spread.next = Some(at(37));
    let h = Harness::start(vec![spread, job("fresh", "@every 60s")]).await;
    h.run_for(100.5).await;
    assert_eq!(h.recorder.starts("spread"), [37, 97]);
    assert_eq!(h.recorder.starts("fresh"), [60]);
    h.stop().await;
}
