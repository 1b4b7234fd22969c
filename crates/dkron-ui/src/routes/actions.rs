//! The form posts that write: create and update a job, run it, toggle it, delete it, backfill
//! it, cancel an execution. Each calls the [`dkron_api::Cluster`] as the REST API's handler for the same
//! write does, then redirects (303) to the page that shows the result; a refused write shows
//! why and changes nothing.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use dkron_api::{BackfillError, ClusterError, UpsertOptions};
use dkron_model::Job;
use jiff::tz::TimeZone;

use super::{Granted, Ui, failure, html, pages::preview, see_other, status_of};
use crate::{
    backfill::BackfillForm,
    form::{FieldError, JobForm},
    links::{Pairs, segment},
    views::{self, Ctx},
};

/// `POST /ui/jobs/new`.
pub(super) async fn create_job(State(ui): State<Ui>, granted: Granted, body: Bytes) -> Response {
    let ctx = ui.ctx("../", &granted);
    let form = JobForm::from_pairs(&Pairs::parse(&body));
    save(&ui, &ctx, form, None).await
}

/// `POST /ui/jobs/{job}/edit`.
pub(super) async fn update_job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = ui.ctx("../../", &granted);
    let mut form = JobForm::from_pairs(&Pairs::parse(&body));
    // The page edits the job it is the page of, whatever name the form carries.
    form.name.clone_from(&name);
    let stored = match ui.cluster.get_job(name).await {
        Ok(job) => job,
        Err(error) => return failure(&ctx, &error, ("jobs", "Back to the jobs")),
    };
    save(&ui, &ctx, form, Some(stored)).await
}

/// Validates and writes the job of `form` (over `stored` when editing) the way the API's
/// `POST /v1/jobs` does, or shows the form again with every problem at its field.
async fn save(ui: &Ui, ctx: &Ctx, form: JobForm, stored: Option<Job>) -> Response {
    let editing = stored.is_some();
    let refused = |errors: Vec<FieldError>, status: StatusCode| {
        html(
            status,
            views::job_form::render(ctx, &form, editing, &errors, &preview(&form)),
        )
    };
    let mut job = match form.apply(stored.unwrap_or_default()) {
        Ok(job) => job,
        Err(errors) => return refused(errors, StatusCode::BAD_REQUEST),
    };
    // Counters, status and the like belong to the cluster (as in the API).
    job.clear_server_fields();
    if let Err(error) = job.validate() {
        let field = error.field().unwrap_or_default();
        return refused(
            vec![FieldError::new(field, error.to_string())],
            StatusCode::BAD_REQUEST,
        );
    }
    // The API's create replaces a job of the same name; a person filling "New job" more
    // likely mistyped, so the form refuses instead.
    if !editing && ui.cluster.get_job(job.name.clone()).await.is_ok() {
        return refused(
            vec![FieldError::new(
                "name",
                format!("a job named {} exists already: edit it instead", job.name),
            )],
            StatusCode::CONFLICT,
        );
    }
    match ui.cluster.paused().await {
        Ok(false) => {}
        Ok(true) => {
            let error = ClusterError::Paused;
            return refused(
                vec![FieldError::new("", error.to_string())],
                status_of(&error),
            );
        }
        Err(error) => {
            return refused(
                vec![FieldError::new("", error.to_string())],
                status_of(&error),
            );
        }
    }
    match ui.cluster.upsert_job(job, UpsertOptions::default()).await {
        Ok(saved) => {
            let page = format!("{}?done=saved", segment(&saved.name));
            if editing {
                see_other(&format!("../{page}"))
            } else {
                see_other(&page)
            }
        }
        Err(error) => {
            let field = match &error {
                ClusterError::ParentNotFound { .. } => "parent_job",
                ClusterError::Validation(e) => e.field().unwrap_or_default(),
                _ => "",
            };
            let status = status_of(&error);
            refused(vec![FieldError::new(field, error.to_string())], status)
        }
    }
}

