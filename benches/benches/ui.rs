//! Web UI benchmarks, server side: pages rendered through `dkron_ui::router` mounted in
//! `dkron_api::router_with` (so with the API's layers, as dkrond serves them), driven in process
//! with tower's `oneshot` over the in-memory cluster of the `api` bench, at 1k, 10k and 100k
//! jobs. The browser's side of the same pages is `benches/benches/ui-browser.rs`.
//!
//! Run:
//!
//! ```text
//! cargo bench -p dkron-benches --features ui --bench ui -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The jobs list asks the cluster for one page (25 jobs, name order): O(page) on the in-memory
//! cluster as on the node's store, so its cost should not grow with the number of jobs (goal,
//! issue 14: at 100k within 1.5× of 1k). A search is O(n) by nature. The dashboard counts jobs by
//! status through empty filtered pages, O(n) each on this cluster.

#[path = "support/memory.rs"]
mod memory;

use std::{hint::black_box, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use criterion::{BenchmarkId, Criterion};
use dkron_api::{ApiOptions, Cluster};
use dkron_ui::UiOptions;
use tower::ServiceExt;

use crate::memory::memory;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// The node's composition: the UI's routes inside the API's router and layers.
fn router(cluster: Arc<dyn Cluster>) -> Router {
    let ui = dkron_ui::router(Arc::clone(&cluster), UiOptions::default());
    dkron_api::router_with(cluster, ApiOptions::default(), ui)
}

/// `GET uri` through `router` from a loopback peer (served without a token in the default
/// protected mode), body read whole; returns the body length.
async fn get(router: &Router, uri: &str) -> usize {
    let request = Request::builder()
        .uri(uri)
        .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))))
        .body(Body::empty())
        .unwrap_or_default();
    let Ok(response) = router.clone().oneshot(request).await;
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    to_bytes(response.into_body(), usize::MAX)
        .await
        .map_or(0, |b| b.len())
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));

    let mut pages = c.benchmark_group("ui_jobs");
    for size in SIZES {
        let cluster: Arc<dyn Cluster> = memory(size);
        let router = router(cluster);
        for (name, uri) in [
            ("page_1", "/ui/jobs"),
            ("page_40", "/ui/jobs?page=40"),
            ("search_page_1", "/ui/jobs?q=team%2013"),
            ("dashboard", "/ui/"),
        ] {
            pages.bench_with_input(BenchmarkId::new(name, size), &router, |b, router| {
                b.iter(|| black_box(rt.block_on(get(router, uri))))
            });
        }
    }
    pages.finish();

    let mut job = c.benchmark_group("ui_job");
    let router = router(memory(1_000));
    job.bench_function("job_page_100_executions", |b| {
        b.iter(|| black_box(rt.block_on(get(&router, "/ui/jobs/job-000000"))))
    });
    job.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
