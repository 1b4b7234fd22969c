//! dkrond's settings in two stages, as ripgrep's low and high arguments: [`RawConfig`] holds
//! what one source said (command-line flags, `DKRON_*` environment variables, a config file),
//! every value optional and already typed; [`Config::resolve`] layers the sources with dkron's
//! precedence (flag > env > file > default), validates the whole, and returns either a complete
//! [`Config`] or every problem at once ([`ConfigError`]).
//!
//! Keys are dkron's names (`http-addr`, `bootstrap-expect`, `tags`, …; `reference/dkron.md`
//! §6.1-6.2). Environment variables are `DKRON_` plus the key upper-cased with `-` as `_`
//! (`DKRON_HTTP_ADDR`). dkron settings for features dkron-rs does not have (statsd, Serf's gossip tuning, …) are accepted with a warning, never silently ignored.
//!
//! Cluster settings differ from dkron's where dkron-rs has no Serf: `join` and `retry-join`
//! take peer RPC addresses (`host:port`, the `rpc-port` of a server), not Serf addresses or
//! go-discover strings; `encrypt` is the key peers present to each other on peer RPC (same
//! format as dkron's gossip key: `dkrond keygen`); `bind-addr` is where peer RPC listens.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

mod bounds;
mod notify;
use dkron_api::{Access, ApiToken};

use crate::config::access::{read_token_file, resolve_access, to_tokens};

mod access;
#[cfg(test)]
mod tests;

pub use bounds::{Bounds, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_RESTORE_BYTES, RawBounds};

/// Where a value came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// A `DKRON_*` environment variable.
    Env,
    /// The config file.
    File,
}

/// One value as a source gave it, before it is checked against its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (flags, environment variables, file strings).
    Text(String),
    /// A file boolean.
    Bool(bool),
    /// A file integer.
    Int(i64),
    /// A list (repeated flags, file sequences).
    List(Vec<String>),
    /// A file map (`tags`).
    Map(BTreeMap<String, String>),
}

/// What one source set. Every field is `None` when the source did not mention the key; values
/// are typed, and values that did not parse are in `problems` instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawConfig {
    /// `server`.
    pub server: Option<bool>,
    /// `bootstrap-expect`.
    pub bootstrap_expect: Option<u32>,
    /// `raft-multiplier`.
    pub raft_multiplier: Option<u32>,
    /// `node-name`.
    pub node_name: Option<String>,
    /// `data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `http-addr`.
    pub http_addr: Option<SocketAddr>,
    /// `rpc-port`.
    pub rpc_port: Option<u16>,
    /// `advertise-addr` (a host; a `:port` suffix is dropped with a warning).
    pub advertise_addr: Option<String>,
    /// `tags` (`--tag k=v`, repeatable).
    pub tags: Option<BTreeMap<String, String>>,
    /// `log-level`.
    pub log_level: Option<LogLevel>,
    /// `log-format` (dkron-rs): `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// `ui`.
    pub ui: Option<bool>,
    /// `datacenter`.
    pub datacenter: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `shutdown-timeout` (dkron-rs): how long a stop waits for running executions.
    pub shutdown_timeout: Option<Duration>,
    /// `failure-timeout` (dkron-rs): how long a silent node stays alive.
    pub failure_timeout: Option<Duration>,
    /// `misfire-threshold` (dkron-rs): how late a timer fire may start before it is skipped.
    pub misfire_threshold: Option<Duration>,
    /// `dispatch-lead` (dkron-rs): how early the leader hands a fire over.
    pub dispatch_lead: Option<Duration>,
    /// `join`: peer RPC addresses of servers to join.
    pub join: Option<Vec<String>>,
    /// `retry-join`: as `join`, retried.
    pub retry_join: Option<Vec<String>>,
    /// `cors-origins` (dkron-rs): web origins allowed to write, and granted CORS, besides the
    /// API's own.
    pub cors_origins: Option<Vec<String>>,
    /// `retry-interval`.
    pub retry_interval: Option<Duration>,
    /// `retry-max` (0 = forever).
    pub retry_max: Option<u32>,
    /// `encrypt`: the cluster key, already checked.
    pub encrypt: Option<String>,
    /// `bind-addr`: where peer RPC listens; the port is optional.
    pub bind_addr: Option<(IpAddr, Option<u16>)>,
    /// `advertise-rpc-port`.
    pub advertise_rpc_port: Option<u16>,
    /// `max-connections` (dkron-rs): connections served at once, per listener.
    pub max_connections: Option<usize>,
    /// `http-header-timeout` (dkron-rs): request head (and keep-alive idle) bound.
    pub http_header_timeout: Option<Duration>,
    /// `http-request-timeout` (dkron-rs): handler bound.
    pub http_request_timeout: Option<Duration>,
    /// `api-tls-cert`, `api-tls-key`, `rpc-tls-cert`, `rpc-tls-key`, `rpc-tls-ca` (dkron-rs):
    /// PEM files, by key.
    pub tls_files: BTreeMap<&'static str, PathBuf>,
    /// The bounds group (`max-*`, `execution-*`).
    pub bounds: RawBounds,
    /// The notification group (`mail-*`, `webhook-*`, `pre-webhook-*`, `cronitor-endpoint`,
    /// `notify-*`).
    pub notify: notify::RawNotify,
    /// `api-tokens` (dkron-rs; flag `--api-token`, env `DKRON_API_TOKEN`): bearer tokens of
    /// the HTTP API.
    pub api_tokens: Option<Vec<ApiToken>>,
    /// `api-token-file` (dkron-rs): the tokens of a file, already read and checked.
    pub api_token_file: Option<Vec<ApiToken>>,
    /// `insecure-open-api` (dkron-rs): serve every address without a token.
    pub insecure_open_api: Option<bool>,
    /// Values that could not be used, one sentence each.
    pub problems: Vec<String>,
    /// Accepted but without effect, one sentence each.
    pub warnings: Vec<String>,
}

