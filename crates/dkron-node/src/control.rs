//! Operator calls to a running server's peer RPC (`dkrond raft list-peers`, `raft remove-peer`,
//! `leave`), so dkrond reaches them without depending on `dkron-raft`.

use std::time::Duration;

use dkron_raft::ClusterKey;

/// Why an operator call failed: the server could not be reached, refused the key, or refused
/// the request (no such member, no leader, a membership change in progress).
///
/// Transparent over dkron-raft's error, so a `{:#}` chain names each cause once.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ControlError(#[from] dkron_raft::Error);

/// A member of the cluster's Raft group, as a server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Node name.
    pub name: String,
    /// Raft id (derived from the name unless configured).
    pub id: u64,
    /// `host:port` of its peer RPC.
    pub rpc_addr: String,
    /// Whether it votes (a learner does not).
    pub voter: bool,
    /// Whether it is the leader the asked server knows.
    pub leader: bool,
}

impl From<dkron_raft::Peer> for Peer {
    fn from(peer: dkron_raft::Peer) -> Peer {
        Peer {
            name: peer.node.name,
            id: peer.id,
            rpc_addr: peer.node.rpc_addr,
            voter: peer.voter,
            leader: peer.leader,
        }
    }
}

/// The members as the server at `rpc_addr` knows them, presenting `cluster_key` when given.
///
/// # Errors
/// [`ControlError`] when the server cannot be reached, refuses the key or does not answer within
/// `timeout`.
pub async fn list_peers(
    rpc_addr: &str,
    cluster_key: Option<&str>,
    timeout: Duration,
) -> Result<Vec<Peer>, ControlError> {
    let key = cluster_key.map(ClusterKey::new);
    let peers = dkron_raft::list_peers(rpc_addr, key.as_ref(), timeout).await?;
    Ok(peers.into_iter().map(Peer::from).collect())
}

/// Removes the member named (or numbered) `peer` through the server at `rpc_addr`; the leader
/// does it, followed if `rpc_addr` is not the leader. Returns the member removed.
///
/// # Errors
/// [`ControlError`]: no such member, no leader, a refused change, or the transport failures of
/// [`list_peers`].
pub async fn remove_peer(
    rpc_addr: &str,
    cluster_key: Option<&str>,
    peer: &str,
    timeout: Duration,
) -> Result<Peer, ControlError> {
    let key = cluster_key.map(ClusterKey::new);
    let removed = dkron_raft::remove_peer(rpc_addr, key.as_ref(), peer, timeout).await?;
    Ok(removed.into())
}

/// Asks the server at `rpc_addr` to leave the cluster: the leader removes it from the members.
///
/// # Errors
/// [`ControlError`]: no leader, a refused change, or the transport failures of [`list_peers`].
pub async fn leave(
    rpc_addr: &str,
    cluster_key: Option<&str>,
    timeout: Duration,
) -> Result<(), ControlError> {
    let key = cluster_key.map(ClusterKey::new);
    dkron_raft::leave(rpc_addr, key.as_ref(), timeout).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
