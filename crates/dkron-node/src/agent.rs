//! [`Agent`]: a node without Raft or a store. It joins by telling the servers it is alive
//! (heartbeats with its tags), runs what the leader sends it with the same runner a server
//! uses, and reports the results to any server through a durable outbox.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use dkron_model::{Member, MemberStatus};
use dkron_raft::ClusterKey;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    Error, NodeConfig, PORTS_FILE,
    live::OutputStreams,
    membership::Heartbeats,
    node::{Tags, advertised, advertised_ip},
    report::{Outbox, RemoteReport, outbox_dir},
    rpc::{self, RpcSlot, RpcState, client::NodeClient},
    runner::{self, Runner},
};

/// A running agent. Stop it with [`Agent::shutdown`] (or [`Agent::run`]).
#[derive(Debug)]
pub struct Agent {
    config: NodeConfig,
    rpc_addr: SocketAddr,
    runner: Arc<Runner>,
    /// Stops the heartbeats (which then say goodbye) and the re-delivery loop.
    stop: CancellationToken,
    /// Stops node RPC (graceful).
    rpc_stop: CancellationToken,
    rpc_task: JoinHandle<std::io::Result<()>>,
    heartbeat_task: JoinHandle<()>,
    redeliver_task: JoinHandle<()>,
    member: Arc<watch::Sender<Member>>,
}

impl Agent {
    /// Starts an agent serving node RPC on `rpc`: kills the process groups a crash of this
    /// node left running, opens its outbox (results not yet delivered are re-delivered), and
    /// starts heartbeating to the servers of `config.join`.
    ///
    /// # Errors
    /// [`Error::Io`] when the data dir, the outbox or the ports file cannot be written;
    /// [`Error::NothingToJoin`] without servers to join; [`Error::NoClusterKey`] without the
    /// cluster key.
    pub async fn start(mut config: NodeConfig, rpc: TcpListener) -> Result<Agent, Error> {
        let io = |context: String| move |source| Error::Io { context, source };
        if config.join.is_empty() {
            return Err(Error::NothingToJoin);
        }
        let rpc_addr = rpc
            .local_addr()
            .map_err(io("reading the RPC listener's address".to_owned()))?;
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir)
            .map_err(io(format!("cannot create data dir {}", data_dir.display())))?;
        config.cluster_key = Some(crate::key::resolve(&config)?);
        let (rpc_acceptor, rpc_client_tls) = crate::tls::rpc(config.rpc_tls.as_ref())?;
        let ledger = runner::ledger_path(&data_dir);
        let orphans = runner::kill_orphans(&ledger);
        if orphans > 0 {
            tracing::warn!(
                orphans,
                "killed the process groups of executions cut off by a crash"
            );
        }
        let outbox = Outbox::open(outbox_dir(&data_dir)).map_err(|error| Error::Io {
            context: format!("cannot open the report outbox in {}", data_dir.display()),
            source: std::io::Error::other(error),
        })?;
        if outbox.len() > 0 {
            tracing::info!(
                pending = outbox.len(),
                "finished executions from before a restart will be re-delivered"
            );
        }
        let client = NodeClient::new(config.cluster_key.as_deref(), rpc_client_tls);
        let report = Arc::new(RemoteReport::new(
            client.clone(),
            config.join.clone(),
            outbox,
        ));
        // A ports file left behind: the last run did not stop cleanly (a stop removes it).
        let crashed = data_dir.join(PORTS_FILE).exists();
        let lease = Arc::new(runner::Lease::new(
            config.failure_timeout,
            tokio::time::Instant::now(),
            crashed,
        ));
        let runner = Arc::new(
            Runner::new(&config.name, config.limits, Arc::clone(&report) as _)
                .with_lease(Arc::clone(&lease))
                .with_ledger(ledger)
                .with_slots(config.execution_slots),
        );
        let slot = Arc::new(RpcSlot::default());
        // Relays end when node RPC stops: after the runner drained, so they carry the end.
        let rpc_stop = CancellationToken::new();
        slot.set(RpcState {
            runner: Arc::clone(&runner),
            server: None,
            key: config.cluster_key.as_deref().map(ClusterKey::new),
            streams: OutputStreams::new(config.max_output_streams, rpc_stop.clone()),
        });
        let rpc_task = tokio::spawn(crate::serve(
            rpc,
            rpc::router(slot),
            config.serve.for_rpc(),
            rpc_acceptor,
            rpc_stop.clone().cancelled_owned(),
        ));

