//! A job on the wire: reading a client's JSON into a [`Job`], writing a [`Job`] as dkron's JSON.
//!
//! Reading is tolerant, because clients re-send whole records they read: unknown fields are
//! ignored, `null` means the default for any field, read-only fields (`id`, `status`, `next`,
//! `dependent_jobs`) are accepted and dropped. It is strict about types of the fields it uses,
//! and says which field is wrong. dkron's legacy job fields (`command`, `shell`,
//! `environment_variables`) become a shell executor configuration.

use std::{collections::BTreeMap, time::Duration};

use dkron_model::{Concurrency, Job, JobStatus, MisfirePolicy, RetryBackoff, RunOn};
use jiff::{Timestamp, tz::TimeZone};
use serde::Serialize;
use serde_json::{Map, Value};

use super::time::{format_duration, format_nullable, format_or_zero, parse_time};

/// Why a request body is not a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Not JSON, or not an object: dkron's `Unable to parse payload: <message>.`
    Syntax(String),
    /// A known field has the wrong type or form.
    Field {
        /// The field, e.g. `retries` or `tags.env`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A textual field holds a value the model rejects (concurrency, misfire policy): dkron
    /// reports these as validation failures.
    Invalid(dkron_model::Error),
}

/// Parses a request body (any content type) as one job.
pub(crate) fn parse_job(body: &[u8]) -> Result<Job, BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() && body.iter().all(u8::is_ascii_whitespace) {
            // Go's decoder says just this for an empty body.
            BodyError::Syntax("EOF".to_owned())
        } else {
            BodyError::Syntax(e.to_string())
        }
    })?;
    job_from_value(&value)
}

/// Reads one job from a parsed JSON value (an object).
pub(crate) fn job_from_value(value: &Value) -> Result<Job, BodyError> {
    let Value::Object(map) = value else {
        return Err(BodyError::Syntax(format!(
            "expected a JSON object, found {}",
            kind_of(value)
        )));
    };
    let f = Fields(map);
    let mut job = Job {
        name: f.string("name")?,
        display_name: f.string("displayname")?,
        timezone: f.string("timezone")?,
        schedule: f.string("schedule")?,
        owner: f.string("owner")?,
        owner_email: f.string("owner_email")?,
        success_count: f.count("success_count")?,
        error_count: f.count("error_count")?,
        last_success: f.time("last_success")?,
        last_error: f.time("last_error")?,
        disabled: f.bool("disabled")?,
        tags: f.string_map("tags")?,
        metadata: f.string_map("metadata")?,
        retries: u32::try_from(f.count("retries")?).map_err(|_| BodyError::Field {
            field: "retries".to_owned(),
            message: "too large".to_owned(),
        })?,
        parent_job: Some(f.string("parent_job")?).filter(|p| !p.is_empty()),
        processors: f.processors()?,
        executor: f.string("executor")?,
        executor_config: f.string_map("executor_config")?,
        ephemeral: f.bool("ephemeral")?,
        starts_at: f.time("starts_at")?,
        expires_at: f.time("expires_at")?,
        history_limit: f
            .optional_count("history_limit")?
            .map(u32::try_from)
            .transpose()
            .map_err(|_| BodyError::Field {
                field: "history_limit".to_owned(),
                message: "too large".to_owned(),
            })?,
        output_limit: f.optional_count("output_limit")?,
        retry_backoff: f.backoff()?,
        // Read-only: the cluster owns these; `id` is always the name.
        status: JobStatus::Untriggered,
        dependent_jobs: Vec::new(),
        next: None,
        concurrency: Concurrency::Allow,
        misfire_policy: MisfirePolicy::Skip,
        // dkron-rs: notifications.
        notify: super::notify::parse(map.get("notify"))?,
        // Run policies (dkron-rs); `consecutive_failures` and `paused_reason` are read-only.
        jitter: f.jitter()?,
        pause_on_failure: u32::try_from(f.count("pause_on_failure")?).map_err(|_| {
            BodyError::Field {
                field: "pause_on_failure".to_owned(),
                message: "too large".to_owned(),
            }
        })?,
        consecutive_failures: 0,
        paused_reason: String::new(),
        run_on: RunOn::Success,
        skipped_count: 0,
        last_skipped: None,
        // dkron-rs: several parents; `parent_ends` is read-only.
        parent_jobs: f.string_list("parent_jobs")?,
        parent_ends: BTreeMap::new(),
    };
    // One parent is stored as `parent_job` whichever field named it; a list beside a different
    // `parent_job` is left for validation to refuse (400 naming `parent_jobs`).
    job.normalize_parents();
    job.run_on = f.string("run_on")?.parse().map_err(BodyError::Invalid)?;
    job.concurrency = f
        .string("concurrency")?
        .parse()
        .map_err(BodyError::Invalid)?;
    job.misfire_policy = f
        .string("misfire_policy")?
        .parse()
        .map_err(BodyError::Invalid)?;
    apply_legacy_command(&f, &mut job)?;
    Ok(job)
}

