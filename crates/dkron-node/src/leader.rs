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

mod couriers;
mod hand_overs;
mod liveness;
mod ports;
mod reconcile;
mod skipped;
mod starts;

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use dkron_model::{Execution, GroupProgress, LaunchRecord, Member, MemberStatus};
use dkron_notify::Notifier;
use dkron_raft::{Applied, Change, Command, Response};
use dkron_scheduler::Scheduler;
use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{handles::Handles, rpc::client::NodeClient, runner::Runner};

pub(crate) use hand_overs::HandOvers;
pub(crate) use liveness::Liveness;
pub(crate) use ports::{HandOff, RaftPorts};

/// Pause before trying again to start the scheduler after a failure.
const RETRY_START: Duration = Duration::from_secs(1);
/// How long stopping a scheduler may take: dispatch is a hand-off, so it only drains launch
/// batches in flight.
const SCHEDULER_STOP: Duration = Duration::from_secs(5);
/// How often the leader looks for missed heartbeat deadlines.
const LIVENESS_CHECK: Duration = Duration::from_millis(250);

/// What the API sees of the leadership task.
#[derive(Debug)]
pub(crate) struct Leader {
    scheduler: Mutex<Option<Scheduler>>,
    /// Runs being handed to other nodes, across schedulers.
    pub(crate) hand_overs: Arc<HandOvers>,
    /// The index of the last applied entry whose changes this task has handled.
    followed: watch::Sender<u64>,
}

