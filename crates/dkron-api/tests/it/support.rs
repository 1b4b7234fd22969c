//! An in-memory [`Cluster`] with dkron's store rules, and helpers to drive the router.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::ConnectInfo,
    http::{HeaderMap, Method, Request, StatusCode},
};
use dkron_api::ApiOptions;
use jiff::Timestamp;
use serde_json::Value;
use tower::ServiceExt;

/// The fake cluster (shared with dkron-ui's tests); tests read and change its state directly.
pub(crate) use dkron_api::testing::{FakeCluster, Handle};

/// A router over a fresh fake, and the fake.
pub(crate) fn app() -> (Router, Arc<FakeCluster>) {
    app_with(ApiOptions::default())
}

/// A router with `options` over a fresh fake.
pub(crate) fn app_with(options: ApiOptions) -> (Router, Arc<FakeCluster>) {
    let fake = FakeCluster::new();
    let router = dkron_api::router(Arc::new(Handle(Arc::clone(&fake))), options);
    (router, fake)
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `/v1/restore`'s answer: a JSON string holding a JSON array of per-job results (dkron's).
    pub(crate) fn restore_results(&self) -> Vec<String> {
        let Value::String(inner) = self.json() else {
            panic!("a JSON string expected: {}", self.text());
        };
        serde_json::from_str(&inner).expect("inner JSON array")
    }
}

/// `POST /v1/restore` with `body` sent as `content_type`.
pub(crate) async fn restore(router: &Router, body: &str, content_type: &str) -> Reply {
    send(
        router,
        Method::POST,
        "/v1/restore",
        Some(body),
        &[("content-type", content_type)],
    )
    .await
}

/// The peer address of requests sent with [`send`]: loopback, which protected mode (the
/// default) serves.
const LOOPBACK_PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

/// Sends one request through the router (no socket) from a loopback peer and reads the whole
/// response.
pub(crate) async fn send(
    router: &Router,
    method: Method,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let peer = Some(SocketAddr::from(LOOPBACK_PEER));
    send_from(router, peer, method, uri, body, headers).await
}

/// [`send`] from `peer`, as `serve` gives it; `None`: without a peer address.
pub(crate) async fn send_from(
    router: &Router,
    peer: Option<SocketAddr>,
    method: Method,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(peer) = peer {
        request = request.extension(ConnectInfo(peer));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .expect("valid request");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body readable")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Method::GET, uri, None, &[]).await
}

pub(crate) async fn post(router: &Router, uri: &str, body: &str) -> Reply {
    send(router, Method::POST, uri, Some(body), &[]).await
}

pub(crate) async fn delete(router: &Router, uri: &str) -> Reply {
    send(router, Method::DELETE, uri, None, &[]).await
}

/// A valid shell job named `name`.
pub(crate) fn shell_job(name: &str) -> String {
    format!(
        r#"{{"name":"{name}","schedule":"@every 1m","executor":"shell",
            "executor_config":{{"command":"echo hi"}}}}"#
    )
}

pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp")
}
