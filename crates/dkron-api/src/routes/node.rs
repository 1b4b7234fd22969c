//! Node and cluster routes: `/`, `/health`, `/v1`, members, leader, leave, busy, pause, stats,
//! and the OpenAPI document.

use std::collections::BTreeMap;

use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use dkron_model::MemberStatus;
use jiff::{Timestamp, ToSpan, civil::Date, tz::TimeZone};
use serde::Serialize;
use serde_json::json as json_value;

use super::Api;
use crate::{
    DayStats, OPENAPI_JSON,
    params::Params,
    reply::{self, Failure, json, with_location, with_total},
    wire::{ExecutionOut, MemberOut, format_time},
};

/// `GET /`: browsers are sent to the UI (303, relative `ui/`, so a path prefix survives); other
/// clients, or a node without UI, get 404.
pub(super) async fn root(State(api): State<Api>, headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if api.options.ui && wants_html {
        return with_location(reply::empty(StatusCode::SEE_OTHER), "ui/");
    }
    reply::empty(StatusCode::NOT_FOUND)
}

/// `GET /health`: 200 `{"status":"healthy","leader":…}` or 503 `{"status":"unhealthy",
/// "issues":[…]}`.
pub(super) async fn health(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let health = api.cluster.health().await;
    let mut body = serde_json::Map::new();
    let status = if health.healthy {
        body.insert("status".into(), "healthy".into());
        StatusCode::OK
    } else {
        body.insert("status".into(), "unhealthy".into());
        body.insert("issues".into(), health.issues.into());
        StatusCode::SERVICE_UNAVAILABLE
    };
    if let Some(leader) = health.leader {
        body.insert("leader".into(), leader.into());
    }
    json(status, &body, params.pretty())
}

/// `GET /debug/vars`: dkron's expvar document. `scheduler_started` is 1 on the leader (where
/// the scheduler runs) and `cron_entries` maps each job it fires to its schedule and next fire;
/// dkron puts the whole job there, which grows with every job's definition.
pub(super) async fn debug_vars(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let leader = api.cluster.is_leader().await;
    let mut entries = serde_json::Map::new();
    if leader {
        let jobs = api.cluster.list_jobs(crate::JobQuery::default()).await?;
        for job in jobs.items {
            if job.disabled || job.is_child() {
                continue;
            }
            let next = job.next.map(|next| format_time(next, &TimeZone::UTC));
            entries.insert(
                job.name,
                json_value!({ "schedule": job.schedule, "next": next }),
            );
        }
    }
    let body = json_value!({
        "cmdline": std::env::args().collect::<Vec<_>>(),
        "node": api.cluster.node_name(),
        "scheduler_started": u8::from(leader),
        "cron_entries": entries,
    });
    json(StatusCode::OK, &body, params.pretty())
}

