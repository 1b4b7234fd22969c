//! [`Job`] and the small enums and policies it is made of.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use dkron_cron::Schedule;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde::{Deserialize, Serialize};

use crate::{Error, Execution, NotifyPolicy, RunOn};

#[cfg(test)]
mod tests;

/// A job: what to run, where, and when.
///
/// Plain data: every field is public and may hold any value; [`Job::validate`] says whether the
/// whole is acceptable. Fields up to `expires_at` are dkron 4.1's (`reference/dkron.md` §2.1);
/// the rest are dkron-rs additions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    /// Unique key: Unicode lower-case letters, ASCII digits, `_`, `-` (see [`crate::validate_name`]).
    pub name: String,
    /// Free text shown instead of the name.
    pub display_name: String,
    /// IANA zone the schedule is evaluated in; empty means UTC (dkron: server local time).
    pub timezone: String,
    /// Cron expression or descriptor (`dkron-cron` syntax). Required unless `parent_job` is set,
    /// in which case it is ignored.
    pub schedule: String,
    /// Free text.
    pub owner: String,
    /// Recipient of notifications.
    pub owner_email: String,
    /// Successful executions, counted per node execution (not per group). Server-maintained.
    pub success_count: u64,
    /// Failed executions, counted like `success_count`. Server-maintained.
    pub error_count: u64,
    /// `finished_at` of the last successful execution.
    pub last_success: Option<Timestamp>,
    /// `finished_at` of the last failed execution.
    pub last_error: Option<Timestamp>,
    /// Disabled jobs are not fired by the timer and cannot be run manually (unless children).
    pub disabled: bool,
    /// Target selector, `"tag": "value[:count]"` (see [`crate::select_targets`]); empty = all
    /// alive members of the region.
    pub tags: BTreeMap<String, String>,
    /// Arbitrary labels.
    pub metadata: BTreeMap<String, String>,
    /// Extra attempts after a failed execution (0 = none). Retries go to the same node.
    pub retries: u32,
    /// Children (jobs whose `parent_job` is this job). Server-maintained; kept sorted and
    /// without duplicates by [`Job::add_dependent`] and [`Job::remove_dependent`].
    pub dependent_jobs: Vec<String>,
    /// Run this job after the parent's execution group succeeds. `Some("")` is treated as
    /// `None`; converters should produce `None`.
    pub parent_job: Option<String>,
    /// Processor name -> processor configuration.
    pub processors: BTreeMap<String, BTreeMap<String, String>>,
    /// What to do when a fire comes while the job is still running.
    pub concurrency: Concurrency,
    /// Executor name (`shell`, `http`, …). Not validated here: an unknown executor fails at run
    /// time, as in dkron.
    pub executor: String,
    /// Executor parameters.
    pub executor_config: BTreeMap<String, String>,
    /// Status of the latest execution group. Server-maintained.
    pub status: JobStatus,
    /// Next scheduled fire; `None` when the job will not fire on its own.
    pub next: Option<Timestamp>,
    /// Delete the job after a successful run.
    pub ephemeral: bool,
    /// The job does not run before this instant.
    pub starts_at: Option<Timestamp>,
    /// The job does not run after this instant (it is not deleted).
    pub expires_at: Option<Timestamp>,
    /// dkron-rs: what happens to fires missed while no leader existed.
    pub misfire_policy: MisfirePolicy,
    /// dkron-rs: delay before each retry.
    pub retry_backoff: RetryBackoff,
    /// dkron-rs: executions kept for this job; `None` = node default ([`Limits::history`]).
    pub history_limit: Option<u32>,
    /// dkron-rs: bytes of output kept per execution; `None` = node default
    /// ([`Limits::output_bytes`]).
    pub output_limit: Option<u64>,

    // Notifications (dkron-rs).
    /// dkron-rs: this job's notification rule; `None` = the servers' default (dkron's).
    pub notify: Option<NotifyPolicy>,
    /// dkron-rs: each timer fire is due up to this much after its scheduled instant, by a delay
    /// every server computes the same ([`crate::jitter_delay`]); zero means none.
    pub jitter: Duration,
    /// dkron-rs: disable the job after this many consecutive failed groups; 0 means never.
    pub pause_on_failure: u32,
    /// dkron-rs: failed groups since the last successful one. Server-maintained.
    pub consecutive_failures: u32,
    /// dkron-rs: why the cluster disabled the job (`pause_on_failure`); empty otherwise.
    /// Server-maintained; enabling the job clears it.
    pub paused_reason: String,
    /// dkron-rs: which outcome of the parent's group runs this child (dkron: success only).
    pub run_on: RunOn,
    /// dkron-rs: timer fires not run because they could not start within the job's misfire
    /// bound (skipped or coalesced under overload). Server-maintained.
    pub skipped_count: u64,
    /// dkron-rs: the scheduled instant of the latest such fire. Server-maintained.
    pub last_skipped: Option<Timestamp>,
    /// dkron-rs: the parents of a child of several parents (it runs once each of them ended a
    /// group matching `run_on`, see [`Job::record_parent_end`]). Empty when the job has one
    /// parent (`parent_job`) or none; never set together with `parent_job`.
    pub parent_jobs: Vec<String>,
    /// dkron-rs: for a child of several parents, the status of each parent's latest group that
    /// ended for good since the child was last run by its parents. Server-maintained.
    pub parent_ends: BTreeMap<String, JobStatus>,
}

