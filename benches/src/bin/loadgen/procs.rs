//! The `dkrond` processes a scenario starts: spawned with a temp data dir each, found by their
//! ports file, measured through `/proc`, and SIGKILLed and reaped by PID on drop (also when the
//! scenario future is dropped on Ctrl-C or an error), so every child ends within a bounded time.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::Result;

/// How long a node may take to write its ports file (the first open of a big RocksDB included).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the nodes may take to see each other alive.
const FORM_TIMEOUT: Duration = Duration::from_secs(60);

/// The cluster key every node of a run shares (16 bytes, base64, as `dkrond keygen`).
const CLUSTER_KEY: &str = "bG9hZGdlbi1jbHVzdGVyIQ==";

/// One `dkrond agent` process (a server, or an agent without `--server`).
pub(crate) struct Node {
    pub(crate) name: String,
    child: Option<Child>,
    /// `127.0.0.1:0` for an agent, which serves no HTTP API.
    pub(crate) http: SocketAddr,
    pub(crate) rpc: String,
    pub(crate) data: PathBuf,
    log: PathBuf,
    args: Vec<String>,
}

impl Node {
    /// Runs `bin args --data-dir <dir>/<name>` (stderr in `<dir>/<name>.log`) and waits for its
    /// ports file.
    pub(crate) async fn spawn(
        bin: &Path,
        dir: &Path,
        name: &str,
        args: Vec<String>,
    ) -> Result<Node> {
        let mut node = Node {
            name: name.to_owned(),
            child: None,
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            rpc: String::new(),
            data: dir.join(name),
            log: dir.join(format!("{name}.log")),
            args,
        };
        node.launch(bin).await?;
        Ok(node)
    }

    /// Starts the process again on the same data dir, e.g. after [`Node::kill`].
    pub(crate) async fn restart(&mut self, bin: &Path) -> Result<()> {
        self.kill();
        let _ = std::fs::remove_file(self.data.join("dkrond.ports.json"));
        self.launch(bin).await
    }

    async fn launch(&mut self, bin: &Path) -> Result<()> {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(bin)
            .args(&self.args)
            .arg("--data-dir")
            .arg(&self.data)
            .env_remove("RUST_LOG")
            .env_remove("DKRON_HTTP_ADDR")
            .env("DKRON_ENCRYPT", CLUSTER_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        self.child = Some(child);
        let serves_http = self.args.iter().any(|a| a == "--server");
        let ports_file = self.data.join("dkrond.ports.json");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "{} exited at start with {status}:\n{}",
                    self.name,
                    self.log_tail()
                ));
            }
            if let Some((http, rpc)) = read_ports(&ports_file, serves_http) {
                if let Some(http) = http {
                    self.http = http;
                }
                self.rpc = rpc;
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} wrote no ports file within {START_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resident set size in bytes, from `/proc/<pid>/status` (None once the process is gone).
    pub(crate) fn rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reap: bounded, the kernel ends it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Lines of this node's log containing `needle`.
    pub(crate) fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(needle))
            .count()
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("--- {} ({}) ---\n{tail}", self.name, self.log.display())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_ports(path: &Path, serves_http: bool) -> Option<(Option<SocketAddr>, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let ports: serde_json::Value = serde_json::from_str(&text).ok()?;
    let http = if serves_http {
        Some(ports["http"].as_str()?.parse().ok()?)
    } else {
        None
    };
    Some((http, ports["rpc"].as_str()?.to_owned()))
}

/// Servers s1..sN, optionally agent a1 (tagged `pool=agent`), and the directory holding their
/// data and logs. Field order: the nodes are dropped (killed) before the directory is removed.
pub(crate) struct Cluster {
    pub(crate) servers: Vec<Node>,
    pub(crate) agent: Option<Node>,
    dir: Option<tempfile::TempDir>,
    pub(crate) bin: PathBuf,
}

