//! The pages that only read: dashboard, jobs list, job page, the forms, members, and the
//! schedule preview the form's script asks for.

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use dkron_api::{DayStats, ExecQuery, JobQuery};
use dkron_model::{Job, JobStatus};
use jiff::{Timestamp, ToSpan, tz::TimeZone};
use maud::html;

use super::{Granted, Ui, failure, html};
use crate::{
    form::JobForm,
    links::Pairs,
    list::{ListParams, status_param},
    schedule::{self, Explanation},
    views::{self, dashboard::Dashboard, job::JobPage},
};

/// Days of history in the dashboard's chart.
const CHART_DAYS: i64 = 30;
/// Executions on one page of the job page.
const EXECUTIONS_PER_PAGE: usize = 20;

fn pairs(raw: Option<&str>) -> Pairs {
    Pairs::parse(raw.unwrap_or_default().as_bytes())
}

/// How many jobs match `query` (an empty page: the cluster counts, nothing is loaded).
async fn count(ui: &Ui, query: JobQuery) -> Result<usize, dkron_api::ClusterError> {
    let query = JobQuery {
        start: 0,
        end: Some(0),
        ..query
    };
    Ok(ui.cluster.list_jobs(query).await?.total)
}

/// `GET /ui/`.
pub(super) async fn dashboard(State(ui): State<Ui>, granted: Granted) -> Response {
    let ctx = ui.ctx("", &granted);
    match dashboard_data(&ui).await {
        Ok(data) => html(StatusCode::OK, views::dashboard::render(&ctx, &data)),
        Err(error) => failure(&ctx, &error, ("members", "See the members")),
    }
}

async fn dashboard_data(ui: &Ui) -> Result<Dashboard, dkron_api::ClusterError> {
    let cluster = &ui.cluster;
    let members = cluster.members().await?;
    let leader = cluster.leader().await?.map(|m| m.name);
    let jobs = count(ui, JobQuery::default()).await?;
    let mut by_status = Vec::new();
    for (status, label) in [
        (JobStatus::Success, "success"),
        (JobStatus::Failed, "failed"),
        (JobStatus::PartiallyFailed, "partially failed"),
        (JobStatus::Untriggered, "never run"),
    ] {
        let query = JobQuery {
            status: Some(status),
            ..JobQuery::default()
        };
        by_status.push((status_param(status), label, count(ui, query).await?));
    }
    let disabled = count(
        ui,
        JobQuery {
            disabled: Some(true),
            ..JobQuery::default()
        },
    )
    .await?;
    let now = Timestamp::now();
    let today = now.to_zoned_datetime(TimeZone::UTC).date();
    let from = today.checked_sub((CHART_DAYS - 1).days()).unwrap_or(today);
    let stats = cluster.stats(from, today).await?;
    let days = (0..CHART_DAYS)
        .filter_map(|offset| from.checked_add(offset.days()).ok())
        .filter(|day| *day <= today)
        .map(|date| {
            stats
                .iter()
                .find(|s| s.date == date)
                .copied()
                .unwrap_or(DayStats {
                    date,
                    success_count: 0,
                    failed_count: 0,
                })
        })
        .collect();
    let mut running = cluster.busy().await?;
    running.sort_by_key(|e| e.started_at);
    Ok(Dashboard {
        node: cluster.node_name().to_owned(),
        leader,
        alive: members.iter().filter(|m| m.is_alive()).count(),
        members: members.len(),
        jobs,
        by_status,
        disabled,
        paused: cluster.paused().await?,
        days,
        running,
        now,
    })
}

/// `GET /ui/jobs`.
pub(super) async fn jobs(
    State(ui): State<Ui>,
    granted: Granted,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = ui.ctx("", &granted);
    let (params, errors) = ListParams::parse(&pairs(raw.as_deref()));
    match ui.cluster.list_jobs(params.query()).await {
        Ok(page) => {
            let status = if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            html(status, views::jobs::render(&ctx, &params, &page, &errors))
        }
        Err(error) => failure(&ctx, &error, ("", "Back to the dashboard")),
    }
}

