//! REST API benchmarks: what `dkron-api` adds per request (routing, parsing, validation, JSON
//! rendering, layers), driven in process with tower's `oneshot` over an in-memory cluster, next
//! to a trivial axum handler behind the same stack as the ceiling.
//!
//! Run:
//!
//! ```text
//! cargo bench -p dkron-benches --features api --bench api -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The in-memory cluster answers a plain name-ordered page from its ordered map in O(page) (the
//! path `JobQuery::is_plain_name_page` points implementations to) and anything else through
//! `JobQuery::apply_borrowed` (O(n)); the `api_list` group shows both at 1k, 10k and 100k
//! jobs. No socket: loopback HTTP costs are in perf-anchors §1.3.

#[path = "support/memory.rs"]
mod memory;

use std::{hint::black_box, net::SocketAddr};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::ConnectInfo,
    http::{Method, Request},
    routing::get,
};
use criterion::{BenchmarkId, Criterion};
use dkron_api::ApiOptions;
use tower::ServiceExt;

use crate::memory::memory;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// One request through `router` from a loopback peer (as `dkron_api::serve` gives it; the
/// default protected mode serves loopback), body read whole; returns the body length.
async fn call(router: &Router, method: Method, uri: &str, body: &'static str) -> usize {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::from(body))
        .unwrap_or_default();
    let Ok(response) = router.clone().oneshot(request).await;
    assert!(
        response.status().is_success(),
        "{uri}: {}",
        response.status()
    );
    to_bytes(response.into_body(), usize::MAX)
        .await
        .map_or(0, |b| b.len())
}

const CREATE_BODY: &str = r#"{"name":"job-new","displayname":"Nightly report","schedule":"@every 1h","timezone":"Europe/Berlin","owner":"platform-team","owner_email":"platform@example.com","executor":"shell","executor_config":{"command":"/usr/local/bin/report --id 1 --format json --upload","timeout":"30s"},"tags":{"role":"worker:1"},"metadata":{"team":"team-1"},"retries":2,"concurrency":"forbid"}"#;

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let cluster = memory(1_000);
    let router = dkron_api::router(cluster, ApiOptions::default());
    let ceiling: Router = Router::new().route("/ping", get(|| async { "{\"ok\":true}" }));

    let mut group = c.benchmark_group("api");
    group.bench_function("ceiling_trivial_axum_handler", |b| {
        b.iter(|| rt.block_on(call(&ceiling, Method::GET, "/ping", "")))
    });
    group.bench_function("get_job", |b| {
        b.iter(|| rt.block_on(call(&router, Method::GET, "/v1/jobs/job-000500", "")))
    });
    group.bench_function("create_job", |b| {
        b.iter(|| rt.block_on(call(&router, Method::POST, "/v1/jobs", CREATE_BODY)))
    });
    group.bench_function("health", |b| {
        b.iter(|| rt.block_on(call(&router, Method::GET, "/health", "")))
    });
    group.bench_function("executions_100_limit_200", |b| {
        b.iter(|| {
            rt.block_on(call(
                &router,
                Method::GET,
                "/v1/jobs/job-000000/executions?output_size_limit=200",
                "",
            ))
        })
    });
    group.finish();

    let mut pages = c.benchmark_group("api_list");
    for size in SIZES {
        let router = dkron_api::router(memory(size), ApiOptions::default());
        pages.bench_with_input(BenchmarkId::new("page_20", size), &router, |b, router| {
            b.iter(|| rt.block_on(call(router, Method::GET, "/v1/jobs?_start=0&_end=20", "")))
        });
        pages.bench_with_input(
            BenchmarkId::new("filtered_page_20", size),
            &router,
            |b, router| {
                b.iter(|| {
                    black_box(rt.block_on(call(
                        router,
                        Method::GET,
                        "/v1/jobs?q=report&_sort=next&_start=0&_end=20",
                        "",
                    )))
                })
            },
        );
    }
    pages.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
