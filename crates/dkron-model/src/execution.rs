//! [`Execution`], [`LaunchRecord`], and the status of an execution group.

use std::{collections::BTreeMap, fmt, str::FromStr};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::{Error, JobStatus};

#[cfg(test)]
mod tests;

/// One run of a job on one node: one attempt of one fire.
///
/// Plain data. `finished_at == None` means it is still running.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Execution {
    /// The job this is a run of.
    pub job_name: String,
    /// When the executing node began it (set by that node).
    pub started_at: Timestamp,
    /// When it ended; `None` while running.
    pub finished_at: Option<Timestamp>,
    /// The executor reported success (shell: exit code 0).
    pub success: bool,
    /// Combined output (the tail, at most the job's output limit), possibly rewritten by a
    /// processor. Executors convert non-UTF-8 bytes lossily.
    pub output: String,
    /// Output was cut to the limit.
    pub output_truncated: bool,
    /// The node that ran it.
    pub node_name: String,
    /// Trigger id shared by all targets and all attempts of one fire: the leader's clock in
    /// Unix nanoseconds when it launched the fire (as dkron).
    pub group: i64,
    /// 1 for the first try, incremented on each retry.
    pub attempt: u32,
    /// dkron-rs: the process exit code, when the executor has one.
    pub exit_code: Option<i32>,
    /// dkron-rs: the fire time this run belongs to (`None` for manual runs).
    pub scheduled_at: Option<Timestamp>,
    /// dkron-rs: what started it.
    pub trigger: Trigger,
}

impl Execution {
    /// dkron's execution id: `<started_at as Unix nanoseconds>-<node_name>`, e.g.
    /// `1650914821024805435-node1`. Also the storage key suffix.
    pub fn id(&self) -> String {
        Execution::id_for(self.started_at, &self.node_name)
    }

    /// The id an execution started at `started_at` on `node_name` has.
    pub fn id_for(started_at: Timestamp, node_name: &str) -> String {
        format!("{}-{}", started_at.as_nanosecond(), node_name)
    }

    /// Keeps only the last `limit` bytes of `output` (cut forward to a character boundary) and
    /// sets `output_truncated` if anything was dropped. dkron keeps the tail: the end of a log
    /// says why a job failed.
    pub fn truncate_output(&mut self, limit: u64) {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if self.output.len() <= limit {
            return;
        }
        let mut cut = self.output.len() - limit;
        while !self.output.is_char_boundary(cut) {
            cut += 1;
        }
        self.output.drain(..cut);
        self.output_truncated = true;
    }

    /// Whether it has not finished yet.
    pub fn is_running(&self) -> bool {
        self.finished_at.is_none()
    }
}

/// Splits an execution id into its start time (Unix nanoseconds) and node name, or `None` if it
/// is not of the form `<integer>-<node>` with a non-empty node.
pub fn parse_execution_id(id: &str) -> Option<(i128, &str)> {
    // A negative start time ("-5-node") has its sign before the first digit, so split after it.
    let sign = usize::from(id.starts_with('-'));
    let dash = sign + id[sign..].find('-')?;
    let nanos: i128 = id[..dash].parse().ok()?;
    let node = &id[dash + 1..];
    (!node.is_empty()).then_some((nanos, node))
}

/// What started an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Trigger {
    /// The leader's timer.
    #[default]
    Scheduled,
    /// A user (API `POST /v1/jobs/<name>`), or the misfire policy catching up.
    Manual,
    /// The parent job's group succeeded.
    Dependent,
    /// A failed attempt is tried again on the same node.
    Retry,
    /// dkron-rs: a backfill call runs a past (or future) scheduled instant of the job.
    Backfill,
}

impl Trigger {
    /// `scheduled`, `manual`, `dependent`, `retry` or `backfill`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Dependent => "dependent",
            Trigger::Retry => "retry",
            Trigger::Backfill => "backfill",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = Error;

    fn from_str(s: &str) -> Result<Trigger, Error> {
        match s {
            "scheduled" => Ok(Trigger::Scheduled),
            "manual" => Ok(Trigger::Manual),
            "dependent" => Ok(Trigger::Dependent),
            "retry" => Ok(Trigger::Retry),
            "backfill" => Ok(Trigger::Backfill),
            _ => Err(Error::UnknownValue {
                kind: "trigger",
                value: s.to_owned(),
            }),
        }
    }
}

/// What the leader commits through Raft before dispatching a fire to its targets.
///
/// Invariant (enforced by the scheduler, stated here because every user relies on it): a fire is
/// dispatched only after its launch record is committed, and a fire with a committed record is
/// never launched again, so a leader change cannot run a fire twice.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LaunchRecord {
    /// The job fired.
    pub job_name: String,
    /// The fire time (for manual runs: when the run was requested).
    pub scheduled_at: Timestamp,
    /// The group id every execution of this fire carries.
    pub group: i64,
    /// The attempt dispatched (1 for a fire, more for a retry).
    pub attempt: u32,
    /// Names of the selected target nodes.
    pub targets: Vec<String>,
    /// What caused the fire.
    pub trigger: Trigger,
}

/// Status of one execution group (pass the executions of one group).
///
/// Only the last attempt of each node counts (highest `attempt`, then latest `started_at`). This
/// fixes a dkron quirk where a failure followed by a successful retry left the group
/// `partially_failed`, so dependents never fired. As in dkron, a running execution counts as not
/// successful: a multi-node group reads `partially_failed` until its last node finishes.
///
/// All counted executions successful → `Success`; none → `Failed`; mixed → `PartiallyFailed`;
/// no executions → `Untriggered`.
pub fn group_status(executions: &[Execution]) -> JobStatus {
    let mut last_per_node: BTreeMap<&str, &Execution> = BTreeMap::new();
    for execution in executions {
        last_per_node
            .entry(execution.node_name.as_str())
            .and_modify(|kept| {
                if (execution.attempt, execution.started_at) > (kept.attempt, kept.started_at) {
                    *kept = execution;
                }
            })
            .or_insert(execution);
    }
    let succeeded = last_per_node
        .values()
        .filter(|e| e.success && !e.is_running())
        .count();
    match (succeeded, last_per_node.len()) {
        (_, 0) => JobStatus::Untriggered,
        (0, _) => JobStatus::Failed,
        (ok, all) if ok == all => JobStatus::Success,
        _ => JobStatus::PartiallyFailed,
    }
}