/// Log verbosity (dkron's `log-level`; `fatal` and `panic` read as `error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info` (the default).
    Info,
    /// `warn`.
    Warn,
    /// `error`, `fatal`, `panic`.
    Error,
}

impl LogLevel {
    /// The `tracing` filter directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated settings of `dkrond agent`. Plain data: every field has been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Whether this node is a server (`server`); otherwise an agent: no Raft, no store, no
    /// HTTP API; it runs what the leader sends it.
    pub server: bool,
    /// This node's name (default: the host name).
    pub node_name: String,
    /// Where the store, Raft log and snapshots live (default `dkron.data`).
    pub data_dir: PathBuf,
    /// Address the HTTP API listens on (default `0.0.0.0:8080`, dkron's `:8080`).
    pub http_addr: SocketAddr,
    /// Port of the peer RPC listener (default 6868; 0 = any): `rpc-port`, or the port of
    /// `bind-addr` when it has one.
    pub rpc_port: u16,
    /// IP the peer RPC listener binds (`bind-addr`); `None` = loopback, so a server that was
    /// not told to talk to peers is not reachable from the network.
    pub rpc_bind_ip: Option<IpAddr>,
    /// Port advertised for peer RPC when it differs from the bound one.
    pub advertise_rpc_port: Option<u16>,
    /// Peer RPC addresses of servers to join (`join` then `retry-join`).
    pub join: Vec<String>,
    /// Whether joining is retried (`retry-join` was given).
    pub retry_join: bool,
    /// Pause between join attempts (default 30 s).
    pub retry_interval: Duration,
    /// Most join attempts; 0 = forever.
    pub retry_max: u32,
    /// The cluster key (`encrypt`), base64 of 16, 24 or 32 bytes.
    pub cluster_key: Option<String>,
    /// Host peers and clients are told to use; `None` = the bound address (loopback when it is
    /// unspecified).
    pub advertise_addr: Option<String>,
    /// `bootstrap-expect`: servers expected before the cluster is bootstrapped.
    pub bootstrap_expect: u32,
    /// `raft-multiplier`: Raft's timings multiplied by this (1..=10).
    pub raft_multiplier: u32,
    /// User tags.
    pub tags: BTreeMap<String, String>,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log format.
    pub log_format: LogFormat,
    /// Whether the web UI is wanted.
    pub ui: bool,
    /// Datacenter (`dc` tag).
    pub datacenter: String,
    /// Region.
    pub region: String,
    /// How long a graceful stop waits for running executions before cancelling them.
    pub shutdown_timeout: Duration,
    /// Web origins allowed to write to the API besides its own.
    pub cors_origins: Vec<String>,
    /// A node that sends no heartbeat for this long is failed.
    pub failure_timeout: Duration,
    /// A timer fire that cannot be launched within this of its scheduled instant is skipped
    /// or coalesced as its job's `misfire_policy` says (`catch_up` uses its own window).
    pub misfire_threshold: Duration,
    /// The leader hands a timer fire of a job that allows overlapping runs over this long
    /// before it is due, and its target starts it on its instant; zero: when due.
    pub dispatch_lead: Duration,
    /// Connections served at once, per listener (API, RPC).
    pub max_connections: usize,
    /// A connection that sends no complete request head within this is closed (also the
    /// keep-alive idle timeout).
    pub http_header_timeout: Duration,
    /// A request not answered within this gets a 503 (peer RPC: at least 5 minutes).
    pub http_request_timeout: Duration,
    /// TLS of the HTTP API.
    pub api_tls: Option<dkron_node::TlsFiles>,
    /// TLS of peer RPC (with the CA peers are verified against).
    pub rpc_tls: Option<dkron_node::TlsFiles>,
    /// Ceilings, body sizes and execution slots.
    pub bounds: Bounds,
    /// Notifications (sent by the leader).
    pub notify: dkron_notify::Settings,
    /// Who may use the HTTP API: protected mode (loopback only) unless tokens are configured
    /// (`api-tokens`, `api-token-file`) or `insecure-open-api` is set.
    pub access: Access,
    /// Settings accepted without effect, to log at start.
    pub warnings: Vec<String>,
}

