//! [`RaftNode`]: one server's Raft, and the control API the node uses — bootstrap, membership,
//! leadership, writes and linearizable reads.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

use dkron_store::Store;
use openraft::{
    ChangeMembers, Config, Raft, RaftMetrics, ServerState, SnapshotPolicy,
    error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, InitializeError, RaftError},
};
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
    task::{JoinHandle, JoinSet},
    time::Instant,
};

use crate::{
    Error, Result,
    applied::AppliedFeed,
    command::{Command, Response},
    log_store::{LogStats, LogStatsSnapshot, LogStore},
    network::{
        ClusterKey, FORWARD_PATH, JoinRefused, JoinRequest,
        client::{Network, encode_control},
        server,
    },
    state_machine::StateMachine,
    types::{NodeId, NodeInfo, TypeConfig, node_id_from_name},
};

/// Leader heartbeat period at `raft-multiplier` 1. openraft also bounds every AppendEntries
/// call by it (the follower's WAL sync included): at 50 ms a busy machine timed them out and
/// resent them over and over, stalling commits and changing leaders; 100 ms costs failover
/// nothing (docs/benchmarks.md, "Raft timing").
const BASE_HEARTBEAT: Duration = Duration::from_millis(100);
/// Election timeout bounds at `raft-multiplier` 1. A follower stands for election after
/// openraft's leader lease (the upper bound) plus a random timeout between the two, so a
/// crashed leader is replaced about 2-2.5 upper bounds after its last heartbeat.
const BASE_ELECTION_MIN: Duration = Duration::from_millis(150);
const BASE_ELECTION_MAX: Duration = Duration::from_millis(300);
/// The largest `raft-multiplier` (dkron's bound).
pub const MAX_RAFT_MULTIPLIER: u32 = 10;

/// How a [`RaftNode`] runs. [`RaftConfig::new`] gives the timings of `raft-multiplier` 1;
/// [`RaftConfig::scale_timings`] multiplies them.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This node's Raft id ([`node_id_from_name`] of its name by default).
    pub id: NodeId,
    /// Its name and addresses, as peers will see them.
    pub node: NodeInfo,
    /// Shared secret of the cluster; peer requests without it are refused.
    pub cluster_key: Option<ClusterKey>,
    /// TLS to call peers with (`https`, verified by this config); `None`: plain HTTP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Leader heartbeat period, also openraft's bound on one AppendEntries call.
    pub heartbeat_interval: Duration,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min: Duration,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max: Duration,
    /// Build a snapshot once this many bytes of log were written since the last one, or as many
    /// as the stored state takes on disk if that is more: exporting the state then costs at
    /// most about what was written meanwhile, however large the state grows (a fixed entry
    /// count made snapshots of a large state the main cost of a busy cluster).
    pub snapshot_after_log_bytes: u64,
    /// Entries kept in the log behind a snapshot (followers slightly behind catch up from the
    /// log instead of a snapshot).
    pub keep_entries_after_snapshot: u64,
    /// Size of the chunks a snapshot is sent in.
    pub snapshot_chunk_bytes: u64,
    /// Timeout of one snapshot chunk RPC.
    pub snapshot_chunk_timeout: Duration,
    /// Most writes [`RaftNode::write`] puts into one log entry (group commit).
    pub max_batch: usize,
    /// Batches in flight at once; writes arriving meanwhile queue up and form the next batch.
    pub max_inflight_batches: usize,
    /// Where the state machine reports what it applied ([`crate::Applied`]); `None` reports
    /// nothing. The receiver must keep reading: the channel is unbounded.
    pub applied_feed: Option<AppliedFeed>,
}

impl RaftConfig {
    /// The configuration of a node named `name`, with peer RPC at `rpc_addr` and the HTTP API at
    /// `api_addr`.
    pub fn new(name: &str, rpc_addr: &str, api_addr: &str) -> RaftConfig {
        RaftConfig {
            id: node_id_from_name(name),
            node: NodeInfo {
                name: name.to_owned(),
                rpc_addr: rpc_addr.to_owned(),
                api_addr: api_addr.to_owned(),
            },
            cluster_key: None,
            tls: None,
            heartbeat_interval: BASE_HEARTBEAT,
            election_timeout_min: BASE_ELECTION_MIN,
            election_timeout_max: BASE_ELECTION_MAX,
            snapshot_after_log_bytes: 64 << 20,
            keep_entries_after_snapshot: 1_000,
            snapshot_chunk_bytes: 1 << 20,
            snapshot_chunk_timeout: Duration::from_secs(5),
            max_batch: 256,
            max_inflight_batches: 2,
            applied_feed: None,
        }
    }

