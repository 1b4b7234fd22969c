//! Test nodes: each runs in its own tokio runtime with a real listener on 127.0.0.1 and a real
//! RocksDB dir, so "killing" one (dropping its runtime) closes its sockets and stops its tasks
//! mid-flight, as a crashed process would, while its dir stays for a restart.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use dkron_model::Job;
use dkron_raft::{ClusterKey, Command, NodeId, RaftConfig, RaftNode, Response, serve};
use dkron_store::{Options, Store};
use tokio::{net::TcpListener, runtime::Runtime, time::Instant};

/// Every wait in these tests is bounded by this.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

pub(crate) struct TestNode {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) addr: SocketAddr,
    pub(crate) node: RaftNode,
    runtime: Option<Runtime>,
}

/// Options a test can change for every node it starts.
#[derive(Clone, Default)]
pub(crate) struct Tuning {
    pub(crate) key: Option<&'static str>,
    pub(crate) snapshot_after_log_bytes: Option<u64>,
    pub(crate) keep_entries_after_snapshot: Option<u64>,
    /// `RaftConfig::scale_timings`: slower heartbeats and elections.
    pub(crate) raft_multiplier: Option<u32>,
}

impl TestNode {
    /// Starts a node named `name` in `dir`, listening on `addr` (port 0 = any).
    pub(crate) async fn start(
        name: &str,
        dir: &Path,
        addr: SocketAddr,
        tuning: &Tuning,
    ) -> TestNode {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(format!("node-{name}"))
            .enable_all()
            .build()
            .expect("a runtime for the node");
        let (name_owned, dir_owned, tuning) = (name.to_owned(), dir.to_owned(), tuning.clone());
        let started = runtime.spawn(async move {
            let listener = bind(addr).await;
            let addr = listener.local_addr().expect("listener address");
            let store = open_store(&dir_owned.join("store")).await;
            let mut config = RaftConfig::new(&name_owned, &addr.to_string(), "127.0.0.1:0");
            config.cluster_key = tuning.key.map(ClusterKey::new);
            if let Some(bytes) = tuning.snapshot_after_log_bytes {
                config.snapshot_after_log_bytes = bytes;
            }
            if let Some(keep) = tuning.keep_entries_after_snapshot {
                config.keep_entries_after_snapshot = keep;
            }
            if let Some(multiplier) = tuning.raft_multiplier {
                config
                    .scale_timings(multiplier)
                    .expect("a valid multiplier");
            }
            let node = RaftNode::start(config, store, &dir_owned.join("snapshots"))
                .await
                .expect("raft starts");
            tokio::spawn(serve(listener, node.router()));
            (node, addr)
        });
        let (node, addr) = started.await.expect("node start task");
        TestNode {
            name: name.to_owned(),
            dir: dir.to_owned(),
            addr,
            node,
            runtime: Some(runtime),
        }
    }

    pub(crate) fn id(&self) -> NodeId {
        self.node.id()
    }

    /// Kills the node: its runtime is dropped with every task (Raft core, replication, server
    /// connections) still running; nothing shuts down gracefully. Once it returns, as after a
    /// process's death, every socket of the node is closed.
    pub(crate) fn kill(mut self) -> (String, PathBuf, SocketAddr) {
        if let Some(runtime) = self.runtime.take() {
            stop(runtime);
        }
        (
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.dir),
            self.addr,
        )
    }

    /// Restarts a killed node from its dir, on its old address.
    pub(crate) async fn restart(
        killed: (String, PathBuf, SocketAddr),
        tuning: &Tuning,
    ) -> TestNode {
        let (name, dir, addr) = killed;
        TestNode::start(&name, &dir, addr, tuning).await
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            stop(runtime);
        }
    }
}

/// Drops every task of `runtime` where it stands and waits (bounded) until its threads are gone.
/// Why wait: a runtime left to die in the background (`shutdown_background`) kept its sockets
/// open for a moment, so a peer could still connect and send to a "killed" node, and its
/// threads could still be closing RocksDB when the test binary exited (an abort, "pthread
/// lock: Invalid argument").
fn stop(runtime: Runtime) {
    // A thread of its own: a runtime cannot be waited for from inside another one's task.
    let stopping = std::thread::spawn(move || runtime.shutdown_timeout(DEADLINE));
    stopping.join().expect("the node's runtime stops");
}

/// Binds `addr`, retrying until the deadline (a killed node's socket may linger a moment).
async fn bind(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("cannot bind {addr}: {error}"),
        }
    }
}

/// Opens the store, retrying until the deadline (a killed node's threads may still hold the
/// RocksDB lock for a moment).
async fn open_store(dir: &Path) -> Store {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match Store::open(dir, Options::default()) {
            Ok(store) => return store,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("cannot open the store in {}: {error}", dir.display()),
        }
    }
}

pub(crate) fn any_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub(crate) fn job(name: &str) -> Job {
    Job {
        name: name.to_owned(),
        schedule: "@every 1m".to_owned(),
        ..Job::default()
    }
}

/// Writes a job on `node` and checks the state machine stored it.
pub(crate) async fn write_job(node: &RaftNode, name: &str) -> u64 {
    let written = node
        .write(Command::SetJob(Box::new(job(name))))
        .await
        .expect("write on the leader");
    match written.response {
        Response::JobWritten { job, created } => {
            assert_eq!(job.name, name);
            assert!(created, "job {name} is new");
        }
        other => panic!("unexpected response {other:?}"),
    }
    written.index
}

/// Polls `check` until it holds or the deadline passes.
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts `names.len()` nodes in `root`, bootstrapped together with `bootstrap_expect`.
pub(crate) async fn cluster(root: &Path, names: &[&str], tuning: &Tuning) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for name in names {
        nodes.push(TestNode::start(name, &root.join(name), any_addr(), tuning).await);
    }
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
    let mut waits = Vec::new();
    for node in &nodes {
        let peers: Vec<String> = addrs
            .iter()
            .filter(|a| **a != node.addr.to_string())
            .cloned()
            .collect();
        let raft = node.node.clone();
        let expect = names.len();
        waits.push(tokio::spawn(async move {
            raft.bootstrap_expect(expect, &peers, DEADLINE).await
        }));
    }
    for wait in waits {
        wait.await
            .expect("bootstrap task")
            .expect("bootstrap succeeds");
    }
    nodes
}

/// The node that leads, once every live node agrees on it.
pub(crate) async fn agreed_leader(nodes: &[&TestNode]) -> NodeId {
    let mut leader = None;
    eventually("all nodes to agree on a leader", || {
        let seen: Vec<Option<NodeId>> = nodes
            .iter()
            .map(|n| n.node.leader().map(|(id, _)| id))
            .collect();
        leader = seen[0];
        leader.is_some()
            && seen.iter().all(|s| *s == leader)
            && nodes.iter().any(|n| Some(n.id()) == leader)
    })
    .await;
    leader.expect("leader agreed")
}

/// One HTTP/1.1 POST over a fresh connection; returns the status code.
pub(crate) async fn raw_post(addr: SocketAddr, path: &str, key: Option<&str>, body: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let key_header = key
        .map(|k| format!("{}: {k}\r\n", dkron_raft::KEY_HEADER))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n{key_header}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut reply = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut reply))
        .await
        .expect("reply in time")
        .expect("read");
    let text = String::from_utf8_lossy(&reply);
    let status = text.split_whitespace().nth(1).expect("status line");
    status.parse().expect("numeric status")
}