/// The configuration is unusable: every problem found, one sentence each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// What is wrong.
    pub problems: Vec<String>,
}

/// Default `data-dir`.
pub const DEFAULT_DATA_DIR: &str = "dkron.data";
/// Default `http-addr` (dkron's `:8080`).
pub const DEFAULT_HTTP_ADDR: &str = ":8080";
/// Default `rpc-port`.
pub const DEFAULT_RPC_PORT: u16 = 6868;
/// Default `shutdown-timeout`.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `failure-timeout`: a few missed heartbeats (one a second).
pub const DEFAULT_FAILURE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `misfire-threshold`: fires queue at most this long past capacity.
pub const DEFAULT_MISFIRE_THRESHOLD: Duration = Duration::from_secs(5);
/// Default `max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default `http-header-timeout`.
pub const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `http-request-timeout`.
pub const DEFAULT_HTTP_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The TLS file keys (dkron-rs), PEM each.
const TLS_KEYS: [&str; 5] = [
    "api-tls-cert",
    "api-tls-key",
    "rpc-tls-cert",
    "rpc-tls-key",
    "rpc-tls-ca",
];
/// Default `retry-interval` (dkron's).
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// dkron settings for features dkron-rs does not have yet: accepted with a warning, so an
/// existing dkron config file starts.
const INERT_KEYS: &[&str] = &[
    "dog-statsd-addr",
    "dog-statsd-tags",
    "statsd-addr",
    "enable-prometheus",
    "otel-endpoint",
    "disable-usage-stats",
    "agent-run-max-retries",
    "agent-run-retry-initial-interval",
    "agent-run-retry-max-interval",
    "bootstrap",
    "devmode",
    "reconcileinterval",
    // Serf (gossip) tuning of dkron: dkron-rs has no Serf.
    "profile",
    "serf-reconnect-timeout",
];

