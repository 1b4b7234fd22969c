//! The write guard against other web sites: a browser sends `Origin` with a cross-site
//! request, and a `text/plain` POST needs no preflight, so any page an operator opens could
//! otherwise create a shell job on `localhost:8080`. Writes (every method but GET, HEAD and
//! OPTIONS) that carry an `Origin` other than the API's own, or one of the configured
//! `cors-origins`, are refused with 403 and change nothing. Requests without `Origin` (curl,
//! scripts, other servers) are not affected. The same origins, and only they, get CORS grants
//! (`cors.rs`).

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Origins allowed to write besides the API's own (`scheme://host[:port]`, exact).
pub(crate) type AllowedOrigins = Arc<[String]>;

/// The middleware: see the module docs.
pub(crate) async fn guard_writes(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    if is_read(request.method()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let Some(origin) = headers.get(header::ORIGIN) else {
        return next.run(request).await;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default();
    if is_allowed(origin, host, &allowed) {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        format!(
            "cross-origin write refused: origin {origin:?} is not this API's; list it with --cors-origins to allow it"
        ),
    )
        .into_response()
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether `origin` may write and get CORS grants: the API's own origin (same host and port as
/// the request's `Host`) or one listed. `null` (a sandboxed page, a `file://` page) never is.
pub(crate) fn is_allowed(origin: &str, host: &str, allowed: &[String]) -> bool {
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https") && !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use crate::origin::is_allowed;

    /// Same host and port, a listed origin: allowed; another site, another port, `null`,
    /// garbage: refused.
    #[test]
    fn origins_that_may_write() {
        let listed = ["https://ui.example.com".to_owned()];
        assert!(is_allowed("http://localhost:8080", "localhost:8080", &[]));
        assert!(is_allowed(
            "https://ui.example.com",
            "localhost:8080",
            &listed
        ));
        assert!(!is_allowed(
            "http://evil.example",
            "localhost:8080",
            &listed
        ));
        assert!(!is_allowed("http://localhost:9999", "localhost:8080", &[]));
        assert!(!is_allowed("null", "localhost:8080", &[]));
        assert!(!is_allowed("localhost:8080", "localhost:8080", &[]));
        assert!(!is_allowed("http://localhost:8080", "", &[]));
    }
}
