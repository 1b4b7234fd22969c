//! The peer RPC client side: openraft's network factory over one pooled keep-alive HTTP/1.1
//! client (hyper-util), over TLS (hyper-rustls) when the node's RPC uses it.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use openraft::{
    RaftNetwork, RaftNetworkFactory,
    error::{
        InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
        Timeout, Unreachable,
    },
    network::{RPCOption, RPCTypes},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
        InstallSnapshotResponse, VoteRequest, VoteResponse,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::time::Instant;

use super::{
    APPEND_PATH, ClusterKey, INFO_PATH, JOIN_PATH, JoinRefused, JoinRequest, KEY_HEADER,
    LEAVE_PATH, PEERS_PATH, PeerInfo, REMOVE_PEER_PATH, RemovePeerRequest, SNAPSHOT_PATH,
    VOTE_PATH, join_snapshot_body,
};
use crate::{
    Error,
    network::ForwardRefused,
    node::Peer,
    types::{NodeId, NodeInfo, TypeConfig},
};

/// Most `NotLeader` redirections one forwarded request follows: servers that disagree on who
/// leads (an election under way) must not bounce it forever.
const MAX_REDIRECTS: usize = 4;
/// Pause before asking again a server that knows no leader (an election takes 150-300 ms).
const NO_LEADER_PAUSE: Duration = Duration::from_millis(100);

/// The members of the cluster as the server at `rpc_addr` knows them (`raft list-peers`),
/// presenting `key` when given. [`Peer::leader`] marks the leader it knows.
///
/// # Errors
/// [`Error::Unreachable`] when the server cannot be connected to; [`Error::Rpc`] when it refuses
/// the key or answers badly; [`Error::Timeout`] when it does not answer within `timeout`.
pub async fn list_peers(
    rpc_addr: &str,
    key: Option<&ClusterKey>,
    timeout: Duration,
) -> crate::Result<Vec<Peer>> {
    Network::new(0, key.cloned())
        .list_peers(rpc_addr, timeout)
        .await
}

/// Removes a member from the cluster through the server at `rpc_addr` (`raft remove-peer`):
/// `peer` is a node name or a numeric Raft id, resolved against that server's membership, and
/// the removal is done by the leader (followed if `rpc_addr` does not lead). Returns the member
/// removed.
///
/// # Errors
/// [`Error::UnknownPeer`] when no member has that name or id; [`Error::NotLeader`] when no
/// leader could be reached; [`Error::Membership`] when the leader refuses (another change in
/// progress); [`Error::Unreachable`], [`Error::Rpc`] and [`Error::Timeout`] as [`list_peers`].
pub async fn remove_peer(
    rpc_addr: &str,
    key: Option<&ClusterKey>,
    peer: &str,
    timeout: Duration,
) -> crate::Result<Peer> {
    Network::new(0, key.cloned())
        .remove_member(rpc_addr, peer, timeout)
        .await
}

/// Asks the server at `rpc_addr` to leave the cluster (`dkrond leave`): it has the leader
/// remove it from the members ([`crate::RaftNode::leave`]), then reports it through
/// [`crate::RaftNode::watch_left`] so its node can stop.
///
/// # Errors
/// What [`crate::RaftNode::leave`] failed with on that server; [`Error::Unreachable`],
/// [`Error::Rpc`] and [`Error::Timeout`] as [`list_peers`].
pub async fn leave(
    rpc_addr: &str,
    key: Option<&ClusterKey>,
    timeout: Duration,
) -> crate::Result<()> {
    Network::new(0, key.cloned())
        .ask_to_leave(rpc_addr, timeout)
        .await
}

/// The operator calls as methods, for a network with TLS ([`Network::with_tls`]).
impl Network {
    /// As [`list_peers`], through this network.
    ///
    /// # Errors
    /// As [`list_peers`].
    pub async fn list_peers(&self, rpc_addr: &str, timeout: Duration) -> crate::Result<Vec<Peer>> {
        self.peers(rpc_addr, timeout).await
    }

