//! [`Node`]: start (store, Raft, bootstrap, leadership task, HTTP and RPC servers), run, and the
//! ordered, bounded shutdown.

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use dkron_model::{Member, MemberStatus};
use dkron_raft::{ClusterKey, RaftConfig, RaftNode};
use dkron_store::Store;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use tokio::sync::watch;

use crate::{
    Error, NodeConfig, PORTS_FILE,
    api::NodeCluster,
    handles::Handles,
    leader::{self, Leader, Liveness},
    live::OutputStreams,
    membership::{self, Heartbeats},
    metrics,
    report::RaftReport,
    rpc::{self, RpcSlot, RpcState, ServerSide, client::NodeClient},
    runner::Runner,
};

/// How long a stop waits for notifications in flight.
const NOTIFY_STOP: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests;

/// Changes a running node's tags: the next heartbeat carries them and the leader records the
/// change, so targeting follows it.
#[derive(Debug, Clone)]
pub struct Tags(pub(crate) Arc<watch::Sender<Member>>);

impl Tags {
    /// Replaces the node's user tags.
    pub fn set(&self, tags: std::collections::BTreeMap<String, String>) {
        self.0.send_modify(|member| member.tags = tags);
    }
}

/// The addresses a started node listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// The HTTP API.
    pub http: SocketAddr,
    /// Peer RPC (Raft).
    pub rpc: SocketAddr,
}

/// A running server node. Stop it with [`Node::shutdown`] (or [`Node::run`]).
#[derive(Debug)]
pub struct Node {
    handles: Arc<Handles>,
    runner: Arc<Runner>,
    ports: Ports,
    /// Stops the HTTP server (graceful) and the leadership task.
    stop: CancellationToken,
    http_task: JoinHandle<std::io::Result<()>>,
    /// Stops the RPC server (graceful) once Raft is down.
    rpc_stop: CancellationToken,
    rpc_task: JoinHandle<std::io::Result<()>>,
    leader_task: JoinHandle<()>,
    /// Records this server as a member, then closes its executions a crash interrupted.
    register_task: JoinHandle<()>,
    /// Tells the leader this server is alive, every heartbeat interval.
    heartbeat_task: JoinHandle<()>,
    /// This server as a member (its tags change on a reload).
    member: Arc<watch::Sender<Member>>,
    /// Notifications; stopped after the leadership task and the runner, with a bound for the
    /// deliveries in flight.
    notifier: dkron_notify::Notifier,
}

