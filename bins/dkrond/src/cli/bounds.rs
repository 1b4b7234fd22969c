//! The bounds flags of `dkrond agent` (see `config::Bounds`).

use clap::Args;

use crate::config::{RawConfig, Value};

/// Ceilings on jobs, request sizes and execution slots. Each is also `DKRON_<KEY>` and a
/// config file key.
#[derive(Debug, Clone, Args, Default)]
pub struct BoundsArgs {
    /// Largest `history_limit` a job may set; a job without one keeps 100 [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_history_limit: Option<String>,
    /// Largest `output_limit` (bytes) a job may set; a job without one keeps 256000
    /// [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub max_output_limit: Option<String>,
    /// Largest `retries` a job may set [default: 100].
    #[arg(long, value_name = "N")]
    pub max_retries: Option<String>,
    /// Longest job `name` and `displayname`, in characters [default: 255].
    #[arg(long, value_name = "N")]
    pub max_job_name_length: Option<String>,
    /// Largest HTTP API request body, in bytes; larger ones get 413 [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub max_request_bytes: Option<String>,
    /// Largest `POST /v1/restore` upload, in bytes; larger ones get 413 [default: 67108864].
    #[arg(long, value_name = "BYTES")]
    pub max_restore_bytes: Option<String>,
    /// Most scheduled instants one `POST /v1/jobs/{job}/backfill` (or the web UI's backfill
    /// form) runs, 1 to 1000; a larger range gets 400 [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_backfill_fires: Option<String>,
    /// Executions this node runs at once, of every executor [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_concurrent_executions: Option<String>,
    /// Of those, executions that start a process (`shell`) at once; an `http` execution is a
    /// request from this process and does not count [default: 64].
    #[arg(long, value_name = "N")]
    pub max_concurrent_processes: Option<String>,
    /// Executions that may wait for a free slot when --execution-overflow is queue
    /// [default: 1024].
    #[arg(long, value_name = "N")]
    pub execution_queue: Option<String>,
    /// When every slot is taken: `queue` (wait while the queue has room, else fail) or `fail`
    /// (the execution is recorded as failed, saying why) [default: queue].
    #[arg(long, value_name = "POLICY")]
    pub execution_overflow: Option<String>,
    /// Executions' live output streams this node serves at once (API and UI clients, and
    /// relays to other servers); more get 503 [default: 64].
    #[arg(long, value_name = "N")]
    pub max_output_streams: Option<String>,
}

impl BoundsArgs {
    /// Adds the flags given to `raw`.
    pub fn add_to(&self, raw: &mut RawConfig) {
        let texts = [
            ("max-history-limit", &self.max_history_limit),
            ("max-output-limit", &self.max_output_limit),
            ("max-retries", &self.max_retries),
            ("max-job-name-length", &self.max_job_name_length),
            ("max-request-bytes", &self.max_request_bytes),
            ("max-restore-bytes", &self.max_restore_bytes),
            ("max-backfill-fires", &self.max_backfill_fires),
            ("max-concurrent-executions", &self.max_concurrent_executions),
            ("max-concurrent-processes", &self.max_concurrent_processes),
            ("execution-queue", &self.execution_queue),
            ("execution-overflow", &self.execution_overflow),
            ("max-output-streams", &self.max_output_streams),
        ];
        for (key, value) in texts {
            if let Some(text) = value {
                raw.set(key, Value::Text(text.clone()), &format!("flag --{key}"));
            }
        }
    }
}
