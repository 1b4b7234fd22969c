//! Forming and joining the Raft group at start, registering this server as a member, and
//! leaving it.
//!
//! - `bootstrap-expect 1` on a fresh data dir: a single-server cluster.
//! - `bootstrap-expect N > 1`: wait until N servers (this one and those named by `join`) answer,
//!   then the one with the lowest id initializes the group with all of them; a server that
//!   finds the cluster formed already joins it instead.
//! - `join` alone: ask the named servers (any of them; a follower points at its leader) to add
//!   this one; it enters as a learner, catches up, and is promoted to voter.
//! - Existing Raft state (a restart): nothing to form; the server finds its group again.
//!
//! With `retry-join` the join is tried again every `retry-interval`, up to `retry-max` times
//! (0: until it succeeds), as dkron does.

use std::{sync::Arc, time::Duration};

use dkron_model::{Member, MemberStatus};
use dkron_raft::{Bootstrap, Command, RaftNode};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    Error, NodeConfig,
    handles::Handles,
    rpc::{Beat, client::NodeClient},
    runner::Lease,
};

/// How long one attempt to bootstrap or join waits for enough servers or an answer.
const ATTEMPT: Duration = Duration::from_secs(30);

/// Forms or joins the cluster as `config` says (see the module docs).
///
/// # Errors
/// [`Error::Raft`] when the cluster could not be formed or joined within the attempts allowed.
pub(crate) async fn form(raft: &RaftNode, config: &NodeConfig) -> Result<(), Error> {
    if raft.is_initialized().await? {
        tracing::info!(node = %config.name, "raft state found: rejoining the cluster");
        return Ok(());
    }
    if config.bootstrap_expect == 1 && config.join.is_empty() {
        tracing::info!(node = %config.name, "bootstrapping a single-server cluster");
        raft.bootstrap_single().await?;
        raft.wait_for_leader(config.leader_timeout).await?;
        return Ok(());
    }
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt(raft, config).await {
            Ok(()) => return Ok(()),
            Err(error) => {
                let more = config.retry_join && (config.retry_max == 0 || tries < config.retry_max);
                if !more {
                    return Err(error);
                }
                tracing::warn!(%error, tries, retry_in = ?config.retry_interval, "cannot form or join the cluster yet");
                tokio::time::sleep(config.retry_interval).await;
            }
        }
    }
}

async fn attempt(raft: &RaftNode, config: &NodeConfig) -> Result<(), Error> {
    if config.bootstrap_expect > 1 {
        let expect = usize::try_from(config.bootstrap_expect).unwrap_or(usize::MAX);
        match raft.bootstrap_expect(expect, &config.join, ATTEMPT).await? {
            Bootstrap::Initialized { members } => {
                tracing::info!(servers = members.len(), "cluster bootstrapped");
                return Ok(());
            }
            Bootstrap::Joined { .. } => {
                tracing::info!("joined the cluster another server bootstrapped");
                return Ok(());
            }
            Bootstrap::ClusterExists => {
                tracing::info!("the cluster exists already: joining it");
            }
        }
    }
    raft.join(&config.join, ATTEMPT).await?;
    tracing::info!("joined the cluster");
    Ok(())
}

/// This server as a member (what `/v1/members` lists), with `status`.
pub(crate) fn member(handles: &Handles, status: MemberStatus) -> Member {
    Member {
        status,
        ..handles.member.clone()
    }
}