impl Job {
    /// A job named `name` with dkron's defaults for everything else (no schedule yet).
    pub fn new(name: impl Into<String>) -> Job {
        Job {
            name: name.into(),
            ..Job::default()
        }
    }

    /// Whether this job is a child: triggered by its parents, never by the timer. An empty
    /// `parent_job` counts as none (dkron's wire format uses `""` for "no parent").
    pub fn is_child(&self) -> bool {
        self.parents().next().is_some()
    }

    /// The zone the schedule is evaluated in: `timezone`, or UTC when it is empty.
    ///
    /// # Errors
    /// [`Error::UnknownTimeZone`] when the bundled database does not know the name.
    pub fn time_zone(&self) -> Result<TimeZone, Error> {
        time_zone_named(&self.timezone)
    }

    /// The job's parsed schedule with its zone and `starts_at`/`expires_at` window, or `None` for
    /// a child job (children are never fired by the timer).
    ///
    /// # Errors
    /// [`Error::Schedule`] or [`Error::UnknownTimeZone`].
    pub fn job_schedule(&self) -> Result<Option<JobSchedule>, Error> {
        if self.is_child() {
            return Ok(None);
        }
        let schedule = Schedule::parse_for_job(&self.schedule, &self.name)
            .map_err(|error| Error::Schedule { error })?;
        Ok(Some(JobSchedule {
            schedule,
            tz: self.time_zone()?,
            starts_at: self.starts_at,
            expires_at: self.expires_at,
        }))
    }