    /// Multiplies the heartbeat period and the election timeouts by `multiplier`, as dkron's
    /// `raft-multiplier` does: larger notices a lost leader later but rides out longer stalls
    /// of a busy or slow machine without an election.
    ///
    /// # Errors
    /// [`Error::Config`] when `multiplier` is not within 1..=[`MAX_RAFT_MULTIPLIER`]; nothing
    /// changes then.
    pub fn scale_timings(&mut self, multiplier: u32) -> Result<()> {
        if !(1..=MAX_RAFT_MULTIPLIER).contains(&multiplier) {
            return Err(Error::Config {
                reason: format!(
                    "raft multiplier {multiplier} is outside 1..={MAX_RAFT_MULTIPLIER}"
                ),
            });
        }
        self.heartbeat_interval *= multiplier;
        self.election_timeout_min *= multiplier;
        self.election_timeout_max *= multiplier;
        Ok(())
    }

    /// How long a write or a leave waits for a leader to be known: a follower stands for
    /// election only after openraft's leader lease (the longest election timeout) and its own
    /// timeout; twice that allows for a split vote.
    fn leader_wait(&self) -> Duration {
        LEADER_WAIT.max(self.election_timeout_max * 4)
    }

    fn openraft(&self) -> Result<Config> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Config {
            cluster_name: "dkron".to_owned(),
            heartbeat_interval: millis(self.heartbeat_interval),
            election_timeout_min: millis(self.election_timeout_min),
            election_timeout_max: millis(self.election_timeout_max),
            install_snapshot_timeout: millis(self.snapshot_chunk_timeout),
            // Snapshots are triggered by `snapshot_when_due`, by size rather than entry count.
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: self.keep_entries_after_snapshot,
            snapshot_max_chunk_size: self.snapshot_chunk_bytes,
            // Entries can be batches of up to `max_batch` writes: keep one AppendEntries
            // request to a few MB (a peer answering 413 makes openraft send fewer).
            max_payload_entries: 32,
            ..Config::default()
        }
        .validate()
        .map_err(|e| Error::Config {
            reason: e.to_string(),
        })
    }
}

/// Who leads, as [`RaftNode::watch_leadership`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Leadership {
    /// The leader's id, if one is known.
    pub leader: Option<NodeId>,
    /// The term it leads in.
    pub term: u64,
    /// Whether this node is the leader.
    pub is_self: bool,
}

/// A member of the Raft group (also what `GET /raft/peers` answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Raft id.
    pub id: NodeId,
    /// Name and addresses.
    pub node: NodeInfo,
    /// Voter (true) or learner.
    pub voter: bool,
    /// Whether it is the current leader.
    pub leader: bool,
}

/// What [`RaftNode::bootstrap_expect`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// This node (the lowest id among the expected servers) initialized the cluster.
    Initialized {
        /// The voters it was initialized with.
        members: Vec<NodeId>,
    },
    /// Another node initialized it (or it already existed); a leader is known.
    Joined {
        /// The leader.
        leader: NodeId,
    },
    /// This node or a peer already had Raft state: nothing was bootstrapped. The caller joins
    /// the existing cluster instead.
    ClusterExists,
}

/// A committed write: where it is in the log and what applying it returned (also what a
/// forwarded write answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Log index of the entry.
    pub index: u64,
    /// The state machine's answer.
    pub response: Response,
}

/// One server's Raft: openraft over [`LogStore`] and [`StateMachine`], reachable by peers
/// through [`RaftNode::router`].
#[derive(Debug, Clone)]
pub struct RaftNode {
    inner: Arc<Inner>,
}

/// A [`RaftNode`] that does not keep it alive (held by its own RPC routes).
#[derive(Debug, Clone)]
pub(crate) struct WeakRaftNode(Weak<Inner>);

impl WeakRaftNode {
    /// The node, unless every [`RaftNode`] clone was dropped.
    pub(crate) fn upgrade(&self) -> Option<RaftNode> {
        self.0.upgrade().map(|inner| RaftNode { inner })
    }
}

/// Least time [`RaftNode::write_anywhere`] and [`RaftNode::leave`] wait for a leader to be
/// known before giving up (more with longer election timeouts: [`RaftConfig::leader_wait`]).
const LEADER_WAIT: Duration = Duration::from_secs(2);
/// Least bound on a forwarded write, redirections included (more with a longer leader wait).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a forwarding server waits for its own state machine to apply the write.
const APPLY_WAIT: Duration = Duration::from_secs(5);
/// Bound on a leave asked over RPC (`POST /raft/leave`).
pub(crate) const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