impl RawConfig {
    /// Sets key `key` from `value`, recording a problem when the key is unknown or the value
    /// does not fit it. `origin` names the flag, variable or file key for messages.
    pub fn set(&mut self, key: &str, value: Value, origin: &str) {
        let key = key.to_ascii_lowercase().replace('_', "-");
        let result = match key.as_str() {
            "server" => to_bool(&value).map(|v| self.server = Some(v)),
            "bootstrap-expect" => to_int(&value, 0, i64::from(u32::MAX))
                .map(|v| self.bootstrap_expect = u32::try_from(v).ok()),
            "raft-multiplier" => to_int(&value, 1, i64::from(dkron_node::MAX_RAFT_MULTIPLIER))
                .map(|v| self.raft_multiplier = u32::try_from(v).ok()),
            "node-name" => to_text(&value)
                .and_then(check_node_name)
                .map(|v| self.node_name = Some(v)),
            "data-dir" => to_text(&value)
                .and_then(non_empty)
                .map(|v| self.data_dir = Some(PathBuf::from(v))),
            "http-addr" => to_text(&value)
                .and_then(|t| parse_listen_addr(&t))
                .map(|v| self.http_addr = Some(v)),
            "rpc-port" => to_int(&value, 0, i64::from(u16::MAX))
                .map(|v| self.rpc_port = u16::try_from(v).ok()),
            "advertise-addr" => to_text(&value).and_then(non_empty).map(|v| {
                let host = split_host(&v);
                if host != v {
                    self.warnings.push(format!(
                        "{origin}: the port of advertise-addr {v:?} is ignored"
                    ));
                }
                self.advertise_addr = Some(host);
            }),
            "tags" | "tag" => to_tags(&value).map(|v| self.tags.get_or_insert_default().extend(v)),
            "log-level" => to_text(&value)
                .and_then(|t| parse_log_level(&t))
                .map(|v| self.log_level = Some(v)),
            "log-format" => to_text(&value)
                .and_then(|t| parse_log_format(&t))
                .map(|v| self.log_format = Some(v)),
            "ui" => to_bool(&value).map(|v| self.ui = Some(v)),
            "datacenter" => to_text(&value)
                .and_then(non_empty)
                .map(|v| self.datacenter = Some(v)),
            "region" => to_text(&value)
                .and_then(non_empty)
                .map(|v| self.region = Some(v)),
            "shutdown-timeout" => to_text(&value)
                .and_then(|t| parse_duration(&t))
                .map(|v| self.shutdown_timeout = Some(v)),
            "failure-timeout" => to_text(&value)
                .and_then(|t| parse_duration(&t))
                .and_then(|v| {
                    if v < Duration::from_secs(2) {
                        Err("must be at least 2s (heartbeats go every second)".to_owned())
                    } else {
                        Ok(v)
                    }
                })
                .map(|v| self.failure_timeout = Some(v)),
            "misfire-threshold" => to_text(&value)
                .and_then(|t| parse_duration(&t))
                .and_then(|v| {
                    if v.is_zero() {
                        Err("must be more than 0".to_owned())
                    } else {
                        Ok(v)
                    }
                })
                .map(|v| self.misfire_threshold = Some(v)),
            "dispatch-lead" => to_text(&value)
                .and_then(|t| parse_duration(&t))
                .and_then(|v| {
                    if v > dkron_node::MAX_DISPATCH_LEAD {
                        Err(format!(
                            "must be at most {:?}",
                            dkron_node::MAX_DISPATCH_LEAD
                        ))
                    } else {
                        Ok(v)
                    }
                })
                .map(|v| self.dispatch_lead = Some(v)),
            "join" => to_peer_addrs(&value).map(|v| self.join = Some(v)),
            "retry-join" => to_peer_addrs(&value).map(|v| self.retry_join = Some(v)),
            "cors-origins" => to_origins(&value).map(|v| self.cors_origins = Some(v)),
            "retry-interval" => to_text(&value)
                .and_then(|t| parse_duration(&t))
                .and_then(|d| {
                    if d.is_zero() {
                        Err("must be more than 0".to_owned())
                    } else {
                        Ok(d)
                    }
                })
                .map(|v| self.retry_interval = Some(v)),
            "retry-max" => to_int(&value, 0, i64::from(u32::MAX))
                .map(|v| self.retry_max = u32::try_from(v).ok()),
            "encrypt" => to_text(&value)
                .and_then(|t| check_cluster_key(&t))
                .map(|v| self.encrypt = Some(v)),
            "bind-addr" => to_text(&value)
                .and_then(|t| parse_bind_addr(&t))
                .map(|v| self.bind_addr = Some(v)),
            "advertise-rpc-port" => to_int(&value, 1, i64::from(u16::MAX))
                .map(|v| self.advertise_rpc_port = u16::try_from(v).ok()),
            "max-connections" => {
                to_int(&value, 1, 1 << 20).map(|v| self.max_connections = usize::try_from(v).ok())
            }
            "http-header-timeout" => to_text(&value)
                .and_then(|t| parse_positive_duration(&t))
                .map(|v| self.http_header_timeout = Some(v)),
            "http-request-timeout" => to_text(&value)
                .and_then(|t| parse_positive_duration(&t))
                .map(|v| self.http_request_timeout = Some(v)),
            key if TLS_KEYS.contains(&key) => {
                let name = TLS_KEYS.iter().find(|k| **k == key).copied().unwrap_or("");
                to_text(&value)
                    .and_then(non_empty)
                    .map(|v| drop(self.tls_files.insert(name, PathBuf::from(v))))
            }
            key if bounds::KEYS.contains(&key) => self.bounds.set(key, &value),
            key if notify::KEYS.contains(&key) => self.notify.set(key, &value),
            "api-tokens" | "api-token" => {
                to_tokens(&value).map(|v| self.api_tokens.get_or_insert_default().extend(v))
            }
            "api-token-file" => to_text(&value)
                .and_then(non_empty)
                .and_then(|path| read_token_file(Path::new(&path)))
                .map(|v| self.api_token_file = Some(v)),
            "insecure-open-api" => to_bool(&value).map(|v| self.insecure_open_api = Some(v)),
            key if INERT_KEYS.contains(&key) => {
                self.warnings.push(format!(
                    "{origin}: {key} is not supported by dkron-rs yet and has no effect"
                ));
                Ok(())
            }
            _ => Err("unknown setting".to_owned()),
        };
        if let Err(reason) = result {
            self.problems.push(format!("{origin}: {reason}"));
        }
    }

    /// The settings of the `DKRON_*` variables among `vars`. Variables of no known key are
    /// ignored with a warning (the environment may hold other tools' `DKRON_` variables).
    pub fn from_env(vars: impl Iterator<Item = (String, String)>) -> RawConfig {
        let mut raw = RawConfig::default();
        for (name, text) in vars {
            let Some(key) = name.strip_prefix("DKRON_") else {
                continue;
            };
            let key = key.to_ascii_lowercase().replace('_', "-");
            if key == "config" {
                continue;
            }
            if !is_known_key(&key) {
                raw.warnings.push(format!(
                    "environment variable {name} is not a dkron setting and is ignored"
                ));
                continue;
            }
            let value = if matches!(
                key.as_str(),
                "tags" | "join" | "retry-join" | "cors-origins" | "api-tokens" | "api-token"
            ) || notify::LIST_KEYS.contains(&key.as_str())
            {
                Value::List(
                    text.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )
            } else {
                Value::Text(text)
            };
            raw.set(&key, value, &format!("environment variable {name}"));
        }
        raw
    }