/// Records this server as an alive member (with its tags) through Raft, so every server lists
/// it. Retried in the background until it is committed: a cluster without a leader yet (a
/// restart one server at a time) must not stop a server from starting.
pub(crate) async fn register(handles: &Handles) {
    let mut wait = Duration::from_millis(200);
    for _ in 0..60 {
        let command = Command::SetMember(member(handles, MemberStatus::Alive));
        match handles.write(command).await {
            Ok(_) => return,
            Err(error) => tracing::debug!(%error, "member record not written yet"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
    tracing::warn!("gave up recording this server as a member");
}

/// How long a graceful stop may spend leaving the voters.
const LEAVE: Duration = Duration::from_secs(10);

/// How long another voter may take to answer before a stop counts it as down.
const PROBE: Duration = Duration::from_secs(1);

/// Leaves the voters on a graceful stop (SIGTERM, `POST /v1/leave`), after recording this
/// member as left, when every other voter answers (the last one stays: a group cannot be
/// empty). Bounded; failures are logged: a stop goes on regardless.
///
/// Why only when all others answer: leaving shrinks the group, and leaving a group that has a
/// server down would leave fewer live voters than its majority needs (3 voters with 1 down
/// keep a majority; the 2 left after a leave would need both).
pub(crate) async fn leave(handles: &Handles) {
    if *handles.raft.watch_left().borrow() {
        return;
    }
    let peers = handles.raft.membership();
    let me = handles.raft.id();
    let voter = peers.iter().any(|peer| peer.id == me && peer.voter);
    let others: Vec<_> = peers
        .iter()
        .filter(|peer| peer.voter && peer.id != me)
        .collect();
    if !voter || others.is_empty() {
        return;
    }
    for peer in &others {
        if let Err(error) = handles.peers.peer_info(&peer.node.rpc_addr, PROBE).await {
            tracing::warn!(
                peer = %peer.node.name, %error,
                "staying a voter: another voter does not answer, leaving would cost the group its majority"
            );
            return;
        }
    }
    let record = Command::SetMember(member(handles, MemberStatus::Left));
    match tokio::time::timeout(LEAVE, handles.write(record)).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "cannot record this server as left"),
        Err(_) => tracing::warn!("cannot record this server as left: timed out"),
    }
    match tokio::time::timeout(LEAVE, handles.raft.leave(LEAVE)).await {
        Ok(Ok(())) => tracing::info!("left the cluster's voters"),
        Ok(Err(error)) => tracing::warn!(%error, "cannot leave the cluster's voters"),
        Err(_) => tracing::warn!("cannot leave the cluster's voters: timed out"),
    }
}

/// After a restart, asks to be added back when `join` is configured: a server that left on a
/// graceful stop is no longer a voter, and joining again is harmless for one that still is.
pub(crate) async fn rejoin(handles: &Handles) {
    let config = &handles.config;
    if config.join.is_empty() {
        let me = handles.raft.id();
        if !handles.raft.membership().iter().any(|peer| peer.id == me) {
            tracing::warn!(
                "this server is not a member of the cluster it knows (it left): start it with --join to add it back"
            );
        }
        return;
    }
    let mut wait = Duration::from_secs(1);
    for _ in 0..30 {
        match handles.raft.join(&config.join, ATTEMPT).await {
            Ok(()) => {
                tracing::info!("rejoined the cluster");
                return;
            }
            Err(error) => tracing::warn!(%error, "cannot rejoin the cluster yet"),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(config.retry_interval.max(Duration::from_secs(1)));
    }
}

/// Where a node's heartbeats go.
pub(crate) struct Heartbeats {
    pub(crate) client: NodeClient,
    /// This node as a member (tags may change: SIGHUP).
    pub(crate) member: watch::Receiver<Member>,
    /// Servers to try when the leader is not known (the `join` list).
    pub(crate) servers: Vec<String>,
    /// The leader's RPC address as this node's own Raft sees it (servers only).
    pub(crate) leader: Option<Box<dyn Fn() -> Option<String> + Send + Sync>>,
    pub(crate) interval: Duration,
    /// Renewed by every heartbeat a leader accepts.
    pub(crate) lease: Arc<Lease>,
}

impl std::fmt::Debug for Heartbeats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heartbeats")
            .field("servers", &self.servers)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Heartbeats {
    /// Sends a heartbeat every interval until `stop`, to the leader (followed through the
    /// answers of whichever server it reaches); then, with `leave`, a goodbye.
    pub(crate) async fn run(self, stop: CancellationToken, leave: bool) {
        let mut known: Option<String> = None;
        let mut next = 0usize;
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            let beat = Beat {
                member: self.member.borrow().clone(),
                leaving: false,
            };
            known = self.send(&beat, known.take(), &mut next).await;
        }
        if leave {
            let beat = Beat {
                member: self.member.borrow().clone(),
                leaving: true,
            };
            if self.send(&beat, known, &mut next).await.is_none() {
                tracing::warn!("could not tell the leader this node leaves");
            }
        }
    }

    /// Sends `beat` to the leader (`known`, else the one Raft names, else the next server),
    /// following one redirection; returns the leader that took it.
    async fn send(&self, beat: &Beat, known: Option<String>, next: &mut usize) -> Option<String> {
        let mut target = known
            .or_else(|| self.leader.as_ref().and_then(|leader| leader()))
            .or_else(|| {
                let server = self.servers.get(*next % self.servers.len().max(1)).cloned();
                *next += 1;
                server
            })?;
        for _ in 0..3 {
            let sent = tokio::time::Instant::now();
            match self.client.beat(&target, beat).await {
                Ok(reply) if reply.accepted => {
                    self.lease.renewed(sent, tokio::time::Instant::now());
                    return Some(target);
                }
                Ok(reply) => match reply.leader {
                    Some(leader) if leader != target => target = leader,
                    _ => return None,
                },
                Err(error) => {
                    tracing::debug!(%error, "heartbeat not delivered");
                    return None;
                }
            }
        }
        None
    }
}