struct Inner {
    raft: Raft<TypeConfig>,
    id: NodeId,
    node: NodeInfo,
    key: Option<ClusterKey>,
    store: Store,
    network: Network,
    stats: Arc<LogStats>,
    leadership: watch::Receiver<Leadership>,
    /// [`RaftConfig::leader_wait`].
    leader_wait: Duration,
    /// Set once [`RaftNode::leave`] succeeded.
    left: watch::Sender<bool>,
    writes: mpsc::UnboundedSender<PendingWrite>,
    /// Closed (its sender dropped) once the write batcher is gone.
    batcher_alive: watch::Receiver<()>,
    /// The leadership watcher, the write batcher and the snapshot trigger; aborted when the
    /// node is dropped.
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Why: both tasks would end on their own once Raft stops, but a dropped node must not
        // leave work behind on the runtime.
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("id", &self.id)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl RaftNode {
    /// Starts Raft on `store`, snapshots in `snapshot_dir`. The node restarts from whatever the
    /// store holds (log, vote, applied state); a fresh node waits to be bootstrapped or added.
    /// Serve [`RaftNode::router`] on the RPC port for peers to reach it.
    ///
    /// # Errors
    /// [`Error::Config`], [`Error::Io`], [`Error::Store`], [`Error::Fatal`] when openraft cannot
    /// start on the stored state.
    pub async fn start(config: RaftConfig, store: Store, snapshot_dir: &Path) -> Result<RaftNode> {
        let openraft_config = Arc::new(config.openraft()?);
        let leader_wait = config.leader_wait();
        let log = LogStore::new(store.clone())?;
        let stats = log.stats();
        let state_machine =
            StateMachine::open(store.clone(), snapshot_dir)?.with_feed(config.applied_feed.clone());
        let network = Network::with_tls(config.id, config.cluster_key.clone(), config.tls.clone());
        let raft = Raft::new(
            config.id,
            openraft_config,
            network.clone(),
            log,
            state_machine,
        )
        .await
        .map_err(|e| Error::Fatal {
            reason: e.to_string(),
        })?;
        let (leadership_tx, leadership) =
            watch::channel(leadership_of(&raft.metrics().borrow(), config.id));
        let mut metrics = raft.metrics();
        let id = config.id;
        let watcher = tokio::spawn(async move {
            // Ends when Raft shuts down (its metrics sender is dropped) or nobody watches.
            while metrics.changed().await.is_ok() {
                let now = leadership_of(&metrics.borrow_and_update(), id);
                leadership_tx.send_if_modified(|old| std::mem::replace(old, now) != now);
                if leadership_tx.is_closed() {
                    break;
                }
            }
        });
        let (writes, queue) = mpsc::unbounded_channel();
        let inflight = Arc::new(Semaphore::new(config.max_inflight_batches.max(1)));
        let (alive, batcher_alive) = watch::channel(());
        let batcher = tokio::spawn(batch_writes(
            raft.clone(),
            queue,
            alive,
            config.max_batch.max(1),
            inflight,
            Arc::clone(&stats),
        ));
        let snapshots = tokio::spawn(snapshot_when_due(
            raft.clone(),
            store.clone(),
            Arc::clone(&stats),
            config.snapshot_after_log_bytes,
        ));
        Ok(RaftNode {
            inner: Arc::new(Inner {
                raft,
                id: config.id,
                node: config.node,
                key: config.cluster_key,
                store,
                network,
                stats,
                leadership,
                leader_wait,
                left: watch::Sender::new(false),
                writes,
                batcher_alive,
                tasks: vec![watcher, batcher, snapshots],
            }),
        })
    }

    /// The peer RPC routes, to serve on the node's RPC port (see [`crate::serve`]).
    pub fn router(&self) -> axum::Router {
        server::router(
            self.inner.raft.clone(),
            self.inner.id,
            self.inner.node.clone(),
            self.inner.key.clone(),
            WeakRaftNode(Arc::downgrade(&self.inner)),
        )
    }

    /// The openraft handle, for what this API does not cover (metrics, triggers).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.raft
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// This node's name and addresses.
    pub fn node(&self) -> &NodeInfo {
        &self.inner.node
    }

    /// The store the state machine applies to (read jobs and history from it).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Log write-path counters (appends, entries, WAL syncs): entries per sync shows group
    /// commit.
    pub fn log_stats(&self) -> LogStatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Makes this node a one-server cluster.
    ///
    /// # Errors
    /// [`Error::AlreadyInitialized`] when it has Raft state already; [`Error::Fatal`].
    pub async fn bootstrap_single(&self) -> Result<()> {
        self.initialize(BTreeMap::from([(self.inner.id, self.inner.node.clone())]))
            .await
    }

    async fn initialize(&self, members: BTreeMap<NodeId, NodeInfo>) -> Result<()> {
        match self.inner.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                Err(Error::AlreadyInitialized)
            }
            Err(RaftError::APIError(InitializeError::NotInMembers(e))) => Err(Error::Membership {
                reason: e.to_string(),
            }),
            Err(RaftError::Fatal(fatal)) => Err(Error::Fatal {
                reason: fatal.to_string(),
            }),
        }
    }

    /// dkron's `bootstrap-expect`: waits until `expect` servers (this one and the nodes at
    /// `peers`, their RPC addresses) answer, then the one with the lowest id initializes the
    /// cluster with all of them, and every node waits for a leader. Nothing is bootstrapped if
    /// this node or any peer already has Raft state: a node that is already a member (it has
    /// state, or an initialized peer lists it) waits for a leader and reports
    /// [`Bootstrap::Joined`]; otherwise [`Bootstrap::ClusterExists`] tells the caller to join.
    ///
    /// All servers must be given the same `expect`; a peer list that names more than `expect`
    /// servers still initializes with every server that answered.
    ///
    /// # Errors
    /// [`Error::Timeout`] when `expect` servers or a leader are not seen within `timeout`.
    pub async fn bootstrap_expect(
        &self,
        expect: usize,
        peers: &[String],
        timeout: Duration,
    ) -> Result<Bootstrap> {
        let deadline = Instant::now() + timeout;
        let probe_timeout = Duration::from_millis(500);
        let initializer = loop {
            if self.is_initialized().await? {
                break None;
            }
            let mut known = BTreeMap::from([(self.inner.id, self.inner.node.clone())]);
            let (mut exists, mut listed) = (false, false);
            for peer in peers {
                if let Ok(info) = self.inner.network.peer_info(peer, probe_timeout).await {
                    exists |= info.initialized;
                    listed |= info.initialized && info.members.contains(&self.inner.id);
                    known.insert(info.id, info.node);
                }
            }
            if listed {
                // Another server initialized the cluster with this one in it.
                break None;
            }
            if exists {
                return Ok(Bootstrap::ClusterExists);
            }
            if known.len() >= expect {
                let lowest = known.keys().next().copied().unwrap_or(self.inner.id);
                if lowest == self.inner.id {
                    let members: Vec<NodeId> = known.keys().copied().collect();
                    self.initialize(known).await?;
                    break Some(members);
                }
                break None;
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{expect} servers to bootstrap (saw {})", known.len()),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let leader = self
            .wait_for_leader(deadline.saturating_duration_since(Instant::now()))
            .await?;
        Ok(match initializer {
            Some(members) => Bootstrap::Initialized { members },
            None => Bootstrap::Joined { leader },
        })
    }

    /// Whether this node has Raft state (a log or a membership).
    ///
    /// # Errors
    /// [`Error::Fatal`].
    pub async fn is_initialized(&self) -> Result<bool> {
        self.inner
            .raft
            .is_initialized()
            .await
            .map_err(|e| Error::Fatal {
                reason: e.to_string(),
            })
    }

    /// Waits until a leader is known; returns it.
    ///
    /// # Errors
    /// [`Error::Timeout`].
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<NodeId> {
        let mut watch = self.watch_leadership();
        let wait = watch.wait_for(|leadership| leadership.leader.is_some());
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(leadership)) => leadership.leader.ok_or_else(|| Error::Timeout {
                what: "a leader".to_owned(),
            }),
            Ok(Err(_)) => Err(Error::Fatal {
                reason: "raft stopped".to_owned(),
            }),
            Err(_) => Err(Error::Timeout {
                what: "a leader".to_owned(),
            }),
        }
    }

    /// Adds `id` as a learner (it receives the log but does not vote) and waits until it has
    /// caught up. Leader only.
    ///
    /// # Errors
    /// [`Error::NotLeader`], [`Error::Membership`], [`Error::Fatal`].
    pub async fn add_learner(&self, id: NodeId, node: NodeInfo) -> Result<()> {
        self.inner
            .raft
            .add_learner(id, node, true)
            .await
            .map(drop)
            .map_err(write_error)
    }

    /// Promotes a learner to voter. Leader only.
    ///
    /// # Errors
    /// [`Error::NotLeader`], [`Error::Membership`] (not a learner, change in progress),
    /// [`Error::Fatal`].
    pub async fn promote(&self, id: NodeId) -> Result<()> {
        self.inner
            .raft
            .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
            .await
            .map(drop)
            .map_err(write_error)
    }

    /// Adds a learner and promotes it: the usual way a new server joins.
    ///
    /// # Errors
    /// As [`RaftNode::add_learner`] and [`RaftNode::promote`].
    pub async fn add_voter(&self, id: NodeId, node: NodeInfo) -> Result<()> {
        self.add_learner(id, node).await?;
        self.promote(id).await
    }

    /// dkron's `join`: asks the servers at `peers` (RPC addresses) to add this node as a voter,
    /// following the leader they name, until one accepts or `timeout` passes. Joining again as
    /// an existing member is accepted (a restarted server may keep its `join` setting).
    ///
    /// # Errors
    /// [`Error::Timeout`] naming the last refusal or failure seen.
    pub async fn join(&self, peers: &[String], timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let request = JoinRequest {
            id: self.inner.id,
            node: self.inner.node.clone(),
        };
        let mut last = "no peer answered".to_owned();
        loop {
            let mut targets: Vec<String> = peers.to_vec();
            while let Some(target) = targets.pop() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                match self
                    .inner
                    .network
                    .request_join(&target, &request, left)
                    .await
                {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(JoinRefused::NotLeader {
                        leader: Some((_, leader)),
                    })) if leader.rpc_addr != target && targets.len() < peers.len() + 8 => {
                        targets.push(leader.rpc_addr);
                    }
                    Ok(Err(JoinRefused::NotLeader { .. })) => {
                        last = format!("{target} knows no leader")
                    }
                    Ok(Err(JoinRefused::Failed { reason })) => last = format!("{target}: {reason}"),
                    Err(error) => last = error.to_string(),
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("a server to accept the join ({last})"),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Removes a member (voter or learner) from the group. Leader only; a leader may remove
    /// itself (it steps down once the change commits).
    ///
    /// # Errors
    /// [`Error::NotLeader`], [`Error::NoQuorum`], [`Error::Membership`], [`Error::Fatal`].
    pub async fn remove_peer(&self, id: NodeId) -> Result<()> {
        if !self.is_leader() {
            // Why: openraft checks for a membership change in progress before leadership, so a
            // follower that has not seen the initial membership committed would answer "change
            // in progress" instead of naming the leader to ask.
            return Err(Error::NotLeader {
                leader: self.leader(),
            });
        }
        // Why: a leader just elected has not committed an entry of its term yet, so openraft
        // still counts the membership it started with as a change in progress and refuses a
        // new one; the barrier waits for that commit.
        self.linearizable_barrier().await?;
        let voter = self
            .membership()
            .iter()
            .any(|peer| peer.id == id && peer.voter);
        let ids = BTreeSet::from([id]);
        let change = if voter {
            ChangeMembers::RemoveVoters(ids)
        } else {
            ChangeMembers::RemoveNodes(ids)
        };
        // `retain = false`: a removed voter is dropped from the node list, not kept as learner.
        self.inner
            .raft
            .change_membership(change, false)
            .await
            .map(drop)
            .map_err(write_error)
    }

    /// The current leader, if known: its id and addresses (`/v1/leader`).
    pub fn leader(&self) -> Option<(NodeId, NodeInfo)> {
        let metrics = self.inner.raft.metrics();
        let metrics = metrics.borrow();
        let leader = metrics.current_leader?;
        let node = metrics
            .membership_config
            .membership()
            .get_node(&leader)?
            .clone();
        Some((leader, node))
    }

    /// Whether this node is the leader right now (it may lose leadership at any moment; use a
    /// linearizable read to be sure).
    pub fn is_leader(&self) -> bool {
        self.inner.leadership.borrow().is_self
    }

    /// The members of the group (`raft list-peers`).
    pub fn membership(&self) -> Vec<Peer> {
        let metrics = self.inner.raft.metrics();
        let metrics = metrics.borrow();
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| Peer {
                id: *id,
                node: node.clone(),
                voter: voters.contains(id),
                leader: metrics.current_leader == Some(*id),
            })
            .collect()
    }

    /// A watch of who leads; it changes when the leader or term changes.
    pub fn watch_leadership(&self) -> watch::Receiver<Leadership> {
        self.inner.leadership.clone()
    }

    /// Why Raft stopped (a storage failure, a panic in the state machine, a shutdown), or
    /// `None` while it runs: a node that cannot apply any more must say so (`/health`).
    pub fn stopped(&self) -> Option<String> {
        self.inner
            .raft
            .metrics()
            .borrow()
            .running_state
            .as_ref()
            .err()
            .map(ToString::to_string)
    }

    /// Openraft's metrics (log and apply progress, replication state).
    pub fn metrics(&self) -> RaftMetrics<NodeId, NodeInfo> {
        self.inner.raft.metrics().borrow().clone()
    }

    /// Commits `command` and returns what applying it gave. On a follower this fails with
    /// [`Error::NotLeader`] naming the leader, so the caller can forward.
    ///
    /// Concurrent writes are grouped: while earlier batches are in flight, new writes queue and
    /// go into the next log entry together ([`Command::Batch`]), so they share one fsync on
    /// every server. A lone write goes alone, without waiting.
    ///
    /// # Errors
    /// [`Error::NotLeader`], [`Error::Fatal`].
    pub async fn write(&self, command: Command) -> Result<Written> {
        if matches!(command, Command::Batch(_)) {
            // Already a batch: never nest it inside another.
            return commit_one(&self.inner.raft, command).await;
        }
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Fatal {
            reason: "the write batcher stopped".to_owned(),
        };
        self.inner
            .writes
            .send(PendingWrite { command, reply })
            .map_err(|_| stopped())?;
        let mut batcher = self.inner.batcher_alive.clone();
        tokio::select! {
            biased;
            answer = answer => answer.map_err(|_| stopped())?,
            // Why: a write sent while the batcher's task is dropped (its runtime shutting down)
            // can stay in the channel, its reply never dropped while the sender lives, so its
            // answer would never come (a killed test node hung a write this way).
            _ = batcher.changed() => Err(stopped()),
        }
    }

    /// As [`RaftNode::write`], from any server: a follower forwards the command to the leader
    /// (`POST /raft/forward`, following redirections), then waits until its own state machine
    /// has applied the write, so a client reads its own write from the server it wrote through.
    /// When no leader is known yet it waits for one (about 2 s).
    ///
    /// A forwarded write that the leader committed is returned even if this server has not
    /// applied it within about 5 s (a warning is logged): the write is done, only the read
    /// that follows it here may not see it yet.
    ///
    /// A leader that cannot be connected to (it crashed) is retried until the election that
    /// follows names another, for about 10 s. A failure after the command reached the leader
    /// (its loss of leadership, a timeout, a broken connection) does not say whether it
    /// committed: retry only idempotent commands.
    ///
    /// # Errors
    /// [`Error::NotLeader`] when no leader could be found or reached through redirections;
    /// [`Error::NoQuorum`], [`Error::Timeout`], [`Error::Fatal`] as the leader reports them;
    /// [`Error::Unreachable`] when no leader could be connected to in time; [`Error::Rpc`]
    /// when the exchange with the leader failed.
    pub async fn write_anywhere(&self, command: Command) -> Result<Written> {
        let leader_deadline = Instant::now() + self.inner.leader_wait;
        let deadline = Instant::now() + FORWARD_TIMEOUT.max(self.inner.leader_wait * 2);
        loop {
            let leader = match self.write(command.clone()).await {
                Err(Error::NotLeader {
                    leader: Some((id, leader)),
                }) if id != self.inner.id => leader,
                Err(Error::NotLeader { .. }) if Instant::now() < leader_deadline => {
                    self.pause_for_leader(leader_deadline).await;
                    continue;
                }
                done => return done,
            };
            let body = encode_control(&leader.rpc_addr, &command)?;
            let written: Written = match self
                .inner
                .network
                .call_leader(&leader.rpc_addr, FORWARD_PATH, &body, deadline)
                .await
            {
                Ok(written) => written,
                // Why retry: the command never reached that server, so it cannot have
                // committed there; the leader this node knows may have crashed, and the next
                // local write names the one elected meanwhile.
                Err(Error::Unreachable { .. }) if Instant::now() < deadline => {
                    self.pause_for_leader(deadline).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            if let Err(error) = self.wait_applied(written.index, APPLY_WAIT).await {
                tracing::warn!(
                    index = written.index,
                    %error,
                    "a forwarded write committed but this server has not applied it yet"
                );
            }
            return Ok(written);
        }
    }

    /// Waits until a leader is known or `deadline`, plus a short pause: a leader this node
    /// already knows may be one stepping down.
    async fn pause_for_leader(&self, deadline: Instant) {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = self.wait_for_leader(left).await;
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(Duration::from_millis(50).min(left)).await;
    }

    /// Removes this node from the cluster's members, through the leader: a follower asks the
    /// leader (`POST /raft/remove-peer`); a leader removes itself and steps down once the change
    /// commits. Then [`RaftNode::watch_left`] turns `true`: stop the node, it no longer
    /// receives the log.
    ///
    /// # Errors
    /// [`Error::NotLeader`] or [`Error::Timeout`] when no leader answered within `timeout`;
    /// [`Error::Membership`] (another change in progress), [`Error::Rpc`], [`Error::Fatal`].
    pub async fn leave(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let leader_deadline = Instant::now() + self.inner.leader_wait.min(timeout);
        loop {
            match self.remove_peer(self.inner.id).await {
                Err(Error::NotLeader {
                    leader: Some((id, leader)),
                }) if id != self.inner.id => {
                    match self
                        .inner
                        .network
                        .request_remove(&leader.rpc_addr, self.inner.id, deadline)
                        .await
                    {
                        Ok(()) => {
                            self.mark_left();
                            return Ok(());
                        }
                        // Why retry: the request was not delivered; the leader may have
                        // crashed and the next attempt names the one elected meanwhile.
                        Err(Error::Unreachable { .. }) if Instant::now() < deadline => {
                            self.pause_for_leader(deadline).await;
                        }
                        Err(error) => return Err(error),
                    }
                }
                Err(Error::NotLeader { .. }) if Instant::now() < leader_deadline => {
                    self.pause_for_leader(leader_deadline).await;
                }
                done => return done.map(|()| self.mark_left()),
            }
        }
    }

    fn mark_left(&self) {
        self.inner.left.send_replace(true);
    }

    /// A watch that turns `true` once this node has left the cluster through
    /// [`RaftNode::leave`] (asked locally or over RPC by `dkrond leave`): the node should stop.
    pub fn watch_left(&self) -> watch::Receiver<bool> {
        self.inner.left.subscribe()
    }

    /// Confirms this node still leads and waits until its state machine has applied everything
    /// committed before the call: reads from the store afterwards are linearizable.
    ///
    /// # Errors
    /// [`Error::NotLeader`], [`Error::NoQuorum`], [`Error::Fatal`].
    pub async fn linearizable_barrier(&self) -> Result<()> {
        match self.inner.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(forward))) => {
                Err(not_leader(forward))
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                Err(Error::NoQuorum)
            }
            Err(RaftError::Fatal(fatal)) => Err(Error::Fatal {
                reason: fatal.to_string(),
            }),
        }
    }

    /// Waits until the state machine has applied `index` (a follower's read-your-writes after a
    /// forwarded write).
    ///
    /// # Errors
    /// [`Error::Timeout`].
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<()> {
        self.inner
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "applied index")
            .await
            .map(drop)
            .map_err(|e| Error::Timeout {
                what: e.to_string(),
            })
    }

    /// Builds a snapshot now (normally driven by [`RaftConfig::snapshot_after_log_bytes`]).
    ///
    /// # Errors
    /// [`Error::Fatal`].
    pub async fn trigger_snapshot(&self) -> Result<()> {
        self.inner
            .raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| Error::Fatal {
                reason: e.to_string(),
            })
    }

    /// Stops Raft (pending writes fail; the store stays open for reads). The log flusher
    /// thread has ended when this returns (openraft drops the log store as its core stops).
    /// The node's own tasks end when the last clone of the node is dropped.
    ///
    /// # Errors
    /// [`Error::Fatal`] when the Raft task had panicked.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.raft.shutdown().await.map_err(|e| Error::Fatal {
            reason: e.to_string(),
        })
    }
}

