//! Raft write throughput: committed commands per second through dkron-raft, 1-node and 3-node
//! on loopback, at 1 and 64 concurrent writers, next to etcd 3.4 (Debian `etcd-server`, started
//! here on 127.0.0.1) in the same run, alternating ours / etcd.
//!
//! Run (RocksDB is compiled once per cargo profile; this reuses the dev-profile build):
//!
//! ```text
//! CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo bench -p dkron-benches --features raft --profile dev \
//!     --bench raft -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Both sides are driven the same way: one pooled keep-alive HTTP/1.1 client, N tasks each
//! posting one write at a time, a write counted when its reply arrives (committed and
//! applied). Ours: `POST /put` with an execution record as JSON (~420 B) on the leader, which
//! commits `Command::ExecutionStarted` (records spread over 4096 jobs, so no job reaches its
//! history limit). etcd: `POST /v3/kv/put` on its JSON gateway with a 300-byte value (the
//! anchors' harness). Two in-process lines (no HTTP) show where the time goes:
//! `dkron_raft_direct` with the same records, `dkron_raft_direct_small` with a small command.
//! After each of our runs the leader's counters are printed to stderr (`raft-group-commit: …`):
//! writes per fsync is the group commit.
//!
//! Allocator: mimalloc, as in `dkrond`; add `--features system-allocator` for glibc's malloc.
//!
//! `DKRON_BENCH_RAFT_INFLIGHT=<n>` overrides `RaftConfig::max_inflight_batches` (batches in
//! flight at once) for tuning runs.
//!
//! Every run is bounded: criterion's measurement time, and each cluster is stopped (etcd
//! killed by PID) before the next starts.

use std::{
    net::SocketAddr,
    process::{Child, Command as Process, Stdio},
    sync::atomic::{AtomicI64, Ordering},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dkron_model::{Execution, Job};
use dkron_raft::{Command, LogStatsSnapshot, RaftConfig, RaftNode, Response};
use dkron_store::{Options, Store};
use jiff::Timestamp;
use tokio::{net::TcpListener, runtime::Runtime};

// dkrond's allocator (see `bins/dkrond`), so the nodes here allocate as the binary's do;
// feature `system-allocator` runs the bench on glibc's instead (the A/B in docs/benchmarks.md).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WRITERS: [usize; 2] = [1, 64];
/// Jobs the execution records are spread over: few enough per job that no job reaches its
/// history limit during a run, so the store's history trimming stays out of the measurement.
const JOBS: i64 = 4096;
const DEADLINE: Duration = Duration::from_secs(20);

/// Unique `started_at` per write, so every write is a new execution record.
static NEXT_NANOS: AtomicI64 = AtomicI64::new(1_800_000_000_000_000_000);

fn execution_json() -> Vec<u8> {
    let nanos = NEXT_NANOS.fetch_add(1_000, Ordering::Relaxed);
    let execution = Execution {
        job_name: job_name((nanos / 1_000) % JOBS),
        started_at: Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH),
        node_name: "agent-1".to_owned(),
        group: nanos,
        attempt: 1,
        output: "x".repeat(256),
        ..Execution::default()
    };
    serde_json::to_vec(&execution).unwrap_or_default()
}

fn job_name(i: i64) -> String {
    format!("bench-{i:04}")
}