impl Node {
    /// Starts a node on the bound `http` and `rpc` listeners: opens the store in the data dir,
    /// starts Raft, bootstraps a single-server cluster on a fresh data dir (bootstrap-expect 1),
    /// waits for a leader, starts the leadership task (scheduler on the leader) and both
    /// servers, then writes the ports file.
    ///
    /// # Errors
    /// [`Error::DataDirVersion`], [`Error::Store`], [`Error::Raft`],
    /// [`Error::NothingToBootstrap`], [`Error::NoClusterKey`], [`Error::Tls`], [`Error::Io`],
    /// [`Error::Metrics`].
    pub async fn start(
        mut config: NodeConfig,
        http: TcpListener,
        rpc: TcpListener,
    ) -> Result<Node, Error> {
        let io = |context: String| move |source| Error::Io { context, source };
        let http_addr = http
            .local_addr()
            .map_err(io("reading the HTTP listener's address".to_owned()))?;
        let rpc_addr = rpc
            .local_addr()
            .map_err(io("reading the RPC listener's address".to_owned()))?;
        let ports = Ports {
            http: http_addr,
            rpc: rpc_addr,
        };
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .map_err(io(format!("cannot create data dir {}", data_dir.display())))?;
        // Certificates are checked before anything starts: a bad path is a start-up error.
        let api_acceptor = config
            .api_tls
            .as_ref()
            .map(crate::tls::acceptor)
            .transpose()?;
        let (rpc_acceptor, rpc_client_tls) = crate::tls::rpc(config.rpc_tls.as_ref())?;
        let metrics = metrics::handle()?;
        // Before anything can run a job: process groups a crash of this node left running.
        let ledger = crate::runner::ledger_path(&data_dir);
        let orphans = crate::runner::kill_orphans(&ledger);
        let booted_at = jiff::Timestamp::now();
        if orphans > 0 {
            tracing::warn!(
                orphans,
                "killed the process groups of executions cut off by a crash"
            );
        }

        let store = open_store(&data_dir, &config)?;
        // Checked before Raft starts, so a refused start leaves no Raft thread behind.
        if config.bootstrap_expect == 0
            && config.join.is_empty()
            && !has_raft_state(&store, &data_dir)?
        {
            return Err(Error::NothingToBootstrap { path: data_dir });
        }
        // After the store opened (a data dir of another version is refused untouched) and
        // before Raft starts: no RPC is served without a key.
        config.cluster_key = Some(crate::key::resolve(&config)?);
        let advertise = |addr: SocketAddr| advertised(config.advertise_host.as_deref(), addr);
        // Peers reach the RPC port at the advertised port when one is set (NAT, port maps).
        let advertised_rpc = SocketAddr::new(
            rpc_addr.ip(),
            config.advertise_rpc_port.unwrap_or(rpc_addr.port()),
        );
        let (feed, applied) = tokio::sync::mpsc::unbounded_channel();
        let mut raft_config = RaftConfig::new(
            &config.name,
            &advertise(advertised_rpc),
            &advertise(http_addr),
        );
        raft_config.scale_timings(config.raft_multiplier)?;
        raft_config.applied_feed = Some(feed);
        raft_config.cluster_key = config.cluster_key.as_deref().map(ClusterKey::new);
        raft_config.tls = rpc_client_tls.clone();
        let raft = RaftNode::start(raft_config, store.clone(), &data_dir.join("snapshots")).await?;
        // Raft's routes serve at once (forming the cluster needs them); the node routes answer
        // once the rest of the server exists.
        let rpc_slot = Arc::new(RpcSlot::default());
        let rpc_router = raft.router().merge(rpc::router(Arc::clone(&rpc_slot)));
        let rpc_stop = CancellationToken::new();
        let rpc_task = tokio::spawn(crate::serve(
            rpc,
            rpc_router,
            config.serve.for_rpc(),
            rpc_acceptor,
            rpc_stop.clone().cancelled_owned(),
        ));

        let restarted = raft.is_initialized().await?;
        membership::form(&raft, &config).await?;
        let raft_id = raft.id();

        let member = Member {
            name: config.name.clone(),
            addr: config
                .advertise_host
                .clone()
                .unwrap_or_else(|| advertised_ip(http_addr)),
            port: advertised_rpc.port(),
            rpc_addr: advertise(advertised_rpc),
            tags: config.tags.clone(),
            status: MemberStatus::Alive,
            server: true,
            region: config.region.clone(),
            datacenter: config.datacenter.clone(),
            version: config.version.clone(),
        };
        let handles = Arc::new(Handles {
            store,
            raft,
            metrics,
            member,
            leave: CancellationToken::new(),
            peers: dkron_raft::Network::with_tls(
                raft_id,
                config.cluster_key.as_deref().map(ClusterKey::new),
                rpc_client_tls.clone(),
            ),
            config,
        });
        let notifier = {
            let mut settings = handles.config.notify.clone();
            settings.reporting_node = handles.name().to_owned();
            let lookup = crate::notify::StoreLookup {
                handles: Arc::clone(&handles),
            };
            dkron_notify::Notifier::start(settings, Arc::new(lookup))
                .map_err(|reason| Error::Notify { reason })?
        };
        let report = Arc::new(RaftReport::new(Arc::clone(&handles), notifier.clone()));
        let lease = Arc::new(crate::runner::Lease::new(
            handles.config.failure_timeout,
            tokio::time::Instant::now(),
            restarted,
        ));
        let runner = Arc::new(
            Runner::new(handles.name(), handles.config.limits, report)
                .with_lease(Arc::clone(&lease))
                .with_ledger(ledger)
                .with_slots(handles.config.execution_slots),
        );
        let leader = Leader::new();
        let register_task = {
            let (handles, runner) = (Arc::clone(&handles), Arc::clone(&runner));
            let hand_overs = Arc::clone(&leader.hand_overs);
            tokio::spawn(async move {
                if restarted {
                    membership::rejoin(&handles).await;
                }
                membership::register(&handles).await;
                let scope = leader::Scope::Own { booted_at };
                leader::close_interrupted(&handles, &runner, &hand_overs, scope).await;
            })
        };

        let client = NodeClient::new(handles.config.cluster_key.as_deref(), rpc_client_tls);
        let liveness = Arc::new(Liveness::new(handles.config.failure_timeout));
        // Output streams end when the node stops, before HTTP waits for requests in flight.
        let stop = CancellationToken::new();
        let streams = OutputStreams::new(handles.config.max_output_streams, stop.clone());
        rpc_slot.set(RpcState {
            runner: Arc::clone(&runner),
            server: Some(ServerSide {
                handles: Arc::clone(&handles),
                liveness: Arc::clone(&liveness),
            }),
            key: handles.config.cluster_key.as_deref().map(ClusterKey::new),
            streams: streams.clone(),
        });

        let leader_task = tokio::spawn(leader::lead(
            leader::Services {
                handles: Arc::clone(&handles),
                runner: Arc::clone(&runner),
                liveness,
                client: client.clone(),
                notifier: notifier.clone(),
            },
            Arc::clone(&leader),
            applied,
            stop.clone(),
        ));
        let (member_tx, member_rx) = watch::channel(handles.member.clone());
        let heartbeats = {
            let raft_handles = Arc::clone(&handles);
            Heartbeats {
                client: client.clone(),
                member: member_rx,
                servers: handles.config.join.clone(),
                leader: Some(Box::new(move || {
                    raft_handles.raft.leader().map(|(_, node)| node.rpc_addr)
                })),
                interval: handles.config.heartbeat_interval,
                lease,
            }
        };
        let heartbeat_task = tokio::spawn(heartbeats.run(stop.clone(), false));
        // Ends with `stop`.
        tokio::spawn(Arc::clone(&runner).guard_lease(stop.clone()));
        // Ends with `stop`.
        tokio::spawn(metrics::upkeep(handles.metrics.clone(), stop.clone()));
        let cluster = Arc::new(NodeCluster::new(
            Arc::clone(&handles),
            Arc::clone(&runner),
            leader,
            client,
            streams,
        ));
        let router = crate::api::router(
            cluster,
            handles.config.api.clone(),
            handles.config.api_tls.is_some(),
        );
        let http_stop = stop.clone();
        let http_task = tokio::spawn(crate::serve(
            http,
            router,
            handles.config.serve,
            api_acceptor,
            async move { http_stop.cancelled().await },
        ));

        write_ports_file(&data_dir, ports)?;
        tracing::info!(http = %http_addr, rpc = %rpc_addr, node = %handles.name(), "node started");
        Ok(Node {
            handles,
            runner,
            ports,
            stop,
            http_task,
            rpc_stop,
            rpc_task,
            leader_task,
            register_task,
            heartbeat_task,
            member: Arc::new(member_tx),
            notifier,
        })
    }

