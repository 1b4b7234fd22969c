//! Three real `dkrond` servers on 127.0.0.1: forming, write forwarding, failover without a
//! repeated or lost run, catching up after a restart.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::support::*;

/// How long forming, joining and catching up may take on a loaded 2-core machine.
const FORM_TIMEOUT: Duration = Duration::from_secs(60);

/// Three servers: `s1` bootstraps, `s2` and `s3` join it through its RPC port.
fn three_servers() -> Vec<Dkrond> {
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

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Waits until `server` lists exactly `names` as alive servers.
fn wait_for_members(server: &Dkrond, names: &[&str]) {
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
fn leader_of(server: &Dkrond) -> Option<String> {
    let reply = server.get("/v1/leader");
    (reply.status == 200)
        .then(|| reply.json()["Name"].as_str().map(str::to_owned))
        .flatten()
}

fn every_second(name: &str) -> String {
    serde_json::json!({
        "name": name,
        "schedule": "@every 1s",
        "executor": "shell",
        "executor_config": { "command": "true" },
    })
    .to_string()
}

fn executions(server: &Dkrond, job: &str) -> Vec<Value> {
    server
        .get(&format!("/v1/jobs/{job}/executions"))
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Three servers form one group: every server lists the three and names the same leader; a
/// job written to a follower is readable from that follower at once, answers as on the
/// leader, and runs.
#[test]
fn three_servers_form_and_any_server_takes_writes() {
    let servers = three_servers();
    let leader = wait_for("one leader named by all", FORM_TIMEOUT, || {
        let names: BTreeSet<Option<String>> = servers.iter().map(leader_of).collect();
        match names.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(name)] => Some(name.clone()),
            _ => None,
        }
    });
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
fn node_name(server: &Dkrond) -> String {
    server.get("/v1").json()["agent"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// kill -9 of the leader while 50 jobs fire every second: a new leader within 2 s, the fires
/// go on, no (job, scheduled instant) is launched twice, and the killed server catches up
/// when it comes back.
#[test]
fn leader_crash_neither_repeats_nor_stops_fires() {
    let mut servers = three_servers();
    let jobs: Vec<String> = (0..50).map(|i| format!("job-{i:02}")).collect();
    for job in &jobs {
        let reply = servers[1].post("/v1/jobs", &every_second(job));
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    // Let every job fire a few times under the first leader.
    wait_for("every job to run", FORM_TIMEOUT, || {
        jobs.iter()
            .all(|job| executions(&servers[1], job).len() >= 2)
            .then_some(())
    });
    let leader = leader_of(&servers[0]).expect("a leader");
    let index = servers
        .iter()
        .position(|s| node_name(s) == leader)
        .expect("the leader among the servers");
    let killed_dir = servers.remove(index).kill();
    let killed_at = Instant::now();
    let new_leader = wait_for("a new leader", Duration::from_secs(10), || {
        let name = leader_of(&servers[0])?;
        (name != leader && leader_of(&servers[1]).as_deref() == Some(name.as_str())).then_some(name)
    });
    let elected_in = killed_at.elapsed();
    assert!(
        elected_in < Duration::from_secs(2),
        "new leader {new_leader} after {elected_in:?}"
    );
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
    let restarted = Dkrond::start_server(killed_dir, &leader, &[]);
    wait_for("the restarted server to catch up", FORM_TIMEOUT, || {
        let theirs = executions(&servers[0], &jobs[0]).len();
        let mine = executions(&restarted, &jobs[0]).len();
        (mine > 0 && mine + 2 >= theirs).then_some(())
    });
    servers.push(restarted);

    // The whole history, read from one server: no (job, instant) launched twice, nothing left
    // running for ever.
    for job in &jobs {
        let list = executions(&servers[0], job);
        let mut instants = BTreeMap::new();
        for execution in &list {
            if execution["trigger"] == "scheduled" && execution["attempt"] == 1 {
                let at = execution["scheduled_at"]
                    .as_str()
                    .expect("scheduled_at")
                    .to_owned();
                *instants.entry(at).or_insert(0) += 1;
            }
        }
        let repeated: Vec<_> = instants.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            repeated.is_empty(),
            "{job}: instants launched twice {repeated:?}\n{list:#?}"
        );
    }
}
