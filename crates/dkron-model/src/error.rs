//! The crate's one error type.
//!
//! Validation variants render dkron's exact reason text, because `dkron-api` must answer
//! `Job validation failed: <reason>.` byte for byte. Two of dkron's reasons start with a capital
//! letter (`Error parsing job …`); they keep it, as the one exception to the lower-case rule.

use std::time::Duration;

/// Everything this crate can reject.
///
/// Variants carry the offending value in fields so callers can branch and re-render; `Display`
/// is the message dkron would give (or ours, in dkron's style, for dkron-rs additions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job name is empty.
    #[error("name cannot be empty")]
    EmptyName,
    /// The job name holds a character outside `\p{Ll}`, `0-9`, `_`, `-`; `ch` is the first one.
    #[error("name contains illegal character '{ch}'")]
    IllegalNameChar {
        /// The first illegal character.
        ch: char,
    },
    /// `parent_job` names the job itself.
    #[error("the job can not have itself as parent")]
    SelfParent,
    /// The schedule does not parse. The parser's message is part of dkron's text, so it is
    /// rendered here and not exposed again through `source()`.
    #[error("can't parse job schedule: {error}")]
    Schedule {
        /// What the cron parser said.
        error: dkron_cron::Error,
    },
    /// `concurrency` is not one of the known policies.
    #[error(
        "invalid concurrency policy value, use \"allow\", \"forbid\", \"replace\", \"buffer_one\" or \"buffer_all\""
    )]
    InvalidConcurrency {
        /// The rejected text.
        value: String,
    },
    /// `timezone` is not an IANA zone name known to the bundled database.
    #[error("unknown time zone {name}")]
    UnknownTimeZone {
        /// The rejected zone name.
        name: String,
    },
    /// Shell executor: `executor_config.timeout` is not a Go duration.
    #[error("Error parsing job timeout value")]
    InvalidTimeout {
        /// The rejected text.
        value: String,
    },
    /// Shell executor: `executor_config.mem_limit` is not a positive size.
    #[error("Error parsing job memory limit value: {reason}")]
    InvalidMemLimit {
        /// The rejected text.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Following parent links (`parent_job`, `parent_jobs`) leads back to a job on the path.
    #[error("parent chain forms a cycle: {}", chain.join(" -> "))]
    ParentCycle {
        /// The jobs walked, starting with the validated job and ending with the repeated one.
        chain: Vec<String>,
    },
    /// Walking the parent graph visited more than [`crate::MAX_PARENT_CHAIN`] jobs.
    #[error("parent chain of {job} is longer than {max} jobs")]
    ParentChainTooLong {
        /// The job whose chain was walked.
        job: String,
        /// The limit that was hit.
        max: usize,
    },
    /// `misfire_policy` text is not a known policy.
    #[error(
        "invalid misfire policy value, use \"skip\", \"run_once\" or \"catch_up[:<duration>]\""
    )]
    InvalidMisfirePolicy {
        /// The rejected text.
        value: String,
    },
    /// `retry_backoff` starts above its own cap.
    #[error("invalid retry backoff: initial delay {initial:?} exceeds maximum {max:?}")]
    InvalidRetryBackoff {
        /// The first retry's delay.
        initial: Duration,
        /// The cap.
        max: Duration,
    },
    /// The job's executor or processor configuration is refused by that executor or processor
    /// (checked where the executors live, when the job is written).
    #[error("{component}: {reason}")]
    ExecutorConfig {
        /// The executor or processor, e.g. `shell`.
        component: String,
        /// Why, as it says.
        reason: String,
    },
    /// `history_limit` is `Some(0)`: a job must keep at least its latest execution.
    #[error("history limit must be at least 1")]
    InvalidHistoryLimit,
    /// A field is above the server's ceiling for it ([`crate::Ceilings`]).
    #[error("{field} {value} is above this server's limit of {max} (setting {setting})")]
    AboveCeiling {
        /// The job field, in dkron's wire naming (`history_limit`, `displayname`, …).
        field: &'static str,
        /// Its value (a length in characters for `name` and `displayname`).
        value: u64,
        /// The ceiling.
        max: u64,
        /// The dkrond setting that holds the ceiling.
        setting: &'static str,
    },
    /// `jitter` is above [`crate::MAX_JITTER`] (or, on the wire, not a non-negative duration).
    #[error("invalid jitter {value}: use a duration from 0s to 24h")]
    InvalidJitter {
        /// The rejected text.
        value: String,
    },
    /// `run_on` is not one of the known values.
    #[error("invalid run_on value \"{value}\", use \"success\", \"failure\" or \"always\"")]
    InvalidRunOn {
        /// The rejected text.
        value: String,
    },
    /// `run_on` is set on a job without a `parent_job`: only a child runs after a parent.
    #[error("run_on {value} needs a parent_job")]
    RunOnWithoutParent {
        /// The `run_on` value.
        value: String,
    },
    /// `parent_jobs` is malformed: an empty name, a repeated one, too many, or set together with
    /// a different `parent_job`.
    #[error("invalid parent_jobs: {reason}")]
    InvalidParents {
        /// What is wrong.
        reason: String,
    },
    /// A textual enum value (job status, trigger, member status) is not recognised.
    #[error("unknown {kind} value \"{value}\"")]
    UnknownValue {
        /// Which enum was being parsed, e.g. `job status`.
        kind: &'static str,
        /// The rejected text.
        value: String,
    },
}

impl Error {
    /// The job field the error is about, in our model's naming (`name`, `schedule`,
    /// `executor_config.timeout`, …), or `None` for errors not tied to one field.
    pub fn field(&self) -> Option<&'static str> {
        Some(match self {
            Error::EmptyName | Error::IllegalNameChar { .. } => "name",
            Error::SelfParent | Error::ParentCycle { .. } | Error::ParentChainTooLong { .. } => {
                "parent_job"
            }
            Error::Schedule { .. } => "schedule",
            Error::InvalidConcurrency { .. } => "concurrency",
            Error::UnknownTimeZone { .. } => "timezone",
            Error::InvalidTimeout { .. } => "executor_config.timeout",
            Error::InvalidMemLimit { .. } => "executor_config.mem_limit",
            Error::InvalidMisfirePolicy { .. } => "misfire_policy",
            Error::InvalidRetryBackoff { .. } => "retry_backoff",
            Error::InvalidHistoryLimit => "history_limit",
            Error::ExecutorConfig { component, .. } if component == "processors" => "processors",
            Error::ExecutorConfig { .. } => "executor_config",
            Error::AboveCeiling { field, .. } => field,
            Error::InvalidJitter { .. } => "jitter",
            Error::InvalidRunOn { .. } | Error::RunOnWithoutParent { .. } => "run_on",
            Error::InvalidParents { .. } => "parent_jobs",
            Error::UnknownValue { .. } => return None,
        })
    }
}
