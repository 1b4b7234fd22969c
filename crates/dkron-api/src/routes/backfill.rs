//! `POST /v1/jobs/{job}/backfill` (dkron-rs): runs the job's scheduled instants between two
//! times with an overlap policy, and answers which it launched.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use dkron_model::{BackfillOverlap, Job};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Api;
use crate::{
    ClusterError,
    params::Params,
    reply::{Failure, json},
    wire::{BodyError, format_time, parse_time},
};

/// What a backfill call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackfillRequest {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    pub(crate) overlap: BackfillOverlap,
}

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
pub(crate) fn parse_request(body: &[u8]) -> Result<BackfillRequest, BodyError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| BodyError::Syntax(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(BodyError::Syntax("expected a JSON object".to_owned()));
    };
    let from = required_time(&map, "from")?;
    let to = required_time(&map, "to")?;
    if to < from {
        return Err(field("to", "must not be before \"from\""));
    }
    let overlap = match map.get("overlap") {
        None | Some(Value::Null) => BackfillOverlap::Allow,
        Some(Value::String(text)) => text
            .parse()
            .map_err(|_| field("overlap", "use \"allow\", \"skip\" or \"buffer_all\""))?,
        Some(_) => return Err(field("overlap", "expected a string")),
    };
    Ok(BackfillRequest { from, to, overlap })
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

/// The instants to run: the schedule's in `from..=to`, refused above `max`; for `skip`, only
/// the first, and none while a run of the job is going.
fn fires_to_run(
    job: &Job,
    request: &BackfillRequest,
    max: usize,
    running: bool,
) -> Result<Vec<Timestamp>, Failure> {
    if job.is_child() {
        return Err(Failure::Plain(format!(
            "job {} has a parent_job: its parent runs it, it has no schedule to backfill",
            job.name
        )));
    }
    let mut fires = job.fires_in(request.from, request.to, max);
    if fires.len() > max {
        return Err(Failure::Body(field(
            "to",
            &format!(
                "the range holds more than {max} scheduled instants (setting max-backfill-fires)"
            ),
        )));
    }
    if request.overlap == BackfillOverlap::Skip {
        fires.truncate(usize::from(!running));
    }
    Ok(fires)
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
    let job = api.cluster.get_job(name).await?;
    if job.disabled {
        return Err(ClusterError::JobDisabled { job: job.name }.into());
    }
    let running = request.overlap == BackfillOverlap::Skip
        && api
            .cluster
            .busy()
            .await?
            .iter()
            .any(|e| e.job_name == job.name);
    let fires = fires_to_run(&job, &request, api.options.max_backfill_fires, running)?;
    if !fires.is_empty() {
        api.cluster
            .backfill_job(job.name.clone(), fires.clone(), request.overlap)
            .await?;
    }
    let tz = job.time_zone().map_err(Failure::Invalid)?;
    let out = BackfillOut {
        name: &job.name,
        overlap: request.overlap.as_str(),
        from: format_time(request.from, &tz),
        to: format_time(request.to, &tz),
        count: fires.len(),
        launched: fires.iter().map(|at| format_time(*at, &tz)).collect(),
    };
    json(StatusCode::OK, &out, params.pretty())
}