/// `GET /v1` and `/v1/`: `{"agent":{"name","version"},"serf":{…},"tags":{…}}`.
pub(super) async fn index(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let info = api.cluster.node_info().await?;
    // dkron's Serf statistics; the ones without a meaning here keep Serf's idle values so
    // clients that read them (the Ansible collection does) find every key.
    let mut serf: BTreeMap<String, String> = [
        ("members", "0"),
        ("failed", "0"),
        ("left", "0"),
        ("health_score", "0"),
        ("member_time", "1"),
        ("event_time", "1"),
        ("query_time", "1"),
        ("intent_queue", "0"),
        ("event_queue", "0"),
        ("query_queue", "0"),
        ("encrypted", "false"),
        ("coordinate_resets", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // Member counts are a convenience: if the member list cannot be read, the index still
    // answers (it is used as a liveness probe).
    if let Ok(members) = api.cluster.members().await {
        let count = |status: MemberStatus| members.iter().filter(|m| m.status == status).count();
        serf.insert("members".into(), members.len().to_string());
        serf.insert("failed".into(), count(MemberStatus::Failed).to_string());
        serf.insert("left".into(), count(MemberStatus::Left).to_string());
    }
    serf.extend(info.stats);
    let body = json_value!({
        "agent": { "name": info.name, "version": info.version },
        "serf": serf,
        "tags": info.tags,
    });
    json(StatusCode::OK, &body, params.pretty())
}

/// `GET /v1/openapi.json` (dkron-rs): the OpenAPI 3.1 document of this API.
pub(super) async fn openapi() -> Response {
    let mut response = Response::new(Body::from(OPENAPI_JSON));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// `GET /v1/members`: every member with dkron's Go field names, `id` and `statusText`.
pub(super) async fn members(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let members = api.cluster.members().await?;
    let out: Vec<MemberOut<'_>> = members.iter().map(MemberOut::listed).collect();
    Ok(with_total(
        json(StatusCode::OK, &out, params.pretty())?,
        out.len(),
    ))
}

/// `GET /v1/leader`: the leader member; 503 while none is known (dkron wrote 500 and `null`).
pub(super) async fn leader(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    match api.cluster.leader().await? {
        Some(member) => json(StatusCode::OK, &MemberOut::bare(&member), params.pretty()),
        None => Ok(reply::text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no leader elected",
        )),
    }
}

/// `GET /v1/isleader`: 200 `"I am a leader"` or 404 `"I am a follower"` (JSON strings).
pub(super) async fn is_leader(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    if api.cluster.is_leader().await {
        json(StatusCode::OK, "I am a leader", params.pretty())
    } else {
        json(StatusCode::NOT_FOUND, "I am a follower", params.pretty())
    }
}

/// `POST /v1/leave`: this node leaves the cluster; 200 with the member list as it was.
pub(super) async fn leave(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let members = api.cluster.members().await.unwrap_or_default();
    api.cluster.leave().await?;
    let out: Vec<MemberOut<'_>> = members.iter().map(MemberOut::listed).collect();
    json(StatusCode::OK, &out, params.pretty())
}

/// `GET /v1/busy`: running executions, oldest first, times in UTC.
pub(super) async fn busy(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let mut running = api.cluster.busy().await?;
    running.sort_by(|a, b| {
        (a.started_at, &a.node_name, &a.job_name).cmp(&(b.started_at, &b.node_name, &b.job_name))
    });
    let tz = TimeZone::UTC;
    let out: Vec<ExecutionOut<'_>> = running.iter().map(|e| ExecutionOut::new(e, &tz)).collect();
    Ok(with_total(
        json(StatusCode::OK, &out, params.pretty())?,
        out.len(),
    ))
}

#[derive(Debug, Serialize)]
struct Paused {
    paused: bool,
}

/// `GET /v1/pause`: `{"paused": bool}`.
pub(super) async fn pause_status(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let paused = api.cluster.paused().await?;
    json(StatusCode::OK, &Paused { paused }, params.pretty())
}

/// `POST /v1/pause`: stop accepting job submissions (idempotent).
pub(super) async fn pause(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    set_paused(&api, raw, true).await
}

/// `POST /v1/unpause`.
pub(super) async fn unpause(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    set_paused(&api, raw, false).await
}

async fn set_paused(api: &Api, raw: Option<String>, paused: bool) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let paused = api.cluster.set_paused(paused).await?;
    json(StatusCode::OK, &Paused { paused }, params.pretty())
}

/// Days `/v1/stats` covers without `?days`, and the most it covers.
const DEFAULT_STATS_DAYS: i64 = 30;
const MAX_STATS_DAYS: i64 = 365;

#[derive(Debug, Serialize)]
struct StatsOut {
    stats: Vec<DayOut>,
}

#[derive(Debug, Serialize)]
struct DayOut {
    date: String,
    success_count: u64,
    failed_count: u64,
}

/// `GET /v1/stats?days=N`: one entry per UTC day ending today, oldest first, zero-filled.
/// `days` is clamped to 1..=365; a non-numeric value means 30 (as dkron).
pub(super) async fn stats(
    State(api): State<Api>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let params = Params::parse(raw.as_deref());
    let days = params
        .get("days")
        .and_then(|d| d.trim().parse::<i64>().ok())
        .unwrap_or(DEFAULT_STATS_DAYS)
        .clamp(1, MAX_STATS_DAYS);
    let today = Timestamp::now().to_zoned_datetime(TimeZone::UTC).date();
    let from = today
        .checked_sub((days - 1).days())
        .map_err(|e| Failure::Render(e.to_string()))?;
    let counted: BTreeMap<Date, DayStats> = api
        .cluster
        .stats(from, today)
        .await?
        .into_iter()
        .map(|s| (s.date, s))
        .collect();
    let mut out = Vec::new();
    let mut day = from;
    while day <= today {
        let found = counted.get(&day);
        let midnight = day
            .to_zoned_datetime(TimeZone::UTC)
            .map_err(|e| Failure::Render(e.to_string()))?
            .timestamp();
        out.push(DayOut {
            date: format_time(midnight, &TimeZone::UTC),
            success_count: found.map_or(0, |s| s.success_count),
            failed_count: found.map_or(0, |s| s.failed_count),
        });
        day = day.tomorrow().map_err(|e| Failure::Render(e.to_string()))?;
    }
    json(StatusCode::OK, &StatsOut { stats: out }, params.pretty())
}
