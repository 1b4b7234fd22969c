//! `load_config`: which config file is read when none is named.

use std::path::PathBuf;

use crate::{cli::AgentArgs, load_config};

fn args() -> AgentArgs {
    AgentArgs {
        server: Some("true".to_owned()),
        bootstrap_expect: Some("1".to_owned()),
        ..AgentArgs::default()
    }
}

fn host() -> Option<String> {
    Some("box".to_owned())
}

/// Without `--config` or `DKRON_CONFIG`, the first `dkron.*` of the search dirs is read; a
/// named file wins over the search, and `--config` over `DKRON_CONFIG`.
#[test]
fn config_file_lookup_order() {
    let root = tempfile::tempdir().expect("temp dir");
    let dirs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(dirs[1].join("dkron.toml"), "datacenter = \"from-b\"\n").expect("write");
    std::fs::write(dirs[2].join("dkron.yml"), "datacenter: from-c\n").expect("write");
    let named = root.path().join("named.json");
    std::fs::write(&named, r#"{"datacenter": "from-named"}"#).expect("write");
    let env_file = root.path().join("env.yaml");
    std::fs::write(&env_file, "datacenter: from-env\n").expect("write");

    let found = load_config(&args(), Vec::new(), &dirs, &host).expect("valid");
    assert_eq!(found.datacenter, "from-b");

    let vars = vec![("DKRON_CONFIG".to_owned(), env_file.display().to_string())];
    let from_env = load_config(&args(), vars.clone(), &dirs, &host).expect("valid");
    assert_eq!(from_env.datacenter, "from-env");

    let mut with_flag = args();
    with_flag.config = Some(named);
    let from_flag = load_config(&with_flag, vars, &dirs, &host).expect("valid");
    assert_eq!(from_flag.datacenter, "from-named");

    let none = load_config(&args(), Vec::new(), &dirs[..1], &host).expect("valid");
    assert_eq!(none.datacenter, "dc1", "no file found: defaults");
}

/// The cluster flags reach the raw config under dkron's key names, repeated flags as lists.
#[test]
fn agent_cluster_flags_parse() {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};
    let cli = Cli::try_parse_from([
        "dkrond",
        "agent",
        "--server",
        "--join",
        "10.0.0.1:6868",
        "--retry-join",
        "10.0.0.2:6868",
        "--retry-join",
        "10.0.0.3:6868",
        "--retry-interval",
        "10s",
        "--retry-max",
        "3",
        "--bind-addr",
        "0.0.0.0",
        "--advertise-rpc-port",
        "7000",
    ])
    .expect("valid command line");
    let Command::Agent(args) = cli.command else {
        panic!("not the agent command");
    };
    let config = load_config(&args, Vec::new(), &[], &host).expect("valid");
    assert_eq!(
        config.join,
        ["10.0.0.1:6868", "10.0.0.2:6868", "10.0.0.3:6868"]
    );
    assert!(config.retry_join);
    assert_eq!(config.retry_interval, std::time::Duration::from_secs(10));
    assert_eq!(config.retry_max, 3);
    assert_eq!(config.rpc_bind_ip, Some([0, 0, 0, 0].into()));
    assert_eq!(config.advertise_rpc_port, Some(7000));
    let node = crate::node_config(&config);
    assert_eq!(node.join, config.join);
    assert!(node.retry_join);
    assert_eq!(node.retry_max, 3);
    assert_eq!(node.advertise_rpc_port, Some(7000));
}

/// `leave` and `raft list-peers|remove-peer` parse with dkron's flags and defaults.
#[test]
fn operator_commands_parse() {
    use clap::Parser as _;

    use crate::cli::{Cli, Command, ControlArgs, RaftCommand};
    let parse = |args: &[&str]| Cli::try_parse_from(args).map(|cli| cli.command);
    let Ok(Command::Leave(leave)) = parse(&["dkrond", "leave"]) else {
        panic!("leave parses");
    };
    assert_eq!(
        leave,
        ControlArgs {
            rpc_addr: "127.0.0.1:6868".to_owned(),
            encrypt: None,
            data_dir: None,
            rpc_tls_ca: None,
        }
    );
    let Ok(Command::Raft(raft)) = parse(&[
        "dkrond",
        "raft",
        "list-peers",
        "--rpc-addr",
        "10.0.0.1:6868",
        "--encrypt",
        "k",
    ]) else {
        panic!("raft list-peers parses");
    };
    assert_eq!(
        raft.command,
        RaftCommand::ListPeers(ControlArgs {
            rpc_addr: "10.0.0.1:6868".to_owned(),
            encrypt: Some("k".to_owned()),
            data_dir: None,
            rpc_tls_ca: None,
        })
    );
    let Ok(Command::Raft(raft)) = parse(&["dkrond", "raft", "remove-peer", "--peer-id", "node-b"])
    else {
        panic!("raft remove-peer parses");
    };
    assert!(matches!(
        raft.command,
        RaftCommand::RemovePeer { ref peer_id, .. } if peer_id == "node-b"
    ));
    assert!(
        parse(&["dkrond", "raft", "remove-peer"]).is_err(),
        "--peer-id is required"
    );
}

