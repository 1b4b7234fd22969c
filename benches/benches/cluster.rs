//! Cluster figures from real `dkrond` processes on 127.0.0.1: leader failover (kill -9 of the
//! leader, time to a new leader and to the next job fire), job upserts sent to a follower next
//! to the same upserts sent to the leader, and manual runs dispatched by the leader to an agent
//! next to the same runs executed by the leader itself.
//!
//! Run (the bench drives a release `dkrond`; build it first):
//!
//! ```text
//! cargo build --release -p dkrond
//! cargo bench -p dkron-benches --features cluster --bench cluster
//! ```
//!
//! Settings, all from the environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DKROND` | `$CARGO_TARGET_DIR/release/dkrond`, else `<workspace>/target/release/dkrond` | the binary |
//! | `RUNS` | 5 | failover runs, a fresh 3-server cluster each |
//! | `UPSERTS` | 2000 | upserts per round and target |
//! | `CLIENTS` | 16 | concurrent HTTP clients of the upsert and dispatch rounds |
//! | `ONLY` | all three | `failover`, `upserts` or `dispatch` |
//! | `DISPATCH_RUNS` | 1000 | manual runs per dispatch round |
//! | `DISPATCH_JOBS` | 20 | jobs per dispatch round (at most 100 runs each: a job's default history) |
//! | `SERVERS` | 3 | `1`: one `--bootstrap-expect 1` server, upserts to it only (a smoke run) |
//! | `MISFIRE` | (job default, `skip`) | `misfire_policy` of the failover jobs, e.g. `run_once` |
//!
//! Not criterion: a failover is seconds long and costs a whole cluster, so each run prints one
//! line and the medians come at the end.
//!
//! Cluster: s1 starts with `--bootstrap-expect 1`, s2 and s3 with `--bootstrap-expect 0 --join
//! <s1 rpc>`; a cluster counts as formed when `/v1/members` on every server lists 3 members
//! `alive`. Each server has its own data dir `<tmp>/sN` and its stderr in `<tmp>/sN.log`. When a
//! cluster does not form, or a run fails later, the tail of every log is printed and `<tmp>` is
//! kept.
//!
//! Failover: 20 jobs `@every 1s` (`shell`, `true`) created through the leader; once each has run,
//! the leader's process gets SIGKILL. "kill→leader" is when both survivors' `/v1/leader` (polled
//! every 10 ms) name the same other server. "kill→next fire" is the earliest `started_at` among
//! the executions that started after the kill, minus the wall-clock time of the kill (same
//! machine, same clock). "leader→next fire" is their difference, negative if a fire came first.
//! `@every 1s` fires on whole seconds, so kill→next fire depends on where in the second the
//! kill falls: run k of R kills (k − ½)/R s after a tick, so that some elections span a due
//! fire. Each line also gives how late the first post-kill fires ran against their
//! `scheduled_at`, how many executions repeat a (`scheduled_at`, `attempt`) of the same job
//! (duplicate runs, over each job's whole history), and how many due ticks no execution covers
//! (dropped, not run late: the default `misfire_policy` `skip`, as dkron; `MISFIRE=run_once`
//! runs them late instead).
//!
//! Dispatch: server s1 (`--bootstrap-expect 1 --tag pool=server`) and agent a1 (no `--server`,
//! `--retry-join <s1 rpc> --tag pool=agent`), formed when s1's `/v1/members` lists both alive.
//! A round creates `DISPATCH_JOBS` fresh `@manually` jobs tagged for one target (`pool=agent`:
//! a1 runs them; `pool=server`: the leader s1 runs them itself), fires `DISPATCH_RUNS` manual
//! runs (`POST /v1/jobs/<job>/run`, round-robin over the jobs) from `CLIENTS` clients, and polls
//! the jobs' executions every 50 ms. Its figure is runs ÷ (first run request → the poll that
//! sees every run finished); the line also gives runs ÷ (first request → latest
//! `finished_at`), free of the poll period, and a round fails if any execution ran on another
//! node. Executors: `shell` running `/bin/true`, then `http` GETting a hyper sink in this
//! process. Per executor: one uncounted warm-up round per target, then 3 rounds alternating
//! agent and local (the first target alternates too), medians, and the agent/local ratio of each
//! round, whose median is held against the goal agent ≥ 0.8 × local.
//!
//! Bounds: at most 3 children at a time, every wait has a deadline, and every child is killed
//! and reaped when its [`Server`] is dropped (also on a panic).
#![expect(
    clippy::print_stdout,
    reason = "the bench's product is its per-run lines and medians"
)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use jiff::Timestamp;
use tokio::task::JoinSet;

