//! A recording dispatch, a harness around a scheduler under paused time, and small builders.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use dkron_model::{Job, Trigger};
use dkron_scheduler::{
    BoxFuture, Dispatch, Handoff, MemoryStore, Run, Scheduler, SchedulerBuilder, TokioClock,
};
use jiff::{SignedDuration, Timestamp};

/// Where every harness clock starts: a whole second.
pub(crate) const ORIGIN: &str = "2026-01-01T00:00:00Z";

pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// `ORIGIN` plus `secs` seconds.
pub(crate) fn at(secs: i64) -> Timestamp {
    ts(ORIGIN)
        .checked_add(SignedDuration::from_secs(secs))
        .unwrap()
}

pub(crate) fn job(name: &str, schedule: &str) -> Job {
    let mut job = Job::new(name);
    job.schedule = schedule.to_owned();
    job
}

/// One dispatch seen by the [`Recorder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) job: String,
    pub(crate) trigger: Trigger,
    pub(crate) scheduled_at: Timestamp,
    pub(crate) attempt: u32,
    pub(crate) group: i64,
    pub(crate) targets: Vec<String>,
    /// The scheduler clock when the dispatch began.
    pub(crate) started: Timestamp,
}

/// How the recorder runs a job: how long, and which attempts fail.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Behaviour {
    pub(crate) duration: Duration,
    /// Attempts numbered up to this one fail.
    pub(crate) fail_attempts: u32,
}

/// A dispatch that records every run and then behaves as told per job (default: succeed at
/// once). A run ends early, failed, when its token is cancelled.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    seen: Mutex<Vec<Seen>>,
    behaviour: Mutex<HashMap<String, Behaviour>>,
}

impl Recorder {
    pub(crate) fn set(&self, job: &str, behaviour: Behaviour) {
        self.behaviour
            .lock()
            .unwrap()
            .insert(job.to_owned(), behaviour);
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub(crate) fn seen_of(&self, job: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.job == job).collect()
    }

    /// Start instants of `job`'s runs, as seconds after `ORIGIN`.
    pub(crate) fn starts(&self, job: &str) -> Vec<i64> {
        self.seen_of(job)
            .iter()
            .map(|s| s.started.duration_since(at(0)).as_secs())
            .collect()
    }
}

impl Dispatch for Recorder {
    fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
        let started = run.now();
        self.seen.lock().unwrap().push(Seen {
            job: run.launch.job_name.clone(),
            trigger: run.launch.trigger,
            scheduled_at: run.launch.scheduled_at,
            attempt: run.launch.attempt,
            group: run.launch.group,
            targets: run.launch.targets.clone(),
            started,
        });
        let behaviour = self
            .behaviour
            .lock()
            .unwrap()
            .get(&run.job.name)
            .copied()
            .unwrap_or_default();
        Box::pin(async move {
            let mut execution = run.execution("node1", started);
            let cancelled = if behaviour.duration.is_zero() {
                false
            } else {
                tokio::select! {
                    () = tokio::time::sleep(behaviour.duration) => false,
                    () = run.cancel.cancelled() => true,
                }
            };
            execution.success = !cancelled && run.launch.attempt > behaviour.fail_attempts;
            execution.output = if cancelled {
                "cancelled".into()
            } else {
                "done".into()
            };
            execution.finished_at = Some(run.now());
            run.report(execution).await;
            Handoff::Handed
        })
    }
}

/// A builder over `store` (jobs, launch log, executions) with `dispatch` and a paused-time
/// clock at `ORIGIN`: where most tests start.
pub(crate) fn builder_on(
    store: &Arc<MemoryStore>,
    dispatch: Arc<dyn Dispatch>,
) -> SchedulerBuilder {
    Scheduler::builder()
        .memory_store(Arc::clone(store))
        .dispatch(dispatch)
        .clock(Arc::new(TokioClock::starting_at(at(0))))
}

/// A scheduler on a [`MemoryStore`] and a [`Recorder`], with a paused-time clock at `ORIGIN`.
#[derive(Debug)]
pub(crate) struct Harness {
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) scheduler: Scheduler,
}

impl Harness {
    /// Stores `jobs`, then starts a scheduler at `ORIGIN`.
    pub(crate) async fn start(jobs: Vec<Job>) -> Harness {
        Harness::start_with(
            Arc::new(MemoryStore::new()),
            Arc::new(Recorder::default()),
            jobs,
        )
        .await
    }

    pub(crate) async fn start_with(
        store: Arc<MemoryStore>,
        recorder: Arc<Recorder>,
        jobs: Vec<Job>,
    ) -> Harness {
        for job in jobs {
            store.put_job(job);
        }
        let scheduler = builder_on(&store, recorder.clone()).start().await.unwrap();
        Harness {
            store,
            recorder,
            scheduler,
        }
    }

    /// Lets `secs` seconds of (paused, auto-advancing) time pass: the scheduler does everything
    /// due in between.
    pub(crate) async fn run_for(&self, secs: f64) {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }

    pub(crate) async fn stop(self) {
        let report = self.scheduler.shutdown(Duration::from_secs(60)).await;
        assert!(report.drained, "{report:?}");
    }
}
