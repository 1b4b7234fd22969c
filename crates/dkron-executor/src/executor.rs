//! The executor trait, what one run takes and returns, and the registry of executors by name.

use std::{collections::BTreeMap, fmt, future::Future, pin::Pin, sync::Arc};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::{Error, HttpExecutor, ShellExecutor};

#[cfg(test)]
mod tests;

/// A job's `executor_config`: string keys to string values, as in dkron.
pub type ExecutorConfig = BTreeMap<String, String>;

/// A parsed `timeout` (`text` as written, for the message) as the executors use it: zero means
/// none, as in dkron; a negative one is refused.
pub(crate) fn timeout_limit(
    component: &'static str,
    text: &str,
    duration: jiff::SignedDuration,
) -> Result<Option<std::time::Duration>, Error> {
    if duration.is_negative() {
        return Err(Error::invalid(
            component,
            "timeout",
            format!("`{text}` is negative"),
        ));
    }
    if duration.is_zero() {
        return Ok(None);
    }
    std::time::Duration::try_from(duration)
        .map(Some)
        .map_err(|err| Error::invalid(component, "timeout", err.to_string()))
}

/// A boxed, sendable future: what [`Executor::execute`] returns, so the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// dkron's output bound: the last 256 000 bytes of an execution's output are kept.
pub const DEFAULT_OUTPUT_LIMIT: usize = 256_000;

/// Runs one execution of a job. Implementations are shared (`Arc<dyn Executor>`) and run many
/// executions concurrently.
pub trait Executor: Send + Sync + fmt::Debug {
    /// The name jobs use to select this executor (`shell`, `http`).
    fn name(&self) -> &'static str;

    /// Checks a job's config without running anything: required keys, value syntax. Unknown
    /// keys are ignored, as in dkron.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first bad key.
    fn validate(&self, config: &ExecutorConfig) -> Result<(), Error>;

    /// Runs one execution. Never fails: problems (bad config, failure to start, non-zero exit,
    /// unexpected status, timeout, cancellation) are reported in the outcome.
    fn execute<'a>(&'a self, request: ExecutionRequest<'a>) -> BoxFuture<'a, ExecutionOutcome>;

    /// Whether an execution starts a process: a node bounds those more tightly than work
    /// inside its own process (a request). Say `false` only for an executor that never
    /// spawns one.
    fn runs_processes(&self) -> bool {
        // Why a default of `true`: the tighter bound is the safe one for an executor that
        // does not say.
        true
    }
}

/// Receives output as it is produced, for live progress, and learns which process group a shell
/// execution runs in. The final, authoritative output is the one in [`ExecutionOutcome`].
pub trait OutputSink: Send + Sync {
    /// Called with each chunk in order. Must not block: the executor's reading waits on it.
    fn output(&self, chunk: &[u8]);

    /// Called once by the shell executor, right after the command is spawned, with its process
    /// group id (the leader's pid), before any output and before the leader can be reaped: so
    /// `/proc/<pgid>` still exists and [`crate::group_leader_start`] can be read here. The group
    /// is killed before the execution returns; a caller records it only to kill it after a
    /// crash of its own ([`crate::kill_group_if`]). Must not block. The HTTP executor never
    /// calls it.
    fn spawned(&self, pgid: i32) {
        // Why a default: most sinks only want output.
        let _ = pgid;
    }
}

/// A bounded channel drops chunks when full rather than slowing the execution down.
impl OutputSink for tokio::sync::mpsc::Sender<Bytes> {
    fn output(&self, chunk: &[u8]) {
        // Why: progress is best-effort; the outcome carries the full (bounded) output.
        let _ = self.try_send(Bytes::copy_from_slice(chunk));
    }
}

impl OutputSink for tokio::sync::mpsc::UnboundedSender<Bytes> {
    fn output(&self, chunk: &[u8]) {
        let _ = self.send(Bytes::copy_from_slice(chunk));
    }
}

/// Everything one execution needs.
pub struct ExecutionRequest<'a> {
    /// The job's name (exported to shell commands as `ENV_JOB_NAME`).
    pub job_name: &'a str,
    /// The job's `executor_config`.
    pub config: &'a ExecutorConfig,
    /// How many bytes of output to keep (the tail). dkron: [`DEFAULT_OUTPUT_LIMIT`].
    pub output_limit: usize,
    /// Cancelling it ends the execution (a shell command's process group is killed).
    pub cancel: CancellationToken,
    /// Where output chunks go as they are read, if anywhere.
    pub progress: Option<&'a dyn OutputSink>,
}

