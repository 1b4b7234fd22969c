//! Bytes for what dkron-raft persists through `dkron-store`: log entries, the vote, log ids,
//! and the applied position (log id plus membership) — JSON, because every type has serde
//! derives, the entries are small, and a human can read a damaged record.

// openraft's storage traits return `StorageError` by value; these helpers feed them directly.
#![expect(
    clippy::result_large_err,
    reason = "the error type is openraft's, fixed by its traits"
)]

use openraft::{ErrorSubject, ErrorVerb, LogId, StorageError, StorageIOError, StoredMembership};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::types::{NodeId, NodeInfo};

/// What the state machine records as its applied position, in the same batch as each effect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppliedMeta {
    /// The last entry applied.
    pub(crate) log_id: Option<LogId<NodeId>>,
    pub(crate) membership: StoredMembership<NodeId, NodeInfo>,
}

pub(crate) fn encode<T: Serialize>(
    value: &T,
    subject: ErrorSubject<NodeId>,
) -> Result<Vec<u8>, StorageError<NodeId>> {
    serde_json::to_vec(value).map_err(|e| io_error(subject, ErrorVerb::Write, &e))
}

pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    subject: ErrorSubject<NodeId>,
) -> Result<T, StorageError<NodeId>> {
    serde_json::from_slice(bytes).map_err(|e| io_error(subject, ErrorVerb::Read, &e))
}

pub(crate) fn io_error(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    error: &(dyn std::error::Error + 'static),
) -> StorageError<NodeId> {
    StorageError::IO {
        source: StorageIOError::new(subject, verb, openraft::AnyError::from_dyn(error, None)),
    }
}
