//! The launch log: misfire policies at start, no fire twice across schedulers, no dispatch
//! without a record.

use std::{sync::Arc, time::Duration};

use dkron_model::{LaunchRecord, MisfirePolicy, Trigger};
use dkron_scheduler::{BoxError, BoxFuture, LaunchLog, MemoryStore, Scheduler, TokioClock};
use jiff::{SignedDuration, Timestamp};

use crate::helpers::*;

fn launched(store: &MemoryStore, job: &str, at: Timestamp) {
    let record = LaunchRecord {
        job_name: job.into(),
        scheduled_at: at,
        group: 1,
        attempt: 1,
        targets: Vec::new(),
        trigger: Trigger::Scheduled,
    };
    assert!(store.record(&record));
}

async fn scheduler_at(
    store: &Arc<MemoryStore>,
    recorder: &Arc<Recorder>,
    origin: Timestamp,
) -> Scheduler {
    Scheduler::builder()
        .memory_store(Arc::clone(store))
        .dispatch(recorder.clone())
        .clock(Arc::new(TokioClock::starting_at(origin)))
        .start()
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn misfire_policies_decide_what_runs_at_start() {
    let store = Arc::new(MemoryStore::new());
    let minutely = |name: &str, policy| {
        let mut job = job(name, "0 * * * * *");
        job.misfire_policy = policy;
        job
    };
    let jobs = vec![
        minutely("skip", MisfirePolicy::Skip),
        minutely("once", MisfirePolicy::RunOnce),
        minutely(
            "catch-up",
            MisfirePolicy::CatchUp {
                window: Duration::from_secs(150),
            },
        ),
        minutely("fresh", MisfirePolicy::RunOnce),
    ];
    // The previous scheduler last fired them at 23:50 and stopped; it is 00:00:00 now.
    for name in ["skip", "once", "catch-up"] {
        launched(&store, name, at(-600));
    }
    let h = Harness::start_with(store, Arc::new(Recorder::default()), jobs).await;
    h.run_for(0.5).await;
    // The fire due at the start itself (00:00:00) is late by nothing, not missed: every
    // policy runs it, as the timer loop runs a fire up to the misfire threshold late. The
    // policies decide about the fires before it. A job never launched starts after it.
    let scheduled = |name: &str| -> Vec<Timestamp> {
        h.recorder
            .seen_of(name)
            .iter()
            .map(|s| s.scheduled_at)
            .collect()
    };
    assert_eq!(scheduled("skip"), [at(0)]);
    assert!(h.recorder.seen_of("fresh").is_empty());
    assert_eq!(scheduled("once"), [at(-540), at(0)]);
    assert_eq!(scheduled("catch-up"), [at(-120), at(-60), at(0)]);
    for seen in h.recorder.seen() {
        assert_eq!(seen.started, at(0));
        assert_eq!(seen.trigger, Trigger::Scheduled);
    }
    // Missed fires run by their policy: once's 23:51, catch-up's 23:58 and 23:59.
    assert_eq!(h.scheduler.stats().misfires, 3);
    // Then every job carries on with its regular fires.
    h.run_for(60.0).await;
    for name in ["skip", "once", "catch-up", "fresh"] {
        assert_eq!(
            h.recorder.seen_of(name).last().unwrap().scheduled_at,
            at(60),
            "{name}"
        );
    }
    h.stop().await;
}

/// A scheduler whose first look at its timers comes after the next regular fire is due (a slow
/// start on a busy server: it read the clock, then each job's last fire) runs the missed fire,
/// and before the regular one: recorded after it, the missed instant would be refused as older
/// than the job's last launch, and lost.
#[tokio::test(start_paused = true)]
async fn a_missed_fire_due_with_the_next_regular_one_runs_first() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    let mut tick = job("tick", "@every 1s");
    tick.misfire_policy = MisfirePolicy::CatchUp {
        window: Duration::from_secs(60),
    };
    store.put_job(tick);
    launched(&store, "tick", at(9));
    // Loaded at 10.885 s: 10 s was missed, 11 s is the next regular fire ...
    let origin = at(10)
        .checked_add(SignedDuration::from_millis(885))
        .unwrap();
    let scheduler = scheduler_at(&store, &recorder, origin).await;
    // ... and the loop first runs at 11.085 s, when both are due.
    tokio::time::advance(Duration::from_millis(200)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    scheduler.shutdown(Duration::from_secs(5)).await;
    let fired: Vec<Timestamp> = recorder
        .seen_of("tick")
        .iter()
        .map(|s| s.scheduled_at)
        .collect();
    assert_eq!(fired, [at(10), at(11), at(12)]);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_scheduler_resumes_without_repeating_fires() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    store.put_job(job("tick", "@every 1s"));
    // Phase: a 10 s interval last fired 7 s before the first start.
    store.put_job(job("slow", "@every 10s"));
    launched(&store, "slow", at(-7));

    let first = scheduler_at(&store, &recorder, at(0)).await;
    tokio::time::sleep(Duration::from_millis(5500)).await;
    first.shutdown(Duration::from_secs(5)).await;
    assert_eq!(recorder.starts("tick"), [1, 2, 3, 4, 5]);
    assert_eq!(recorder.starts("slow"), [3]);

    // Restart 0.3 s later (the new clock reads the same time as tokio's).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let origin = at(0)
        .checked_add(SignedDuration::from_millis(5800))
        .unwrap();
    let second = scheduler_at(&store, &recorder, origin).await;
    tokio::time::sleep(Duration::from_millis(8000)).await;
    second.shutdown(Duration::from_secs(5)).await;
    assert_eq!(recorder.starts("tick"), (1..=13).collect::<Vec<_>>());
    assert_eq!(recorder.starts("slow"), [3, 13]);
}

#[tokio::test(start_paused = true)]
async fn two_schedulers_on_one_log_never_dispatch_a_fire_twice() {
    // An old leader that has not noticed it lost leadership, and the new one.
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    for i in 0..50 {
        store.put_job(job(&format!("job-{i}"), "@every 1s"));
    }
    let a = scheduler_at(&store, &recorder, at(0)).await;
    let b = scheduler_at(&store, &recorder, at(0)).await;
    tokio::time::sleep(Duration::from_millis(5500)).await;
    for i in 0..50 {
        let name = format!("job-{i}");
        assert_eq!(recorder.starts(&name), [1, 2, 3, 4, 5], "{name}");
    }
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.scheduled + sb.scheduled, 500);
    assert_eq!(sa.dispatched + sb.dispatched, 250);
    assert_eq!(sa.duplicates + sb.duplicates, 250);
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}

