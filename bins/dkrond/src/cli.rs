//! The command line: `dkrond agent|leave|raft|version|keygen`. The agent's flags are parsed by
//! clap into text that [`crate::config::RawConfig`] types and checks, so flags, environment
//! variables and the config file share one set of parsers and messages. `leave` and `raft …`
//! talk to a running server's peer RPC ([`ControlArgs`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{RawConfig, Value};

mod bounds;
mod notify;

pub use bounds::BoundsArgs;
pub use notify::NotifyArgs;

/// dkrond: a distributed, fault-tolerant job scheduler speaking dkron's REST API.
#[derive(Debug, Parser)]
#[command(name = "dkrond", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `dkrond` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a node (a server: it stores jobs, schedules them while leader, and runs them).
    Agent(Box<AgentArgs>),
    /// Print the version.
    Version,
    /// Print a new random 16-byte key, base64-encoded (dkron's key format), for --encrypt.
    Keygen,
    /// Ask a server to leave the cluster gracefully: the leader removes it from the Raft
    /// members.
    Leave(ControlArgs),
    /// Raft peers of a running cluster.
    Raft(RaftArgs),
}

/// How to reach a running server's peer RPC.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub struct ControlArgs {
    /// Peer RPC address of the server to ask, `host:port`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6868")]
    pub rpc_addr: String,
    /// The cluster key (also read from DKRON_ENCRYPT) [default: the key file in --data-dir].
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// Data dir of a server on this machine, whose stored cluster key (cluster.key) is used
    /// when --encrypt is not given [default: dkron.data, when it holds a key].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// CA certificate (PEM) of the servers' RPC certificates, when peer RPC uses TLS.
    #[arg(long, value_name = "FILE")]
    pub rpc_tls_ca: Option<PathBuf>,
}

/// `dkrond raft`.
#[derive(Debug, Args)]
pub struct RaftArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: RaftCommand,
}

/// `dkrond raft` subcommands.
#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum RaftCommand {
    /// List the Raft members as a server knows them: Node, ID, Address, State, Voter.
    ListPeers(ControlArgs),
    /// Remove a member from the Raft group (a dead server that will not come back).
    RemovePeer {
        /// The member to remove: its node name or its numeric Raft ID.
        #[arg(long, value_name = "NAME_OR_ID")]
        peer_id: String,
        /// Where to send it.
        #[command(flatten)]
        control: ControlArgs,
    },
}

