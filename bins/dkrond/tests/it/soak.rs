//! The fault-injection soak: 3 servers and 2 agents as real `dkrond` processes, each in its own
//! network namespace on a bridge (on 127.0.0.1 where namespaces are not allowed or
//! `DKRON_SOAK_PARTITIONS=0`), run 200 shell jobs (`@every 1s`, 6-field cron, `forbid`, retries,
//! parent/child) that log every run to a sink file, while random faults hit the nodes (kill -9
//! and restart on the same data dir; SIGSTOP then SIGCONT; cut off the network, then back), one
//! at a time so a majority of servers is always up, and a writer upserts and deletes jobs through
//! random servers. Then [`checker`] reads the whole history and the sink and asserts the
//! cluster's promises (docs/testing.md, "Soak").
//!
//! Not run by `cargo test` (it is `#[ignore]`d): `DKRON_SOAK_MINUTES=1 cargo test -p dkrond --test
//! it soak -- --ignored --nocapture`, 10 minutes of faults by default; `DKRON_SOAK_SEED` replays
//! a fault sequence.

mod checker;
mod faults;

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Read, Write as _},
    net::{SocketAddr, TcpStream},
    os::unix::fs::PermissionsExt,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use self::{
    checker::{Exec, Final, Sent, Violation, Write},
    faults::{Cluster, Rng},
};
use crate::{netns::TestNet, support::*};

/// The API token of the soak's servers: on the bridge, the test's client is not loopback.
const TOKEN: &str = "soak-test-token-0123456789abcdef";

/// How many of each kind of job (200 in all).
const EVERY_SECOND: usize = 40;
const CRON: usize = 60;
const FORBID: usize = 30;
const RETRIES: usize = 40;
const PARENTS: usize = 15;
/// Jobs only the writer touches (never run: `@manually`).
const WRITER_JOBS: usize = 20;

