//! [`RaftReport`]: how a server reports what its runner ran: through Raft, retried until a
//! write is committed (a leader change in between is normal), so a finished execution is
//! never lost while the node lives.

mod outbox;
mod remote;

pub(crate) use outbox::{Outbox, outbox_dir};
pub(crate) use remote::RemoteReport;

use std::{sync::Arc, time::Duration};

use dkron_model::Execution;
use dkron_notify::Notifier;
use dkron_raft::{Command, Response};
use dkron_scheduler::BoxFuture;

use crate::{handles::Handles, metrics, runner::Report};

/// Pause between two tries of a report.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// Tries of one report before it is given up (and logged): about a minute.
const TRIES: u32 = 120;

/// Reports executions through Raft.
#[derive(Debug)]
pub(crate) struct RaftReport {
    handles: Arc<Handles>,
    /// Told of the starts this server's runner reports (the leader's own share of a fire), so
    /// the pre-webhook carries the execution's real id.
    notifier: Notifier,
}

impl RaftReport {
    pub(crate) fn new(handles: Arc<Handles>, notifier: Notifier) -> RaftReport {
        RaftReport { handles, notifier }
    }
}

impl Report for RaftReport {
    fn started<'a>(&'a self, execution: &'a Execution) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let id = execution.id();
            crate::notify::started(&self.handles, &self.notifier, execution);
            // A failure is logged and the run goes on (the fire is launched).
            match self
                .handles
                .write(Command::ExecutionStarted(execution.clone()))
                .await
            {
                Ok(written) => {
                    if let Response::Refused(refusal) = written.response {
                        tracing::warn!(%refusal, %id, "execution start refused");
                    }
                }
                Err(error) => tracing::warn!(%error, %id, "cannot record execution start"),
            }
        })
    }

    fn finished(&self, execution: Execution) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let id = execution.id();
            for attempt in 1..=TRIES {
                match self
                    .handles
                    .write(Command::ExecutionDone(execution.clone()))
                    .await
                {
                    Ok(written) => {
                        match written.response {
                            Response::ExecutionDone { counted: true, .. } => {
                                let name = if execution.success {
                                    metrics::EXECUTIONS_SUCCEEDED
                                } else {
                                    metrics::EXECUTIONS_FAILED
                                };
                                ::metrics::counter!(name, "job_name" => execution.job_name.clone())
                                    .increment(1);
                            }
                            Response::Refused(refusal) => {
                                // The job was deleted meanwhile: nothing to record it on.
                                tracing::warn!(%refusal, %id, "execution report refused");
                            }
                            _ => {}
                        }
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(%error, %id, attempt, "cannot record a finished execution yet, retrying");
                    }
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
            tracing::error!(%id, "gave up recording a finished execution");
        })
    }
}
