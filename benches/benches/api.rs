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

use std::{
    collections::BTreeMap,
    hint::black_box,
    net::SocketAddr,
    sync::{Arc, RwLock},
};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::ConnectInfo,
    http::{Method, Request},
    routing::get,
};
use criterion::{BenchmarkId, Criterion};
use dkron_api::{
    ApiOptions, BoxFuture, Cluster, ClusterError, DayStats, ExecQuery, Health, JobQuery, NodeInfo,
    Page, UpsertOptions,
};
use dkron_benches::workload::bench_job;
use dkron_model::{Execution, Job, Member};
use jiff::{Timestamp, civil::Date};
use tower::ServiceExt;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// In-memory jobs and one job's executions; enough of [`Cluster`] for the routes measured.
#[derive(Debug, Default)]
struct Memory {
    name: String,
    jobs: RwLock<BTreeMap<String, Job>>,
    executions: Vec<Execution>,
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

fn unsupported<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, ClusterError>> {
    ready(Err(ClusterError::internal("not part of the benchmark")))
}

impl Memory {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Job>> {
        // A poisoned lock means a benchmark already panicked.
        self.jobs.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Cluster for Memory {
    fn node_name(&self) -> &str {
        &self.name
    }
    fn node_info(&self) -> BoxFuture<'_, Result<NodeInfo, ClusterError>> {
        unsupported()
    }
    fn health(&self) -> BoxFuture<'_, Health> {
        ready(Health {
            healthy: true,
            issues: Vec::new(),
            leader: Some(true),
        })
    }
    fn list_jobs(&self, query: JobQuery) -> BoxFuture<'_, Result<Page<Job>, ClusterError>> {
        let jobs = self.read();
        let page = if query.is_plain_name_page() && !query.descending {
            let end = query.end.unwrap_or(jobs.len()).min(jobs.len());
            let start = query.start.min(end);
            Page {
                items: jobs
                    .values()
                    .skip(start)
                    .take(end - start)
                    .cloned()
                    .collect(),
                total: jobs.len(),
            }
        } else {
            query.apply_borrowed(&mut jobs.values())
        };
        ready(Ok(page))
    }
    fn get_job(&self, name: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let found = self.read().get(&name).cloned();
        ready(found.ok_or_else(|| ClusterError::job_not_found(name)))
    }
    fn upsert_job(&self, job: Job, _: UpsertOptions) -> BoxFuture<'_, Result<Job, ClusterError>> {
        let mut jobs = self.jobs.write().unwrap_or_else(|e| e.into_inner());
        jobs.insert(job.name.clone(), job.clone());
        ready(Ok(job))
    }
    fn delete_job(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn run_job(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn toggle_job(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn list_executions(
        &self,
        _: String,
        query: ExecQuery,
    ) -> BoxFuture<'_, Result<Page<Execution>, ClusterError>> {
        ready(Ok(query.apply(self.executions.clone())))
    }
    fn get_execution(
        &self,
        _: String,
        _: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        unsupported()
    }
    fn delete_executions(&self, _: String) -> BoxFuture<'_, Result<Job, ClusterError>> {
        unsupported()
    }
    fn cancel_execution(
        &self,
        _: String,
        _: String,
    ) -> BoxFuture<'_, Result<Execution, ClusterError>> {
        unsupported()
    }
    fn members(&self) -> BoxFuture<'_, Result<Vec<Member>, ClusterError>> {
        ready(Ok(Vec::new()))
    }
    fn leader(&self) -> BoxFuture<'_, Result<Option<Member>, ClusterError>> {
        ready(Ok(None))
    }
    fn is_leader(&self) -> BoxFuture<'_, bool> {
        ready(true)
    }
    fn busy(&self) -> BoxFuture<'_, Result<Vec<Execution>, ClusterError>> {
        ready(Ok(Vec::new()))
    }
    fn paused(&self) -> BoxFuture<'_, Result<bool, ClusterError>> {
        ready(Ok(false))
    }
    fn set_paused(&self, paused: bool) -> BoxFuture<'_, Result<bool, ClusterError>> {
        ready(Ok(paused))
    }
    fn stats(&self, _: Date, _: Date) -> BoxFuture<'_, Result<Vec<DayStats>, ClusterError>> {
        ready(Ok(Vec::new()))
    }
    fn leave(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        unsupported()
    }
}

fn memory(jobs: usize) -> Arc<Memory> {
    let started = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let executions = (0..100)
        .map(|i| Execution {
            job_name: "job-000000".into(),
            started_at: started + jiff::SignedDuration::from_secs(i * 60),
            finished_at: Some(started + jiff::SignedDuration::from_secs(i * 60 + 1)),
            success: true,
            output: "x".repeat(4096),
            node_name: "node1".into(),
            group: i,
            attempt: 1,
            ..Execution::default()
        })
        .collect();
    Arc::new(Memory {
        name: "node1".into(),
        jobs: RwLock::new(
            (0..jobs)
                .map(|i| (bench_job(i).name, bench_job(i)))
                .collect(),
        ),
        executions,
    })
}

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