struct OurCluster {
    nodes: Vec<RaftNode>,
    leader: RaftNode,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start_ours(size: usize) -> OurCluster {
    let dir = tempfile::Builder::new()
        .prefix("raft-bench")
        .tempdir()
        .expect("temp dir");
    let mut nodes = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..size {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let name = format!("n{i}");
        let store =
            Store::open(&dir.path().join(&name).join("store"), Options::default()).expect("store");
        let mut config = RaftConfig::new(&name, &addr.to_string(), "127.0.0.1:0");
        if let Some(inflight) = std::env::var("DKRON_BENCH_RAFT_INFLIGHT")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.max_inflight_batches = inflight;
        }
        let node = RaftNode::start(config, store, &dir.path().join(&name).join("snapshots"))
            .await
            .expect("raft");
        tokio::spawn(dkron_raft::serve(listener, node.router()));
        nodes.push(node);
        addrs.push(addr.to_string());
    }
    let mut waits = Vec::new();
    for node in &nodes {
        let peers: Vec<String> = addrs
            .iter()
            .filter(|a| **a != node.node().rpc_addr)
            .cloned()
            .collect();
        let node = node.clone();
        waits.push(tokio::spawn(async move {
            node.bootstrap_expect(size, &peers, DEADLINE).await
        }));
    }
    for wait in waits {
        wait.await.expect("bootstrap task").expect("bootstrap");
    }
    let leader_id = nodes[0].wait_for_leader(DEADLINE).await.expect("leader");
    let leader = nodes
        .iter()
        .find(|n| n.id() == leader_id)
        .expect("leader is ours")
        .clone();
    let creators: Vec<_> = (0..64)
        .map(|w| {
            let leader = leader.clone();
            tokio::spawn(async move {
                for i in (w..JOBS).step_by(64) {
                    let job = Job {
                        name: job_name(i),
                        schedule: "@every 1m".to_owned(),
                        ..Job::default()
                    };
                    leader
                        .write(Command::SetJob(Box::new(job)))
                        .await
                        .expect("bench job");
                }
            })
        })
        .collect();
    for creator in creators {
        creator.await.expect("job creator");
    }
    // The client-facing endpoint: decode the record, commit it, answer when applied.
    let api = TcpListener::bind("127.0.0.1:0").await.expect("bind api");
    let api_addr: SocketAddr = api.local_addr().expect("api addr");
    let router = Router::new()
        .route("/put", post(put))
        .with_state(leader.clone());
    tokio::spawn(async move { axum::serve(api, router).await });
    OurCluster {
        nodes,
        leader,
        url: format!("http://{api_addr}/put"),
        _dir: dir,
    }
}

async fn put(State(node): State<RaftNode>, body: Bytes) -> (StatusCode, &'static str) {
    let Ok(execution) = serde_json::from_slice::<Execution>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad execution");
    };
    match node.write(Command::ExecutionStarted(execution)).await {
        Ok(written)
            if matches!(
                written.response,
                Response::ExecutionStarted { stored: true, .. }
            ) =>
        {
            (StatusCode::OK, "{}")
        }
        Ok(_) => (StatusCode::CONFLICT, "not stored"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "write failed"),
    }
}

impl OurCluster {
    async fn stop(self) {
        for node in &self.nodes {
            let _ = node.shutdown().await;
        }
    }
}

