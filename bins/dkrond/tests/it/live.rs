//! The live output of running executions (`GET …/executions/{id}/stream`, server-sent events)
//! from real `dkrond` processes: streamed from the server that runs the job and relayed from an
//! agent, lines arriving before the job ends, the end event, a finished execution's stream, 404s
//! and the bound on concurrent streams; and the job page following it in headless chromium
//! (skipped with one line where chromium is missing, failing in CI: `browser.rs`).
//!
//! The jobs print a line, then wait for a file the test creates once it has read that line:
//! so "the line arrived before the job ended" holds by construction, with no timing involved.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::Duration,
};

use serde_json::Value;

use crate::{
    browser::{Browser, attr, text},
    cluster::*,
    support::*,
};

/// How long any one read of a stream may wait (the server sends a keep-alive every 15 s).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// A server-sent event stream read from a raw HTTP/1.0 connection (so the body is the bare
/// stream, not chunked).
struct Stream {
    reader: BufReader<TcpStream>,
}

impl Stream {
    /// Opens `path` on `addr`: the stream on 200, else the status and body.
    fn open(addr: SocketAddr, path: &str) -> Result<Stream, (u16, String)> {
        let mut socket = TcpStream::connect(addr).expect("connect");
        socket
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("read timeout");
        write!(socket, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("write request");
        let mut reader = BufReader::new(socket);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        if status != 200 {
            let mut body = String::new();
            let _ = reader.read_to_string(&mut body);
            return Err((status, body));
        }
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(!head.contains("transfer-encoding"), "{head}");
        Ok(Stream { reader })
    }

    /// The next event (keep-alive comments skipped), `None` once the server ended the stream.
    fn next(&mut self) -> Option<Event> {
        let mut name = String::new();
        let mut data: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            let read = self
                .reader
                .read_line(&mut line)
                .unwrap_or_else(|e| panic!("reading the stream: {e}"));
            if read == 0 {
                return None;
            }
            let line = line.strip_suffix('\n').unwrap_or(&line);
            if line.is_empty() {
                if name.is_empty() && data.is_empty() {
                    continue;
                }
                return Some(Event {
                    name,
                    data: data.join("\n"),
                });
            }
            if line.starts_with(':') {
                continue;
            }
            if let Some(value) = line.strip_prefix("event:") {
                value.trim_start().clone_into(&mut name);
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
            }
        }
    }

    /// Reads events until one satisfies `wanted`, returning those read, that one last.
    fn until(&mut self, what: &str, wanted: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut read = Vec::new();
        loop {
            let event = self
                .next()
                .unwrap_or_else(|| panic!("the stream ended before {what}: {read:?}"));
            let done = wanted(&event);
            read.push(event);
            if done {
                return read;
            }
        }
    }
}

/// The text of the `output` events among `events`.
fn output_of(events: &[Event]) -> String {
    events
        .iter()
        .filter(|e| e.name == "output")
        .map(|e| e.data.as_str())
        .collect()
}

/// A shell job that prints `first`, then for each file of `gates` waits for it (at most a
/// minute) and prints the next word (`second`, `third`). `tags` picks the node.
pub(crate) fn gated_job(name: &str, gates: &[&Path], tags: Value) -> String {
    let mut command = "echo first".to_owned();
    for (gate, word) in gates.iter().zip(["second", "third"]) {
        let gate = gate.to_str().expect("utf-8 path");
        command.push_str(&format!(
            "; i=0; while [ ! -f '{gate}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo {word}"
        ));
    }
    serde_json::json!({
        "name": name, "schedule": "@manually", "executor": "shell",
        "executor_config": { "command": command, "shell": "true" }, "tags": tags,
    })
    .to_string()
}

/// Runs `job` through `server` and returns the id of its execution once it is recorded.
fn run_and_find(server: &Dkrond, job: &str) -> (String, Value) {
    assert_eq!(server.post(&format!("/v1/jobs/{job}/run"), "").status, 200);
    wait_for(&format!("an execution of {job}"), FORM_TIMEOUT, || {
        let list = executions(server, job);
        let first = list.first()?.clone();
        Some((first["id"].as_str()?.to_owned(), first))
    })
}