        let advertised_rpc = SocketAddr::new(
            rpc_addr.ip(),
            config.advertise_rpc_port.unwrap_or(rpc_addr.port()),
        );
        let member = Member {
            name: config.name.clone(),
            addr: config
                .advertise_host
                .clone()
                .unwrap_or_else(|| advertised_ip(rpc_addr)),
            port: advertised_rpc.port(),
            rpc_addr: advertised(config.advertise_host.as_deref(), advertised_rpc),
            tags: config.tags.clone(),
            status: MemberStatus::Alive,
            server: false,
            region: config.region.clone(),
            datacenter: config.datacenter.clone(),
            version: config.version.clone(),
        };
        let (member, member_rx) = watch::channel(member);
        let stop = CancellationToken::new();
        let heartbeats = Heartbeats {
            client,
            member: member_rx,
            servers: config.join.clone(),
            leader: None,
            interval: config.heartbeat_interval,
            lease,
        };
        let heartbeat_task = tokio::spawn(heartbeats.run(stop.clone(), true));
        // Ends with `stop`.
        tokio::spawn(Arc::clone(&runner).guard_lease(stop.clone()));
        let redeliver_task = tokio::spawn(report.run(stop.clone()));

        let body = serde_json::json!({ "rpc": rpc_addr.to_string() });
        let path = data_dir.join(PORTS_FILE);
        let temporary = data_dir.join(format!("{PORTS_FILE}.tmp"));
        std::fs::write(&temporary, body.to_string())
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(io(format!("cannot write {}", path.display())))?;
        tracing::info!(rpc = %rpc_addr, node = %config.name, servers = ?config.join, "agent started");
        Ok(Agent {
            config,
            rpc_addr,
            runner,
            stop,
            rpc_stop,
            rpc_task,
            heartbeat_task,
            redeliver_task,
            member: Arc::new(member),
        })
    }

    /// The address node RPC listens on.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc_addr
    }

    /// A handle that changes the agent's tags (dkrond's SIGHUP), usable while it runs.
    pub fn tags(&self) -> Tags {
        Tags(Arc::clone(&self.member))
    }

    /// Runs until `shutdown` completes, then shuts down.
    ///
    /// # Errors
    /// As [`Agent::shutdown`].
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        shutdown.await;
        tracing::info!("shutdown requested");
        self.shutdown().await
    }

    /// Stops in order: running executions get the shutdown timeout to finish and be reported,
    /// then the heartbeats stop with a goodbye (the agent is `left`), then node RPC.
    ///
    /// # Errors
    /// None today; kept for symmetry with [`crate::Node::shutdown`].
    pub async fn shutdown(self) -> Result<(), Error> {
        let drained = self.runner.shutdown(self.config.shutdown_timeout).await;
        if !drained.drained {
            tracing::warn!(
                cancelled = drained.cancelled,
                "running executions were cancelled at shutdown"
            );
        }
        self.stop.cancel();
        let bound = Duration::from_secs(5);
        if tokio::time::timeout(bound, self.heartbeat_task)
            .await
            .is_err()
        {
            tracing::warn!("the goodbye heartbeat did not finish within 5s");
        }
        let _ = tokio::time::timeout(bound, self.redeliver_task).await;
        self.rpc_stop.cancel();
        crate::node::stop_rpc(self.rpc_task).await;
        let _ = std::fs::remove_file(self.config.data_dir.join(PORTS_FILE));
        tracing::info!("agent stopped");
        Ok(())
    }
}
