//! Notifications end to end: a real dkrond sends to an HTTP sink and an SMTP sink that the test
//! runs on 127.0.0.1. One notification per finished execution (a retried job sends once), the
//! pre-webhook before the start, a job's failure-only rule, and a failing endpoint that fails
//! no job and is counted in /metrics.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};

use crate::support::{Dkrond, wait_for};

/// Generous: retries wait for their backoff (1 s, 2 s) on a loaded machine.
const WAIT: Duration = Duration::from_secs(60);

/// What the sinks received, in arrival order: `(kind, text)`, kind `POST /path`, `GET /path`
/// or `MAIL <rcpt>`.
type Log = Arc<Mutex<Vec<(String, String)>>>;

fn received(log: &Log) -> Vec<(String, String)> {
    log.lock().unwrap().clone()
}

/// An HTTP sink: records each request; answers 500 to paths under `/fail`, else 200.
fn http_sink(log: Log) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve_http(stream, &log));
        }
    });
    format!("http://{addr}")
}

fn serve_http(stream: TcpStream, log: &Log) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let status = if path.starts_with("/fail") {
        "500 Internal Server Error"
    } else {
        "200 OK"
    };
    log.lock().unwrap().push((
        format!("{method} {path}"),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let _ = reader.get_mut().write_all(
        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
    );
}

/// A minimal SMTP server (no STARTTLS, no auth): records each message by recipient.
fn smtp_sink(log: Log) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve_smtp(stream, &log));
        }
    });
    port
}

fn serve_smtp(stream: TcpStream, log: &Log) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut say = |text: &str| writer.write_all(format!("{text}\r\n").as_bytes()).is_ok();
    if !say("220 sink ESMTP") {
        return;
    }
    let mut rcpt = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => say("250 sink"),
            "RCPT" => {
                rcpt = line.trim().to_owned();
                say("250 ok")
            }
            "DATA" => {
                say("354 end with .");
                let mut message = String::new();
                loop {
                    let mut data = String::new();
                    if reader.read_line(&mut data).unwrap_or(0) == 0 {
                        return;
                    }
                    if data == ".\r\n" {
                        break;
                    }
                    message.push_str(&data);
                }
                log.lock().unwrap().push((format!("MAIL {rcpt}"), message));
                say("250 queued")
            }
            "QUIT" => {
                say("221 bye");
                return;
            }
            _ => say("250 ok"),
        };
    }
}

fn job(name: &str, command: &str, extra: Value) -> String {
    let mut job = json!({
        "name": name,
        "schedule": "@every 1h",
        "executor": "shell",
        "executor_config": {"command": command, "shell": "true"},
        "owner_email": "owner@example.com",
    });
    if let (Some(job), Value::Object(extra)) = (job.as_object_mut(), extra) {
        job.extend(extra);
    }
    job.to_string()
}

fn finished(node: &Dkrond, job: &str, n: usize) -> Vec<Value> {
    wait_for(&format!("{n} finished executions of {job}"), WAIT, || {
        let list = node.get(&format!("/v1/jobs/{job}/executions")).json();
        let done: Vec<Value> = list
            .as_array()?
            .iter()
            .filter(|e| !e["finished_at"].as_str().unwrap_or("").starts_with("0001"))
            .cloned()
            .collect();
        (done.len() >= n).then_some(done)
    })
}

