//! Entry points for the fuzz targets in `fuzz/` (hidden, not part of the API): the node RPC
//! routes' body decoders (`rpc.rs`, `rpc/output.rs`), each followed by a re-encoding check.

use dkron_model::Execution;
use serde::{Serialize, de::DeserializeOwned};

use crate::rpc::{Beat, BeatReply, CancelRequest, ReportRequest, RunRequest, output::RelayFrame};

/// A node RPC body, by route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /node/run`: a job and its launch, from the leader.
    Run,
    /// `POST /node/cancel`.
    Cancel,
    /// `POST /node/report`: an execution, from any node.
    Report,
    /// `POST /node/heartbeat`: a member record, from any node.
    Heartbeat,
    /// The answers a node decodes: a heartbeat's reply, `GET /node/busy`, a cancelled
    /// execution, a line of `GET /node/output/{id}`.
    Reply,
}

impl Route {
    /// Every route, in a fixed order (the fuzz target picks one by the input's first byte).
    pub const ALL: [Route; 5] = [
        Route::Run,
        Route::Cancel,
        Route::Report,
        Route::Heartbeat,
        Route::Reply,
    ];
}

/// Decodes `body` as `route`'s handler does. `Ok(true)` when it decoded (and re-encoded to a
/// value that decodes and encodes to the same bytes), `Ok(false)` when the handler would
/// answer 400, `Err` when a decoded value does not survive re-encoding.
pub fn decode(route: Route, body: &[u8]) -> Result<bool, String> {
    match route {
        Route::Run => round_trip::<RunRequest>(body),
        Route::Cancel => round_trip::<CancelRequest>(body),
        Route::Report => round_trip::<ReportRequest>(body),
        Route::Heartbeat => round_trip::<Beat>(body),
        Route::Reply => Ok(round_trip::<BeatReply>(body)?
            | round_trip::<Vec<Execution>>(body)?
            | round_trip::<Execution>(body)?
            | round_trip::<RelayFrame>(body)?),
    }
}

fn round_trip<T: Serialize + DeserializeOwned>(body: &[u8]) -> Result<bool, String> {
    // What the routes' `parse` does; its refusal is the 400 it answers.
    let Ok(value) = serde_json::from_slice::<T>(body) else {
        return Ok(false);
    };
    let encoded = serde_json::to_vec(&value)
        .map_err(|error| format!("cannot encode what was decoded: {error}"))?;
    let again: T = serde_json::from_slice(&encoded).map_err(|error| {
        format!(
            "cannot decode its own encoding {}: {error}",
            String::from_utf8_lossy(&encoded)
        )
    })?;
    let twice = serde_json::to_vec(&again).map_err(|error| error.to_string())?;
    if twice == encoded {
        Ok(true)
    } else {
        Err(format!(
            "encoding is not stable: {} then {}",
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(&twice)
        ))
    }
}

#[cfg(test)]
mod tests;
