//! The command line as a user meets it: answers on stdout, one-line errors on stderr, exit codes.

use std::{net::TcpListener, process::Command};

use crate::support::{BIN, agent_command};

/// Runs dkrond with `args`; returns (exit code, stdout, stderr).
fn dkrond(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN).args(args).output().expect("run dkrond");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `dkrond version` prints the name and version.
#[test]
fn version_prints_the_version() {
    let (code, out, _) = dkrond(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("dkrond {}", env!("CARGO_PKG_VERSION")));
}

/// `dkrond keygen` prints a fresh base64 key of 16 bytes each time.
#[test]
fn keygen_prints_distinct_16_byte_keys() {
    let (code, first, _) = dkrond(&["keygen"]);
    let (_, second, _) = dkrond(&["keygen"]);
    assert_eq!(code, 0);
    let first = first.trim();
    assert_eq!(first.len(), 24, "16 bytes in padded base64: {first}");
    assert!(first.ends_with("=="));
    assert_ne!(first, second.trim());
}

/// An unknown flag is one line on stderr and exit code 2.
#[test]
fn bad_flag_is_one_line_and_exit_2() {
    let (code, _, err) = dkrond(&["agent", "--no-such-flag"]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--no-such-flag"), "{err}");
}

/// Bad cluster flags are refused with a message saying why, every problem at once; the key is
/// never echoed.
#[test]
fn bad_cluster_flags_are_refused_with_every_problem() {
    let (code, _, err) = dkrond(&[
        "agent",
        "--server",
        "--join",
        "10.0.0.1",
        "--rpc-port",
        "x",
        "--encrypt",
        "secret-but-short",
        "--retry-interval",
        "soon",
    ]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("flag --join"), "{err}");
    assert!(err.contains("host:port"), "{err}");
    assert!(err.contains("flag --rpc-port"), "{err}");
    assert!(err.contains("flag --encrypt"), "{err}");
    assert!(err.contains("dkrond keygen"), "{err}");
    assert!(!err.contains("secret-but-short"), "{err}");
    assert!(err.contains("flag --retry-interval"), "{err}");
}

/// `raft list-peers` prints dkron's table for a running server; with the wrong key, or no
/// server, it is one line on stderr and exit code 1.
#[test]
fn raft_list_peers_prints_the_members() {
    let key = {
        let (code, out, _) = dkrond(&["keygen"]);
        assert_eq!(code, 0);
        out.trim().to_owned()
    };
    let node = crate::support::Dkrond::start_in(
        tempfile::tempdir().expect("temp dir"),
        &["--encrypt", &key],
    );
    let rpc = node.rpc();
    let (code, out, err) = dkrond(&["raft", "list-peers", "--rpc-addr", &rpc, "--encrypt", &key]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["Node", "ID", "Address", "State", "Voter"]);
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "test-node");
    assert_eq!(row[2], rpc);
    assert_eq!(&row[3..], ["leader", "true"]);

    let wrong = {
        let (_, out, _) = dkrond(&["keygen"]);
        out.trim().to_owned()
    };
    let (code, _, err) = dkrond(&[
        "raft",
        "list-peers",
        "--rpc-addr",
        &rpc,
        "--encrypt",
        &wrong,
    ]);
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("401"), "a wrong key is refused: {err}");

    // The key a server stored in its data dir serves an operator on the same machine.
    let data_dir = node.data_dir();
    let data_dir = data_dir.to_str().expect("utf-8 path");
    let (code, out, err) = dkrond(&[
        "raft",
        "list-peers",
        "--rpc-addr",
        &rpc,
        "--data-dir",
        data_dir,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("test-node"), "{out}");

    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_addr = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let (code, _, err) = dkrond(&[
        "raft",
        "list-peers",
        "--rpc-addr",
        &closed_addr,
        "--encrypt",
        &key,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot list the peers"), "{err}");

    // Without any key (no flag, no variable, no key file) nothing is sent.
    let empty = tempfile::tempdir().expect("temp dir");
    let empty = empty.path().to_str().expect("utf-8 path").to_owned();
    let (code, _, err) = dkrond(&[
        "raft",
        "list-peers",
        "--rpc-addr",
        &rpc,
        "--data-dir",
        &empty,
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no cluster key") && err.contains("--encrypt"),
        "{err}"
    );

    let (code, _, err) = dkrond(&[
        "raft",
        "remove-peer",
        "--peer-id",
        "nobody",
        "--rpc-addr",
        &rpc,
        "--encrypt",
        &key,
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no member is named or numbered `nobody`"),
        "{err}"
    );
    assert!(err.contains("test-node"), "the members are listed: {err}");
}

/// A config file that cannot be read is a one-line error naming it.
#[test]
fn unreadable_config_is_one_line() {
    let (code, _, err) = dkrond(&["agent", "--server", "--config", "/nonexistent/dkron.yml"]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot read config file /nonexistent/dkron.yml"),
        "{err}"
    );
}

/// An occupied HTTP port is a one-line error naming the address and the flag to change.
#[test]
fn occupied_port_is_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let output = agent_command(&dir.path().join("data"), &addr)
        .output()
        .expect("run dkrond");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    let last = err.trim().lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("dkrond: cannot listen on"), "{err}");
    assert!(
        last.contains(&addr) && last.contains("--http-addr"),
        "{err}"
    );
}

/// Environment variables configure the agent, and flags win over them: a bad `DKRON_RPC_PORT`
/// is reported as coming from the environment.
#[test]
fn environment_is_read_and_named_in_errors() {
    let output = Command::new(BIN)
        .args(["agent", "--server"])
        .env("DKRON_RPC_PORT", "not-a-port")
        .env("DKRON_LOG_LEVEL", "loud")
        .output()
        .expect("run dkrond");
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("environment variable DKRON_RPC_PORT"), "{err}");
    assert!(
        err.contains("environment variable DKRON_LOG_LEVEL"),
        "{err}"
    );
}

/// A fresh data dir without `--bootstrap-expect 1` is refused with a line saying what to do.
#[test]
fn fresh_data_dir_needs_bootstrap_expect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(BIN)
        .args([
            "agent",
            "--server",
            "--http-addr",
            "127.0.0.1:0",
            "--rpc-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("run dkrond");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    let last = err.trim().lines().last().unwrap_or_default().to_owned();
    assert!(
        last.contains("holds no cluster yet") && last.contains("--bootstrap-expect 1"),
        "{err}"
    );
}

/// A data dir written by another version of dkron-rs (another store format) is refused with
/// one line naming the dir and both formats, and is left untouched.
#[test]
fn data_dir_of_another_version_is_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let other_format = dkron_store::FORMAT_VERSION + 1;
    dkron_store::testing::stamp_format_version(&data_dir, other_format).expect("stamp");
    let output = Command::new(BIN)
        .args([
            "agent",
            "--server",
            "--bootstrap-expect",
            "1",
            "--http-addr",
            "127.0.0.1:0",
            "--rpc-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run dkrond");
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    let last = err.trim().lines().last().unwrap_or_default().to_owned();
    assert!(
        last.contains("written by another version of dkron-rs")
            && last.contains(&data_dir.display().to_string())
            && last.contains(&format!("store format {other_format}")),
        "{err}"
    );
    // Still the other version's dir: a second start refuses it the same way.
    let again = Command::new(BIN)
        .args([
            "agent",
            "--server",
            "--bootstrap-expect",
            "1",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(["--rpc-port", "0"])
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run dkrond");
    assert_eq!(again.status.code(), Some(1));
}
