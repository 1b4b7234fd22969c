//! How a fire becomes executions: the [`Dispatch`] trait, the [`Run`] it is handed (and reports
//! through), and two implementations: [`FnDispatch`] (a closure) and, with the `executor`
//! feature, [`ExecutorDispatch`] (the local `dkron-executor` registry: `shell`, `http`).

use std::{fmt, future::Future, sync::Arc};

use dkron_model::{Execution, Job, LaunchRecord, Trigger};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::{clock::Clock, engine::Reporter, ports::BoxFuture};

/// One launched fire (one attempt), as handed to [`Dispatch::dispatch`].
#[derive(Debug)]
pub struct Run {
    /// The job as it was when the fire was launched.
    pub job: Arc<Job>,
    /// The record committed to the launch log before this dispatch.
    pub launch: LaunchRecord,
    /// Cancelled when the run must stop: a `replace` fire of the same job, or a shutdown whose
    /// grace period ran out. Executors should end promptly when it fires.
    pub cancel: CancellationToken,
    pub(crate) clock: Arc<dyn Clock>,
    /// `None` for a run built with [`Run::new`] (its reports go nowhere).
    pub(crate) reporter: Option<Reporter>,
}

impl Run {
    /// A run as the scheduler builds it, for testing a [`Dispatch`] on its own.
    pub fn new(
        job: Arc<Job>,
        launch: LaunchRecord,
        cancel: CancellationToken,
        clock: Arc<dyn Clock>,
    ) -> Run {
        Run {
            job,
            launch,
            cancel,
            clock,
            reporter: None,
        }
    }

    /// Reports a finished execution of this run: it goes to the scheduler's
    /// [`crate::ExecutionSink`], and the scheduler acts on the group when it is complete
    /// (retry, dependents, ephemeral delete, the end of a forbid/replace run).
    ///
    /// An in-process [`Dispatch`] calls it once per execution. A dispatch whose results come
    /// back through a replicated store reports there instead, and the embedding code passes
    /// the store's answer to [`crate::Scheduler::report`].
    pub async fn report(&self, execution: Execution) {
        if let Some(reporter) = &self.reporter {
            reporter.report(execution).await;
        }
    }

    /// The scheduler's clock (so tests under paused time stamp executions consistently).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// When this run is due to start: a timer fire's scheduled instant plus the job's jitter.
    /// With a [`crate::SchedulerBuilder::lead`], that is ahead of the hand-over, and the
    /// dispatch (or whatever it hands the run to) starts the run then. `None` for manual,
    /// retried, dependent and backfilled runs, which start at once.
    pub fn due(&self) -> Option<Timestamp> {
        (self.launch.trigger == Trigger::Scheduled)
            .then(|| self.job.jittered(self.launch.scheduled_at))
    }

    /// Waits until the run is due ([`Run::due`], by the scheduler's clock). `false` when the
    /// run was cancelled meanwhile: it must not start then.
    pub async fn wait_until_due(&self) -> bool {
        if let Some(due) = self.due()
            && due > self.clock.now()
        {
            let wake = self.clock.instant_at(due);
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = tokio::time::sleep_until(wake) => {}
            }
        }
        !self.cancel.is_cancelled()
    }

    /// Waits until due, then returns this run's execution on `node_name`, started now; a run
    /// cancelled meanwhile is reported failed instead (`None`: nothing to start).
    async fn start_when_due(&self, node_name: &str) -> Option<Execution> {
        let due = self.wait_until_due().await;
        let now = self.now();
        let mut execution = self.execution(node_name, now);
        if due {
            return Some(execution);
        }
        execution.output = "cancelled before it was due to start".to_owned();
        execution.finished_at = Some(now);
        self.report(execution).await;
        None
    }

    /// An execution of this run on `node_name`, started at `started_at`, not finished yet: the
    /// job name, group, attempt, trigger and scheduled time are filled in from the launch.
    pub fn execution(&self, node_name: &str, started_at: Timestamp) -> Execution {
        self.launch.execution(node_name, started_at)
    }
}

/// What became of a run handed to [`Dispatch::dispatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// The run was handed over (or ran): one report per target will follow.
    Handed,
    /// Nothing will run (no target was reachable): no report will follow, and the group counts
    /// as not triggered (no retry).
    NothingToRun,
}

/// Hands a launched fire to whatever runs it: a hand-off, not a wait for the results.
///
/// Results come back as reports: an in-process dispatch calls [`Run::report`] for each
/// execution; a cluster node records them in its replicated store and passes the store's
/// answer to [`crate::Scheduler::report`], so a new leader continues what the old one launched.
/// Retries target `run.launch.targets` (the nodes whose previous attempt failed); for a first
/// attempt they are what [`Dispatch::select_targets`] returned.
pub trait Dispatch: Send + Sync + fmt::Debug {
    /// The nodes a new fire of `job` goes to, chosen before its launch is recorded (the record
    /// carries them). The default, for single-process use, is none: "run it here".
    fn select_targets(&self, job: &Job) -> Vec<String> {
        let _ = job;
        Vec::new()
    }

