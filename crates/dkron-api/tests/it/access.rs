//! Access control through the router: protected mode by peer address, bearer tokens and
//! roles, `/health` open, refusals that change nothing, extra routes behind the same guard.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    http::{Method, StatusCode},
    routing::get,
};
use dkron_api::{Access, ApiOptions, ApiToken};

use crate::support::{FakeCluster, Handle, app_with, send, send_from, shell_job};

const READ: &str = "read-token-0123456789";
const WRITE: &str = "write-token-0123456789";

fn peer(text: &str) -> Option<SocketAddr> {
    Some(text.parse().expect("a socket address"))
}

fn with_tokens() -> ApiOptions {
    ApiOptions::default().with_access(Access::with_tokens(vec![
        ApiToken::parse(&format!("read:{READ}")).expect("token"),
        ApiToken::parse(&format!("write:{WRITE}")).expect("token"),
    ]))
}

/// Protected mode (the default): a non-loopback client, or one whose address is unknown, gets
/// 403 with how to configure a token or opt out, and nothing is created; loopback (v4, v6,
/// mapped) is served; `/health` answers everyone.
#[tokio::test]
async fn protected_mode() {
    let (router, fake) = app_with(ApiOptions::default());
    for far in [peer("10.1.2.3:5000"), peer("[2001:db8::7]:5000"), None] {
        let post = send_from(
            &router,
            far,
            Method::POST,
            "/v1/jobs",
            Some(&shell_job("far")),
            &[],
        )
        .await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "{far:?}");
        let reason = post.text();
        assert!(
            reason.contains("--api-token") && reason.contains("--insecure-open-api"),
            "{reason}"
        );
        assert_eq!(reason.trim_end().lines().count(), 1, "one line: {reason}");
        let read = send_from(&router, far, Method::GET, "/v1/jobs", None, &[]).await;
        assert_eq!(read.status, StatusCode::FORBIDDEN);
        let health = send_from(&router, far, Method::GET, "/health", None, &[]).await;
        assert_eq!(health.status, StatusCode::OK, "{}", health.text());
    }
    assert!(fake.lock().jobs.is_empty(), "nothing created");

    for (name, near) in [
        ("v4", "127.0.0.1:5000"),
        ("v6", "[::1]:5000"),
        ("mapped", "[::ffff:127.0.0.1]:5000"),
    ] {
        let post = send_from(
            &router,
            peer(near),
            Method::POST,
            "/v1/jobs",
            Some(&shell_job(name)),
            &[],
        )
        .await;
        assert_eq!(post.status, StatusCode::CREATED, "{near}: {}", post.text());
    }
    assert_eq!(fake.lock().jobs.len(), 3);
}

/// `--insecure-open-api`: every address is served without a token.
#[tokio::test]
async fn open_mode() {
    let (router, fake) = app_with(ApiOptions::default().with_access(Access::Open));
    let post = send_from(
        &router,
        peer("10.1.2.3:5000"),
        Method::POST,
        "/v1/jobs",
        Some(&shell_job("open")),
        &[],
    )
    .await;
    assert_eq!(post.status, StatusCode::CREATED, "{}", post.text());
    assert!(fake.lock().jobs.contains_key("open"));
}