    /// The settings of a config file's text; `format` is the file's extension (`yml`, `yaml`,
    /// `toml`, `json`).
    pub fn from_file_text(text: &str, format: &str, path: &str) -> RawConfig {
        let mut raw = RawConfig::default();
        let parsed: Result<serde_json::Value, String> = match format {
            "yml" | "yaml" => serde_norway::from_str(text).map_err(|e| e.to_string()),
            "toml" => toml::from_str(text).map_err(|e| e.to_string()),
            "json" => serde_json::from_str(text).map_err(|e| e.to_string()),
            other => Err(format!(
                "unknown config file format {other:?} (use .yml, .yaml, .toml or .json)"
            )),
        };
        let map = match parsed {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(serde_json::Value::Null) => return raw,
            Ok(_) => {
                raw.problems.push(format!(
                    "config file {path}: expected a map of settings at the top level"
                ));
                return raw;
            }
            Err(reason) => {
                raw.problems
                    .push(format!("config file {path}: {}", one_line(&reason)));
                return raw;
            }
        };
        for (key, value) in map {
            let origin = format!("config file {path} key {key}");
            match file_value(value) {
                Some(value) => raw.set(&key, value, &origin),
                None => raw
                    .problems
                    .push(format!("{origin}: unsupported value type")),
            }
        }
        raw
    }
}

