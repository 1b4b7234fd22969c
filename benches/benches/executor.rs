//! Executor throughput (perf-anchors (h)): shell runs/s of `/bin/true` with output captured,
//! against the machine's fork+exec ceiling measured in the same run; http executions/s against a
//! local hyper server, against a bare reqwest client on the same server.
//!
//! Run: `cargo bench -p dkron-benches --features executor --bench executor -- --warm-up-time 1 --measurement-time 3`

use std::{
    collections::BTreeMap,
    convert::Infallible,
    hint::black_box,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dkron_executor::{ExecutionRequest, Executor, HttpExecutor, ShellExecutor};
use http_body_util::Full;
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;

/// Concurrent executions in the "concurrent" variants (an agent runs many jobs at once).
const CONCURRENCY: u64 = 8;

fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// The client side: what an agent would run executions on.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `iters` executions of `make` split over `CONCURRENCY` tasks and returns the elapsed time.
fn run_concurrent<F, Fut>(runtime: &tokio::runtime::Runtime, iters: u64, make: F) -> Duration
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let make = Arc::new(make);
    runtime.block_on(async move {
        let began = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..CONCURRENCY {
            let make = Arc::clone(&make);
            let n_runs = iters / CONCURRENCY + u64::from(worker < iters % CONCURRENCY);
            tasks.spawn(async move {
                for _ in 0..n_runs {
                    make().await;
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("bench task");
        }
        began.elapsed()
    })
}

fn shell(c: &mut Criterion) {
    let runtime = client_runtime();
    let mut group = c.benchmark_group("shell");
    group.throughput(Throughput::Elements(1)).sample_size(20);

    // The ceiling: a bare fork+exec+wait, no output capture, no process group.
    group.bench_function("ceiling_std_command_true", |b| {
        b.iter(|| {
            let status = std::process::Command::new("/bin/true")
                .status()
                .expect("spawn /bin/true");
            assert!(status.success());
        });
    });
    group.bench_function("ceiling_tokio_command_true_output", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let output = tokio::process::Command::new("/bin/true")
                        .output()
                        .await
                        .expect("spawn");
                    assert!(output.status.success());
                }
                began.elapsed()
            })
        });
    });

    let executor = Arc::new(ShellExecutor::new());
    let true_config = Arc::new(config(&[("command", "/bin/true")]));
    group.bench_function("executor_true_captured", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let outcome = executor
                        .execute(ExecutionRequest::new("bench", &true_config))
                        .await;
                    assert!(outcome.success);
                    black_box(outcome);
                }
                began.elapsed()
            })
        });
    });
    group.bench_function("executor_true_captured_concurrent8", |b| {
        b.iter_custom(|iters| {
            let executor = Arc::clone(&executor);
            let true_config = Arc::clone(&true_config);
            run_concurrent(&runtime, iters, move || {
                let executor = Arc::clone(&executor);
                let true_config = Arc::clone(&true_config);
                async move {
                    let outcome = executor
                        .execute(ExecutionRequest::new("bench", &true_config))
                        .await;
                    assert!(outcome.success);
                }
            })
        });
    });
    let echo_config = config(&[("command", "echo hello"), ("shell", "true")]);
    group.bench_function("executor_sh_echo_captured", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let outcome = executor
                        .execute(ExecutionRequest::new("bench", &echo_config))
                        .await;
                    assert_eq!(outcome.output, "hello\n");
                }
                began.elapsed()
            })
        });
    });
    group.finish();
}

async fn handle(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"ok\":true}",
    ))))
}

/// A trivial hyper server on its own one-worker runtime (the same shape as the perf probe).
fn start_server() -> (
    SocketAddr,
    std::thread::JoinHandle<()>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (addr_sender, addr_receiver) = std::sync::mpsc::channel();
    let (stop_sender, mut stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addr_sender.send(listener.local_addr().expect("addr")).expect("send addr");
            loop {
                tokio::select! {
                    _ = &mut stop_receiver => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        tokio::spawn(async move {
                            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle)).await;
                        });
                    }
                }
            }
        });
    });
    (
        addr_receiver.recv().expect("server address"),
        thread,
        stop_sender,
    )
}

fn http(c: &mut Criterion) {
    let (addr, server_thread, stop) = start_server();
    let runtime = client_runtime();
    let url = format!("http://{addr}/ok");
    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Elements(1)).sample_size(20);

    // The peer: a bare pooled reqwest client, no config parsing, no output capture.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    group.bench_function("baseline_reqwest_get", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let body = client
                        .get(&url)
                        .send()
                        .await
                        .expect("send")
                        .bytes()
                        .await
                        .expect("body");
                    black_box(body);
                }
                began.elapsed()
            })
        });
    });
    group.bench_function("baseline_reqwest_get_concurrent8", |b| {
        b.iter_custom(|iters| {
            let client = client.clone();
            let url = url.clone();
            run_concurrent(&runtime, iters, move || {
                let request = client.get(&url);
                async move {
                    black_box(
                        request
                            .send()
                            .await
                            .expect("send")
                            .bytes()
                            .await
                            .expect("body"),
                    );
                }
            })
        });
    });

    let executor = Arc::new(HttpExecutor::new());
    let get_config = Arc::new(config(&[
        ("method", "GET"),
        ("url", &url),
        ("expectCode", "200"),
    ]));
    group.bench_function("executor_get", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let outcome = executor
                        .execute(ExecutionRequest::new("bench", &get_config))
                        .await;
                    assert!(outcome.success, "{outcome:?}");
                }
                began.elapsed()
            })
        });
    });
    // What the executor adds before sending: parsing and checking the config.
    group.bench_function("executor_config_validate_only", |b| {
        b.iter(|| executor.validate(black_box(&get_config)).expect("valid"));
    });
    let no_timeout_config = config(&[
        ("method", "GET"),
        ("url", &url),
        ("expectCode", "200"),
        ("timeout", "0"),
    ]);
    group.bench_function("executor_get_no_timeout", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let began = Instant::now();
                for _ in 0..iters {
                    let outcome = executor
                        .execute(ExecutionRequest::new("bench", &no_timeout_config))
                        .await;
                    assert!(outcome.success, "{outcome:?}");
                }
                began.elapsed()
            })
        });
    });
    group.bench_function("executor_get_concurrent8", |b| {
        b.iter_custom(|iters| {
            let executor = Arc::clone(&executor);
            let get_config = Arc::clone(&get_config);
            run_concurrent(&runtime, iters, move || {
                let executor = Arc::clone(&executor);
                let get_config = Arc::clone(&get_config);
                async move {
                    let outcome = executor
                        .execute(ExecutionRequest::new("bench", &get_config))
                        .await;
                    assert!(outcome.success);
                }
            })
        });
    });
    group.finish();
    let _ = stop.send(());
    server_thread.join().expect("server thread");
}

criterion_group!(benches, shell, http);
criterion_main!(benches);
