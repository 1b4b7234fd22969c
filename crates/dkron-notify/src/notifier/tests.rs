use std::{
    sync::{Mutex, mpsc as std_mpsc},
    time::Instant,
};

use dkron_model::NotifyPolicy;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use super::*;
use crate::settings::{Header, Webhook};

/// A request the sink received.
#[derive(Debug, Clone)]
struct Received {
    head: String,
    body: String,
    at: Instant,
}

/// An HTTP sink on 127.0.0.1 answering every request with `status`.
struct Sink {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn sink(status: u16) -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let head = text[..end].to_owned();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0usize);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let body = text[end + 4..end + 4 + length].to_owned();
                    log.lock().unwrap().push(Received {
                        head,
                        body,
                        at: Instant::now(),
                    });
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                    return;
                }
            });
        }
    });
    Sink { url, received }
}

impl Sink {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Polls `probe` every 10 ms for up to 30 s.
async fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A history where the execution's output is `out` and the previous run failed when
/// `recovered`.
#[derive(Debug)]
struct History {
    recovered: bool,
}

impl Lookup for History {
    fn finished(&self, execution: &Execution) -> Finished {
        let mut execution = execution.clone();
        execution.output = "out".into();
        Finished {
            group: vec![execution.clone()],
            execution,
            recovered: self.recovered,
        }
    }
}

fn job(notify: Option<NotifyPolicy>) -> Arc<Job> {
    Arc::new(Job {
        notify,
        retries: 1,
        ..Job::new("backup")
    })
}

fn execution(success: bool) -> Execution {
    Execution {
        job_name: "backup".into(),
        started_at: "2024-03-01T10:00:00Z".parse().unwrap(),
        finished_at: Some("2024-03-01T10:00:01Z".parse().unwrap()),
        success,
        node_name: "node-a".into(),
        attempt: 1,
        ..Execution::default()
    }
}

fn hook(url: &str, payload: &str) -> Webhook {
    Webhook {
        endpoint: url.to_owned(),
        payload: payload.to_owned(),
        headers: vec![
            Header::parse("Content-Type: application/x-www-form-urlencoded").unwrap(),
            Header::parse("Host: dkron.io").unwrap(),
        ],
    }
}

fn settings(webhook: Option<Webhook>, pre: Option<Webhook>) -> Settings {
    Settings {
        reporting_node: "server-1".into(),
        webhook,
        pre_webhook: pre,
        backoff: Duration::from_millis(10),
        ..Settings::default()
    }
}

#[test]
fn only_executions_that_will_not_be_retried_are_final() {
    let job = job(None); // retries: 1
    let mut e = execution(false);
    assert!(!is_final(&job, &e), "attempt 1 of 2 failed: it is retried");
    e.attempt = 2;
    assert!(is_final(&job, &e), "the last attempt failed");
    assert!(is_final(&job, &execution(true)), "a success is final");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_carry_the_rendered_payload_and_headers() {
    let post = sink(200).await;
    let pre = sink(200).await;
    let notifier = Notifier::start(
        settings(
            Some(hook(
                &post.url,
                "{{.JobName}} {{.Success}} {{.Output}} {{.ReportingNode}}",
            )),
            Some(hook(&pre.url, "starting {{.JobName}} on {{.NodeName}}")),
        ),
        Arc::new(History { recovered: false }),
    )
    .unwrap();
    notifier.started(job(None), execution(false));
    notifier.finished(job(None), execution(true));
    eventually("both webhooks", || {
        post.received().len() == 1 && pre.received().len() == 1
    })
    .await;
    let got = &post.received()[0];
    assert!(got.head.starts_with("POST / HTTP/1.1"), "{}", got.head);
    assert_eq!(got.body, "backup true out server-1");
    let head = got.head.to_ascii_lowercase();
    assert!(
        head.contains("\r\nhost: dkron.io"),
        "Host header sets the host: {head}"
    );
    assert!(head.contains("content-type: application/x-www-form-urlencoded"));
    assert_eq!(pre.received()[0].body, "starting backup on node-a");
    eventually("counted", || notifier.stats().sent == 2).await;
    notifier.shutdown(Duration::from_secs(5)).await;
}

/// The end of a short run is told while its pre-webhook is still being retried: the webhook
/// waits until the pre-webhook's delivery ended, as dkron sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executions_webhook_comes_after_its_pre_webhook() {
    let post = sink(200).await;
    let pre = sink(500).await;
    let mut settings = settings(Some(hook(&post.url, "end")), Some(hook(&pre.url, "start")));
    settings.retries = 3;
    let notifier = Notifier::start(settings, Arc::new(History { recovered: false })).unwrap();
    notifier.started(job(None), execution(true));
    notifier.finished(job(None), execution(true));
    eventually("the webhook", || post.received().len() == 1).await;
    let attempts = pre.received();
    assert_eq!(attempts.len(), 4, "one attempt and three retries first");
    let last_pre = attempts.iter().map(|r| r.at).max().unwrap();
    assert!(post.received()[0].at >= last_pre);
    notifier.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_a_bounded_number_of_times_then_counted() {
    let post = sink(500).await;
    let mut settings = settings(Some(hook(&post.url, "x")), None);
    settings.retries = 2;
    let notifier = Notifier::start(settings, Arc::new(History { recovered: false })).unwrap();
    notifier.finished(job(None), execution(true));
    eventually("a failed delivery", || notifier.stats().failed == 1).await;
    assert_eq!(post.received().len(), 3, "one attempt and two retries");
    assert_eq!(notifier.stats().retried, 2);
    assert_eq!(notifier.stats().sent, 0);
    notifier.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_policy_filters_outcomes_and_channels() {
    let post = sink(200).await;
    let pre = sink(200).await;
    let failure_only = NotifyPolicy {
        on_success: false,
        on_recovery: false,
        ..NotifyPolicy::default()
    };
    let notifier = Notifier::start(
        settings(
            Some(hook(&post.url, "{{.Success}}")),
            Some(hook(&pre.url, "pre")),
        ),
        Arc::new(History { recovered: true }),
    )
    .unwrap();
    notifier.finished(job(Some(failure_only.clone())), execution(true));
    notifier.finished(job(Some(failure_only)), execution(false));
    let webhook_only = NotifyPolicy {
        channels: Some(vec![Channel::Webhook]),
        ..NotifyPolicy::default()
    };
    notifier.started(job(Some(webhook_only)), execution(false));
    // Events are taken in order: once the marker start arrives, the earlier ones were handled.
    notifier.started(job(None), execution(false));
    eventually("the marker", || pre.received().len() == 1).await;
    eventually("the failure", || post.received().len() == 1).await;
    assert_eq!(post.received()[0].body, "false");
    notifier.shutdown(Duration::from_secs(5)).await;
    assert_eq!(post.received().len(), 1, "the success was not sent");
    assert_eq!(
        pre.received().len(),
        1,
        "the webhook-only job sent no pre-webhook"
    );
}

/// Holds the worker inside the lookup until released.
#[derive(Debug)]
struct Blocking {
    entered: Mutex<std_mpsc::Sender<()>>,
    release: Mutex<std_mpsc::Receiver<()>>,
}

impl Lookup for Blocking {
    fn finished(&self, execution: &Execution) -> Finished {
        let _ = self.entered.lock().unwrap().send(());
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(30));
        Finished {
            execution: execution.clone(),
            group: Vec::new(),
            recovered: false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts() {
    let post = sink(200).await;
    let (entered_tx, entered) = std_mpsc::channel();
    let (release, release_rx) = std_mpsc::channel();
    let mut settings = settings(Some(hook(&post.url, "x")), None);
    settings.queue = 1;
    let lookup = Blocking {
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    };
    let notifier = Notifier::start(settings, Arc::new(lookup)).unwrap();
    notifier.finished(job(None), execution(true));
    tokio::task::spawn_blocking(move || entered.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("the worker took the first event");
    notifier.finished(job(None), execution(true)); // waits in the queue
    notifier.finished(job(None), execution(true)); // dropped
    assert_eq!(notifier.stats().dropped, 1);
    release.send(()).unwrap();
    release.send(()).unwrap();
    eventually("two sent", || notifier.stats().sent == 2).await;
    notifier.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn nothing_configured_sends_nothing() {
    let notifier =
        Notifier::start(Settings::default(), Arc::new(History { recovered: false })).unwrap();
    assert!(!notifier.wants_starts() && !notifier.wants_finishes());
    notifier.finished(job(None), execution(true));
    assert_eq!(notifier.stats(), Stats::default());
}
