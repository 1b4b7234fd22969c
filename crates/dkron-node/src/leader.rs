//! The leadership task: follows what the state machine applied, and runs the scheduler exactly
//! while this server leads.
//!
//! One task does both, in order, so nothing falls between them: on gaining leadership it
//! starts a scheduler that loads every job from the store (after a linearizable barrier), and
//! every applied change queued meanwhile is then handed to it; changes that reached the store
//! before the load are handed over again, which is harmless (an upsert of the same job keeps its
//! pending fire). Job writes reach the scheduler this way whichever server took them (directly,
//! forwarded, or restored from a snapshot), and so do finished executions, which drive retries,
//! dependents and ephemeral deletes: a new leader continues the groups the old one launched.

mod ports;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use dkron_model::GroupProgress;
use dkron_raft::{Applied, Change, Command, Response};
use dkron_scheduler::Scheduler;
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{handles::Handles, runner::Runner};

pub(crate) use ports::{HandOff, RaftPorts};

/// Pause before trying again to start the scheduler after a failure.
const RETRY_START: Duration = Duration::from_secs(1);
/// How long stopping a scheduler may take: dispatch is a hand-off, so it only drains launch
/// batches in flight.
const SCHEDULER_STOP: Duration = Duration::from_secs(5);

/// What the API sees of the leadership task.
#[derive(Debug)]
pub(crate) struct Leader {
    scheduler: Mutex<Option<Scheduler>>,
    /// The index of the last applied entry whose changes this task has handled.
    followed: watch::Sender<u64>,
}

impl Leader {
    pub(crate) fn new() -> Arc<Leader> {
        Arc::new(Leader {
            scheduler: Mutex::new(None),
            followed: watch::Sender::new(0),
        })
    }

