//! Three servers and two agents, as real `dkrond` processes on 127.0.0.1: runs go to the nodes
//! their tags pick, a lost agent's run is closed and retried elsewhere, and a result an agent
//! could not deliver is recorded once after it comes back.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use serde_json::Value;

use crate::{cluster::*, support::*};

/// Three servers, then agents `a1` (`pool=web`, `zone=a`) and `a2` (`pool=web`, `zone=b`)
/// joining them; waits until every server lists all five alive.
fn cluster_with_agents() -> (Vec<Dkrond>, Vec<Dkrond>) {
    let servers = three_servers();
    let join: Vec<String> = servers.iter().map(Dkrond::rpc).collect();
    let agents = vec![
        Dkrond::start_agent(temp_dir(), "a1", &join, &["pool=web", "zone=a"]),
        Dkrond::start_agent(temp_dir(), "a2", &join, &["pool=web", "zone=b"]),
    ];
    for server in &servers {
        wait_for_members(server, &["a1", "a2", "s1", "s2", "s3"]);
    }
    (servers, agents)
}

fn job(name: &str, schedule: &str, command: &str, tags: Value) -> String {
    serde_json::json!({
        "name": name, "schedule": schedule, "executor": "shell",
        "executor_config": { "command": command }, "tags": tags,
    })
    .to_string()
}

