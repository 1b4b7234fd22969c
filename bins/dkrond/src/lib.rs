//! `dkrond` is the dkron-rs server binary: command line, configuration layering, logs, signals,
//! and the call into [`dkron_node::Node`]. `src/main.rs` is thin glue over this library, so
//! tests reach the same code.
//!
//! # What it does not do
//!
//! No scheduling, storage or HTTP logic: all of that is `dkron-node` and below. This crate only
//! turns flags, `DKRON_*` variables and a config file into a [`config::Config`]
//! ([`load_config`]), binds the sockets ([`Listeners::bind`]), and runs the node until a signal
//! ([`run`]). The operator commands (`raft list-peers`, `raft remove-peer`, `leave`) call
//! `dkron_node::control` and format its answers ([`peers_table`]).
//!
//! # Invariants
//!
//! - Precedence is flag > environment > file > default, for every key.
//! - A configuration problem is reported with every other problem at once, before anything is
//!   bound or opened.
//! - Peer RPC listens on loopback unless `bind-addr` says otherwise.
//! - The HTTP API serves loopback only (protected mode) unless API tokens or
//!   `insecure-open-api` say otherwise; no token is ever logged.

pub mod cli;
pub mod config;
#[cfg(test)]
mod tests;

use std::{
    future::Future,
    io::Read,
    path::{Path, PathBuf},
};

use anyhow::Context;
use dkron_api::Access;
use dkron_node::{Agent, Node, NodeConfig, Tags, control::Peer};
use tokio::net::TcpListener;

use tracing_subscriber::EnvFilter;

use crate::{
    cli::{AgentArgs, ControlArgs, RaftCommand},
    config::{Config, ConfigError, LogFormat, LogLevel, RawConfig},
};

/// The bound sockets a node serves on.
#[derive(Debug)]
pub struct Listeners {
    /// HTTP API (servers only: an agent serves none).
    pub http: Option<TcpListener>,
    /// Peer RPC.
    pub rpc: TcpListener,
}

impl Listeners {
    /// Binds the HTTP address, and the RPC port on `bind-addr`'s IP, or loopback without one.
    ///
    /// Why loopback by default: peer RPC carries Raft (votes, log entries, whole snapshots);
    /// a server nobody told to talk to peers must not be reachable from the network. A cluster
    /// sets `bind-addr` (and a cluster key, `encrypt`).
    ///
    /// # Errors
    /// A one-line reason naming the address and the setting to change (occupied port, no such
    /// address, permission).
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let http = if config.server {
            Some(TcpListener::bind(config.http_addr).await.with_context(|| {
                format!(
                    "cannot listen on {} for the HTTP API (set another with --http-addr)",
                    config.http_addr
                )
            })?)
        } else {
            None
        };
        let loopback = match config.http_addr.ip() {
            std::net::IpAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            std::net::IpAddr::V6(_) => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        };
        let rpc_addr =
            std::net::SocketAddr::new(config.rpc_bind_ip.unwrap_or(loopback), config.rpc_port);
        let rpc = TcpListener::bind(rpc_addr).await.with_context(|| {
            format!(
                "cannot listen on {rpc_addr} for peer RPC (set another with --rpc-port or --bind-addr)"
            )
        })?;
        Ok(Listeners { http, rpc })
    }
}

/// Reads every configuration source of `dkrond agent`: the flags in `args`, the `DKRON_*`
/// variables among `vars`, and the config file named by `--config` or `DKRON_CONFIG`, else the
/// first `dkron.{yml,yaml,toml,json}` found in `search_dirs` (dkron looks in `./config`,
/// `$HOME/.dkron` and `/etc/dkron`: see [`default_config_dirs`]).
///
/// # Errors
/// Every problem found, at once.
pub fn load_config(
    args: &AgentArgs,
    vars: Vec<(String, String)>,
    search_dirs: &[PathBuf],
    hostname: &dyn Fn() -> Option<String>,
) -> Result<Config, ConfigError> {
    let config_path = args
        .config
        .clone()
        .or_else(|| {
            vars.iter()
                .find(|(k, _)| k == "DKRON_CONFIG")
                .map(|(_, v)| v.into())
        })
        .or_else(|| find_config_file(search_dirs));
    let file = match config_path {
        Some(path) => read_config_file(&path),
        None => RawConfig::default(),
    };
    Config::resolve(
        args.to_raw(),
        RawConfig::from_env(vars.into_iter()),
        file,
        hostname,
    )
}