impl Config {
    /// Layers `flags` over `env` over `file` over the defaults and validates the result.
    /// `hostname` gives the default node name.
    ///
    /// # Errors
    /// [`ConfigError`] with every problem of every source and of the combination.
    pub fn resolve(
        flags: RawConfig,
        env: RawConfig,
        file: RawConfig,
        hostname: &dyn Fn() -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let layers = [flags, env, file];
        let mut problems: Vec<String> = layers
            .iter()
            .flat_map(|l| l.problems.iter().cloned())
            .collect();
        let mut warnings: Vec<String> = layers
            .iter()
            .flat_map(|l| l.warnings.iter().cloned())
            .collect();
        // Why: the first layer that sets a key wins (flag > env > file).
        fn pick<T: Clone>(
            layers: &[RawConfig; 3],
            get: impl Fn(&RawConfig) -> &Option<T>,
        ) -> Option<T> {
            layers.iter().find_map(|l| get(l).clone())
        }
        let server = pick(&layers, |l| &l.server).unwrap_or(false);
        let bootstrap_expect = pick(&layers, |l| &l.bootstrap_expect).unwrap_or(0);
        let has_join = layers.iter().any(|l| {
            l.join.as_ref().is_some_and(|j| !j.is_empty())
                || l.retry_join.as_ref().is_some_and(|j| !j.is_empty())
        });
        if !server && !has_join {
            problems.push(
                "an agent (no --server) needs the servers to join: give --join or --retry-join with their RPC addresses".to_owned(),
            );
        }
        let bind_addr = pick(&layers, |l| &l.bind_addr);
        let rpc_port_setting = pick(&layers, |l| &l.rpc_port);
        let rpc_port = match (bind_addr.and_then(|(_, port)| port), rpc_port_setting) {
            (Some(bind_port), Some(rpc_port)) if bind_port != rpc_port => {
                warnings.push(format!(
                    "bind-addr has port {bind_port} and rpc-port is {rpc_port}: peer RPC listens on {bind_port} (the bind-addr port wins)"
                ));
                bind_port
            }
            (Some(bind_port), _) => bind_port,
            (None, rpc_port) => rpc_port.unwrap_or(DEFAULT_RPC_PORT),
        };
        let advertise_addr = pick(&layers, |l| &l.advertise_addr);
        if let Some((ip, _)) = bind_addr
            && ip.is_unspecified()
            && advertise_addr.is_none()
        {
            warnings.push(format!(
                "bind-addr {ip} listens on every interface but peers are told 127.0.0.1 without advertise-addr: set --advertise-addr to this server's address for other servers to reach it"
            ));
        }
        let retry_join = pick(&layers, |l| &l.retry_join);
        let mut join = pick(&layers, |l| &l.join).unwrap_or_default();
        join.extend(retry_join.iter().flatten().cloned());
        let access = resolve_access(&layers, &mut problems);
        let node_name = match pick(&layers, |l| &l.node_name).or_else(hostname) {
            Some(name) => name,
            None => {
                problems.push("node-name is not set and the host name cannot be read".to_owned());
                String::new()
            }
        };
        let http_addr = pick(&layers, |l| &l.http_addr)
            .or_else(|| parse_listen_addr(DEFAULT_HTTP_ADDR).ok())
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 8080)));
        let tls_file = |key: &str| layers.iter().find_map(|l| l.tls_files.get(key).cloned());
        let api_tls = tls_pair(&tls_file, "api", &mut problems);
        let rpc_tls = tls_pair(&tls_file, "rpc", &mut problems);
        let bounds = Bounds::resolve(&layers, &mut problems);
        let notify = notify::resolve(&layers, &mut problems, &mut warnings);
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Config {
            server,
            node_name,
            data_dir: pick(&layers, |l| &l.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http_addr,
            rpc_port,
            rpc_bind_ip: bind_addr.map(|(ip, _)| ip),
            advertise_rpc_port: pick(&layers, |l| &l.advertise_rpc_port),
            join,
            retry_join: retry_join.is_some_and(|addrs| !addrs.is_empty()),
            retry_interval: pick(&layers, |l| &l.retry_interval).unwrap_or(DEFAULT_RETRY_INTERVAL),
            retry_max: pick(&layers, |l| &l.retry_max).unwrap_or(0),
            cluster_key: pick(&layers, |l| &l.encrypt),
            advertise_addr,
            bootstrap_expect,
            raft_multiplier: pick(&layers, |l| &l.raft_multiplier).unwrap_or(1),
            tags: pick(&layers, |l| &l.tags).unwrap_or_default(),
            log_level: pick(&layers, |l| &l.log_level).unwrap_or(LogLevel::Info),
            log_format: pick(&layers, |l| &l.log_format).unwrap_or(LogFormat::Text),
            ui: pick(&layers, |l| &l.ui).unwrap_or(true),
            datacenter: pick(&layers, |l| &l.datacenter).unwrap_or_else(|| "dc1".to_owned()),
            region: pick(&layers, |l| &l.region).unwrap_or_else(|| "global".to_owned()),
            shutdown_timeout: pick(&layers, |l| &l.shutdown_timeout)
                .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
            failure_timeout: pick(&layers, |l| &l.failure_timeout)
                .unwrap_or(DEFAULT_FAILURE_TIMEOUT),
            misfire_threshold: pick(&layers, |l| &l.misfire_threshold)
                .unwrap_or(DEFAULT_MISFIRE_THRESHOLD),
            dispatch_lead: pick(&layers, |l| &l.dispatch_lead)
                .unwrap_or(dkron_node::DEFAULT_DISPATCH_LEAD),
            cors_origins: pick(&layers, |l| &l.cors_origins).unwrap_or_default(),
            max_connections: pick(&layers, |l| &l.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            http_header_timeout: pick(&layers, |l| &l.http_header_timeout)
                .unwrap_or(DEFAULT_HTTP_HEADER_TIMEOUT),
            http_request_timeout: pick(&layers, |l| &l.http_request_timeout)
                .unwrap_or(DEFAULT_HTTP_REQUEST_TIMEOUT),
            api_tls,
            rpc_tls,
            bounds,
            notify,
            access,
            warnings,
        })
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration: {}", self.problems.join("; "))
    }
}

impl std::error::Error for ConfigError {}

fn is_known_key(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "server",
        "bootstrap-expect",
        "node-name",
        "data-dir",
        "http-addr",
        "rpc-port",
        "advertise-addr",
        "tags",
        "tag",
        "log-level",
        "log-format",
        "ui",
        "datacenter",
        "region",
        "shutdown-timeout",
        "failure-timeout",
        "misfire-threshold",
        "dispatch-lead",
        "cors-origins",
        "join",
        "retry-join",
        "retry-interval",
        "retry-max",
        "encrypt",
        "bind-addr",
        "advertise-rpc-port",
        "max-connections",
        "http-header-timeout",
        "http-request-timeout",
        "raft-multiplier",
        "api-tokens",
        "api-token",
        "api-token-file",
        "insecure-open-api",
    ];
    KEYS.contains(&key)
        || TLS_KEYS.contains(&key)
        || bounds::KEYS.contains(&key)
        || notify::KEYS.contains(&key)
        || INERT_KEYS.contains(&key)
}

/// A file value as a [`Value`]; `None` for shapes no setting takes (nested maps of maps, …).
fn file_value(value: serde_json::Value) -> Option<Value> {
    Some(match value {
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Text(n.to_string()),
        },
        serde_json::Value::String(s) => Value::Text(s),
        serde_json::Value::Array(items) => {
            Value::List(items.into_iter().map(scalar_text).collect::<Option<_>>()?)
        }
        serde_json::Value::Object(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| Some((k, scalar_text(v)?)))
                .collect::<Option<_>>()?,
        ),
        serde_json::Value::Null => Value::Text(String::new()),
    })
}