#[test]
fn notifications_reach_the_sinks_once_per_finished_execution() {
    let log: Log = Arc::default();
    let http = http_sink(Arc::clone(&log));
    let smtp = smtp_sink(Arc::clone(&log));
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("attempts");
    let (webhook, pre, cronitor, port) = (
        format!("{http}/post"),
        format!("{http}/pre"),
        format!("{http}/fail/cronitor"),
        smtp.to_string(),
    );
    let node = Dkrond::start_in(
        dir,
        &[
            "--webhook-endpoint",
            &webhook,
            "--webhook-payload",
            "{{.JobName}} {{.Success}} {{.Output}}",
            "--webhook-headers",
            "Content-Type: text/plain",
            "--pre-webhook-endpoint",
            &pre,
            "--pre-webhook-payload",
            "pre {{.JobName}} on {{.NodeName}}",
            "--mail-host",
            "127.0.0.1",
            "--mail-port",
            &port,
            "--mail-from",
            "dkron@example.com",
            "--mail-payload",
            "Job {{.JobName}} finished with status {{.Success}}",
            // Fails every time: counted, and no job fails for it.
            "--cronitor-endpoint",
            &cronitor,
            "--notify-retries",
            "1",
        ],
    );

    // Fails twice, then succeeds: three executions, one notification.
    let flaky = format!(
        "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; echo attempt-$n; [ $n -ge 3 ]",
        counter.display()
    );
    let created = node.post("/v1/jobs", &job("flaky", &flaky, json!({"retries": 2})));
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(node.post("/v1/jobs/flaky", "").status, 200);
    let runs = finished(&node, "flaky", 3);
    assert!(runs.iter().any(|e| e["success"] == true), "{runs:?}");
    wait_for("the flaky job's webhook and email", WAIT, || {
        let got = received(&log);
        let post = got.iter().any(|(k, _)| k == "POST /post");
        let mail = got.iter().any(|(k, _)| k.starts_with("MAIL"));
        (post && mail).then_some(())
    });

    // Failure-only, webhook only: the success sends nothing, the failure one webhook.
    let failure_only =
        json!({"notify": {"channels": ["webhook"], "on_success": false, "on_recovery": false}});
    assert_eq!(
        node.post("/v1/jobs", &job("quiet", "true", failure_only.clone()))
            .status,
        201
    );
    assert_eq!(node.post("/v1/jobs/quiet", "").status, 200);
    finished(&node, "quiet", 1);
    assert_eq!(
        node.post("/v1/jobs", &job("boom", "echo bad; exit 1", failure_only))
            .status,
        201
    );
    assert_eq!(node.post("/v1/jobs/boom", "").status, 200);
    wait_for("boom's webhook", WAIT, || {
        received(&log)
            .iter()
            .any(|(k, b)| k == "POST /post" && b.starts_with("boom"))
            .then_some(())
    });

    let got = received(&log);
    let posts: Vec<&String> = got
        .iter()
        .filter(|(k, _)| k == "POST /post")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        posts.len(),
        2,
        "one per finished run, none for quiet: {got:?}"
    );
    assert_eq!(posts[0], "flaky true attempt-3\n");
    assert!(
        posts[1].starts_with("boom false ") && posts[1].ends_with("bad\n"),
        "{got:?}"
    );
    let mails: Vec<&(String, String)> = got.iter().filter(|(k, _)| k.starts_with("MAIL")).collect();
    assert_eq!(mails.len(), 1, "one email, for flaky only: {got:?}");
    assert!(mails[0].0.contains("owner@example.com"), "{:?}", mails[0]);
    assert!(
        mails[0]
            .1
            .contains("Subject: [Dkron]Success flaky execution report"),
        "{}",
        mails[0].1
    );
    assert!(
        mails[0].1.contains("Job flaky finished with status true"),
        "{}",
        mails[0].1
    );
    // The pre-webhook goes before each start (three attempts), so before the notification.
    let pres: Vec<usize> = got
        .iter()
        .enumerate()
        .filter(|(_, (k, b))| k == "POST /pre" && b == "pre flaky on test-node")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(pres.len(), 3, "{got:?}");
    let post_at = got.iter().position(|(k, _)| k == "POST /post").unwrap();
    assert!(pres[0] < post_at, "{got:?}");
    // Cronitor's run and complete pings of one execution share its id (`series`).
    // Distinct: a failed ping is retried with the same query.
    let series = |state: &str| -> std::collections::BTreeSet<String> {
        got.iter()
            .filter(|(k, _)| k.starts_with("GET /fail/cronitor/flaky?") && k.ends_with(state))
            .filter_map(|(k, _)| {
                k.split("series=")
                    .nth(1)?
                    .split('&')
                    .next()
                    .map(str::to_owned)
            })
            .collect()
    };
    let complete = series("state=complete");
    assert_eq!(
        complete.len(),
        1,
        "one execution completed the run: {got:?}"
    );
    assert!(complete.is_subset(&series("state=run")), "{got:?}");
    // Cronitor answered 500 every time: counted, jobs unaffected.
    assert!(
        got.iter()
            .any(|(k, _)| k.starts_with("GET /fail/cronitor/flaky?")),
        "{got:?}"
    );
    // Counted once each delivery ends: the sink may log a request a moment before.
    let metrics = wait_for("failed and sent deliveries in /metrics", WAIT, || {
        let text = node.get("/metrics").text();
        (text.contains(r#"dkron_notifications_failed_total{channel="cronitor"}"#)
            && text.contains(r#"dkron_notifications_sent_total{channel="webhook"} 2"#))
        .then_some(text)
    });
    assert!(
        metrics.contains(r#"dkron_notifications_retried_total{channel="cronitor"}"#),
        "{metrics}"
    );
    assert_eq!(node.get("/v1/jobs/flaky").json()["status"], "success");
}

#[test]
fn a_bad_notify_field_is_refused_naming_it() {
    let node = Dkrond::start();
    let reply = node.post(
        "/v1/jobs",
        &job("x", "true", json!({"notify": {"channels": ["sms"]}})),
    );
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains("notify.channels[0]"),
        "{}",
        reply.text()
    );
    assert_eq!(node.get("/v1/jobs/x").status, 404, "nothing stored");
    let ok = node.post(
        "/v1/jobs",
        &job("x", "true", json!({"notify": {"on_success": false}})),
    );
    assert_eq!(ok.status, 201, "{}", ok.text());
    let stored = node.get("/v1/jobs/x").json();
    assert_eq!(
        stored["notify"],
        json!({"channels": null, "on_success": false, "on_failure": true, "on_recovery": true})
    );
}

/// A run on an agent is notified by the server (the agent has no notification settings), once,
/// with the agent as `NodeName`.
#[test]
fn runs_on_an_agent_are_notified_by_the_leader() {
    let log: Log = Arc::default();
    let http = http_sink(Arc::clone(&log));
    let (webhook, pre) = (format!("{http}/post"), format!("{http}/pre"));
    let server = Dkrond::start_in(
        tempfile::tempdir().unwrap(),
        &[
            "--webhook-endpoint",
            &webhook,
            "--webhook-payload",
            "{{.JobName}} {{.NodeName}} {{.ReportingNode}} {{.Output}}",
            "--pre-webhook-endpoint",
            &pre,
            "--pre-webhook-payload",
            "pre {{.JobName}} {{.NodeName}}",
        ],
    );
    let _agent = Dkrond::start_agent(
        tempfile::tempdir().unwrap(),
        "a1",
        &[server.rpc()],
        &["pool=web"],
    );
    crate::cluster::wait_for_members(&server, &["a1", "test-node"]);
    let tagged = job("remote", "echo far", json!({"tags": {"pool": "web"}}));
    assert_eq!(server.post("/v1/jobs", &tagged).status, 201);
    assert_eq!(server.post("/v1/jobs/remote", "").status, 200);
    finished(&server, "remote", 1);
    wait_for("the agent's run notified", WAIT, || {
        let got = received(&log);
        (got.iter().any(|(k, _)| k == "POST /post") && got.iter().any(|(k, _)| k == "POST /pre"))
            .then_some(())
    });
    let got = received(&log);
    let bodies: Vec<(&str, &str)> = got.iter().map(|(k, b)| (k.as_str(), b.as_str())).collect();
    assert_eq!(
        bodies,
        [
            ("POST /pre", "pre remote a1"),
            ("POST /post", "remote a1 test-node far\n")
        ],
        "{got:?}"
    );
}
