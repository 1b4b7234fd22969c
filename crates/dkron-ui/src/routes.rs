//! The route table, the headers every page gets, and what the handlers share: who is looking,
//! how a cluster failure becomes a page, and relative redirects. Handlers are grouped in
//! `routes/pages.rs` (what is read), `routes/actions.rs` (what writes) and `routes/session.rs`
//! (login and logout).

mod actions;
mod pages;
mod session;

use std::sync::Arc;

use axum::{
    Extension, Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use dkron_api::{Cluster, ClusterError, Role};
use maud::Markup;

use crate::{
    UiOptions, assets,
    views::{self, Ctx, Viewer},
};

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct Ui {
    pub(crate) cluster: Arc<dyn Cluster>,
    pub(crate) options: Arc<UiOptions>,
}

/// The policy of every HTML page: scripts, styles and images from the UI itself only, no inline
/// script or style, no framing, forms posted only to the UI.
const CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub(crate) fn router(cluster: Arc<dyn Cluster>, options: UiOptions) -> Router {
    let ui = Ui {
        cluster,
        options: Arc::new(options),
    };
    Router::new()
        // `/ui` has no trailing slash: its relative links would resolve above the UI.
        .route("/ui", get(|| async { Redirect::permanent("ui/") }))
        .route("/ui/", get(pages::dashboard))
        .route("/ui/jobs", get(pages::jobs))
        .route(
            "/ui/jobs/new",
            get(pages::new_job).post(actions::create_job),
        )
        .route("/ui/jobs/{job}", get(pages::job))
        .route(
            "/ui/jobs/{job}/edit",
            get(pages::edit_job).post(actions::update_job),
        )
        .route("/ui/jobs/{job}/run", post(actions::run_job))
        .route("/ui/jobs/{job}/toggle", post(actions::toggle_job))
        .route("/ui/jobs/{job}/delete", post(actions::delete_job))
        .route("/ui/jobs/{job}/backfill", post(actions::backfill_job))
        .route(
            "/ui/jobs/{job}/executions/{execution}/cancel",
            post(actions::cancel_execution),
        )
        .route(
            "/ui/jobs/{job}/executions/{execution}/stream",
            get(pages::execution_stream),
        )
        .route("/ui/members", get(pages::members))
        .route("/ui/schedule", get(pages::schedule_preview))
        .route("/ui/login", get(session::login_form).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/assets/{file}", get(assets::serve))
        .with_state(ui)
        .layer(axum::middleware::map_response(page_headers))
}

/// Security and caching headers on every HTML answer.
async fn page_headers(mut response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        // Pages show live state; a back button must not show a stale one.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The role the access layer granted, as an extractor (absent: served without one).
pub(crate) type Granted = Option<Extension<Role>>;

impl Ui {
    /// The page context for a page `base` below `/ui/`, for the caller with `granted`.
    pub(crate) fn ctx(&self, base: &'static str, granted: &Granted) -> Ctx {
        let token_mode = self.options.access.needs_token();
        // Without a granted role, write buttons are shown only where no token is needed (the
        // router used on its own, as in tests and benches); the access layer grants a role to
        // every request it lets through to a page.
        let can_write = match granted {
            Some(Extension(role)) => *role == Role::Write,
            None => !token_mode,
        };
        Ctx {
            base,
            viewer: Viewer {
                can_write,
                token_mode,
                logged_in: token_mode && granted.is_some(),
            },
        }
    }
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response()
}

/// 303 See Other to `location`, relative to the request's path.
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// The status code a cluster failure gets on a page.
pub(crate) fn status_of(error: &ClusterError) -> StatusCode {
    match error {
        ClusterError::JobNotFound { .. }
        | ClusterError::ExecutionNotFound { .. }
        | ClusterError::ParentNotFound { .. } => StatusCode::NOT_FOUND,
        ClusterError::HasDependents { .. }
        | ClusterError::JobDisabled { .. }
        | ClusterError::NoTargets { .. }
        | ClusterError::ExecutionFinished { .. } => StatusCode::CONFLICT,
        ClusterError::Validation(_) => StatusCode::BAD_REQUEST,
        ClusterError::NotLeader { .. }
        | ClusterError::Paused
        | ClusterError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ClusterError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A cluster failure as a page, with a link to `back` (relative to `/ui/`).
pub(crate) fn failure(ctx: &Ctx, error: &ClusterError, back: (&str, &str)) -> Response {
    let status = status_of(error);
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Not possible now",
        StatusCode::BAD_REQUEST => "Refused",
        StatusCode::SERVICE_UNAVAILABLE => "Cluster unavailable",
        _ => "Something went wrong",
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::warn!(%error, "UI request failed");
    }
    html(
        status,
        views::error::render(ctx, title, &error.to_string(), back),
    )
}
