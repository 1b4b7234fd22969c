//! The route table and the layers around it.
//!
//! Every path is registered with and without a trailing slash (old clients POST to
//! `/v1/jobs/`; gin redirected, we answer directly). Handlers live in `routes/*.rs`, grouped by
//! resource.

mod backfill;
mod executions;
mod jobs;
mod node;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::Response,
    routing::{MethodRouter, get, post},
};
use tower_http::{
    catch_panic::CatchPanicLayer, set_header::SetResponseHeaderLayer, trace::TraceLayer,
};

use crate::{ApiOptions, Cluster, reply};

/// Shared state of every handler.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) cluster: Arc<dyn Cluster>,
    pub(crate) options: Arc<ApiOptions>,
}

/// The `X-Whom` response header: the node's name.
const WHOM_HEADER: HeaderName = HeaderName::from_static("x-whom");

/// Every path the router serves, with its methods (without the trailing-slash twins). The
/// OpenAPI test checks that the document lists exactly these, and the router test that each
/// answers.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &[&str])] = &[
    ("/health", &["GET"]),
    ("/debug/vars", &["GET"]),
    ("/", &["GET"]),
    ("/v1", &["GET"]),
    ("/v1/openapi.json", &["GET"]),
    ("/v1/members", &["GET"]),
    ("/v1/leader", &["GET"]),
    ("/v1/isleader", &["GET"]),
    ("/v1/leave", &["POST"]),
    ("/v1/restore", &["POST"]),
    ("/v1/busy", &["GET"]),
    ("/v1/pause", &["GET", "POST"]),
    ("/v1/unpause", &["POST"]),
    ("/v1/stats", &["GET"]),
    ("/v1/jobs", &["GET", "POST", "PUT", "PATCH"]),
    ("/v1/jobs/{job}", &["GET", "POST", "PUT", "DELETE"]),
    ("/v1/job/{job}", &["GET", "POST", "PUT", "DELETE"]),
    ("/v1/jobs/{job}/run", &["POST"]),
    ("/v1/jobs/{job}/toggle", &["POST"]),
    ("/v1/jobs/{job}/next", &["GET"]),
    ("/v1/jobs/{job}/backfill", &["POST"]),
    ("/v1/jobs/{job}/executions", &["GET", "DELETE"]),
    ("/v1/executions/{job}", &["GET"]),
    ("/v1/jobs/{job}/executions/{execution}", &["GET"]),
    ("/v1/jobs/{job}/executions/{execution}/cancel", &["POST"]),
    ("/v1/jobs/{job}/executions/{execution}/stream", &["GET"]),
];

pub(crate) fn router(cluster: Arc<dyn Cluster>, options: ApiOptions, extra: Router) -> Router {
    let whom = whom_value(cluster.node_name());
    let body_limit = options.max_body_bytes;
    let restore_limit = options.max_restore_bytes;
    let allowed: crate::origin::AllowedOrigins = options.cors_origins.clone().into();
    let access = Arc::new(options.access.clone());
    let api = Api {
        cluster,
        options: Arc::new(options),
    };

    let job_item = || {
        get(jobs::get_job)
            .post(jobs::run_job)
            .put(jobs::put_job)
            .delete(jobs::delete_job)
    };
    let routes = [
        ("/health", get(node::health)),
        ("/debug/vars", get(node::debug_vars)),
        ("/v1", get(node::index)),
        ("/v1/openapi.json", get(node::openapi)),
        ("/v1/members", get(node::members)),
        ("/v1/leader", get(node::leader)),
        ("/v1/isleader", get(node::is_leader)),
        ("/v1/leave", post(node::leave)),
        (
            "/v1/restore",
            post(jobs::restore).layer(DefaultBodyLimit::max(restore_limit)),
        ),
        ("/v1/busy", get(node::busy)),
        ("/v1/pause", get(node::pause_status).post(node::pause)),
        ("/v1/unpause", post(node::unpause)),
        ("/v1/stats", get(node::stats)),
        (
            "/v1/jobs",
            get(jobs::list_jobs)
                .post(jobs::create_job)
                .put(jobs::create_job)
                .patch(jobs::create_job),
        ),
        ("/v1/jobs/{job}", job_item()),
        ("/v1/job/{job}", job_item()),
        ("/v1/jobs/{job}/run", post(jobs::run_job)),
        ("/v1/jobs/{job}/toggle", post(jobs::toggle_job)),
        ("/v1/jobs/{job}/next", get(jobs::next_fires)),
        ("/v1/jobs/{job}/backfill", post(backfill::backfill)),
        (
            "/v1/jobs/{job}/executions",
            get(executions::list).delete(executions::delete_all),
        ),
        ("/v1/executions/{job}", get(executions::list)),
        (
            "/v1/jobs/{job}/executions/{execution}",
            get(executions::get),
        ),
        (
            "/v1/jobs/{job}/executions/{execution}/cancel",
            post(executions::cancel),
        ),
        (
            "/v1/jobs/{job}/executions/{execution}/stream",
            get(executions::stream),
        ),
    ];
    let mut router = Router::new().route("/", get(node::root));
    for (path, methods) in routes {
        router = with_trailing_slash(router, path, methods);
    }

    router
        .with_state(api)
        .merge(extra)
        // Before anything runs: a refused cross-origin write must change nothing.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&allowed),
            crate::origin::guard_writes,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        // Who may call at all, before any handler; inside tracing so refusals are traced.
        .layer(axum::middleware::from_fn_with_state(
            access,
            crate::access::guard,
        ))
        .layer(TraceLayer::new_for_http())
        // Outside access control: preflights carry no credentials, and a refusal's status
        // must be readable by an allowed origin's page.
        .layer(axum::middleware::from_fn_with_state(
            allowed,
            crate::cors::cors,
        ))
        // Outermost, so that answers the CORS layer gives by itself (preflights) carry it too.
        .layer(SetResponseHeaderLayer::overriding(WHOM_HEADER, whom))
}

fn with_trailing_slash(router: Router<Api>, path: &str, methods: MethodRouter<Api>) -> Router<Api> {
    router
        .route(path, methods.clone())
        .route(&format!("{path}/"), methods)
}

/// The node name as a header value; characters a header cannot carry become `?`.
fn whom_value(name: &str) -> HeaderValue {
    let visible: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    HeaderValue::from_str(&visible).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// A panicking handler answers an empty 500 (gin's Recovery did the same) and is logged.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(%message, "request handler panicked");
    let mut response = reply::empty(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    response
}
