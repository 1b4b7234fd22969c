//! The leader's reconciler: closes the executions recorded running on a node that does not
//! hold them and can no longer receive them.
//!
//! The leader records a run's start before it hands the run over ([`super::HandOff`]). If the
//! hand-over never completes (the leader crashed or lost leadership in between, or the target
//! restarted and forgot what it was given, or its report was given up), the history would show
//! the execution running forever, and a `forbid` job would never fire again. A node answers
//! `/node/held` with the executions it accepted and has not reported yet; a run is accepted
//! only before its `start_by`, which is its recorded start plus [`HAND_OVER`]. So an execution
//! recorded running on a node that answers, older than that bound (plus [`CLOCK_SLACK`]), not
//! being handed over by this server, and not held there, can never run: it is closed as failed,
//! with `finished_at` equal to its start (it never ran), so a real report that may still come
//! (an agent's outbox) replaces the record.
//!
//! A node that does not answer is left alone: the failure detector (`fail_member`) or the
//! node's own restart (`close_interrupted`) settles it.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use dkron_model::Execution;
use dkron_raft::{Command, Response};
use jiff::{SignedDuration, Timestamp};

use super::HandOvers;
use crate::{
    handles::Handles,
    rpc::client::{HAND_OVER, NodeClient},
    runner::Runner,
};

/// How often the leader reconciles.
pub(super) const EVERY: Duration = Duration::from_secs(5);
/// How far the nodes' clocks may disagree: the target compares `start_by` to its own clock.
const CLOCK_SLACK: Duration = Duration::from_secs(1);
/// How long after its recorded start no node can accept an execution any more.
pub(super) const BOUND: Duration = HAND_OVER.saturating_add(CLOCK_SLACK);

/// The rule: of the executions recorded `running` on one node, those that node cannot run any
/// more: not `held` there (asked at `asked_at`), not being handed over (`handing`, read before
/// asking), and recorded as started before `asked_at` minus the hand-over bound.
pub(super) fn never_reached<'a>(
    running: &'a [Execution],
    held: &BTreeSet<String>,
    handing: &BTreeSet<String>,
    asked_at: Timestamp,
) -> Vec<&'a Execution> {
    running
        .iter()
        .filter(|execution| {
            let id = execution.id();
            past_bound(execution, asked_at) && !held.contains(&id) && !handing.contains(&id)
        })
        .collect()
}

/// Whether no node can accept `execution` any more at `now` (its `start_by` has passed, with
/// slack for the clocks).
fn past_bound(execution: &Execution, now: Timestamp) -> bool {
    let bound = SignedDuration::try_from(BOUND).unwrap_or(SignedDuration::MAX);
    execution
        .started_at
        .checked_add(bound)
        .is_ok_and(|by| by < now)
}

/// One pass: asks every node that has executions recorded running past the bound what it
/// holds, and closes the rest in one Raft write.
pub(super) async fn reconcile(
    handles: &Handles,
    runner: &Runner,
    client: &NodeClient,
    hand_overs: &HandOvers,
) {
    let running = match handles.store.running_executions() {
        Ok(running) => running,
        Err(error) => {
            tracing::warn!(%error, "reconciler: cannot list running executions");
            return;
        }
    };
    let now = Timestamp::now();
    let mut by_node: BTreeMap<String, Vec<Execution>> = BTreeMap::new();
    for execution in running.into_iter().filter(|e| past_bound(e, now)) {
        by_node
            .entry(execution.node_name.clone())
            .or_default()
            .push(execution);
    }
    if by_node.is_empty() {
        return;
    }
    let asks = by_node.into_iter().map(|(node, running)| async move {
        // Invariant: read before asking, so a hand-over that ends after this read ended
        // before the node answered (and the node holds what it accepted).
        let handing = hand_overs.ids();
        let asked_at = Timestamp::now();
        let held = if node == handles.name() {
            runner.held_ids()
        } else {
            let member = handles.store.member(&node).ok().flatten();
            let Some(member) = member.filter(|m| m.is_alive()) else {
                return Vec::new();
            };
            match client.held(&member.rpc_addr).await {
                Ok(held) => held,
                Err(error) => {
                    tracing::debug!(%error, %node, "reconciler: node did not say what it holds");
                    return Vec::new();
                }
            }
        };
        never_reached(&running, &held, &handing, asked_at)
            .into_iter()
            .cloned()
            .collect()
    });
    let lost: Vec<Execution> = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect();
    close(handles, lost).await;
}

/// Records `lost` as failed, never run, in one Raft write, committed only while this server
/// leads (a deposed leader's verdict must not reach the new leader's history).
async fn close(handles: &Handles, lost: Vec<Execution>) {
    if lost.is_empty() {
        return;
    }
    let count = lost.len();
    let commands = lost
        .into_iter()
        .map(|mut execution| {
            tracing::warn!(id = %execution.id(), job = %execution.job_name, node = %execution.node_name, "execution never reached its node; recording it as failed");
            execution.finished_at = Some(execution.started_at);
            execution.success = false;
            execution.output = format!(
                "dkron-rs: node {} never ran this execution (the hand-over did not reach it)",
                execution.node_name
            );
            Command::ExecutionDone(execution)
        })
        .collect();
    match handles.write_as_leader(Command::Batch(commands)).await {
        Ok(written) => {
            if let Response::Batch(responses) = &written.response {
                let refused = responses
                    .iter()
                    .filter(|r| matches!(r, Response::Refused(_)))
                    .count();
                tracing::info!(
                    count,
                    refused,
                    "reconciler closed executions that never ran"
                );
            }
        }
        Err(error) => tracing::warn!(%error, count, "reconciler: cannot close executions"),
    }
}

#[cfg(test)]
mod tests;