/// Streams the execution of `job` from `server` while it runs (on whichever node its tags
/// pick): the first line arrives while the job still waits for its file, then the second and
/// the end with success; afterwards the finished execution's stream gives the stored output
/// and its end at once.
pub(crate) fn follow_while_it_runs(server: &Dkrond, job: &str, go: &Path, node: &str) {
    let (id, recorded) = run_and_find(server, job);
    assert_eq!(recorded["node_name"], node, "{recorded}");
    let path = format!("/v1/jobs/{job}/executions/{id}/stream");
    let mut stream = Stream::open(server.http, &path).unwrap_or_else(|e| panic!("{e:?}"));
    let read = stream.until("the first line", |e| {
        output_of(std::slice::from_ref(e)).contains("first")
    });
    assert!(read.iter().all(|e| e.name == "output"), "{read:?}");
    // The job is still waiting for its file: the line came before the end.
    let running = server
        .get(&format!("/v1/jobs/{job}/executions/{id}"))
        .json();
    assert!(!is_done(&running), "{running}");
    std::fs::write(go, b"").expect("write the go file");
    let rest = stream.until("the end event", |e| e.name == "end");
    assert!(output_of(&rest).contains("second"), "{rest:?}");
    let end: Value = serde_json::from_str(&rest.last().expect("end").data).expect("end JSON");
    assert_eq!(end["success"], true, "{end}");
    assert_eq!(end["exit_code"], 0, "{end}");
    assert_eq!(stream.next(), None, "the stream ends after `end`");

    // Once recorded, the finished execution's stream is its stored output and end, at once.
    wait_for(
        &format!("{job}'s execution to be recorded as finished"),
        FORM_TIMEOUT,
        || {
            let one = server
                .get(&format!("/v1/jobs/{job}/executions/{id}"))
                .json();
            is_done(&one).then_some(())
        },
    );
    let mut finished = Stream::open(server.http, &path).unwrap_or_else(|e| panic!("{e:?}"));
    let mut events = Vec::new();
    while let Some(event) = finished.next() {
        events.push(event);
    }
    assert_eq!(output_of(&events), "first\nsecond\n", "{events:?}");
    assert_eq!(
        events.last().map(|e| e.name.as_str()),
        Some("end"),
        "{events:?}"
    );
}

/// Opens the stream at `path` once a slot is free (polling, bounded).
fn reopen(addr: SocketAddr, path: &str) -> Stream {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        match Stream::open(addr, path) {
            Ok(stream) => return stream,
            Err((503, _)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(other) => panic!("{path} not reopened: {other:?}"),
        }
    }
}

/// On a single server: the job runs where it is streamed from; a second stream past
/// `--max-output-streams=1` gets 503 until the first client goes away; unknown executions and
/// jobs get 404.
#[test]
fn a_running_execution_streams_from_the_server_running_it() {
    let node = Dkrond::start_in(temp_dir(), &["--max-output-streams=1"]);
    let gate = temp_dir();
    let go = gate.path().join("go");
    let job = gated_job("gated", &[&go], serde_json::json!({}));
    assert_eq!(node.post("/v1/jobs", &job).status, 201);

    // The bound: while one stream is open, another is refused, saying which setting.
    let hold = gated_job(
        "held",
        &[&gate.path().join("go-held")],
        serde_json::json!({}),
    );
    assert_eq!(node.post("/v1/jobs", &hold).status, 201);
    let (held_id, _) = run_and_find(&node, "held");
    let held_path = format!("/v1/jobs/held/executions/{held_id}/stream");
    let mut first = Stream::open(node.http, &held_path).unwrap_or_else(|e| panic!("{e:?}"));
    first.until("the held job's first line", |e| e.data.contains("first"));
    let (status, body) = Stream::open(node.http, &held_path).err().expect("refused");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("max-output-streams"), "{body}");
    // A client that goes away frees its slot once the server notices the closed connection (at
    // the latest at a keep-alive write, every 15 s).
    drop(first);
    let mut again = reopen(node.http, &held_path);
    std::fs::write(gate.path().join("go-held"), b"").expect("release the held job");
    let rest = again.until("the held job's end", |e| e.name == "end");
    assert!(
        output_of(&rest).contains("first"),
        "the output so far: {rest:?}"
    );
    // The server closes the stream once it dropped it, and with it its slot.
    assert_eq!(again.next(), None);

    follow_while_it_runs(&node, "gated", &go, "test-node");

    let (status, _) = Stream::open(node.http, "/v1/jobs/gated/executions/1-nowhere/stream")
        .err()
        .expect("unknown execution");
    assert_eq!(status, 404);
    let (status, _) = Stream::open(node.http, "/v1/jobs/none/executions/1-nowhere/stream")
        .err()
        .expect("unknown job");
    assert_eq!(status, 404);
}

