//! [`Runner`]: runs executions on this node and reports them. The only place that calls
//! `dkron-executor`.
//!
//! A run is handed over ([`Runner::start`]) and owned here until it is reported: the caller
//! does not wait for it. How a report travels is the [`Report`]'s business (through Raft on a
//! server); the runner itself knows nothing of Raft or of the scheduler, so a node without
//! Raft can reuse it.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use dkron_executor::{ExecutionRequest, ExecutorRegistry, OutputSink, ProcessorRegistry};
use dkron_model::{Execution, Job, LaunchRecord, Limits, Trigger};
use dkron_scheduler::BoxFuture;
use jiff::Timestamp;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{metrics, throttle::Throttle};

mod admission;
mod lease;
mod ledger;
mod live;

pub use admission::{ExecutionSlots, Overflow};
pub(crate) use lease::Lease;
pub(crate) use ledger::{kill_orphans, ledger_path};
pub(crate) use live::{End, Frame, Live, Subscription};

use admission::{Admission, Staged, Work};

use ledger::Ledger;

/// Runs refused at their start (every slot and the queue taken, a lapsed lease) can come once
/// per fire past capacity: warned about once per 5 s with a count.
static NOT_RUN: Throttle = Throttle::new(Duration::from_secs(5));

/// How often the lease is checked for a lapse (see [`Runner::guard_lease`]).
const LEASE_CHECK: Duration = Duration::from_millis(200);

/// After the grace period ran out and runs were cancelled, how long to wait for them to end.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// Where the runner sends what it runs.
pub(crate) trait Report: Send + Sync + fmt::Debug {
    /// An execution started (so the history shows it while it runs). Best effort.
    fn started<'a>(&'a self, execution: &'a Execution) -> BoxFuture<'a, ()>;
    /// An execution finished. Must not return before the report is durable, or given up.
    fn finished(&self, execution: Execution) -> BoxFuture<'_, ()>;
}

/// A running execution, for `/v1/busy`, cancellation and its live output.
#[derive(Debug)]
struct Busy {
    execution: Execution,
    cancel: CancellationToken,
    live: Arc<Live>,
    /// The lease epoch it was accepted in.
    epoch: u64,
}

/// Runs executions on this node; see the module docs.
#[derive(Debug)]
pub(crate) struct Runner {
    node_name: String,
    limits: Limits,
    executors: ExecutorRegistry,
    /// Applied to each finished execution before it is reported (dkron runs them where the
    /// execution is recorded).
    processors: ProcessorRegistry,
    busy: Mutex<BTreeMap<String, Busy>>,
    /// Ids of the executions this runner owns: from the moment it accepts one until its report
    /// returned (a superset of `busy`). The leader's reconciler asks for it (`/node/held`): an
    /// execution recorded running on this node that is not held here never reached it.
    held: Mutex<BTreeSet<String>>,
    report: Arc<dyn Report>,
    tasks: TaskTracker,
    /// Where the process groups of running shell executions are recorded, if anywhere.
    ledger: Option<Ledger>,
    /// Slots for running executions, and the queue for them.
    admission: Admission,
    /// Fences the runs when this node lost touch with the leader, if set.
    lease: Option<Arc<Lease>>,
}

/// Why [`Runner::start_at`] did not take a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotStarted {
    /// The runner is shutting down.
    #[error("this node is stopping")]
    Stopping,
    /// No heartbeat was accepted by a leader within the failure timeout: the leader may be
    /// closing this node's runs as lost, so it takes none until a heartbeat renews its lease.
    #[error(
        "this node lost touch with the leader (no heartbeat accepted within the failure timeout)"
    )]
    LeaseLapsed,
    /// As many runs as it holds at most wait here for their start instant already.
    #[error(
        "this node holds {} runs waiting for their start instant, its most; run refused",
        admission::MAX_STAGED
    )]
    TooManyStaged,
}

/// How [`Runner::shutdown`] ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drained {
    pub(crate) drained: bool,
    pub(crate) cancelled: usize,
}

impl Runner {
    pub(crate) fn new(node_name: &str, limits: Limits, report: Arc<dyn Report>) -> Runner {
        Runner {
            node_name: node_name.to_owned(),
            limits,
            executors: ExecutorRegistry::with_defaults(),
            processors: ProcessorRegistry::with_defaults(),
            busy: Mutex::new(BTreeMap::new()),
            held: Mutex::new(BTreeSet::new()),
            report,
            tasks: TaskTracker::new(),
            ledger: None,
            admission: Admission::new(ExecutionSlots::DEFAULT),
            lease: None,
        }
    }

