//! The leader's scheduler ports: [`RaftPorts`] (job source and launch log over the local store
//! and Raft) and [`HandOff`] (dispatch: hands each fire to the node's runner and returns).

use std::sync::Arc;

use dkron_model::{Job, LaunchRecord, Trigger};
use dkron_raft::{Command, Refusal, Response};
use dkron_scheduler::{BoxError, BoxFuture, Dispatch, Handoff, JobSource, LaunchLog, Run};
use jiff::Timestamp;

use crate::{handles::Handles, runner::Runner};

/// Job source and launch log of the leader's scheduler: reads from the local store (the
/// leader's replica is current), writes through Raft.
#[derive(Debug)]
pub(crate) struct RaftPorts {
    handles: Arc<Handles>,
}

impl RaftPorts {
    pub(crate) fn new(handles: Arc<Handles>) -> RaftPorts {
        RaftPorts { handles }
    }
}

impl JobSource for RaftPorts {
    fn load_jobs(&self) -> BoxFuture<'_, Result<Vec<Job>, BoxError>> {
        Box::pin(async move {
            let store = &self.handles.store;
            let mut jobs = Vec::with_capacity(store.job_count());
            store.for_each_job(&mut |job| jobs.push(job))?;
            Ok(jobs)
        })
    }

    fn delete_job<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let command = Command::DeleteJob {
                name: name.to_owned(),
            };
            match self.handles.write(command).await?.response {
                Response::Refused(refusal) => Err(refusal.into()),
                _ => Ok(()),
            }
        })
    }
}

impl LaunchLog for RaftPorts {
    /// Commits the batch as one Raft entry. Whether a launch is new is decided by the state
    /// machine (`dkron_model::LaunchRecord::is_new`), atomically with recording it: a refused
    /// launch is answered `false` and not dispatched.
    fn record_launches<'a>(
        &'a self,
        records: &'a [LaunchRecord],
    ) -> BoxFuture<'a, Result<Vec<bool>, BoxError>> {
        Box::pin(async move {
            let mut commands = Vec::with_capacity(records.len());
            for record in records {
                // The job's next fire is persisted with the launch, so `GET /v1/jobs` shows it.
                let next = match record.trigger {
                    Trigger::Scheduled => self
                        .handles
                        .store
                        .job(&record.job_name)?
                        .map(|job| job.next_fire_after(record.scheduled_at)),
                    _ => None,
                };
                commands.push(Command::RecordLaunch {
                    launch: record.clone(),
                    next,
                });
            }
            if commands.is_empty() {
                return Ok(Vec::new());
            }
            // One Raft entry (one fsync) for the whole batch of fires.
            let responses = match self.handles.write(Command::Batch(commands)).await?.response {
                Response::Batch(responses) => responses,
                Response::Refused(refusal) => return Err(refusal.into()),
                other => return Err(format!("unexpected raft response {other:?}").into()),
            };
            Ok(records
                .iter()
                .zip(responses)
                .map(|(record, response)| match response {
                    Response::Refused(Refusal::AlreadyLaunched { .. }) => false,
                    Response::Refused(refusal) => {
                        // The job was deleted meanwhile: nothing to run.
                        tracing::debug!(%refusal, job = %record.job_name, "launch refused");
                        false
                    }
                    _ => true,
                })
                .collect())
        })
    }

    fn last_fire<'a>(
        &'a self,
        job_name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Timestamp>, BoxError>> {
        Box::pin(async move { Ok(self.handles.store.last_scheduled(job_name)?) })
    }
}

/// Dispatch of the leader's scheduler: every fire runs on this server, handed to its runner;
/// the result comes back through Raft and the applied-changes feed.
#[derive(Debug)]
pub(crate) struct HandOff {
    node_name: String,
    runner: Arc<Runner>,
}

impl HandOff {
    pub(crate) fn new(node_name: &str, runner: Arc<Runner>) -> HandOff {
        HandOff {
            node_name: node_name.to_owned(),
            runner,
        }
    }
}

impl Dispatch for HandOff {
    fn select_targets(&self, _job: &Job) -> Vec<String> {
        vec![self.node_name.clone()]
    }

    fn dispatch(&self, run: Run) -> BoxFuture<'_, Handoff> {
        let handed = self.runner.start(run.job, run.launch, run.cancel);
        Box::pin(std::future::ready(if handed {
            Handoff::Handed
        } else {
            Handoff::NothingToRun
        }))
    }
}