impl Cluster {
    /// Starts `servers` servers (s1 bootstraps, the others join it) and, with `agent`, one agent
    /// given every server's RPC address; waits until every server lists every node alive.
    pub(crate) async fn start(
        bin: &Path,
        client: &reqwest::Client,
        servers: usize,
        agent: bool,
    ) -> Result<Cluster> {
        let dir = tempfile::Builder::new()
            .prefix("dkron-loadgen")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let mut cluster = Cluster {
            servers: Vec::new(),
            agent: None,
            dir: Some(dir),
            bin: bin.to_owned(),
        };
        match cluster.form(client, servers, agent).await {
            Ok(()) => Ok(cluster),
            Err(error) => Err(cluster.fail(&error)),
        }
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().to_owned())
            .unwrap_or_default()
    }

    async fn form(&mut self, client: &reqwest::Client, servers: usize, agent: bool) -> Result<()> {
        let dir = self.dir();
        let bin = self.bin.clone();
        let s1 = Node::spawn(
            &bin,
            &dir,
            "s1",
            server_args("s1", &["--bootstrap-expect", "1"]),
        )
        .await?;
        let join = s1.rpc.clone();
        self.servers.push(s1);
        // Servers join s1; the agent gets every server (below).
        for i in 2..=servers {
            let name = format!("s{i}");
            let flags = ["--bootstrap-expect", "0", "--join", &join];
            let node = Node::spawn(&bin, &dir, &name, server_args(&name, &flags)).await?;
            self.servers.push(node);
        }
        if agent {
            // Every server, as docs/operations.md says: an agent reports only to the servers
            // it was given, so one joined through s1 alone loses its reports with s1.
            let mut args: Vec<String> = [
                "agent",
                "--node-name",
                "a1",
                "--rpc-port",
                "0",
                "--tag",
                "pool=agent",
            ]
            .iter()
            .map(|a| (*a).to_owned())
            .collect();
            for server in &self.servers {
                args.extend(["--retry-join".to_owned(), server.rpc.clone()]);
            }
            self.agent = Some(Node::spawn(&bin, &dir, "a1", args).await?);
        }
        let size = servers + usize::from(agent);
        let deadline = Instant::now() + FORM_TIMEOUT;
        for server in &self.servers {
            loop {
                let alive = crate::get_json(client, &server.url("/v1/members"))
                    .await
                    .ok()
                    .map(|m| {
                        m.as_array().map_or(0, |list| {
                            list.iter().filter(|m| m["statusText"] == "alive").count()
                        })
                    });
                if alive == Some(size) {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "cluster did not form within {FORM_TIMEOUT:?}: {} sees {alive:?} alive members",
                        server.name
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Stops the nodes and keeps their directory for a look after the run; returns `error` with
    /// the tail of every log.
    pub(crate) fn fail(mut self, error: &str) -> String {
        let mut logs: Vec<String> = self.servers.iter().map(Node::log_tail).collect();
        logs.extend(self.agent.as_ref().map(Node::log_tail));
        self.servers.clear();
        self.agent = None;
        let kept = self.dir.take().map(tempfile::TempDir::keep);
        format!(
            "{error}\n{}\n(data and logs kept in {})",
            logs.join("\n"),
            kept.map_or_else(String::new, |p| p.display().to_string())
        )
    }

    /// The index of the server that `/v1/leader` on server `on` names.
    pub(crate) async fn leader_seen_by(
        &self,
        client: &reqwest::Client,
        on: usize,
    ) -> Option<usize> {
        let leader = crate::get_json(client, &self.servers[on].url("/v1/leader"))
            .await
            .ok()?;
        let name = leader["Name"].as_str()?;
        self.servers.iter().position(|s| s.name == name)
    }

    /// Waits (bounded) until some live server names a leader.
    pub(crate) async fn leader(&self, client: &reqwest::Client) -> Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for on in 0..self.servers.len() {
                if self.servers[on].pid().is_some()
                    && let Some(leader) = self.leader_seen_by(client, on).await
                {
                    return Ok(leader);
                }
            }
            if Instant::now() > deadline {
                return Err("no leader within 30 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Bytes on disk under node `index`'s data dir.
    pub(crate) fn disk_usage(&self, index: usize) -> u64 {
        fn walk(path: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(path) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.servers[index].data)
    }
}

fn server_args(name: &str, extra: &[&str]) -> Vec<String> {
    ["agent", "--server", "--node-name", name]
        .iter()
        .chain(extra)
        .chain(&[
            "--http-addr",
            "127.0.0.1:0",
            "--rpc-port",
            "0",
            "--tag",
            "pool=server",
        ])
        .map(|s| (*s).to_owned())
        .collect()
}