    /// Fences the runs by `lease`: those accepted before it lapsed are cancelled, or never
    /// start. Run [`Runner::guard_lease`] too.
    pub(crate) fn with_lease(mut self, lease: Arc<Lease>) -> Runner {
        self.lease = Some(lease);
        self
    }

    /// This node, leading, committed a write as leader that it began at `sent`: a leader heard
    /// from it then, as from an accepted heartbeat. Without this a restarted server refused its
    /// own runs until its first heartbeat, up to a heartbeat interval after it became leader.
    pub(crate) fn led_at(&self, sent: tokio::time::Instant) {
        if let Some(lease) = &self.lease {
            lease.renewed(sent, tokio::time::Instant::now());
        }
    }

    fn epoch(&self) -> u64 {
        self.lease.as_ref().map_or(0, |lease| lease.epoch())
    }

    /// Until `stop`: cancels the runs accepted before each lapse of the lease as soon as it is
    /// seen (see `lease`).
    pub(crate) async fn guard_lease(self: Arc<Self>, stop: CancellationToken) {
        let Some(lease) = self.lease.clone() else {
            return;
        };
        let mut seen = lease.epoch();
        let mut tick = tokio::time::interval(LEASE_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let epoch = lease.check(tokio::time::Instant::now());
            if epoch != seen {
                seen = epoch;
                let busy = self.busy();
                let mut fenced = 0;
                for entry in busy.values().filter(|b| b.epoch < epoch) {
                    entry.cancel.cancel();
                    fenced += 1;
                }
                tracing::warn!(
                    fenced,
                    "no heartbeat accepted by a leader within the failure timeout: runs accepted before are cancelled, as the leader counts them lost"
                );
            }
        }
    }

    /// Runs at most `slots.max_concurrent` executions at once, `slots.max_processes` of them
    /// processes; see [`ExecutionSlots`].
    pub(crate) fn with_slots(mut self, slots: ExecutionSlots) -> Runner {
        self.admission = Admission::new(slots);
        self
    }

    /// Records the process group of every running shell execution in the ledger at `path`, so
    /// a restart can kill what a crash left running. Call [`kill_orphans`] on `path` first: the
    /// ledger is overwritten on the first run.
    pub(crate) fn with_ledger(mut self, path: PathBuf) -> Runner {
        self.ledger = Some(Ledger::new(path));
        self
    }

