//! The bounds settings (dkron-rs): ceilings on what a job may ask for, request body sizes, and
//! how many executions (and processes) a node runs at once. Each has a safe default; see docs/operations.md,
//! "Bounds".

use dkron_model::{Ceilings, Limits};
use dkron_node::{DEFAULT_MAX_OUTPUT_STREAMS, ExecutionSlots, Overflow};

use super::{RawConfig, Value, to_int, to_text};

#[cfg(test)]
mod tests;

/// Default `max-request-bytes`: 1 MiB, far above any job (a few KiB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;
/// Default `max-restore-bytes`: 64 MiB, a backup of tens of thousands of jobs.
pub const DEFAULT_MAX_RESTORE_BYTES: usize = 64 << 20;
/// Default `max-backfill-fires`: 1000 instants per backfill call (a minutely job's 16 hours).
pub(super) const DEFAULT_MAX_BACKFILL_FIRES: usize = 1000;

/// The keys of this group.
pub(super) const KEYS: &[&str] = &[
    "max-history-limit",
    "max-output-limit",
    "max-retries",
    "max-job-name-length",
    "max-request-bytes",
    "max-restore-bytes",
    "max-backfill-fires",
    "max-concurrent-executions",
    "max-concurrent-processes",
    "execution-queue",
    "execution-overflow",
    "max-output-streams",
];

/// What one source set of this group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawBounds {
    /// `max-history-limit`.
    pub max_history_limit: Option<u32>,
    /// `max-output-limit` (bytes).
    pub max_output_limit: Option<u64>,
    /// `max-retries`.
    pub max_retries: Option<u32>,
    /// `max-job-name-length` (characters).
    pub max_job_name_length: Option<usize>,
    /// `max-request-bytes`.
    pub max_request_bytes: Option<usize>,
    /// `max-restore-bytes`.
    pub max_restore_bytes: Option<usize>,
    /// `max-backfill-fires`.
    pub max_backfill_fires: Option<usize>,
    /// `max-concurrent-executions`.
    pub max_concurrent_executions: Option<usize>,
    /// `max-concurrent-processes`.
    pub max_concurrent_processes: Option<usize>,
    /// `execution-queue`.
    pub execution_queue: Option<usize>,
    /// `execution-overflow`: `queue` or `fail`.
    pub execution_overflow: Option<Overflow>,
    /// `max-output-streams`.
    pub max_output_streams: Option<usize>,
}

/// The validated bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Largest values a written job may hold.
    pub ceilings: Ceilings,
    /// Largest request body (413 above).
    pub max_request_bytes: usize,
    /// Largest `POST /v1/restore` upload (413 above).
    pub max_restore_bytes: usize,
    /// Most instants one backfill call runs (400 above).
    pub max_backfill_fires: usize,
    /// Executions run at once, the queue, and what happens above them.
    pub execution_slots: ExecutionSlots,
    /// Executions' output streams served at once (503 above).
    pub max_output_streams: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            ceilings: Ceilings::DEFAULT,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_restore_bytes: DEFAULT_MAX_RESTORE_BYTES,
            max_backfill_fires: DEFAULT_MAX_BACKFILL_FIRES,
            execution_slots: ExecutionSlots::DEFAULT,
            max_output_streams: DEFAULT_MAX_OUTPUT_STREAMS,
        }
    }
}

