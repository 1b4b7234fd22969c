//! Run policies: `jitter` (fires due at a derived delay after their instant) and `run_on`
//! (children after a failed parent group).

use std::{sync::Arc, time::Duration};

use dkron_model::{Concurrency, LaunchRecord, RetryBackoff, RunOn, Trigger};
use dkron_scheduler::{MemoryStore, Scheduler, TokioClock};
use jiff::SignedDuration;

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn jittered_fires_start_after_their_delay_and_keep_their_instant() {
    let mut spread = job("spread", "@every 10s");
    spread.jitter = Duration::from_secs(5);
    let h = Harness::start(vec![spread.clone(), job("plain", "@every 10s")]).await;
    h.run_for(65.0).await;
    let seen = h.recorder.seen_of("spread");
    let scheduled: Vec<_> = seen.iter().map(|s| s.scheduled_at).collect();
    // The launch keeps the schedule's instants: no drift, none lost.
    assert_eq!(scheduled, [at(10), at(20), at(30), at(40), at(50), at(60)]);
    let mut delays = std::collections::BTreeSet::new();
    for s in &seen {
        let due = spread.jittered(s.scheduled_at);
        let late = s.started.duration_since(due);
        // Started at its jittered instant (the paused clock wakes on time, give or take a tick).
        assert!(
            late >= SignedDuration::ZERO && late < SignedDuration::from_millis(50),
            "{} started {late} after {due}",
            s.scheduled_at
        );
        delays.insert(due.duration_since(s.scheduled_at).as_millis());
        assert_eq!(s.trigger, Trigger::Scheduled);
    }
    assert!(delays.len() > 1, "each fire has its own delay: {delays:?}");
    // A job without jitter is not affected.
    assert_eq!(h.recorder.starts("plain"), [10, 20, 30, 40, 50, 60]);
    h.stop().await;
}

/// A scheduler that starts while a fire's jitter delay is running (a leader change) fires it
/// at the same jittered instant, as a regular fire, not as a missed one.
#[tokio::test(start_paused = true)]
async fn a_new_scheduler_keeps_a_fire_whose_delay_is_still_running() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    let mut spread = job("spread", "0 * * * * *");
    spread.jitter = Duration::from_secs(50);
    // Pick a minute whose fire is delayed by more than 5 s.
    let minute = (1..100)
        .map(|m| at(60 * m))
        .find(|t| spread.jittered(*t).duration_since(*t) > SignedDuration::from_secs(5))
        .unwrap();
    store.put_job(spread.clone());
    let before = minute.checked_sub(SignedDuration::from_secs(60)).unwrap();
    assert!(store.record(&LaunchRecord {
        job_name: "spread".into(),
        scheduled_at: before,
        group: 1,
        attempt: 1,
        targets: Vec::new(),
        trigger: Trigger::Scheduled,
    }));
    // The new scheduler starts 2 s after `minute`: its fire is still 3+ s away.
    let start = minute.checked_add(SignedDuration::from_secs(2)).unwrap();
    let scheduler = Scheduler::builder()
        .memory_store(Arc::clone(&store))
        .dispatch(recorder.clone())
        .clock(Arc::new(TokioClock::starting_at(start)))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(59)).await;
    let seen = recorder.seen_of("spread");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].scheduled_at, minute);
    let late = seen[0].started.duration_since(spread.jittered(minute));
    assert!(late >= SignedDuration::ZERO && late < SignedDuration::from_millis(50));
    assert_eq!(scheduler.stats().misfires, 0);
    let report = scheduler.shutdown(Duration::from_secs(60)).await;
    assert!(report.drained);
}