/// How often [`snapshot_when_due`] looks at the log written since the last snapshot.
const SNAPSHOT_CHECK: Duration = Duration::from_millis(500);

/// Triggers a snapshot whenever the log written since the last trigger reaches
/// `after_log_bytes` and the size of the stored state (see
/// [`RaftConfig::snapshot_after_log_bytes`]), each scaled by a random [`spread`] drawn anew
/// for every snapshot. Ends when Raft stops.
async fn snapshot_when_due(
    raft: Raft<TypeConfig>,
    store: Store,
    stats: Arc<LogStats>,
    after_log_bytes: u64,
) {
    let mut since = stats.snapshot().bytes;
    let mut factor = spread();
    let mut tick = tokio::time::interval(SNAPSHOT_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let written = stats.snapshot().bytes.saturating_sub(since);
        let scaled = |bytes: u64| (bytes as f64 * factor) as u64;
        let state = || match store.state_size_bytes() {
            Ok(state) => scaled(state),
            Err(error) => {
                tracing::warn!(
                    error = %crate::command::error_chain(&error),
                    "cannot size the stored state; snapshotting by log size alone"
                );
                0
            }
        };
        if !snapshot_due(written, scaled(after_log_bytes), state) {
            continue;
        }
        since = stats.snapshot().bytes;
        factor = spread();
        if raft.trigger().snapshot().await.is_err() {
            // Raft has stopped.
            return;
        }
    }
}

