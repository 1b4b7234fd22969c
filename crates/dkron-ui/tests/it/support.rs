//! An in-memory [`Cluster`] with dkron's store rules (a trimmed copy of dkron-api's test fake),
//! and helpers to drive the UI mounted as the node mounts it: through `dkron_api::router_with`.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::ConnectInfo,
    http::{HeaderMap, Method, Request, StatusCode},
};
use dkron_api::{Access, ApiOptions, Cluster};
use dkron_model::Job;
use dkron_ui::UiOptions;
use jiff::Timestamp;
use serde_json::Value;
use tower::ServiceExt;

/// The fake cluster (dkron-api's); tests read and change its state directly.
pub(crate) use dkron_api::testing::{FakeCluster, Handle};

/// The UI mounted as the node mounts it (behind the API's layers), over a fresh fake.
pub(crate) fn app() -> (Router, Arc<FakeCluster>) {
    app_with(Access::default())
}

/// [`app`] with `access`.
pub(crate) fn app_with(access: Access) -> (Router, Arc<FakeCluster>) {
    let fake = FakeCluster::new();
    let cluster: Arc<dyn Cluster> = Arc::new(Handle(Arc::clone(&fake)));
    let ui = dkron_ui::router(
        Arc::clone(&cluster),
        UiOptions::default().with_access(access.clone()),
    );
    let options = ApiOptions::default().with_ui(true).with_access(access);
    (dkron_api::router_with(cluster, options, ui), fake)
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

    /// The `data-test` hooks present, as `(hook, count)` checks read better than substrings.
    pub(crate) fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
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

/// A form post from the UI's own page (as a browser sends it: with its `Origin`).
pub(crate) async fn post_form(router: &Router, uri: &str, body: &str) -> Reply {
    send(
        router,
        Method::POST,
        uri,
        Some(body),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ],
    )
    .await
}

/// A valid shell job named `name`, stored directly.
pub(crate) fn shell_job(name: &str) -> Job {
    let mut job = Job::new(name);
    job.schedule = "@every 1m".into();
    job.executor = "shell".into();
    job.executor_config
        .insert("command".into(), "echo hi".into());
    job
}

pub(crate) fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp")
}
