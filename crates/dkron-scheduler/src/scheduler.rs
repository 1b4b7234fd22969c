//! The public face: [`SchedulerBuilder`] wires the ports and starts the loop; [`Scheduler`] is
//! the cloneable handle that sends it commands.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use dkron_model::{Execution, GroupProgress, Job, LaunchRecord};
use jiff::Timestamp;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tracing::warn;

use crate::{
    Error, MemoryStore,
    clock::{Clock, SystemClock},
    dispatch::Dispatch,
    engine::{Command, Engine, Ports, Timed},
    kept::KeptJob,
    misfire::{DEFAULT_MISFIRE_THRESHOLD, Skipped},
    ports::{ExecutionSink, JobSource, LaunchLog},
    stats::{Counters, Stats},
};

/// Missed fires run per job at start by `catch_up`, at most (the oldest ones).
pub const DEFAULT_MAX_CATCH_UP: usize = 1000;

/// Pending commands (upserts, removals, …) before senders wait: the loop answers each in
/// microseconds, so this only smooths bursts.
const COMMAND_CAPACITY: usize = 1024;

/// What the scheduler knows about one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobState {
    /// The next timer fire; `None` when the job does not fire on its own (child, `@manually`,
    /// disabled, paused, expired, one-shot done).
    pub next_fire: Option<Timestamp>,
    /// The latest timer fire (the scheduled instant), as known to this scheduler.
    pub last_fire: Option<Timestamp>,
    /// Paused with [`Scheduler::pause`].
    pub paused: bool,
    /// Tracked runs still going (only jobs with forbid/replace, retries, children or ephemeral
    /// are tracked).
    pub running: usize,
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Every running execution finished within the grace period.
    pub drained: bool,
    /// Tasks still running when the grace period ran out; their runs were cancelled.
    pub cancelled: usize,
    /// Tasks still running after cancellation and a further second; they are abandoned.
    pub still_running: usize,
}

/// Configures and starts a [`Scheduler`].
///
/// Defaults: one [`MemoryStore`] as job source, launch log and execution sink; the
/// [`SystemClock`]; with the `executor` feature, [`crate::ExecutorDispatch`] (shell and http).
#[derive(Debug, Default)]
pub struct SchedulerBuilder {
    source: Option<Arc<dyn JobSource>>,
    launch_log: Option<Arc<dyn LaunchLog>>,
    sink: Option<Arc<dyn ExecutionSink>>,
    dispatch: Option<Arc<dyn Dispatch>>,
    clock: Option<Arc<dyn Clock>>,
    max_catch_up: Option<usize>,
    misfire_threshold: Option<Duration>,
    in_flight: Vec<LaunchRecord>,
}

impl SchedulerBuilder {
    /// A builder with the defaults.
    pub fn new() -> SchedulerBuilder {
        SchedulerBuilder::default()
    }

    /// Uses `store` as job source, launch log and execution sink.
    pub fn memory_store(self, store: Arc<MemoryStore>) -> SchedulerBuilder {
        self.job_source(store.clone())
            .launch_log(store.clone())
            .execution_sink(store)
    }

    /// Where jobs are loaded from at start and deleted (ephemeral).
    pub fn job_source(mut self, source: Arc<dyn JobSource>) -> SchedulerBuilder {
        self.source = Some(source);
        self
    }

    /// Where launch records go before dispatch.
    pub fn launch_log(mut self, log: Arc<dyn LaunchLog>) -> SchedulerBuilder {
        self.launch_log = Some(log);
        self
    }

    /// Where finished executions go.
    pub fn execution_sink(mut self, sink: Arc<dyn ExecutionSink>) -> SchedulerBuilder {
        self.sink = Some(sink);
        self
    }

    /// How fires run.
    pub fn dispatch(mut self, dispatch: Arc<dyn Dispatch>) -> SchedulerBuilder {
        self.dispatch = Some(dispatch);
        self
    }