/// A factor in [1, 1.5) for the next snapshot's thresholds. Every server writes the same log
/// and holds the same state, so with the same thresholds all of them exported their state at
/// the same moment (three exports of 200 MB on one machine's cores stalled launches for
/// seconds); spread out, they take turns.
fn spread() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    // A fresh `RandomState` has new random keys (seeded per process): no dependency needed for
    // a factor that only has to differ between servers and snapshots.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    1.0 + (random % 512) as f64 / 1024.0
}

/// Whether `written` bytes of log since the last snapshot call for a new one: at least
/// `after_log_bytes`, and at least the size of the state (only asked for when the first holds).
fn snapshot_due(written: u64, after_log_bytes: u64, state: impl FnOnce() -> u64) -> bool {
    written > 0 && written >= after_log_bytes && written >= state()
}

fn leadership_of(metrics: &RaftMetrics<NodeId, NodeInfo>, id: NodeId) -> Leadership {
    Leadership {
        leader: metrics.current_leader,
        term: metrics.current_term,
        is_self: metrics.state == ServerState::Leader && metrics.current_leader == Some(id),
    }
}

fn not_leader(forward: ForwardToLeader<NodeId, NodeInfo>) -> Error {
    Error::NotLeader {
        leader: forward.leader_id.zip(forward.leader_node),
    }
}

