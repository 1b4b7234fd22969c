//! CORS for the allowed web origins only: the API's own and those in
//! [`crate::ApiOptions::cors_origins`] (the rule of `origin.rs`).
//!
//! dkron granted every origin; with API tokens and shell jobs behind the API, a page from any
//! other site must not be able to read answers or send `Authorization`. So:
//! - a preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin is
//!   answered 200 with the origin, every method, and the headers it asks for (`Authorization`
//!   included: a wildcard would not cover it); from any other origin it is refused (403, no
//!   grant), so the browser does not send the request;
//! - other responses carry `Access-Control-Allow-Origin: <origin>` and
//!   `Access-Control-Expose-Headers: *` (react-admin reads `X-Total-Count`) for an allowed
//!   origin, and no grant otherwise;
//! - requests without `Origin` (curl, scripts) are not affected; every response varies by
//!   `Origin`.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::origin::{AllowedOrigins, is_allowed};

/// Methods a preflight grants.
const METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// The middleware: see the module docs.
pub(crate) async fn cors(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let origin = headers.get(header::ORIGIN).cloned();
    let granted = origin.as_ref().is_some_and(|origin| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        origin
            .to_str()
            .is_ok_and(|origin| is_allowed(origin, host, &allowed))
    });
    let preflight = origin.is_some()
        && request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        preflight_response(granted, headers)
    } else {
        next.run(request).await
    };
    let out = response.headers_mut();
    out.append(header::VARY, HeaderValue::from_static("origin"));
    if let (true, Some(origin)) = (granted, origin) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if !preflight {
            out.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("*"),
            );
        }
    }
    response
}

/// The answer to a preflight with `request` headers: the grant, or a refusal.
fn preflight_response(granted: bool, request: &HeaderMap) -> Response {
    if !granted {
        return (
            StatusCode::FORBIDDEN,
            "CORS preflight refused: this origin is not the API's own; list it with --cors-origins to allow it\n",
        )
            .into_response();
    }
    let mut response = StatusCode::OK.into_response();
    let out = response.headers_mut();
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    out.append(
        header::VARY,
        HeaderValue::from_static("access-control-request-method, access-control-request-headers"),
    );
    response
}