/// Flags of `dkrond agent`. Every setting can also come from `DKRON_<KEY>` (e.g.
/// `DKRON_HTTP_ADDR`) or the config file; flags win over the environment, which wins over the
/// file.
#[derive(Debug, Clone, Args, Default)]
pub struct AgentArgs {
    /// Config file (.yml, .yaml, .toml or .json) with dkron's key names [env: DKRON_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run as a server (Raft, store, scheduler, HTTP API); without it the node is an agent that
    /// runs what the leader sends it and needs --join.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub server: Option<String>,
    /// Servers expected before bootstrapping the cluster (1 for a single node).
    #[arg(long, value_name = "N")]
    pub bootstrap_expect: Option<String>,
    /// Multiplies Raft's heartbeat and election timeouts, 1-10: larger rides out longer stalls
    /// of a busy machine without an election, but replaces a crashed leader later
    /// [default: 1].
    #[arg(long, value_name = "N")]
    pub raft_multiplier: Option<String>,
    /// Node name, unique in the cluster [default: host name].
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Directory of the store, Raft log and snapshots [default: dkron.data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Address of the HTTP API, `[ip]:port` [default: :8080].
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<String>,
    /// Port of the peer RPC listener [default: 6868].
    #[arg(long, value_name = "PORT")]
    pub rpc_port: Option<String>,
    /// Port peers are told to use for peer RPC, when it differs from --rpc-port (NAT).
    #[arg(long, value_name = "PORT")]
    pub advertise_rpc_port: Option<String>,
    /// Host other nodes and clients should use to reach this one.
    #[arg(long, value_name = "HOST")]
    pub advertise_addr: Option<String>,
    /// A tag of this node, key=value (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Log level: debug, info, warn, error [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Serve the web UI at /ui/ (and send browsers asking for / there) [default: true].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub ui: Option<String>,
    /// Datacenter of this node [default: dc1].
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
    /// Region of this node [default: global].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// How long a stop waits for running executions before cancelling them [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub shutdown_timeout: Option<String>,
    /// A node silent this long is failed and its running executions are closed as failed
    /// (servers: the leader's deadline for heartbeats; every node: its lease, so a node no
    /// leader heard from this long cancels its runs and takes none until it is heard again;
    /// give every node the same value) [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub failure_timeout: Option<String>,
    /// A timer fire that cannot be launched within this of its scheduled instant is skipped
    /// (misfire_policy skip) or coalesced into the job's next due fire (run_once); catch_up
    /// uses its own window. Keeps the queue bounded past capacity [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub misfire_threshold: Option<String>,
    /// How long before its instant the leader records a timer fire of a job that allows
    /// overlapping runs (concurrency allow) and hands it over; the node that runs it starts it
    /// on its instant, so the commit and the hand-over are not part of its lateness. An edit
    /// made within this of a fire applies from the next fire. 0s: fires are handed over when
    /// due. At most 5s [default: 500ms].
    #[arg(long, value_name = "DURATION")]
    pub dispatch_lead: Option<String>,
    /// Peer RPC address (`host:port`) of a server to join (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub join: Vec<String>,
    /// As --join, retried every --retry-interval until it works (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub retry_join: Vec<String>,
    /// A web origin (`https://host[:port]`) allowed to write to the API besides its own
    /// (repeatable); writes from other origins are refused, and only these origins get CORS
    /// grants.
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Pause between join attempts, e.g. 30s [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub retry_interval: Option<String>,
    /// Most join attempts; 0 = forever [default: 0].
    #[arg(long, value_name = "N")]
    pub retry_max: Option<String>,
    /// Cluster key peers present to each other: base64 of 16, 24 or 32 bytes (`dkrond keygen`).
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// IP (and optional port) peer RPC listens on, e.g. 0.0.0.0 [default: loopback].
    #[arg(long, value_name = "IP[:PORT]")]
    pub bind_addr: Option<String>,
    /// Connections served at once on each listener (HTTP API, peer RPC); more wait in the
    /// kernel's backlog [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<String>,
    /// A connection that sends no complete request head within this is closed; also the
    /// keep-alive idle timeout and the TLS handshake bound [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub http_header_timeout: Option<String>,
    /// A request not answered within this gets a 503; peer RPC allows at least 5m
    /// [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub http_request_timeout: Option<String>,
    /// Certificate chain (PEM) of the HTTP API: serve HTTPS (with --api-tls-key).
    #[arg(long, value_name = "FILE")]
    pub api_tls_cert: Option<String>,
    /// Private key (PEM) of --api-tls-cert.
    #[arg(long, value_name = "FILE")]
    pub api_tls_key: Option<String>,
    /// Certificate chain (PEM) of peer RPC: serve and call peers over TLS (with --rpc-tls-key
    /// and --rpc-tls-ca; every node of the cluster must use TLS).
    #[arg(long, value_name = "FILE")]
    pub rpc_tls_cert: Option<String>,
    /// Private key (PEM) of --rpc-tls-cert.
    #[arg(long, value_name = "FILE")]
    pub rpc_tls_key: Option<String>,
    /// CA certificates (PEM) peers' RPC certificates are verified against.
    #[arg(long, value_name = "FILE")]
    pub rpc_tls_ca: Option<String>,
    /// Ceilings, request sizes, execution slots.
    #[command(flatten)]
    pub bounds: BoundsArgs,
    /// Notifications (dkron's settings).
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// A bearer token of the HTTP API (repeatable): `read:SECRET` (GET and HEAD only),
    /// `write:SECRET` or `SECRET` (everything); at least 16 characters (`dkrond keygen` makes
    /// one). With any token, every request but /health needs one, from loopback too. Prefer
    /// --api-token-file or DKRON_API_TOKEN: other users can see command lines.
    #[arg(long = "api-token", value_name = "[ROLE:]SECRET")]
    pub api_tokens: Vec<String>,
    /// File of API tokens, one per line as --api-token, `#` comments allowed; it must be its
    /// owner's only (chmod 600).
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<String>,
    /// Serve the HTTP API to every address without a token, turning protected mode off
    /// (without tokens only loopback clients are served). Anyone who reaches the API can run
    /// commands on this machine.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub insecure_open_api: Option<String>,
}

impl AgentArgs {
    /// The settings given as flags.
    pub fn to_raw(&self) -> RawConfig {
        let mut raw = RawConfig::default();
        let texts = [
            ("server", &self.server),
            ("bootstrap-expect", &self.bootstrap_expect),
            ("raft-multiplier", &self.raft_multiplier),
            ("node-name", &self.node_name),
            ("data-dir", &self.data_dir),
            ("http-addr", &self.http_addr),
            ("rpc-port", &self.rpc_port),
            ("advertise-rpc-port", &self.advertise_rpc_port),
            ("retry-interval", &self.retry_interval),
            ("retry-max", &self.retry_max),
            ("advertise-addr", &self.advertise_addr),
            ("log-level", &self.log_level),
            ("log-format", &self.log_format),
            ("ui", &self.ui),
            ("datacenter", &self.datacenter),
            ("region", &self.region),
            ("shutdown-timeout", &self.shutdown_timeout),
            ("failure-timeout", &self.failure_timeout),
            ("misfire-threshold", &self.misfire_threshold),
            ("dispatch-lead", &self.dispatch_lead),
            ("encrypt", &self.encrypt),
            ("bind-addr", &self.bind_addr),
            ("max-connections", &self.max_connections),
            ("http-header-timeout", &self.http_header_timeout),
            ("http-request-timeout", &self.http_request_timeout),
            ("api-tls-cert", &self.api_tls_cert),
            ("api-tls-key", &self.api_tls_key),
            ("rpc-tls-cert", &self.rpc_tls_cert),
            ("rpc-tls-key", &self.rpc_tls_key),
            ("rpc-tls-ca", &self.rpc_tls_ca),
            ("api-token-file", &self.api_token_file),
            ("insecure-open-api", &self.insecure_open_api),
        ];
        for (key, value) in texts {
            if let Some(text) = value {
                raw.set(key, Value::Text(text.clone()), &format!("flag --{key}"));
            }
        }
        let lists = [
            ("tags", "tag", &self.tags),
            ("join", "join", &self.join),
            ("retry-join", "retry-join", &self.retry_join),
            ("cors-origins", "cors-origins", &self.cors_origins),
            ("api-tokens", "api-token", &self.api_tokens),
        ];
        for (key, flag, values) in lists {
            if !values.is_empty() {
                raw.set(key, Value::List(values.clone()), &format!("flag --{flag}"));
            }
        }
        self.bounds.add_to(&mut raw);
        self.notify.add_to(&mut raw);
        raw
    }
}