/// `GET /ui/jobs/{job}`: `?epage=N` pages the executions, `?full=<id>` shows one's whole
/// output, `?done=…` says what the last action did.
pub(super) async fn job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let ctx = ui.ctx("../", &granted);
    let query = pairs(raw.as_deref());
    let job = match ui.cluster.get_job(name.clone()).await {
        Ok(job) => job,
        Err(error) => return failure(&ctx, &error, ("jobs", "Back to the jobs")),
    };
    let exec_page = query
        .non_blank("epage")
        .and_then(|p| p.parse::<usize>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let start = (exec_page - 1).saturating_mul(EXECUTIONS_PER_PAGE);
    let exec_query = ExecQuery {
        start,
        end: Some(start.saturating_add(EXECUTIONS_PER_PAGE)),
        ..ExecQuery::default()
    };
    let mut executions = match ui.cluster.list_executions(name.clone(), exec_query).await {
        Ok(page) => page,
        Err(error) => return failure(&ctx, &error, ("jobs", "Back to the jobs")),
    };
    // A running execution's output so far lives on the node running it, not in the store.
    if executions.items.iter().any(|e| e.is_running())
        && let Ok(busy) = ui.cluster.busy().await
    {
        for e in executions.items.iter_mut().filter(|e| e.is_running()) {
            let id = e.id();
            if let Some(live) = busy
                .iter()
                .find(|b| b.job_name == e.job_name && b.id() == id)
            {
                live.output.clone_into(&mut e.output);
            }
        }
    }
    let full = match query.non_blank("full") {
        Some(id) => ui
            .cluster
            .get_execution(name.clone(), id.to_owned())
            .await
            .ok(),
        None => None,
    };
    let now = Timestamp::now();
    let explained = schedule::explain(&job, now);
    let notice = match query.get("done") {
        Some("run") => Some("Run started: its execution is listed below."),
        Some("enabled") => Some("The job is enabled."),
        Some("disabled") => Some("The job is disabled."),
        Some("saved") => Some("The job is saved."),
        Some("cancel") => Some("Cancellation asked: the execution stops shortly."),
        _ => None,
    };
    let page = JobPage {
        schedule_words: explained.words.unwrap_or_else(|e| format!("invalid: {e}")),
        zone: explained.zone,
        fires: explained.fires,
        job,
        executions,
        exec_page,
        exec_per_page: EXECUTIONS_PER_PAGE,
        full,
        notice,
        now,
    };
    html(StatusCode::OK, views::job::render(&ctx, &page))
}

/// `GET /ui/jobs/new`.
pub(super) async fn new_job(State(ui): State<Ui>, granted: Granted) -> Response {
    let ctx = ui.ctx("../", &granted);
    let form = JobForm::blank();
    html(
        StatusCode::OK,
        views::job_form::render(&ctx, &form, false, &[], &preview(&form)),
    )
}

/// `GET /ui/jobs/{job}/edit`.
pub(super) async fn edit_job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
) -> Response {
    let ctx = ui.ctx("../../", &granted);
    match ui.cluster.get_job(name).await {
        Ok(job) => {
            let form = JobForm::from_job(&job);
            html(
                StatusCode::OK,
                views::job_form::render(&ctx, &form, true, &[], &preview(&form)),
            )
        }
        Err(error) => failure(&ctx, &error, ("jobs", "Back to the jobs")),
    }
}

/// The schedule preview under the form's schedule field, rendered with the page.
pub(super) fn preview(form: &JobForm) -> maud::Markup {
    if form.schedule.is_empty() && form.parent_job.is_empty() {
        return html! { p.muted { "Type a schedule to see what it means and when it fires." } };
    }
    explain_form(form).preview()
}

fn explain_form(form: &JobForm) -> Explanation {
    let mut job = Job::new(form.name.clone());
    job.schedule.clone_from(&form.schedule);
    job.timezone.clone_from(&form.timezone);
    form.set_parents(&mut job);
    schedule::explain(&job, Timestamp::now())
}

/// `GET /ui/schedule?schedule=…&timezone=…`: the preview as JSON, for the form's script.
pub(super) async fn schedule_preview(RawQuery(raw): RawQuery) -> Response {
    let query = pairs(raw.as_deref());
    let form = JobForm {
        schedule: query.get("schedule").unwrap_or_default().trim().to_owned(),
        timezone: query.get("timezone").unwrap_or_default().trim().to_owned(),
        ..JobForm::default()
    };
    let body = serde_json::to_string(&explain_form(&form).json()).unwrap_or_default();
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// `GET /ui/members`.
pub(super) async fn members(State(ui): State<Ui>, granted: Granted) -> Response {
    let ctx = ui.ctx("", &granted);
    let members = match ui.cluster.members().await {
        Ok(members) => members,
        Err(error) => return failure(&ctx, &error, ("", "Back to the dashboard")),
    };
    let leader = ui.cluster.leader().await.ok().flatten().map(|m| m.name);
    html(
        StatusCode::OK,
        views::members::render(&ctx, &members, leader.as_deref()),
    )
}

/// `GET /ui/jobs/{job}/executions/{execution}/stream`: the execution's output as server-sent
/// events, as the API's `…/stream` (here so the login cookie, valid under `/ui/` only, lets the
/// job page's script follow it).
pub(super) async fn execution_stream(
    State(ui): State<Ui>,
    granted: Granted,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let ctx = ui.ctx("../../../../", &granted);
    let back = ("jobs", "Back to the jobs");
    let job = match ui.cluster.get_job(name).await {
        Ok(job) => job,
        Err(error) => return failure(&ctx, &error, back),
    };
    match ui.cluster.execution_output(job.name, id).await {
        Ok(events) => dkron_api::output_response(events),
        Err(error) => failure(&ctx, &error, back),
    }
}
