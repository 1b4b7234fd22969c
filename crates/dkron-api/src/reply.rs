//! Responses: JSON rendering (`?pretty`), and the one mapping from failures to status codes.
//!
//! Error bodies are plain text or empty, as dkron's (clients look at status codes; the UI shows
//! the text). Where dkron's code was plainly wrong we changed it; `docs/api.md` lists each case.

use axum::{
    body::Body,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{ClusterError, wire::BodyError};

/// Response header naming the request field an error is about (`schedule`, `retries`,
/// `tags.env`, `_sort`…). dkron-rs addition: dkron's bodies stay exactly dkron's text.
pub const ERROR_FIELD_HEADER: HeaderName = HeaderName::from_static("x-dkron-error-field");

/// Response header naming the leader when this node could not forward a write to it.
pub const LEADER_HEADER: HeaderName = HeaderName::from_static("x-dkron-leader");

/// Total count of a list before paging (react-admin reads it).
pub const TOTAL_COUNT_HEADER: HeaderName = HeaderName::from_static("x-total-count");

/// Why a request did not succeed. Every variant, and every [`ClusterError`] inside, gets its
/// status code in [`Failure::into_response`]'s single exhaustive match.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The cluster refused or failed.
    Cluster(ClusterError),
    /// The body is not a usable job.
    Body(BodyError),
    /// The job failed [`dkron_model::Job::validate`].
    Invalid(dkron_model::Error),
    /// A query parameter is malformed.
    Query {
        /// The parameter.
        param: String,
        /// What is wrong.
        message: String,
    },
    /// A multipart restore upload without a `file` field (dkron: 404).
    MissingFile,
    /// A restore file that cannot be used as a whole.
    Restore(String),
    /// A request that cannot be served as asked, with the reason (plain text, 400).
    Plain(String),
    /// A response could not be serialised (a bug).
    Render(String),
}

impl From<ClusterError> for Failure {
    fn from(error: ClusterError) -> Failure {
        Failure::Cluster(error)
    }
}

impl From<BodyError> for Failure {
    fn from(error: BodyError) -> Failure {
        Failure::Body(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Cluster(error) => cluster_failure(error),
            Failure::Body(BodyError::Syntax(message)) => text(
                StatusCode::BAD_REQUEST,
                format!("Unable to parse payload: {message}."),
            ),
            Failure::Body(BodyError::Field { field, message }) => with_field(
                text(
                    StatusCode::BAD_REQUEST,
                    format!("Unable to parse payload: field \"{field}\": {message}."),
                ),
                &field,
            ),
            Failure::Body(BodyError::Invalid(error)) | Failure::Invalid(error) => invalid(&error),
            Failure::Query { param, message } => with_field(
                text(
                    StatusCode::BAD_REQUEST,
                    format!("invalid query parameter \"{param}\": {message}"),
                ),
                &param,
            ),
            Failure::MissingFile => empty(StatusCode::NOT_FOUND),
            Failure::Restore(message) | Failure::Plain(message) => {
                text(StatusCode::BAD_REQUEST, message)
            }
            Failure::Render(message) => {
                tracing::error!(%message, "cannot render response");
                empty(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// The status code of each cluster error. No `_` arm: a new variant must be decided here.
fn cluster_failure(error: ClusterError) -> Response {
    match error {
        ClusterError::JobNotFound { .. } | ClusterError::ExecutionNotFound { .. } => {
            empty(StatusCode::NOT_FOUND)
        }
        // dkron's exact body; the UI and e2e tests compare it.
        ClusterError::ParentNotFound { .. } => {
            text(StatusCode::NOT_FOUND, "specified parent job not found")
        }
        ClusterError::HasDependents { .. } | ClusterError::ExecutionFinished { .. } => {
            text(StatusCode::CONFLICT, error.to_string())
        }
        ClusterError::Validation(error) => invalid(&error),
        ClusterError::JobDisabled { .. } | ClusterError::NoTargets { .. } => {
            text(StatusCode::NOT_FOUND, error.to_string())
        }
        ClusterError::NotLeader { ref leader } => {
            let mut response = text(StatusCode::SERVICE_UNAVAILABLE, error.to_string());
            if let Some(value) = leader
                .as_deref()
                .and_then(|l| HeaderValue::from_str(l).ok())
            {
                response.headers_mut().insert(LEADER_HEADER, value);
            }
            response
        }
        ClusterError::Paused => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "New job submissions are currently paused",
        ),
        ClusterError::Unavailable { .. } => {
            text(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
        ClusterError::Internal { .. } => {
            tracing::error!(%error, "request failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
        }
    }
}

/// dkron's `400 Job validation failed: <reason>.`, plus the field header.
fn invalid(error: &dkron_model::Error) -> Response {
    let response = text(
        StatusCode::BAD_REQUEST,
        format!("Job validation failed: {error}."),
    );
    match error.field() {
        Some(field) => with_field(response, field),
        None => response,
    }
}

fn with_field(mut response: Response, field: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(field) {
        response.headers_mut().insert(ERROR_FIELD_HEADER, value);
    }
    response
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// An empty response.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A JSON response; `pretty` indents by four spaces, as gin's `IndentedJSON`.
pub(crate) fn json<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
    pretty: bool,
) -> Result<Response, Failure> {
    let bytes = if pretty {
        let mut out = Vec::with_capacity(256);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        value
            .serialize(&mut serializer)
            .map_err(|e| Failure::Render(e.to_string()))?;
        out
    } else {
        serde_json::to_vec(value).map_err(|e| Failure::Render(e.to_string()))?
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(response)
}

/// Adds `X-Total-Count`.
pub(crate) fn with_total(mut response: Response, total: usize) -> Response {
    response
        .headers_mut()
        .insert(TOTAL_COUNT_HEADER, HeaderValue::from(total));
    response
}

/// Adds a `Location` header (a relative reference, so it survives a path-prefix proxy).
pub(crate) fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