#[tokio::test(start_paused = true)]
async fn children_run_on_the_outcome_they_ask_for() {
    let once = |name: &str| job(name, &format!("@at {}", at(1)));
    let child = |name: &str, parent: &str, run_on: RunOn| {
        let mut child = job(name, "");
        child.parent_job = Some(parent.into());
        child.run_on = run_on;
        child
    };
    let mut good = once("good");
    good.dependent_jobs = vec!["good-ok".into(), "good-fail".into(), "good-any".into()];
    let mut bad = once("bad");
    bad.retries = 1;
    bad.retry_backoff = RetryBackoff {
        initial: Duration::from_secs(2),
        max: Duration::from_secs(2),
    };
    bad.dependent_jobs = vec!["bad-ok".into(), "bad-fail".into(), "bad-any".into()];
    let h = Harness::start(vec![
        good,
        bad,
        child("good-ok", "good", RunOn::Success),
        child("good-fail", "good", RunOn::Failure),
        child("good-any", "good", RunOn::Always),
        child("bad-ok", "bad", RunOn::Success),
        child("bad-fail", "bad", RunOn::Failure),
        child("bad-any", "bad", RunOn::Always),
    ])
    .await;
    h.recorder.set(
        "bad",
        Behaviour {
            duration: Duration::ZERO,
            fail_attempts: u32::MAX,
        },
    );
    h.run_for(10.0).await;
    assert_eq!(h.recorder.starts("good-ok"), [1]);
    assert_eq!(h.recorder.starts("good-any"), [1]);
    assert!(h.recorder.seen_of("good-fail").is_empty());
    // `bad` fails at 1 s and on its retry at 3 s: only then has its group failed for good.
    assert_eq!(h.recorder.starts("bad"), [1, 3]);
    assert_eq!(h.recorder.starts("bad-fail"), [3]);
    assert_eq!(h.recorder.starts("bad-any"), [3]);
    assert!(h.recorder.seen_of("bad-ok").is_empty());
    for name in ["bad-fail", "bad-any", "good-ok", "good-any"] {
        assert_eq!(h.recorder.seen_of(name)[0].trigger, Trigger::Dependent);
    }
    h.stop().await;
}

fn buffered(name: &str, concurrency: Concurrency) -> dkron_model::Job {
    let mut job = job(name, "@every 1s");
    job.concurrency = concurrency;
    job
}

/// Milliseconds after `ORIGIN` at which each run of `name` started, with its scheduled second.
fn runs(recorder: &Recorder, name: &str) -> Vec<(i64, i64)> {
    recorder
        .seen_of(name)
        .iter()
        .map(|s| {
            (
                s.started.duration_since(at(0)).as_millis() as i64,
                s.scheduled_at.duration_since(at(0)).as_secs(),
            )
        })
        .collect()
}

const RUN_2200_MS: Behaviour = Behaviour {
    duration: Duration::from_millis(2200),
    fail_attempts: 0,
};

