//! Three real `dkrond` servers on 127.0.0.1: forming, write forwarding, failover without a
//! repeated or lost run, catching up after a restart.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use serde_json::Value;

use crate::support::*;

/// How long forming, joining and catching up may take on a loaded 2-core machine.
pub(crate) const FORM_TIMEOUT: Duration = Duration::from_secs(60);

/// Three servers: `s1` bootstraps, `s2` and `s3` join it through its RPC port.
pub(crate) fn three_servers() -> Vec<Dkrond> {
    let first = Dkrond::start_server(temp_dir(), "s1", &["--bootstrap-expect", "1"]);
    let join = first.rpc();
    let mut servers = vec![first];
    for name in ["s2", "s3"] {
        servers.push(Dkrond::start_server(
            temp_dir(),
            name,
            &["--bootstrap-expect", "0", "--join", &join],
        ));
    }
    for server in &servers {
        wait_for_members(server, &["s1", "s2", "s3"]);
    }
    servers
}

pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Waits until `server` lists exactly `names` as alive servers.
pub(crate) fn wait_for_members(server: &Dkrond, names: &[&str]) {
    wait_for(
        &format!("{} to list the members {names:?}", server.http),
        FORM_TIMEOUT,
        || {
            let list = server.get("/v1/members").json();
            let alive: BTreeSet<String> = list
                .as_array()?
                .iter()
                .filter(|m| m["statusText"] == "alive")
                .filter_map(|m| m["Name"].as_str().map(str::to_owned))
                .collect();
            let wanted: BTreeSet<String> = names.iter().map(|n| (*n).to_owned()).collect();
            (alive == wanted).then_some(())
        },
    );
}

/// The leader's name as `server` reports it.
pub(crate) fn leader_of(server: &Dkrond) -> Option<String> {
    let reply = server.get("/v1/leader");
    (reply.status == 200)
        .then(|| reply.json()["Name"].as_str().map(str::to_owned))
        .flatten()
}

/// The leader every server of `servers` names, once they all name the same one: under load a
/// heartbeat can time out and an election run at any moment, and meanwhile a server names none.
pub(crate) fn agreed_leader(servers: &[Dkrond]) -> String {
    wait_for("one leader named by all", FORM_TIMEOUT, || {
        let names: BTreeSet<Option<String>> = servers.iter().map(leader_of).collect();
        match names.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(name)] => Some(name.clone()),
            _ => None,
        }
    })
}

fn every_second(name: &str) -> String {
    every_second_with(name, "skip")
}

/// A shell job `@every 1s` running `true` with `misfire_policy`, on one server per fire.
pub(crate) fn every_second_with(name: &str, misfire_policy: &str) -> String {
    serde_json::json!({
        "name": name,
        "schedule": "@every 1s",
        "executor": "shell",
        "executor_config": { "command": "true" },
        "misfire_policy": misfire_policy,
        // One server per fire (any): untagged, a fire would run on all three.
        "tags": { "dc": "dc1:1" },
    })
    .to_string()
}

/// Nanoseconds since the Unix epoch, now.
fn now_ns() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_nanos()).expect("in range")
}

/// The executions of `job` as `server` lists them (none for an unknown job). An error answer
/// is asked again (bounded): under load a request can time out (503) or its connection drop,
/// and a check must not read that as an empty history.
pub(crate) fn executions(server: &Dkrond, job: &str) -> Vec<Value> {
    let path = format!("/v1/jobs/{job}/executions");
    wait_for(
        &format!("{} to answer {path}", server.http),
        FORM_TIMEOUT,
        || {
            let reply = server.get(&path);
            match reply.status {
                200 => serde_json::from_slice::<Value>(&reply.body)
                    .ok()
                    .map(|list| list.as_array().cloned().unwrap_or_default()),
                404 => Some(Vec::new()),
                _ => None,
            }
        },
    )
}

