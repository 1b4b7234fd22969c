//! Past capacity: a launch log slower than the fires keeps the queue before it bounded by the
//! misfire bound, late fires are skipped or coalesced as each job's policy says and tallied per
//! job, and the scheduler recovers by itself when the log is fast again.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use dkron_model::{Concurrency, LaunchRecord, MisfirePolicy};
use dkron_scheduler::{
    BoxError, BoxFuture, Clock, LaunchLog, MemoryStore, Scheduler, Skipped, TokioClock,
};
use jiff::{SignedDuration, Timestamp};

use crate::helpers::*;

/// A launch log that takes `DELAY` per batch while `slow`, and notes when each record arrived.
#[derive(Debug)]
struct SlowLog {
    store: Arc<MemoryStore>,
    clock: Arc<TokioClock>,
    slow: AtomicBool,
    arrivals: Mutex<Vec<(Timestamp, LaunchRecord)>>,
}

const DELAY: Duration = Duration::from_secs(3);
const THRESHOLD: Duration = Duration::from_secs(2);

impl LaunchLog for SlowLog {
    fn record_launches<'a>(
        &'a self,
        records: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async move {
            let now = self.clock.now();
            self.arrivals
                .lock()
                .unwrap()
                .extend(records.iter().map(|r| (now, r.clone())));
            if self.slow.load(Ordering::Relaxed) {
                tokio::time::sleep(DELAY).await;
            }
            self.store.record_launches(records).await
        })
    }

    fn last_fire<'a>(&'a self, job: &'a str) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        self.store.last_fire(job)
    }
}

impl SlowLog {
    fn arrivals_of(&self, job: &str) -> Vec<(Timestamp, Timestamp)> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, r)| r.job_name == job)
            .map(|(now, r)| (*now, r.scheduled_at))
            .collect()
    }
}

fn every_second(name: &str, policy: MisfirePolicy) -> dkron_model::Job {
    let mut job = job(name, "@every 1s");
    job.misfire_policy = policy;
    job
}

#[tokio::test(start_paused = true)]
async fn late_fires_are_skipped_or_coalesced_and_counted_and_the_scheduler_recovers() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    let mut forbid = every_second("forbid", MisfirePolicy::Skip);
    forbid.concurrency = Concurrency::Forbid;
    let window = MisfirePolicy::CatchUp {
        window: Duration::from_secs(60),
    };
    for job in [
        every_second("skip", MisfirePolicy::Skip),
        every_second("once", MisfirePolicy::RunOnce),
        every_second("window", window),
        forbid,
    ] {
        store.put_job(job);
    }
    let clock = Arc::new(TokioClock::starting_at(at(0)));
    let log = Arc::new(SlowLog {
        store: Arc::clone(&store),
        clock: Arc::clone(&clock),
        slow: AtomicBool::new(true),
        arrivals: Mutex::default(),
    });
    let scheduler = Scheduler::builder()
        .job_source(store.clone())
        .execution_sink(store.clone())
        .launch_log(log.clone())
        .dispatch(recorder.clone())
        .clock(clock)
        .misfire_threshold(THRESHOLD)
        .start()
        .await
        .unwrap();

    // 30 s with a log three times slower than the fires, then 30 s with a fast one.
    tokio::time::sleep(Duration::from_millis(30_500)).await;
    let slow_phase = scheduler.take_skipped().await.unwrap();
    log.slow.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(30)).await;
    for name in ["skip", "once", "window", "forbid"] {
        assert!(scheduler.pause(name).await.unwrap());
    }
    // Let the last batches record and their runs report.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mut skipped = slow_phase;
    skipped.extend(scheduler.take_skipped().await.unwrap());
    let dropped = |name: &str| -> u64 {
        skipped
            .iter()
            .filter(|s: &&Skipped| s.job == name)
            .map(|s| s.count)
            .sum()
    };
    let bound = SignedDuration::try_from(THRESHOLD).unwrap();

    // `skip`: nothing later than the bound reached the log, and the rest is counted.
    let skip = log.arrivals_of("skip");
    assert!(
        skip.iter()
            .all(|(now, at)| now.duration_since(*at) <= bound)
    );
    assert!(dropped("skip") > 0, "{skipped:?}");
    let last = scheduler
        .job_state("skip")
        .await
        .unwrap()
        .unwrap()
        .last_fire;
    let fired = last.unwrap().duration_since(at(0)).as_secs() as u64;
    assert_eq!(skip.len() as u64 + dropped("skip"), fired);

    // `run_once`: a late fire reached the log only as the latest due one of its backlog.
    let once = log.arrivals_of("once");
    for (now, at) in &once {
        let successor = at.checked_add(SignedDuration::from_secs(1)).unwrap();
        assert!(
            now.duration_since(*at) <= bound || successor > *now,
            "{at} at {now}"
        );
    }
    assert!(dropped("once") > 0);
    let last = scheduler
        .job_state("once")
        .await
        .unwrap()
        .unwrap()
        .last_fire;
    let fired = last.unwrap().duration_since(at(0)).as_secs() as u64;
    assert_eq!(once.len() as u64 + dropped("once"), fired);

    // `catch_up:60s`: its window is wider than the whole overload, so nothing is dropped.
    assert_eq!(dropped("window"), 0);

    // A tracked job's dropped fires do not stay "running": it fires again after the overload.
    let forbid = log.arrivals_of("forbid");
    assert!(forbid.iter().any(|(_, at)| *at > at_secs(45)));
    assert_eq!(
        scheduler
            .job_state("forbid")
            .await
            .unwrap()
            .unwrap()
            .running,
        0
    );

    // Recovery: in the last 10 s of the fast phase every fire of every job reached the log.
    for name in ["skip", "once", "window"] {
        let recent: Vec<Timestamp> = log
            .arrivals_of(name)
            .into_iter()
            .map(|(_, at)| at)
            .filter(|at| *at > at_secs(50) && *at <= at_secs(60))
            .collect();
        assert_eq!(recent.len(), 10, "{name}: {recent:?}");
    }
    let stats = scheduler.stats();
    assert_eq!(
        stats.misfire_dropped,
        dropped("skip") + dropped("once") + dropped("forbid")
    );
    let report = scheduler.shutdown(Duration::from_secs(10)).await;
    assert!(report.drained, "{report:?}");
}

fn at_secs(secs: i64) -> Timestamp {
    at(secs)
}
