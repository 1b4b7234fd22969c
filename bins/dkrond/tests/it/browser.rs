//! Browser test harness: Debian's `chromium`, headless, driven through `chromedriver` on a
//! 127.0.0.1 port it picks itself, with a fresh profile per session ([`Browser`], quit and
//! killed on drop). Pages are found by their `data-test` hooks, never by CSS classes.
//!
//! Where chromium or chromedriver is missing, [`Browser::start`] returns `None` and prints one
//! line saying why the browser tests are skipped; with `CI=true` it panics instead, so CI
//! cannot pass without running them (`.ci/run` installs both).
//!
//! The test at the bottom drives a page served by the test itself, so the harness is proven
//! without the UI.

use std::{
    future::Future,
    io::{BufRead, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Once,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Value, json};
use tempfile::TempDir;
use thirtyfour::{
    By, ChromiumLikeCapabilities as _, DesiredCapabilities, WebDriver, WebElement,
    error::WebDriverResult,
};

use crate::support::wait_for;

/// How long an element or a condition may take to appear (a page load, a job run).
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Chromium's flags: headless, no sandbox (tests run as root), nothing that reaches the network
/// on its own, a fixed window so screenshots compare. The profile dir is added per session.
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
    // No crash handler: it would start in a session of its own, outside the process group the
    // harness ends.
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--window-size=1280,900",
];

