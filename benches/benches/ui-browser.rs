//! Web UI figures in a real browser: headless chromium (through chromedriver) loads pages of a
//! real `dkrond` holding 1k, 10k and 100k jobs, and the page's navigation timing is read from
//! the WebDriver session. The server-side cost of the same pages, in process, is
//! `benches/benches/ui.rs`.
//!
//! Run (the bench drives a release `dkrond`; build it first; needs Debian's `chromium` and
//! `chromium-driver`):
//!
//! ```text
//! cargo build --release -p dkrond
//! cargo bench -p dkron-benches --features ui-browser --bench ui-browser
//! ```
//!
//! Settings, all from the environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DKROND` | `$CARGO_TARGET_DIR/release/dkrond`, else `<workspace>/target/release/dkrond` | the binary |
//! | `SIZES` | `1000,10000,100000` | job counts measured, ascending (jobs are added to reach each) |
//! | `RUNS` | 15 | measured loads per page and size, after 3 unmeasured ones |
//! | `CLIENTS` | 8 | concurrent `POST /v1/restore` requests while creating jobs |
//!
//! Jobs are created through `POST /v1/restore` in chunks of 1,000 from `CLIENTS` concurrent
//! clients: each job is validated and committed through Raft as a create is, and concurrent
//! requests share the Raft log's group commit. The time is printed per size.
//!
//! Pages: `/ui/jobs` (first page, 25 jobs), `/ui/jobs?page=N` (a middle page), `/ui/jobs?q=…`
//! (a search matching one job) and `/ui/` (the dashboard). Per page and size the medians of:
//! `responseStart` (the server's render plus loopback: time to first byte), `responseEnd`,
//! `domContentLoadedEventEnd` and `loadEventEnd` (the page shown, its script and style loaded),
//! all in ms from the start of the navigation. At the end, the 1k → largest ratio of each
//! page's `loadEventEnd`, against issue 14's goal for the jobs list: within 1.5×.
//!
//! Not criterion: a figure is a browser navigation of milliseconds over a data set that takes
//! seconds to build; each line is printed as it is measured.
//!
//! Bounds: one `dkrond` and one chromium at a time, every wait has a deadline, and both are
//! killed when the bench ends or panics.
#![expect(
    clippy::print_stdout,
    reason = "the bench's product is its per-page lines and ratios"
)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tempfile::TempDir;
use thirtyfour::{ChromiumLikeCapabilities as _, DesiredCapabilities, WebDriver};

/// The harness's chromium flags (`bins/dkrond/tests/it/browser.rs`).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--window-size=1280,900",
];

/// Jobs per `POST /v1/restore`.
const CHUNK: usize = 1_000;

/// `DKROND`, else the release binary of this workspace's target dir (cargo runs a bench in the
/// package dir, `benches/`).
fn dkrond_path() -> PathBuf {
    if let Some(path) = std::env::var_os("DKROND") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("release/dkrond")
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Polls `probe` every 20 ms until `Some`, or panics with `what` after `timeout`.
fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed with its whole process group (chromium's children too) on drop.
#[derive(Debug)]
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One single-server `dkrond` on 127.0.0.1 ports it picks, in `dir`.
fn start_dkrond(binary: &Path, dir: &Path) -> (Guard, SocketAddr) {
    let data = dir.join("data");
    let log = std::fs::File::create(dir.join("dkrond.log")).expect("dkrond log");
    let child = Command::new(binary)
        .args(["agent", "--server", "--bootstrap-expect", "1"])
        .args(["--node-name", "ui-bench", "--http-addr", "127.0.0.1:0"])
        .args(["--rpc-port", "0"])
        .arg("--data-dir")
        .arg(&data)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let guard = Guard(child);
    let ports = data.join("dkrond.ports.json");
    let http = wait_for("dkrond's ports file", Duration::from_secs(60), || {
        let text = std::fs::read_to_string(&ports).ok()?;
        let ports: Value = serde_json::from_str(&text).ok()?;
        ports["http"].as_str()?.parse().ok()
    });
    (guard, http)
}

/// Job number `i`: a shell job firing daily at 03:mm Berlin time (never during a run of the
/// bench unless it runs at 3 a.m.), with a display name to search.
fn job(i: usize) -> Value {
    json!({
        "name": format!("job-{i:06}"),
        "displayname": format!("Nightly report {i} for team {}", i % 97),
        "schedule": format!("0 {} 3 * * *", i % 60),
        "timezone": "Europe/Berlin",
        "owner": "platform-team",
        "executor": "shell",
        "executor_config": { "command": format!("/usr/local/bin/report --id {i}") },
        "tags": { "role": "worker:1" },
        "retries": 2,
    })
}

/// Creates jobs `from..to` through `POST /v1/restore` from `clients` concurrent clients.
async fn create_jobs(http: SocketAddr, from: usize, to: usize, clients: usize) {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(from));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                if start >= to {
                    return;
                }
                let end = (start + CHUNK).min(to);
                let body = Value::Array((start..end).map(job).collect()).to_string();
                let reply = client
                    .post(format!("http://{http}/v1/restore"))
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("restore {start}..{end}: {e}"));
                let status = reply.status();
                let text = reply.text().await.unwrap_or_default();
                assert!(
                    status.is_success(),
                    "restore {start}..{end}: {status} {text}"
                );
                assert!(
                    !text.contains("fail create"),
                    "restore {start}..{end}: {text}"
                );
            }
        }));
    }
    for task in tasks {
        task.await.expect("a restore client panicked");
    }
}

