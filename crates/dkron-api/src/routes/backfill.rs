//! `POST /v1/jobs/{job}/backfill` (dkron-rs): runs the job's scheduled instants between two
//! times with an overlap policy, and answers which it launched.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use dkron_model::BackfillOverlap;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Api;
use crate::{
    backfill::{Backfill, BackfillError, Backfilled},
    params::Params,
    reply::{Failure, json},
    wire::{BodyError, format_time, parse_time},
};

#[derive(Debug, Serialize)]
struct BackfillOut<'a> {
    name: &'a str,
    overlap: &'static str,
    from: String,
    to: String,
    count: usize,
    /// The instants launched (for `buffer_all`: queued, started one after the other).
    launched: Vec<String>,
}

/// Reads `{"from": <RFC 3339>, "to": <RFC 3339>, "overlap": "allow|skip|buffer_all"}`.
pub(crate) fn parse_request(body: &[u8]) -> Result<Backfill, BodyError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BodyError::Syntax(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(BodyError::Syntax("expected a JSON object".to_owned()));
    };
    let from = required_time(&map, "from")?;
    let to = required_time(&map, "to")?;
    let overlap = match map.get("overlap") {
        None | Some(Value::Null) => BackfillOverlap::Allow,
        Some(Value::String(text)) => text
            .parse()
            .map_err(|_| field("overlap", "use \"allow\", \"skip\" or \"buffer_all\""))?,
        Some(_) => return Err(field("overlap", "expected a string")),
    };
    Ok(Backfill { from, to, overlap })
}

fn required_time(map: &Map<String, Value>, key: &str) -> Result<Timestamp, BodyError> {
    match map.get(key) {
        Some(Value::String(text)) => parse_time(text)
            .map_err(|message| field(key, &message))?
            .ok_or_else(|| field(key, "required")),
        None | Some(Value::Null) => Err(field(key, "required")),
        Some(_) => Err(field(key, "expected an RFC 3339 time string")),
    }
}

fn field(name: &str, message: &str) -> BodyError {
    BodyError::Field {
        field: name.to_owned(),
        message: message.to_owned(),
    }
}

/// `POST /v1/jobs/{job}/backfill`: 200 with the instants launched; 400 for a bad body or a
/// range over `max-backfill-fires`, 404 for an unknown or disabled job.
pub(super) async fn backfill(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let request = parse_request(&body)?;
    let Backfilled { job, launched } = crate::backfill::backfill(
        api.cluster.as_ref(),
        name,
        request,
        api.options.max_backfill_fires,
    )
    .await
    .map_err(|error| match error {
        BackfillError::Field {
            field: name,
            message,
        } => Failure::Body(field(&name, &message)),
        BackfillError::Child { .. } => Failure::Plain(error.to_string()),
        BackfillError::Cluster(error) => Failure::Cluster(error),
    })?;
    let tz = job.time_zone().map_err(Failure::Invalid)?;
    let out = BackfillOut {
        name: &job.name,
        overlap: request.overlap.as_str(),
        from: format_time(request.from, &tz),
        to: format_time(request.to, &tz),
        count: launched.len(),
        launched: launched.iter().map(|at| format_time(*at, &tz)).collect(),
    };
    json(StatusCode::OK, &out, params.pretty())
}
