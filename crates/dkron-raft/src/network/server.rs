//! The peer RPC server side: axum routes that hand each request to the local [`Raft`].

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
    serve::ListenerExt,
};
use std::collections::BTreeSet;

use openraft::{
    ChangeMembers, Raft,
    error::{ClientWriteError, RaftError},
    raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest},
};
use serde::Serialize;
use tokio::net::TcpListener;

use super::{
    APPEND_PATH, ClusterKey, FORWARD_PATH, ForwardRefused, INFO_PATH, JOIN_PATH, JoinRefused,
    JoinRequest, KEY_HEADER, LEAVE_PATH, MAX_BODY, PEERS_PATH, PeerInfo, REMOVE_PEER_PATH,
    RemovePeerRequest, SNAPSHOT_PATH, VOTE_PATH, split_snapshot_body,
};
use crate::{
    command::Command,
    node::{LEAVE_TIMEOUT, RaftNode, WeakRaftNode, Written},
    types::{NodeId, NodeInfo, TypeConfig},
};

struct ServerState {
    raft: Raft<TypeConfig>,
    key: Option<ClusterKey>,
    id: NodeId,
    node: NodeInfo,
    /// The node's control API (writes, membership) for the forwarded requests. Weak: the routes
    /// must not keep a dropped node's tasks alive for as long as the server runs.
    local: WeakRaftNode,
}

impl ServerState {
    /// `Some(401)` when a key is configured and the request does not carry it.
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let key = self.key.as_ref()?;
        let presented = headers
            .get(KEY_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if key.matches(presented) {
            None
        } else {
            Some((StatusCode::UNAUTHORIZED, "missing or wrong cluster key").into_response())
        }
    }

    /// The local node, or the refusal to send when it is gone (shutting down).
    fn local(&self) -> Result<RaftNode, ForwardRefused> {
        self.local.upgrade().ok_or_else(|| ForwardRefused::Fatal {
            reason: "this node is shutting down".to_owned(),
        })
    }
}

/// The peer RPC routes for `raft`, to merge into the node's RPC router.
pub(crate) fn router(
    raft: Raft<TypeConfig>,
    id: NodeId,
    node: NodeInfo,
    key: Option<ClusterKey>,
    local: WeakRaftNode,
) -> Router {
    let state = Arc::new(ServerState {
        raft,
        key,
        id,
        node,
        local,
    });
    Router::new()
        .route(APPEND_PATH, post(append))
        .route(VOTE_PATH, post(vote))
        .route(SNAPSHOT_PATH, post(snapshot))
        .route(INFO_PATH, get(info))
        .route(JOIN_PATH, post(join))
        .route(FORWARD_PATH, post(forward))
        .route(PEERS_PATH, get(peers))
        .route(REMOVE_PEER_PATH, post(remove_peer))
        .route(LEAVE_PATH, post(leave))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves `router` on `listener` until the task is aborted (TCP_NODELAY set: replies are small
/// and latency-bound). The node normally merges [`crate::RaftNode::router`] into its own RPC
/// server instead.
///
/// # Errors
/// [`crate::Error::Io`] when the accept loop fails.
pub async fn serve(listener: TcpListener, router: Router) -> crate::Result<()> {
    serve_with_shutdown(listener, router, std::future::pending()).await
}

/// As [`serve`], until `shutdown` completes; then the requests in flight finish and idle
/// connections close.
///
/// # Errors
/// [`crate::Error::Io`] when the accept loop fails.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> crate::Result<()> {
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a peer connection");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| crate::Error::Io {
            context: "serving peer rpc".to_owned(),
            source,
        })
}

fn json_reply<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the reply: {error}"),
        )
            .into_response(),
    }
}

fn bad_request(error: &serde_json::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("cannot decode the request: {error}"),
    )
        .into_response()
}

async fn append(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let request: AppendEntriesRequest<TypeConfig> = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&error),
    };
    json_reply(&state.raft.append_entries(request).await)
}

async fn vote(State(state): State<Arc<ServerState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let request: VoteRequest<NodeId> = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&error),
    };
    json_reply(&state.raft.vote(request).await)
}

async fn snapshot(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let Some((header, data)) = split_snapshot_body(&body) else {
        return (StatusCode::BAD_REQUEST, "truncated snapshot chunk").into_response();
    };
    let mut request: InstallSnapshotRequest<TypeConfig> = match serde_json::from_slice(header) {
        Ok(request) => request,
        Err(error) => return bad_request(&error),
    };
    request.data = data.to_vec();
    json_reply(&state.raft.install_snapshot(request).await)
}

async fn info(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let initialized = match state.raft.is_initialized().await {
        Ok(initialized) => initialized,
        Err(fatal) => return (StatusCode::SERVICE_UNAVAILABLE, fatal.to_string()).into_response(),
    };
    let (leader, members) = {
        let metrics = state.raft.metrics();
        let metrics = metrics.borrow();
        let members = metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        (metrics.current_leader, members)
    };
    json_reply(&PeerInfo {
        id: state.id,
        node: state.node.clone(),
        initialized,
        leader,
        members,
    })
}

async fn join(State(state): State<Arc<ServerState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let request: JoinRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&error),
    };
    let refused = |error: RaftError<NodeId, ClientWriteError<NodeId, NodeInfo>>| match error {
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => JoinRefused::NotLeader {
            leader: forward.leader_id.zip(forward.leader_node),
        },
        other => JoinRefused::Failed {
            reason: other.to_string(),
        },
    };
    // Learner first (it catches up without counting toward the quorum), then voter. Both steps
    // are no-ops for a server that is already a member, so a restarted server may join again.
    let result = async {
        state
            .raft
            .add_learner(request.id, request.node, true)
            .await
            .map_err(refused)?;
        let voters = ChangeMembers::AddVoterIds(BTreeSet::from([request.id]));
        state
            .raft
            .change_membership(voters, true)
            .await
            .map_err(refused)?;
        Ok::<(), JoinRefused>(())
    }
    .await;
    json_reply(&result)
}

/// A follower's write: commit it here (this node is believed to lead) and answer the outcome;
/// a follower answers `NotLeader` so the sender follows the leader.
async fn forward(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let command: Command = match serde_json::from_slice(&body) {
        Ok(command) => command,
        Err(error) => return bad_request(&error),
    };
    let result: Result<Written, ForwardRefused> = match state.local() {
        Ok(node) => node.write(command).await.map_err(ForwardRefused::from),
        Err(refused) => Err(refused),
    };
    json_reply(&result)
}

/// The membership as this node knows it (`raft list-peers`).
async fn peers(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    match state.local() {
        Ok(node) => json_reply(&node.membership()),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "this node is shutting down",
        )
            .into_response(),
    }
}

/// Removes a member when this node leads; a follower answers `NotLeader`.
async fn remove_peer(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let request: RemovePeerRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&error),
    };
    let result: Result<(), ForwardRefused> = match state.local() {
        Ok(node) => node
            .remove_peer(request.id)
            .await
            .map_err(ForwardRefused::from),
        Err(refused) => Err(refused),
    };
    json_reply(&result)
}

/// An operator asks this server to leave the cluster (`dkrond leave`).
async fn leave(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = state.refuse(&headers) {
        return refusal;
    }
    let result: Result<(), ForwardRefused> = match state.local() {
        Ok(node) => node
            .leave(LEAVE_TIMEOUT)
            .await
            .map_err(ForwardRefused::from),
        Err(refused) => Err(refused),
    };
    json_reply(&result)
}
