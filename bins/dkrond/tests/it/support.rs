//! Test support: a real `dkrond` process on ephemeral ports in a temp dir ([`Dkrond`], killed and
//! reaped on drop), a minimal HTTP/1.1 client ([`Reply`]), and deadline waits.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use tempfile::TempDir;

/// The dkrond binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_dkrond");

/// The cluster key every test node shares (through `DKRON_ENCRYPT`, so a test's own
/// `--encrypt` flag overrides it): servers that join and agents need one.
pub(crate) const TEST_KEY: &str = "dGVzdC1jbHVzdGVyLWtleQ==";

/// How long a node may take to start (first RocksDB open, Raft election).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Polls `probe` every 25 ms until it returns `Some`, or panics with `what` after `timeout`.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A running `dkrond agent` with its own data dir, on 127.0.0.1 ports it chose itself.
#[derive(Debug)]
pub(crate) struct Dkrond {
    child: Option<Child>,
    dir: TempDir,
    /// The HTTP API address, read from the ports file.
    pub(crate) http: SocketAddr,
    /// The bearer token [`Dkrond::request`] sends, if the node was given one.
    token: Option<String>,
}

impl Dkrond {
    /// Starts a single-server node in a new temp dir.
    pub(crate) fn start() -> Dkrond {
        Dkrond::start_in(tempfile::tempdir().expect("temp dir"), &[])
    }

    /// Starts a node on the data dir of `dir` (reused across restarts), with `extra` flags.
    pub(crate) fn start_in(dir: TempDir, extra: &[&str]) -> Dkrond {
        let data = dir.path().join("data");
        let mut command = agent_command(&data, "127.0.0.1:0");
        command.args(extra);
        Dkrond::spawn(dir, command)
    }

    /// Starts server `name` of a cluster on the data dir of `dir` (reused across restarts),
    /// with the cluster flags `cluster`.
    pub(crate) fn start_server(dir: TempDir, name: &str, cluster: &[&str]) -> Dkrond {
        let data = dir.path().join("data");
        let command = server_command(&data, "127.0.0.1:0", name, cluster);
        Dkrond::spawn(dir, command)
    }