/// Executions of `job` grouped by group id: the nodes that ran each fire.
fn nodes_per_group(server: &Dkrond, job: &str) -> BTreeMap<i64, Vec<String>> {
    let mut groups: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for execution in executions(server, job) {
        let group = execution["group"].as_i64().expect("group");
        let node = execution["node_name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        groups.entry(group).or_default().push(node);
    }
    groups
}

/// Agents join and are listed by every server with their tags; `{"pool": "web:1"}` runs each
/// fire on exactly one of the two web agents; an untagged job runs on all five nodes; the
/// cluster-wide busy list shows runs on agents.
#[test]
fn runs_go_to_the_nodes_their_tags_pick() {
    let (servers, _agents) = cluster_with_agents();
    let members = servers[1].get("/v1/members").json();
    let a1 = members
        .as_array()
        .and_then(|l| l.iter().find(|m| m["Name"] == "a1"))
        .cloned()
        .expect("a1 listed");
    assert_eq!(a1["Tags"]["pool"], "web", "{a1}");
    assert_ne!(a1["Tags"]["server"], "true", "{a1}");

    let web = job(
        "web",
        "@every 1s",
        "true",
        serde_json::json!({ "pool": "web:1" }),
    );
    let all = job("all", "@every 1s", "true", serde_json::json!({}));
    assert_eq!(servers[0].post("/v1/jobs", &web).status, 201);
    assert_eq!(servers[1].post("/v1/jobs", &all).status, 201);
    wait_for("three fires of each job", FORM_TIMEOUT, || {
        let complete = |job: &str, nodes: usize| {
            nodes_per_group(&servers[2], job)
                .values()
                .filter(|n| n.len() >= nodes)
                .count()
                >= 3
        };
        (complete("web", 1) && complete("all", 5)).then_some(())
    });
    for (group, nodes) in nodes_per_group(&servers[2], "web") {
        assert_eq!(nodes.len(), 1, "fire {group} of web ran on {nodes:?}");
        assert!(nodes[0] == "a1" || nodes[0] == "a2", "web ran on {nodes:?}");
    }
    let five: BTreeSet<&str> = ["a1", "a2", "s1", "s2", "s3"].into();
    let full = nodes_per_group(&servers[2], "all")
        .into_values()
        .filter(|nodes| nodes.len() == 5)
        .count();
    assert!(full >= 3);
    for nodes in nodes_per_group(&servers[2], "all").into_values() {
        let distinct: BTreeSet<&str> = nodes.iter().map(String::as_str).collect();
        assert!(
            distinct.is_subset(&five) && distinct.len() == nodes.len(),
            "{nodes:?}"
        );
    }

    // A long run on an agent shows in every server's busy list.
    let long = job(
        "long",
        "@manually",
        "sleep 30",
        serde_json::json!({ "zone": "b" }),
    );
    assert_eq!(servers[0].post("/v1/jobs", &long).status, 201);
    assert_eq!(servers[0].post("/v1/jobs/long/run", "").status, 200);
    wait_for("the run on a2 in /v1/busy", FORM_TIMEOUT, || {
        let busy = servers[1].get("/v1/busy").json();
        busy.as_array()?
            .iter()
            .any(|e| e["job_name"] == "long" && e["node_name"] == "a2")
            .then_some(())
    });
    // And cancelling it reaches the agent.
    let running = servers[1].get("/v1/busy").json();
    let id = running
        .as_array()
        .and_then(|l| l.iter().find(|e| e["job_name"] == "long"))
        .and_then(|e| e["id"].as_str().map(str::to_owned))
        .expect("an id");
    let cancelled = servers[2].post(&format!("/v1/jobs/long/executions/{id}/cancel"), "");
    assert_eq!(cancelled.status, 202, "{}", cancelled.text());
    wait_for("the cancelled run to finish", FORM_TIMEOUT, || {
        executions(&servers[0], "long")
            .iter()
            .any(|e| is_done(e) && e["success"] == false)
            .then_some(())
    });
}

/// kill -9 of an agent in the middle of a run: within the failure timeout it is `failed`, its
/// execution is closed as failed saying the node was lost, and the retry runs on the other
/// web agent.
#[test]
fn a_lost_agents_run_is_closed_and_retried_elsewhere() {
    let (servers, mut agents) = cluster_with_agents();
    let long = serde_json::json!({
        "name": "long", "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": "sleep 30" }, "tags": { "pool": "web:1" },
        "retries": 1, "retry_backoff": { "initial": "100ms", "max": "100ms" },
    });
    assert_eq!(servers[0].post("/v1/jobs", &long.to_string()).status, 201);
    assert_eq!(servers[0].post("/v1/jobs/long/run", "").status, 200);
    let lost = wait_for("the run to start on an agent", FORM_TIMEOUT, || {
        let busy = servers[1].get("/v1/busy").json();
        let first = busy.as_array()?.first()?.clone();
        first["node_name"].as_str().map(str::to_owned)
    });
    let index = if lost == "a1" { 0 } else { 1 };
    drop(agents.remove(index).kill());
    let (closed, retry) = wait_for("the run closed and retried", FORM_TIMEOUT, || {
        let list = executions(&servers[2], "long");
        let closed = list
            .iter()
            .find(|e| e["attempt"] == 1 && is_done(e))?
            .clone();
        let retry = list.iter().find(|e| e["attempt"] == 2)?.clone();
        Some((closed, retry))
    });
    assert_eq!(closed["success"], false);
    let output = closed["output"].as_str().unwrap_or_default();
    assert!(output.contains(&format!("node {lost} lost")), "{output:?}");
    assert_ne!(retry["node_name"], lost.as_str(), "{retry}");
    let members = servers[0].get("/v1/members").json();
    let status = members
        .as_array()
        .and_then(|l| l.iter().find(|m| m["Name"] == lost.as_str()))
        .map(|m| m["statusText"].clone());
    assert_eq!(status, Some(Value::from("failed")), "{members}");
}