/// `POST /ui/jobs/{job}/run`: starts a manual run (in the background).
pub(super) async fn run_job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
) -> Response {
    let ctx = ui.ctx("../../", &granted);
    match ui.cluster.run_job(name.clone()).await {
        Ok(job) => see_other(&format!("../{}?done=run#executions", segment(&job.name))),
        Err(error) => failure(&ctx, &error, (&job_page(&name), "Back to the job")),
    }
}

/// `POST /ui/jobs/{job}/toggle`.
pub(super) async fn toggle_job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
) -> Response {
    let ctx = ui.ctx("../../", &granted);
    match ui.cluster.toggle_job(name.clone()).await {
        Ok(job) => {
            let done = if job.disabled { "disabled" } else { "enabled" };
            see_other(&format!("../{}?done={done}", segment(&job.name)))
        }
        Err(error) => failure(&ctx, &error, (&job_page(&name), "Back to the job")),
    }
}

/// `POST /ui/jobs/{job}/delete`: without `confirm=yes`, asks first; with it, deletes the job
/// and its executions and goes to the jobs list.
pub(super) async fn delete_job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = ui.ctx("../../", &granted);
    let confirmed = Pairs::parse(&body).get("confirm") == Some("yes");
    if !confirmed {
        return match ui.cluster.get_job(name).await {
            Ok(job) => html(StatusCode::OK, views::job::confirm_delete(&ctx, &job)),
            Err(error) => failure(&ctx, &error, ("jobs", "Back to the jobs")),
        };
    }
    match ui.cluster.delete_job(name.clone()).await {
        Ok(_) => see_other("../../jobs"),
        Err(error) => failure(&ctx, &error, (&job_page(&name), "Back to the job")),
    }
}

/// `POST /ui/jobs/{job}/executions/{execution}/cancel`.
pub(super) async fn cancel_execution(
    State(ui): State<Ui>,
    granted: Granted,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let ctx = ui.ctx("../../../../", &granted);
    match ui.cluster.cancel_execution(name.clone(), id).await {
        Ok(_) => see_other(&format!(
            "../../../{}?done=cancel#executions",
            segment(&name)
        )),
        Err(error) => failure(&ctx, &error, (&job_page(&name), "Back to the job")),
    }
}

/// The job page's path below `/ui/`.
fn job_page(name: &str) -> String {
    format!("jobs/{}", segment(name))
}

/// `POST /ui/jobs/{job}/backfill`: runs the schedule's instants in the form's range as the
/// API's backfill does ([`dkron_api::backfill`]), and shows what was launched, or why nothing
/// was, with the form again.
pub(super) async fn backfill_job(
    State(ui): State<Ui>,
    granted: Granted,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = ui.ctx("../../", &granted);
    let job = match ui.cluster.get_job(name).await {
        Ok(job) => job,
        Err(error) => return failure(&ctx, &error, ("jobs", "Back to the jobs")),
    };
    let tz = job.time_zone().unwrap_or(TimeZone::UTC);
    let form = BackfillForm::from_pairs(&Pairs::parse(&body));
    let page = |status: StatusCode, errors: &[FieldError], launched: &[jiff::Timestamp]| {
        html(
            status,
            views::backfill::render(&ctx, &job, &tz, &form, errors, launched),
        )
    };
    let request = match form.request(&tz) {
        Ok(request) => request,
        Err(errors) => return page(StatusCode::BAD_REQUEST, &errors, &[]),
    };
    let max = ui.options.max_backfill_fires;
    match dkron_api::backfill(ui.cluster.as_ref(), job.name.clone(), request, max).await {
        Ok(done) => page(StatusCode::OK, &[], &done.launched),
        Err(error) => {
            let (field, status) = match &error {
                BackfillError::Field { field, .. } => (field.as_str(), StatusCode::BAD_REQUEST),
                BackfillError::Child { .. } => ("", StatusCode::BAD_REQUEST),
                BackfillError::Cluster(error) => ("", status_of(error)),
            };
            page(status, &[FieldError::new(field, error.to_string())], &[])
        }
    }
}