    /// The first fire strictly after `after` that lies within `starts_at..=expires_at`, or
    /// `None` if there is none, the job is a child, or its schedule or zone is invalid.
    ///
    /// Used to fill [`Job::next`]. A scheduler firing many times should keep the
    /// [`JobSchedule`] from [`Job::job_schedule`] instead of re-parsing.
    pub fn next_fire_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.job_schedule().ok().flatten()?.next_after(after)
    }

    /// Whether `now` lies within `starts_at..=expires_at` (dkron's `isRunnable` window; both
    /// ends inclusive).
    pub fn active_at(&self, now: Timestamp) -> bool {
        self.starts_at.is_none_or(|start| now >= start)
            && self.expires_at.is_none_or(|end| now <= end)
    }

    /// Executions kept for this job: its own limit, else the node default.
    pub fn effective_history_limit(&self, limits: &Limits) -> u32 {
        limits.history_for(self.history_limit)
    }

    /// Bytes of output kept per execution: its own limit, else the node default.
    pub fn effective_output_limit(&self, limits: &Limits) -> u64 {
        limits.output_for(self.output_limit)
    }

    /// Adds `child` to `dependent_jobs`, keeping it sorted and free of duplicates.
    pub fn add_dependent(&mut self, child: &str) {
        if let Err(at) = self
            .dependent_jobs
            .binary_search_by(|d| d.as_str().cmp(child))
        {
            self.dependent_jobs.insert(at, child.to_owned());
        }
    }

    /// Counts a finished execution: bumps `success_count` or `error_count` and moves
    /// `last_success`/`last_error` forward to its `finished_at`. Running executions (no
    /// `finished_at`) are ignored.
    ///
    /// Not idempotent on its own: the store must apply each execution id once (dkron 4.1 does
    /// not double-count a duplicate report either). The group `status` is separate: see
    /// [`crate::group_status`].
    pub fn record_finished(&mut self, execution: &Execution) {
        let Some(finished) = execution.finished_at else {
            return;
        };
        let (count, last) = if execution.success {
            (&mut self.success_count, &mut self.last_success)
        } else {
            (&mut self.error_count, &mut self.last_error)
        };
        *count = count.saturating_add(1);
        *last = Some(last.map_or(finished, |l| l.max(finished)));
    }

    /// Carries the server-maintained fields of the stored version into this one, which a user
    /// submitted as a replacement (dkron's create/update merge, `reference/dkron.md` §2.1, §3.6):
    /// counters and last times take the larger value (so replaying an old backup cannot move
    /// them back), `status` and `dependent_jobs` come from `stored`, and `next` keeps the later
    /// value when the schedule is unchanged (otherwise it is left for the caller to recompute).
    pub fn merge_server_fields(&mut self, stored: &Job) {
        self.success_count = self.success_count.max(stored.success_count);
        self.error_count = self.error_count.max(stored.error_count);
        self.last_success = self.last_success.max(stored.last_success);
        self.last_error = self.last_error.max(stored.last_error);
        self.status = stored.status;
        self.dependent_jobs.clone_from(&stored.dependent_jobs);
        self.keep_parent_ends(stored);
        if self.schedule == stored.schedule && self.timezone == stored.timezone {
            self.next = self.next.max(stored.next);
        }
        self.merge_pause_fields(stored);
    }

    /// Removes `child` from `dependent_jobs`; returns whether it was there.
    pub fn remove_dependent(&mut self, child: &str) -> bool {
        let before = self.dependent_jobs.len();
        self.dependent_jobs.retain(|d| d != child);
        before != self.dependent_jobs.len()
    }
}

/// Resolves a job's `timezone` text: empty means UTC.
pub(crate) fn time_zone_named(name: &str) -> Result<TimeZone, Error> {
    if name.is_empty() || name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    jiff::tz::db()
        .get(name)
        .map_err(|_| Error::UnknownTimeZone {
            name: name.to_owned(),
        })
}

/// A job's schedule ready for repeated evaluation: parsed expression, zone, and the
/// `starts_at..=expires_at` window.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    schedule: Schedule,
    tz: TimeZone,
    starts_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
}

impl JobSchedule {
    /// Combines a parsed schedule, its zone and an optional active window.
    pub fn new(
        schedule: Schedule,
        tz: TimeZone,
        starts_at: Option<Timestamp>,
        expires_at: Option<Timestamp>,
    ) -> JobSchedule {
        JobSchedule {
            schedule,
            tz,
            starts_at,
            expires_at,
        }
    }

    /// The parsed expression.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The zone the expression is evaluated in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first fire strictly after `after` within the window, or `None`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let from = match self.starts_at {
            // A fire exactly at `starts_at` is allowed, so search from just before it.
            Some(start) if after < start => start
                .checked_sub(SignedDuration::from_nanos(1))
                .unwrap_or(start),
            _ => after,
        };
        let fire = self.schedule.next_after(from, &self.tz)?;
        match self.expires_at {
            Some(end) if fire > end => None,
            _ => Some(fire),
        }
    }

    /// Fires in `(since, until]`, oldest first, at most `max` of them (the oldest `max`).
    pub fn fires_between(&self, since: Timestamp, until: Timestamp, max: usize) -> Vec<Timestamp> {
        let mut fires = Vec::new();
        let mut cursor = since;
        while fires.len() < max {
            match self.next_after(cursor) {
                Some(fire) if fire <= until && fire > cursor => {
                    fires.push(fire);
                    cursor = fire;
                }
                _ => break,
            }
        }
        fires
    }
}

/// Overlap policy: what a fire does while an earlier execution of the job is still running.
///
/// Manual runs ignore it (as in dkron).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Concurrency {
    /// Run anyway (dkron's default).
    #[default]
    Allow,
    /// Skip this fire.
    Forbid,
    /// dkron-rs: stop the running execution, then run.
    Replace,
    /// dkron-rs (Temporal's): keep at most one fire while a run is going and start it when the
    /// run ends; later fires meanwhile are skipped.
    BufferOne,
    /// dkron-rs (Temporal's): keep every fire while a run is going (up to a bound) and start
    /// them one after the other, oldest first.
    BufferAll,
}