/// Where dkron looks for `dkron.*` when no config file is named, in order.
pub fn default_config_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("config")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".dkron"));
    }
    dirs.push(PathBuf::from("/etc/dkron"));
    dirs
}

/// The first `dkron.<ext>` in `dirs`.
fn find_config_file(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .flat_map(|dir| ["yml", "yaml", "toml", "json"].map(|ext| dir.join(format!("dkron.{ext}"))))
        .find(|path| path.is_file())
}

fn read_config_file(path: &Path) -> RawConfig {
    let shown = path.display().to_string();
    let mut text = String::new();
    let read = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    if let Err(error) = read {
        return RawConfig {
            problems: vec![format!("cannot read config file {shown}: {error}")],
            ..RawConfig::default()
        };
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    RawConfig::from_file_text(&text, &extension, &shown)
}

/// The machine's host name (dkron's default node name).
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// The node settings of a dkrond configuration.
pub fn node_config(config: &Config) -> NodeConfig {
    let mut node = NodeConfig::new(config.node_name.clone(), config.data_dir.clone());
    node.advertise_host = config.advertise_addr.clone();
    node.bootstrap_expect = config.bootstrap_expect;
    node.raft_multiplier = config.raft_multiplier;
    node.tags = config.tags.clone();
    node.datacenter = config.datacenter.clone();
    node.region = config.region.clone();
    node.shutdown_timeout = config.shutdown_timeout;
    node.failure_timeout = config.failure_timeout;
    node.misfire_threshold = config.misfire_threshold;
    node.dispatch_lead = config.dispatch_lead;
    node.join = config.join.clone();
    node.retry_join = config.retry_join;
    node.retry_interval = config.retry_interval;
    node.retry_max = config.retry_max;
    node.cluster_key = config.cluster_key.clone();
    node.serve = dkron_node::ServeOptions {
        max_connections: config.max_connections,
        header_timeout: config.http_header_timeout,
        request_timeout: config.http_request_timeout,
    };
    node.api_tls = config.api_tls.clone();
    node.rpc_tls = config.rpc_tls.clone();
    node.advertise_rpc_port = config.advertise_rpc_port;
    node.server = config.server;
    node.version = env!("CARGO_PKG_VERSION").to_owned();
    node.api = node
        .api
        .with_ui(config.ui)
        .with_cors_origins(config.cors_origins.clone())
        .with_max_body_bytes(config.bounds.max_request_bytes)
        .with_max_restore_bytes(config.bounds.max_restore_bytes)
        .with_max_backfill_fires(config.bounds.max_backfill_fires)
        .with_access(config.access.clone());
    node.ceilings = config.bounds.ceilings;
    node.execution_slots = config.bounds.execution_slots;
    node.max_output_streams = config.bounds.max_output_streams;
    node.notify = config.notify.clone();
    node
}

/// Runs a node on `listeners` until `shutdown` completes (or a client asks it to leave), then
/// stops it gracefully: running executions get up to the configured shutdown timeout.
///
/// # Errors
/// Why the node could not start or stop, as one line with its causes (`{:#}`).
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
    reload: impl Fn() -> Result<Config, ConfigError> + Send + 'static,
) -> anyhow::Result<()> {
    if let Some(warning) = exposure_warning(&listeners.rpc, config.rpc_tls.is_some()) {
        tracing::warn!("{warning}");
    }
    // Registered before the node starts: SIGHUP's default action ends the process, and a
    // SIGHUP sent as soon as the node showed up (its ports file, its first heartbeat) could come
    // before a handler registered after the start (an agent under load died so, silently).
    let hangups = hangup_signals();
    let Some(http) = listeners.http else {
        let agent = Agent::start(node_config(&config), listeners.rpc)
            .await
            .context("cannot start the agent")?;
        let reloads = tokio::spawn(reload_tags_on_hangup(agent.tags(), reload, hangups));
        let result = agent.run(shutdown).await;
        reloads.abort();
        return result.context("the agent did not stop cleanly");
    };
    match access_summary(&config.access) {
        (true, line) => tracing::warn!("{line}"),
        (false, line) => tracing::info!("{line}"),
    }
    let node = Node::start(node_config(&config), http, listeners.rpc)
        .await
        .context("cannot start the node")?;
    let reloads = tokio::spawn(reload_tags_on_hangup(node.tags(), reload, hangups));
    let result = node.run(shutdown).await;
    reloads.abort();
    result.context("the node did not stop cleanly")
}

