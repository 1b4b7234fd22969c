//! The scheduler's ports over Raft ([`RaftPorts`]: job source, launch log, execution sink) and
//! the local dispatch ([`LocalDispatch`]) that records an execution's start through Raft, keeps
//! it in the busy map while it runs, and runs it with `dkron-executor`.

use std::sync::{Arc, PoisonError};

use dkron_executor::{ExecutionRequest, OutputSink};
use dkron_model::{Execution, Job, LaunchRecord, Trigger};
use dkron_raft::{Command, Response};
use dkron_scheduler::{BoxError, BoxFuture, Dispatch, ExecutionSink, JobSource, LaunchLog, Run};
use jiff::Timestamp;

use crate::{
    metrics,
    node::{Busy, Shared},
};

/// Job source, launch log and execution sink of the leader's scheduler, backed by the local
/// store (reads) and Raft (writes).
#[derive(Debug)]
pub(crate) struct RaftPorts {
    shared: Arc<Shared>,
}

impl RaftPorts {
    pub(crate) fn new(shared: Arc<Shared>) -> RaftPorts {
        RaftPorts { shared }
    }

    /// Whether the store already has this fire (see [`LaunchLog::record_launches`]).
    fn launched_already(&self, record: &LaunchRecord) -> Result<bool, BoxError> {
        let kept = self.shared.store.launches(&record.job_name)?;
        Ok(match record.trigger {
            Trigger::Scheduled => kept
                .iter()
                .any(|r| r.trigger == Trigger::Scheduled && r.scheduled_at >= record.scheduled_at),
            Trigger::Retry => kept
                .iter()
                .any(|r| r.group == record.group && r.attempt == record.attempt),
            Trigger::Manual | Trigger::Dependent => false,
        })
    }
}

impl JobSource for RaftPorts {
    fn load_jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, BoxError>> {
        Box::pin(async move {
            let mut jobs = Vec::with_capacity(self.shared.store.job_count());
            self.shared.store.for_each_job(&mut |job| jobs.push(job))?;
            Ok(jobs)
        })
    }

    fn delete_job<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            match self
                .shared
                .write(Command::DeleteJob {
                    name: name.to_owned(),
                })
                .await?
            {
                Response::Refused(refusal) => Err(refusal.into()),
                _ => Ok(()),
            }
        })
    }
}

impl LaunchLog for RaftPorts {
    fn record_launches<'a>(
        &'a self,
        records: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async move {
            // Which records to commit, and the position of each in `records`.
            let mut commands = Vec::new();
            let mut positions = Vec::new();
            for (position, record) in records.iter().enumerate() {
                if self.launched_already(record)? {
                    continue;
                }
                // The job's next fire is persisted with the launch, so `GET /v1/jobs` shows it.
                let next = match record.trigger {
                    Trigger::Scheduled => self
                        .shared
                        .store
                        .job(&record.job_name)?
                        .map(|job| job.next_fire_after(record.scheduled_at)),
                    _ => None,
                };
                commands.push(Command::RecordLaunch {
                    launch: record.clone(),
                    next,
                });
                positions.push(position);
            }
            let mut recorded = vec![false; records.len()];
            if commands.is_empty() {
                return Ok(recorded);
            }
            // One Raft entry (one fsync) for the whole batch of fires.
            let responses = match self.shared.write(Command::Batch(commands)).await? {
                Response::Batch(responses) => responses,
                Response::Refused(refusal) => return Err(refusal.into()),
                other => return Err(format!("unexpected raft response {other:?}").into()),
            };
            for (position, response) in positions.into_iter().zip(responses) {
                match response {
                    // The job was deleted meanwhile: nothing to run.
                    Response::Refused(refusal) => {
                        tracing::debug!(%refusal, job = %records[position].job_name, "launch refused");
                    }
                    _ => recorded[position] = true,
                }
            }
            Ok(recorded)
        })
    }

    fn last_fire<'a>(
        &'a self,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        Box::pin(async move {
            let kept = self.shared.store.launches(job_name)?;
            Ok(kept
                .iter()
                .filter(|r| r.trigger == Trigger::Scheduled)
                .map(|r| r.scheduled_at)
                .max())
        })
    }
}