/// A launch log that fails every call.
#[derive(Debug)]
struct BrokenLog;

impl LaunchLog for BrokenLog {
    fn record_launches<'a>(
        &'a self,
        _: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async { Err::<Vec<bool>, BoxError>("raft: no leader".into()) })
    }

    fn last_fire<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        Box::pin(async { Ok(None) })
    }
}

#[tokio::test(start_paused = true)]
async fn nothing_is_dispatched_without_a_launch_record() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Arc::new(Recorder::default());
    let mut forbid = job("forbid", "@every 1s");
    forbid.concurrency = dkron_model::Concurrency::Forbid;
    store.put_job(forbid);
    store.put_job(job("plain", "@every 1s"));
    let scheduler = Scheduler::builder()
        .job_source(store.clone())
        .execution_sink(store.clone())
        .launch_log(Arc::new(BrokenLog))
        .dispatch(recorder.clone())
        .clock(Arc::new(TokioClock::starting_at(at(0))))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(recorder.seen().is_empty());
    let stats = scheduler.stats();
    assert_eq!(stats.scheduled, 6);
    assert_eq!(stats.launch_failures, 6);
    assert_eq!(stats.dispatched, 0);
    // The forbid job was not left "running" by its failed launches.
    assert_eq!(
        scheduler
            .job_state("forbid")
            .await
            .unwrap()
            .unwrap()
            .running,
        0
    );
    assert_eq!(stats.skipped, 0);
    scheduler.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn the_launch_record_is_in_the_log_before_the_dispatch_starts() {
    use std::sync::Mutex;

    use dkron_scheduler::FnDispatch;

    let store = Arc::new(MemoryStore::new());
    store.put_job(job("tick", "@every 1s"));
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let dispatch = {
        let (store, seen) = (Arc::clone(&store), Arc::clone(&seen));
        FnDispatch::new(move |run| {
            let logged = store.launches(&run.launch.job_name).contains(&run.launch);
            seen.lock().unwrap().push(logged);
            async { Ok(String::new()) }
        })
    };
    let scheduler = builder_on(&store, Arc::new(dispatch))
        .start()
        .await
        .unwrap();
    scheduler.run_now("tick").await.unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    scheduler.shutdown(Duration::from_secs(1)).await;
    assert_eq!(*seen.lock().unwrap(), [true; 4]);
    assert_eq!(store.launch_count("tick"), 4);
}

