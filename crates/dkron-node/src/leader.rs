//! The leadership task: runs the scheduler exactly while this server leads.

use std::{
    collections::BTreeSet,
    sync::{Arc, PoisonError},
};

use dkron_raft::{Command, Response};
use dkron_scheduler::Scheduler;
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::{
    node::Shared,
    ports::{LocalDispatch, RaftPorts},
};

/// Pause before trying again to start the scheduler after a failure.
const RETRY_START: std::time::Duration = std::time::Duration::from_secs(1);

/// Watches leadership until `stop`: starts the scheduler on becoming leader, stops it on losing
/// leadership, and stops it (bounded by the shutdown timeout) when `stop` fires.
pub(crate) async fn lead(shared: Arc<Shared>, stop: CancellationToken) {
    let mut watch = shared.raft.watch_leadership();
    loop {
        let leading = watch.borrow_and_update().is_self;
        let mut slot = shared.scheduler.lock().await;
        // Set when starting failed while leading: try again soon, since a single server may
        // never see another leadership change.
        let mut retry = false;
        if leading && slot.is_none() {
            match start_scheduler(&shared).await {
                Ok(scheduler) => {
                    tracing::info!("leader: scheduler started");
                    *slot = Some(scheduler);
                }
                Err(error) => {
                    tracing::error!(%error, "leader: cannot start the scheduler, retrying in 1s");
                    retry = true;
                }
            }
        } else if !leading && let Some(scheduler) = slot.take() {
            let report = scheduler.shutdown(shared.config.shutdown_timeout).await;
            tracing::info!(?report, "leadership lost: scheduler stopped");
        }
        drop(slot);
        tokio::select! {
            () = stop.cancelled() => break,
            changed = watch.changed() => if changed.is_err() { break },
            () = tokio::time::sleep(RETRY_START), if retry => {}
        }
    }
    let scheduler = shared.scheduler.lock().await.take();
    if let Some(scheduler) = scheduler {
        let report = scheduler.shutdown(shared.config.shutdown_timeout).await;
        if report.drained {
            tracing::info!("scheduler stopped, every running execution finished");
        } else {
            tracing::warn!(
                cancelled = report.cancelled,
                still_running = report.still_running,
                "scheduler stopped, running executions were cancelled"
            );
        }
    }
}

async fn start_scheduler(shared: &Arc<Shared>) -> Result<Scheduler, crate::Error> {
    // Invariant: the barrier makes the local store hold every committed write before the
    // scheduler loads jobs and launch records from it.
    shared.raft.linearizable_barrier().await?;
    close_interrupted(shared).await;
    let ports = Arc::new(RaftPorts::new(Arc::clone(shared)));
    let scheduler = Scheduler::builder()
        .job_source(ports.clone())
        .launch_log(ports.clone())
        .execution_sink(ports)
        .dispatch(Arc::new(LocalDispatch::new(Arc::clone(shared))))
        .start()
        .await?;
    Ok(scheduler)
}

/// Records as failed the executions the store shows running that run nowhere: their process
/// was killed or the node crashed, so they would read as running forever.
///
/// Single server: every execution runs here, so "nowhere" means "not in this node's busy map".
/// With agents this must be restricted to executions of nodes known to be gone.
async fn close_interrupted(shared: &Shared) {
    let running = match shared.store.running_executions() {
        Ok(running) => running,
        Err(error) => {
            tracing::warn!(%error, "cannot list running executions");
            return;
        }
    };
    let live: BTreeSet<String> = shared
        .busy
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .keys()
        .cloned()
        .collect();
    for mut execution in running {
        let id = execution.id();
        if live.contains(&id) {
            continue;
        }
        execution.finished_at = Some(Timestamp::now().max(execution.started_at));
        execution.success = false;
        if !execution.output.is_empty() && !execution.output.ends_with('\n') {
            execution.output.push('\n');
        }
        execution
            .output
            .push_str("dkron-rs: interrupted, the node stopped before this execution finished");
        match shared.write(Command::ExecutionDone(execution)).await {
            Ok(Response::Refused(refusal)) => {
                tracing::warn!(%refusal, %id, "cannot close an interrupted execution")
            }
            Ok(_) => tracing::warn!(%id, "execution interrupted by a stop, recorded as failed"),
            Err(error) => tracing::warn!(%error, %id, "cannot close an interrupted execution"),
        }
    }
}
