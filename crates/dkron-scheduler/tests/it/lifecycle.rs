//! Changing jobs while the scheduler runs, and shutting it down.

use std::{sync::Arc, time::Duration};

use dkron_model::Concurrency;
use dkron_scheduler::{Error, MemoryStore};

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn upsert_remove_pause_resume() {
    let h = Harness::start(vec![]).await;
    h.scheduler.upsert(job("a", "@every 1s")).await.unwrap();
    h.scheduler.upsert(job("b", "@every 1s")).await.unwrap();
    h.scheduler.upsert(job("c", "@every 2s")).await.unwrap();
    assert_eq!(h.scheduler.job_count().await.unwrap(), 3);
    h.run_for(2.5).await;

    assert!(h.scheduler.remove("a").await.unwrap());
    assert!(!h.scheduler.remove("a").await.unwrap());
    assert!(h.scheduler.pause("b").await.unwrap());
    assert_eq!(
        h.scheduler.job_state("b").await.unwrap().unwrap().next_fire,
        None
    );
    // Changing the schedule recomputes from now.
    h.scheduler.upsert(job("c", "*/5 * * * * *")).await.unwrap();
    h.run_for(3.0).await;
    assert!(h.scheduler.resume("b").await.unwrap());
    h.run_for(2.0).await;

    assert_eq!(h.recorder.starts("a"), [1, 2]);
    // Paused at 2.5, resumed at 5.5: the fires at 3, 4, 5 are not run.
    assert_eq!(h.recorder.starts("b"), [1, 2, 6, 7]);
    assert_eq!(h.recorder.starts("c"), [2, 5]);
    assert!(!h.scheduler.pause("nope").await.unwrap());
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_update_that_keeps_the_timing_keeps_the_phase() {
    let h = Harness::start(vec![job("every10", "@every 10s")]).await;
    h.run_for(13.0).await;
    // Same schedule, other fields changed: dkron would restart the interval (issue #546).
    let mut changed = job("every10", "@every 10s");
    changed.retries = 2;
    h.scheduler.upsert(changed).await.unwrap();
    h.run_for(20.0).await;
    assert_eq!(h.recorder.starts("every10"), [10, 20, 30]);
    // Disabling stops it; re-enabling resumes on the same phase.
    let mut disabled = job("every10", "@every 10s");
    disabled.disabled = true;
    h.scheduler.upsert(disabled).await.unwrap();
    h.run_for(15.0).await;
    h.scheduler
        .upsert(job("every10", "@every 10s"))
        .await
        .unwrap();
    h.run_for(10.0).await;
    assert_eq!(h.recorder.starts("every10"), [10, 20, 30, 50]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn invalid_jobs_are_refused_and_skipped_at_start() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::start_with(
        store,
        Arc::new(Recorder::default()),
        vec![job("bad", "61 * * * * *"), job("good", "@every 1s")],
    )
    .await;
    assert_eq!(h.scheduler.job_count().await.unwrap(), 1);
    let error = h
        .scheduler
        .upsert(job("worse", "@every nonsense"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidJob { .. }), "{error}");
    let mut zone = job("zone", "@every 1s");
    zone.timezone = "Mars/Olympus".into();
    assert!(matches!(
        h.scheduler.upsert(zone).await,
        Err(Error::InvalidJob { .. })
    ));
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_running_executions() {
    let mut slow = job("slow", "@at 2026-01-01T00:00:01Z");
    slow.concurrency = Concurrency::Forbid;
    let h = Harness::start(vec![slow, job("plain", "@at 2026-01-01T00:00:01Z")]).await;
    let three = Behaviour {
        duration: Duration::from_secs(3),
        fail_attempts: 0,
    };
    h.recorder.set("slow", three);
    h.recorder.set("plain", three);
    h.run_for(1.5).await;
    let start = tokio::time::Instant::now();
    let report = h.scheduler.shutdown(Duration::from_secs(10)).await;
    assert!(report.drained, "{report:?}");
    assert_eq!(start.elapsed(), Duration::from_millis(2500));
    let executions = h.store.executions("slow");
    assert_eq!(executions.len(), 1);
    assert!(executions[0].success);
    assert_eq!(h.store.executions("plain").len(), 1);
    // Later calls, from any handle, find it stopped.
    assert!(matches!(
        h.scheduler.upsert(job("x", "@every 1s")).await,
        Err(Error::ShutDown)
    ));
    assert!(h.scheduler.shutdown(Duration::from_secs(1)).await.drained);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_what_outlives_the_grace_period() {
    let h = Harness::start(vec![job("endless", "@at 2026-01-01T00:00:01Z")]).await;
    h.recorder.set(
        "endless",
        Behaviour {
            duration: Duration::from_secs(3600),
            fail_attempts: 0,
        },
    );
    h.run_for(1.5).await;
    let start = tokio::time::Instant::now();
    let report = h.scheduler.shutdown(Duration::from_secs(2)).await;
    assert!(!report.drained);
    assert_eq!(report.cancelled, 1);
    assert_eq!(report.still_running, 0);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let executions = h.store.executions("endless");
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].output, "cancelled");
}