    fn busy(&self) -> MutexGuard<'_, BTreeMap<String, Busy>> {
        // Each critical section is one map operation: poisoning cannot leave it half done.
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `launch` of `job` here and returns at once; `cancel` stops it (a `replace` fire,
    /// a cancel request). With `recorded_start`, the dispatching leader already recorded the
    /// start at that instant (so the execution keeps that id) and no start is reported.
    /// Refused, saying why, once the runner is shutting down or while its lease is lapsed.
    pub(crate) fn start_at(
        self: &Arc<Self>,
        job: Arc<Job>,
        launch: LaunchRecord,
        cancel: CancellationToken,
        recorded_start: Option<Timestamp>,
    ) -> Result<(), NotStarted> {
        if self.tasks.is_closed() {
            return Err(NotStarted::Stopping);
        }
        if let Some(lease) = &self.lease
            && lease.lapsed(tokio::time::Instant::now())
        {
            return Err(NotStarted::LeaseLapsed);
        }
        let started_at = recorded_start.unwrap_or_else(Timestamp::now);
        // Handed over ahead of its start (`dispatch-lead`): it takes a staged place now.
        let staged = if started_at > Timestamp::now() {
            Some(self.admission.stage().ok_or(NotStarted::TooManyStaged)?)
        } else {
            None
        };
        let id = Execution::id_for(started_at, &self.node_name);
        // Invariant: held before the caller learns it was accepted (the RPC answers 202 after
        // this returns), so a reconciler that asks later finds it.
        self.held().insert(id.clone());
        let runner = Arc::clone(self);
        let reported = recorded_start.is_some();
        let epoch = self.epoch();
        self.tasks.spawn(async move {
            let execution = runner
                .run(&job, &launch, cancel, (started_at, epoch, staged), reported)
                .await;
            runner.report.finished(execution).await;
            runner.held().remove(&id);
        });
        Ok(())
    }

    fn held(&self) -> MutexGuard<'_, BTreeSet<String>> {
        // One set operation per critical section: poisoning cannot leave it half done.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ids of the executions accepted here whose report has not returned yet (running, or
    /// finished and being reported).
    pub(crate) fn held_ids(&self) -> BTreeSet<String> {
        self.held().clone()
    }

    async fn run(
        self: &Arc<Self>,
        job: &Job,
        launch: &LaunchRecord,
        cancel: CancellationToken,
        (started_at, epoch, staged): (Timestamp, u64, Option<Staged>),
        start_reported: bool,
    ) -> Execution {
        let mut execution = launch.execution(&self.node_name, started_at);
        let id = execution.id();
        if !start_reported {
            self.report.started(&execution).await;
        }
        // A child: cancelling it (a cancel request, a shutdown whose grace ran out) stops this
        // execution alone; the run's own token (a `replace` fire) stops it too.
        let cancel = cancel.child_token();
        let limit = job.effective_output_limit(&self.limits);
        let live = Arc::new(Live::new(usize::try_from(limit).unwrap_or(usize::MAX)));
        self.busy().insert(
            id.clone(),
            Busy {
                execution: execution.clone(),
                cancel: cancel.clone(),
                live: Arc::clone(&live),
                epoch,
            },
        );
        // A run handed over ahead of its due instant (`dispatch-lead`) waits for it here,
        // listed as running and cancellable, holding no slot; then it waits (the same way)
        // while every slot is taken.
        let executor = self.executors.get(&job.executor);
        // An executor this node does not know fails without starting anything.
        let work = match &executor {
            Ok(executor) if executor.runs_processes() => Work::Process,
            _ => Work::InProcess,
        };
        let admitted = if wait_until(started_at, &cancel).await {
            match staged {
                Some(staged) => {
                    self.admission
                        .admit_staged(&self.node_name, work, &cancel, staged)
                        .await
                }
                None => self.admission.admit(&self.node_name, work, &cancel).await,
            }
        } else {
            Err("dkron-rs: not started: cancelled before it was due to start".to_owned())
        }
        .and_then(|slot| {
            // Fencing: checked last before the command starts (a lapse while it runs
            // cancels it).
            if self.epoch() == epoch {
                Ok(slot)
            } else {
                Err("dkron-rs: not started: this node lost touch with the leader (no heartbeat accepted within the failure timeout) after accepting it, so the leader counts it lost".to_owned())
            }
        });
        if admitted.is_ok() && launch.trigger == Trigger::Scheduled {
            // From the fire's due instant (a job's `jitter` is a delay it asked for) to the
            // command's start.
            let late = Timestamp::now()
                .duration_since(job.jittered(launch.scheduled_at))
                .as_secs_f64()
                .max(0.0);
            ::metrics::histogram!(metrics::SCHEDULER_LATENESS).record(late);
        }
        match admitted.map(|slot| (slot, executor)) {
            Err(refused) => {
                match NOT_RUN.admit(std::time::Instant::now()) {
                    Some(held_back) => tracing::warn!(
                        %id, reason = %refused, held_back,
                        "execution not run (recorded as failed with the reason; held_back: how \
                         many more since the last such warning)"
                    ),
                    None => tracing::debug!(%id, reason = %refused, "execution not run"),
                }
                live.push_line(&refused);
                execution.output = refused;
                execution.finished_at = Some(Timestamp::now().max(started_at));
            }
            Ok((_slot, Ok(executor))) => {
                let progress = Progress {
                    runner: Arc::clone(self),
                    id: id.clone(),
                    live: Arc::clone(&live),
                };
                let request = ExecutionRequest::new(&job.name, &job.executor_config)
                    .with_output_limit(usize::try_from(limit).unwrap_or(usize::MAX))
                    .with_cancel(cancel.clone())
                    .with_progress(&progress);
                let outcome = executor.execute(request).await;
                if outcome.stopped.is_some()
                    && let Some(line) = &outcome.error
                {
                    // Followers see why it stopped, as the stored output ends with it.
                    live.push_line(line);
                }
                // The executor killed and reaped the group before returning.
                if let Some(ledger) = &self.ledger {
                    ledger.remove(&id);
                }
                // Invariant: `started_at` stays the reported one, so the id matches the start.
                execution.success = outcome.success;
                execution.output = outcome.output_with_error();
                execution.output_truncated = outcome.output_truncated;
                execution.exit_code = outcome.exit_code;
                execution.finished_at = Some(outcome.finished_at.max(started_at));
            }
            Ok((_slot, Err(error))) => {
                execution.output = error.to_string();
                live.push_line(&execution.output);
                execution.finished_at = Some(Timestamp::now().max(started_at));
            }
        }
        if !job.processors.is_empty() {
            // Small synchronous writes (a file, a syslog datagram, stdout).
            for error in self.processors.apply(&job.processors, &mut execution) {
                tracing::warn!(%error, %id, "processor failed");
            }
        }
        live.finish(End {
            success: execution.success,
            finished_at: execution.finished_at,
            exit_code: execution.exit_code,
        });
        self.busy().remove(&id);
        execution
    }

    /// Checks `job`'s executor and processor configuration with the executors and processors
    /// themselves, so a bad one is refused when the job is written rather than failing every
    /// run. An executor this node does not know is let through (it fails at run time, as in
    /// dkron, where executors are plugins), and so is an empty configuration (dkron accepts a
    /// job without one; its runs fail saying what is missing).
    pub(crate) fn validate(&self, job: &Job) -> Result<(), dkron_model::Error> {
        let refused =
            |component: &str, error: dkron_executor::Error| dkron_model::Error::ExecutorConfig {
                component: component.to_owned(),
                reason: error.to_string(),
            };
        if !job.executor_config.is_empty() && self.executors.get(&job.executor).is_ok() {
            self.executors
                .validate(&job.executor, &job.executor_config)
                .map_err(|error| refused(&job.executor, error))?;
        }
        self.processors
            .validate(&job.processors)
            .map_err(|error| refused("processors", error))
    }

    /// Runs `task` as one of the runner's own (a hand-over to another node, say), so a
    /// shutdown waits for it too.
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// The executions running here, each with its newest output chunk (as dkron's busy list).
    pub(crate) fn running(&self) -> Vec<Execution> {
        self.busy()
            .values()
            .map(|b| {
                let mut execution = b.execution.clone();
                execution.output = b.live.latest();
                execution
            })
            .collect()
    }

    /// Follows the output of execution `id` if it runs here.
    pub(crate) fn subscribe(&self, id: &str) -> Option<Subscription> {
        let live = self.busy().get(id).map(|b| Arc::clone(&b.live))?;
        Some(live.subscribe())
    }

    /// Cancels execution `id` of `job` if it runs here; returns it as it stands.
    pub(crate) fn cancel(&self, job: &str, id: &str) -> Option<Execution> {
        let busy = self.busy();
        let entry = busy.get(id).filter(|b| b.execution.job_name == job)?;
        entry.cancel.cancel();
        Some(entry.execution.clone())
    }

    /// Takes no new runs, waits up to `grace` for the running ones (and their reports), then
    /// cancels what is left and waits a little more.
    pub(crate) async fn shutdown(&self, grace: Duration) -> Drained {
        self.tasks.close();
        let drained = tokio::time::timeout(grace, self.tasks.wait()).await.is_ok();
        let mut cancelled = 0;
        if !drained {
            cancelled = self.cancel_all();
            let _ = tokio::time::timeout(CANCEL_WAIT, self.tasks.wait()).await;
        }
        Drained { drained, cancelled }
    }
}

impl Runner {
    /// Cancels every running execution; returns how many there were.
    fn cancel_all(&self) -> usize {
        let busy = self.busy();
        for entry in busy.values() {
            entry.cancel.cancel();
        }
        busy.len()
    }
}

/// The longest a run waits for its start instant: a hand-over is refused further ahead
/// (`/node/run`), so this only bounds a leader's clock far ahead of this node's.
pub(crate) const MAX_AHEAD: Duration = Duration::from_secs(10);

/// Waits until `start` (at most [`MAX_AHEAD`]); `false` when `cancel` fired first.
async fn wait_until(start: Timestamp, cancel: &CancellationToken) -> bool {
    let ahead = Duration::try_from(start.duration_since(Timestamp::now())).unwrap_or_default();
    if !ahead.is_zero() {
        tokio::select! {
            () = cancel.cancelled() => return false,
            () = tokio::time::sleep(ahead.min(MAX_AHEAD)) => {}
        }
    }
    !cancel.is_cancelled()
}

/// Feeds a running execution's output to its [`Live`] (its followers, and `/v1/busy`'s newest
/// chunk), and records its process group in the ledger.
struct Progress {
    runner: Arc<Runner>,
    id: String,
    live: Arc<Live>,
}

impl OutputSink for Progress {
    fn output(&self, chunk: &[u8]) {
        self.live.push(chunk);
    }

    fn spawned(&self, pgid: i32) {
        if let Some(ledger) = &self.runner.ledger {
            ledger.record(pgid, &self.id);
        }
    }
}
