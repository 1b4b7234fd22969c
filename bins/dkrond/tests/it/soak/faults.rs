//! The soak's cluster (3 servers, 2 agents, each a [`Dkrond`] guard: killed and reaped on drop;
//! each in its own network namespace of a [`TestNet`] where there is one, removed after the
//! nodes) and its fault injector: one fault at a time, so at most one server is ever down,
//! stopped or cut off.

use std::{
    fmt,
    net::SocketAddr,
    path::Path,
    process::Command,
    sync::Mutex,
    time::{Duration, Instant},
};

use tempfile::TempDir;

use crate::{cluster::wait_for_members, netns::TestNet, support::*};

/// Every node's name; servers first. Node `i` runs in namespace `i`.
pub(crate) const NAMES: [&str; 5] = ["s1", "s2", "s3", "a1", "a2"];

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

/// One node: running (`proc`), or not (`dir` kept for its start: at first, after a kill).
struct Node {
    name: &'static str,
    proc: Option<Dkrond>,
    dir: Option<TempDir>,
    /// Under SIGSTOP.
    stopped: bool,
    /// Cut off the network.
    cut: bool,
}

/// The five nodes. Dropping it kills every process still running (SIGKILL, reaped), then
/// removes the network (fields drop in order).
pub(crate) struct Cluster {
    nodes: Vec<Node>,
    /// Where the nodes run, if in namespaces: then nodes can be cut off.
    net: Option<TestNet>,
    /// The servers' API token.
    token: &'static str,
}

fn is_server(name: &str) -> bool {
    name.starts_with('s')
}

/// A server's command: the soak's tag, a history limit big enough for 10 minutes of `@every 1s`,
/// `SOAK_NODE` for the job script and the API token; on `http_ip` (`rpc_port`, "0" for any).
fn server(
    dir: &Path,
    name: &str,
    http_ip: &str,
    rpc_port: &str,
    cluster: &[&str],
    token: &str,
) -> Command {
    let http = format!("{http_ip}:0");
    let mut command = server_command_on(&dir.join("data"), &http, rpc_port, name, cluster);
    command
        .args(["--tag", "soak=yes", "--max-history-limit", "5000"])
        .env("SOAK_NODE", name)
        .env("DKRON_API_TOKEN", token);
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
        .env_remove("DKRON_SOAK_SEED")
        .env_remove("DKRON_SOAK_PARTITIONS");
}

impl Cluster {
    /// Three servers (`s1` bootstraps, the others join it) and two agents, all listed alive;
    /// node `i` in namespace `i` of `net` if there is one (else on 127.0.0.1); the servers'
    /// API takes `token`.
    pub(crate) fn start(net: Option<TestNet>, token: &'static str) -> Cluster {
        let mut cluster = Cluster {
            nodes: NAMES
                .iter()
                .map(|&name| Node {
                    name,
                    proc: None,
                    dir: Some(tempfile::tempdir().expect("temp dir")),
                    stopped: false,
                    cut: false,
                })
                .collect(),
            net,
            token,
        };
        cluster.launch(0, "0", &["--bootstrap-expect", "1"]);
        let join = cluster.rpcs()[0].clone();
        for i in [1, 2] {
            cluster.launch(i, "0", &["--bootstrap-expect", "0", "--join", &join]);
        }
        for i in [3, 4] {
            cluster.launch(i, "0", &[]);
        }
        cluster.wait_all_alive();
        cluster
    }

