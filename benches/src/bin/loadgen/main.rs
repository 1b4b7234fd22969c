//! `loadgen`: the end-to-end load harness. It starts its own release `dkrond` processes on
//! 127.0.0.1 (temp data dirs), drives them through the REST API, counts the runs of their `http`
//! jobs at a local sink, shows a progress line, prints a table, writes JSON and an SVG plot, and
//! SIGKILLs every process it started (by PID) at the end, on an error and on Ctrl-C.
//!
//! ```text
//! cargo build --release -p dkrond
//! cargo run --release -p dkron-benches --features loadgen --bin loadgen -- sustain --duration 300
//! ```
//!
//! Scenarios (docs/benchmarks.md, "End-to-end load harness", says what each measures):
//! `sustain`, `scale`, `failover`, `cold-start`, `memory`, `overload`.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the harness's product is its progress line, table and file paths"
)]

mod procs;
mod report;
mod scenarios;
mod sink;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{Parser, ValueEnum};

type Result<T> = std::result::Result<T, String>;

/// End-to-end load harness: real dkrond processes on 127.0.0.1, http jobs counted at a local sink.
#[derive(Parser, Debug, Clone)]
#[command(name = "loadgen")]
struct Args {
    /// What to run.
    scenario: Scenario,
    /// Jobs (default per scenario: sustain/failover 1000, scale 100000, cold-start/memory
    /// 100000, overload 4000).
    #[arg(long)]
    jobs: Option<usize>,
    /// Measured seconds (sustain 300, scale 120, overload: the overloaded phase, 120).
    #[arg(long)]
    duration: Option<u64>,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// overload: seconds of the second phase, with half of the jobs disabled.
    #[arg(long, default_value_t = 120)]
    low: u64,
    /// failover, cold-start: repetitions (a fresh cluster each for failover).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Where the JSON goes (the SVG next to it, `.svg`); default
    /// `<target dir>/loadgen/<scenario>-<unix time>.json`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The dkrond binary; default `$DKROND`, else `<target dir>/release/dkrond`.
    #[arg(long)]
    dkrond: Option<PathBuf>,
    /// Concurrent HTTP clients creating jobs.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// scale: create the jobs at most this many a second. Default: spread over one period
    /// (`--jobs` / 60 a second), so each second of the minute fires the same number of jobs
    /// (an `@every 60s` job fires in the second it was created); 0: as fast as the API takes
    /// them, which puts thousands of fires on each second of creation and none on the rest.
    #[arg(long)]
    create_rate: Option<f64>,
    /// sustain, scale, overload: keep the nodes' data dirs and logs after a successful run
    /// (their path is printed), to read what the servers logged.
    #[arg(long)]
    keep: bool,
    /// Hard bound on the whole run in seconds: past it every process is killed and the run fails.
    #[arg(long, default_value_t = 3600)]
    limit: u64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// N jobs `@every 1s` on 3 servers + 1 agent: missed, duplicated, lateness, leader RSS.
    Sustain,
    /// N jobs `@every 60s` on 3 servers + 1 agent.
    Scale,
    /// The sustain load, then kill -9 of the leader: time to the next fire, duplicates.
    Failover,
    /// N stored jobs on 1 server: kill -9, restart, time to the first API read and first fire.
    ColdStart,
    /// RSS per stored job at N jobs on 1 server (and after a restart).
    Memory,
    /// N jobs `@every 1s` (past capacity) for `--duration`, then half disabled for `--low`.
    Overload,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Sustain => "sustain",
            Scenario::Scale => "scale",
            Scenario::Failover => "failover",
            Scenario::ColdStart => "cold-start",
            Scenario::Memory => "memory",
            Scenario::Overload => "overload",
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // reqwest is built without a default TLS provider; plain http still asks for one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let bin = args
        .dkrond
        .clone()
        .or_else(|| std::env::var_os("DKROND").map(PathBuf::from))
        .unwrap_or_else(|| target.join("release/dkrond"));
    if !bin.is_file() {
        eprintln!(
            "loadgen: no dkrond binary at {} (--dkrond, or `cargo build --release -p dkrond` first)",
            bin.display()
        );
        return ExitCode::FAILURE;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        target.join(format!(
            "loadgen/{}-{}.json",
            args.scenario.name(),
            sink::now_ns() / 1_000_000_000
        ))
    });
    // The harness stays light: the servers need the 2 cores more (perf-anchors §5).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadgen: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let limit = Duration::from_secs(args.limit);
    let result = runtime.block_on(async {
        // Dropping the scenario's future drops its cluster, which SIGKILLs and reaps each child.
        tokio::select! {
            result = tokio::time::timeout(limit, scenarios::run(&args, &bin)) => {
                result.unwrap_or_else(|_| Err(format!("run exceeded --limit {}s", args.limit)))
            }
            _ = tokio::signal::ctrl_c() => Err("interrupted (Ctrl-C): every dkrond stopped".to_owned()),
        }
    });
    match result {
        Ok(mut report) => {
            println!("\n{} ({})", args.scenario.name(), report.headline);
            print!("{}", report::table(&report.rows));
            report.json["command"] = serde_json::json!(std::env::args().collect::<Vec<_>>());
            report.json["machine"] = scenarios::machine();
            if let Some(dir) = out.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let svg_path = out.with_extension("svg");
            let text = serde_json::to_string_pretty(&report.json).unwrap_or_default();
            match std::fs::write(&out, text).and_then(|()| std::fs::write(&svg_path, &report.svg)) {
                Ok(()) => println!("JSON: {}\nplot: {}", out.display(), svg_path.display()),
                Err(error) => eprintln!("loadgen: cannot write {}: {error}", out.display()),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("\nloadgen: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What a scenario hands back: the table's rows, the JSON and the plot.
#[derive(Debug)]
pub(crate) struct Report {
    headline: String,
    rows: Vec<(String, String)>,
    json: serde_json::Value,
    svg: String,
}

pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> Result<serde_json::Value> {
    let response = client
        .get(url)
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
}

pub(crate) async fn post(client: &reqwest::Client, url: &str, body: String) -> Result<()> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    let reply = response.bytes().await.unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!(
            "POST {url}: {status} {}",
            String::from_utf8_lossy(&reply)
        ))
    }
}