/// An operator command's key is checked like the agent's, from the flag or the environment,
/// else read from a server's data dir; without any it is an error naming the ways to give it.
#[test]
fn operator_keys_are_checked() {
    use crate::cli::ControlArgs;
    let key = crate::keygen().expect("a key");
    let dir = tempfile::tempdir().expect("temp dir");
    let with = |encrypt: Option<&str>| ControlArgs {
        rpc_addr: "127.0.0.1:6868".to_owned(),
        encrypt: encrypt.map(str::to_owned),
        data_dir: Some(dir.path().to_owned()),
        rpc_tls_ca: None,
    };
    let error = crate::control_key(&with(None), None).expect_err("no key");
    let message = error.to_string();
    assert!(
        message.contains("--encrypt") && message.contains("--data-dir"),
        "{message}"
    );
    assert_eq!(
        crate::control_key(&with(None), Some(key.clone())).expect("env key"),
        key
    );
    assert_eq!(
        crate::control_key(&with(Some(&key)), Some("ignored".to_owned())).expect("flag key"),
        key
    );
    let error = crate::control_key(&with(Some("short")), None).expect_err("bad key");
    assert!(error.to_string().contains("dkrond keygen"), "{error}");
    std::fs::write(
        dir.path().join(dkron_node::CLUSTER_KEY_FILE),
        format!("{key}\n"),
    )
    .expect("write");
    assert_eq!(
        crate::control_key(&with(None), None).expect("stored key"),
        key
    );
}

/// dkron's `raft list-peers` columns, padded; the leader's state is `leader`.
#[test]
fn peers_table_has_dkrons_columns() {
    use dkron_node::control::Peer;
    let peers = [
        Peer {
            name: "alpha".to_owned(),
            id: 12,
            rpc_addr: "10.0.0.1:6868".to_owned(),
            voter: true,
            leader: true,
        },
        Peer {
            name: "b".to_owned(),
            id: 3,
            rpc_addr: "10.0.0.2:6868".to_owned(),
            voter: false,
            leader: false,
        },
    ];
    assert_eq!(
        crate::peers_table(&peers),
        "Node   ID  Address        State     Voter\n\
         alpha  12  10.0.0.1:6868  leader    true\n\
         b      3   10.0.0.2:6868  follower  false\n"
    );
}

/// Peer RPC beyond loopback without TLS is warned about, naming the fix; loopback or TLS is
/// not.
#[tokio::test]
async fn exposed_rpc_without_tls_is_warned_about() {
    let loopback = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    assert_eq!(crate::exposure_warning(&loopback, false), None);
    let everywhere = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let warning = crate::exposure_warning(&everywhere, false).expect("a warning");
    assert!(warning.contains("--rpc-tls-cert"), "{warning}");
    assert_eq!(crate::exposure_warning(&everywhere, true), None);
}

/// The start-up line names the mode and counts tokens; only the open API is a warning.
#[test]
fn access_summary_names_the_mode() {
    use dkron_api::{Access, ApiToken};
    let (warn, line) = crate::access_summary(&Access::Protected);
    assert!(!warn && line.contains("protected mode"), "{line}");
    let tokens = Access::with_tokens(vec![
        ApiToken::parse("read:read-secret-0123456789").expect("token"),
        ApiToken::parse("write-secret-0123456789").expect("token"),
        ApiToken::parse("write:write-secret-9876543210").expect("token"),
    ]);
    let (warn, line) = crate::access_summary(&tokens);
    assert!(
        !warn && line.contains("1 read and 2 write tokens"),
        "{line}"
    );
    let (warn, line) = crate::access_summary(&Access::Open);
    assert!(warn && line.contains("--insecure-open-api"), "{line}");
}