/// Three servers form one group: every server lists the three and names the same leader; a
/// job written to a follower is readable from that follower at once, answers as on the
/// leader, and runs.
#[test]
fn three_servers_form_and_any_server_takes_writes() {
    let servers = three_servers();
    let leader = agreed_leader(&servers);
    let follower = servers
        .iter()
        .find(|s| node_name(s) != leader)
        .expect("a follower");
    let created = follower.post("/v1/jobs", &every_second("through-follower"));
    assert_eq!(created.status, 201, "{}", created.text());
    let read = follower.get("/v1/jobs/through-follower");
    assert_eq!(read.status, 200, "a follower reads its own write");
    // The same refusal as the leader's, forwarded.
    let missing = follower.request("DELETE", "/v1/jobs/no-such-job", None);
    assert_eq!(missing.status, 404, "{}", missing.text());
    wait_for("the job to run", FORM_TIMEOUT, || {
        let list = executions(follower, "through-follower");
        list.iter().any(|e| e["success"] == true).then_some(())
    });
}

/// The node name a server reports at `/v1`.
pub(crate) fn node_name(server: &Dkrond) -> String {
    server.get("/v1").json()["agent"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// kill -9 of the leader while 50 jobs fire every second: a new leader is elected, the fires
/// go on, no (job, scheduled instant) is launched twice, the instants missed while there was
/// no leader follow each job's misfire policy (half skip them, half catch them up), no
/// recorded execution is lost, and the killed server catches up when it comes back.
#[test]
fn leader_crash_neither_repeats_nor_stops_fires() {
    let mut servers = three_servers();
    let jobs: Vec<String> = (0..50).map(|i| format!("job-{i:02}")).collect();
    let catching_up = |job: &str| job.ends_with(['1', '3', '5', '7', '9']);
    for job in &jobs {
        let policy = if catching_up(job) {
            "catch_up:1m"
        } else {
            "skip"
        };
        let reply = servers[1].post("/v1/jobs", &every_second_with(job, policy));
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    // Let every job fire a few times under the first leader.
    wait_for("every job to run", FORM_TIMEOUT, || {
        jobs.iter()
            .all(|job| executions(&servers[1], job).len() >= 2)
            .then_some(())
    });
    let leader = agreed_leader(&servers);
    let index = servers
        .iter()
        .position(|s| node_name(s) == leader)
        .expect("the leader among the servers");
    // What was recorded before the crash must survive it.
    let recorded_before: BTreeSet<String> = jobs
        .iter()
        .flat_map(|job| executions(&servers[(index + 1) % 3], job))
        .filter(is_done)
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    let killed_dir = servers.remove(index).kill();
    let killed_at_ns = now_ns();
    // Not timed here: failover time is the load harness's to measure (`loadgen failover`), and
    // on a loaded machine an election can take seconds (heartbeats time out, votes split).
    wait_for("a new leader", FORM_TIMEOUT, || {
        let name = leader_of(&servers[0])?;
        (name != leader && leader_of(&servers[1]).as_deref() == Some(name.as_str())).then_some(())
    });
    // Fires go on under the new leader: each job runs again after the crash.
    let counts: BTreeMap<String, usize> = jobs
        .iter()
        .map(|job| (job.clone(), executions(&servers[0], job).len()))
        .collect();
    wait_for(
        "every job to run under the new leader",
        FORM_TIMEOUT,
        || {
            jobs.iter()
                .all(|job| executions(&servers[0], job).len() >= counts[job] + 2)
                .then_some(())
        },
    );
    // The killed server comes back and catches up.
    let restarted = Dkrond::restart_server(killed_dir, &leader);
    wait_for("the restarted server to catch up", FORM_TIMEOUT, || {
        let theirs = executions(&servers[0], &jobs[0]).len();
        let mine = executions(&restarted, &jobs[0]).len();
        (mine > 0 && mine + 2 >= theirs).then_some(())
    });
    servers.push(restarted);

    // The whole history, read from one server.
    let mut recorded_after = BTreeSet::new();
    for job in &jobs {
        let list = executions(&servers[0], job);
        recorded_after.extend(
            list.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned)),
        );
        // No (job, instant) launched twice: each instant runs once per target server.
        let mut instants: BTreeMap<i64, usize> = BTreeMap::new();
        let mut runs: BTreeMap<(i64, String), usize> = BTreeMap::new();
        for execution in &list {
            if execution["trigger"] == "scheduled" && execution["attempt"] == 1 {
                let group = execution["group"].as_i64().expect("group");
                *instants.entry(group).or_insert(0) += 1;
                let node = execution["node_name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                *runs.entry((group, node)).or_insert(0) += 1;
            }
        }
        let repeated: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            repeated.is_empty(),
            "{job}: instants run twice on one server {repeated:?}\n{list:#?}"
        );
        // A scheduled fire's group is its instant: a catch-up job has every second from its
        // first fire to its last, except those the killed leader had launched and not yet run
        // (launched at most once: they died with it).
        if catching_up(job) {
            let groups: Vec<i64> = instants.keys().copied().collect();
            let lost: Vec<i64> = groups
                .windows(2)
                .flat_map(|pair| {
                    (1..(pair[1] - pair[0]) / 1_000_000_000)
                        .map(move |k| pair[0] + k * 1_000_000_000)
                })
                .collect();
            assert!(
                lost.iter()
                    .all(|at| (killed_at_ns - 2_000_000_000..=killed_at_ns).contains(at)),
                "{job}: instants missing away from the crash: {lost:?} (killed at {killed_at_ns})"
            );
        }
    }
    let lost: Vec<&String> = recorded_before.difference(&recorded_after).collect();
    assert!(lost.is_empty(), "executions lost in the crash: {lost:?}");
}

/// The group shrinks as operators ask: `dkrond raft remove-peer` removes a server (every
/// server then lists it as left), and SIGTERM makes a server leave the voters gracefully; the
/// last server keeps leading and taking writes. A server restarted with `--join` comes back.
#[test]
fn remove_peer_and_sigterm_shrink_the_group() {
    let mut servers = three_servers();
    let s3 = servers.pop().expect("s3");
    let removed = std::process::Command::new(BIN)
        .args(["raft", "remove-peer", "--peer-id", "s3", "--rpc-addr"])
        .env("DKRON_ENCRYPT", crate::support::TEST_KEY)
        .arg(servers[0].rpc())
        .output()
        .expect("run dkrond raft remove-peer");
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    drop(s3);
    for server in &servers {
        wait_for_members(server, &["s1", "s2"]);
    }
    let peers = std::process::Command::new(BIN)
        .args(["raft", "list-peers", "--rpc-addr"])
        .env("DKRON_ENCRYPT", crate::support::TEST_KEY)
        .arg(servers[1].rpc())
        .output()
        .expect("run dkrond raft list-peers");
    let table = String::from_utf8_lossy(&peers.stdout);
    assert!(
        table.contains("s1") && table.contains("s2") && !table.contains("s3"),
        "{table}"
    );

    // SIGTERM: s2 leaves the voters, s1 goes on alone.
    let s2 = servers.pop().expect("s2");
    let join = servers[0].rpc();
    let (s2_dir, status) = s2.stop();
    assert!(status.success(), "s2 exited with {status}");
    wait_for_members(&servers[0], &["s1"]);
    let listed = servers[0].get("/v1/members").json();
    let s2_status = listed
        .as_array()
        .and_then(|l| l.iter().find(|m| m["Name"] == "s2"))
        .map(|m| m["statusText"].clone());
    assert_eq!(s2_status, Some(Value::from("left")), "{listed}");
    let created = servers[0].post("/v1/jobs", &every_second("after-shrink"));
    assert_eq!(created.status, 201, "{}", created.text());

    // Back with --join: a voter again.
    let s2 = Dkrond::start_server(s2_dir, "s2", &["--join", &join]);
    wait_for_members(&servers[0], &["s1", "s2"]);
    wait_for(
        "s2 to read the job written while it was away",
        FORM_TIMEOUT,
        || (s2.get("/v1/jobs/after-shrink").status == 200).then_some(()),
    );
}

/// Free loopback ports, found by binding and releasing them. `--bootstrap-expect` needs every
/// server's address before any starts; another process could take a port in between, which
/// would show as a failure to start, not a wrong result.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// Five servers started at once with `--bootstrap-expect 5` and each other's RPC addresses
/// (`--retry-join`) form one group, as on five machines: all five listed alive everywhere, one
/// leader named by all.
#[test]
fn bootstrap_expect_forms_five_servers() {
    let ports = free_ports(5);
    let joins: Vec<String> = ports
        .iter()
        .flat_map(|p| ["--retry-join".to_owned(), format!("127.0.0.1:{p}")])
        .collect();
    let names: Vec<String> = (1..=5).map(|i| format!("b{i}")).collect();
    let spawned: Vec<std::thread::JoinHandle<Dkrond>> = ports
        .iter()
        .zip(&names)
        .map(|(port, name)| {
            let mut flags: Vec<String> = vec![
                "--bootstrap-expect".into(),
                "5".into(),
                "--retry-interval".into(),
                "1s".into(),
            ];
            flags.extend(joins.iter().cloned());
            let (port, name) = (*port, name.clone());
            // Each start waits for its ports file, written once the group formed: in parallel.
            std::thread::spawn(move || {
                let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
                Dkrond::start_server_on(temp_dir(), &name, port, &flags)
            })
        })
        .collect();
    let servers: Vec<Dkrond> = spawned
        .into_iter()
        .map(|t| t.join().expect("a server started"))
        .collect();
    let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
    for server in &servers {
        wait_for_members(server, &wanted);
    }
    agreed_leader(&servers);
}

/// An execution running on a server when it is killed (the leader or not) is closed as failed,
/// saying which node was lost, and its retry runs on a live server.
#[test]
fn executions_of_a_crashed_leader_are_closed_and_retried() {
    let mut servers = three_servers();
    // On one server, whichever the leader picks.
    let job = serde_json::json!({
        "name": "long", "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": "sleep 30" }, "tags": { "dc": "dc1:1" },
        "retries": 1, "retry_backoff": { "initial": "100ms", "max": "100ms" },
    });
    assert_eq!(servers[2].post("/v1/jobs", &job.to_string()).status, 201);
    assert_eq!(servers[2].post("/v1/jobs/long/run", "").status, 200);
    let lost = wait_for("the run to start", FORM_TIMEOUT, || {
        let busy = servers[2].get("/v1/busy").json();
        let running = busy.as_array()?.first()?.clone();
        running["node_name"].as_str().map(str::to_owned)
    });
    let index = servers
        .iter()
        .position(|s| node_name(s) == lost)
        .expect("the server running it");
    drop(servers.remove(index).kill());
    let (closed, retry) = wait_for("the run to be closed and retried", FORM_TIMEOUT, || {
        let list = executions(&servers[0], "long");
        let closed = list
            .iter()
            .find(|e| e["attempt"] == 1 && e["success"] == false && is_done(e))?
            .clone();
        let retry = list.iter().find(|e| e["attempt"] == 2)?.clone();
        Some((closed, retry))
    });
    assert_eq!(closed["node_name"], lost.as_str());
    let output = closed["output"].as_str().unwrap_or_default();
    assert!(output.contains(&format!("node {lost} lost")), "{output:?}");
    assert_ne!(retry["node_name"], lost.as_str(), "{retry}");
    assert_eq!(retry["trigger"], "retry");
}

/// Whether an execution (as the API renders it) has finished.
pub(crate) fn is_done(execution: &Value) -> bool {
    execution["finished_at"]
        .as_str()
        .is_some_and(|t| !t.starts_with("0001-"))
}