/// How long a server may take to write its ports file (first RocksDB open).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long 3 servers may take to see each other alive.
const FORM_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a failover step (new leader, next fire, first runs) may take before the run fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Jobs of a failover run.
const FAILOVER_JOBS: usize = 20;
/// Leader polling period after the kill (the brief's resolution for kill→leader).
const LEADER_POLL: Duration = Duration::from_millis(10);
/// Executions polling period: it bounds only how soon a fire is seen, not the figure, which
/// comes from the recorded `started_at`.
const EXECUTIONS_POLL: Duration = Duration::from_millis(100);
/// Upsert rounds (leader, then follower, each round).
const ROUNDS: usize = 3;

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    // reqwest is built without a default TLS provider; plain http still asks for one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bin = dkrond_path();
    if !bin.is_file() {
        eprintln!(
            "cluster-bench: no dkrond binary at {} (set DKROND, or run `cargo build --release -p dkrond` first)",
            bin.display()
        );
        return ExitCode::FAILURE;
    }
    let settings = Settings {
        bin,
        runs: env_usize("RUNS", 5),
        upserts: env_usize("UPSERTS", 2000),
        clients: env_usize("CLIENTS", 16).max(1),
        servers: if env_usize("SERVERS", 3) == 1 { 1 } else { 3 },
        misfire: std::env::var("MISFIRE").ok().filter(|m| !m.is_empty()),
        dispatch_runs: env_usize("DISPATCH_RUNS", 1000).max(1),
        dispatch_jobs: env_usize("DISPATCH_JOBS", 20).max(1),
    };
    let only = std::env::var("ONLY").unwrap_or_default();
    if !["", "failover", "upserts", "dispatch"].contains(&only.as_str()) {
        eprintln!("cluster-bench: ONLY={only}: expected failover, upserts or dispatch");
        return ExitCode::FAILURE;
    }
    let selected = |scenario: &str| only.is_empty() || only == scenario;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cluster-bench: no tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "cluster-bench: dkrond {}, {} server(s)",
        settings.bin.display(),
        settings.servers
    );
    let mut ok = true;
    runtime.block_on(async {
        if selected("failover") {
            ok &= failover(&settings).await;
        }
        if selected("upserts") {
            ok &= upserts(&settings).await;
        }
        if selected("dispatch") {
            ok &= dispatch(&settings).await;
        }
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

struct Settings {
    bin: PathBuf,
    runs: usize,
    upserts: usize,
    clients: usize,
    servers: usize,
    /// `misfire_policy` of the failover jobs (None: the job default).
    misfire: Option<String>,
    /// Manual runs per dispatch round, spread over `dispatch_jobs` jobs.
    dispatch_runs: usize,
    dispatch_jobs: usize,
}

/// `DKROND`, else the release binary of this workspace's target dir. Why not `./target`: cargo
/// runs a bench with the package dir (`benches/`) as its working directory.
fn dkrond_path() -> PathBuf {
    if let Some(path) = std::env::var_os("DKROND") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("release/dkrond")
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The cluster key every node of the bench shares (16 bytes, base64, as `dkrond keygen`).
const CLUSTER_KEY: &str = "YmVuY2gtY2x1c3Rlci1reQ==";

/// One `dkrond agent` process (a server, or an agent without `--server`); killed (SIGKILL) and
/// reaped on drop.
struct Server {
    name: String,
    child: Option<Child>,
    /// `127.0.0.1:0` for an agent, which serves no HTTP API.
    http: SocketAddr,
    rpc: String,
    log: PathBuf,
}

impl Server {
    /// Starts server `name` with data dir `<dir>/<name>` and stderr in `<dir>/<name>.log`, and
    /// waits for its ports file.
    async fn start(bin: &Path, dir: &Path, name: &str, cluster: &[&str]) -> Result<Server> {
        let mut args = vec!["agent", "--server", "--node-name", name];
        args.extend_from_slice(cluster);
        args.extend(["--http-addr", "127.0.0.1:0", "--rpc-port", "0"]);
        Server::spawn(bin, dir, name, &args, true).await
    }

    /// Starts agent `name` (no `--server`) joining the server at peer RPC `join`, with tag
    /// `tag` (`key=value`); same data dir and log layout as [`Server::start`].
    async fn start_agent(
        bin: &Path,
        dir: &Path,
        name: &str,
        join: &str,
        tag: &str,
    ) -> Result<Server> {
        let args = [
            "agent",
            "--node-name",
            name,
            "--rpc-port",
            "0",
            "--retry-join",
            join,
            "--tag",
            tag,
        ];
        Server::spawn(bin, dir, name, &args, false).await
    }

    /// Runs `bin args --data-dir <dir>/<name>` and waits for its ports file, which names an
    /// `http` address only when `serves_http`.
    async fn spawn(
        bin: &Path,
        dir: &Path,
        name: &str,
        args: &[&str],
        serves_http: bool,
    ) -> Result<Server> {
        let data = dir.join(name);
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(bin)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("RUST_LOG")
            .env_remove("DKRON_HTTP_ADDR")
            // Servers that join and agents need the cluster key: one for the whole bench.
            .env("DKRON_ENCRYPT", CLUSTER_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = Server {
            name: name.to_owned(),
            child: Some(child),
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            rpc: String::new(),
            log,
        };
        let ports_file = data.join("dkrond.ports.json");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "{name} exited at start with {status}:\n{}",
                    server.log_tail()
                ));
            }
            if let Some((http, rpc)) = read_ports(&ports_file, serves_http) {
                if let Some(http) = http {
                    server.http = http;
                }
                server.rpc = rpc;
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{name} wrote no ports file within {START_TIMEOUT:?}:\n{}",
                    server.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("--- {} ({}) ---\n{tail}", self.name, self.log.display())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `http` (when `serves_http`, else None) and `rpc` addresses of a ports file.
fn read_ports(path: &Path, serves_http: bool) -> Option<(Option<SocketAddr>, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
    let http = if serves_http {
        Some(ports["http"].as_str()?.parse().ok()?)
    } else {
        None
    };
    Some((http, ports["rpc"].as_str()?.to_owned()))
}

/// Servers s1..sN and the directory holding their data and logs. Field order: the servers are
/// dropped (killed) before the directory is removed.
struct Cluster {
    servers: Vec<Server>,
    dir: Option<tempfile::TempDir>,
}

/// What [`Cluster::start`] starts.
#[derive(Clone, Copy)]
enum Shape {
    /// Servers s1..sN (1 or 3), untagged.
    Servers(usize),
    /// Server s1 tagged `pool=server` and agent a1 tagged `pool=agent`.
    ServerAndAgent,
}

impl Cluster {
    /// Starts the nodes of `shape` and waits until each server lists all of them alive.
    async fn start(bin: &Path, client: &reqwest::Client, shape: Shape) -> Result<Cluster> {
        let dir = tempfile::Builder::new()
            .prefix("dkron-cluster-bench")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let mut cluster = Cluster {
            servers: Vec::new(),
            dir: Some(dir),
        };
        match cluster.form(bin, client, shape).await {
            Ok(()) => Ok(cluster),
            Err(error) => Err(cluster.fail(&error)),
        }
    }

    /// Stops the servers and keeps their directory for a look after the run; returns `error`
    /// with the tail of every log.
    fn fail(mut self, error: &str) -> String {
        let logs: Vec<String> = self.servers.iter().map(Server::log_tail).collect();
        self.servers.clear();
        let kept = self.dir.take().map(tempfile::TempDir::keep);
        format!(
            "{error}\n{}\n(data and logs kept in {})",
            logs.join("\n"),
            kept.map_or_else(String::new, |p| p.display().to_string())
        )
    }

    async fn form(&mut self, bin: &Path, client: &reqwest::Client, shape: Shape) -> Result<()> {
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default();
        match shape {
            Shape::Servers(size) => {
                let first = Server::start(bin, &dir, "s1", &["--bootstrap-expect", "1"]).await?;
                let join = first.rpc.clone();
                self.servers.push(first);
                for i in 2..=size {
                    let name = format!("s{i}");
                    let flags = ["--bootstrap-expect", "0", "--join", &join];
                    self.servers
                        .push(Server::start(bin, &dir, &name, &flags).await?);
                }
            }
            Shape::ServerAndAgent => {
                let flags = ["--bootstrap-expect", "1", "--tag", "pool=server"];
                let server = Server::start(bin, &dir, "s1", &flags).await?;
                let join = server.rpc.clone();
                self.servers.push(server);
                self.servers
                    .push(Server::start_agent(bin, &dir, "a1", &join, "pool=agent").await?);
            }
        }
        let size = self.servers.len();
        let deadline = Instant::now() + FORM_TIMEOUT;
        // Agents serve no `/v1/members`; the servers' view is the one jobs are placed by.
        for server in self.servers.iter().filter(|s| s.http.port() != 0) {
            loop {
                let alive = get_json(client, &server.url("/v1/members"))
                    .await
                    .ok()
                    .map(|m| {
                        m.as_array().map_or(0, |list| {
                            list.iter().filter(|m| m["statusText"] == "alive").count()
                        })
                    });
                if alive == Some(size) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "cluster did not form within {FORM_TIMEOUT:?}: {} sees {alive:?} alive members",
                        server.name
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// The index of the server that `/v1/leader` on server `on` names.
    async fn leader_seen_by(&self, client: &reqwest::Client, on: usize) -> Option<usize> {
        let leader = get_json(client, &self.servers[on].url("/v1/leader"))
            .await
            .ok()?;
        let name = leader["Name"].as_str()?;
        self.servers.iter().position(|s| s.name == name)
    }

    /// Waits until server 0 names a leader.
    async fn leader(&self, client: &reqwest::Client) -> Result<usize> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(leader) = self.leader_seen_by(client, 0).await {
                return Ok(leader);
            }
            if Instant::now() > deadline {
                return Err(format!("no leader within {STEP_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        // Bounds every request, so a server that stops answering fails the run instead of
        // hanging it; polls use a shorter one (`get_json`).
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<serde_json::Value> {
    // Short: a request caught mid-flight by the kill must not hold up the 10 ms leader poll
    // for long.
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

/// Upserts a `shell` job running `true`; `extra` is more JSON members (`,"key":value`) or "".
async fn create_job(
    client: &reqwest::Client,
    url: &str,
    name: &str,
    schedule: &str,
    extra: &str,
) -> Result<()> {
    let body = format!(
        r#"{{"name":"{name}","schedule":"{schedule}","executor":"shell","executor_config":{{"command":"true"}}{extra}}}"#
    );
    post(client, url, body)
        .await
        .map_err(|e| format!("job {name}: {e}"))
}

/// One execution, as much of it as the failover figures use.
#[derive(Clone, Debug)]
struct Fire {
    started: Timestamp,
    scheduled: Option<Timestamp>,
    attempt: i64,
    node: String,
}

impl Fire {
    /// `started_at − scheduled_at` in ms: how late the fire ran (NaN without `scheduled_at`).
    fn lateness_ms(&self) -> f64 {
        self.scheduled.map_or(f64::NAN, |scheduled| {
            self.started.duration_since(scheduled).as_secs_f64() * 1000.0
        })
    }
}

/// Every execution of `job` on the server at `http`.
async fn fires_of(client: &reqwest::Client, http: SocketAddr, job: &str) -> Vec<Fire> {
    let url = format!("http://{http}/v1/jobs/{job}/executions");
    let Ok(list) = get_json(client, &url).await else {
        return Vec::new();
    };
    let time = |e: &serde_json::Value, key: &str| e[key].as_str()?.parse().ok();
    list.as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| {
                    Some(Fire {
                        started: time(e, "started_at")?,
                        scheduled: time(e, "scheduled_at"),
                        attempt: e["attempt"].as_i64().unwrap_or(0),
                        node: e["node_name"].as_str().unwrap_or("?").to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a job's executions show around an instant: its first fire after it, and the
/// `scheduled_at` of its last fire before it.
#[derive(Clone, Debug, Default)]
struct AroundKill {
    first_after: Option<Fire>,
    last_scheduled_before: Option<Timestamp>,
    /// Executions beyond the first with the same `scheduled_at` and `attempt`: a fire run twice
    /// (a retry has a higher attempt and is not counted).
    duplicates: usize,
}

impl AroundKill {
    /// Ticks of a 1 s schedule that no execution covers between the last fire before the kill
    /// and the first one after it (a fire due during the election that was dropped, not run
    /// late).
    fn skipped_ticks(&self) -> Option<i64> {
        let before = self.last_scheduled_before?;
        let after = self.first_after.as_ref()?.scheduled?;
        let gap = after.duration_since(before).as_secs_f64();
        Some(gap.round() as i64 - 1)
    }
}

/// Per job, its fires around `at` (with `None`, every fire counts as after).
async fn fires_around(
    client: &reqwest::Client,
    http: SocketAddr,
    jobs: &[String],
    at: Option<Timestamp>,
) -> Vec<AroundKill> {
    let mut set = JoinSet::new();
    for (i, job) in jobs.iter().enumerate() {
        let (client, job) = (client.clone(), job.clone());
        set.spawn(async move {
            let fires = fires_of(&client, http, &job).await;
            let after = |f: &Fire| at.is_none_or(|at| f.started > at);
            let mut slots: Vec<_> = fires.iter().map(|f| (f.scheduled, f.attempt)).collect();
            let all = slots.len();
            slots.sort_unstable();
            slots.dedup();
            let around = AroundKill {
                duplicates: all - slots.len(),
                last_scheduled_before: fires
                    .iter()
                    .filter(|f| !after(f))
                    .filter_map(|f| f.scheduled)
                    .max(),
                first_after: fires
                    .into_iter()
                    .filter(|f| after(f))
                    .min_by_key(|f| f.started),
            };
            (i, around)
        });
    }
    let mut out = vec![AroundKill::default(); jobs.len()];
    while let Some(Ok((i, around))) = set.join_next().await {
        out[i] = around;
    }
    out
}

struct FailoverRun {
    kill_to_leader: Duration,
    kill_to_fire: f64,
}

async fn failover(settings: &Settings) -> bool {
    if settings.servers < 3 {
        println!("failover: skipped (needs SERVERS=3)");
        return true;
    }
    let client = http_client();
    let extra = settings
        .misfire
        .as_ref()
        .map_or_else(String::new, |m| format!(r#","misfire_policy":"{m}""#));
    if let Some(misfire) = &settings.misfire {
        println!("failover: jobs with misfire_policy {misfire}");
    }
    let mut runs = Vec::new();
    for run in 1..=settings.runs {
        // `@every 1s` fires on whole seconds (dkron-cron): the kill falls `phase` after a
        // fire, spread over the second across runs, so some elections span a due fire.
        let phase = Duration::from_secs_f64((run as f64 - 0.5) / settings.runs as f64);
        match failover_run(&settings.bin, &client, phase, &extra).await {
            Ok((line, figures)) => {
                println!("failover run {run}/{}: {line}", settings.runs);
                runs.push(figures);
            }
            Err(error) => println!("failover run {run}/{}: FAILED: {error}", settings.runs),
        }
    }
    if runs.is_empty() {
        println!("failover: no successful run");
        return false;
    }
    let leader: Vec<f64> = runs.iter().map(|r| millis(r.kill_to_leader)).collect();
    let fire: Vec<f64> = runs.iter().map(|r| r.kill_to_fire).collect();
    let after: Vec<f64> = runs
        .iter()
        .map(|r| r.kill_to_fire - millis(r.kill_to_leader))
        .collect();
    println!(
        "failover medians over {}/{} runs: kill→leader {:.0} ms, kill→next fire {:.0} ms, leader→next fire {:.0} ms",
        runs.len(),
        settings.runs,
        median(leader),
        median(fire),
        median(after),
    );
    runs.len() == settings.runs
}

/// One failover on a fresh cluster: the line to print and its figures.
async fn failover_run(
    bin: &Path,
    client: &reqwest::Client,
    phase: Duration,
    extra: &str,
) -> Result<(String, FailoverRun)> {
    let mut cluster = Cluster::start(bin, client, Shape::Servers(3)).await?;
    match failover_steps(&mut cluster, client, phase, extra).await {
        Ok(done) => Ok(done),
        Err(error) => Err(cluster.fail(&error)),
    }
}

async fn failover_steps(
    cluster: &mut Cluster,
    client: &reqwest::Client,
    phase: Duration,
    extra: &str,
) -> Result<(String, FailoverRun)> {
    let leader = cluster.leader(client).await?;
    let jobs: Vec<String> = (0..FAILOVER_JOBS).map(|i| format!("fo-{i:02}")).collect();
    let jobs_url = cluster.servers[leader].url("/v1/jobs");
    for job in &jobs {
        create_job(client, &jobs_url, job, "@every 1s", extra).await?;
    }
    // Every job has fired once: the scheduler is running them before the kill.
    let http = cluster.servers[leader].http;
    let deadline = Instant::now() + STEP_TIMEOUT;
    while fires_around(client, http, &jobs, None)
        .await
        .iter()
        .any(|j| j.first_after.is_none())
    {
        if Instant::now() > deadline {
            return Err(format!("the jobs did not all run within {STEP_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let subsec =
        Duration::from_nanos(u64::try_from(Timestamp::now().subsec_nanosecond()).unwrap_or(0));
    let wait = if phase > subsec {
        phase - subsec
    } else {
        phase + Duration::from_secs(1) - subsec
    };
    tokio::time::sleep(wait).await;

    let killed = cluster.servers[leader].name.clone();
    let kill_wall = Timestamp::now();
    let kill_at = Instant::now();
    cluster.servers[leader].kill();
    let survivors: Vec<usize> = (0..3).filter(|i| *i != leader).collect();

    let (new_leader, kill_to_leader) = loop {
        let mut set = JoinSet::new();
        for &on in &survivors {
            let http = cluster.servers[on].http;
            let client = client.clone();
            set.spawn(async move {
                let leader = get_json(&client, &format!("http://{http}/v1/leader"))
                    .await
                    .ok()?;
                leader["Name"].as_str().map(str::to_owned)
            });
        }
        let mut names = Vec::new();
        while let Some(Ok(name)) = set.join_next().await {
            names.push(name);
        }
        let elapsed = kill_at.elapsed();
        if let [Some(a), Some(b)] = names.as_slice()
            && a == b
            && *a != killed
        {
            break (a.clone(), elapsed);
        }
        if elapsed > STEP_TIMEOUT {
            return Err(format!(
                "survivors did not agree on a new leader within {STEP_TIMEOUT:?}: {names:?}"
            ));
        }
        tokio::time::sleep(LEADER_POLL).await;
    };

    // Poll until every job has fired after the kill, so the earliest fire is known.
    let http = cluster.servers[survivors[0]].http;
    let jobs_around = loop {
        let around = fires_around(client, http, &jobs, Some(kill_wall)).await;
        if around.iter().all(|j| j.first_after.is_some()) || kill_at.elapsed() > STEP_TIMEOUT {
            break around;
        }
        tokio::time::sleep(EXECUTIONS_POLL).await;
    };
    let fired: Vec<&Fire> = jobs_around
        .iter()
        .filter_map(|j| j.first_after.as_ref())
        .collect();
    let skipped: i64 = jobs_around
        .iter()
        .filter_map(AroundKill::skipped_ticks)
        .sum();
    let duplicates: usize = jobs_around.iter().map(|j| j.duplicates).sum();
    let Some((job, first)) = jobs_around
        .iter()
        .enumerate()
        .filter_map(|(i, j)| Some((i, j.first_after.as_ref()?)))
        .min_by_key(|(_, f)| f.started)
    else {
        return Err(format!(
            "new leader {new_leader} after {:.0} ms, but no job ran within {STEP_TIMEOUT:?} of the kill",
            millis(kill_to_leader)
        ));
    };
    let kill_to_fire = first.started.duration_since(kill_wall).as_secs_f64() * 1000.0;
    // How late the jobs' first fires after the kill ran against their schedule: the delay a
    // job saw, apart from where the kill fell in its 1 s period.
    let worst_late = fired
        .iter()
        .map(|f| f.lateness_ms())
        .fold(f64::NAN, f64::max);
    let line = format!(
        "kill {:.0} ms after a tick: killed {killed} (leader), new leader {new_leader}: kill→leader {:.0} ms, kill→next fire {:.0} ms, leader→next fire {:.0} ms (first: {} on {}, started {}, {:.0} ms after its scheduled_at; {}/{} jobs fired after the kill, their first post-kill fires ran at most {worst_late:.0} ms late, {skipped} due tick(s) skipped, {duplicates} duplicate run(s))",
        f64::from(kill_wall.subsec_nanosecond()) / 1e6,
        millis(kill_to_leader),
        kill_to_fire,
        kill_to_fire - millis(kill_to_leader),
        jobs[job],
        first.node,
        first.started,
        first.lateness_ms(),
        fired.len(),
        jobs.len(),
    );
    Ok((
        line,
        FailoverRun {
            kill_to_leader,
            kill_to_fire,
        },
    ))
}

async fn upserts(settings: &Settings) -> bool {
    let client = http_client();
    match upsert_rounds(settings, &client).await {
        Ok(()) => true,
        Err(error) => {
            println!("upserts: FAILED: {error}");
            false
        }
    }
}

async fn upsert_rounds(settings: &Settings, client: &reqwest::Client) -> Result<()> {
    let cluster = Cluster::start(&settings.bin, client, Shape::Servers(settings.servers)).await?;
    match upsert_steps(settings, &cluster, client).await {
        Ok(()) => Ok(()),
        Err(error) => Err(cluster.fail(&error)),
    }
}

async fn upsert_steps(
    settings: &Settings,
    cluster: &Cluster,
    client: &reqwest::Client,
) -> Result<()> {
    let leader = cluster.leader(client).await?;
    let mut targets = vec![("leader", leader)];
    if let Some(follower) = (0..cluster.servers.len()).find(|i| *i != leader) {
        targets.push(("follower", follower));
    }
    // Warm-up: connections opened, first writes of each path done.
    for (label, target) in &targets {
        drive_upserts(
            client,
            &cluster.servers[*target],
            &format!("warm-{label}"),
            200,
            settings.clients,
        )
        .await?;
    }
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for round in 1..=ROUNDS {
        for (k, (label, target)) in targets.iter().enumerate() {
            let server = &cluster.servers[*target];
            let prefix = format!("r{round}-{label}");
            let elapsed =
                drive_upserts(client, server, &prefix, settings.upserts, settings.clients).await?;
            let rate = settings.upserts as f64 / elapsed.as_secs_f64();
            println!(
                "upserts round {round}/{ROUNDS}: {} to the {label} ({}), {} clients: {:.2} s, {rate:.0} upserts/s",
                settings.upserts,
                server.name,
                settings.clients,
                elapsed.as_secs_f64(),
            );
            rates[k].push(rate);
        }
    }
    let leader_median = median(rates[0].clone());
    if let Some(follower_rates) = rates.get(1) {
        let per_round: Vec<f64> = follower_rates
            .iter()
            .zip(&rates[0])
            .map(|(f, l)| f / l)
            .collect();
        println!(
            "upserts medians: leader {leader_median:.0}/s, follower {:.0}/s, follower/leader {:.2} (per-round ratios {})",
            median(follower_rates.clone()),
            median(per_round.clone()),
            per_round
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    } else {
        println!("upserts median: single server {leader_median:.0}/s");
    }
    Ok(())
}

/// `count` upserts of `@manually` jobs `<prefix>-<i>` to `server`, `clients` at a time; the time
/// until the last reply. Any refused upsert fails the round.
async fn drive_upserts(
    client: &reqwest::Client,
    server: &Server,
    prefix: &str,
    count: usize,
    clients: usize,
) -> Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let url = server.url("/v1/jobs");
    let start = Instant::now();
    let mut set: JoinSet<Result<()>> = JoinSet::new();
    for _ in 0..clients {
        let (client, next, url, prefix) =
            (client.clone(), next.clone(), url.clone(), prefix.to_owned());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok(());
                }
                create_job(&client, &url, &format!("{prefix}-{i:05}"), "@manually", "").await?;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed())
}

/// How long one dispatch round may take, first run request to every run recorded finished.
const DISPATCH_TIMEOUT: Duration = Duration::from_secs(120);
/// Executions polling period of a dispatch round. The end of a round is when a poll sees every
/// run finished, so the figure includes up to one period; the `finished_at` figure next to it
/// does not.
const DISPATCH_POLL: Duration = Duration::from_millis(50);
/// Executions a job keeps by default; a round needing more per job would lose some from sight.
const DEFAULT_HISTORY: usize = 100;
/// The dispatch targets: label, `pool` tag of the jobs, node expected to run them.
const TARGETS: [(&str, &str, &str); 2] = [("agent", "agent", "a1"), ("local", "server", "s1")];

async fn dispatch(settings: &Settings) -> bool {
    let client = http_client();
    let sink = match HttpSink::start().await {
        Ok(sink) => sink,
        Err(error) => {
            println!("dispatch: FAILED: {error}");
            return false;
        }
    };
    let done = dispatch_rounds(settings, &client, sink.addr).await;
    drop(sink);
    match done {
        Ok(()) => true,
        Err(error) => {
            println!("dispatch: FAILED: {error}");
            false
        }
    }
}

async fn dispatch_rounds(
    settings: &Settings,
    client: &reqwest::Client,
    sink: SocketAddr,
) -> Result<()> {
    let per_job = settings.dispatch_runs.div_ceil(settings.dispatch_jobs);
    if per_job > DEFAULT_HISTORY {
        return Err(format!(
            "{per_job} runs per job: more than the {DEFAULT_HISTORY} executions a job keeps; raise DISPATCH_JOBS"
        ));
    }
    let cluster = Cluster::start(&settings.bin, client, Shape::ServerAndAgent).await?;
    match dispatch_steps(settings, &cluster, client, sink).await {
        Ok(()) => Ok(()),
        Err(error) => Err(cluster.fail(&error)),
    }
}

/// One dispatch round's workload.
struct Load<'a> {
    executor: &'a str,
    pool: &'a str,
    node: &'a str,
    runs: usize,
    jobs: usize,
    clients: usize,
    sink: SocketAddr,
}

/// What one dispatch round measured.
struct RoundFigures {
    /// First run request to the last one answered.
    requests: Duration,
    /// First run request to the poll that saw every run finished.
    observed: Duration,
    /// First run request (wall clock) to the latest `finished_at`, in seconds.
    by_finished_at: f64,
    failed: usize,
    /// Executions beyond the runs asked for.
    extra: usize,
}

async fn dispatch_steps(
    settings: &Settings,
    cluster: &Cluster,
    client: &reqwest::Client,
    sink: SocketAddr,
) -> Result<()> {
    let server = &cluster.servers[0];
    println!(
        "dispatch: {} manual runs per round over {} jobs, {} clients; agent = jobs tagged pool=agent (run by a1), local = pool=server (run by the leader s1 itself)",
        settings.dispatch_runs, settings.dispatch_jobs, settings.clients
    );
    for executor in ["shell", "http"] {
        let load = |pool, node, runs| Load {
            executor,
            pool,
            node,
            runs,
            jobs: settings.dispatch_jobs,
            clients: settings.clients,
            sink,
        };
        // Warm-up, not counted: connections opened (client→s1, s1→a1, executor→sink) and the
        // first executions of each path written.
        for (label, pool, node) in TARGETS {
            let warm = load(pool, node, settings.dispatch_runs.min(100));
            dispatch_round(client, server, &warm, &format!("w-{executor}-{label}")).await?;
        }
        let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for round in 1..=ROUNDS {
            // Which target goes first alternates, so neither always meets the store grown by
            // the other's round.
            let order: [usize; 2] = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for k in order {
                let (label, pool, node) = TARGETS[k];
                let load = load(pool, node, settings.dispatch_runs);
                let prefix = format!("r{round}-{executor}-{label}");
                let figures = dispatch_round(client, server, &load, &prefix).await?;
                let rate = load.runs as f64 / figures.observed.as_secs_f64();
                println!(
                    "dispatch {executor} round {round}/{ROUNDS}: {label} ({node}): {} runs, requests answered in {:.2} s, all recorded finished after {:.2} s: {rate:.0} runs/s (by the latest finished_at: {:.2} s, {:.0} runs/s); {} failed, {} extra",
                    load.runs,
                    figures.requests.as_secs_f64(),
                    figures.observed.as_secs_f64(),
                    figures.by_finished_at,
                    load.runs as f64 / figures.by_finished_at,
                    figures.failed,
                    figures.extra,
                );
                rates[k].push(rate);
            }
        }
        let per_round: Vec<f64> = rates[0].iter().zip(&rates[1]).map(|(a, l)| a / l).collect();
        // The goal is judged on the median of the per-round ratios: a round's agent and local
        // halves run back to back, so load from other processes on the VM, which drifts over
        // seconds, mostly cancels in the pair; the ratio of the medians can pair a quiet local
        // round with a loaded agent one.
        let paired = median(per_round.clone());
        println!(
            "dispatch {executor} medians: agent {:.0} runs/s, local {:.0} runs/s (ratio {:.2}); agent/local per round {} (median {paired:.2}); goal ≥ 0.80: {}",
            median(rates[0].clone()),
            median(rates[1].clone()),
            median(rates[0].clone()) / median(rates[1].clone()),
            per_round
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            if paired >= 0.8 { "met" } else { "NOT met" },
        );
    }
    Ok(())
}

/// Creates `load.jobs` `@manually` jobs `<prefix>-<k>` for the load's target, fires
/// `load.runs` manual runs at them round-robin from `load.clients` clients, and polls their
/// executions until every run is recorded finished.
async fn dispatch_round(
    client: &reqwest::Client,
    server: &Server,
    load: &Load<'_>,
    prefix: &str,
) -> Result<RoundFigures> {
    let jobs: Arc<Vec<String>> =
        Arc::new((0..load.jobs).map(|k| format!("{prefix}-{k:02}")).collect());
    let config = if load.executor == "http" {
        serde_json::json!({"method": "GET", "url": format!("http://{}/", load.sink), "expectCode": "200"})
    } else {
        serde_json::json!({"command": "/bin/true"})
    };
    let jobs_url = server.url("/v1/jobs");
    for job in jobs.iter() {
        let body = serde_json::json!({
            "name": job,
            "schedule": "@manually",
            "executor": load.executor,
            "executor_config": config,
            "tags": {"pool": load.pool},
        });
        post(client, &jobs_url, body.to_string()).await?;
    }
    // Run i goes to job i mod K.
    let expected: Vec<usize> = (0..load.jobs)
        .map(|k| (load.runs + load.jobs - 1 - k) / load.jobs)
        .collect();

    let next = Arc::new(AtomicUsize::new(0));
    let wall_start = Timestamp::now();
    let start = Instant::now();
    let mut set: JoinSet<Result<()>> = JoinSet::new();
    for _ in 0..load.clients {
        let (client, next, jobs, base, runs) = (
            client.clone(),
            next.clone(),
            jobs.clone(),
            jobs_url.clone(),
            load.runs,
        );
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= runs {
                    return Ok(());
                }
                let url = format!("{base}/{}/run", jobs[i % jobs.len()]);
                post(&client, &url, String::new()).await?;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    let requests = start.elapsed();

    let mut seen = vec![JobRuns::default(); load.jobs];
    loop {
        let pending: Vec<usize> = (0..load.jobs)
            .filter(|&k| seen[k].finished < expected[k])
            .collect();
        if pending.is_empty() {
            break;
        }
        if start.elapsed() > DISPATCH_TIMEOUT {
            let total: usize = seen.iter().map(|j| j.total).sum();
            let finished: usize = seen.iter().map(|j| j.finished).sum();
            return Err(format!(
                "{prefix}: after {DISPATCH_TIMEOUT:?}, {finished} of {} runs recorded finished, {} recorded in all ({} jobs incomplete)",
                load.runs,
                total,
                pending.len()
            ));
        }
        let mut polls = JoinSet::new();
        for k in pending {
            let url = server.url(&format!("/v1/jobs/{}/executions", jobs[k]));
            let client = client.clone();
            polls.spawn(async move { (k, get_json(&client, &url).await) });
        }
        while let Some(Ok((k, list))) = polls.join_next().await {
            if let Ok(list) = list {
                seen[k] = JobRuns::of(&list);
            }
        }
        if seen.iter().zip(&expected).all(|(j, e)| j.finished >= *e) {
            break;
        }
        tokio::time::sleep(DISPATCH_POLL).await;
    }
    let observed = start.elapsed();

    let mut misplaced: Vec<&str> = seen
        .iter()
        .flat_map(|j| j.nodes.iter())
        .filter(|n| *n != load.node)
        .map(String::as_str)
        .collect();
    if !misplaced.is_empty() {
        let count = misplaced.len();
        misplaced.sort_unstable();
        misplaced.dedup();
        return Err(format!(
            "{prefix}: {count} executions ran on {misplaced:?}, not on {}",
            load.node
        ));
    }
    let last = seen
        .iter()
        .filter_map(|j| j.last_finished)
        .max()
        .unwrap_or(wall_start);
    Ok(RoundFigures {
        requests,
        observed,
        by_finished_at: last.duration_since(wall_start).as_secs_f64(),
        failed: seen.iter().map(|j| j.failed).sum(),
        extra: seen
            .iter()
            .map(|j| j.total)
            .sum::<usize>()
            .saturating_sub(load.runs),
    })
}

/// A job's executions as a dispatch round counts them.
#[derive(Clone, Debug, Default)]
struct JobRuns {
    total: usize,
    finished: usize,
    failed: usize,
    last_finished: Option<Timestamp>,
    /// `node_name` of every execution.
    nodes: Vec<String>,
}

impl JobRuns {
    fn of(list: &serde_json::Value) -> JobRuns {
        let mut runs = JobRuns::default();
        for execution in list.as_array().into_iter().flatten() {
            runs.total += 1;
            runs.nodes
                .push(execution["node_name"].as_str().unwrap_or("?").to_owned());
            let finished_at = execution["finished_at"].as_str().unwrap_or("0001-");
            // A running execution carries Go's zero time.
            if finished_at.starts_with("0001-") {
                continue;
            }
            runs.finished += 1;
            if execution["success"] != true {
                runs.failed += 1;
            }
            runs.last_finished = runs.last_finished.max(finished_at.parse().ok());
        }
        runs
    }
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> Result<()> {
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

/// A local HTTP server answering every request `200` with an empty body, called by the `http`
/// jobs; aborted on drop, with every connection (they are tasks of its set).
struct HttpSink {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HttpSink {
    async fn start() -> Result<HttpSink> {
        use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("sink bind: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("sink address: {e}"))?;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // E.g. out of descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                connections.spawn(async move {
                    let service = service_fn(|_request: Request<Incoming>| async {
                        Ok::<_, std::convert::Infallible>(Response::new(String::new()))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
                // Closed connections leave the set here, so it holds only live ones.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(HttpSink { addr, task })
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => f64::midpoint(values[n / 2 - 1], values[n / 2]),
    }
}