fn write_error(error: RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>) -> Error {
    match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => not_leader(forward),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => Error::Membership {
            reason: e.to_string(),
        },
        RaftError::Fatal(fatal) => Error::Fatal {
            reason: fatal.to_string(),
        },
    }
}

/// A write waiting for its batch.
struct PendingWrite {
    command: Command,
    reply: oneshot::Sender<Result<Written>>,
}

/// Forms batches from queued writes: waits for an in-flight slot first, so writes arriving
/// while the log is busy accumulate into the next batch. Owns the batch tasks (aborted if it is
/// aborted); ends when the node is dropped.
async fn batch_writes(
    raft: Raft<TypeConfig>,
    mut queue: mpsc::UnboundedReceiver<PendingWrite>,
    // Held for the task's life: dropped with it, which tells the writers still waiting.
    _alive: watch::Sender<()>,
    max_batch: usize,
    inflight: Arc<Semaphore>,
    stats: Arc<LogStats>,
) {
    let mut running = JoinSet::new();
    while let Some(first) = queue.recv().await {
        while running.try_join_next().is_some() {}
        let Ok(permit) = Arc::clone(&inflight).acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match queue.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        stats
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.proposals.fetch_add(1, Ordering::Relaxed);
        let raft = raft.clone();
        running.spawn(async move {
            commit_batch(&raft, batch).await;
            drop(permit);
        });
    }
    running.join_all().await;
}

