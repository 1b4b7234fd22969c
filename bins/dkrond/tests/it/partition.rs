//! A server cut off the network: three servers, each in its own network namespace on a bridge
//! ([`TestNet`]), the test's client on the bridge with an API token (protected mode serves
//! only loopback without one). Cutting the leader's link, the other two elect a leader without
//! it, list it failed and take writes; once the link is back it rejoins and catches up.
//! Skipped, with the reason printed, where the machine does not allow namespaces.

use std::{io::ErrorKind, net::TcpStream, time::Duration};

use crate::{
    cluster::{FORM_TIMEOUT, leader_of, temp_dir, wait_for_members},
    netns::TestNet,
    support::*,
};

/// The API token (every role) of the test's servers: a client on the bridge is not loopback.
pub(crate) const TOKEN: &str = "partition-test-token-0123456789";

const NAMES: [&str; 3] = ["s1", "s2", "s3"];

/// Server `name` in namespace `i` of `net`, API and peer RPC on the namespace's address (RPC
/// on `rpc_port`, "0" for any), with the cluster flags `cluster` and [`TOKEN`].
pub(crate) fn server_in(
    net: &TestNet,
    i: usize,
    dir: tempfile::TempDir,
    name: &str,
    rpc_port: &str,
    cluster: &[&str],
) -> Dkrond {
    let http = format!("{}:0", net.ip(i));
    let mut command = server_command_on(&dir.path().join("data"), &http, rpc_port, name, cluster);
    command.env("DKRON_API_TOKEN", TOKEN);
    Dkrond::spawn(dir, net.dkrond(i, command)).with_api_token(TOKEN)
}

#[test]
fn a_cut_off_leader_is_replaced_and_rejoins() {
    let net = match TestNet::create(NAMES.len()) {
        Ok(net) => net,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let first = server_in(&net, 0, temp_dir(), "s1", "0", &["--bootstrap-expect", "1"]);
    let join = first.rpc();
    assert!(join.starts_with(&net.ip(0).to_string()), "{join}");
    let mut servers = vec![first];
    for (i, name) in NAMES.iter().enumerate().skip(1) {
        let cluster = ["--bootstrap-expect", "0", "--join", &join];
        servers.push(server_in(&net, i, temp_dir(), name, "0", &cluster));
    }
    for server in &servers {
        wait_for_members(server, &NAMES);
    }
    let leader = wait_for("one leader named by all", FORM_TIMEOUT, || {
        let names: Vec<Option<String>> = servers.iter().map(leader_of).collect();
        names[0]
            .clone()
            .filter(|n| names.iter().all(|o| o.as_ref() == Some(n)))
    });
    let cut = NAMES
        .iter()
        .position(|n| *n == leader)
        .expect("a known leader");
    let others: Vec<&Dkrond> = (0..NAMES.len())
        .filter(|&i| i != cut)
        .map(|i| &servers[i])
        .collect();

    net.cut(cut);
    // Cut, not dead: the API's port neither answers nor refuses (a stopped process's would
    // refuse); the connection times out or finds no host.
    let attempt = TcpStream::connect_timeout(&servers[cut].http, Duration::from_secs(2));
    let error = attempt.expect_err("the cut server's API answered");
    assert_ne!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
    let new_leader = wait_for(
        "the others to elect a leader without it",
        FORM_TIMEOUT,
        || {
            let names: Vec<Option<String>> = others.iter().map(|s| leader_of(s)).collect();
            names[0]
                .clone()
                .filter(|n| *n != leader && names.iter().all(|o| o.as_ref() == Some(n)))
        },
    );
    for server in &others {
        wait_for("the cut server listed failed", FORM_TIMEOUT, || {
            let members = server.get("/v1/members").json();
            members
                .as_array()?
                .iter()
                .any(|m| m["Name"] == leader.as_str() && m["statusText"] == "failed")
                .then_some(())
        });
    }
    let job = r#"{"name":"during-cut","schedule":"@manually","executor":"shell","executor_config":{"command":"true"}}"#;
    let created = others[0].post("/v1/jobs", job);
    assert_eq!(created.status, 201, "{}", created.text());

    net.restore(cut);
    for server in &servers {
        wait_for_members(server, &NAMES);
    }
    wait_for("the rejoined server to catch up", FORM_TIMEOUT, || {
        (servers[cut].get("/v1/jobs/during-cut").status == 200).then_some(())
    });
    let agreed = wait_for("one leader named by all again", FORM_TIMEOUT, || {
        let names: Vec<Option<String>> = servers.iter().map(leader_of).collect();
        names[0]
            .clone()
            .filter(|n| names.iter().all(|o| o.as_ref() == Some(n)))
    });
    eprintln!("leader {leader} cut off; {new_leader} elected; after the rejoin {agreed} leads");
}