/// A server streams an execution that runs on an agent, relayed over node RPC.
#[test]
fn a_server_relays_the_output_of_an_execution_running_on_an_agent() {
    let server = Dkrond::start_server(temp_dir(), "s1", &["--bootstrap-expect", "1"]);
    let agent = Dkrond::start_agent(temp_dir(), "a1", &[server.rpc()], &["pool=live"]);
    wait_for_members(&server, &["a1", "s1"]);
    let gate = temp_dir();
    let go = gate.path().join("go");
    let job = gated_job("relayed", &[&go], serde_json::json!({ "pool": "live" }));
    assert_eq!(server.post("/v1/jobs", &job).status, 201);
    follow_while_it_runs(&server, "relayed", &go, "a1");

    // The agent dies while a stream follows one of its executions: the stream says so and ends.
    let never = gate.path().join("never");
    let doomed = gated_job("doomed", &[&never], serde_json::json!({ "pool": "live" }));
    assert_eq!(server.post("/v1/jobs", &doomed).status, 201);
    let (id, _) = run_and_find(&server, "doomed");
    let path = format!("/v1/jobs/doomed/executions/{id}/stream");
    let mut stream = Stream::open(server.http, &path).unwrap_or_else(|e| panic!("{e:?}"));
    stream.until("the doomed job's first line", |e| e.data.contains("first"));
    drop(agent.kill());
    let rest = stream.until("the interruption", |e| e.name != "output");
    let last = rest.last().expect("an event");
    assert_eq!(last.name, "interrupted", "{rest:?}");
    assert!(
        last.data.contains("a1") || last.data.contains("127.0.0.1"),
        "{last:?}"
    );
    assert_eq!(stream.next(), None, "the stream ends after `interrupted`");
}

/// In a browser, the job page follows a running execution's output as it comes: after "Run
/// now" the output shows each line while the execution still runs, without reloading the page
/// (a reload would drop a marker the test leaves in it), and the row turns to success at its
/// end.
#[test]
fn the_job_page_follows_a_running_execution_in_a_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let node = Dkrond::start();
    let gate = temp_dir();
    let (second, third) = (gate.path().join("second"), gate.path().join("third"));
    let job = gated_job("watched", &[&second, &third], serde_json::json!({}));
    assert_eq!(node.post("/v1/jobs", &job).status, 201);
    let wait = Duration::from_secs(60);
    browser.run(async {
        browser
            .goto(&format!("http://{}/ui/jobs/watched", node.http))
            .await;
        browser
            .hook("run-now")
            .await
            .click()
            .await
            .expect("click run-now");
        let shown = || async {
            let output = browser.hooks("execution-output").await.into_iter().next()?;
            Some(text(&output).await)
        };
        browser
            .wait_until("the first line", wait, || async {
                shown().await.filter(|t| t.contains("first"))
            })
            .await;
        browser
            .script("window.dkronTestMarker = true; return true;", vec![])
            .await;
        std::fs::write(&second, b"").expect("release the second line");
        let both = browser
            .wait_until("the second line", wait, || async {
                shown().await.filter(|t| t.contains("second"))
            })
            .await;
        // The whole output so far, not only the newest chunk (what the page showed before).
        assert!(both.contains("first"), "{both}");
        let row = browser.hook("execution-row").await;
        assert_eq!(attr(&row, "data-status").await, "running");
        std::fs::write(&third, b"").expect("release the end");
        browser
            .wait_until("the row to show success", wait, || async {
                let row = browser.hooks("execution-row").await.into_iter().next()?;
                (attr(&row, "data-status").await == "success").then_some(())
            })
            .await;
        let done = shown().await.unwrap_or_default();
        assert!(done.contains("first") && done.contains("third"), "{done}");
        let kept = browser
            .script("return window.dkronTestMarker === true;", vec![])
            .await;
        assert_eq!(kept, Value::Bool(true), "the page was not reloaded");
    });
}