/// Writes `line` to the test process's stderr, past libtest's capture, so it shows in a
/// passing run too.
pub(crate) fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The first executable called `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The chromium and chromedriver binaries, or `None` (after saying so once) when either is
/// missing. Panics instead when `CI=true`.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium");
    let chromedriver = on_path("chromedriver");
    if let (Some(chromium), Some(chromedriver)) = (chromium.clone(), chromedriver.clone()) {
        return Some((chromium, chromedriver));
    }
    let missing: Vec<&str> = [("chromium", chromium), ("chromedriver", chromedriver)]
        .into_iter()
        .filter(|(_, found)| found.is_none())
        .map(|(name, _)| name)
        .collect();
    let missing = missing.join(" and ");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {missing} not found on PATH: the browser tests must run in CI \
         (apt-get install chromium chromium-driver; .ci/run does it)"
    );
    static SKIPPED: Once = Once::new();
    SKIPPED.call_once(|| {
        say(&format!(
            "ui browser tests skipped: {missing} not found on PATH \
             (Debian: apt-get install chromium chromium-driver)"
        ));
    });
    None
}

/// Where screenshots go: `<target dir>/ui-screenshots/`, said once per test process.
pub(crate) fn screenshot_dir() -> PathBuf {
    // Cargo sets CARGO_TARGET_TMPDIR to `<target dir>/tmp` for integration tests.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    static SAID: Once = Once::new();
    SAID.call_once(|| say(&format!("ui screenshots: {}", dir.display())));
    dir
}

/// The CSS selector of a `data-test` hook.
pub(crate) fn hook(name: &str) -> By {
    By::Css(format!("[data-test=\"{name}\"]"))
}

/// What `performance.getEntriesByType('navigation')` says of the current page, in ms from the
/// start of the navigation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NavigationTiming {
    /// First byte of the response.
    pub(crate) response_start: f64,
    /// Last byte of the response.
    pub(crate) response_end: f64,
    /// The document parsed and its deferred scripts run.
    pub(crate) dom_content_loaded: f64,
    /// The load event finished.
    pub(crate) load_end: f64,
}

/// A headless chromium session through its own chromedriver, with the tokio runtime the
/// WebDriver client needs. Tests are plain `#[test]`s that call [`Browser::run`].
#[derive(Debug)]
pub(crate) struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    runtime: tokio::runtime::Runtime,
    dir: TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a session, or returns `None` when the browser is missing
    /// (see the module docs).
    pub(crate) fn start() -> Option<Browser> {
        let (chromium, chromedriver) = tools()?;
        // The WebDriver client is the workspace's reqwest, built without a default crypto
        // provider: give it ring, as dkrond does (already installed is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("chromedriver.log");
        let child = Command::new(&chromedriver)
            // Port 0: chromedriver binds a free port and says which; no race with other tests.
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("chromedriver log"))
            .stderr(Stdio::null())
            // Its own process group, so dropping the harness can end chromium too, even when a
            // session was never quit.
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut browser = Browser {
            driver: None,
            chromedriver: child,
            runtime,
            dir,
        };
        let port = wait_for("chromedriver to say its port", WAIT, || {
            if let Ok(Some(status)) = browser.chromedriver.try_wait() {
                panic!(
                    "chromedriver exited with {status}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let text = std::fs::read_to_string(&log).ok()?;
            let rest = text.split("started successfully on port ").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u16>()
                .ok()
        });
        let profile = browser.dir.path().join("profile");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium.to_string_lossy())
            .expect("chromium binary");
        for flag in CHROMIUM_FLAGS {
            caps.add_arg(flag).expect("chromium flag");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))
            .expect("chromium profile");
        let url = format!("http://127.0.0.1:{port}");
        let driver = browser
            .runtime
            .block_on(WebDriver::new(url, caps))
            .unwrap_or_else(|e| panic!("open a chromium session: {e}"));
        browser.driver = Some(driver);
        Some(browser)
    }

    /// Runs a test body on the harness's runtime.
    pub(crate) fn run<T>(&self, body: impl Future<Output = T>) -> T {
        self.runtime.block_on(body)
    }

    /// The WebDriver session.
    pub(crate) fn driver(&self) -> &WebDriver {
        self.driver.as_ref().expect("a session until drop")
    }

    /// Navigates to `url` and waits for the load.
    pub(crate) async fn goto(&self, url: &str) {
        self.driver()
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// The URL shown.
    pub(crate) async fn url(&self) -> String {
        self.driver()
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The first element with hook `name`, waiting for it up to [`WAIT`].
    pub(crate) async fn hook(&self, name: &str) -> WebElement {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.driver().find(hook(name)).await {
                return element;
            }
            if Instant::now() > deadline {
                panic!(
                    "no element data-test=\"{name}\" on {} after {WAIT:?}; page:\n{}",
                    self.url().await,
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every element with hook `name` on the page now (no wait).
    pub(crate) async fn hooks(&self, name: &str) -> Vec<WebElement> {
        self.driver().find_all(hook(name)).await.unwrap_or_default()
    }

    /// The text of the first element with hook `name` (waiting for it), trimmed.
    pub(crate) async fn hook_text(&self, name: &str) -> String {
        let element = self.hook(name).await;
        text(&element).await
    }

    /// The page's name from `<main data-test="page-<name>">`, waiting for a `main` with one.
    pub(crate) async fn page(&self) -> String {
        let main = self
            .driver()
            .find(By::Css("main[data-test^=\"page-\"]"))
            .await;
        match main {
            Ok(main) => attr(&main, "data-test")
                .await
                .trim_start_matches("page-")
                .to_owned(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the page is `<main data-test="page-<name>">`.
    pub(crate) async fn wait_page(&self, name: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let page = self.page().await;
            if page == name {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "expected page \"{name}\", got \"{page}\" at {}; page:\n{}",
                    self.url().await,
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls `probe` (every 100 ms, reloading nothing) until it returns `Some`, or panics with
    /// `what` after `timeout`.
    pub(crate) async fn wait_until<T, F: Future<Output = Option<T>>>(
        &self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> F,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what} at {}; page:\n{}",
                    self.url().await,
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the page body (for failure messages).
    pub(crate) async fn body_text(&self) -> String {
        match self.driver().find(By::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Accepts a `confirm()` dialog if one is open (a delete may ask).
    pub(crate) async fn accept_dialog(&self) {
        let _ = self.driver().accept_alert().await;
    }

    /// Clicks the element with hook `name`, a link or a form's submit that loads a new page,
    /// accepts a confirm dialog if one is asked, and waits until the new page has loaded. Why:
    /// a click only starts the navigation, so a refresh or `goto` right after it cancels a form
    /// post still in flight (the "Run now" that never reached the server).
    pub(crate) async fn click_to_load(&self, name: &str) {
        self.script("window.__dkronLeft = true; return null;", Vec::new())
            .await;
        self.hook(name)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {name}: {e}"));
        self.accept_dialog().await;
        let loaded = "return window.__dkronLeft !== true && document.readyState === 'complete';";
        let deadline = Instant::now() + WAIT;
        loop {
            // While the navigation runs, the script may fail: that is "not yet".
            if let Ok(answer) = self.driver().execute(loaded, Vec::new()).await
                && answer.json() == &Value::Bool(true)
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "clicking {name} loaded no new page in {WAIT:?}; at {}:\n{}",
                    self.url().await,
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` with `args` in the page and returns its result.
    pub(crate) async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.driver()
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
            .json()
            .clone()
    }

    /// `<html data-theme>`.
    pub(crate) async fn theme(&self) -> String {
        self.script(
            "return document.documentElement.getAttribute('data-theme') || ''",
            Vec::new(),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Saves a PNG of the viewport as `<screenshot dir>/<name>.png` and returns its path.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir().join(format!("{name}.png"));
        let png = self
            .driver()
            .screenshot_as_png()
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {name} is not a PNG"
        );
        std::fs::write(&path, &png).expect("write screenshot");
        path
    }

    /// Emulates a phone's screen (390 x 844 CSS px, mobile) until [`Browser::desktop`].
    pub(crate) async fn phone(&self) {
        let metrics =
            json!({ "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics)
            .await;
    }

    /// Back to the window's own size after [`Browser::phone`].
    pub(crate) async fn desktop(&self) {
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// Sends a DevTools command through chromedriver.
    async fn cdp(&self, method: &str, params: Value) -> Value {
        self.driver()
            .cdp()
            .send_raw(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Saves a PNG of the whole page, beyond the viewport, as `<screenshot dir>/<name>.png`.
    pub(crate) async fn screenshot_page(&self, name: &str) -> PathBuf {
        let layout = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &layout["cssContentSize"];
        let capture = json!({
            "format": "png",
            "captureBeyondViewport": true,
            "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
        });
        let shot = self.cdp("Page.captureScreenshot", capture).await;
        let png = shot["data"]
            .as_str()
            .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
            .unwrap_or_else(|| panic!("screenshot {name}: no PNG data"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "screenshot {name} is not a PNG"
        );
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        path
    }

    /// Whether the page is wider than the viewport (a person would have to scroll sideways).
    pub(crate) async fn scrolls_sideways(&self) -> bool {
        self.script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth",
            Vec::new(),
        )
        .await
        .as_bool()
        .unwrap_or(true)
    }

    /// The navigation timing of the current page.
    pub(crate) async fn navigation_timing(&self) -> NavigationTiming {
        let entry = self
            .script(
                "const e = performance.getEntriesByType('navigation')[0]; \
                 return e ? e.toJSON() : null;",
                Vec::new(),
            )
            .await;
        let field = |name: &str| {
            entry[name]
                .as_f64()
                .unwrap_or_else(|| panic!("navigation timing has no {name}: {entry}"))
        };
        NavigationTiming {
            response_start: field("responseStart"),
            response_end: field("responseEnd"),
            dom_content_loaded: field("domContentLoadedEventEnd"),
            load_end: field("loadEventEnd"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            // Quitting closes chromium; bounded, so a hung driver cannot hang the test.
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), driver.quit()).await
            });
        }
        // The whole group (chromedriver and any chromium left behind), by its id.
        let group = format!("-{}", self.chromedriver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

/// An element's text, trimmed; empty when it went away.
pub(crate) async fn text(element: &WebElement) -> String {
    element.text().await.unwrap_or_default().trim().to_owned()
}

/// An element's attribute, empty when absent.
pub(crate) async fn attr(element: &WebElement, name: &str) -> String {
    element.attr(name).await.ok().flatten().unwrap_or_default()
}

/// Sets form field `name` inside `form` to `value` as a person would: types into text inputs,
/// picks the option of a `<select>`, ticks a checkbox for `"true"`.
pub(crate) async fn fill(form: &WebElement, name: &str, value: &str) -> WebDriverResult<()> {
    let field = form.find(By::Css(format!("[name=\"{name}\"]"))).await?;
    let tag = field.tag_name().await?.to_ascii_lowercase();
    let kind = field.attr("type").await?.unwrap_or_default();
    if tag == "select" {
        let option = field
            .find(By::Css(format!("option[value=\"{value}\"]")))
            .await?;
        option.click().await?;
    } else if kind == "checkbox" {
        if field.is_selected().await? != (value == "true") {
            field.click().await?;
        }
    } else {
        field.clear().await?;
        field.send_keys(value).await?;
    }
    Ok(())
}

/// A tiny HTTP server for the harness's own test: any path gets `page`, except
/// `.../echo?...`, which answers with the request line in `<p data-test="echo">`.
#[derive(Debug)]
struct ProbeServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProbeServer {
    fn start(page: &'static str) -> ProbeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind probe server");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("probe address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        std::thread::spawn(move || serve_probe(stream, page));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ProbeServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for ProbeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_probe(stream: TcpStream, page: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Skip the headers; GETs have no body.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let request_line = request_line.trim().to_owned();
    let body = if request_line.contains("/echo?") {
        format!(
            "<!doctype html><html><body><main data-test=\"page-echo\">\
             <p data-test=\"echo\">{request_line}</p></main></body></html>"
        )
    } else {
        page.to_owned()
    };
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
    let mut rest = [0u8; 64];
    let _ = stream.read(&mut rest);
}

const PROBE_PAGE: &str = r#"<!doctype html>
<html data-theme="light"><head><meta charset="utf-8"><title>probe</title>
<style>html[data-theme=dark] body { background: #111; color: #eee; }</style></head>
<body><main data-test="page-probe">
<p data-test="greeting">static</p>
<button data-test="theme-toggle" type="button" onclick="const h = document.documentElement;
  h.dataset.theme = h.dataset.theme === 'dark' ? 'light' : 'dark';">Theme</button>
<button data-test="press" type="button" onclick="document.querySelector('[data-test=greeting]')
  .textContent = 'pressed ' + document.querySelector('input[name=q]').value;">Press</button>
<form data-test="search" action="echo" method="get">
  <input name="q"><select name="kind"><option value="a">A</option><option value="b">B</option></select>
  <button data-test="submit" type="submit">Go</button>
</form></main></body></html>"#;

/// The harness end to end on a page the test serves: find by hook, type, click, run our own
/// JavaScript, submit a form (a relative action), toggle the theme attribute, take a
/// screenshot and read the navigation timing.
#[test]
fn the_harness_drives_chromium_against_a_page_served_by_the_test() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let server = ProbeServer::start(PROBE_PAGE);
    browser.run(async {
        browser
            .goto(&format!("http://{}/probe/", server.addr))
            .await;
        browser.wait_page("probe").await;
        assert_eq!(browser.hook_text("greeting").await, "static");

        let form = browser.hook("search").await;
        fill(&form, "q", "a b").await.expect("type into q");
        fill(&form, "kind", "b").await.expect("pick an option");
        browser.hook("press").await.click().await.expect("click");
        assert_eq!(browser.hook_text("greeting").await, "pressed a b");

        assert_eq!(browser.theme().await, "light");
        browser
            .hook("theme-toggle")
            .await
            .click()
            .await
            .expect("toggle");
        assert_eq!(browser.theme().await, "dark");
        let shot = browser.screenshot("harness-probe-dark").await;
        let size = std::fs::metadata(&shot).expect("screenshot written").len();
        assert!(
            size > 1000,
            "a 1280x900 screenshot has more than {size} bytes"
        );

        let timing = browser.navigation_timing().await;
        assert!(
            0.0 <= timing.response_start
                && timing.response_start <= timing.response_end
                && timing.response_end <= timing.dom_content_loaded
                && timing.dom_content_loaded <= timing.load_end,
            "{timing:?}"
        );

        browser.hook("submit").await.click().await.expect("submit");
        browser.wait_page("echo").await;
        assert_eq!(
            browser.hook_text("echo").await,
            "GET /probe/echo?q=a+b&kind=b HTTP/1.1"
        );
    });
}