/// dkron ≤ 0.7 jobs had `command`, `shell` and `environment_variables` at the top level (the
/// seed document's sample job still does). When the job names no other executor, they become
/// the shell executor's `command`, `shell` and `env`, without overriding keys already present
/// in `executor_config`.
fn apply_legacy_command(f: &Fields<'_>, job: &mut Job) -> Result<(), BodyError> {
    let command = f.string("command")?;
    if command.trim().is_empty() || !(job.executor.is_empty() || job.executor == "shell") {
        return Ok(());
    }
    job.executor = "shell".to_owned();
    let config = &mut job.executor_config;
    config.entry("command".to_owned()).or_insert(command);
    if f.bool("shell")? {
        config
            .entry("shell".to_owned())
            .or_insert_with(|| "true".to_owned());
    }
    let env = f.string_list("environment_variables")?;
    if !env.is_empty() {
        config
            .entry("env".to_owned())
            .or_insert_with(|| env.join(","));
    }
    Ok(())
}

/// Typed access to the fields of a JSON object; `null` and absent fields give defaults.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<String, BodyError> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(wrong(key, "a string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, BodyError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" => Ok(true),
            Some(Value::String(s)) if s == "false" || s.is_empty() => Ok(false),
            Some(other) => Err(wrong(key, "a boolean", other)),
        }
    }

    fn count(&self, key: &str) -> Result<u64, BodyError> {
        Ok(self.optional_count(key)?.unwrap_or(0))
    }

    /// A non-negative integer; also an integral float or a decimal string (form-built clients).
    /// Negative counters (Go `int`) are clamped to zero rather than refused.
    fn optional_count(&self, key: &str) -> Result<Option<u64>, BodyError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let number = match value {
            Value::Number(n) => n.as_u64().or_else(|| {
                if n.as_i64().is_some_and(|i| i < 0) {
                    return Some(0);
                }
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19)
                    // Checked integral and in range just above.
                    .map(|f| f as u64)
            }),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        number
            .map(Some)
            .ok_or_else(|| wrong(key, "a non-negative integer", value))
    }

    fn time(&self, key: &str) -> Result<Option<Timestamp>, BodyError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => parse_time(s).map_err(|message| BodyError::Field {
                field: key.to_owned(),
                message,
            }),
            Some(other) => Err(wrong(key, "an RFC 3339 time string", other)),
        }
    }

    fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, BodyError> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => string_map(key, map),
            Some(other) => Err(wrong(key, "an object of strings", other)),
        }
    }

    fn string_list(&self, key: &str) -> Result<Vec<String>, BodyError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(wrong(&format!("{key}[{i}]"), "a string", other)),
                })
                .collect(),
            Some(other) => Err(wrong(key, "an array of strings", other)),
        }
    }

    fn processors(&self) -> Result<BTreeMap<String, BTreeMap<String, String>>, BodyError> {
        let key = "processors";
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(name, config)| {
                    let field = format!("{key}.{name}");
                    match config {
                        Value::Null => Ok((name.clone(), BTreeMap::new())),
                        Value::Object(config) => Ok((name.clone(), string_map(&field, config)?)),
                        other => Err(wrong(&field, "an object of strings", other)),
                    }
                })
                .collect(),
            Some(other) => Err(wrong(key, "an object of processor configurations", other)),
        }
    }

    /// `retry_backoff`: `{"initial": "<Go duration>", "max": "<Go duration>"}`; missing parts
    /// keep their defaults.
    fn backoff(&self) -> Result<RetryBackoff, BodyError> {
        let key = "retry_backoff";
        let mut backoff = RetryBackoff::default();
        match self.get(key) {
            None => {}
            Some(Value::Object(map)) => {
                let f = Fields(map);
                if let Some(d) = f.duration("initial", "retry_backoff.initial")? {
                    backoff.initial = d;
                }
                if let Some(d) = f.duration("max", "retry_backoff.max")? {
                    backoff.max = d;
                }
            }
            Some(other) => Err(wrong(key, "an object {\"initial\", \"max\"}", other))?,
        }
        Ok(backoff)
    }

    /// `jitter`: a Go duration; absent, `null` or `""` for none. Its bound is the model's
    /// ([`Job::validate`]).
    fn jitter(&self) -> Result<Duration, BodyError> {
        if matches!(self.get("jitter"), Some(Value::String(s)) if s.is_empty()) {
            return Ok(Duration::ZERO);
        }
        Ok(self.duration("jitter", "jitter")?.unwrap_or_default())
    }

    fn duration(&self, key: &str, field: &str) -> Result<Option<Duration>, BodyError> {
        let bad = |message: String| BodyError::Field {
            field: field.to_owned(),
            message,
        };
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                let d = dkron_cron::parse_go_duration(s).map_err(|e| bad(e.to_string()))?;
                Duration::try_from(d)
                    .map(Some)
                    .map_err(|_| bad("must not be negative".to_owned()))
            }
            Some(other) => Err(wrong(field, "a duration string such as \"30s\"", other)),
        }
    }
}