async fn commit_one(raft: &Raft<TypeConfig>, command: Command) -> Result<Written> {
    match raft.client_write(command).await {
        Ok(reply) => Ok(Written {
            index: reply.log_id.index,
            response: reply.data,
        }),
        Err(error) => Err(write_error(error)),
    }
}

async fn commit_batch(raft: &Raft<TypeConfig>, mut batch: Vec<PendingWrite>) {
    if batch.len() == 1
        && let Some(write) = batch.pop()
    {
        let _ = write.reply.send(commit_one(raft, write.command).await);
        return;
    }
    let (commands, replies): (Vec<Command>, Vec<_>) =
        batch.into_iter().map(|w| (w.command, w.reply)).unzip();
    match commit_one(raft, Command::Batch(commands)).await {
        Ok(Written {
            index,
            response: Response::Batch(responses),
        }) if responses.len() == replies.len() => {
            for (response, reply) in responses.into_iter().zip(replies) {
                let _ = reply.send(Ok(Written { index, response }));
            }
        }
        Ok(other) => {
            let reason = format!(
                "a batch of {} writes was answered with {:?}",
                replies.len(),
                other.response
            );
            for reply in replies {
                let _ = reply.send(Err(Error::Fatal {
                    reason: reason.clone(),
                }));
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(share(&error)));
            }
        }
    }
}