    /// Starts server `name` again on `dir` after a crash, on the RPC port it had (its peers
    /// know it by that address), read from the ports file the crash left behind.
    pub(crate) fn restart_server(dir: TempDir, name: &str) -> Dkrond {
        let text = std::fs::read_to_string(dir.path().join("data/dkrond.ports.json"))
            .expect("the ports file of a crashed server");
        let ports: serde_json::Value = serde_json::from_str(&text).expect("ports JSON");
        let rpc: SocketAddr = ports["rpc"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .expect("an rpc address");
        Dkrond::start_server_on(dir, name, rpc.port(), &[])
    }

    /// [`Dkrond::start_server`] with its RPC port on `rpc_port`.
    ///
    /// The port was free when it was chosen (or when the crashed server held it), but any
    /// process's outgoing connection may take a free port for a moment (the kernel picks local
    /// ports from the same range): a start that finds it in use is tried again, bounded.
    pub(crate) fn start_server_on(
        mut dir: TempDir,
        name: &str,
        rpc_port: u16,
        cluster: &[&str],
    ) -> Dkrond {
        let deadline = Instant::now() + START_TIMEOUT;
        let port = rpc_port.to_string();
        loop {
            let data = dir.path().join("data");
            let command = server_command_on(&data, "127.0.0.1:0", &port, name, cluster);
            match Dkrond::try_spawn(dir, command) {
                Ok(node) => return node,
                Err((back, log)) if log.contains("Address already in use") => {
                    assert!(
                        Instant::now() < deadline,
                        "port {port} stayed in use:\n{log}"
                    );
                    dir = back;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err((_, log)) => panic!("dkrond exited early:\n{log}"),
            }
        }
    }

    /// Runs `command` (whose data dir is `dir`/data) and waits for its ports file. The log
    /// (appended across restarts) is `dir`/dkrond.log.
    pub(crate) fn spawn(dir: TempDir, command: Command) -> Dkrond {
        match Dkrond::try_spawn(dir, command) {
            Ok(node) => node,
            Err((_, log)) => panic!("dkrond exited early:\n{log}"),
        }
    }

    /// [`Dkrond::spawn`], or, when the process exits before it is ready, its dir back and what
    /// it logged in this start.
    fn try_spawn(dir: TempDir, mut command: Command) -> Result<Dkrond, (TempDir, String)> {
        let data = dir.path().join("data");
        let ports_file = data.join("dkrond.ports.json");
        let _ = std::fs::remove_file(&ports_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("dkrond.log"))
            .expect("log file");
        let logged_before = log.metadata().map_or(0, |m| m.len());
        command.stdout(Stdio::null()).stderr(log);
        let child = command.spawn().expect("spawn dkrond");
        let mut node = Dkrond {
            child: Some(child),
            dir,
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: None,
        };
        let ready = wait_for("dkrond to write its ports file", START_TIMEOUT, || {
            if let Some(status) = node
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Some(Err(status));
            }
            let text = std::fs::read_to_string(&ports_file).ok()?;
            let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
            // An agent serves no HTTP API: its RPC address says it is ready.
            match ports["http"].as_str() {
                Some(http) => http.parse().ok().map(Ok),
                None => ports["rpc"]
                    .as_str()
                    .map(|_| Ok(SocketAddr::from(([127, 0, 0, 1], 0)))),
            }
        });
        match ready {
            Ok(http) => {
                node.http = http;
                Ok(node)
            }
            Err(status) => {
                node.child = None;
                let log = node.log();
                let this_start = log.get(logged_before as usize..).unwrap_or(&log);
                let said = format!("exit {status}:\n{this_start}");
                let dir = std::mem::replace(&mut node.dir, tempfile::tempdir().expect("temp dir"));
                Err((dir, said))
            }
        }
    }

    /// Starts agent `name` (no `--server`) on the data dir of `dir`, joining the servers at
    /// `join` (RPC addresses), with `tags` (`key=value`).
    pub(crate) fn start_agent(dir: TempDir, name: &str, join: &[String], tags: &[&str]) -> Dkrond {
        let flags: Vec<String> = tags.iter().map(|t| format!("--tag={t}")).collect();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        Dkrond::start_agent_with(dir, name, join, &flags)
    }

    /// [`Dkrond::start_agent`] with any `flags` (`--config`, ...).
    pub(crate) fn start_agent_with(
        dir: TempDir,
        name: &str,
        join: &[String],
        flags: &[&str],
    ) -> Dkrond {
        let data = dir.path().join("data");
        let mut command = Command::new(BIN);
        command
            .args(["agent", "--node-name", name, "--rpc-port", "0"])
            .arg("--data-dir")
            .arg(&data)
            .env("DKRON_SHUTDOWN_TIMEOUT", "5s")
            .env("DKRON_ENCRYPT", TEST_KEY)
            .env_remove("RUST_LOG");
        for server in join {
            command.args(["--retry-join", server]);
        }
        command.args(flags);
        Dkrond::spawn(dir, command)
    }

    /// Sends signal `name` (`HUP`, `TERM`, ...) to the process.
    pub(crate) fn signal(&self, name: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            assert!(status.success(), "kill -{name} failed");
        }
    }

    /// The node's temp dir (its data dir is `data` inside).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The node's data dir.
    pub(crate) fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// The peer RPC address, from the ports file.
    pub(crate) fn rpc(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("data/dkrond.ports.json"))
            .expect("ports file");
        let ports: serde_json::Value = serde_json::from_str(&text).expect("ports JSON");
        ports["rpc"].as_str().expect("rpc address").to_owned()
    }

    /// The node's log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dkrond.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns the temp dir for a restart.
    pub(crate) fn stop(mut self) -> (TempDir, ExitStatus) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
        let exit = wait_for(
            "dkrond to exit after SIGTERM",
            Duration::from_secs(40),
            || child.try_wait().ok().flatten(),
        );
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (dir, exit)
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .expect("kill");
            assert!(status.success(), "kill -TERM failed");
        }
    }

    /// Kills the process with SIGKILL (a crash) and reaps it; returns the temp dir for a restart.
    pub(crate) fn kill(mut self) -> TempDir {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// The exit status if the process has exited.
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Makes [`Dkrond::request`] (and what uses it) send `token`, which the node was given
    /// (`--api-token`, `DKRON_API_TOKEN`).
    pub(crate) fn with_api_token(mut self, token: &str) -> Dkrond {
        self.token = Some(token.to_owned());
        self
    }

    /// Sends a request (with the node's token, if any) and reads the whole reply.
    pub(crate) fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
        let Some(token) = &self.token else {
            return request(self.http, method, path, body);
        };
        let auth = format!("Bearer {token}");
        let headers = [
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", auth.as_str()),
        ];
        request_with_headers(self.http, method, path, body.unwrap_or_default(), &headers)
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Reply {
        self.request("GET", path, None)
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post(&self, path: &str, body: &str) -> Reply {
        self.request("POST", path, Some(body.as_bytes()))
    }
}

impl Drop for Dkrond {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // A failing test keeps each node's dir (log and data) to read why; so does any test
        // run with DKRON_TEST_KEEP set. (After `kill` or `stop` the dir is an empty stand-in.)
        let keep = std::thread::panicking() || std::env::var_os("DKRON_TEST_KEEP").is_some();
        if keep
            && self.dir.path().join("dkrond.log").exists()
            && let Ok(dir) = tempfile::tempdir()
        {
            let kept = std::mem::replace(&mut self.dir, dir).keep();
            eprintln!(
                "kept the dir of the node on {}: {}",
                self.http,
                kept.display()
            );
        }
    }
}

