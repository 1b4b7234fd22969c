//! The soak's cluster (3 servers, 2 agents, each a [`Dkrond`] guard: killed and reaped on drop)
//! and its fault injector: one fault at a time, so at most one server is ever down or stopped.

use std::{
    fmt,
    net::SocketAddr,
    process::Command,
    sync::Mutex,
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::{cluster::wait_for_members, support::*};

/// Every node's name; servers first.
const NAMES: [&str; 5] = ["s1", "s2", "s3", "a1", "a2"];

/// A small seeded PRNG (xorshift64*): the fault sequence is printed and replayable by its seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).expect("fits")
    }

    /// Uniform in `[lo, hi)` seconds.
    fn secs(&mut self, lo: f64, hi: f64) -> Duration {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(lo + unit * (hi - lo))
    }
}

/// One node: running (`proc`), or killed (`dir` kept for its restart).
struct Node {
    name: &'static str,
    proc: Option<Dkrond>,
    dir: Option<TempDir>,
    /// Under SIGSTOP.
    stopped: bool,
}

/// The five nodes. Dropping it kills every process still running (SIGKILL, reaped).
pub(crate) struct Cluster {
    nodes: Vec<Node>,
}

fn is_server(name: &str) -> bool {
    name.starts_with('s')
}

/// A server's command: the soak's tag, a history limit big enough for 10 minutes of `@every 1s`,
/// and `SOAK_NODE` for the job script.
fn server(dir: &Path, name: &str, rpc_port: &str, cluster: &[&str]) -> Command {
    let mut command = server_command_on(&dir.join("data"), "127.0.0.1:0", rpc_port, name, cluster);
    command
        .args(["--tag", "soak=yes", "--max-history-limit", "5000"])
        .env("SOAK_NODE", name);
    quiet(&mut command);
    command
}

fn agent(dir: &Path, name: &str, join: &[String]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "agent",
            "--node-name",
            name,
            "--rpc-port",
            "0",
            "--tag",
            "soak=yes",
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("DKRON_SHUTDOWN_TIMEOUT", "5s")
        .env("DKRON_ENCRYPT", TEST_KEY)
        .env("SOAK_NODE", name)
        .env_remove("RUST_LOG");
    for server in join {
        command.args(["--retry-join", server]);
    }
    quiet(&mut command);
    command
}

/// Keeps the soak's own settings from the node, which would warn that they are not dkron's.
fn quiet(command: &mut Command) {
    command
        .env_remove("DKRON_SOAK_MINUTES")
        .env_remove("DKRON_SOAK_SEED");
}

use std::path::Path;

impl Cluster {
    /// Three servers (`s1` bootstraps, the others join it) and two agents, all listed alive.
    pub(crate) fn start() -> Cluster {
        let dir = || tempfile::tempdir().expect("temp dir");
        let s1_dir = dir();
        let s1 = server(s1_dir.path(), "s1", "0", &["--bootstrap-expect", "1"]);
        let s1 = Dkrond::spawn(s1_dir, s1);
        let join = s1.rpc();
        let mut procs = vec![s1];
        for name in ["s2", "s3"] {
            let d = dir();
            let command = server(
                d.path(),
                name,
                "0",
                &["--bootstrap-expect", "0", "--join", &join],
            );
            procs.push(Dkrond::spawn(d, command));
        }
        let rpcs: Vec<String> = procs.iter().map(Dkrond::rpc).collect();
        for name in ["a1", "a2"] {
            let d = dir();
            let command = agent(d.path(), name, &rpcs);
            procs.push(Dkrond::spawn(d, command));
        }
        let cluster = Cluster {
            nodes: NAMES
                .iter()
                .zip(procs)
                .map(|(&name, proc)| Node {
                    name,
                    proc: Some(proc),
                    dir: None,
                    stopped: false,
                })
                .collect(),
        };
        cluster.wait_all_alive();
        cluster
    }

    /// Waits until every server lists all five nodes alive.
    pub(crate) fn wait_all_alive(&self) {
        for node in &self.nodes[..3] {
            wait_for_members(node.proc.as_ref().expect("running"), &NAMES);
        }
    }

    /// The API addresses of all servers (all must be running).
    pub(crate) fn servers(&self) -> Vec<SocketAddr> {
        self.nodes[..3]
            .iter()
            .map(|n| n.proc.as_ref().expect("running").http)
            .collect()
    }

