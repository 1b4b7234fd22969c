//! Operator calls to a running server's peer RPC (`dkrond raft list-peers`, `raft remove-peer`,
//! `leave`), so dkrond reaches them without depending on `dkron-raft`.

use std::time::Duration;

use dkron_raft::ClusterKey;

/// Why an operator call failed: the server could not be reached, refused the key, or refused
/// the request (no such member, no leader, a membership change in progress).
///
/// Transparent over dkron-raft's error, so a `{:#}` chain names each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The call failed (see dkron-raft's error).
    #[error(transparent)]
    Rpc(#[from] dkron_raft::Error),
    /// The CA of `--rpc-tls-ca` could not be loaded.
    #[error("{0}")]
    Tls(String),
}

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

/// What an operator call presents to the server: the cluster key and, when peer RPC uses TLS,
/// the CA that verifies the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The cluster key (every server requires it).
    pub cluster_key: Option<String>,
    /// CA certificates (PEM) of the servers' RPC certificates; `None`: plain HTTP.
    pub rpc_tls_ca: Option<std::path::PathBuf>,
}

impl Credentials {
    /// Credentials with `key` and no TLS.
    pub fn key(key: Option<&str>) -> Credentials {
        Credentials {
            cluster_key: key.map(str::to_owned),
            rpc_tls_ca: None,
        }
    }

    fn network(&self) -> Result<dkron_raft::Network, ControlError> {
        let tls = self
            .rpc_tls_ca
            .as_deref()
            .map(crate::tls::client_config)
            .transpose()
            .map_err(|error| ControlError::Tls(error.to_string()))?;
        let key = self.cluster_key.as_deref().map(ClusterKey::new);
        Ok(dkron_raft::Network::with_tls(0, key, tls))
    }
}

/// The members as the server at `rpc_addr` knows them.
///
/// # Errors
/// [`ControlError`] when the server cannot be reached, refuses the key or does not answer within
/// `timeout`, or the CA cannot be loaded.
pub async fn list_peers(
    rpc_addr: &str,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<Vec<Peer>, ControlError> {
    let peers = credentials.network()?.list_peers(rpc_addr, timeout).await?;
    Ok(peers.into_iter().map(Peer::from).collect())
}

/// Removes the member named (or numbered) `peer` through the server at `rpc_addr`; the leader
/// does it, followed if `rpc_addr` is not the leader. Returns the member removed.
///
/// # Errors
/// [`ControlError`]: no such member, no leader, a refused change, or the failures of
/// [`list_peers`].
pub async fn remove_peer(
    rpc_addr: &str,
    credentials: &Credentials,
    peer: &str,
    timeout: Duration,
) -> Result<Peer, ControlError> {
    let removed = credentials
        .network()?
        .remove_member(rpc_addr, peer, timeout)
        .await?;
    Ok(removed.into())
}

/// Asks the server at `rpc_addr` to leave the cluster: the leader removes it from the members.
///
/// # Errors
/// [`ControlError`]: no leader, a refused change, or the failures of [`list_peers`].
pub async fn leave(
    rpc_addr: &str,
    credentials: &Credentials,
    timeout: Duration,
) -> Result<(), ControlError> {
    credentials
        .network()?
        .ask_to_leave(rpc_addr, timeout)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