    /// A handle that changes this server's tags (dkrond's SIGHUP), usable while the node runs.
    pub fn tags(&self) -> Tags {
        Tags(Arc::clone(&self.member))
    }

    /// The addresses the node listens on.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Runs until `shutdown` completes or a client asks the node to leave (`POST /v1/leave`),
    /// then shuts down.
    ///
    /// # Errors
    /// As [`Node::shutdown`].
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let mut left = self.handles.raft.watch_left();
        tokio::select! {
            () = shutdown => tracing::info!("shutdown requested"),
            () = self.handles.leave.cancelled() => tracing::info!("leave requested"),
            // `dkrond leave` asked this server to leave over RPC: it no longer gets the log.
            _ = left.wait_for(|left| *left) => tracing::info!("left the cluster"),
        }
        self.shutdown().await
    }

    /// Stops the node in order: the scheduler first (no new fires), then the runner (running
    /// executions get up to the shutdown timeout to finish, and are recorded through Raft while
    /// it still runs; then they are cancelled), then the HTTP server (in-flight requests
    /// finish), then Raft and its RPC server.
    ///
    /// # Errors
    /// [`Error::Raft`] when Raft does not stop cleanly.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.stop.cancel();
        self.register_task.abort();
        let _ = self.heartbeat_task.await;
        if let Err(error) = self.leader_task.await {
            tracing::warn!(%error, "leadership task ended abnormally");
        }
        let drained = self
            .runner
            .shutdown(self.handles.config.shutdown_timeout)
            .await;
        if drained.drained {
            tracing::info!("every running execution finished");
        } else {
            tracing::warn!(
                cancelled = drained.cancelled,
                "running executions were cancelled at shutdown"
            );
        }
        self.notifier.shutdown(NOTIFY_STOP).await;
        // Its executions are reported: a graceful stop leaves the voters, so the others keep
        // their majority without it.
        membership::leave(&self.handles).await;
        match tokio::time::timeout(Duration::from_secs(5), self.http_task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "http server failed"),
            Ok(Err(error)) => tracing::warn!(%error, "http server task ended abnormally"),
            Err(_) => tracing::warn!("http server did not stop within 5s"),
        }
        let result = self.handles.raft.shutdown().await;
        self.rpc_stop.cancel();
        stop_rpc(self.rpc_task).await;
        let _ = std::fs::remove_file(self.handles.config.data_dir.join(PORTS_FILE));
        tracing::info!("node stopped");
        result.map_err(Error::from)
    }
}

