//! Transport security end to end, on real `dkrond` processes: the cluster key a single server
//! generates and keeps, peer RPC refused without the key, nodes that must be given the key,
//! HTTPS on the API, and a server and an agent talking over RPC TLS.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    os::unix::fs::PermissionsExt,
    path::PathBuf,
    process::Command,
    sync::Arc,
    time::Duration,
};

use crate::{
    cluster::{FORM_TIMEOUT, executions, temp_dir, wait_for_members},
    support::*,
};

/// The status of `GET path` on peer RPC at `rpc`, presenting `key` when given.
fn rpc_status(rpc: &str, path: &str, key: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(rpc).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let key = key
        .map(|key| format!("x-dkron-cluster-key: {key}\r\n"))
        .unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\nHost: {rpc}\r\nConnection: close\r\n{key}\r\n");
    stream.write_all(head.as_bytes()).expect("write");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_reply(&raw).status
}

/// A single server started without `--encrypt` generates a key, stores it 0600 in its data
/// dir, requires it on peer RPC (the Raft and the node routes), and keeps it across a restart.
#[test]
fn a_single_server_generates_and_keeps_its_cluster_key() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut command = agent_command(&data, "127.0.0.1:0");
    command.env_remove("DKRON_ENCRYPT");
    let node = Dkrond::spawn(dir, command);
    let key_file = data.join("cluster.key");
    let mode = std::fs::metadata(&key_file)
        .expect("the key file exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let key = std::fs::read_to_string(&key_file)
        .expect("read")
        .trim()
        .to_owned();
    assert_ne!(key, TEST_KEY);

    let rpc = node.rpc();
    for path in ["/raft/info", "/node/busy"] {
        assert_eq!(rpc_status(&rpc, path, None), 401, "{path} without a key");
        assert_eq!(
            rpc_status(&rpc, path, Some(TEST_KEY)),
            401,
            "{path} with a wrong key"
        );
        assert_eq!(
            rpc_status(&rpc, path, Some(&key)),
            200,
            "{path} with the key"
        );
    }
    // The output relay too: refused without the key, answered (nothing runs) with it.
    let output = "/node/output/1-nowhere";
    assert_eq!(rpc_status(&rpc, output, None), 401);
    assert_eq!(rpc_status(&rpc, output, Some(TEST_KEY)), 401);
    assert_eq!(rpc_status(&rpc, output, Some(&key)), 404);

    let (dir, status) = node.stop();
    assert!(status.success(), "{status}");
    let mut command = agent_command(&data, "127.0.0.1:0");
    command.env_remove("DKRON_ENCRYPT");
    let node = Dkrond::spawn(dir, command);
    let again = std::fs::read_to_string(&key_file).expect("read");
    assert_eq!(again.trim(), key, "a restart keeps the key");
    assert_eq!(rpc_status(&node.rpc(), "/raft/info", Some(&key)), 200);
}

/// A server that joins and an agent, started without the key, refuse to start with one line
/// that says how to give it.
#[test]
fn joining_nodes_without_the_key_refuse_to_start() {
    let dir = temp_dir();
    let joining = server_command(
        &dir.path().join("s2"),
        "127.0.0.1:0",
        "s2",
        &["--bootstrap-expect", "0", "--join", "127.0.0.1:1"],
    );
    let mut agent = Command::new(BIN);
    agent
        .args(["agent", "--node-name", "a1", "--rpc-port", "0"])
        .args(["--join", "127.0.0.1:1"])
        .arg("--data-dir")
        .arg(dir.path().join("a1"));
    for mut command in [joining, agent] {
        let output = command
            .env_remove("DKRON_ENCRYPT")
            .output()
            .expect("run dkrond");
        assert_eq!(output.status.code(), Some(1));
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.trim().lines().last().unwrap_or_default().to_owned();
        assert!(
            last.contains("no cluster key")
                && last.contains("--encrypt")
                && last.contains("dkrond keygen")
                && last.contains("cluster.key"),
            "{err}"
        );
    }
}

