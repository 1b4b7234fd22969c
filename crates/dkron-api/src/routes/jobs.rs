//! Job routes: list, create/update, get, delete, run, toggle, next fires, restore.

use std::collections::BTreeSet;

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::Response,
};
use dkron_model::Job;
use jiff::Timestamp;
use serde::Serialize;

use super::Api;
use crate::{
    ClusterError, UpsertOptions,
    params::{Params, encode_segment, relative_link},
    reply::{Failure, json, with_location, with_total},
    restore,
    wire::{JobOut, format_time, parse_job},
};

/// `GET /v1/jobs`: filtered, sorted, sliced; `X-Total-Count` is the filtered total.
pub(super) async fn list_jobs(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let query = params.job_query()?;
    let page = api.cluster.list_jobs(query).await?;
    let out: Vec<JobOut<'_>> = page.items.iter().map(JobOut::from).collect();
    Ok(with_total(
        json(StatusCode::OK, &out, params.pretty())?,
        page.total,
    ))
}

/// `POST`/`PUT`/`PATCH /v1/jobs`: create or replace the job named in the body.
pub(super) async fn create_job(
    State(api): State<Api>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    upsert(&api, &params, uri.path(), &body, None).await
}

/// `PUT /v1/jobs/{job}`: with a body, create or replace (dkron 3.1+; the body's name wins, the
/// path's is used when the body has none); without a body, run the job (the seed document's
/// "POST or PUT" run).
pub(super) async fn put_job(
    State(api): State<Api>,
    Path(name): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    if body.iter().all(u8::is_ascii_whitespace) {
        return run(&api, &params, uri.path(), name).await;
    }
    upsert(&api, &params, uri.path(), &body, Some(&name)).await
}

async fn upsert(
    api: &Api,
    params: &Params,
    path: &str,
    body: &[u8],
    path_name: Option<&str>,
) -> Result<Response, Failure> {
    // dkron checks the pause flag before reading the body.
    if api.cluster.paused().await? {
        return Err(ClusterError::Paused.into());
    }
    let mut job = parse_job(body)?;
    // Counters, status and the like belong to the cluster: a client's values are accepted
    // for compatibility and dropped, so the stored ones win (zero for a new job). A restore
    // keeps them instead (dkron's backup contract).
    job.clear_server_fields();
    if job.name.is_empty()
        && let Some(name) = path_name
    {
        name.clone_into(&mut job.name);
    }
    job.validate().map_err(Failure::Invalid)?;
    let options = UpsertOptions {
        run_on_create: params.has("runoncreate"),
    };
    let stored = api.cluster.upsert_job(job, options).await?;
    let location = job_link(path, &stored.name);
    Ok(with_location(
        json(StatusCode::CREATED, &JobOut::from(&stored), params.pretty())?,
        &location,
    ))
}

/// `GET /v1/jobs/{job}`.
pub(super) async fn get_job(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let job = api.cluster.get_job(name).await?;
    json(StatusCode::OK, &JobOut::from(&job), params.pretty())
}

/// `DELETE /v1/jobs/{job}` (and the seed's `/v1/job/{job}`): 200 with the deleted job.
pub(super) async fn delete_job(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let job = api.cluster.delete_job(name).await?;
    json(StatusCode::OK, &JobOut::from(&job), params.pretty())
}

/// `POST /v1/jobs/{job}` and `POST /v1/jobs/{job}/run`: 200 with the job, at once; the run
/// proceeds in the background.
pub(super) async fn run_job(
    State(api): State<Api>,
    Path(name): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    run(&api, &params, uri.path(), name).await
}

async fn run(api: &Api, params: &Params, path: &str, name: String) -> Result<Response, Failure> {
    let job = api.cluster.run_job(name).await?;
    Ok(with_location(
        json(StatusCode::OK, &JobOut::from(&job), params.pretty())?,
        &job_link(path, &job.name),
    ))
}

/// `POST /v1/jobs/{job}/toggle`: flips `disabled`; 200 with the job.
pub(super) async fn toggle_job(
    State(api): State<Api>,
    Path(name): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let job = api.cluster.toggle_job(name).await?;
    Ok(with_location(
        json(StatusCode::OK, &JobOut::from(&job), params.pretty())?,
        &job_link(uri.path(), &job.name),
    ))
}

/// `Location` of a job, relative to the request path.
fn job_link(request_path: &str, name: &str) -> String {
    relative_link(request_path, &format!("/v1/jobs/{}", encode_segment(name)))
}

/// Fires shown when `?count` is absent.
const DEFAULT_NEXT_COUNT: usize = 5;

#[derive(Debug, Serialize)]
struct NextFires<'a> {
    name: &'a str,
    schedule: &'a str,
    timezone: &'a str,
    next: Vec<String>,
}

/// `GET /v1/jobs/{job}/next?count=N` (dkron-rs): the next `N` fire instants after now, in the
/// job's zone, within its `starts_at`/`expires_at` window; `[]` for a child job or a schedule
/// that will not fire again.
pub(super) async fn next_fires(
    State(api): State<Api>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let count = params.index("count")?.unwrap_or(DEFAULT_NEXT_COUNT);
    let max = api.options.max_next_count;
    if count > max {
        return Err(Failure::Query {
            param: "count".to_owned(),
            message: format!("at most {max} fire times can be listed"),
        });
    }
    let job = api.cluster.get_job(name).await?;
    let next = upcoming(&job, Timestamp::now(), count)?;
    let out = NextFires {
        name: &job.name,
        schedule: &job.schedule,
        timezone: &job.timezone,
        next,
    };
    json(StatusCode::OK, &out, params.pretty())
}

fn upcoming(job: &Job, now: Timestamp, count: usize) -> Result<Vec<String>, Failure> {
    let Some(schedule) = job.job_schedule().map_err(Failure::Invalid)? else {
        return Ok(Vec::new());
    };
    let tz = schedule.time_zone();
    Ok(job
        .upcoming_fires(&schedule, now, count)
        .into_iter()
        .map(|fire| format_time(fire, tz))
        .collect())
}

/// `POST /v1/restore`: a `multipart/form-data` upload whose `file` field is a JSON array of
/// jobs (dkron's backup format), or (dkron-rs) that array as the raw body. Answers 200 with a
/// JSON string holding a JSON array of per-job results, as dkron does.
pub(super) async fn restore(
    State(api): State<Api>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let file = restore::file_of(content_type, &body)?;
    let jobs = restore::parse_jobs(&file)?;
    let ordered = restore::parents_first(jobs, &*api.cluster).await?;
    let mut results = Vec::with_capacity(ordered.len());
    // As dkron: a job that fails is reported and its children in the file are not attempted.
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for job in ordered {
        let name = job.name.clone();
        if job.parents().any(|p| failed.contains(p)) {
            failed.insert(name);
            continue;
        }
        let written = match job.validate() {
            Ok(()) => api
                .cluster
                .upsert_job(job, UpsertOptions::default())
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(format!("job validation failed: {error}")),
        };
        match written {
            Ok(_) => results.push(format!("success create {name}")),
            Err(error) => {
                tracing::warn!(job = %name, %error, "restore: job not created");
                results.push(format!("fail create {name}"));
                failed.insert(name);
            }
        }
    }
    let inner = serde_json::to_string(&results).map_err(|e| Failure::Render(e.to_string()))?;
    json(StatusCode::OK, &inner, params.pretty())
}