fn scalar_text(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn to_text(value: &Value) -> Result<String, String> {
    match value {
        Value::Text(t) => Ok(t.trim().to_owned()),
        Value::Int(i) => Ok(i.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::List(items) if items.len() == 1 => Ok(items[0].trim().to_owned()),
        Value::List(_) | Value::Map(_) => Err("expected a single value".to_owned()),
    }
}

/// Go's `strconv.ParseBool`, as viper reads dkron's booleans.
fn to_bool(value: &Value) -> Result<bool, String> {
    if let Value::Bool(b) = value {
        return Ok(*b);
    }
    let text = to_text(value)?;
    match text.as_str() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{text:?} is not a boolean (true or false)")),
    }
}

fn to_int(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    let number = match value {
        Value::Int(i) => *i,
        other => {
            let text = to_text(other)?;
            text.parse::<i64>()
                .map_err(|_| format!("{text:?} is not a whole number"))?
        }
    };
    if (min..=max).contains(&number) {
        Ok(number)
    } else {
        Err(format!("{number} is out of range {min}..={max}"))
    }
}

fn to_tags(value: &Value) -> Result<BTreeMap<String, String>, String> {
    match value {
        Value::Map(map) => map
            .iter()
            .map(|(k, v)| check_tag(k.clone(), v.clone()))
            .collect(),
        Value::List(items) => items.iter().map(|item| parse_tag(item)).collect(),
        Value::Text(text) => text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(parse_tag)
            .collect(),
        Value::Int(_) | Value::Bool(_) => Err("expected tags as key=value".to_owned()),
    }
}

fn parse_tag(item: &str) -> Result<(String, String), String> {
    match item.trim().split_once('=') {
        Some((key, value)) => check_tag(key.trim().to_owned(), value.trim().to_owned()),
        None => Err(format!("tag {item:?} is not of the form key=value")),
    }
}

fn check_tag(key: String, value: String) -> Result<(String, String), String> {
    if key.is_empty() {
        return Err("a tag has an empty key".to_owned());
    }
    const RESERVED: &[&str] = &[
        "role", "dc", "region", "version", "rpc_addr", "port", "server",
    ];
    if RESERVED.contains(&key.as_str()) {
        return Err(format!("tag {key:?} is reserved (set by the node)"));
    }
    Ok((key, value))
}

fn non_empty(text: String) -> Result<String, String> {
    if text.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(text)
    }
}

fn check_node_name(name: String) -> Result<String, String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.len() > 255
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err(format!(
            "{name:?} is not a valid node name (at most 255 characters, no spaces, control characters or '/')"
        ));
    }
    Ok(name)
}

/// dkron's listen addresses: `:8080` (every interface), `host:port` with an IP or `localhost`.
fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!("{text:?} is not an address of the form [ip]:port (e.g. :8080 or 127.0.0.1:8080)")
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = match host {
        "" => std::net::IpAddr::from([0, 0, 0, 0]),
        "localhost" => std::net::IpAddr::from([127, 0, 0, 1]),
        other => other.parse().map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}

/// Peer RPC addresses, `host:port` each (a list, or one text with commas).
/// Web origins: `http://host[:port]` or `https://host[:port]`, nothing after.
fn to_origins(value: &Value) -> Result<Vec<String>, String> {
    let items: Vec<String> = match value {
        Value::List(items) => items.clone(),
        Value::Text(text) => text.split(',').map(str::to_owned).collect(),
        Value::Int(_) | Value::Bool(_) | Value::Map(_) => {
            return Err("expected web origins such as https://ui.example.com".to_owned());
        }
    };
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| {
            let authority = item
                .strip_prefix("https://")
                .or_else(|| item.strip_prefix("http://"));
            match authority {
                Some(rest) if !rest.is_empty() && !rest.contains('/') => Ok(item.to_owned()),
                _ => Err(format!(
                    "{item:?} is not a web origin (scheme://host[:port], e.g. https://ui.example.com)"
                )),
            }
        })
        .collect()
}

fn to_peer_addrs(value: &Value) -> Result<Vec<String>, String> {
    let items: Vec<String> = match value {
        Value::List(items) => items.clone(),
        Value::Text(text) => text.split(',').map(str::to_owned).collect(),
        Value::Int(_) | Value::Bool(_) | Value::Map(_) => {
            return Err("expected host:port addresses".to_owned());
        }
    };
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(check_peer_addr)
        .collect()
}

