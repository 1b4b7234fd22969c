//! dkrond's settings in two stages, as ripgrep's low and high arguments: [`RawConfig`] holds
//! what one source said (command-line flags, `DKRON_*` environment variables, a config file),
//! every value optional and already typed; [`Config::resolve`] layers the sources with dkron's
//! precedence (flag > env > file > default), validates the whole, and returns either a complete
//! [`Config`] or every problem at once ([`ConfigError`]).
//!
//! Keys are dkron's names (`http-addr`, `bootstrap-expect`, `tags`, …; `reference/dkron.md`
//! §6.1-6.2). Environment variables are `DKRON_` plus the key upper-cased with `-` as `_`
//! (`DKRON_HTTP_ADDR`). Cluster settings (`join`, `retry-join`, `encrypt`, …) are refused with a
//! clear message until the cluster work lands, never silently ignored; dkron settings for
//! features dkron-rs does not have yet (notifications, statsd, …) are accepted with a warning.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

#[cfg(test)]
mod tests;

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
    /// This node's name (default: the host name).
    pub node_name: String,
    /// Where the store, Raft log and snapshots live (default `dkron.data`).
    pub data_dir: PathBuf,
    /// Address the HTTP API listens on (default `0.0.0.0:8080`, dkron's `:8080`).
    pub http_addr: SocketAddr,
    /// Port of the peer RPC listener (default 6868; 0 = any), bound on loopback for now.
    pub rpc_port: u16,
    /// Host peers and clients are told to use; `None` = the bound address (loopback when it is
    /// unspecified).
    pub advertise_addr: Option<String>,
    /// `bootstrap-expect` (0 or 1 for now).
    pub bootstrap_expect: u32,
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

/// Settings that belong to multi-node clusters: refused until that work lands.
const CLUSTER_KEYS: &[&str] = &[
    "join",
    "retry-join",
    "retry-max",
    "retry-interval",
    "encrypt",
    "bind-addr",
    "advertise-rpc-port",
    "raft-multiplier",
    "profile",
    "serf-reconnect-timeout",
];

/// dkron settings for features dkron-rs does not have yet: accepted with a warning, so an
/// existing dkron config file starts.
const INERT_KEYS: &[&str] = &[
    "mail-host",
    "mail-port",
    "mail-username",
    "mail-password",
    "mail-from",
    "mail-payload",
    "mail-subject-prefix",
    "pre-webhook-endpoint",
    "pre-webhook-payload",
    "pre-webhook-headers",
    "webhook-endpoint",
    "webhook-payload",
    "webhook-headers",
    "webhook-url",
    "cronitor-endpoint",
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
            key if CLUSTER_KEYS.contains(&key) => Err(format!(
                "multi-node clusters are not supported yet (single server with bootstrap-expect 1 only), so {key} cannot be used"
            )),
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
            let value = if key == "tags" || key == "join" || key == "retry-join" {
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
        let warnings: Vec<String> = layers
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
        if !server {
            problems.push(
                "agent-only nodes are not supported yet: run a server with --server --bootstrap-expect 1".to_owned(),
            );
        }
        if bootstrap_expect > 1 {
            problems.push(format!(
                "bootstrap-expect {bootstrap_expect}: multi-node clusters are not supported yet (use 1)"
            ));
        }
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
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Config {
            node_name,
            data_dir: pick(&layers, |l| &l.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http_addr,
            rpc_port: pick(&layers, |l| &l.rpc_port).unwrap_or(DEFAULT_RPC_PORT),
            advertise_addr: pick(&layers, |l| &l.advertise_addr),
            bootstrap_expect,
            tags: pick(&layers, |l| &l.tags).unwrap_or_default(),
            log_level: pick(&layers, |l| &l.log_level).unwrap_or(LogLevel::Info),
            log_format: pick(&layers, |l| &l.log_format).unwrap_or(LogFormat::Text),
            ui: pick(&layers, |l| &l.ui).unwrap_or(true),
            datacenter: pick(&layers, |l| &l.datacenter).unwrap_or_else(|| "dc1".to_owned()),
            region: pick(&layers, |l| &l.region).unwrap_or_else(|| "global".to_owned()),
            shutdown_timeout: pick(&layers, |l| &l.shutdown_timeout)
                .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
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
    ];
    KEYS.contains(&key) || CLUSTER_KEYS.contains(&key) || INERT_KEYS.contains(&key)
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

/// A duration as `<number><unit>` with unit `ms`, `s`, `m` or `h` (e.g. `30s`, `2m`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration such as 500ms, 30s, 2m or 1h");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let millis = match unit {
        "ms" => Some(number),
        "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        _ => None,
    };
    millis.map(Duration::from_millis).ok_or_else(bad)
}

/// The first line of a parser's message (YAML and TOML errors span several lines).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