/// A copy of a batch's failure for each of its writers.
fn share(error: &Error) -> Error {
    match error {
        Error::NotLeader { leader } => Error::NotLeader {
            leader: leader.clone(),
        },
        Error::Membership { reason } => Error::Membership {
            reason: reason.clone(),
        },
        other => Error::Fatal {
            reason: crate::command::error_chain(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{MAX_RAFT_MULTIPLIER, RaftConfig, snapshot_due};

    #[test]
    fn the_multiplier_scales_every_timing_and_refuses_out_of_range() {
        let base = RaftConfig::new("s1", "127.0.0.1:1", "127.0.0.1:2");
        let mut config = base.clone();
        config.scale_timings(1).expect("1 is the default");
        assert_eq!(config.heartbeat_interval, base.heartbeat_interval);
        config
            .scale_timings(MAX_RAFT_MULTIPLIER)
            .expect("the top of the range");
        assert_eq!(config.heartbeat_interval, base.heartbeat_interval * 10);
        assert_eq!(config.election_timeout_min, base.election_timeout_min * 10);
        assert_eq!(config.election_timeout_max, base.election_timeout_max * 10);
        let openraft = config.openraft().expect("valid");
        assert_eq!(
            Duration::from_millis(openraft.election_timeout_max),
            config.election_timeout_max
        );
        assert!(config.leader_wait() >= config.election_timeout_max * 2);
        for bad in [0, MAX_RAFT_MULTIPLIER + 1, u32::MAX] {
            let mut refused = base.clone();
            let error = refused.scale_timings(bad).expect_err("out of range");
            assert!(error.to_string().contains("1..=10"), "{error}");
            assert_eq!(refused.heartbeat_interval, base.heartbeat_interval);
            assert_eq!(refused.election_timeout_max, base.election_timeout_max);
        }
    }

    #[test]
    fn a_snapshot_is_due_after_the_log_bytes_and_the_state_size() {
        let never_asked = || -> u64 { panic!("the state size is not needed") };
        assert!(!snapshot_due(0, 0, never_asked), "nothing written");
        assert!(
            !snapshot_due(1_000, 4_096, never_asked),
            "below the log threshold"
        );
        assert!(snapshot_due(4_096, 4_096, || 0), "an empty state");
        assert!(
            !snapshot_due(10_000, 4_096, || 50_000),
            "less than the state"
        );
        assert!(
            snapshot_due(50_000, 4_096, || 50_000),
            "as much as the state"
        );
    }

    /// Servers (and successive snapshots) get different thresholds, within [1, 1.5).
    #[test]
    fn snapshot_thresholds_are_spread() {
        let factors: Vec<f64> = (0..64).map(|_| super::spread()).collect();
        assert!(
            factors.iter().all(|f| (1.0..1.5).contains(f)),
            "{factors:?}"
        );
        let distinct: std::collections::BTreeSet<u64> =
            factors.iter().map(|f| (f * 1024.0) as u64).collect();
        assert!(distinct.len() > 16, "{factors:?}");
    }
}