/// Waits (bounded) for a stopping RPC server's requests in flight, then gives up on them.
pub(crate) async fn stop_rpc(mut task: JoinHandle<std::io::Result<()>>) {
    if tokio::time::timeout(Duration::from_secs(5), &mut task)
        .await
        .is_err()
    {
        tracing::warn!("peer rpc server did not stop within 5s");
        task.abort();
        let _ = task.await;
    }
}

fn open_store(data_dir: &Path, config: &NodeConfig) -> Result<Store, Error> {
    let options = dkron_store::Options::default().with_limits(config.limits);
    Store::open(data_dir, options).map_err(|source| match source {
        dkron_store::Error::FormatVersion { found, expected } => Error::DataDirVersion {
            path: data_dir.to_owned(),
            found,
            expected,
        },
        source => Error::Store {
            path: data_dir.to_owned(),
            source: Box::new(source),
        },
    })
}

/// Whether the store holds any Raft log or applied state (a cluster was created here).
fn has_raft_state(store: &Store, data_dir: &Path) -> Result<bool, Error> {
    let state = store
        .raft_last_index()
        .and_then(|last| Ok(last.is_some() || store.applied()?.is_some()));
    state.map_err(|source| Error::Store {
        path: data_dir.to_owned(),
        source: Box::new(source),
    })
}

/// `host:port` others should use for a listener bound at `addr`.
pub(crate) fn advertised(host: Option<&str>, addr: SocketAddr) -> String {
    let host = host.map_or_else(|| advertised_ip(addr), str::to_owned);
    if host.contains(':') {
        format!("[{host}]:{}", addr.port())
    } else {
        format!("{host}:{}", addr.port())
    }
}

/// The bound IP, or loopback when bound to every interface (no better guess without probing).
pub(crate) fn advertised_ip(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    }
}

fn write_ports_file(data_dir: &Path, ports: Ports) -> Result<(), Error> {
    let body = serde_json::json!({ "http": ports.http.to_string(), "rpc": ports.rpc.to_string() });
    let path = data_dir.join(PORTS_FILE);
    let temporary = data_dir.join(format!("{PORTS_FILE}.tmp"));
    // Why: write then rename, so a reader never sees half a file.
    std::fs::write(&temporary, body.to_string())
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|source| Error::Io {
            context: format!("cannot write {}", path.display()),
            source,
        })
}