impl Concurrency {
    /// dkron's text for the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Allow => "allow",
            Concurrency::Forbid => "forbid",
            Concurrency::Replace => "replace",
            Concurrency::BufferOne => "buffer_one",
            Concurrency::BufferAll => "buffer_all",
        }
    }

    /// Whether fires that come while a run is going wait for it (`buffer_one`, `buffer_all`).
    pub fn buffers(self) -> bool {
        matches!(self, Concurrency::BufferOne | Concurrency::BufferAll)
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Concurrency {
    type Err = Error;

    /// `allow`, `forbid`, `replace`, `buffer_one`, `buffer_all`; the empty string means `allow`
    /// (dkron accepts it).
    fn from_str(s: &str) -> Result<Concurrency, Error> {
        match s {
            "" | "allow" => Ok(Concurrency::Allow),
            "forbid" => Ok(Concurrency::Forbid),
            "replace" => Ok(Concurrency::Replace),
            "buffer_one" => Ok(Concurrency::BufferOne),
            "buffer_all" => Ok(Concurrency::BufferAll),
            _ => Err(Error::InvalidConcurrency {
                value: s.to_owned(),
            }),
        }
    }
}

/// Status of a job's latest execution group (see [`crate::group_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum JobStatus {
    /// Never run; dkron's `""`.
    #[default]
    Untriggered,
    /// Every node's last attempt succeeded.
    Success,
    /// Every node's last attempt failed (or is still running).
    Failed,
    /// Some nodes' last attempts succeeded, others did not.
    PartiallyFailed,
}

impl JobStatus {
    /// dkron's text: `""`, `success`, `failed`, `partially_failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Untriggered => "",
            JobStatus::Success => "success",
            JobStatus::Failed => "failed",
            JobStatus::PartiallyFailed => "partially_failed",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = Error;

    /// The texts of [`JobStatus::as_str`]; `untriggered` is accepted for `""`.
    fn from_str(s: &str) -> Result<JobStatus, Error> {
        match s {
            "" | "untriggered" => Ok(JobStatus::Untriggered),
            "success" => Ok(JobStatus::Success),
            "failed" => Ok(JobStatus::Failed),
            "partially_failed" => Ok(JobStatus::PartiallyFailed),
            _ => Err(Error::UnknownValue {
                kind: "job status",
                value: s.to_owned(),
            }),
        }
    }
}

/// Catch-up window used when `catch_up` is given without one: one hour.
pub const DEFAULT_CATCH_UP_WINDOW: Duration = Duration::from_secs(3600);

/// What happens to fires that came due while no leader existed (dkron: always skipped).
///
/// Text form (for [`FromStr`]/[`fmt::Display`]): `skip`, `run_once`, `catch_up` (window
/// [`DEFAULT_CATCH_UP_WINDOW`]) or `catch_up:<Go duration>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum MisfirePolicy {
    /// Drop missed fires; resume with the next future one (dkron's behaviour).
    #[default]
    Skip,
    /// Run once for all missed fires, stamped with the first missed fire time.
    RunOnce,
    /// Run every missed fire that is no older than `window`, oldest first.
    CatchUp {
        /// How far back missed fires are still run.
        window: Duration,
    },
}

impl MisfirePolicy {
    /// The policy's name without its window: `skip`, `run_once` or `catch_up`.
    pub fn name(self) -> &'static str {
        match self {
            MisfirePolicy::Skip => "skip",
            MisfirePolicy::RunOnce => "run_once",
            MisfirePolicy::CatchUp { .. } => "catch_up",
        }
    }

    /// The missed fires to run now, given the fires of `schedule` in `(last, now]` that nobody
    /// launched. `last` is the latest fire known to be handled (launched or deliberately
    /// skipped). At most `max` fires are returned (the oldest ones).
    pub fn fires_to_run(
        self,
        schedule: &JobSchedule,
        last: Timestamp,
        now: Timestamp,
        max: usize,
    ) -> Vec<Timestamp> {
        match self {
            MisfirePolicy::Skip => Vec::new(),
            MisfirePolicy::RunOnce => schedule.fires_between(last, now, max.min(1)),
            MisfirePolicy::CatchUp { window } => {
                let horizon = SignedDuration::try_from(window)
                    .ok()
                    .and_then(|w| now.checked_sub(w).ok())
                    .unwrap_or(Timestamp::MIN);
                // A fire exactly `window` old still counts: search from just before the horizon.
                let horizon = horizon
                    .checked_sub(SignedDuration::from_nanos(1))
                    .unwrap_or(horizon);
                schedule.fires_between(last.max(horizon), now, max)
            }
        }
    }
}