/// Chromedriver (on a port it picks) and a headless chromium session with a fresh profile.
async fn open_browser(dir: &Path) -> (Guard, WebDriver) {
    let log = dir.join("chromedriver.log");
    let child = Command::new("chromedriver")
        .args(["--port=0", "--allowed-ips=127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).expect("chromedriver log"))
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn chromedriver (apt-get install chromium-driver): {e}"));
    let guard = Guard(child);
    let port: u16 = wait_for("chromedriver's port", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&log).ok()?;
        let rest = text.split("started successfully on port ").nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    });
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary("/usr/bin/chromium").expect("binary");
    for flag in CHROMIUM_FLAGS {
        caps.add_arg(flag).expect("flag");
    }
    caps.add_arg(&format!(
        "--user-data-dir={}",
        dir.join("profile").display()
    ))
    .expect("profile");
    let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
        .await
        .unwrap_or_else(|e| panic!("open a chromium session: {e}"));
    (guard, driver)
}

/// The navigation timing of the page shown: responseStart, responseEnd,
/// domContentLoadedEventEnd, loadEventEnd (ms).
async fn timing(driver: &WebDriver) -> [f64; 4] {
    let entry = driver
        .execute(
            "const e = performance.getEntriesByType('navigation')[0]; return e.toJSON();",
            Vec::new(),
        )
        .await
        .expect("navigation timing")
        .json()
        .clone();
    [
        "responseStart",
        "responseEnd",
        "domContentLoadedEventEnd",
        "loadEventEnd",
    ]
    .map(|name| entry[name].as_f64().unwrap_or(f64::NAN))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Loads `url` 3 + `runs` times and returns the medians of the measured loads' timings.
async fn measure(driver: &WebDriver, url: &str, runs: usize) -> [f64; 4] {
    let mut samples: [Vec<f64>; 4] = Default::default();
    for run in 0..3 + runs {
        driver
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("load {url}: {e}"));
        let shown = driver
            .execute(
                "return document.querySelector('main[data-test^=\"page-\"]') !== null",
                Vec::new(),
            )
            .await
            .expect("check the page")
            .json()
            .as_bool();
        assert_eq!(shown, Some(true), "{url} is not a UI page");
        if run >= 3 {
            for (sample, value) in samples.iter_mut().zip(timing(driver).await) {
                sample.push(value);
            }
        }
    }
    samples.map(|mut s| median(&mut s))
}

fn main() {
    let binary = dkrond_path();
    assert!(
        binary.is_file(),
        "ui-browser bench: no dkrond binary at {} (set DKROND, or run `cargo build --release -p dkrond` first)",
        binary.display()
    );
    let mut sizes: Vec<usize> = std::env::var("SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    sizes.sort_unstable();
    let runs = env_usize("RUNS", 15).max(1);
    let clients = env_usize("CLIENTS", 8).max(1);
    // reqwest is built without a default TLS provider; plain http still asks for one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let dir = TempDir::new().expect("temp dir");
    let (_dkrond, http) = start_dkrond(&binary, dir.path());
    println!(
        "ui-browser bench: dkrond {}, sizes {sizes:?}, {runs} runs per page",
        binary.display()
    );
    let (chromedriver, driver) = runtime.block_on(open_browser(dir.path()));
    println!(
        "| jobs | page | responseStart | responseEnd | DOMContentLoaded | load | created in |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut loads: BTreeMap<&str, Vec<(usize, f64)>> = BTreeMap::new();
    let mut have = 0;
    for &size in &sizes {
        let started = Instant::now();
        runtime.block_on(create_jobs(http, have, size, clients));
        let created = started.elapsed();
        have = size;
        let middle = size.div_ceil(25) / 2 + 1;
        let pages = [
            ("jobs", "jobs".to_owned()),
            ("jobs middle page", format!("jobs?page={middle}")),
            ("jobs search", format!("jobs?q=job-{:06}", size / 2)),
            ("dashboard", String::new()),
        ];
        for (index, (name, path)) in pages.iter().enumerate() {
            let url = format!("http://{http}/ui/{path}");
            let [start, end, dcl, load] = runtime.block_on(measure(&driver, &url, runs));
            let created = if index == 0 {
                format!(
                    "{} jobs in {:.1} s",
                    size - sizes
                        .iter()
                        .copied()
                        .filter(|&s| s < size)
                        .max()
                        .unwrap_or(0),
                    created.as_secs_f64()
                )
            } else {
                String::new()
            };
            println!(
                "| {size} | `/ui/{path}` | {start:.1} ms | {end:.1} ms | {dcl:.1} ms | {load:.1} ms | {created} |"
            );
            loads.entry(name).or_default().push((size, load));
        }
    }
    println!();
    for (name, figures) in &loads {
        if let (Some(first), Some(last)) = (figures.first(), figures.last()) {
            println!(
                "{name}: load at {} jobs / at {} jobs = {:.2}×",
                last.0,
                first.0,
                last.1 / first.1
            );
        }
    }
    let _ = runtime.block_on(driver.quit());
    drop(chromedriver);
}
