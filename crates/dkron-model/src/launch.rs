//! The rules every launch log applies, whoever holds it (the Raft state machine, the embeddable
//! scheduler's `MemoryStore`): which launch is new, and where a group stands after a report.
//!
//! Keeping them here, pure, means the replicated store and the in-memory one can never disagree
//! about what "launched already" or "this attempt is complete" means.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::{Execution, JobStatus, LaunchRecord, Trigger, group_status};

#[cfg(test)]
mod tests;

impl LaunchRecord {
    /// Whether this launch is new, given the job's last scheduled fire and whether a record of
    /// the same `(group, attempt)` is already held.
    ///
    /// A scheduled fire is new only if it is later than every scheduled fire before it (a job's
    /// fire times only move forward, so a new leader can never fire an instant again). Any
    /// launch whose `(group, attempt)` is recorded already is a repeat: a retry decided twice
    /// (by two leaders), or a record delivered twice.
    pub fn is_new(&self, last_scheduled: Option<Timestamp>, attempt_recorded: bool) -> bool {
        if attempt_recorded {
            return false;
        }
        match self.trigger {
            Trigger::Scheduled => last_scheduled.is_none_or(|last| self.scheduled_at > last),
            // A backfill runs instants on purpose, whatever the schedule launched: only its
            // own `(group, attempt)` must be new.
            Trigger::Retry | Trigger::Manual | Trigger::Dependent | Trigger::Backfill => true,
        }
    }

    /// An execution of this launch on `node_name`, started at `started_at`, not finished yet:
    /// the job name, group, attempt, trigger and scheduled time (none for a manual run) come
    /// from the launch.
    pub fn execution(&self, node_name: &str, started_at: Timestamp) -> Execution {
        Execution {
            job_name: self.job_name.clone(),
            started_at,
            node_name: node_name.to_owned(),
            group: self.group,
            attempt: self.attempt,
            scheduled_at: match self.trigger {
                Trigger::Manual => None,
                _ => Some(self.scheduled_at),
            },
            trigger: self.trigger,
            ..Execution::default()
        }
    }

    /// The job's last scheduled fire once this launch is recorded.
    pub fn last_scheduled_after(&self, last_scheduled: Option<Timestamp>) -> Option<Timestamp> {
        match self.trigger {
            Trigger::Scheduled => {
                Some(last_scheduled.map_or(self.scheduled_at, |last| last.max(self.scheduled_at)))
            }
            _ => last_scheduled,
        }
    }
}

/// Where an execution group stands after one of its executions was reported done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProgress {
    /// The group's status ([`group_status`] over all of its attempts).
    pub status: JobStatus,
    /// The attempt the report belongs to.
    pub attempt: u32,
    /// Whether every target of that attempt has finished it: only then may a retry, the
    /// dependents or an ephemeral delete follow.
    pub attempt_complete: bool,
    /// Nodes whose run of that attempt failed (a retry goes to them), sorted.
    pub failed_nodes: Vec<String>,
    /// Children of several parents (`parent_jobs`) that the end of this group made ready to
    /// run ([`crate::Job::record_parent_end`], applied by the store that computed this
    /// progress). Empty from [`group_progress`]: the in-process path decides them itself.
    pub ready_children: Vec<String>,
}

/// The progress of a group after a report of `attempt`: `executions` are the group's (any
/// attempt, running or finished), `targets` the nodes the attempt was launched on (empty: "run
/// it here", one execution expected).
///
/// An attempt is complete when each target has a finished execution of it; with no targets,
/// when at least one execution of it finished and none of it still runs.
pub fn group_progress(executions: &[Execution], attempt: u32, targets: &[String]) -> GroupProgress {
    // The latest execution of this attempt per node.
    let mut per_node: BTreeMap<&str, &Execution> = BTreeMap::new();
    for execution in executions.iter().filter(|e| e.attempt == attempt) {
        per_node
            .entry(execution.node_name.as_str())
            .and_modify(|kept| {
                if execution.started_at > kept.started_at {
                    *kept = execution;
                }
            })
            .or_insert(execution);
    }
    let attempt_complete = if targets.is_empty() {
        !per_node.is_empty() && per_node.values().all(|e| !e.is_running())
    } else {
        targets.iter().all(|target| {
            per_node
                .get(target.as_str())
                .is_some_and(|e| !e.is_running())
        })
    };
    let failed_nodes = per_node
        .values()
        .filter(|e| !e.is_running() && !e.success)
        .map(|e| e.node_name.clone())
        .collect();
    GroupProgress {
        status: group_status(executions),
        attempt,
        attempt_complete,
        failed_nodes,
        ready_children: Vec::new(),
    }
}