    /// The running scheduler (only while this server leads).
    pub(crate) fn scheduler(&self) -> Option<Scheduler> {
        self.slot().clone()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Scheduler>> {
        // A plain assignment under the lock: poisoning cannot leave it half done.
        self.scheduler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the changes up to log `index` were handed to the scheduler (or seen with no
    /// scheduler running), at most `timeout`: a run requested right after a job write finds
    /// the job. Returns whether they were.
    pub(crate) async fn followed(&self, index: u64, timeout: Duration) -> bool {
        let mut watch = self.followed.subscribe();
        tokio::time::timeout(timeout, watch.wait_for(|followed| *followed >= index))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }
}

/// Runs until `stop`: see the module docs.
pub(crate) async fn lead(
    handles: Arc<Handles>,
    runner: Arc<Runner>,
    leader: Arc<Leader>,
    mut feed: mpsc::UnboundedReceiver<Applied>,
    stop: CancellationToken,
) {
    let mut watch = handles.raft.watch_leadership();
    loop {
        let leading = watch.borrow_and_update().is_self;
        // Set when starting failed while leading: try again soon, since a single server may
        // never see another leadership change.
        let mut retry = false;
        let running = leader.scheduler();
        if leading && running.is_none() {
            match start_scheduler(&handles, &runner).await {
                Ok(scheduler) => {
                    tracing::info!("leader: scheduler started");
                    *leader.slot() = Some(scheduler);
                }
                Err(error) => {
                    tracing::error!(%error, "leader: cannot start the scheduler, retrying in 1s");
                    retry = true;
                }
            }
        } else if !leading && running.is_some() {
            let scheduler = leader.slot().take();
            if let Some(scheduler) = scheduler {
                let report = scheduler.shutdown(SCHEDULER_STOP).await;
                tracing::info!(?report, "leadership lost: scheduler stopped");
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            changed = watch.changed() => if changed.is_err() { break },
            applied = feed.recv() => match applied {
                Some(applied) => follow(&handles, &leader, applied).await,
                None => break,
            },
            () = tokio::time::sleep(RETRY_START), if retry => {}
        }
    }
    let scheduler = leader.slot().take();
    if let Some(scheduler) = scheduler {
        let report = scheduler.shutdown(SCHEDULER_STOP).await;
        tracing::info!(?report, "scheduler stopped");
    }
}

/// Hands one apply's changes to the scheduler, if one runs, then marks them followed.
async fn follow(handles: &Handles, leader: &Leader, applied: Applied) {
    if applied.changes.contains(&Change::Restored) {
        // The whole state changed: the simplest correct answer is a fresh load, which the
        // task's next turn starts if this server still leads. A restore is rare (a follower
        // installing a snapshot; a leader never does).
        let scheduler = leader.slot().take();
        if let Some(scheduler) = scheduler {
            tracing::warn!("state restored from a snapshot; reloading the scheduler");
            scheduler.shutdown(SCHEDULER_STOP).await;
        }
    } else if let Some(scheduler) = leader.scheduler() {
        for change in applied.changes {
            if let Err(error) = hand_over(handles, &scheduler, change).await {
                // The scheduler is stopping (leadership lost); the next one reloads.
                tracing::debug!(%error, "applied change not handed to the scheduler");
            }
        }
    }
    leader.followed.send_replace(applied.index);
}

async fn hand_over(
    handles: &Handles,
    scheduler: &Scheduler,
    change: Change,
) -> Result<(), dkron_scheduler::Error> {
    match change {
        Change::Job(name) => match handles.store.job(&name) {
            Ok(Some(job)) => match scheduler.upsert(job).await {
                Err(dkron_scheduler::Error::InvalidJob { name, source }) => {
                    tracing::warn!(job = %name, error = %source, "job not scheduled: invalid schedule");
                    Ok(())
                }
                other => other,
            },
            Ok(None) => scheduler.remove(&name).await.map(drop),
            Err(error) => {
                tracing::error!(%error, job = %name, "cannot read a changed job");
                Ok(())
            }
        },
        Change::RunRequested(name) => match scheduler.run_now(&name).await {
            Ok(_group) => Ok(()),
            Err(error @ dkron_scheduler::Error::ShutDown) => Err(error),
            Err(error) => {
                tracing::warn!(%error, job = %name, "requested run not launched");
                Ok(())
            }
        },
        Change::ExecutionDone(finished) => {
            let progress = GroupProgress {
                status: finished.group_status,
                attempt: finished.execution.attempt,
                attempt_complete: finished.attempt_complete,
                failed_nodes: finished.failed_nodes,
            };
            scheduler.report(finished.execution, progress).await
        }
        _ => Ok(()),
    }
}

async fn start_scheduler(
    handles: &Arc<Handles>,
    runner: &Arc<Runner>,
) -> Result<Scheduler, crate::Error> {
    // Invariant: the barrier makes the local store hold every committed write before the
    // scheduler loads jobs and launch records from it.
    handles.raft.linearizable_barrier().await?;
    close_interrupted(handles, runner, Scope::Cluster).await;
    let ports = Arc::new(RaftPorts::new(Arc::clone(handles)));
    let scheduler = Scheduler::builder()
        .job_source(ports.clone())
        .launch_log(ports)
        .dispatch(Arc::new(HandOff::new(handles.name(), Arc::clone(runner))))
        .start()
        .await?;
    Ok(scheduler)
}

/// Whose interrupted executions [`close_interrupted`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// This node's (at start: whatever the store shows running here was cut off by a crash).
    Own,
    /// This node's, and those of nodes that left the cluster or do not answer (on gaining
    /// leadership).
    Cluster,
}

/// How long a server may take to answer "who are you" before its executions count as lost.
const PROBE: Duration = Duration::from_secs(1);

/// Records as failed the executions the store shows running that run nowhere: their node
/// crashed or left, so they would read as running forever. Their reports drive retries.
///
/// Another server's executions are closed only when it is no longer a member or does not
/// answer a probe of its RPC port (a crashed leader, say); a server that answers closes its
/// own when it restarts.
pub(crate) async fn close_interrupted(handles: &Handles, runner: &Runner, scope: Scope) {
    let running = match handles.store.running_executions() {
        Ok(running) => running,
        Err(error) => {
            tracing::warn!(%error, "cannot list running executions");
            return;
        }
    };
    let live = runner.running_ids();
    let members = handles.raft.membership();
    // Whether each other node seen running something is gone: asked once per node.
    let mut gone = BTreeMap::new();
    for mut execution in running {
        let id = execution.id();
        let node = execution.node_name.clone();
        let reason = if node == handles.name() {
            if live.contains(&id) {
                continue;
            }
            "interrupted, the node stopped before this execution finished".to_owned()
        } else {
            if scope == Scope::Own {
                continue;
            }
            if !gone.contains_key(&node) {
                let reachable = match members.iter().find(|peer| peer.node.name == node) {
                    Some(peer) => handles
                        .peers
                        .peer_info(&peer.node.rpc_addr, PROBE)
                        .await
                        .is_ok(),
                    None => false,
                };
                gone.insert(node.clone(), !reachable);
            }
            if gone.get(&node) != Some(&true) {
                continue;
            }
            format!("node {node} lost before this execution finished")
        };
        execution.finished_at = Some(Timestamp::now().max(execution.started_at));
        execution.success = false;
        if !execution.output.is_empty() && !execution.output.ends_with('\n') {
            execution.output.push('\n');
        }
        execution.output.push_str("dkron-rs: ");
        execution.output.push_str(&reason);
        match handles.write(Command::ExecutionDone(execution)).await {
            Ok(written) => match written.response {
                Response::Refused(refusal) => {
                    tracing::warn!(%refusal, %id, "cannot close an interrupted execution")
                }
                _ => tracing::warn!(%id, %reason, "execution recorded as failed"),
            },
            Err(error) => tracing::warn!(%error, %id, "cannot close an interrupted execution"),
        }
    }
}
