//! `SchedulerBuilder::lead`: fires of jobs that allow overlaps are taken ahead of their
//! instant and started on it; other jobs are taken when due.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use dkron_model::{Concurrency, LaunchRecord, Trigger};
use dkron_scheduler::{FnDispatch, MemoryStore, Run, Scheduler, TokioClock};
use jiff::SignedDuration;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

const LEAD: Duration = Duration::from_millis(300);

async fn scheduler_with_lead(
    store: &Arc<MemoryStore>,
    dispatch: Arc<dyn dkron_scheduler::Dispatch>,
) -> Scheduler {
    builder_on(store, dispatch)
        .lead(LEAD)
        .start()
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_allow_job_is_handed_over_ahead_and_others_when_due() {
    let store = Arc::new(MemoryStore::new());
    store.put_job(job("plain", "@every 1s"));
    let mut forbid = job("forbid", "@every 1s");
    forbid.concurrency = Concurrency::Forbid;
    store.put_job(forbid);
    let recorder = Arc::new(Recorder::default());
    let scheduler = scheduler_with_lead(&store, recorder.clone()).await;
    tokio::time::sleep(Duration::from_secs_f64(5.5)).await;

    let lead = SignedDuration::try_from(LEAD).unwrap();
    let plain = recorder.seen_of("plain");
    assert_eq!(plain.len(), 5, "{plain:?}");
    for seen in &plain {
        assert_eq!(seen.started, seen.scheduled_at.checked_sub(lead).unwrap());
    }
    let forbid = recorder.seen_of("forbid");
    assert_eq!(forbid.len(), 5, "{forbid:?}");
    for seen in &forbid {
        assert_eq!(seen.started, seen.scheduled_at);
    }
    let report = scheduler.shutdown(Duration::from_secs(60)).await;
    assert!(report.drained, "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn the_built_in_dispatch_starts_a_run_handed_over_ahead_on_its_instant() {
    let store = Arc::new(MemoryStore::new());
    let mut jittered = job("jittered", "@every 1s");
    jittered.jitter = Duration::from_millis(200);
    store.put_job(job("plain", "@every 1s"));
    store.put_job(jittered.clone());
    let started: Arc<Mutex<Vec<(String, jiff::Timestamp, jiff::Timestamp)>>> = Arc::default();
    let seen = Arc::clone(&started);
    let dispatch = FnDispatch::new(move |run: Run| {
        let seen = Arc::clone(&seen);
        async move {
            let due = run.due().unwrap();
            seen.lock()
                .unwrap()
                .push((run.job.name.clone(), due, run.now()));
            Ok(String::new())
        }
    });
    let scheduler = scheduler_with_lead(&store, Arc::new(dispatch)).await;
    tokio::time::sleep(Duration::from_secs_f64(3.5)).await;

    let started = started.lock().unwrap().clone();
    assert_eq!(started.len(), 6, "{started:?}");
    for (name, due, at) in &started {
        assert_eq!(at, due, "{name} started off its instant");
    }
    // The executions recorded start on the due instant, not at the hand-over.
    for execution in store.executions("plain") {
        assert_eq!(execution.started_at.subsec_nanosecond(), 0, "{execution:?}");
    }
    let report = scheduler.shutdown(Duration::from_secs(60)).await;
    assert!(report.drained, "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_run_cancelled_before_it_is_due_does_not_start() {
    let clock = Arc::new(TokioClock::starting_at(at(0)));
    let job = Arc::new(job("plain", "@every 1s"));
    let launch = LaunchRecord {
        job_name: job.name.clone(),
        scheduled_at: at(1),
        group: 1,
        attempt: 1,
        targets: Vec::new(),
        trigger: Trigger::Scheduled,
    };
    let cancel = CancellationToken::new();
    let run = Run::new(job, launch, cancel.clone(), clock);
    assert_eq!(run.due(), Some(at(1)));
    let waiting = tokio::spawn(async move { run.wait_until_due().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cancel.cancel();
    assert!(!waiting.await.unwrap(), "a cancelled run must not start");
}