impl Leader {
    pub(crate) fn new() -> Arc<Leader> {
        Arc::new(Leader {
            scheduler: Mutex::new(None),
            hand_overs: Arc::default(),
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
    services: Services,
    leader: Arc<Leader>,
    mut feed: mpsc::UnboundedReceiver<Applied>,
    stop: CancellationToken,
) {
    let Services {
        handles,
        runner,
        liveness,
        client,
        notifier,
    } = services;
    let reconciler = tokio::spawn(reconcile_while_leading(
        Arc::clone(&handles),
        Arc::clone(&runner),
        client.clone(),
        Arc::clone(&leader),
    ));
    let mut watch = handles.raft.watch_leadership();
    let mut check = tokio::time::interval(LIVENESS_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut skips = tokio::time::interval(skipped::RECORD_EVERY);
    skips.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut skipped = skipped::Recorder::default();
    loop {
        let leading = watch.borrow_and_update().is_self;
        // Set when starting failed while leading: try again soon, since a single server may
        // never see another leadership change.
        let mut retry = false;
        let running = leader.scheduler();
        if leading && running.is_none() {
            match start_scheduler(&handles, &runner, &client, &notifier, &leader.hand_overs).await {
                Ok(scheduler) => {
                    tracing::info!("leader: scheduler started");
                    *leader.slot() = Some(scheduler);
                    // Heartbeats went to the old leader until now: everyone gets a deadline.
                    if let Ok(members) = handles.store.members() {
                        liveness.reset(&members);
                    }
                }
                // Leadership read from a vote restored at start, lost at once: normal, quiet.
                Err(crate::Error::Raft(error))
                    if matches!(*error, dkron_raft::Error::NotLeader { .. }) =>
                {
                    tracing::debug!(%error, "leadership lost while starting the scheduler");
                    retry = true;
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
                Some(applied) => follow(&handles, &leader, &notifier, applied).await,
                None => break,
            },
            () = tokio::time::sleep(RETRY_START), if retry => {}
            _ = check.tick(), if leading => {
                for node in liveness.expired(tokio::time::Instant::now()) {
                    // A task: asking the node may take a call's bound.
                    tokio::spawn(expire(
                        Arc::clone(&handles),
                        Arc::clone(&liveness),
                        client.clone(),
                        Arc::clone(&leader),
                        node,
                    ));
                }
            }
            _ = skips.tick(), if running.is_some() => {
                if let Some(scheduler) = &running {
                    skipped.tick(&handles, scheduler);
                }
            }
        }
    }
    reconciler.abort();
    let scheduler = leader.slot().take();
    if let Some(scheduler) = scheduler {
        let report = scheduler.shutdown(SCHEDULER_STOP).await;
        tracing::info!(?report, "scheduler stopped");
    }
    skipped.finish(SCHEDULER_STOP).await;
}

/// Runs the reconciler (see `reconcile`) every [`reconcile::EVERY`] while this server leads
/// with a scheduler; aborted when the leadership task ends. A task of its own: asking the
/// nodes may take a call's bound, which must not hold up following the log.
async fn reconcile_while_leading(
    handles: Arc<Handles>,
    runner: Arc<Runner>,
    client: NodeClient,
    leader: Arc<Leader>,
) {
    let mut tick = tokio::time::interval(reconcile::EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if handles.raft.is_leader() && leader.scheduler().is_some() {
            reconcile::reconcile(&handles, &runner, &client, &leader.hand_overs).await;
        }
    }
}

/// Hands one apply's changes to the scheduler, if one runs, then marks them followed.
async fn follow(handles: &Handles, leader: &Leader, notifier: &Notifier, applied: Applied) {
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
            if let Change::ExecutionDone(finished) = &change {
                crate::notify::finished(handles, notifier, &finished.execution);
            }
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
        Change::BackfillRequested {
            name,
            fires,
            overlap,
        } => match scheduler.backfill(&name, fires, overlap).await {
            Ok(_launched) => Ok(()),
            Err(error @ dkron_scheduler::Error::ShutDown) => Err(error),
            Err(error) => {
                tracing::warn!(%error, job = %name, "requested backfill not launched");
                Ok(())
            }
        },
        Change::ExecutionDone(finished) => {
            let progress = GroupProgress {
                status: finished.group_status,
                attempt: finished.execution.attempt,
                attempt_complete: finished.attempt_complete,
                failed_nodes: finished.failed_nodes,
                ready_children: finished.ready_children,
            };
            scheduler.report(finished.execution, progress).await
        }
        _ => Ok(()),
    }
}

/// What the leadership task works with.
#[derive(Debug)]
pub(crate) struct Services {
    pub(crate) handles: Arc<Handles>,
    pub(crate) runner: Arc<Runner>,
    pub(crate) liveness: Arc<Liveness>,
    pub(crate) client: NodeClient,
    /// Sends notifications of finished executions and starts (only while leading).
    pub(crate) notifier: Notifier,
}

/// A node missed its heartbeat deadline: it is failed unless it still answers the node RPC.
///
/// Why ask: under overload heartbeats come late, and a node declared lost has its running
/// executions closed, so their jobs fire again elsewhere while the node, alive and slow, still
/// runs them (the soak saw `forbid` overlap so). A node that answers what it holds is not lost:
/// it gets a new deadline, and the reconciler closes what it does not hold. One that does not
/// answer within the call's bound (crashed, paused, cut off) is failed.
async fn expire(
    handles: Arc<Handles>,
    liveness: Arc<Liveness>,
    client: NodeClient,
    leader: Arc<Leader>,
    node: String,
) {
    let member = handles.store.member(&node).ok().flatten();
    if let Some(member) = member.filter(|m| !m.rpc_addr.is_empty())
        && node != handles.name()
    {
        match client.held(&member.rpc_addr).await {
            Ok(_) => {
                tracing::info!(%node, "heartbeats late but the node answers: not failed");
                liveness.extend(&node);
                return;
            }
            Err(error) => {
                tracing::debug!(%error, %node, "a node past its deadline does not answer")
            }
        }
    }
    // A heartbeat that came meanwhile renewed the node's lease: it runs what it holds.
    if handles.raft.is_leader() && !liveness.watched(&node) {
        fail_member(&handles, &leader.hand_overs, &node).await;
    }
}

/// A node missed its heartbeat deadline and does not answer (or does not answer a new leader): it is failed, and
/// what it was running is closed as failed (the reports drive retries, on other nodes).
async fn fail_member(handles: &Handles, hand_overs: &HandOvers, node: &str) {
    if node == handles.name() {
        return;
    }
    if let Ok(Some(member)) = handles.store.member(node)
        && member.is_alive()
    {
        tracing::warn!(%node, "member failed: no heartbeat within the failure timeout");
        let failed = Member {
            status: MemberStatus::Failed,
            ..member
        };
        // Invariant: failed before its executions are closed, so their retries pick others.
        // As leader only: a deposed leader's failure detector (cut off, so every node looked
        // silent) had its verdict forwarded to the new leader, which then fired `forbid` jobs
        // again beside their live runs (soak finding 10).
        if let Err(error) = handles.write_as_leader(Command::SetMember(failed)).await {
            tracing::warn!(%error, %node, "cannot record a failed member");
            return;
        }
    }
    let reason = format!("node {node} lost before this execution finished");
    match handles.store.running_executions() {
        Ok(running) => {
            // A run still being handed over is settled by the hand-over: the node may accept
            // it yet (it was only paused) and then run it.
            let lost = running
                .into_iter()
                .filter(|e| e.node_name == node && !hand_overs.contains(&e.id()))
                .collect();
            record_failed(handles, lost, &reason, Scope::Cluster).await;
        }
        Err(error) => tracing::warn!(%error, "cannot list running executions"),
    }
}

async fn start_scheduler(
    handles: &Arc<Handles>,
    runner: &Arc<Runner>,
    client: &NodeClient,
    notifier: &Notifier,
    hand_overs: &Arc<HandOvers>,
) -> Result<Scheduler, crate::Error> {
    // Invariant: the barrier makes the local store hold every committed write before the
    // scheduler loads jobs and launch records from it.
    handles.raft.linearizable_barrier().await?;
    close_interrupted(handles, runner, hand_overs, Scope::Cluster).await;
    let starts = Arc::new(starts::Starts::new(Arc::clone(hand_overs)));
    let ports = Arc::new(RaftPorts::new(Arc::clone(handles), Arc::clone(&starts)));
    let scheduler = Scheduler::builder()
        .in_flight(in_flight(handles, hand_overs))
        .misfire_threshold(handles.config.misfire_threshold)
        .lead(handles.config.dispatch_lead)
        .job_source(ports.clone())
        .launch_log(ports)
        .dispatch(Arc::new(
            HandOff::new(
                Arc::clone(handles),
                Arc::clone(runner),
                client.clone(),
                Arc::clone(hand_overs),
                starts,
            )
            .with_notifier(notifier.clone()),
        ))
        .start()
        .await?;
    Ok(scheduler)
}

/// The launches whose executions the store shows running (after the interrupted ones were
/// closed) or that are still being handed over (their start may not be applied yet): the new
/// scheduler counts them for `concurrency`, so `forbid` holds across a leader change.
fn in_flight(handles: &Handles, hand_overs: &HandOvers) -> Vec<LaunchRecord> {
    let running = match handles.store.running_executions() {
        Ok(running) => running,
        Err(error) => {
            tracing::warn!(%error, "cannot list running executions");
            return Vec::new();
        }
    };
    let mut records: Vec<LaunchRecord> = Vec::new();
    let mut add = |record: LaunchRecord| {
        let known = records.iter().any(|r| {
            r.job_name == record.job_name && r.group == record.group && r.attempt == record.attempt
        });
        if !known {
            records.push(record);
        }
    };
    for record in hand_overs.launches() {
        add(record);
    }
    for execution in running {
        let kept = handles
            .store
            .launch(&execution.job_name, execution.group, execution.attempt)
            .ok()
            .flatten();
        let record = kept.unwrap_or_else(|| LaunchRecord {
            job_name: execution.job_name.clone(),
            scheduled_at: execution.scheduled_at.unwrap_or(execution.started_at),
            group: execution.group,
            attempt: execution.attempt,
            targets: vec![execution.node_name.clone()],
            trigger: execution.trigger,
        });
        add(record);
    }
    records
}

/// Whose interrupted executions [`close_interrupted`] closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// This node's (at start: whatever the store shows running here was cut off by a crash).
    /// `booted_at`: when this process had killed what its crashed predecessor left running, so
    /// a run that started before it ended by then.
    Own {
        /// When the start killed the crash's leftover process groups.
        booted_at: Timestamp,
    },
    /// This node's, and those of nodes that left the cluster or do not answer (on gaining
    /// leadership, and by the failure detector): a leader's decision, committed only while
    /// this server leads.
    Cluster,
}

/// Records as failed the executions the store shows running that run nowhere: their node
/// crashed or left, so they would read as running forever. Their reports drive retries.
///
/// Another node's executions are closed here only when it is not recorded alive; a crashed
/// node recorded alive (the old leader, say) is failed by the failure detector within the
/// failure timeout, and the reconciler closes what a node that answers does not hold.
pub(crate) async fn close_interrupted(
    handles: &Handles,
    runner: &Runner,
    hand_overs: &HandOvers,
    scope: Scope,
) {
    let running = match handles.store.running_executions() {
        Ok(running) => running,
        Err(error) => {
            tracing::warn!(%error, "cannot list running executions");
            return;
        }
    };
    let (own, others): (Vec<Execution>, Vec<Execution>) = running
        .into_iter()
        .partition(|e| e.node_name == handles.name());
    // This node's: the reconciler's rule, since a hand-over to this node may be under way
    // (recorded, not yet accepted) while it starts.
    let reason = "interrupted, the node stopped before this execution finished";
    let mut own = own;
    loop {
        let handing = hand_overs.ids();
        let asked_at = Timestamp::now();
        let held = runner.held_ids();
        let lost: Vec<Execution> = reconcile::never_reached(&own, &held, &handing, asked_at)
            .into_iter()
            .cloned()
            .collect();
        own.retain(|e| !lost.iter().any(|l| l.id() == e.id()) && !held.contains(&e.id()));
        record_failed(handles, lost, reason, scope).await;
        // At start (a task of its own), the younger ones are closed once past the bound too, as
        // interrupted; a new leader must not wait, and leaves them to the reconciler.
        if scope == Scope::Cluster || own.is_empty() {
            break;
        }
        tokio::time::sleep(reconcile::BOUND).await;
    }
    let others: BTreeSet<String> = others.into_iter().map(|e| e.node_name).collect();
    if matches!(scope, Scope::Own { .. }) {
        return;
    }
    // Another node's: closed now only when it is not recorded alive. One recorded alive got a
    // full heartbeat deadline from this new leader, and the failure detector settles it
    // (`expire`): a quick probe here failed a deposed leader that was slow, not dead, and
    // closed the runs it was still running (the soak saw `forbid` overlap so).
    for node in others {
        let stored = handles.store.member(&node).ok().flatten();
        if !stored.is_some_and(|member| member.is_alive()) {
            fail_member(handles, hand_overs, &node).await;
        }
    }
}

/// When a closed run ended: by `ended_by` if it started before that (cut off by a crash),
/// else now; never before its start.
fn ended_at(started_at: Timestamp, ended_by: Option<Timestamp>) -> Timestamp {
    ended_by
        .filter(|bound| started_at < *bound)
        .unwrap_or_else(Timestamp::now)
        .max(started_at)
}

/// Records the executions `lost` (recorded as running) as failed for `reason`, in one Raft
/// write. Each ends now, or, for a node closing its own, by its boot if it started before.
/// The leader's closes (`Scope::Cluster`) commit only while this server leads; a node's own
/// may be forwarded.
async fn record_failed(handles: &Handles, lost: Vec<Execution>, reason: &str, scope: Scope) {
    if lost.is_empty() {
        return;
    }
    // A run started before this process was cut off by the crash and ended by the boot: so
    // the record says, not "now", which a late close (the store behind the log) would put
    // after the job's next fire.
    let ended_by = match scope {
        Scope::Own { booted_at } => Some(booted_at),
        Scope::Cluster => None,
    };
    let count = lost.len();
    let commands = lost
        .into_iter()
        .map(|mut execution| {
            tracing::warn!(id = %execution.id(), job = %execution.job_name, %reason, "execution recorded as failed");
            execution.finished_at = Some(ended_at(execution.started_at, ended_by));
            execution.success = false;
            if !execution.output.is_empty() && !execution.output.ends_with('\n') {
                execution.output.push('\n');
            }
            execution.output.push_str("dkron-rs: ");
            execution.output.push_str(reason);
            Command::ExecutionDone(execution)
        })
        .collect();
    let batch = Command::Batch(commands);
    let written = match scope {
        Scope::Cluster => handles.write_as_leader(batch).await,
        Scope::Own { .. } => handles.write(batch).await,
    };
    match written {
        Ok(written) => {
            if let Response::Batch(responses) = &written.response {
                for refusal in responses.iter().filter_map(|r| match r {
                    Response::Refused(refusal) => Some(refusal),
                    _ => None,
                }) {
                    tracing::warn!(%refusal, "cannot close an interrupted execution");
                }
            }
        }
        Err(error) => tracing::warn!(%error, count, "cannot close interrupted executions"),
    }
}

#[cfg(test)]
mod tests;