impl RawBounds {
    /// Sets `key` (one of [`KEYS`]) from `value`.
    pub(super) fn set(&mut self, key: &str, value: &Value) -> Result<(), String> {
        // Why i64 bounds: sizes beyond that are no limit at all.
        let count = |min: i64, max: i64| to_int(value, min, max);
        match key {
            "max-history-limit" => {
                self.max_history_limit =
                    Some(u32::try_from(count(1, i64::from(u32::MAX))?).map_err(|e| e.to_string())?);
            }
            "max-output-limit" => {
                self.max_output_limit =
                    Some(u64::try_from(count(0, i64::MAX)?).map_err(|e| e.to_string())?);
            }
            "max-retries" => {
                self.max_retries =
                    Some(u32::try_from(count(0, i64::from(u32::MAX))?).map_err(|e| e.to_string())?);
            }
            "max-job-name-length" => self.max_job_name_length = Some(size(count(1, 65_536)?)?),
            "max-request-bytes" => self.max_request_bytes = Some(size(count(1024, i64::MAX)?)?),
            "max-restore-bytes" => self.max_restore_bytes = Some(size(count(1024, i64::MAX)?)?),
            // The scheduler keeps at most this many buffered backfill fires per job anyway.
            "max-backfill-fires" => self.max_backfill_fires = Some(size(count(1, 1000)?)?),
            "max-concurrent-executions" => {
                self.max_concurrent_executions = Some(size(count(1, 1_000_000)?)?);
            }
            "max-concurrent-processes" => {
                self.max_concurrent_processes = Some(size(count(1, 1_000_000)?)?);
            }
            "execution-queue" => self.execution_queue = Some(size(count(0, 1_000_000)?)?),
            "max-output-streams" => self.max_output_streams = Some(size(count(1, 1_000_000)?)?),
            "execution-overflow" => {
                let text = to_text(value)?;
                self.execution_overflow = Some(match text.to_ascii_lowercase().as_str() {
                    "queue" => Overflow::Queue,
                    "fail" => Overflow::Fail,
                    _ => return Err(format!("{text:?} is not queue or fail")),
                });
            }
            _ => return Err("unknown setting".to_owned()),
        }
        Ok(())
    }
}

fn size(number: i64) -> Result<usize, String> {
    usize::try_from(number).map_err(|e| e.to_string())
}

impl Bounds {
    /// Layers the sources (the first that sets a key wins) over the defaults; checks that the
    /// per-job defaults a job without its own limits uses stay within the ceilings.
    pub(super) fn resolve(layers: &[RawConfig; 3], problems: &mut Vec<String>) -> Bounds {
        fn pick<T: Copy>(
            layers: &[RawConfig; 3],
            get: impl Fn(&RawBounds) -> Option<T>,
        ) -> Option<T> {
            layers.iter().find_map(|l| get(&l.bounds))
        }
        let defaults = Bounds::default();
        let ceilings = Ceilings {
            history_limit: pick(layers, |b| b.max_history_limit)
                .unwrap_or(defaults.ceilings.history_limit),
            output_limit: pick(layers, |b| b.max_output_limit)
                .unwrap_or(defaults.ceilings.output_limit),
            retries: pick(layers, |b| b.max_retries).unwrap_or(defaults.ceilings.retries),
            name_length: pick(layers, |b| b.max_job_name_length)
                .unwrap_or(defaults.ceilings.name_length),
        };
        let node_defaults = Limits::DKRON;
        if ceilings.history_limit < node_defaults.history {
            problems.push(format!(
                "max-history-limit {} is below the default history limit of {} executions a job without its own uses",
                ceilings.history_limit, node_defaults.history
            ));
        }
        if ceilings.output_limit < node_defaults.output_bytes {
            problems.push(format!(
                "max-output-limit {} is below the default output limit of {} bytes a job without its own uses",
                ceilings.output_limit, node_defaults.output_bytes
            ));
        }
        Bounds {
            ceilings,
            max_request_bytes: pick(layers, |b| b.max_request_bytes)
                .unwrap_or(defaults.max_request_bytes),
            max_restore_bytes: pick(layers, |b| b.max_restore_bytes)
                .unwrap_or(defaults.max_restore_bytes),
            max_backfill_fires: pick(layers, |b| b.max_backfill_fires)
                .unwrap_or(defaults.max_backfill_fires),
            execution_slots: ExecutionSlots {
                max_concurrent: pick(layers, |b| b.max_concurrent_executions)
                    .unwrap_or(defaults.execution_slots.max_concurrent),
                max_processes: pick(layers, |b| b.max_concurrent_processes)
                    .unwrap_or(defaults.execution_slots.max_processes),
                queue: pick(layers, |b| b.execution_queue)
                    .unwrap_or(defaults.execution_slots.queue),
                overflow: pick(layers, |b| b.execution_overflow)
                    .unwrap_or(defaults.execution_slots.overflow),
            },
            max_output_streams: pick(layers, |b| b.max_output_streams)
                .unwrap_or(defaults.max_output_streams),
        }
    }
}