/// The command every job runs: logs its start and end at the sink with the job name dkron-rs
/// exports (`ENV_JOB_NAME`) and the node (`SOAK_NODE`, set on each dkrond and inherited), prints
/// a unique token (so its recorded output names its sink run: dkron-rs gives a command neither
/// the scheduled instant nor the node), sleeps `$1` s, and fails when its start second plus the
/// job name's length is divisible by `$2` (0: never).
const SCRIPT: &str = r#"#!/bin/bash
t=${EPOCHREALTIME/./}
tok="$SOAK_NODE-$$-$t"
echo "S $ENV_JOB_NAME $SOAK_NODE $tok $t" >> "SINK"
echo "token=$tok"
[ "$1" = 0 ] || sleep "$1"
code=0
if [ "$2" != 0 ] && [ $(( (${t:0:10} + ${#ENV_JOB_NAME}) % $2 )) -eq 0 ]; then code=1; fi
echo "E $ENV_JOB_NAME $SOAK_NODE $tok ${EPOCHREALTIME/./} $code" >> "SINK"
exit $code
"#;

/// How long the cluster may take to finish what it started once the faults stop.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
#[ignore = "minutes long: DKRON_SOAK_MINUTES=1 cargo test -p dkrond --test it soak -- --ignored"]
fn soak() {
    let minutes: f64 = std::env::var("DKRON_SOAK_MINUTES")
        .ok()
        .map(|m| m.parse().expect("DKRON_SOAK_MINUTES is a number"))
        .unwrap_or(10.0);
    let seed: u64 = std::env::var("DKRON_SOAK_SEED")
        .ok()
        .map(|s| s.parse().expect("DKRON_SOAK_SEED is a number"))
        .unwrap_or_else(|| now_us().unsigned_abs());
    println!("soak: {minutes} min of faults, seed {seed} (DKRON_SOAK_SEED={seed} replays it)");
    let partitions = match std::env::var("DKRON_SOAK_PARTITIONS").as_deref() {
        Ok("0") => Err("off (DKRON_SOAK_PARTITIONS=0)".to_owned()),
        Ok("1") | Err(_) => {
            TestNet::create(faults::NAMES.len()).map_err(|e| format!("skipped: {e}"))
        }
        Ok(other) => panic!("DKRON_SOAK_PARTITIONS is 0 or 1, not {other:?}"),
    };
    let partitions_note = match &partitions {
        Ok(net) => format!(
            "on: each node in its own network namespace on a bridge ({}/24)",
            net.host_ip
        ),
        Err(why) => format!("{why}; the nodes run on 127.0.0.1"),
    };
    println!("soak: partitions {partitions_note}");

    let work = tempfile::tempdir().expect("temp dir");
    let sink = work.path().join("sink.log");
    let script = work.path().join("job.sh");
    std::fs::write(
        &script,
        SCRIPT.replace("SINK", sink.to_str().expect("utf-8 temp path")),
    )
    .expect("write the job script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let cluster = Arc::new(Mutex::new(Cluster::start(partitions.ok(), TOKEN)));
    let first = cluster.lock().expect("cluster").servers()[0];
    let jobs = create_jobs(first, &script);
    let forbid: BTreeSet<String> = jobs
        .iter()
        .filter(|j| j["concurrency"] == "forbid")
        .map(|j| j["name"].as_str().expect("name").to_owned())
        .collect();
    let names: Vec<String> = jobs
        .iter()
        .map(|j| j["name"].as_str().expect("name").to_owned())
        .collect();
    println!("soak: {} jobs created; faults start", names.len());

    let deadline = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let stop = AtomicBool::new(false);
    let (faults, sent) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| writer(&cluster, seed ^ 0x5eed, deadline, &stop));
        let injected = faults::inject(&cluster, &mut Rng::new(seed), deadline);
        stop.store(true, Ordering::Relaxed);
        (injected, writer.join().expect("writer thread"))
    });

    // Settle: every node back, no new fires (the jobs are disabled), every run finished.
    let cluster = cluster.lock().expect("cluster");
    cluster.wait_all_alive();
    let api = cluster.servers()[0];
    // An upsert with `disabled: true`, not `/toggle`: a retried toggle whose first reply was
    // lost (a 5 s timeout under load) flips the job back on, and it fires through the reads.
    for job in &jobs {
        let mut job = job.clone();
        job["disabled"] = json!(true);
        let body = job.to_string();
        retry_request(
            &cluster,
            "POST",
            "/v1/jobs",
            body.as_bytes(),
            "disable a job",
        );
    }
    wait_for(
        "every job to read disabled",
        Duration::from_secs(60),
        || {
            names
                .iter()
                .all(|name| {
                    call(api, "GET", &format!("/v1/jobs/{name}"), b"").json()["disabled"] == true
                })
                .then_some(())
        },
    );
    let settled = wait_settled(api, &names);
    println!("soak: settled after faults in {settled:?}");

    // Read everything back.
    let mut execs = Vec::new();
    for name in &names {
        execs.extend(history(api, name));
    }
    let (runs, mut violations) =
        checker::parse_sink(&std::fs::read_to_string(&sink).unwrap_or_default());
    let mut finals_checked = 0;
    for server in cluster.servers() {
        let finals = finals(server, &sent);
        finals_checked += finals.len();
        violations.extend(checker::writes_kept(&sent, &finals));
    }
    violations.extend(checker::no_double_runs(&execs, &runs));
    violations.extend(checker::all_recorded(&execs, &runs));
    violations.extend(checker::forbid_held(&forbid, &execs, &runs));

    let writes: usize = sent.values().map(Vec::len).sum();
    let acked: usize = sent.values().flatten().filter(|s| s.acked).count();
    let failed = execs.iter().filter(|e| !e.success).count();
    let retries = execs.iter().filter(|e| e.trigger == "retry").count();
    let dependent = execs.iter().filter(|e| e.trigger == "dependent").count();
    println!("soak: faults injected: {faults}");
    println!("soak: partitions {partitions_note}");
    println!(
        "soak: writes checked: {writes} sent ({acked} acknowledged) to {} jobs, final state read \
         from each of 3 servers ({finals_checked} reads)",
        sent.len()
    );
    println!(
        "soak: executions checked: {} in the history ({failed} failed, {retries} retries, \
         {dependent} dependent) of {} jobs ({} forbid), {} runs at the sink ({} killed before \
         their end)",
        execs.len(),
        names.len(),
        forbid.len(),
        runs.len(),
        runs.iter().filter(|r| r.end_us.is_none()).count()
    );
    if !violations.is_empty() {
        // Evidence for a look: the history as read, and every node's whole log.
        let lines: Vec<String> = execs.iter().map(|e| format!("{e:?}")).collect();
        std::fs::write(work.path().join("history.txt"), lines.join("\n")).expect("write");
        cluster.copy_logs(work.path());
    }
    report(&violations, work, cluster.log_tails());
}

/// Prints the violations by rule (all of them to stdout, capped per rule) and fails if any;
/// then keeps the sink and logs for a look.
fn report(violations: &[Violation], work: tempfile::TempDir, logs: String) {
    let mut by_rule: BTreeMap<&str, Vec<&Violation>> = BTreeMap::new();
    for v in violations {
        by_rule.entry(v.rule).or_default().push(v);
    }
    println!("soak: violations: {}", violations.len());
    for (rule, list) in &by_rule {
        println!("  {rule}: {}", list.len());
        for v in list.iter().take(20) {
            println!("    {}", v.detail);
        }
    }
    if !violations.is_empty() {
        let kept = work.keep();
        println!(
            "soak: sink, history, node logs and job script kept in {}",
            kept.display()
        );
        println!("soak: node logs (tails):\n{logs}");
        panic!("the soak found {} violations", violations.len());
    }
}

/// The 200 jobs, created through `api` (parents before their children).
fn create_jobs(api: SocketAddr, script: &Path) -> Vec<Value> {
    let script = script.to_str().expect("utf-8 path");
    let base = |name: String, schedule: &str, args: &str| {
        json!({
            "name": name,
            "schedule": schedule,
            "executor": "shell",
            "executor_config": { "command": format!("{script} {args}") },
            // One matching node per fire, any of the five.
            "tags": { "soak": "yes:1" },
            "history_limit": 5000,
        })
    };
    let mut jobs = Vec::new();
    for i in 0..EVERY_SECOND {
        jobs.push(base(format!("every-{i}"), "@every 1s", "0 0"));
    }
    for i in 0..CRON {
        let step = 2 + i % 5;
        jobs.push(base(
            format!("cron-{i}"),
            &format!("{}/{step} * * * * *", i % step),
            "0 0",
        ));
    }
    for i in 0..FORBID {
        let mut job = base(
            format!("forbid-{i}"),
            "@every 1s",
            &format!("{}.{} 0", 1 + i % 2, i % 10),
        );
        job["concurrency"] = json!("forbid");
        jobs.push(job);
    }
    for i in 0..RETRIES {
        let mut job = base(
            format!("retry-{i}"),
            "@every 3s",
            &format!("0 {}", 2 + i % 2),
        );
        job["retries"] = json!(2);
        job["retry_backoff"] = json!({ "initial": "1s", "max": "2s" });
        jobs.push(job);
    }
    for i in 0..PARENTS {
        jobs.push(base(format!("parent-{i}"), "@every 4s", "0 0"));
    }
    for i in 0..PARENTS {
        let mut job = base(format!("child-{i}"), "", "0 0");
        job["parent_job"] = json!(format!("parent-{i}"));
        jobs.push(job);
    }
    for job in &jobs {
        let body = job.to_string();
        let reply = call(api, "POST", "/v1/jobs", body.as_bytes());
        assert_eq!(
            reply.status,
            201,
            "create {}: {}",
            job["name"],
            reply.text()
        );
    }
    jobs
}

/// Upserts (version in `metadata.v`) and deletes the writer's jobs through random live servers
/// until `deadline`, recording every write and whether it was acknowledged.
fn writer(
    cluster: &Mutex<Cluster>,
    seed: u64,
    deadline: Instant,
    stop: &AtomicBool,
) -> BTreeMap<String, Vec<Sent>> {
    let mut rng = Rng::new(seed);
    let mut sent: BTreeMap<String, Vec<Sent>> = BTreeMap::new();
    let mut version = 0u64;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let servers = cluster.lock().expect("cluster").live_servers();
        let Some(&server) = servers.get(rng.below(servers.len().max(1))) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let name = format!("w-{}", rng.below(WRITER_JOBS));
        let (write, reply) = if rng.below(10) < 7 {
            version += 1;
            let body = json!({
                "name": name, "schedule": "@manually", "executor": "shell",
                "executor_config": { "command": "true" },
                "metadata": { "v": version.to_string() },
            })
            .to_string();
            let reply = try_request(server, "POST", "/v1/jobs", body.as_bytes());
            (Write::Upsert(version), reply)
        } else {
            let reply = try_request(server, "DELETE", &format!("/v1/jobs/{name}"), b"");
            (Write::Delete, reply)
        };
        // A delete of an absent job (404) saw it absent: as good as an acknowledged delete.
        let acked = reply.is_some_and(|r| {
            (200..300).contains(&r.status) || (write == Write::Delete && r.status == 404)
        });
        sent.entry(name).or_default().push(Sent { write, acked });
        std::thread::sleep(Duration::from_millis(50));
    }
    sent
}

/// Each written job's state on `server`: its `metadata.v`, or absent.
fn finals(server: SocketAddr, sent: &BTreeMap<String, Vec<Sent>>) -> BTreeMap<String, Final> {
    sent.keys()
        .map(|name| {
            let reply = call(server, "GET", &format!("/v1/jobs/{name}"), b"");
            let state = match reply.status {
                200 => Some(
                    reply.json()["metadata"]["v"]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .expect("a writer job carries metadata.v"),
                ),
                404 => None,
                other => panic!("GET /v1/jobs/{name} on {server}: {other} {}", reply.text()),
            };
            (name.clone(), state)
        })
        .collect()
}

/// Waits until `api` lists no running execution for any of `jobs` (each read in full), bounded.
fn wait_settled(api: SocketAddr, jobs: &[String]) -> Duration {
    let started = Instant::now();
    while started.elapsed() < SETTLE_TIMEOUT {
        let busy = call(api, "GET", "/v1/busy", b"");
        let idle = busy.status == 200 && busy.json().as_array().is_some_and(Vec::is_empty);
        if idle
            && jobs
                .iter()
                .all(|job| history(api, job).iter().all(|e| e.finished_us.is_some()))
        {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    started.elapsed()
}

/// Every retained execution of `job`, read in pages of 500.
fn history(api: SocketAddr, job: &str) -> Vec<Exec> {
    const PAGE: usize = 500;
    let mut out = Vec::new();
    loop {
        let path = format!(
            "/v1/jobs/{job}/executions?_start={}&_end={}",
            out.len(),
            out.len() + PAGE
        );
        let reply = call(api, "GET", &path, b"");
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let total: usize = reply
            .headers
            .get("x-total-count")
            .and_then(|t| t.parse().ok())
            .expect("X-Total-Count");
        let page = reply.json();
        let page = page.as_array().expect("an array");
        out.extend(page.iter().map(exec));
        if page.is_empty() || out.len() >= total {
            return out;
        }
    }
}

fn exec(v: &Value) -> Exec {
    let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    Exec {
        job: text("job_name"),
        node: text("node_name"),
        scheduled_at: micros(&v["scheduled_at"]).map(|us| us.to_string()),
        group: v["group"].as_i64().expect("group"),
        attempt: v["attempt"]
            .as_u64()
            .and_then(|a| a.try_into().ok())
            .expect("attempt"),
        trigger: text("trigger"),
        started_us: micros(&v["started_at"]).expect("started_at"),
        finished_us: micros(&v["finished_at"]),
        success: v["success"].as_bool().expect("success"),
        output: text("output"),
    }
}

/// An API time in Unix microseconds; `None` for null or Go's zero time.
fn micros(v: &Value) -> Option<i64> {
    let at: jiff::Timestamp = v.as_str()?.parse().ok()?;
    (at.as_second() > 0).then(|| at.as_microsecond())
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// A request with the soak's token.
fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("Content-Type", "application/json"),
        ("Authorization", auth.as_str()),
    ];
    request_with_headers(addr, method, path, body, &headers)
}

/// A request with the soak's token that may fail (the server is down, stopped or cut off):
/// `None` on any error, within 5 s.
pub(crate) fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<Reply> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    raw.windows(4)
        .any(|w| w == b"\r\n\r\n")
        .then(|| parse_reply(&raw))
}

/// Sends to any live server until one answers 2xx, bounded by 60 s.
fn retry_request(cluster: &Cluster, method: &str, path: &str, body: &[u8], what: &str) -> Reply {
    wait_for(what, Duration::from_secs(60), || {
        cluster.live_servers().into_iter().find_map(|server| {
            try_request(server, method, path, body).filter(|r| (200..300).contains(&r.status))
        })
    })
}