/// The SIGHUP stream, or `None` (logged) when it cannot be had.
fn hangup_signals() -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP: tags will not be reloaded");
            None
        }
    }
}

/// On every SIGHUP, reads the configuration again and applies its tags (dkron reloads tags
/// on SIGHUP); a configuration that no longer parses is logged and changes nothing.
async fn reload_tags_on_hangup(
    tags: Tags,
    reload: impl Fn() -> Result<Config, ConfigError> + Send + 'static,
    hangups: Option<tokio::signal::unix::Signal>,
) {
    let Some(mut hangups) = hangups else {
        return;
    };
    while hangups.recv().await.is_some() {
        match reload() {
            Ok(config) => {
                tracing::info!(tags = ?config.tags, "SIGHUP: tags reloaded");
                tags.set(config.tags);
            }
            Err(error) => tracing::warn!(%error, "SIGHUP: configuration not reloaded"),
        }
    }
}

/// The line logged once at start saying who may use the HTTP API (never a token), and whether
/// it is a warning (the API open to everyone).
pub fn access_summary(access: &Access) -> (bool, String) {
    match access {
        Access::Protected => (
            false,
            "HTTP API in protected mode: loopback clients only (configure --api-token to serve other addresses)".to_owned(),
        ),
        Access::Tokens(_) => {
            let (read, write) = access.token_counts();
            (
                false,
                format!(
                    "HTTP API requires a bearer token on every request but /health: {read} read and {write} write tokens"
                ),
            )
        }
        Access::Open => (
            true,
            "HTTP API open to every address without a token (--insecure-open-api): anyone who reaches it can run commands on this machine".to_owned(),
        ),
    }
}

/// The warning to log when peer RPC (bound by `rpc`) is reachable beyond loopback without
/// TLS: the cluster key authenticates peers, but it and the Raft traffic (jobs, their
/// commands and outputs) cross the network in clear text.
pub fn exposure_warning(rpc: &TcpListener, has_tls: bool) -> Option<String> {
    let addr = rpc.local_addr().ok()?;
    if has_tls || addr.ip().is_loopback() {
        return None;
    }
    Some(format!(
        "peer RPC listens on {addr}, beyond loopback, without TLS: the cluster key and Raft traffic cross the network in clear text; on an untrusted network set --rpc-tls-cert, --rpc-tls-key and --rpc-tls-ca"
    ))
}