/// A launch log that keeps, for every record, the job the scheduler passed with it, and
/// records in a [`MemoryStore`].
#[derive(Debug)]
struct JobsSeen {
    store: Arc<MemoryStore>,
    seen: std::sync::Mutex<Vec<(String, String)>>,
}

impl LaunchLog for JobsSeen {
    fn record_launches<'a>(
        &'a self,
        _: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async { Err::<Vec<bool>, BoxError>("the scheduler passes the jobs".into()) })
    }

    fn record_launches_of<'a>(
        &'a self,
        records: &'a [LaunchRecord],
        jobs: &'a [Arc<dkron_model::Job>],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        let mut seen = self.seen.lock().unwrap();
        for (record, job) in records.iter().zip(jobs) {
            seen.push((record.job_name.clone(), job.name.clone()));
        }
        assert_eq!(records.len(), jobs.len());
        self.store.record_launches(records)
    }

    fn last_fire<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        Box::pin(async { Ok(None) })
    }
}

/// The scheduler hands each launch's job to the log with its record (the cluster node takes
/// the job's next fire from it instead of reading the job from its store per fire).
#[tokio::test(start_paused = true)]
async fn the_launch_log_gets_each_records_job() {
    let store = Arc::new(MemoryStore::new());
    for name in ["a", "b", "c"] {
        store.put_job(job(name, "@every 1s"));
    }
    let log = Arc::new(JobsSeen {
        store: Arc::clone(&store),
        seen: std::sync::Mutex::default(),
    });
    let recorder = Arc::new(Recorder::default());
    let scheduler = Scheduler::builder()
        .job_source(store.clone())
        .execution_sink(store.clone())
        .launch_log(log.clone())
        .dispatch(recorder.clone())
        .clock(Arc::new(TokioClock::starting_at(at(0))))
        .start()
        .await
        .unwrap();
    scheduler.run_now("b").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    scheduler.shutdown(Duration::from_secs(1)).await;
    let seen = log.seen.lock().unwrap().clone();
    assert!(
        seen.len() >= 7,
        "3 jobs × 2 fires and a manual run: {seen:?}"
    );
    assert!(seen.iter().all(|(record, job)| record == job), "{seen:?}");
    assert_eq!(recorder.seen().len(), seen.len());
}