    /// As [`remove_peer`], through this network.
    ///
    /// # Errors
    /// As [`remove_peer`].
    pub async fn remove_member(
        &self,
        rpc_addr: &str,
        peer: &str,
        timeout: Duration,
    ) -> crate::Result<Peer> {
        let deadline = Instant::now() + timeout;
        let members = self.peers(rpc_addr, timeout).await?;
        let Some(member) = resolve_peer(&members, peer) else {
            return Err(Error::UnknownPeer {
                peer: peer.to_owned(),
                members: members.iter().map(|m| m.node.name.clone()).collect(),
            });
        };
        self.request_remove(rpc_addr, member.id, deadline).await?;
        Ok(member.clone())
    }

    /// As [`leave`], through this network.
    ///
    /// # Errors
    /// As [`leave`].
    pub async fn ask_to_leave(&self, rpc_addr: &str, timeout: Duration) -> crate::Result<()> {
        let reply: Result<(), ForwardRefused> = self
            .control_call(rpc_addr, Method::POST, LEAVE_PATH, Vec::new(), timeout)
            .await?;
        reply.map_err(Error::from)
    }
}

/// The member named `peer`, or numbered `peer` when no member has that name.
pub(crate) fn resolve_peer<'a>(members: &'a [Peer], peer: &str) -> Option<&'a Peer> {
    members
        .iter()
        .find(|member| member.node.name == peer)
        .or_else(|| {
            let id: NodeId = peer.parse().ok()?;
            members.iter().find(|member| member.id == id)
        })
}

/// A transport failure, as openraft's error wrappers want it (`std::error::Error`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failure(String);

/// Idle keep-alive connections are kept this long (heartbeats reuse them every 100-ish ms).
/// Why below the server's default header timeout (10 s), which also closes idle connections:
/// the client drops a connection before the server does, rather than sending on one the
/// server is closing.
const POOL_IDLE: Duration = Duration::from_secs(5);
/// A peer that does not accept a connection within this is treated as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How one exchange failed.
enum CallError {
    /// No reply within the deadline.
    Timeout,
    /// The connection could not be made.
    Connect(String),
    /// Anything else on the way.
    Other(String),
}