/// A test CA and one certificate it signed for 127.0.0.1 and localhost, as PEM files.
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// A key that belongs to no certificate here.
    other_key: PathBuf,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

impl Pki {
    fn generate() -> Pki {
        let dir = temp_dir();
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "dkron-rs test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("params")
                .signed_by(&key, &issuer)
                .expect("cert");
        let other_key = rcgen::KeyPair::generate().expect("other key");
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write pem");
            path
        };
        Pki {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("cert.pem", cert.pem()),
            key: write("key.pem", key.serialize_pem()),
            other_key: write("other-key.pem", other_key.serialize_pem()),
            ca_der: ca_cert.der().clone(),
            _dir: dir,
        }
    }

    fn path(path: &std::path::Path) -> &str {
        path.to_str().expect("utf-8 path")
    }
}

/// `GET path` over HTTPS to `addr`, verifying the server against `ca`.
fn https_get(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
    path: &str,
) -> Reply {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("ca");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let connection = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let socket = TcpStream::connect(addr).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut tls = rustls::StreamOwned::new(connection, socket);
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tls.write_all(head.as_bytes()).expect("write over TLS");
    let mut raw = Vec::new();
    // The server may close without close_notify: what was read is the reply.
    let _ = tls.read_to_end(&mut raw);
    parse_reply(&raw)
}

/// Whatever a plain-HTTP `GET /health` to `addr` gets back: never an HTTP reply from a TLS
/// listener.
fn plain_http_bytes(addr: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    raw
}

/// With API TLS a server answers HTTPS (verified against the CA) and refuses plain HTTP.
#[test]
fn the_api_serves_https_and_refuses_plain_http() {
    let pki = Pki::generate();
    let node = Dkrond::start_in(
        temp_dir(),
        &[
            "--api-tls-cert",
            Pki::path(&pki.cert),
            "--api-tls-key",
            Pki::path(&pki.key),
        ],
    );
    let reply = https_get(node.http, &pki.ca_der, "/health");
    assert_eq!(reply.status, 200, "{}", reply.text());
    let plain = plain_http_bytes(&node.http.to_string());
    assert!(
        !plain.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP reply: {}",
        String::from_utf8_lossy(&plain)
    );
}

/// A missing certificate file, or a key that does not belong to the certificate, is a one-line
/// start-up error naming the file.
#[test]
fn bad_tls_files_are_start_up_errors() {
    let pki = Pki::generate();
    let missing = pki.cert.with_file_name("missing.pem");
    let cases = [
        (&missing, &pki.key, "missing.pem"),
        (&pki.cert, &pki.other_key, "other-key.pem"),
    ];
    for (cert, key, named) in cases {
        let dir = temp_dir();
        let output = agent_command(&dir.path().join("data"), "127.0.0.1:0")
            .args(["--api-tls-cert", Pki::path(cert)])
            .args(["--api-tls-key", Pki::path(key)])
            .output()
            .expect("run dkrond");
        assert_eq!(output.status.code(), Some(1), "{named}");
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.trim().lines().last().unwrap_or_default().to_owned();
        assert!(last.contains(named), "{err}");
    }
}