impl ExecutionSink for RaftPorts {
    fn record_execution<'a>(
        &'a self,
        execution: &'a Execution,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            match self
                .shared
                .write(Command::ExecutionDone(execution.clone()))
                .await?
            {
                Response::ExecutionDone { counted: true, .. } => {
                    let name = if execution.success {
                        metrics::EXECUTIONS_SUCCEEDED
                    } else {
                        metrics::EXECUTIONS_FAILED
                    };
                    ::metrics::counter!(name, "job_name" => execution.job_name.clone())
                        .increment(1);
                    Ok(())
                }
                Response::Refused(refusal) => Err(refusal.into()),
                _ => Ok(()),
            }
        })
    }
}

/// Runs every fire on this node with the executor the job names.
#[derive(Debug)]
pub(crate) struct LocalDispatch {
    shared: Arc<Shared>,
}

impl LocalDispatch {
    pub(crate) fn new(shared: Arc<Shared>) -> LocalDispatch {
        LocalDispatch { shared }
    }

    async fn run(&self, run: Run) -> Execution {
        let node = &self.shared.config.name;
        let started_at = run.now();
        let mut execution = run.execution(node, started_at);
        let id = execution.id();
        if let Some(scheduled_at) = execution.scheduled_at
            && run.launch.trigger == Trigger::Scheduled
        {
            let late = started_at
                .duration_since(scheduled_at)
                .as_secs_f64()
                .max(0.0);
            ::metrics::histogram!(metrics::SCHEDULER_LATENESS).record(late);
        }
        // The start is recorded before running, so the history shows the execution while it
        // runs; a failure to record is logged and the run goes on (the fire is launched).
        match self
            .shared
            .write(Command::ExecutionStarted(execution.clone()))
            .await
        {
            Ok(Response::Refused(refusal)) => {
                tracing::warn!(%refusal, %id, "execution start refused")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, %id, "cannot record execution start"),
        }
        self.busy().insert(
            id.clone(),
            Busy {
                execution: execution.clone(),
                cancel: run.cancel.clone(),
            },
        );

        match self.shared.executors.get(&run.job.executor) {
            Ok(executor) => {
                let limit = run.job.effective_output_limit(&self.shared.config.limits);
                let progress = Progress {
                    shared: Arc::clone(&self.shared),
                    id: id.clone(),
                };
                let request = ExecutionRequest::new(&run.job.name, &run.job.executor_config)
                    .with_output_limit(usize::try_from(limit).unwrap_or(usize::MAX))
                    .with_cancel(run.cancel.clone())
                    .with_progress(&progress);
                let outcome = executor.execute(request).await;
                // Invariant: `started_at` stays the recorded one, so the id matches the start.
                execution.success = outcome.success;
                execution.output = outcome.output_with_error();
                execution.output_truncated = outcome.output_truncated;
                execution.exit_code = outcome.exit_code;
                execution.finished_at = Some(outcome.finished_at.max(started_at));
            }
            Err(error) => {
                execution.output = error.to_string();
                execution.finished_at = Some(run.now().max(started_at));
            }
        }
        if !run.job.processors.is_empty() {
            // Small synchronous writes (a file, a syslog datagram, stdout).
            for error in self
                .shared
                .processors
                .apply(&run.job.processors, &mut execution)
            {
                tracing::warn!(%error, %id, "processor failed");
            }
        }
        self.busy().remove(&id);
        execution
    }

    fn busy(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Busy>> {
        self.shared
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Dispatch for LocalDispatch {
    fn select_targets(&self, _job: &Job) -> Vec<String> {
        vec![self.shared.config.name.clone()]
    }

    fn dispatch(&self, run: Run) -> BoxFuture<'_, Vec<Execution>> {
        Box::pin(async move { vec![self.run(run).await] })
    }
}

/// Keeps the latest output chunk of a running execution in the busy map (`/v1/busy` shows the
/// most recent chunk, as dkron).
struct Progress {
    shared: Arc<Shared>,
    id: String,
}

impl OutputSink for Progress {
    fn output(&self, chunk: &[u8]) {
        let mut busy = self
            .shared
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = busy.get_mut(&self.id) {
            entry.execution.output = String::from_utf8_lossy(chunk).into_owned();
        }
    }
}