/// An agent whose result could not be delivered (every server down) keeps it on disk; killed
/// and restarted, it delivers it once the servers are back, and the store counts it once.
#[test]
fn an_undelivered_result_survives_an_agent_restart_and_counts_once() {
    let (servers, mut agents) = cluster_with_agents();
    let job = serde_json::json!({
        "name": "slow", "schedule": "@manually", "executor": "shell",
        "executor_config": { "shell": "true", "command": "sleep 2; echo finished" },
        "tags": { "zone": "a" },
    });
    assert_eq!(servers[0].post("/v1/jobs", &job.to_string()).status, 201);
    assert_eq!(servers[0].post("/v1/jobs/slow/run", "").status, 200);
    wait_for("the run to start on a1", FORM_TIMEOUT, || {
        let busy = servers[1].get("/v1/busy").json();
        busy.as_array()?
            .iter()
            .any(|e| e["node_name"] == "a1")
            .then_some(())
    });
    // Every server goes down while a1 runs: its result has nowhere to go.
    let names: Vec<String> = servers.iter().map(node_name).collect();
    let dirs: Vec<tempfile::TempDir> = servers.into_iter().map(Dkrond::kill).collect();
    let a1 = agents.remove(0);
    let outbox = a1_outbox_has_one(&a1);
    let a1_dir = a1.kill();
    // Servers back on their data dirs, then the agent on its own.
    let servers: Vec<Dkrond> = dirs
        .into_iter()
        .zip(&names)
        .map(|(dir, name)| Dkrond::restart_server(dir, name))
        .collect();
    let join: Vec<String> = servers.iter().map(Dkrond::rpc).collect();
    let _a1 = Dkrond::start_agent(a1_dir, "a1", &join, &["pool=web", "zone=a"]);
    let done = wait_for("the result to be recorded", FORM_TIMEOUT, || {
        let list = executions(&servers[0], "slow");
        let done: Vec<Value> = list.into_iter().filter(is_done).collect();
        (!done.is_empty()).then_some(done)
    });
    assert!(outbox, "the result waited in a1's outbox");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["success"], true, "{done:?}");
    assert!(
        done[0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("finished")
    );
    // Counted once, however often it was delivered.
    std::thread::sleep(Duration::from_secs(3));
    let stored = servers[1].get("/v1/jobs/slow").json();
    assert_eq!(stored["success_count"], 1, "{stored}");
}

/// Waits until the agent's outbox holds the finished execution (its run ended with no server to
/// report to): a segment file holds its output.
fn a1_outbox_has_one(agent: &Dkrond) -> bool {
    wait_for("a result in a1's outbox", FORM_TIMEOUT, || {
        let entries = std::fs::read_dir(agent.data_dir().join("outbox")).ok()?;
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "seg"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .any(|bytes| bytes.windows(8).any(|w| w == b"finished"))
            .then_some(true)
    })
}