impl fmt::Display for MisfirePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MisfirePolicy::CatchUp { window } => {
                f.write_str("catch_up:")?;
                write_go_duration(f, *window)
            }
            other => f.write_str(other.name()),
        }
    }
}

/// Writes `d` in a form `dkron_cron::parse_go_duration` reads back exactly.
fn write_go_duration(f: &mut fmt::Formatter<'_>, d: Duration) -> fmt::Result {
    if d.subsec_nanos() == 0 {
        write!(f, "{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        write!(f, "{}ms", d.as_millis())
    } else {
        write!(f, "{}ns", d.as_nanos())
    }
}

impl FromStr for MisfirePolicy {
    type Err = Error;

    /// `skip` (or empty), `run_once`, `catch_up`, `catch_up:<Go duration>` (positive).
    fn from_str(s: &str) -> Result<MisfirePolicy, Error> {
        let invalid = || Error::InvalidMisfirePolicy {
            value: s.to_owned(),
        };
        match s {
            "" | "skip" => Ok(MisfirePolicy::Skip),
            "run_once" => Ok(MisfirePolicy::RunOnce),
            "catch_up" => Ok(MisfirePolicy::CatchUp {
                window: DEFAULT_CATCH_UP_WINDOW,
            }),
            _ => {
                let text = s.strip_prefix("catch_up:").ok_or_else(invalid)?;
                let window = dkron_cron::parse_go_duration(text).map_err(|_| invalid())?;
                let window = Duration::try_from(window).map_err(|_| invalid())?;
                if window.is_zero() {
                    return Err(invalid());
                }
                Ok(MisfirePolicy::CatchUp { window })
            }
        }
    }
}

/// Delay before each retry: exponential from `initial`, doubling per failed attempt, capped at
/// `max`. dkron has a fixed, roughly logarithmic backoff of a few seconds; users asked for a
/// configurable one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryBackoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for RetryBackoff {
    /// 1 s, doubling, capped at 60 s.
    fn default() -> RetryBackoff {
        RetryBackoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl RetryBackoff {
    /// Delay before the retry that follows failed attempt number `failed_attempt` (1-based:
    /// after the first attempt fails, `delay(1) == initial`; `delay(2) == 2 * initial`; …),
    /// never above `max`. `0` is treated as `1`.
    pub fn delay(&self, failed_attempt: u32) -> Duration {
        if self.initial.is_zero() {
            return Duration::ZERO;
        }
        let mut delay = self.initial;
        // Doubling a non-zero delay reaches any cap within ~100 steps, so the loop is short
        // whatever `failed_attempt` is.
        for _ in 1..failed_attempt {
            if delay >= self.max {
                break;
            }
            delay = delay.saturating_mul(2);
        }
        delay.min(self.max)
    }
}

/// Node-wide defaults for per-job limits, from the node's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Executions kept per job when the job sets no `history_limit`.
    pub history: u32,
    /// Bytes of output kept per execution when the job sets no `output_limit`.
    pub output_bytes: u64,
}

impl Limits {
    /// dkron's fixed values: 100 executions per job, the last 256 000 bytes of output.
    pub const DKRON: Limits = Limits {
        history: 100,
        output_bytes: 256_000,
    };

    /// Executions kept for a job whose own `history_limit` is `own`.
    pub fn history_for(&self, own: Option<u32>) -> u32 {
        own.unwrap_or(self.history)
    }

    /// Bytes of output kept per execution for a job whose own `output_limit` is `own`.
    pub fn output_for(&self, own: Option<u64>) -> u64 {
        own.unwrap_or(self.output_bytes)
    }
}