/// The pooled client: plain HTTP, or HTTPS only (a TLS cluster never falls back to plain).
#[derive(Debug, Clone)]
enum Transport {
    Http(Client<HttpConnector, Full<Bytes>>),
    Https(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

/// Openraft's network factory: one pooled HTTP client shared by every peer connection.
#[derive(Debug, Clone)]
pub struct Network {
    id: NodeId,
    http: Transport,
    key: Option<ClusterKey>,
}

impl Network {
    /// A factory for node `id`, presenting `key` to peers when given, over plain HTTP. Needs
    /// a tokio runtime with time enabled (the pool's idle timer).
    pub fn new(id: NodeId, key: Option<ClusterKey>) -> Network {
        Network::with_tls(id, key, None)
    }

    /// As [`Network::new`], over HTTPS with `tls` (which verifies the peers' certificates)
    /// when given.
    pub fn with_tls(
        id: NodeId,
        key: Option<ClusterKey>,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Network {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE);
        let http = match tls {
            None => Transport::Http(builder.build(connector)),
            Some(tls) => {
                // `enforce_http(false)`: the TLS connector hands https URLs to it.
                connector.enforce_http(false);
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(Arc::unwrap_or_clone(tls))
                    .https_only()
                    .enable_http1()
                    .wrap_connector(connector);
                Transport::Https(builder.build(connector))
            }
        };
        Network { id, http, key }
    }

    /// `scheme://rpc_addr`, as this network reaches peers.
    fn base(&self, rpc_addr: &str) -> String {
        match self.http {
            Transport::Http(_) => format!("http://{rpc_addr}"),
            Transport::Https(_) => format!("https://{rpc_addr}"),
        }
    }

    /// One request/response exchange with `timeout` over the whole of it.
    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), CallError> {
        let mut request = Request::builder().method(method).uri(url);
        if let Some(key) = &self.key {
            request = request.header(KEY_HEADER, key.as_bytes());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Other(e.to_string()))?;
        let exchange = async {
            let response = match &self.http {
                Transport::Http(client) => client.request(request).await,
                Transport::Https(client) => client.request(request).await,
            };
            let response = response.map_err(|e| {
                if e.is_connect() {
                    CallError::Connect(crate::command::error_chain(&e))
                } else {
                    CallError::Other(crate::command::error_chain(&e))
                }
            })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Other(crate::command::error_chain(&e)))?;
            Ok((status, body.to_bytes()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(CallError::Timeout))
    }

    /// Asks the node at `rpc_addr` who it is (bootstrap discovery).
    ///
    /// # Errors
    /// [`Error::Unreachable`], [`crate::Error::Rpc`] when it answers badly, [`Error::Timeout`].
    pub async fn peer_info(&self, rpc_addr: &str, timeout: Duration) -> crate::Result<PeerInfo> {
        self.control_call(rpc_addr, Method::GET, INFO_PATH, Vec::new(), timeout)
            .await
    }

    /// Asks the server at `rpc_addr` to add `request` as a voter.
    pub(crate) async fn request_join(
        &self,
        rpc_addr: &str,
        request: &JoinRequest,
        timeout: Duration,
    ) -> crate::Result<Result<(), JoinRefused>> {
        let body = encode_control(rpc_addr, request)?;
        self.control_call(rpc_addr, Method::POST, JOIN_PATH, body, timeout)
            .await
    }

    /// The membership as the server at `rpc_addr` knows it.
    pub(crate) async fn peers(
        &self,
        rpc_addr: &str,
        timeout: Duration,
    ) -> crate::Result<Vec<Peer>> {
        self.control_call(rpc_addr, Method::GET, PEERS_PATH, Vec::new(), timeout)
            .await
    }

    /// Has the leader remove member `id`, asking `rpc_addr` first.
    pub(crate) async fn request_remove(
        &self,
        rpc_addr: &str,
        id: NodeId,
        deadline: Instant,
    ) -> crate::Result<()> {
        let body = encode_control(rpc_addr, &RemovePeerRequest { id })?;
        self.call_leader(rpc_addr, REMOVE_PEER_PATH, &body, deadline)
            .await
    }

    /// Posts `body` to `path` on `first`, following the `NotLeader` answers to the leader they
    /// name (at most [`MAX_REDIRECTS`] times), until a server does it or `deadline` passes. A
    /// server that knows no leader is asked again after a pause (an election is under way).
    ///
    /// Why the sender follows instead of the receiver proxying: a request then never loops
    /// between servers that disagree on who leads, and each hop has the caller's deadline.
    pub(crate) async fn call_leader<T: DeserializeOwned>(
        &self,
        first: &str,
        path: &str,
        body: &[u8],
        deadline: Instant,
    ) -> crate::Result<T> {
        let mut target = first.to_owned();
        let mut redirects = 0;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout {
                    what: format!("a leader to answer {path} (last asked {target})"),
                });
            }
            let reply: Result<T, ForwardRefused> = self
                .control_call(&target, Method::POST, path, body.to_vec(), left)
                .await?;
            match reply {
                Ok(value) => return Ok(value),
                Err(ForwardRefused::NotLeader {
                    leader: Some((id, leader)),
                }) if leader.rpc_addr != target => {
                    if redirects == MAX_REDIRECTS {
                        return Err(Error::NotLeader {
                            leader: Some((id, leader)),
                        });
                    }
                    redirects += 1;
                    target = leader.rpc_addr;
                }
                Err(ForwardRefused::NotLeader { .. }) => {
                    // No leader known (an election is under way), or the receiver names itself
                    // while stepping down: ask again after a pause, until the deadline.
                    tokio::time::sleep(NO_LEADER_PAUSE.min(left)).await;
                }
                Err(refused) => return Err(refused.into()),
            }
        }
    }

    /// One control request (not openraft's): any failure, a non-2xx status included, is
    /// [`crate::Error::Rpc`] naming the peer, [`Error::Unreachable`] when no connection could be
    /// made, or [`Error::Timeout`] when it does not answer in time.
    async fn control_call<T: DeserializeOwned>(
        &self,
        rpc_addr: &str,
        method: Method,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> crate::Result<T> {
        let rpc_error = |reason: String| crate::Error::Rpc {
            target: rpc_addr.to_owned(),
            reason,
        };
        let url = format!("{}{path}", self.base(rpc_addr));
        let (status, body) = match self.exchange(method, &url, body, timeout).await {
            Ok(reply) => reply,
            Err(CallError::Timeout) => {
                return Err(Error::Timeout {
                    what: format!("{rpc_addr} to answer {path}"),
                });
            }
            Err(CallError::Connect(reason)) => {
                return Err(Error::Unreachable {
                    target: rpc_addr.to_owned(),
                    reason,
                });
            }
            Err(CallError::Other(reason)) => return Err(rpc_error(reason)),
        };
        if !status.is_success() {
            return Err(rpc_error(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        serde_json::from_slice(&body).map_err(|e| rpc_error(e.to_string()))
    }
}

/// The JSON body of a control request to `rpc_addr`.
pub(crate) fn encode_control<T: Serialize>(rpc_addr: &str, value: &T) -> crate::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Rpc {
        target: rpc_addr.to_owned(),
        reason: e.to_string(),
    })
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &NodeInfo) -> PeerClient {
        PeerClient {
            network: self.clone(),
            target,
            node: node.clone(),
            base: self.base(&node.rpc_addr),
        }
    }
}

