//! [`NodeConfig`]: everything a node needs, already validated by its caller (dkrond).

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use dkron_api::ApiOptions;
use dkron_model::{Ceilings, Limits};

use crate::ExecutionSlots;

use crate::{ServeOptions, tls::TlsFiles};

/// Name of the file, in the data dir, where a started node writes the addresses it listens on
/// (JSON `{"http": "ip:port", "rpc": "ip:port"}`). Written once the node serves requests, so
/// its appearance also means "ready".
pub const PORTS_FILE: &str = "dkrond.ports.json";

/// How a node runs. Plain data; [`NodeConfig::new`] gives the defaults for the optional parts.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Node name, unique in the cluster.
    pub name: String,
    /// Store (with the replicated pause flag), Raft log, snapshots and ports file live here.
    pub data_dir: PathBuf,
    /// Host advertised to peers and clients; `None` = the bound IP (loopback when unspecified).
    pub advertise_host: Option<String>,
    /// dkron's `bootstrap-expect`: 1 initializes a single-server cluster on a fresh data dir;
    /// N > 1 waits for N servers (this one and those of `join`) and forms the cluster with
    /// them; 0 requires existing Raft state or `join`.
    pub bootstrap_expect: u32,
    /// RPC addresses (`host:port`) of servers to contact to form or join the cluster.
    pub join: Vec<String>,
    /// dkron's `raft-multiplier` (1..=10): scales Raft's heartbeat and election timeouts
    /// ([`dkron_raft::RaftConfig::scale_timings`]).
    pub raft_multiplier: u32,
    /// Keep trying to join (dkron's `retry-join`) every `retry_interval`, `retry_max` times.
    pub retry_join: bool,
    /// Pause between two join attempts.
    pub retry_interval: Duration,
    /// Join attempts before giving up (0: no limit).
    pub retry_max: u32,
    /// The cluster key (`--encrypt`): peers must present it on every RPC. `None`: the one
    /// stored in the data dir, or a new one for a single server (see [`crate::CLUSTER_KEY_FILE`]).
    pub cluster_key: Option<String>,
    /// Connection limit and timeouts of the HTTP API; the RPC port uses
    /// [`ServeOptions::for_rpc`] of them.
    pub serve: ServeOptions,
    /// TLS of the HTTP API; `None`: plain HTTP.
    pub api_tls: Option<TlsFiles>,
    /// TLS of peer RPC, served and used to call peers (verified against its CA); `None`: plain
    /// HTTP. Every node of a cluster must agree.
    pub rpc_tls: Option<TlsFiles>,
    /// User tags.
    pub tags: BTreeMap<String, String>,
    /// Datacenter (`dc` tag).
    pub datacenter: String,
    /// Region.
    pub region: String,
    /// Per-job history and output limits for jobs that set none.
    pub limits: Limits,
    /// Largest values a written job may hold (checked at write time: 400 above).
    pub ceilings: Ceilings,
    /// Executions run at once on this node, and what happens to the rest.
    pub execution_slots: ExecutionSlots,
    /// Executions' output streams this node serves at once (API and UI clients, and relays
    /// to the servers that follow an execution running here); more are refused (503).
    pub max_output_streams: usize,
    /// REST API settings (body limits, UI redirect).
    pub api: ApiOptions,
    /// How long a stop (or a lost leadership) waits for running executions before cancelling.
    pub shutdown_timeout: Duration,
    /// How long start waits for a leader after bootstrapping.
    pub leader_timeout: Duration,
    /// The version this node reports (`/v1`, member tags): the binary's.
    pub version: String,
    /// Port advertised for peer RPC when it differs from the bound one (NAT, port mapping);
    /// `None` = the bound port.
    pub advertise_rpc_port: Option<u16>,
    /// Whether this node is a server (Raft, store, scheduler) or an agent (runs what the
    /// leader sends it; no Raft, no store).
    pub server: bool,
    /// How often every node tells the leader it is alive.
    pub heartbeat_interval: Duration,
    /// A node whose heartbeats stop for this long is failed, and its running executions are
    /// closed as failed.
    pub failure_timeout: Duration,
    /// dkron's notification settings (the leader sends); `reporting_node` is set to `name`
    /// at start. The default sends nothing.
    pub notify: dkron_notify::Settings,
    /// The leader's scheduler drops a timer fire it cannot launch within this of its scheduled
    /// instant, as the job's `misfire_policy` says (see
    /// [`dkron_scheduler::SchedulerBuilder::misfire_threshold`]).
    pub misfire_threshold: Duration,
    /// The leader takes a timer fire of a job that allows overlapping runs this long before
    /// it is due, records it and hands it over then, and the target starts it on its instant
    /// (see [`dkron_scheduler::SchedulerBuilder::lead`]); zero takes fires when due.
    pub dispatch_lead: Duration,
}

/// Default `dispatch-lead`: longer than a busy leader's launch commit and hand-over take at
/// a thousand fires a second on two cores (docs/benchmarks.md), short enough that an edit made
/// just before a fire applies from the next one.
pub const DEFAULT_DISPATCH_LEAD: Duration = Duration::from_millis(500);

/// The largest `dispatch-lead`, below what a node waits for a run's start at most.
pub const MAX_DISPATCH_LEAD: Duration = Duration::from_secs(5);

impl NodeConfig {
    /// A node named `name` keeping its data in `data_dir`, with bootstrap-expect 1, dkron's
    /// limits and region names, 64 output streams, a 30 s shutdown timeout, nothing to join (retried every 30 s
    /// without limit when asked to), no cluster key given, [`ServeOptions::API`] bounds and
    /// no TLS.
    pub fn new(name: impl Into<String>, data_dir: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            name: name.into(),
            data_dir: data_dir.into(),
            advertise_host: None,
            bootstrap_expect: 1,
            join: Vec::new(),
            raft_multiplier: 1,
            retry_join: false,
            retry_interval: Duration::from_secs(30),
            retry_max: 0,
            cluster_key: None,
            serve: ServeOptions::API,
            api_tls: None,
            rpc_tls: None,
            tags: BTreeMap::new(),
            datacenter: "dc1".to_owned(),
            region: "global".to_owned(),
            limits: Limits::DKRON,
            ceilings: Ceilings::DEFAULT,
            execution_slots: ExecutionSlots::DEFAULT,
            max_output_streams: crate::DEFAULT_MAX_OUTPUT_STREAMS,
            api: ApiOptions::default(),
            shutdown_timeout: Duration::from_secs(30),
            leader_timeout: Duration::from_secs(10),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            advertise_rpc_port: None,
            server: true,
            heartbeat_interval: Duration::from_secs(1),
            failure_timeout: Duration::from_secs(5),
            notify: dkron_notify::Settings::default(),
            misfire_threshold: dkron_scheduler::DEFAULT_MISFIRE_THRESHOLD,
            dispatch_lead: crate::DEFAULT_DISPATCH_LEAD,
        }
    }
}