    /// The API addresses of the servers that are running and not stopped.
    pub(crate) fn live_servers(&self) -> Vec<SocketAddr> {
        self.nodes[..3]
            .iter()
            .filter(|n| !n.stopped)
            .filter_map(|n| n.proc.as_ref().map(|p| p.http))
            .collect()
    }

    /// The last 40 lines of each node's log.
    pub(crate) fn log_tails(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            if let Some(proc) = &node.proc {
                let log = proc.log();
                let lines: Vec<&str> = log.lines().collect();
                out.push_str(&format!("--- {} ({})\n", node.name, proc.dir().display()));
                for line in &lines[lines.len().saturating_sub(40)..] {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Copies each node's log to `to`/`<name>.log`.
    pub(crate) fn copy_logs(&self, to: &Path) {
        for node in &self.nodes {
            if let Some(proc) = &node.proc {
                let _ = std::fs::copy(
                    proc.dir().join("dkrond.log"),
                    to.join(format!("{}.log", node.name)),
                );
            }
        }
    }

    fn rpcs(&self) -> Vec<String> {
        self.nodes[..3]
            .iter()
            .filter_map(|n| n.proc.as_ref().map(Dkrond::rpc))
            .collect()
    }

    fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.dir = Some(node.proc.take().expect("running").kill());
    }

    fn restart(&mut self, i: usize) {
        let join = self.rpcs();
        let node = &mut self.nodes[i];
        let dir = node.dir.take().expect("killed");
        let command = if is_server(node.name) {
            // On the RPC port it had: its peers know it by that address.
            let text = std::fs::read_to_string(dir.path().join("data/dkrond.ports.json"))
                .expect("the ports file of a killed server");
            let ports: serde_json::Value = serde_json::from_str(&text).expect("ports JSON");
            let rpc: SocketAddr = ports["rpc"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .expect("an rpc address");
            server(dir.path(), node.name, &rpc.port().to_string(), &[])
        } else {
            agent(dir.path(), node.name, &join)
        };
        node.proc = Some(Dkrond::spawn(dir, command));
    }

    fn signal(&mut self, i: usize, name: &str) {
        let node = &mut self.nodes[i];
        node.proc.as_ref().expect("running").signal(name);
        node.stopped = name == "STOP";
    }
}

/// What was injected, by kind.
#[derive(Debug, Default)]
pub(crate) struct Injected {
    kills: usize,
    stops: usize,
    by_node: std::collections::BTreeMap<&'static str, usize>,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kill -9 + restart, {} SIGSTOP/SIGCONT; per node {:?}",
            self.kills, self.stops, self.by_node
        )
    }
}

/// Until `deadline`: every 2-6 s, one fault on a random node for 1-8 s (kill -9 then restart on
/// its data dir, or SIGSTOP then SIGCONT; a stop past 5 s makes the leader fail the node). Each
/// fault is undone before the next, and every node runs when this returns. Prints each fault.
pub(crate) fn inject(cluster: &Mutex<Cluster>, rng: &mut Rng, deadline: Instant) -> Injected {
    let began = Instant::now();
    let mut injected = Injected::default();
    while Instant::now() + Duration::from_secs(10) < deadline {
        std::thread::sleep(rng.secs(2.0, 6.0));
        let i = rng.below(NAMES.len());
        let name = NAMES[i];
        let hold = rng.secs(1.0, 8.0);
        let kill = rng.below(2) == 0;
        let at = began.elapsed().as_secs_f64();
        if kill {
            println!("soak: [{at:6.1}s] kill -9 {name}, restart after {hold:.1?}");
            cluster.lock().expect("cluster").kill(i);
            std::thread::sleep(hold);
            cluster.lock().expect("cluster").restart(i);
            injected.kills += 1;
        } else {
            println!("soak: [{at:6.1}s] SIGSTOP {name} for {hold:.1?}");
            cluster.lock().expect("cluster").signal(i, "STOP");
            std::thread::sleep(hold);
            cluster.lock().expect("cluster").signal(i, "CONT");
            injected.stops += 1;
        }
        *injected.by_node.entry(name).or_default() += 1;
        if is_server(name) {
            // Before the next fault, the server has a leader again: never two servers out.
            let http = cluster.lock().expect("cluster").nodes[i]
                .proc
                .as_ref()
                .expect("running")
                .http;
            wait_for(
                "the server to see a leader",
                Duration::from_secs(60),
                || {
                    crate::soak::try_request(http, "GET", "/v1/leader", b"")
                        .filter(|r| r.status == 200)
                },
            );
        }
    }
    // The writer and the jobs go on to the deadline.
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    injected
}