/// A server and an agent with RPC TLS: the agent joins, a job tagged for it runs there, and a
/// running one's output is relayed through the server; plain HTTP to the RPC port gets no
/// answer.
#[test]
fn a_server_and_an_agent_run_a_job_over_rpc_tls() {
    let pki = Pki::generate();
    let tls = [
        "--rpc-tls-cert",
        Pki::path(&pki.cert),
        "--rpc-tls-key",
        Pki::path(&pki.key),
        "--rpc-tls-ca",
        Pki::path(&pki.ca),
    ];
    let mut flags = vec!["--bootstrap-expect", "1"];
    flags.extend(tls);
    let server = Dkrond::start_server(temp_dir(), "s1", &flags);
    let join = vec![server.rpc()];
    let mut flags = vec!["--tag=pool=tls"];
    flags.extend(tls);
    let _agent = Dkrond::start_agent_with(temp_dir(), "a1", &join, &flags);
    wait_for_members(&server, &["s1", "a1"]);

    let job = serde_json::json!({
        "name": "over-tls", "schedule": "@every 1s", "executor": "shell",
        "executor_config": { "command": "true" }, "tags": { "pool": "tls:1" },
    });
    assert_eq!(server.post("/v1/jobs", &job.to_string()).status, 201);
    wait_for("a run on the agent", FORM_TIMEOUT, || {
        executions(&server, "over-tls")
            .iter()
            .any(|e| e["node_name"] == "a1" && e["success"] == true)
            .then_some(())
    });

    // A running execution's output is relayed from the agent over RPC TLS.
    let gate = temp_dir();
    let go = gate.path().join("go");
    let live = crate::live::gated_job("tls-live", &[&go], serde_json::json!({ "pool": "tls:1" }));
    assert_eq!(server.post("/v1/jobs", &live).status, 201);
    crate::live::follow_while_it_runs(&server, "tls-live", &go, "a1");

    let plain = plain_http_bytes(&server.rpc());
    assert!(
        !plain.starts_with(b"HTTP/"),
        "plain HTTP got an answer from RPC: {}",
        String::from_utf8_lossy(&plain)
    );
    // The operator commands reach a TLS server with its CA.
    let output = Command::new(BIN)
        .args(["raft", "list-peers", "--rpc-addr", &server.rpc()])
        .args(["--encrypt", TEST_KEY, "--rpc-tls-ca", Pki::path(&pki.ca)])
        .output()
        .expect("run dkrond");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("s1"), "{out}");
}

/// The API's bounds on a real dkrond: a client that sends half a request head is disconnected
/// after `--http-header-timeout`; with `--max-connections 2`, a third connection is served
/// only once one of the first two closes.
#[test]
fn the_api_bounds_slow_clients_and_connections() {
    let node = Dkrond::start_in(
        temp_dir(),
        &["--http-header-timeout", "2s", "--max-connections", "2"],
    );
    let keep_alive = |stream: &mut TcpStream| {
        let head = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", node.http);
        stream.write_all(head.as_bytes()).expect("write");
    };
    // A reply head and a body of Content-Length bytes, on a kept-alive connection.
    let read_reply = |stream: &mut TcpStream| -> Option<u16> {
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => raw.push(byte[0]),
                _ => return None,
            }
        }
        let reply = parse_reply(&raw);
        let length: usize = reply.headers.get("content-length")?.parse().ok()?;
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).ok()?;
        Some(reply.status)
    };

    // Half a request head, then silence: the server closes the connection.
    let mut slow = TcpStream::connect(node.http).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: sl")
        .expect("write");
    let mut rest = Vec::new();
    slow.read_to_end(&mut rest)
        .expect("closed by the server, not by our read timeout");
    assert!(!rest.starts_with(b"HTTP/1.1 200"), "{rest:?}");

    // Two kept-alive connections take both slots.
    let mut first = TcpStream::connect(node.http).expect("connect");
    let mut second = TcpStream::connect(node.http).expect("connect");
    for stream in [&mut first, &mut second] {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        keep_alive(stream);
        assert_eq!(read_reply(stream), Some(200));
    }
    let mut third = TcpStream::connect(node.http).expect("the kernel's backlog accepts it");
    keep_alive(&mut third);
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let early = third.read(&mut byte);
    assert!(
        early.is_err(),
        "a third connection was served while two held the slots: {early:?}"
    );
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    assert_eq!(
        read_reply(&mut third),
        Some(200),
        "served once a slot freed"
    );
    drop(second);
}