#[tokio::test(start_paused = true)]
async fn buffer_one_keeps_one_fire_for_when_the_run_ends() {
    let h = Harness::start(vec![buffered("one", Concurrency::BufferOne)]).await;
    h.recorder.set("one", RUN_2200_MS);
    h.run_for(8.0).await;
    // 1 s runs to 3.2 s; the 2 s fire waits and starts then (the 3 s fire finds the buffer
    // full and is skipped); and so on. Each keeps its own scheduled instant.
    assert_eq!(
        runs(&h.recorder, "one"),
        [(1000, 1), (3200, 2), (5400, 4), (7600, 6)]
    );
    assert_eq!(h.scheduler.stats().skipped, 3, "the 3, 5 and 7 s fires");
    assert!(
        h.recorder
            .seen_of("one")
            .iter()
            .all(|s| s.trigger == Trigger::Scheduled)
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn buffer_all_runs_every_fire_one_after_the_other() {
    let h = Harness::start(vec![buffered("all", Concurrency::BufferAll)]).await;
    h.recorder.set("all", RUN_2200_MS);
    h.run_for(8.0).await;
    assert_eq!(
        runs(&h.recorder, "all"),
        [(1000, 1), (3200, 2), (5400, 3), (7600, 4)]
    );
    assert_eq!(h.scheduler.stats().skipped, 0);
    // Never two at once: each started after the previous one's 2.2 s.
    let starts: Vec<_> = runs(&h.recorder, "all").iter().map(|r| r.0).collect();
    assert!(starts.windows(2).all(|w| w[1] - w[0] >= 2200));
    h.stop().await;
}

/// A new scheduler (a leader change) with a run still going rebuilds the buffer from the launch
/// log: the fires since the last launched one are what the old scheduler had buffered.
#[tokio::test(start_paused = true)]
async fn a_new_scheduler_rebuilds_the_buffer_from_the_launch_log() {
    for (concurrency, expected) in [
        (Concurrency::BufferOne, vec![2]),
        (Concurrency::BufferAll, vec![2, 3, 4, 5]),
    ] {
        let store = Arc::new(MemoryStore::new());
        let recorder = Arc::new(Recorder::default());
        store.put_job(buffered("held", concurrency));
        let running = LaunchRecord {
            job_name: "held".into(),
            scheduled_at: at(1),
            group: 1,
            attempt: 1,
            targets: vec!["n1".into()],
            trigger: Trigger::Scheduled,
        };
        assert!(store.record(&running));
        // The previous leader launched the 1 s fire and buffered the next ones; this one
        // starts at 5.5 s while that run still goes on.
        let scheduler = Scheduler::builder()
            .memory_store(Arc::clone(&store))
            .dispatch(recorder.clone())
            .clock(Arc::new(TokioClock::starting_at(
                at(5).checked_add(SignedDuration::from_millis(500)).unwrap(),
            )))
            .in_flight(vec![running.clone()])
            .start()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            recorder.seen_of("held").is_empty(),
            "{concurrency}: waits for the run"
        );
        let mut done = running.execution("n1", at(1));
        done.success = true;
        done.finished_at = Some(at(5));
        let progress = dkron_model::GroupProgress {
            status: dkron_model::JobStatus::Success,
            attempt: 1,
            attempt_complete: true,
            failed_nodes: Vec::new(),
            ready_children: Vec::new(),
        };
        scheduler.report(done, progress).await.unwrap();
        // The recorder's runs end at once, so the buffer drains; the 6 s fire then runs too.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let scheduled: Vec<_> = recorder
            .seen_of("held")
            .iter()
            .map(|s| s.scheduled_at.duration_since(at(0)).as_secs())
            .collect();
        let mut all = expected.clone();
        all.push(6);
        assert_eq!(scheduled, all, "{concurrency}");
        assert_eq!(scheduler.stats().misfires, 0);
        assert!(scheduler.shutdown(Duration::from_secs(5)).await.drained);
    }
}

/// Backfills run past instants as groups of their own (trigger `backfill`, the instant as
/// scheduled time): all at once, the first only, or one after the other.
#[tokio::test(start_paused = true)]
async fn backfills_run_past_instants_with_their_overlap_policy() {
    use dkron_model::BackfillOverlap;

    let past = || vec![at(-3600), at(-1800), at(-60)];
    let mut jobs = Vec::new();
    for name in ["all-at-once", "first-only", "in-turn", "busy"] {
        jobs.push(job(name, "@manually"));
    }
    // Tracked, so the scheduler sees its run (see `Scheduler::backfill`).
    jobs[3].concurrency = Concurrency::Forbid;
    let h = Harness::start(jobs).await;
    for name in ["all-at-once", "first-only", "in-turn", "busy"] {
        h.recorder.set(name, RUN_2200_MS);
    }
    let s = &h.scheduler;
    let allow = s.backfill("all-at-once", past(), BackfillOverlap::Allow);
    assert_eq!(allow.await.unwrap(), 3);
    let skip = s.backfill("first-only", past(), BackfillOverlap::Skip);
    assert_eq!(skip.await.unwrap(), 1);
    let buffer = s.backfill("in-turn", past(), BackfillOverlap::BufferAll);
    assert_eq!(buffer.await.unwrap(), 3);
    s.run_now("busy").await.unwrap();
    h.run_for(0.1).await;
    let busy = s.backfill("busy", past(), BackfillOverlap::Skip);
    assert_eq!(busy.await.unwrap(), 0, "a run is going");
    h.run_for(10.0).await;

    let instants = |name: &str| -> Vec<_> {
        h.recorder
            .seen_of(name)
            .iter()
            .filter(|s| s.trigger == Trigger::Backfill)
            .map(|s| s.scheduled_at)
            .collect()
    };
    assert_eq!(instants("all-at-once"), past());
    assert_eq!(instants("first-only"), [at(-3600)]);
    assert_eq!(instants("in-turn"), past());
    assert!(instants("busy").is_empty());
    let starts = |name: &str| -> Vec<i64> { runs(&h.recorder, name).iter().map(|r| r.0).collect() };
    assert_eq!(starts("all-at-once"), [0, 0, 0]);
    assert_eq!(
        starts("in-turn"),
        [0, 2200, 4400],
        "each after the previous one ended"
    );
    let groups: std::collections::BTreeSet<_> = h
        .recorder
        .seen_of("all-at-once")
        .iter()
        .map(|s| s.group)
        .collect();
    assert_eq!(groups.len(), 3, "a group each");
    assert!(matches!(
        h.scheduler
            .backfill("nope", past(), BackfillOverlap::Allow)
            .await,
        Err(dkron_scheduler::Error::JobNotFound { .. })
    ));
    h.stop().await;
}
