//! Processors: act on a finished execution before it is stored (dkron's `processors`), e.g. to
//! send the output elsewhere and store only a marker.

use std::{
    collections::BTreeMap,
    fmt,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use crate::{Error, shell::go_parse_bool};

#[cfg(test)]
mod tests;

mod syslog;

pub use syslog::SyslogProcessor;

/// A finished execution, as processors see it: `dkron_model::Execution`.
pub type ProcessorInput = dkron_model::Execution;

/// A processor's config: string keys to string values, as in dkron.
pub type ProcessorConfig = BTreeMap<String, String>;

/// Acts on one finished execution. Common key: `forward` (Go boolean): when true the output is
/// kept for storage and the next processor; otherwise it is replaced by a short marker.
///
/// Processors do blocking IO (files, a local socket) and are quick; call them from a blocking
/// context (`spawn_blocking`) if that matters to the caller.
pub trait Processor: Send + Sync + fmt::Debug {
    /// The name jobs use in `processors` (`log`, `files`, `syslog`).
    fn name(&self) -> &'static str;

    /// Checks a job's config for this processor.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the bad key.
    fn validate(&self, config: &ProcessorConfig) -> Result<(), Error>;

    /// Processes `execution`, possibly replacing its output.
    ///
    /// # Errors
    /// A bad config or an IO failure; the execution is then left unchanged.
    fn process(
        &self,
        execution: &mut ProcessorInput,
        config: &ProcessorConfig,
    ) -> Result<(), Error>;
}

/// `forward`: dkron parses it as a Go boolean; anything else means `false`.
fn forward(config: &ProcessorConfig) -> bool {
    config
        .get("forward")
        .and_then(|text| go_parse_bool(text))
        .unwrap_or(false)
}

fn validate_forward(component: &'static str, config: &ProcessorConfig) -> Result<(), Error> {
    match config.get("forward").map(String::as_str) {
        None | Some("") => Ok(()),
        Some(text) => match go_parse_bool(text) {
            Some(_) => Ok(()),
            None => Err(Error::invalid(
                component,
                "forward",
                format!("`{text}` is not a boolean"),
            )),
        },
    }
}

/// Processors by name, applied in name order (dkron's order is random).
#[derive(Debug, Clone, Default)]
pub struct ProcessorRegistry {
    processors: BTreeMap<String, Arc<dyn Processor>>,
}

impl ProcessorRegistry {
    /// A registry with no processors.
    pub fn new() -> ProcessorRegistry {
        ProcessorRegistry::default()
    }

    /// `log` (to this process's stdout/stderr), `files` (default directory `/var/log/dkron`) and
    /// `syslog` (`/dev/log`).
    pub fn with_defaults() -> ProcessorRegistry {
        let mut registry = ProcessorRegistry::new();
        registry.register(Arc::new(LogProcessor::stdio()));
        registry.register(Arc::new(FilesProcessor::new(
            FilesProcessor::DEFAULT_LOG_DIR,
        )));
        registry.register(Arc::new(SyslogProcessor::new(
            SyslogProcessor::DEFAULT_SOCKET,
        )));
        registry
    }

    /// Adds (or replaces) a processor under its name.
    pub fn register(&mut self, processor: Arc<dyn Processor>) {
        self.processors
            .insert(processor.name().to_owned(), processor);
    }

    /// The processor registered as `name`.
    ///
    /// # Errors
    /// [`Error::UnknownProcessor`].
    pub fn get(&self, name: &str) -> Result<Arc<dyn Processor>, Error> {
        match self.processors.get(name) {
            Some(processor) => Ok(Arc::clone(processor)),
            None => Err(Error::UnknownProcessor {
                name: name.to_owned(),
            }),
        }
    }

    /// Checks every entry of a job's `processors` map.
    ///
    /// # Errors
    /// The first unknown name or bad config.
    pub fn validate(&self, processors: &BTreeMap<String, ProcessorConfig>) -> Result<(), Error> {
        for (name, config) in processors {
            self.get(name)?.validate(config)?;
        }
        Ok(())
    }

    /// Applies a job's processors to `execution`, in name order. A failing processor does not stop
    /// the others; the failures are returned (empty when all succeeded).
    pub fn apply(
        &self,
        processors: &BTreeMap<String, ProcessorConfig>,
        execution: &mut ProcessorInput,
    ) -> Vec<Error> {
        let mut errors = Vec::new();
        for (name, config) in processors {
            let res = self
                .get(name)
                .and_then(|processor| processor.process(execution, config));
            if let Err(err) = res {
                errors.push(err);
            }
        }
        errors
    }
}

/// Where the `log` processor writes: one writer for successful executions, one for failures.
type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// `log`: writes the output between `----- BEGIN OUTPUT job=… execution=… -----` and
/// `----- END OUTPUT -----` lines, to stdout for a success and stderr for a failure (as dkron);
/// without `forward`, the stored output becomes `Output in dkron log`.
#[derive(Clone)]
pub struct LogProcessor {
    success: SharedWriter,
    failure: SharedWriter,
}

impl LogProcessor {
    /// Writes to this process's stdout (successes) and stderr (failures).
    pub fn stdio() -> LogProcessor {
        LogProcessor::with_writers(
            Arc::new(Mutex::new(std::io::stdout())),
            Arc::new(Mutex::new(std::io::stderr())),
        )
    }

    /// Writes to the given writers (for tests, or a node's own log file).
    pub fn with_writers(
        success: Arc<Mutex<dyn Write + Send>>,
        failure: Arc<Mutex<dyn Write + Send>>,
    ) -> LogProcessor {
        LogProcessor { success, failure }
    }
}

impl fmt::Debug for LogProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogProcessor").finish_non_exhaustive()
    }
}