impl<'a> ExecutionRequest<'a> {
    /// A request with dkron's output limit, a fresh cancellation token and no progress sink.
    pub fn new(job_name: &'a str, config: &'a ExecutorConfig) -> ExecutionRequest<'a> {
        ExecutionRequest {
            job_name,
            config,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            cancel: CancellationToken::new(),
            progress: None,
        }
    }

    /// Keeps at most `bytes` bytes of output.
    pub fn with_output_limit(mut self, bytes: usize) -> ExecutionRequest<'a> {
        self.output_limit = bytes;
        self
    }

    /// Ends the execution when `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> ExecutionRequest<'a> {
        self.cancel = cancel;
        self
    }

    /// Streams output chunks to `sink` as they are read.
    pub fn with_progress(mut self, sink: &'a dyn OutputSink) -> ExecutionRequest<'a> {
        self.progress = Some(sink);
        self
    }
}

impl fmt::Debug for ExecutionRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutionRequest")
            .field("job_name", &self.job_name)
            .field("config", &self.config)
            .field("output_limit", &self.output_limit)
            .field("cancelled", &self.cancel.is_cancelled())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Why an execution was stopped before it finished on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The config's `timeout` expired.
    Timeout,
    /// The process group's resident memory exceeded `mem_limit`.
    MemoryLimit,
    /// The request's cancellation token was cancelled.
    Cancelled,
}

/// What one execution produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOutcome {
    /// Shell: exit status 0. HTTP: the status and body met the expectations.
    pub success: bool,
    /// Shell: the exit code, `None` when the process was ended by a signal or never started.
    pub exit_code: Option<i32>,
    /// HTTP: the response status, `None` when no response arrived.
    pub http_status: Option<u16>,
    /// The tail of the output, lossy UTF-8 (shell: stdout and stderr interleaved; HTTP: the
    /// body), followed by a line saying why the run was stopped, if it was.
    pub output: String,
    /// Whether output bytes were dropped to respect the limit.
    pub output_truncated: bool,
    /// Every output byte produced, kept or not.
    pub output_total_bytes: u64,
    /// Set when the run was stopped from outside (timeout, memory limit, cancellation).
    pub stopped: Option<Stopped>,
    /// When the executor began (before spawning or connecting).
    pub started_at: jiff::Timestamp,
    /// When the outcome was complete (the process reaped, the body read).
    pub finished_at: jiff::Timestamp,
    /// Why the execution failed, when that is not just "exit code N": bad config, failure to
    /// start, an unexpected status, a timeout.
    pub error: Option<String>,
}

impl ExecutionOutcome {
    /// An outcome for an execution that failed before producing anything.
    pub(crate) fn failed(started_at: jiff::Timestamp, error: String) -> ExecutionOutcome {
        ExecutionOutcome {
            success: false,
            exit_code: None,
            http_status: None,
            output: String::new(),
            output_truncated: false,
            output_total_bytes: 0,
            stopped: None,
            started_at,
            finished_at: jiff::Timestamp::now(),
            error: Some(error),
        }
    }

    /// The output as dkron's agent stores it: the error line first, then the output. A stop
    /// message (timeout, memory limit, cancellation) already ends the output and is not repeated.
    pub fn output_with_error(&self) -> String {
        match &self.error {
            Some(error) if self.stopped.is_none() => format!("{error}\n{}", self.output),
            _ => self.output.clone(),
        }
    }
}

/// Executors by name. Built once per node and shared.
#[derive(Debug, Clone, Default)]
pub struct ExecutorRegistry {
    executors: BTreeMap<String, Arc<dyn Executor>>,
}

impl ExecutorRegistry {
    /// A registry with no executors.
    pub fn new() -> ExecutorRegistry {
        ExecutorRegistry::default()
    }

    /// A registry with the built-in `shell` and `http` executors.
    pub fn with_defaults() -> ExecutorRegistry {
        let mut registry = ExecutorRegistry::new();
        registry.register(Arc::new(ShellExecutor::new()));
        registry.register(Arc::new(HttpExecutor::new()));
        registry
    }

    /// Adds (or replaces) an executor under its [`Executor::name`].
    pub fn register(&mut self, executor: Arc<dyn Executor>) {
        self.executors.insert(executor.name().to_owned(), executor);
    }

    /// The executor registered as `name`.
    ///
    /// # Errors
    /// [`Error::UnknownExecutor`] when there is none.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Executor>, Error> {
        match self.executors.get(name) {
            Some(executor) => Ok(Arc::clone(executor)),
            None => Err(Error::UnknownExecutor {
                name: name.to_owned(),
            }),
        }
    }

    /// Checks that `name` is known and that `config` is acceptable to it, without running it.
    ///
    /// # Errors
    /// [`Error::UnknownExecutor`] or [`Error::InvalidConfig`].
    pub fn validate(&self, name: &str, config: &ExecutorConfig) -> Result<(), Error> {
        self.get(name)?.validate(config)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.executors.keys().map(String::as_str)
    }
}
