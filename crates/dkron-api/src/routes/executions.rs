//! Execution routes: list (also at the old `/v1/executions/{job}`), get one, delete all,
//! cancel one, follow one's output.

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::Response,
};
use dkron_model::Job;
use jiff::tz::TimeZone;

use super::Api;
use crate::{
    params::Params,
    reply::{Failure, json, with_total},
    wire::{ExecutionOut, JobOut},
};

/// The zone a job's execution times are shown in (dkron converts them); UTC if unknown.
fn zone_of(job: &Job) -> TimeZone {
    job.time_zone().unwrap_or(TimeZone::UTC)
}

/// `GET /v1/jobs/{job}/executions`: sorted (`_sort`, `_order`, newest first by default), paged
/// (`_start`, `_end`; dkron ignored them) by the cluster, each output cut to its last
/// `output_size_limit` bytes with `output_truncated` set. `X-Total-Count` is the number
/// retained.
pub(super) async fn list(
    State(api): State<Api>,
    Path(job): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let query = params.exec_query()?;
    let limit = params.index("output_size_limit")?;
    let job = api.cluster.get_job(job).await?;
    let mut page = api.cluster.list_executions(job.name.clone(), query).await?;
    if let Some(limit) = limit {
        for execution in &mut page.items {
            execution.truncate_output(u64::try_from(limit).unwrap_or(u64::MAX));
        }
    }
    let tz = zone_of(&job);
    let out: Vec<ExecutionOut<'_>> = page
        .items
        .iter()
        .map(|e| ExecutionOut::new(e, &tz))
        .collect();
    Ok(with_total(
        json(StatusCode::OK, &out, params.pretty())?,
        page.total,
    ))
}

/// `GET /v1/jobs/{job}/executions/{execution}`: one execution with its full output.
pub(super) async fn get(
    State(api): State<Api>,
    Path((job, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let job = api.cluster.get_job(job).await?;
    let execution = api.cluster.get_execution(job.name.clone(), id).await?;
    json(
        StatusCode::OK,
        &ExecutionOut::new(&execution, &zone_of(&job)),
        params.pretty(),
    )
}

/// `DELETE /v1/jobs/{job}/executions`: wipes the history and resets the counters; 200 with the
/// updated job.
pub(super) async fn delete_all(
    State(api): State<Api>,
    Path(job): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    // An unknown job is a 404 whatever the implementation answers for its history.
    let job = api.cluster.get_job(job).await?;
    let job = api.cluster.delete_executions(job.name).await?;
    json(StatusCode::OK, &JobOut::from(&job), params.pretty())
}

/// `POST /v1/jobs/{job}/executions/{execution}/cancel` (dkron-rs): 202 with the execution as
/// known now; it stops asynchronously.
pub(super) async fn cancel(
    State(api): State<Api>,
    Path((job, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let stored = api.cluster.get_job(job).await?;
    let execution = api
        .cluster
        .cancel_execution(stored.name.clone(), id)
        .await?;
    json(
        StatusCode::ACCEPTED,
        &ExecutionOut::new(&execution, &zone_of(&stored)),
        params.pretty(),
    )
}

/// `GET /v1/jobs/{job}/executions/{execution}/stream` (dkron-rs): the execution's output as
/// server-sent events (see `output.rs`); 404 for an unknown job or execution.
pub(super) async fn stream(
    State(api): State<Api>,
    Path((job, id)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let job = api.cluster.get_job(job).await?;
    let events = api.cluster.execution_output(job.name, id).await?;
    Ok(crate::output_response(events))
}