impl Processor for LogProcessor {
    fn name(&self) -> &'static str {
        "log"
    }

    fn validate(&self, config: &ProcessorConfig) -> Result<(), Error> {
        validate_forward("log", config)
    }

    fn process(
        &self,
        execution: &mut ProcessorInput,
        config: &ProcessorConfig,
    ) -> Result<(), Error> {
        let target = if execution.success {
            &self.success
        } else {
            &self.failure
        };
        let text = format!(
            "----- BEGIN OUTPUT job={} execution={} -----\n{}\n----- END OUTPUT -----\n",
            execution.job_name,
            execution.id(),
            execution.output,
        );
        let mut writer = target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Why one write of the whole block: concurrent executions must not interleave lines.
        writer
            .write_all(text.as_bytes())
            .and_then(|()| writer.flush())
            .map_err(|source| Error::ProcessorIo {
                processor: "log",
                path: PathBuf::from(if execution.success {
                    "<stdout>"
                } else {
                    "<stderr>"
                }),
                source,
            })?;
        if !forward(config) {
            execution.output = "Output in dkron log".to_owned();
        }
        Ok(())
    }
}

/// `files`: writes the output to `<log_dir>/<execution id>.log` (the directory is created if
/// missing); without `forward`, the stored output becomes the file's path. Config key `log_dir`
/// overrides the directory given at construction.
#[derive(Debug, Clone)]
pub struct FilesProcessor {
    default_log_dir: PathBuf,
}

impl FilesProcessor {
    /// dkron's default directory.
    pub const DEFAULT_LOG_DIR: &'static str = "/var/log/dkron";

    /// Writes under `default_log_dir` unless a job's config says `log_dir`.
    pub fn new(default_log_dir: impl Into<PathBuf>) -> FilesProcessor {
        FilesProcessor {
            default_log_dir: default_log_dir.into(),
        }
    }
}

impl Processor for FilesProcessor {
    fn name(&self) -> &'static str {
        "files"
    }

    fn validate(&self, config: &ProcessorConfig) -> Result<(), Error> {
        validate_forward("files", config)
    }

    fn process(
        &self,
        execution: &mut ProcessorInput,
        config: &ProcessorConfig,
    ) -> Result<(), Error> {
        let log_dir = match config.get("log_dir").map(String::as_str) {
            None | Some("") => self.default_log_dir.as_path(),
            Some(dir) => Path::new(dir),
        };
        let id = execution.id();
        // Why: the id embeds the node name; a name with `/` must not escape the directory.
        let file_name = format!("{}.log", id.replace(['/', '\0'], "_"));
        let path = log_dir.join(file_name);
        let io_error = |source| Error::ProcessorIo {
            processor: "files",
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(log_dir).map_err(io_error)?;
        std::fs::write(&path, execution.output.as_bytes()).map_err(io_error)?;
        if !forward(config) {
            execution.output = path.display().to_string();
        }
        Ok(())
    }
}