    /// Starts node `i` on its data dir (kept from `start` or a kill): a server with its RPC on
    /// `rpc_port` and the cluster flags `cluster`, an agent joining the running servers.
    fn launch(&mut self, i: usize, rpc_port: &str, cluster: &[&str]) {
        let join = self.rpcs();
        let name = self.nodes[i].name;
        let dir = self.nodes[i].dir.take().expect("not running");
        let ip = self.net.as_ref().map(|net| net.ip(i).to_string());
        let mut command = if is_server(name) {
            let http_ip = ip.as_deref().unwrap_or("127.0.0.1");
            server(dir.path(), name, http_ip, rpc_port, cluster, self.token)
        } else {
            agent(dir.path(), name, &join)
        };
        if let Some(net) = &self.net {
            command = net.dkrond(i, command);
        }
        let mut proc = Dkrond::spawn(dir, command);
        if is_server(name) {
            proc = proc.with_api_token(self.token);
        }
        self.nodes[i].proc = Some(proc);
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

    /// The API addresses of the servers that are running, not stopped and not cut off.
    pub(crate) fn live_servers(&self) -> Vec<SocketAddr> {
        self.nodes[..3]
            .iter()
            .filter(|n| !n.stopped && !n.cut)
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
        let node = &self.nodes[i];
        let dir = node.dir.as_ref().expect("killed");
        let rpc_port = if is_server(node.name) {
            // On the RPC port it had: its peers know it by that address.
            let text = std::fs::read_to_string(dir.path().join("data/dkrond.ports.json"))
                .expect("the ports file of a killed server");
            let ports: serde_json::Value = serde_json::from_str(&text).expect("ports JSON");
            let rpc: SocketAddr = ports["rpc"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .expect("an rpc address");
            rpc.port().to_string()
        } else {
            "0".to_owned()
        };
        self.launch(i, &rpc_port, &[]);
    }

    fn signal(&mut self, i: usize, name: &str) {
        let node = &mut self.nodes[i];
        node.proc.as_ref().expect("running").signal(name);
        node.stopped = name == "STOP";
    }

    /// Cuts node `i` off the network (`false`: restores it).
    fn set_cut(&mut self, i: usize, cut: bool) {
        let net = self.net.as_ref().expect("partitions need the namespaces");
        if cut {
            net.cut(i);
        } else {
            net.restore(i);
        }
        self.nodes[i].cut = cut;
    }

    /// The leader `server` (an API address) names, if it answers.
    fn leader_seen_by(server: SocketAddr) -> Option<String> {
        crate::soak::try_request(server, "GET", "/v1/leader", b"")
            .filter(|r| r.status == 200)
            .and_then(|r| r.json()["Name"].as_str().map(str::to_owned))
    }
}

/// What was injected, by kind.
#[derive(Debug, Default)]
pub(crate) struct Injected {
    kills: usize,
    stops: usize,
    cuts: usize,
    by_node: std::collections::BTreeMap<&'static str, usize>,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} kill -9 + restart, {} SIGSTOP/SIGCONT, {} cut off the network; per node {:?}",
            self.kills, self.stops, self.cuts, self.by_node
        )
    }
}

/// Until `deadline`: every 2-6 s, one fault on a random node for 1-8 s: kill -9 then restart on
/// its data dir; SIGSTOP then SIGCONT; or, where the nodes run in namespaces, its link cut then
/// restored (a stop or cut past 5 s makes the leader fail the node). Each fault is undone
/// before the next, and every node runs when this returns. Prints each fault.
pub(crate) fn inject(cluster: &Mutex<Cluster>, rng: &mut Rng, deadline: Instant) -> Injected {
    let began = Instant::now();
    let mut injected = Injected::default();
    // Without namespaces, two kinds: a seed replays runs made before partitions existed.
    let kinds = if cluster.lock().expect("cluster").net.is_some() {
        3
    } else {
        2
    };
    while Instant::now() + Duration::from_secs(10) < deadline {
        std::thread::sleep(rng.secs(2.0, 6.0));
        let i = rng.below(NAMES.len());
        let name = NAMES[i];
        let hold = rng.secs(1.0, 8.0);
        let kind = rng.below(kinds);
        let at = began.elapsed().as_secs_f64();
        match kind {
            0 => {
                println!("soak: [{at:6.1}s] kill -9 {name}, restart after {hold:.1?}");
                cluster.lock().expect("cluster").kill(i);
                std::thread::sleep(hold);
                cluster.lock().expect("cluster").restart(i);
                injected.kills += 1;
            }
            1 => {
                println!("soak: [{at:6.1}s] SIGSTOP {name} for {hold:.1?}");
                cluster.lock().expect("cluster").signal(i, "STOP");
                std::thread::sleep(hold);
                cluster.lock().expect("cluster").signal(i, "CONT");
                injected.stops += 1;
            }
            _ => {
                println!("soak: [{at:6.1}s] cut {name} off the network for {hold:.1?}");
                cluster.lock().expect("cluster").set_cut(i, true);
                std::thread::sleep(hold);
                cluster.lock().expect("cluster").set_cut(i, false);
                injected.cuts += 1;
            }
        }
        *injected.by_node.entry(name).or_default() += 1;
        if is_server(name) {
            // Before the next fault, the server follows the leader the others follow: never
            // two servers out. (A cut-off leader still names itself until it hears the new one.)
            let servers = cluster.lock().expect("cluster").servers();
            let http = servers[i];
            wait_for(
                "the server to see the others' leader",
                Duration::from_secs(60),
                || {
                    let leader = Cluster::leader_seen_by(http)?;
                    let others = servers.iter().filter(|&&s| s != http);
                    others
                        .map(|&s| Cluster::leader_seen_by(s))
                        .all(|l| l.as_ref() == Some(&leader))
                        .then_some(())
                },
            );
        }
    }
    // The writer and the jobs go on to the deadline.
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    injected
}