struct Etcd {
    children: Vec<Child>,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for child in &mut self.children {
            // Our own children, by handle (never by name).
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_etcd(size: usize) -> Option<Etcd> {
    let dir = tempfile::Builder::new()
        .prefix("etcd-bench")
        .tempdir()
        .expect("temp dir");
    let names: Vec<String> = (0..size).map(|i| format!("e{i}")).collect();
    let peer = |i: usize| format!("http://127.0.0.1:{}", 23801 + i);
    let client = |i: usize| format!("http://127.0.0.1:{}", 23791 + i);
    let cluster: Vec<String> = (0..size)
        .map(|i| format!("{}={}", names[i], peer(i)))
        .collect();
    let mut children = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let child = Process::new("etcd")
            .args(["--name", name])
            .arg("--data-dir")
            .arg(dir.path().join(name))
            .args([
                "--listen-client-urls",
                &client(i),
                "--advertise-client-urls",
                &client(i),
            ])
            .args([
                "--listen-peer-urls",
                &peer(i),
                "--initial-advertise-peer-urls",
                &peer(i),
            ])
            .args([
                "--initial-cluster",
                &cluster.join(","),
                "--initial-cluster-state",
                "new",
            ])
            .args([
                "--initial-cluster-token",
                "dkron-bench",
                "--log-level",
                "error",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => children.push(child),
            Err(error) => {
                eprintln!(
                    "raft-bench: etcd not started ({error}); install Debian's etcd-server to compare"
                );
                return None;
            }
        }
    }
    Some(Etcd {
        children,
        url: format!("{}/v3/kv/put", client(0)),
        _dir: dir,
    })
}

fn etcd_body(i: u64) -> Vec<u8> {
    let key = base64(format!("bench/{i:012}").as_bytes());
    let value = base64(&[b'v'; 300]);
    format!(r#"{{"key":"{key}","value":"{value}"}}"#).into_bytes()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `iters` writes spread over `writers` tasks, each one write at a time; returns the elapsed
/// time until the last reply.
async fn drive<F, Fut>(iters: u64, writers: usize, write: F) -> Duration
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let start = Instant::now();
    let writers_u64 = writers as u64;
    let tasks: Vec<_> = (0..writers_u64)
        .map(|w| {
            let write = write.clone();
            let count = iters / writers_u64 + u64::from(w < iters % writers_u64);
            tokio::spawn(async move {
                for i in 0..count {
                    write(w * 1_000_000_000 + i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    start.elapsed()
}

async fn post_ok(client: &reqwest::Client, url: &str, body: Vec<u8>) {
    let response = client
        .post(url)
        .body(body)
        .send()
        .await
        .expect("request sent");
    assert!(
        response.status().is_success(),
        "write refused: {}",
        response.status()
    );
    let _ = response.bytes().await;
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(128)
        .build()
        .expect("client")
}

/// Prints what one fsync carried on the leader during the last bench function.
fn report_group_commit(label: &str, before: LogStatsSnapshot, after: LogStatsSnapshot) {
    let writes = after.writes - before.writes;
    let proposals = after.proposals - before.proposals;
    let syncs = after.syncs - before.syncs;
    eprintln!(
        "raft-group-commit: {label}: {writes} writes in {proposals} log entries, {syncs} leader WAL syncs, {:.1} writes/fsync",
        writes as f64 / syncs.max(1) as f64,
    );
}

fn ours(c: &mut Criterion, rt: &Runtime, size: usize) {
    let cluster = rt.block_on(start_ours(size));
    let client = http_client();
    let mut group = c.benchmark_group(format!("raft_commit_{size}node"));
    group.throughput(Throughput::Elements(1));
    for writers in WRITERS {
        let before = cluster.leader.log_stats();
        group.bench_function(format!("dkron_raft_http/{writers}w"), |b| {
            b.iter_custom(|iters| {
                let (client, url) = (client.clone(), cluster.url.clone());
                rt.block_on(drive(iters, writers, move |_| {
                    let (client, url) = (client.clone(), url.clone());
                    async move { post_ok(&client, &url, execution_json()).await }
                }))
            });
        });
        report_group_commit(
            &format!("{size} node(s), http, {writers} writer(s)"),
            before,
            cluster.leader.log_stats(),
        );
    }
    let before = cluster.leader.log_stats();
    group.bench_function("dkron_raft_direct/64w", |b| {
        b.iter_custom(|iters| {
            let leader = cluster.leader.clone();
            rt.block_on(drive(iters, 64, move |_| {
                let leader = leader.clone();
                async move {
                    let execution = serde_json::from_slice(&execution_json()).expect("execution");
                    leader
                        .write(Command::ExecutionStarted(execution))
                        .await
                        .expect("committed");
                }
            }))
        });
    });
    report_group_commit(
        &format!("{size} node(s), direct, 64 writers"),
        before,
        cluster.leader.log_stats(),
    );
    // The same path with a small command (a job's next fire time): Raft and group commit
    // without the cost of storing an execution record.
    let before = cluster.leader.log_stats();
    group.bench_function("dkron_raft_direct_small/64w", |b| {
        b.iter_custom(|iters| {
            let leader = cluster.leader.clone();
            rt.block_on(drive(iters, 64, move |i| {
                let leader = leader.clone();
                async move {
                    let name = job_name(i64::try_from(i % JOBS as u64).unwrap_or(0));
                    leader
                        .write(Command::SetJobNext { name, next: None })
                        .await
                        .expect("committed");
                }
            }))
        });
    });
    report_group_commit(
        &format!("{size} node(s), direct small, 64 writers"),
        before,
        cluster.leader.log_stats(),
    );
    group.finish();
    rt.block_on(cluster.stop());
}

fn etcd(c: &mut Criterion, rt: &Runtime, size: usize) {
    let Some(etcd) = start_etcd(size) else { return };
    let client = http_client();
    let ready = rt.block_on(async {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(response) = client.post(&etcd.url).body(etcd_body(0)).send().await
                && response.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    if !ready {
        eprintln!("raft-bench: etcd {size}-node did not answer within {DEADLINE:?}");
        return;
    }
    let mut group = c.benchmark_group(format!("raft_commit_{size}node"));
    group.throughput(Throughput::Elements(1));
    for writers in WRITERS {
        group.bench_function(format!("etcd_3_4/{writers}w"), |b| {
            b.iter_custom(|iters| {
                let (client, url) = (client.clone(), etcd.url.clone());
                rt.block_on(drive(iters, writers, move |i| {
                    let (client, url) = (client.clone(), url.clone());
                    async move { post_ok(&client, &url, etcd_body(i)).await }
                }))
            });
        });
    }
    group.finish();
}

fn raft(c: &mut Criterion) {
    // reqwest is built without a default TLS provider; plain http still asks for one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Alternate ours and the peer, as the anchors ask on this VM (idle vs busy fsync cost).
    for size in [1, 3] {
        ours(c, &rt, size);
        etcd(c, &rt, size);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = raft
}
criterion_main!(benches);
