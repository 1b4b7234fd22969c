//! Embeds `dkron-scheduler` in a small tokio service: two jobs, one run by a Rust closure and one
//! by the built-in shell executor, each run printed as it finishes.
//!
//! Run it from the repository root (it stops by itself after the given seconds, default 7):
//!
//! ```text
//! cargo run -p dkron-example-embed-scheduler -- 7
//! ```
//!
//! What it shows: the in-memory defaults ([`MemoryStore`] as job source, launch log and
//! execution sink), a custom executor registered next to `shell` and `http`, an
//! [`ExecutionSink`] that prints, and a bounded graceful shutdown.

#![expect(clippy::print_stdout, reason = "an example prints what it does")]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use dkron_executor::{
    BoxFuture, ExecutionOutcome, ExecutionRequest, Executor, ExecutorConfig, ExecutorRegistry,
};
use dkron_model::{Execution, Job};
use dkron_scheduler::{BoxError, ExecutionSink, ExecutorDispatch, MemoryStore, Scheduler};
use jiff::Timestamp;

/// An executor backed by a Rust closure: the job's `executor: "greet"` runs it in-process.
struct ClosureExecutor {
    greet: Box<dyn Fn(&str) -> String + Send + Sync>,
}

impl std::fmt::Debug for ClosureExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClosureExecutor")
    }
}

impl Executor for ClosureExecutor {
    fn name(&self) -> &'static str {
        "greet"
    }

    fn validate(&self, _config: &ExecutorConfig) -> Result<(), dkron_executor::Error> {
        Ok(())
    }

    fn execute<'a>(&'a self, request: ExecutionRequest<'a>) -> BoxFuture<'a, ExecutionOutcome> {
        Box::pin(async move {
            let started_at = Timestamp::now();
            let whom = request.config.get("whom").map_or("world", String::as_str);
            let output = (self.greet)(whom);
            ExecutionOutcome {
                success: true,
                exit_code: None,
                http_status: None,
                output_total_bytes: output.len() as u64,
                output,
                output_truncated: false,
                stopped: None,
                started_at,
                finished_at: Timestamp::now(),
                error: None,
            }
        })
    }
}

/// Prints each finished execution, then keeps it in the store.
#[derive(Debug)]
struct PrintingSink {
    store: Arc<MemoryStore>,
}

impl ExecutionSink for PrintingSink {
    fn record_execution<'a>(
        &'a self,
        execution: &'a Execution,
    ) -> dkron_scheduler::BoxFuture<'a, Result<(), BoxError>> {
        let late = execution
            .scheduled_at
            .map(|at| execution.started_at.duration_since(at).as_secs_f64() * 1000.0);
        println!(
            "{} {:<8} {} attempt {} {} (started {:.1} ms after its slot): {}",
            execution.started_at,
            execution.job_name,
            execution.trigger,
            execution.attempt,
            if execution.success { "ok" } else { "FAILED" },
            late.unwrap_or(0.0),
            execution.output.trim_end(),
        );
        self.store.record_execution(execution)
    }
}

fn greeter() -> Job {
    let mut job = Job::new("greeter");
    job.schedule = "@every 2s".into();
    job.executor = "greet".into();
    job.executor_config
        .insert("whom".into(), "embedded scheduler".into());
    job
}

fn shell_job() -> Job {
    let mut job = Job::new("shell");
    job.schedule = "*/3 * * * * *".into();
    job.executor = "shell".into();
    job.executor_config.insert("shell".into(), "true".into());
    job.executor_config
        .insert("command".into(), "echo hello from $(uname -s) shell".into());
    job
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 7,
    };

    let counter = AtomicU64::new(0);
    let mut registry = ExecutorRegistry::with_defaults();
    registry.register(Arc::new(ClosureExecutor {
        greet: Box::new(move |whom| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            format!("hello, {whom} (greeting #{n})")
        }),
    }));

    let store = Arc::new(MemoryStore::new());
    let scheduler = Scheduler::builder()
        .job_source(store.clone())
        .launch_log(store.clone())
        .execution_sink(Arc::new(PrintingSink {
            store: Arc::clone(&store),
        }))
        .dispatch(Arc::new(ExecutorDispatch::new(registry)))
        .start()
        .await?;
    scheduler.upsert(greeter()).await?;
    scheduler.upsert(shell_job()).await?;
    println!(
        "scheduler running for {seconds} s with jobs `greeter` (@every 2s) and `shell` (*/3 * * * * *)"
    );

    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let report = scheduler.shutdown(Duration::from_secs(5)).await;
    let stats = scheduler.stats();
    println!(
        "stopped (drained: {}); fires launched: {}, dispatched: {}, executions kept: greeter {}, shell {}",
        report.drained,
        stats.scheduled,
        stats.dispatched,
        store.executions("greeter").len(),
        store.executions("shell").len(),
    );
    Ok(())
}