/// A time as the API writes it (RFC 3339, UTC, 0-9 fraction digits), as a sortable pair.
fn instant(text: &str) -> (String, u32) {
    let text = text.trim_end_matches('Z');
    let (seconds, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = format!("{fraction:0<9}");
    (seconds.to_owned(), digits[..9].parse().unwrap_or(0))
}

/// `forbid` holds across a leader crash: a long run on an agent keeps the next fires from
/// launching whichever leader decides them, so runs of the job never overlap.
#[test]
fn forbid_holds_across_a_leader_crash() {
    let (mut servers, _agents) = cluster_with_agents();
    let exclusive = serde_json::json!({
        "name": "exclusive", "schedule": "@every 1s", "executor": "shell",
        "executor_config": { "command": "sleep 3" }, "tags": { "zone": "a" },
        "concurrency": "forbid",
    });
    assert_eq!(
        servers[0].post("/v1/jobs", &exclusive.to_string()).status,
        201
    );
    wait_for("a run of the job", FORM_TIMEOUT, || {
        (!executions(&servers[0], "exclusive").is_empty()).then_some(())
    });
    let leader = agreed_leader(&servers);
    let index = servers
        .iter()
        .position(|s| node_name(s) == leader)
        .expect("the leader");
    drop(servers.remove(index).kill());
    let finished = wait_for("three finished runs", FORM_TIMEOUT, || {
        let done: Vec<Value> = executions(&servers[0], "exclusive")
            .into_iter()
            .filter(is_done)
            .collect();
        (done.len() >= 3).then_some(done)
    });
    let mut spans: Vec<((String, u32), (String, u32))> = finished
        .iter()
        .map(|e| {
            (
                instant(e["started_at"].as_str().unwrap_or_default()),
                instant(e["finished_at"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "two runs at once: {pair:?}\n{finished:#?}"
        );
    }
}

/// SIGHUP makes an agent read its configuration again: new tags reach every server's member
/// list, and the next fires follow them.
#[test]
fn sighup_reloads_an_agents_tags() {
    let servers = three_servers();
    let join: Vec<String> = servers.iter().map(Dkrond::rpc).collect();
    let dir = temp_dir();
    let config = dir.path().join("agent.yml");
    std::fs::write(&config, "tags:\n  pool: web\n").expect("config file");
    let config_flag = format!("--config={}", config.display());
    let agent = Dkrond::start_agent_with(dir, "a1", &join, &[&config_flag]);
    let pool_of_a1 = |server: &Dkrond| {
        // Polled while the cluster settles: an error answer (a 503 mid-election) is "not yet".
        let reply = server.get("/v1/members");
        if reply.status != 200 {
            return None;
        }
        let members = reply.json();
        members
            .as_array()?
            .iter()
            .find(|m| m["Name"] == "a1")
            .and_then(|m| m["Tags"]["pool"].as_str().map(str::to_owned))
    };
    wait_for("a1 listed with pool=web", FORM_TIMEOUT, || {
        (pool_of_a1(&servers[0]).as_deref() == Some("web")).then_some(())
    });
    std::fs::write(agent.dir().join("agent.yml"), "tags:\n  pool: db\n").expect("config file");
    agent.signal("HUP");
    for server in &servers {
        wait_for("a1 listed with pool=db", FORM_TIMEOUT, || {
            (pool_of_a1(server).as_deref() == Some("db")).then_some(())
        });
    }
    let db = job(
        "db",
        "@manually",
        "true",
        serde_json::json!({ "pool": "db" }),
    );
    assert_eq!(servers[1].post("/v1/jobs", &db).status, 201);
    assert_eq!(servers[1].post("/v1/jobs/db/run", "").status, 200);
    let ran = wait_for("the db job to run", FORM_TIMEOUT, || {
        executions(&servers[2], "db").into_iter().find(is_done)
    });
    assert_eq!(ran["node_name"], "a1", "{ran}");
}

/// Pids of the processes whose command line is exactly `sleep <seconds>`.
fn sleepers(seconds: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .collect();
            (args.len() == 2 && args[0].ends_with(b"sleep") && args[1] == seconds.as_bytes())
                .then_some(pid)
        })
        .collect()
}

/// A command does not outlive its node: kill -9 of an agent kills its job's command at once
/// (parent-death signal); what the command forked is left running, and the agent kills it when
/// it comes back, before taking new work.
#[test]
fn a_killed_agents_command_dies_with_it_and_a_restart_kills_what_it_forked() {
    let (servers, mut agents) = cluster_with_agents();
    // Durations no other test uses, to find the processes: the command itself (`exec`) and a
    // process it forked, which does not inherit the command's death signal.
    let (command, forked) = ("42.25", "41.25");
    let orphan = job(
        "orphan",
        "@manually",
        &format!("sh -c 'sleep {forked} & exec sleep {command}'"),
        serde_json::json!({ "zone": "a" }),
    );
    assert_eq!(servers[0].post("/v1/jobs", &orphan).status, 201);
    assert_eq!(servers[0].post("/v1/jobs/orphan/run", "").status, 200);
    wait_for("the command to run", FORM_TIMEOUT, || {
        (!sleepers(command).is_empty() && !sleepers(forked).is_empty()).then_some(())
    });
    let a1_dir = agents.remove(0).kill();
    // Fencing: the leader will close the run as "node lost"; the command must not outlive it.
    wait_for("the command to die with its agent", FORM_TIMEOUT, || {
        sleepers(command).is_empty().then_some(())
    });
    assert!(
        !sleepers(forked).is_empty(),
        "what the command forked died with its agent already: the restart below tests nothing"
    );
    let join: Vec<String> = servers.iter().map(Dkrond::rpc).collect();
    let _a1 = Dkrond::start_agent(a1_dir, "a1", &join, &["pool=web", "zone=a"]);
    wait_for("the orphaned process to be killed", FORM_TIMEOUT, || {
        sleepers(forked).is_empty().then_some(())
    });
}