/// An object of scalars as strings: numbers and booleans are written as text (JSON editors
/// produce them), `null` becomes `""`; nested objects and arrays are refused.
fn string_map(
    field: &str,
    map: &Map<String, Value>,
) -> Result<BTreeMap<String, String>, BodyError> {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => return Err(wrong(&format!("{field}.{k}"), "a string", other)),
            };
            Ok((k.clone(), text))
        })
        .collect()
}

fn wrong(field: &str, expected: &str, found: &Value) -> BodyError {
    BodyError::Field {
        field: field.to_owned(),
        message: format!("expected {expected}, found {}", kind_of(found)),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A job as dkron writes it: dkron's fields in dkron's order, then dkron-rs' additions.
///
/// Empty `tags`, `metadata`, `dependent_jobs` and `executor_config` are `null` (Go's nil maps
/// after a store round trip), `processors` is always an object, `next` is never null.
#[derive(Debug, Serialize)]
pub(crate) struct JobOut<'a> {
    id: &'a str,
    name: &'a str,
    displayname: &'a str,
    timezone: &'a str,
    schedule: &'a str,
    owner: &'a str,
    owner_email: &'a str,
    success_count: u64,
    error_count: u64,
    last_success: Option<String>,
    last_error: Option<String>,
    disabled: bool,
    tags: Option<&'a BTreeMap<String, String>>,
    metadata: Option<&'a BTreeMap<String, String>>,
    retries: u32,
    dependent_jobs: Option<&'a [String]>,
    parent_job: &'a str,
    processors: &'a BTreeMap<String, BTreeMap<String, String>>,
    concurrency: &'static str,
    executor: &'a str,
    executor_config: Option<&'a BTreeMap<String, String>>,
    status: &'static str,
    next: String,
    ephemeral: bool,
    starts_at: Option<String>,
    expires_at: Option<String>,
    misfire_policy: String,
    retry_backoff: BackoffOut,
    history_limit: Option<u32>,
    output_limit: Option<u64>,
    // dkron-rs: notifications.
    notify: Option<super::notify::NotifyOut>,
    jitter: Option<String>,
    pause_on_failure: u32,
    consecutive_failures: u32,
    paused_reason: &'a str,
    run_on: &'static str,
    skipped_count: u64,
    last_skipped: Option<String>,
    parent_jobs: Option<&'a [String]>,
}

#[derive(Debug, Serialize)]
struct BackoffOut {
    initial: String,
    max: String,
}

impl<'a> From<&'a Job> for JobOut<'a> {
    fn from(job: &'a Job) -> JobOut<'a> {
        let utc = TimeZone::UTC;
        let non_empty_map = |m: &'a BTreeMap<String, String>| (!m.is_empty()).then_some(m);
        JobOut {
            id: &job.name,
            name: &job.name,
            displayname: &job.display_name,
            timezone: &job.timezone,
            schedule: &job.schedule,
            owner: &job.owner,
            owner_email: &job.owner_email,
            success_count: job.success_count,
            error_count: job.error_count,
            last_success: format_nullable(job.last_success, &utc),
            last_error: format_nullable(job.last_error, &utc),
            disabled: job.disabled,
            tags: non_empty_map(&job.tags),
            metadata: non_empty_map(&job.metadata),
            retries: job.retries,
            dependent_jobs: (!job.dependent_jobs.is_empty()).then_some(&job.dependent_jobs[..]),
            parent_job: job.parent_job.as_deref().unwrap_or(""),
            processors: &job.processors,
            concurrency: job.concurrency.as_str(),
            executor: &job.executor,
            executor_config: non_empty_map(&job.executor_config),
            status: job.status.as_str(),
            next: format_or_zero(job.next, &utc),
            ephemeral: job.ephemeral,
            starts_at: format_nullable(job.starts_at, &utc),
            expires_at: format_nullable(job.expires_at, &utc),
            misfire_policy: job.misfire_policy.to_string(),
            retry_backoff: BackoffOut {
                initial: format_duration(job.retry_backoff.initial),
                max: format_duration(job.retry_backoff.max),
            },
            history_limit: job.history_limit,
            output_limit: job.output_limit,
            notify: job.notify.as_ref().map(Into::into),
            jitter: (!job.jitter.is_zero()).then(|| format_duration(job.jitter)),
            pause_on_failure: job.pause_on_failure,
            consecutive_failures: job.consecutive_failures,
            paused_reason: &job.paused_reason,
            run_on: job.run_on.as_str(),
            skipped_count: job.skipped_count,
            last_skipped: format_nullable(job.last_skipped, &utc),
            parent_jobs: (!job.parent_jobs.is_empty()).then_some(&job.parent_jobs[..]),
        }
    }
}