/// `dkrond agent` as a single server on `data` with its API on `http_addr` and its RPC port
/// chosen by the OS.
pub(crate) fn agent_command(data: &Path, http_addr: &str) -> Command {
    server_command(data, http_addr, "test-node", &["--bootstrap-expect", "1"])
}

/// `dkrond agent --server` named `name` on `data`, API on `http_addr`, RPC port chosen by the
/// OS, with the cluster flags `cluster` (`--bootstrap-expect`, `--join`, ...).
pub(crate) fn server_command(
    data: &Path,
    http_addr: &str,
    name: &str,
    cluster: &[&str],
) -> Command {
    server_command_on(data, http_addr, "0", name, cluster)
}

/// [`server_command`] with its RPC port `rpc_port`.
pub(crate) fn server_command_on(
    data: &Path,
    http_addr: &str,
    rpc_port: &str,
    name: &str,
    cluster: &[&str],
) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["agent", "--server", "--node-name", name])
        .args(cluster)
        .arg("--data-dir")
        .arg(data)
        .args(["--http-addr", http_addr, "--rpc-port", rpc_port])
        // Through the environment, so a test's `--shutdown-timeout` flag overrides it.
        .env("DKRON_SHUTDOWN_TIMEOUT", "5s")
        .env("DKRON_ENCRYPT", TEST_KEY)
        .env_remove("RUST_LOG")
        .env_remove("DKRON_HTTP_ADDR");
    command
}

/// An HTTP reply.
#[derive(Debug)]
pub(crate) struct Reply {
    /// Status code.
    pub(crate) status: u16,
    /// Headers, names lower-cased.
    pub(crate) headers: BTreeMap<String, String>,
    /// Body (de-chunked).
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), with curl's `-d` content
/// type.
pub(crate) fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> Reply {
    let body = body.unwrap_or_default();
    request_typed(
        addr,
        method,
        path,
        body,
        "application/x-www-form-urlencoded",
    )
}

/// One HTTP/1.1 request with the given body content type.
pub(crate) fn request_typed(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    content_type: &str,
) -> Reply {
    request_with_headers(addr, method, path, body, &[("Content-Type", content_type)])
}

/// One HTTP/1.1 request with extra `headers` (`Origin`, `Authorization`, ...).
pub(crate) fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write head");
    // A server may answer (413) and close before reading a large body: ignore write errors.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_reply(&raw)
}

pub(crate) fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("reply has a head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// An API time field as a `Timestamp`; panics on anything else.
pub(crate) fn time(value: &serde_json::Value) -> jiff::Timestamp {
    value
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

/// Finished executions of `job`, oldest start first, once at least `n` exist (within `timeout`).
pub(crate) fn finished(
    node: &Dkrond,
    job: &str,
    n: usize,
    timeout: Duration,
) -> Vec<serde_json::Value> {
    wait_for(&format!("{n} finished runs of {job}"), timeout, || {
        let list = node.get(&format!("/v1/jobs/{job}/executions")).json();
        let mut done: Vec<serde_json::Value> = list
            .as_array()?
            .iter()
            .filter(|e| {
                e["finished_at"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001-"))
            })
            .cloned()
            .collect();
        done.sort_by_key(|e| time(&e["started_at"]));
        (done.len() >= n).then_some(done)
    })
}