    /// The clock (tests: [`crate::TokioClock`] under paused tokio time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> SchedulerBuilder {
        self.clock = Some(clock);
        self
    }

    /// Runs launched before this scheduler (by a previous leader) that still run: the jobs'
    /// `concurrency` counts them from the first fire on (`forbid` skips until their reports
    /// complete them). Their cancel tokens reach nothing: `replace` cannot stop them.
    pub fn in_flight(mut self, records: Vec<LaunchRecord>) -> SchedulerBuilder {
        self.in_flight = records;
        self
    }

    /// At most this many missed fires per job are run at start by `catch_up` (default
    /// [`DEFAULT_MAX_CATCH_UP`]).
    pub fn max_catch_up(mut self, max: usize) -> SchedulerBuilder {
        self.max_catch_up = Some(max);
        self
    }

    /// How late a regular timer fire may still be recorded and dispatched, for jobs whose
    /// `misfire_policy` has no window of its own (`skip`, `run_once`; default
    /// [`DEFAULT_MISFIRE_THRESHOLD`]). A later fire is dropped (`skip`) or coalesced into the
    /// job's next due fire (`run_once`); `catch_up` uses its window instead. Past capacity this
    /// is what keeps the queue before the launch log bounded: it holds at most this long's fires.
    pub fn misfire_threshold(mut self, threshold: Duration) -> SchedulerBuilder {
        self.misfire_threshold = Some(threshold);
        self
    }

    /// Loads the jobs, applies each job's misfire policy against the launch log's latest fire,
    /// and starts the timer loop on the current tokio runtime.
    ///
    /// A job whose schedule or time zone is invalid is skipped with a warning (a bad stored job
    /// must not stop every other job).
    ///
    /// # Errors
    /// [`Error::Load`] or [`Error::LaunchLog`] when the source or the log fails;
    /// [`Error::NoDispatch`] when no dispatch was given and the `executor` feature is off.
    pub async fn start(self) -> Result<Scheduler, Error> {
        // One store serves every port left unset, so an embedded user gets a coherent set.
        let mut store: Option<Arc<MemoryStore>> = None;
        let mut memory = || Arc::clone(store.get_or_insert_with(|| Arc::new(MemoryStore::new())));
        let source: Arc<dyn JobSource> = match self.source {
            Some(source) => source,
            None => memory(),
        };
        let launch_log: Arc<dyn LaunchLog> = match self.launch_log {
            Some(log) => log,
            None => memory(),
        };
        let sink: Arc<dyn ExecutionSink> = match self.sink {
            Some(sink) => sink,
            None => memory(),
        };
        let dispatch = match self.dispatch {
            Some(dispatch) => dispatch,
            None => default_dispatch()?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let max_catch_up = self.max_catch_up.unwrap_or(DEFAULT_MAX_CATCH_UP);
        let counters = Arc::new(Counters::default());
        let ports = Arc::new(Ports {
            source: Arc::clone(&source),
            launch_log: Arc::clone(&launch_log),
            sink,
            dispatch,
            clock: Arc::clone(&clock),
            counters: Arc::clone(&counters),
            misfire_threshold: self.misfire_threshold.unwrap_or(DEFAULT_MISFIRE_THRESHOLD),
        });

        let jobs = source.load_jobs().await.map_err(Error::Load)?;
        let mut engine = Engine::new(ports);
        let now = clock.now();
        // Adopted first: a `buffer_*` job that still runs rebuilds its buffer when it is loaded.
        for record in self.in_flight {
            engine.adopt(record);
        }
        for job in jobs {
            let schedule = match job.job_schedule() {
                Ok(schedule) => schedule,
                Err(error) => {
                    warn!(job = %job.name, %error, "job not scheduled: invalid schedule");
                    continue;
                }
            };
            let last = match &schedule {
                Some(_) if !job.disabled => launch_log
                    .last_fire(&job.name)
                    .await
                    .map_err(Error::LaunchLog)?,
                _ => None,
            };
            let schedule = schedule.as_ref().map(Timed::new);
            engine.load(KeptJob::new(job), schedule, last, now, max_catch_up);
        }

        let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
        let task = tokio::spawn(engine.run(receiver));
        Ok(Scheduler {
            commands,
            shared: Arc::new(Shared {
                counters,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

#[cfg(feature = "executor")]
fn default_dispatch() -> Result<Arc<dyn Dispatch>, Error> {
    Ok(Arc::new(crate::ExecutorDispatch::default()))
}

#[cfg(not(feature = "executor"))]
fn default_dispatch() -> Result<Arc<dyn Dispatch>, Error> {
    Err(Error::NoDispatch)
}

#[derive(Debug)]
struct Shared {
    counters: Arc<Counters>,
    /// The loop's task, awaited by [`Scheduler::shutdown`].
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A handle on a running scheduler. Cheap to clone; every clone talks to the same loop.
///
/// Each method waits until the loop has applied the request, so a read after a write sees it.
/// When every handle is dropped without [`Scheduler::shutdown`], the loop stops firing and
/// cancels what is still running.
#[derive(Debug, Clone)]
pub struct Scheduler {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl Scheduler {
    /// A builder with the defaults (see [`SchedulerBuilder`]).
    pub fn builder() -> SchedulerBuilder {
        SchedulerBuilder::new()
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::ShutDown)?;
        answer.await.map_err(|_| Error::ShutDown)
    }

    /// Adds or replaces a job (O(log n)). Its schedule is parsed here, so a bad one is an error
    /// and the loop never sees it.
    ///
    /// A new job's first fire is the schedule's first after now (`@every` counts from the whole
    /// second). An update that leaves the schedule, zone, `starts_at`, `expires_at` and parent
    /// unchanged keeps the pending fire (no phase shift); otherwise the next fire is recomputed
    /// (an interval keeps its phase from the last fire). Running executions are not touched.
    ///
    /// # Errors
    /// [`Error::InvalidJob`], or [`Error::ShutDown`].
    pub async fn upsert(&self, job: Job) -> Result<(), Error> {
        let schedule = job.job_schedule().map_err(|source| Error::InvalidJob {
            name: job.name.clone(),
            source,
        })?;
        let schedule = schedule.as_ref().map(Timed::new);
        // Packed here, on the caller's task, not in the timer loop.
        let job = KeptJob::new(job);
        self.ask(|reply| Command::Upsert {
            job,
            schedule,
            reply,
        })
        .await
    }

    /// Removes a job from the timer (O(log n) amortised); returns whether it was loaded.
    /// Running executions finish; pending retries of it are dropped.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn remove(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::Remove { name, reply }).await
    }

    /// Stops firing a job on its own until [`Scheduler::resume`]; returns whether it is loaded.
    /// A paused job still runs manually; a paused child is not triggered by its parent.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn pause(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::Pause { name, reply }).await
    }

    /// Resumes a paused job from its next fire after now (fires missed while paused are
    /// skipped); returns whether it is loaded.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn resume(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::Resume { name, reply }).await
    }

    /// Runs a job now, outside its schedule (dkron's `POST /v1/jobs/{name}`); returns the new
    /// group id. The run goes through the launch log like every fire.
    ///
    /// As in dkron, a manual run ignores `concurrency` (it neither waits for, skips for, nor
    /// cancels a running execution), `starts_at`/`expires_at` and pausing; it does not shift the
    /// schedule. Retries, children and ephemeral deletion follow it as after a timer fire.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], [`Error::JobDisabled`] (a disabled job that is not a child), or
    /// [`Error::ShutDown`].
    pub async fn run_now(&self, name: &str) -> Result<i64, Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::RunNow { name, reply }).await?
    }

    /// Runs `fires` (instants of the job's schedule, oldest first) as backfilled runs: each in
    /// a group of its own with the instant as its scheduled time and trigger `backfill`,
    /// whatever the schedule launched already. `overlap` decides how they run: all at once, only
    /// the first if the job is not running, or one after the other. Returns how many were
    /// launched or queued. `skip` sees the runs this scheduler tracks: those of jobs with a
    /// concurrency policy other than `allow`, retries, children or `ephemeral`, backfills, and
    /// adopted ones; a caller that knows of other runs (a cluster's store) filters first.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], [`Error::JobDisabled`] or [`Error::ShutDown`].
    pub async fn backfill(
        &self,
        name: &str,
        fires: Vec<Timestamp>,
        overlap: dkron_model::BackfillOverlap,
    ) -> Result<usize, Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::Backfill {
            name,
            fires,
            overlap,
            reply,
        })
        .await?
    }

    /// Acts on an execution that finished elsewhere and was recorded in a replicated store,
    /// with the `progress` of its group as the store computed it (`dkron_model::group_progress`
    /// over the stored group). Once the attempt is complete, the group's status decides:
    /// failed nodes are retried (within the job's `retries`), a success runs the children and
    /// deletes an ephemeral job, and a forbid/replace run is no longer in flight.
    ///
    /// This is how a cluster drives what follows a run from the applied state, so a new leader
    /// continues the groups its predecessor launched. An in-process dispatch reports through
    /// [`crate::Run::report`] instead; never report one execution both ways.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn report(&self, execution: Execution, progress: GroupProgress) -> Result<(), Error> {
        self.commands
            .send(Command::Report {
                execution,
                progress,
            })
            .await
            .map_err(|_| Error::ShutDown)
    }

    /// What the scheduler knows about a job, or `None` if it is not loaded.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn job_state(&self, name: &str) -> Result<Option<JobState>, Error> {
        let name = name.to_owned();
        self.ask(|reply| Command::State { name, reply }).await
    }

    /// Takes the tally of timer fires dropped by the misfire bound since the last take, per
    /// job in name order (see [`SchedulerBuilder::misfire_threshold`]). The tally keeps at
    /// most one entry per job; a removed job's entry is forgotten.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn take_skipped(&self) -> Result<Vec<Skipped>, Error> {
        self.ask(|reply| Command::TakeSkipped { reply }).await
    }

    /// How many jobs are loaded.
    ///
    /// # Errors
    /// [`Error::ShutDown`].
    pub async fn job_count(&self) -> Result<usize, Error> {
        self.ask(|reply| Command::Len { reply }).await
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Stops firing, then waits up to `grace` for running executions (and queued launches) to
    /// finish; after that it cancels them and waits one more second. Idempotent: later calls,
    /// from any handle, report `drained` with nothing left.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        let done = ShutdownReport {
            drained: true,
            cancelled: 0,
            still_running: 0,
        };
        let report = self
            .ask(|reply| Command::Shutdown { grace, reply })
            .await
            .unwrap_or(done);
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            warn!(%error, "scheduler loop ended abnormally");
        }
        report
    }
}