/// One peer as openraft's replication sees it.
#[derive(Debug)]
pub struct PeerClient {
    network: Network,
    target: NodeId,
    node: NodeInfo,
    base: String,
}

impl PeerClient {
    /// Posts `body` to `path` and decodes the peer's `Result<T, E>`.
    async fn call<T, E>(
        &self,
        action: RPCTypes,
        path: &str,
        body: Vec<u8>,
        option: &RPCOption,
        entries_hint: u64,
    ) -> Result<T, RPCError<NodeId, NodeInfo, E>>
    where
        T: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let timeout = option.hard_ttl();
        let url = format!("{}{path}", self.base);
        let (status, body) = match self
            .network
            .exchange(Method::POST, &url, body, timeout)
            .await
        {
            Ok(reply) => reply,
            Err(CallError::Timeout) => {
                return Err(RPCError::Timeout(Timeout {
                    action,
                    id: self.network.id,
                    target: self.target,
                    timeout,
                }));
            }
            Err(CallError::Connect(reason)) => {
                return Err(RPCError::Unreachable(Unreachable::new(&Failure(reason))));
            }
            Err(CallError::Other(reason)) => {
                return Err(RPCError::Network(NetworkError::new(&Failure(reason))));
            }
        };
        if status == StatusCode::PAYLOAD_TOO_LARGE && action == RPCTypes::AppendEntries {
            // Why: openraft retries with at most the hinted number of entries.
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(entries_hint),
            ));
        }
        if !status.is_success() {
            let failure = Failure(format!(
                "{} answered {status}: {}",
                self.node,
                String::from_utf8_lossy(&body)
            ));
            // Why unreachable: a refused key or a broken peer will not fix itself on an
            // immediate retry; openraft backs off.
            return Err(RPCError::Unreachable(Unreachable::new(&failure)));
        }
        match serde_json::from_slice::<Result<T, E>>(&body) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(remote)) => Err(RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                remote,
            ))),
            Err(error) => Err(RPCError::Network(NetworkError::new(&error))),
        }
    }
}

#[expect(
    clippy::result_large_err,
    reason = "the error type is openraft's, fixed by its traits"
)]
fn encode<T: Serialize, E: std::error::Error>(
    value: &T,
) -> Result<Vec<u8>, RPCError<NodeId, NodeInfo, E>> {
    serde_json::to_vec(value).map_err(|error| RPCError::Network(NetworkError::new(&error)))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        // Half as many entries if the peer finds the request too large.
        let entries_hint = (rpc.entries.len() as u64 / 2).max(1);
        let body = encode(&rpc)?;
        self.call(
            RPCTypes::AppendEntries,
            APPEND_PATH,
            body,
            &option,
            entries_hint,
        )
        .await
    }

    async fn install_snapshot(
        &mut self,
        mut rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeInfo, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let data = std::mem::take(&mut rpc.data);
        let header = encode(&rpc)?;
        let Some(body) = join_snapshot_body(&header, &data) else {
            return Err(RPCError::Network(NetworkError::new(&Failure(
                "snapshot chunk header too large".to_owned(),
            ))));
        };
        self.call(RPCTypes::InstallSnapshot, SNAPSHOT_PATH, body, &option, 1)
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeInfo, RaftError<NodeId>>> {
        let body = encode(&rpc)?;
        self.call(RPCTypes::Vote, VOTE_PATH, body, &option, 1).await
    }
}