/// With tokens, from loopback as from elsewhere: none or an unknown token is 401 with a
/// bearer challenge; a read token reads and gets 403 on a write (nothing changes); a write
/// token writes; `/health` needs none.
#[tokio::test]
async fn tokens_and_roles() {
    let (router, fake) = app_with(with_tokens());
    let read_auth = format!("Bearer {READ}");
    let write_auth = format!("Bearer {WRITE}");
    for from in [peer("127.0.0.1:5000"), peer("10.1.2.3:5000")] {
        let bare = send_from(&router, from, Method::GET, "/v1/jobs", None, &[]).await;
        assert_eq!(bare.status, StatusCode::UNAUTHORIZED, "{from:?}");
        assert_eq!(
            bare.header("www-authenticate"),
            Some(r#"Bearer realm="dkron""#)
        );
        let wrong = send_from(
            &router,
            from,
            Method::GET,
            "/v1/jobs",
            None,
            &[("authorization", "Bearer not-a-configured-token")],
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(
            wrong
                .header("www-authenticate")
                .is_some_and(|c| c.contains("invalid_token"))
        );
        assert!(!wrong.text().contains("not-a-configured-token"));

        let read = send_from(
            &router,
            from,
            Method::GET,
            "/v1/jobs",
            None,
            &[("authorization", &read_auth)],
        )
        .await;
        assert_eq!(read.status, StatusCode::OK);
        // Following an execution's output is a read (404 here: the job does not exist).
        let stream_path = "/v1/jobs/none/executions/1-n/stream";
        let bare_stream = send_from(&router, from, Method::GET, stream_path, None, &[]).await;
        assert_eq!(bare_stream.status, StatusCode::UNAUTHORIZED);
        let read_stream = send_from(
            &router,
            from,
            Method::GET,
            stream_path,
            None,
            &[("authorization", &read_auth)],
        )
        .await;
        assert_eq!(read_stream.status, StatusCode::NOT_FOUND);
        let denied = send_from(
            &router,
            from,
            Method::POST,
            "/v1/jobs",
            Some(&shell_job("by-reader")),
            &[("authorization", &read_auth)],
        )
        .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text());
        assert!(
            denied
                .header("www-authenticate")
                .is_some_and(|c| c.contains("insufficient_scope"))
        );
        let health = send_from(&router, from, Method::GET, "/health", None, &[]).await;
        assert_eq!(health.status, StatusCode::OK);
    }
    assert!(fake.lock().jobs.is_empty(), "refusals change nothing");

    let created = send_from(
        &router,
        peer("10.1.2.3:5000"),
        Method::POST,
        "/v1/jobs",
        Some(&shell_job("by-writer")),
        &[("authorization", &write_auth)],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let deleted = send(
        &router,
        Method::DELETE,
        "/v1/jobs/by-writer",
        None,
        &[("authorization", &write_auth)],
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK);
}

/// A 401 still carries the CORS grant of an allowed origin (a browser UI can tell "log in"
/// from "network error"); a preflight needs no token.
#[tokio::test]
async fn refusals_are_readable_by_allowed_origins() {
    let (router, _fake) = app_with(with_tokens());
    let headers = [
        ("host", "localhost:8080"),
        ("origin", "http://localhost:8080"),
    ];
    let refused = send(&router, Method::GET, "/v1/jobs", None, &headers).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("http://localhost:8080")
    );
    let preflight = send(
        &router,
        Method::OPTIONS,
        "/v1/jobs",
        None,
        &[
            headers[0],
            headers[1],
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    assert_eq!(preflight.status, StatusCode::OK);
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("authorization")
    );
}

/// Routes the node adds through `router_with` (`/metrics`, the UI) are behind the same guard.
#[tokio::test]
async fn extra_routes_are_guarded() {
    let fake = FakeCluster::new();
    let extra = Router::new().route("/metrics", get(|| async { "metrics" }));
    let router = dkron_api::router_with(Arc::new(Handle(Arc::clone(&fake))), with_tokens(), extra);
    let bare = send(&router, Method::GET, "/metrics", None, &[]).await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    let auth = format!("Bearer {READ}");
    let read = send(
        &router,
        Method::GET,
        "/metrics",
        None,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(
        (read.status, read.text().as_str()),
        (StatusCode::OK, "metrics")
    );
    assert_eq!(read.header("x-whom"), Some("node1"));

    let protected = dkron_api::router_with(
        Arc::new(Handle(fake)),
        ApiOptions::default(),
        Router::new().route("/metrics", get(|| async { "metrics" })),
    );
    let far = send_from(
        &protected,
        peer("10.1.2.3:5000"),
        Method::GET,
        "/metrics",
        None,
        &[],
    )
    .await;
    assert_eq!(far.status, StatusCode::FORBIDDEN);
}