/// A peer RPC address: `host:port`, IPv6 in brackets. dkron's go-discover strings
/// (`provider=aws …`) and Serf addresses without a port are refused with the reason.
fn check_peer_addr(text: &str) -> Result<String, String> {
    if text.contains('=') || text.contains(' ') {
        return Err(format!(
            "{text:?} is not a host:port address (cloud auto-join strings are not supported: give the peer RPC address of a server)"
        ));
    }
    let bad = || {
        format!("{text:?} is not a host:port address of a server's peer RPC (e.g. 10.0.0.1:6868)")
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = port.parse::<u16>().is_ok_and(|port| port != 0);
    // Why brackets for IPv6: the address becomes a URL authority (`http://[::1]:6868`).
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && !host.contains(':'),
    };
    if port_ok && host_ok {
        Ok(text.to_owned())
    } else {
        Err(bad())
    }
}

/// dkron's `bind-addr`: an IP with an optional port (`0.0.0.0`, `10.0.0.5:6868`, `[::]:6868`);
/// an empty host (`:6868`) means every interface.
fn parse_bind_addr(text: &str) -> Result<(IpAddr, Option<u16>), String> {
    let bad = || {
        format!(
            "{text:?} is not an IP address with an optional port (e.g. 0.0.0.0 or 10.0.0.5:6868)"
        )
    };
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok((ip, None));
    }
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.is_empty() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        host.parse().map_err(|_| bad())?
    };
    Ok((ip, Some(port)))
}

/// The cluster key (`encrypt`): base64 (standard alphabet) of 16, 24 or 32 bytes, the format of
/// dkron's gossip key and of `dkrond keygen`. Messages never repeat the key.
pub fn check_cluster_key(text: &str) -> Result<String, String> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| "the key is not base64: create one with `dkrond keygen`".to_owned())?;
    match decoded.len() {
        16 | 24 | 32 => Ok(text.to_owned()),
        other => Err(format!(
            "the key decodes to {other} bytes, expected 16, 24 or 32: create one with `dkrond keygen`"
        )),
    }
}

/// `host` of `host:port` (IPv6 in brackets); the text itself when it has no port.
fn split_host(text: &str) -> String {
    if let Some(rest) = text.strip_prefix('[') {
        return rest
            .split_once(']')
            .map_or(text, |(host, _)| host)
            .to_owned();
    }
    match text.split_once(':') {
        Some((host, port)) if !port.contains(':') && port.parse::<u16>().is_ok() => host.to_owned(),
        _ => text.to_owned(),
    }
}

fn parse_log_level(text: &str) -> Result<LogLevel, String> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(LogLevel::Trace),
        "debug" => Ok(LogLevel::Debug),
        "info" => Ok(LogLevel::Info),
        "warn" | "warning" => Ok(LogLevel::Warn),
        "error" | "fatal" | "panic" => Ok(LogLevel::Error),
        _ => Err(format!(
            "{text:?} is not a log level (debug, info, warn, error)"
        )),
    }
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("{text:?} is not a log format (text or json)")),
    }
}

/// A Go-style duration: one or more `<number><unit>` with unit `ms`, `s`, `m` or `h` (e.g.
/// `30s`, `2m`, `1m30s`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 500ms, 30s, 2m or 1h");
    let mut rest = text;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, after) = rest.split_at(split);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let millis = match unit {
            "ms" => Some(number),
            "s" => number.checked_mul(1_000),
            "m" => number.checked_mul(60_000),
            "h" => number.checked_mul(3_600_000),
            _ => None,
        };
        total = millis
            .and_then(|millis| total.checked_add(millis))
            .ok_or_else(bad)?;
        rest = next;
    }
    Ok(Duration::from_millis(total))
}

/// A duration of more than 0.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        Err("must be more than 0".to_owned())
    } else {
        Ok(duration)
    }
}

/// The TLS files of `listener` (`api` or `rpc`): cert and key together (and the CA for RPC,
/// which verifies peers), or none. Files are read at start, where a bad one is reported.
fn tls_pair(
    file: &dyn Fn(&str) -> Option<PathBuf>,
    listener: &str,
    problems: &mut Vec<String>,
) -> Option<dkron_node::TlsFiles> {
    let cert = file(&format!("{listener}-tls-cert"));
    let key = file(&format!("{listener}-tls-key"));
    let ca = file(&format!("{listener}-tls-ca"));
    let needs_ca = listener == "rpc";
    match (cert, key) {
        (Some(cert), Some(key)) if ca.is_some() || !needs_ca => {
            Some(dkron_node::TlsFiles { cert, key, ca })
        }
        (None, None) if ca.is_none() => None,
        _ => {
            let all = if needs_ca {
                "rpc-tls-cert, rpc-tls-key and rpc-tls-ca"
            } else {
                "api-tls-cert and api-tls-key"
            };
            problems.push(format!("{all} go together: give all of them or none"));
            None
        }
    }
}

/// The first line of a parser's message (YAML and TOML errors span several lines).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