    /// The nodes a retry of `job` goes to, given the nodes whose attempt failed (`failed`,
    /// sorted). The default keeps them; a cluster replaces the nodes that are gone with other
    /// matching ones.
    fn retarget(&self, job: &Job, failed: &[String]) -> Vec<String> {
        let _ = job;
        failed.to_vec()
    }

    /// Hands the fire over. Never fails: a failure to run is a reported execution with
    /// `success == false`, or [`Handoff::NothingToRun`] when no target could take it.
    fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff>;
}

type RunFn = dyn Fn(Run) -> BoxFuture<'static, Result<String, String>> + Send + Sync;

/// A [`Dispatch`] backed by a closure: `Ok(output)` is a successful execution, `Err(output)` a
/// failed one. Handy for embedding Rust code as jobs, for tests and for benchmarks.
pub struct FnDispatch {
    node_name: String,
    run: Box<RunFn>,
}

impl FnDispatch {
    /// Wraps `run`; executions are reported as from node `local`.
    pub fn new<F, Fut>(run: F) -> FnDispatch
    where
        F: Fn(Run) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        FnDispatch {
            node_name: "local".to_owned(),
            run: Box::new(move |r| Box::pin(run(r))),
        }
    }

    /// Reports executions as from `node_name`.
    pub fn with_node_name(mut self, node_name: impl Into<String>) -> FnDispatch {
        self.node_name = node_name.into();
        self
    }
}

impl fmt::Debug for FnDispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnDispatch")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl Dispatch for FnDispatch {
    fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
        Box::pin(async move {
            let Some(mut execution) = run.start_when_due(&self.node_name).await else {
                return Handoff::Handed;
            };
            let clock = Arc::clone(&run.clock);
            let reporter = run.reporter.clone();
            let (success, output) = match (self.run)(run).await {
                Ok(output) => (true, output),
                Err(output) => (false, output),
            };
            execution.success = success;
            execution.output = output;
            execution.finished_at = Some(clock.now());
            if let Some(reporter) = reporter {
                reporter.report(execution).await;
            }
            Handoff::Handed
        })
    }
}

#[cfg(feature = "executor")]
pub use local::ExecutorDispatch;

#[cfg(feature = "executor")]
mod local {
    use dkron_executor::{ExecutionRequest, ExecutorRegistry};
    use dkron_model::Limits;

    use super::{BoxFuture, Dispatch, Handoff, Run};

    /// The default [`Dispatch`]: runs each fire once, in this process, with the executor the job
    /// names (`shell`, `http`, or any executor registered by the embedding code).
    ///
    /// Output is bounded by the job's `output_limit`, else the limits given (dkron: 256 000
    /// bytes). An unknown executor gives a failed execution saying so.
    #[derive(Debug, Clone)]
    pub struct ExecutorDispatch {
        registry: ExecutorRegistry,
        node_name: String,
        limits: Limits,
    }

    impl Default for ExecutorDispatch {
        /// The built-in `shell` and `http` executors, node `local`, dkron's limits.
        fn default() -> ExecutorDispatch {
            ExecutorDispatch::new(ExecutorRegistry::with_defaults())
        }
    }

    impl ExecutorDispatch {
        /// Runs jobs with the executors of `registry`, reporting node `local`.
        pub fn new(registry: ExecutorRegistry) -> ExecutorDispatch {
            ExecutorDispatch {
                registry,
                node_name: "local".to_owned(),
                limits: Limits::DKRON,
            }
        }

        /// Reports executions as from `node_name`.
        pub fn with_node_name(mut self, node_name: impl Into<String>) -> ExecutorDispatch {
            self.node_name = node_name.into();
            self
        }

        /// Uses `limits` for jobs that set no `output_limit`.
        pub fn with_limits(mut self, limits: Limits) -> ExecutorDispatch {
            self.limits = limits;
            self
        }
    }

    impl Dispatch for ExecutorDispatch {
        fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
            Box::pin(async move {
                let Some(mut execution) = run.start_when_due(&self.node_name).await else {
                    return Handoff::Handed;
                };
                match self.registry.get(&run.job.executor) {
                    Ok(executor) => {
                        let limit = run.job.effective_output_limit(&self.limits);
                        let request =
                            ExecutionRequest::new(&run.job.name, &run.job.executor_config)
                                .with_output_limit(usize::try_from(limit).unwrap_or(usize::MAX))
                                .with_cancel(run.cancel.clone());
                        let outcome = executor.execute(request).await;
                        execution.started_at = outcome.started_at;
                        execution.success = outcome.success;
                        execution.output = outcome.output_with_error();
                        execution.output_truncated = outcome.output_truncated;
                        execution.exit_code = outcome.exit_code;
                        execution.finished_at = Some(outcome.finished_at);
                    }
                    Err(error) => {
                        execution.output = error.to_string();
                        execution.finished_at = Some(run.now());
                    }
                }
                run.report(execution).await;
                Handoff::Handed
            })
        }
    }
}