/// dkron's `raft list-peers` table: `Node  ID  Address  State  Voter`, one member a line,
/// columns padded to their widest cell.
pub fn peers_table(peers: &[Peer]) -> String {
    let mut rows = vec![[
        "Node".to_owned(),
        "ID".to_owned(),
        "Address".to_owned(),
        "State".to_owned(),
        "Voter".to_owned(),
    ]];
    for peer in peers {
        rows.push([
            peer.name.clone(),
            peer.id.to_string(),
            peer.rpc_addr.clone(),
            if peer.leader { "leader" } else { "follower" }.to_owned(),
            peer.voter.to_string(),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for row in &rows {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        table.push_str(line.trim_end());
        table.push('\n');
    }
    table
}

/// How long an operator command waits for the server's answer.
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The cluster key of an operator command: `--encrypt`, else `env_key` (`DKRON_ENCRYPT`),
/// checked as the agent checks it; else the key a server stored in `--data-dir` (default
/// `dkron.data`) on this machine.
///
/// # Errors
/// When the key is not base64 of 16, 24 or 32 bytes, or none is found: every server requires
/// one.
pub fn control_key(args: &ControlArgs, env_key: Option<String>) -> anyhow::Result<String> {
    if let Some(key) = args.encrypt.clone().or(env_key) {
        return config::check_cluster_key(key.trim())
            .map_err(|reason| anyhow::anyhow!("--encrypt: {reason}"));
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    match dkron_node::read_cluster_key(&data_dir) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => anyhow::bail!(
            "no cluster key: give --encrypt (or DKRON_ENCRYPT), or --data-dir of a server on this machine (its {} holds the key; {} has none)",
            dkron_node::CLUSTER_KEY_FILE,
            data_dir.display()
        ),
        Err(error) => Err(anyhow::Error::new(error)),
    }
}

/// What an operator command presents: the key ([`control_key`]) and the RPC CA.
fn credentials(
    args: &ControlArgs,
    env_key: Option<String>,
) -> anyhow::Result<dkron_node::control::Credentials> {
    Ok(dkron_node::control::Credentials {
        cluster_key: Some(control_key(args, env_key)?),
        rpc_tls_ca: args.rpc_tls_ca.clone(),
    })
}

/// Runs `dkrond raft …`; returns what to print.
///
/// # Errors
/// A bad key, an unreachable server, an unknown peer, a refused removal.
pub async fn raft_command(
    command: &RaftCommand,
    env_key: Option<String>,
) -> anyhow::Result<String> {
    match command {
        RaftCommand::ListPeers(control) => {
            let credentials = credentials(control, env_key)?;
            let peers =
                dkron_node::control::list_peers(&control.rpc_addr, &credentials, CONTROL_TIMEOUT)
                    .await
                    .with_context(|| format!("cannot list the peers of {}", control.rpc_addr))?;
            Ok(peers_table(&peers))
        }
        RaftCommand::RemovePeer { peer_id, control } => {
            let credentials = credentials(control, env_key)?;
            let removed = dkron_node::control::remove_peer(
                &control.rpc_addr,
                &credentials,
                peer_id,
                CONTROL_TIMEOUT,
            )
            .await
            .with_context(|| format!("cannot remove peer {peer_id}"))?;
            Ok(format!(
                "removed peer {} (ID {})\n",
                removed.name, removed.id
            ))
        }
    }
}

/// Runs `dkrond leave`: asks the server at `--rpc-addr` to leave; returns what to print.
///
/// # Errors
/// A bad key, an unreachable server, no leader to remove it.
pub async fn leave_command(
    control: &ControlArgs,
    env_key: Option<String>,
) -> anyhow::Result<String> {
    let credentials = credentials(control, env_key)?;
    dkron_node::control::leave(&control.rpc_addr, &credentials, CONTROL_TIMEOUT)
        .await
        .with_context(|| format!("{} could not leave the cluster", control.rpc_addr))?;
    Ok(format!("{} left the cluster\n", control.rpc_addr))
}

/// A new random 16-byte key, base64 (standard alphabet, padded), as `dkron keygen` prints.
///
/// # Errors
/// When the system's random source cannot be read.
pub fn keygen() -> anyhow::Result<String> {
    dkron_node::generate_cluster_key().context("cannot read /dev/urandom")
}

/// Installs the log subscriber on stderr: the configured level (`RUST_LOG` overrides it) and
/// format (text or one JSON object per line).
pub fn init_logs(config: &Config) {
    // openraft logs every election and shutdown step at info: quieter unless debugging.
    let level = config.log_level.as_str();
    let directives = match config.log_level {
        LogLevel::Trace | LogLevel::Debug => level.to_owned(),
        LogLevel::Info | LogLevel::Warn | LogLevel::Error => format!("{level},openraft=warn"),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a terminal: logs redirected to a file or a journal stay plain.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Completes on the first SIGTERM or SIGINT. A second one ends the process at once with exit
/// code 130, without waiting for running executions (dkron does the same).
pub async fn shutdown_signal() {
    let name = next_signal().await;
    tracing::info!("{name} received, stopping (send it again to exit at once)");
    // Why a detached task: it must outlive this future and end the process mid-shutdown; it
    // dies with the runtime when the graceful stop finishes first.
    drop(tokio::spawn(async {
        let name = next_signal().await;
        tracing::warn!("second {name}: exiting without waiting for running executions");
        std::process::exit(130);
    }));
}

/// The name of the next SIGTERM or SIGINT received.
async fn next_signal() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
