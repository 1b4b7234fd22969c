//! Entry points for the fuzz targets in `fuzz/` (hidden, not part of the API): the decoders
//! that read bytes from a peer or from the log store, run as the server and the log store
//! run them, each followed by a re-encoding check.

use openraft::{
    Entry, LogId, Vote,
    error::{InstallSnapshotError, RaftError},
    raft::{
        AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest,
        InstallSnapshotResponse, VoteRequest, VoteResponse,
    },
};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    codec::AppliedMeta,
    command::Command,
    network::{ForwardRefused, JoinRefused, JoinRequest, PeerInfo, RemovePeerRequest},
    node::{Peer, Written},
    types::{NodeId, TypeConfig},
};

/// What a peer may send or answer, and what the log store reads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// `POST /raft/append`: an `AppendEntriesRequest` (entries carry [`Command`]s).
    Append,
    /// `POST /raft/vote`.
    Vote,
    /// `POST /raft/snapshot`: length-prefixed JSON header, then the raw chunk.
    Snapshot,
    /// `POST /raft/join`.
    Join,
    /// `POST /raft/forward`: a [`Command`].
    Forward,
    /// `POST /raft/remove-peer`.
    RemovePeer,
    /// A log entry, the vote, a log id or the applied position as the store holds them.
    Stored,
    /// The answers the client decodes from a peer.
    Reply,
}

impl Decoder {
    /// Every decoder, in a fixed order (the fuzz target picks one by the input's first byte).
    pub const ALL: [Decoder; 8] = [
        Decoder::Append,
        Decoder::Vote,
        Decoder::Snapshot,
        Decoder::Join,
        Decoder::Forward,
        Decoder::RemovePeer,
        Decoder::Stored,
        Decoder::Reply,
    ];
}

/// Decodes `bytes` as `decoder` does. `Ok(true)` when something decoded (and re-encoded to a
/// value that decodes and encodes to the same bytes), `Ok(false)` when the input was refused,
/// `Err` when a decoded value does not survive re-encoding.
pub fn decode(decoder: Decoder, bytes: &[u8]) -> Result<bool, String> {
    match decoder {
        Decoder::Append => round_trip::<AppendEntriesRequest<TypeConfig>>(bytes),
        Decoder::Vote => round_trip::<VoteRequest<NodeId>>(bytes),
        Decoder::Snapshot => {
            let Some((header, _data)) = crate::network::split_snapshot_body(bytes) else {
                return Ok(false);
            };
            round_trip::<InstallSnapshotRequest<TypeConfig>>(header)
        }
        Decoder::Join => round_trip::<JoinRequest>(bytes),
        Decoder::Forward => round_trip::<Command>(bytes),
        Decoder::RemovePeer => round_trip::<RemovePeerRequest>(bytes),
        Decoder::Stored => Ok(stored::<Entry<TypeConfig>>(bytes)?
            | stored::<Vote<NodeId>>(bytes)?
            | stored::<LogId<NodeId>>(bytes)?
            | stored::<AppliedMeta>(bytes)?),
        Decoder::Reply => Ok(
            round_trip::<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>>(bytes)?
                | round_trip::<Result<VoteResponse<NodeId>, RaftError<NodeId>>>(bytes)?
                | round_trip::<
                    Result<
                        InstallSnapshotResponse<NodeId>,
                        RaftError<NodeId, InstallSnapshotError>,
                    >,
                >(bytes)?
                | round_trip::<Result<Written, ForwardRefused>>(bytes)?
                | round_trip::<Result<(), ForwardRefused>>(bytes)?
                | round_trip::<Result<(), JoinRefused>>(bytes)?
                | round_trip::<PeerInfo>(bytes)?
                | round_trip::<Vec<Peer>>(bytes)?,
        ),
    }
}

/// As the log store reads a record: through `codec::decode`.
fn stored<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<bool, String> {
    let Ok(value) = crate::codec::decode::<T>(bytes, openraft::ErrorSubject::Store) else {
        return Ok(false);
    };
    let encoded = crate::codec::encode(&value, openraft::ErrorSubject::Store)
        .map_err(|error| format!("cannot encode what was decoded: {error}"))?;
    check_fixed_point::<T>(&encoded).map(|()| true)
}

/// As the server reads a request body: `serde_json::from_slice`.
fn round_trip<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<bool, String> {
    let Ok(value) = serde_json::from_slice::<T>(bytes) else {
        return Ok(false);
    };
    let encoded = serde_json::to_vec(&value)
        .map_err(|error| format!("cannot encode what was decoded: {error}"))?;
    check_fixed_point::<T>(&encoded).map(|()| true)
}

/// What a node encodes, it decodes again to a value that encodes to the same bytes.
fn check_fixed_point<T: Serialize + DeserializeOwned>(encoded: &[u8]) -> Result<(), String> {
    let again: T = serde_json::from_slice(encoded).map_err(|error| {
        format!(
            "cannot decode its own encoding {}: {error}",
            String::from_utf8_lossy(encoded)
        )
    })?;
    let twice = serde_json::to_vec(&again).map_err(|error| error.to_string())?;
    if twice == encoded {
        Ok(())
    } else {
        Err(format!(
            "encoding is not stable: {} then {}",
            String::from_utf8_lossy(encoded),
            String::from_utf8_lossy(&twice)
        ))
    }
}

#[cfg(test)]
mod tests;