#[tokio::test(start_paused = true)]
async fn every_dispatched_run_carries_the_whole_job_maps_included() {
    use std::{collections::BTreeMap, sync::Mutex};

    use dkron_model::Job;
    use dkron_scheduler::FnDispatch;

    // The loop keeps each job's maps packed; whatever leaves it must have them back.
    fn with_maps(mut job: Job) -> Job {
        let pairs = |p: &[(&str, &str)]| -> BTreeMap<String, String> {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        job.tags = pairs(&[("role", "web:1")]);
        job.metadata = pairs(&[("team", "ops"), ("tier", "1")]);
        job.executor_config = pairs(&[("url", "http://127.0.0.1:9/"), ("method", "GET")]);
        job.processors
            .insert("log".into(), pairs(&[("forward", "true")]));
        job
    }
    let loaded = with_maps(job("loaded", "@every 1s"));
    let mut upserted = with_maps(job("upserted", "@manually"));
    upserted.retries = 1;

    let store = Arc::new(MemoryStore::new());
    store.put_job(loaded.clone());
    let seen: Arc<Mutex<Vec<Arc<Job>>>> = Arc::default();
    let dispatch = {
        let seen = Arc::clone(&seen);
        FnDispatch::new(move |run| {
            seen.lock().unwrap().push(Arc::clone(&run.job));
            // The manual job fails, so its retry is dispatched too.
            let fail = run.job.name == "upserted";
            async move {
                if fail {
                    Err(String::new())
                } else {
                    Ok(String::new())
                }
            }
        })
    };
    let scheduler = builder_on(&store, Arc::new(dispatch))
        .start()
        .await
        .unwrap();
    scheduler.upsert(upserted.clone()).await.unwrap();
    scheduler.run_now("upserted").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    scheduler.shutdown(Duration::from_secs(1)).await;

    let seen = seen.lock().unwrap();
    let of = |name: &str| seen.iter().filter(|j| j.name == name).collect::<Vec<_>>();
    assert_eq!(of("loaded").len(), 2, "timer fires at 1 s and 2 s");
    assert_eq!(of("upserted").len(), 2, "the manual run and its retry");
    for run in of("loaded") {
        assert_eq!(**run, loaded);
    }
    for run in of("upserted") {
        assert_eq!(**run, upserted);
    }
}

#[tokio::test(start_paused = true)]
async fn targets_are_chosen_by_tags_before_the_record_for_plain_and_tracked_fires() {
    use std::sync::Mutex;

    use dkron_model::Job;
    use dkron_scheduler::{Dispatch, Handoff, Run};

    /// Targets: the job's tag values; notes the targets each run was launched with.
    #[derive(Debug, Default)]
    struct ByTag(Mutex<Vec<(String, Vec<String>)>>);
    impl Dispatch for ByTag {
        fn select_targets(&self, job: &Job) -> Vec<String> {
            job.tags.values().cloned().collect()
        }
        fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
            let seen = (run.job.name.clone(), run.launch.targets.clone());
            self.0.lock().unwrap().push(seen);
            Box::pin(async { Handoff::Handed })
        }
    }

    let store = Arc::new(MemoryStore::new());
    // A plain fire leaves the loop packed (its batch chooses the targets); a tracked one
    // (forbid) has them chosen in the loop. Both must see the tags.
    let mut plain = job("plain", "@every 1s");
    plain.tags.insert("pool".into(), "node-a".into());
    let mut tracked = job("tracked", "@every 1s");
    tracked.tags.insert("pool".into(), "node-b".into());
    tracked.concurrency = dkron_model::Concurrency::Forbid;
    store.put_job(plain);
    store.put_job(tracked);
    let dispatch = Arc::new(ByTag::default());
    let scheduler = builder_on(&store, dispatch.clone()).start().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    scheduler.shutdown(Duration::from_secs(1)).await;

    let seen = dispatch.0.lock().unwrap().clone();
    assert!(
        seen.contains(&("plain".into(), vec!["node-a".into()])),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("tracked".into(), vec!["node-b".into()])),
        "{seen:?}"
    );
    for name in ["plain", "tracked"] {
        let records = store.launches(name);
        assert!(!records.is_empty(), "{name} launched");
        assert!(records.iter().all(|r| r.targets.len() == 1), "{records:?}");
    }
}
