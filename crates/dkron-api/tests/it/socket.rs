//! Over a real socket on 127.0.0.1 with a real HTTP client (reqwest).

use std::time::Duration;

use tokio::{net::TcpListener, sync::oneshot, time::Instant};

use crate::support::app;

const SEED_JOB: &str = r#"{
   "name":"cron_job",
   "schedule":"@every 2s",
   "command":"date",
   "owner":"foo",
   "owner_email":"foo@bar.com"
}"#;

/// The seed document's flow over HTTP: create (no Content-Type, trailing slash), run (answers
/// while the execution is still running), the execution finishes in the background, delete by
/// the singular alias; CORS preflights; then a graceful shutdown. The writes pass protected
/// mode (the default) because `serve` gives every request its loopback peer address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_over_a_socket() {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (router, fake) = app();
    fake.lock().hold_runs = true;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(dkron_api::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    let created = client
        .post(format!("{base}/v1/jobs/"))
        .body(SEED_JOB)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(
        created
            .headers()
            .get("x-whom")
            .and_then(|v| v.to_str().ok()),
        Some("node1")
    );
    let job: serde_json::Value =
        serde_json::from_slice(&created.bytes().await.expect("body")).expect("json");
    assert_eq!(job["executor_config"]["command"], "date");

    // The run answers while the execution is held running.
    let run = client
        .post(format!("{base}/v1/jobs/cron_job"))
        .send()
        .await
        .expect("run");
    assert_eq!(run.status().as_u16(), 200);
    let executions = |client: reqwest::Client, url: String| async move {
        let reply = client.get(url).send().await.expect("list");
        serde_json::from_slice::<serde_json::Value>(&reply.bytes().await.expect("body"))
            .expect("json")
    };
    let url = format!("{base}/v1/executions/cron_job");
    let running = executions(client.clone(), url.clone()).await;
    assert_eq!(running[0]["finished_at"], "0001-01-01T00:00:00Z");

    // Let it finish, then wait (with a deadline) until the API shows it finished.
    fake.release.notify_one();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = executions(client.clone(), url.clone()).await;
        if list[0]["finished_at"] != "0001-01-01T00:00:00Z" {
            assert_eq!(list[0]["success"], true);
            assert_eq!(list[0]["output"], "ran\n");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "execution never finished: {list}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let deleted = client
        .delete(format!("{base}/v1/job/cron_job"))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 200);

    // Only the API's own origin gets a CORS grant by default.
    let preflight = |origin: String| {
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/v1/jobs"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let own = preflight(base.clone()).await.expect("preflight");
    assert_eq!(own.status().as_u16(), 200);
    let granted = own
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok());
    assert_eq!(granted, Some(base.as_str()));
    let other = preflight("http://ui.example".to_owned())
        .await
        .expect("preflight");
    assert_eq!(other.status().as_u16(), 403);
    assert!(other.headers().get("access-control-allow-origin").is_none());

    stop.send(()).expect("server still running");
    let served = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops in time")
        .expect("server task");
    served.expect("server ran without error");
}
