//! The http executor against a real server on 127.0.0.1: status and body expectations, headers,
//! body, timeouts, cancellation, output bounds, and TLS with a test CA.

use std::time::{Duration, Instant};

use dkron_executor::{ExecutionOutcome, ExecutionRequest, Executor, HttpExecutor, Stopped};
use tokio_util::sync::CancellationToken;

use crate::support::{TestPki, config, start_server, start_tls_server};

async fn run(executor: &HttpExecutor, pairs: &[(&str, &str)]) -> ExecutionOutcome {
    let config = config(pairs);
    executor
        .execute(ExecutionRequest::new("http-job", &config))
        .await
}

/// A 200 is a success; the body is the output, also streamed to the progress sink; the status
/// is reported.
#[tokio::test]
async fn get_ok() {
    let server = start_server().await;
    let config = config(&[("method", "GET"), ("url", &server.url("/ok"))]);
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<bytes::Bytes>();
    let request = ExecutionRequest::new("http-job", &config).with_progress(&sender);
    let outcome = HttpExecutor::new().execute(request).await;
    drop(sender);
    let mut streamed = Vec::new();
    while let Some(chunk) = receiver.recv().await {
        streamed.extend_from_slice(&chunk);
    }
    assert_eq!(streamed, b"hello");
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.http_status, Some(200));
    assert_eq!(outcome.output, "hello");
    assert_eq!(outcome.exit_code, None);
}

/// Without `expectCode`, a non-2xx status is a failure (dkron would call a 500 a success).
#[tokio::test]
async fn default_success_is_2xx() {
    let server = start_server().await;
    let executor = HttpExecutor::new();
    for (code, success) in [
        (200, true),
        (204, true),
        (301, false),
        (404, false),
        (500, false),
    ] {
        let outcome = run(
            &executor,
            &[
                ("method", "GET"),
                ("url", &server.url(&format!("/status/{code}"))),
            ],
        )
        .await;
        assert_eq!(outcome.success, success, "status {code}: {outcome:?}");
        assert_eq!(outcome.http_status, Some(code));
    }
    let outcome = run(
        &executor,
        &[("method", "GET"), ("url", &server.url("/status/500"))],
    )
    .await;
    assert_eq!(
        outcome.error.as_deref(),
        Some("http: received status 500, expected 2xx")
    );
    assert_eq!(outcome.output, "status 500");
}

/// `expectCode` is an exact list: a listed code succeeds (even a 500), others fail.
#[tokio::test]
async fn expect_code_matches_exactly() {
    let server = start_server().await;
    let executor = HttpExecutor::new();
    let url = server.url("/status/500");
    let outcome = run(
        &executor,
        &[("method", "GET"), ("url", &url), ("expectCode", "200,500")],
    )
    .await;
    assert!(outcome.success, "{outcome:?}");
    let outcome = run(
        &executor,
        &[
            ("method", "GET"),
            ("url", &server.url("/status/200")),
            ("expectCode", "201, 202"),
        ],
    )
    .await;
    assert!(!outcome.success);
    assert_eq!(
        outcome.error.as_deref(),
        Some("http: received status 200, expected one of 201,202")
    );
    // dkron's substring match accepted 200 for `1200`; here it is not even a status code.
    let outcome = run(
        &executor,
        &[
            ("method", "GET"),
            ("url", &server.url("/status/200")),
            ("expectCode", "1200"),
        ],
    )
    .await;
    assert!(!outcome.success);
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.contains("expectCode")),
        "{outcome:?}"
    );
}

/// `expectBody` is a regex over the body.
#[tokio::test]
async fn expect_body_regex() {
    let server = start_server().await;
    let executor = HttpExecutor::new();
    let url = server.url("/ok");
    assert!(
        run(
            &executor,
            &[("method", "GET"), ("url", &url), ("expectBody", "^hel+o$")]
        )
        .await
        .success
    );
    let outcome = run(
        &executor,
        &[("method", "GET"), ("url", &url), ("expectBody", "bye")],
    )
    .await;
    assert!(!outcome.success);
    assert_eq!(
        outcome.error.as_deref(),
        Some("http: response body does not match `bye`")
    );
}

/// Method, headers (with `:` in values) and body reach the server.
#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let server = start_server().await;
    let outcome = run(
        &HttpExecutor::new(),
        &[
            ("method", "POST"),
            ("url", &server.url("/echo")),
            (
                "headers",
                r#"["Content-Type: application/json", "X-Test: at 12:30 from http://a:1"]"#,
            ),
            ("body", r#"{"hello":"world"}"#),
        ],
    )
    .await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(
        outcome.output,
        "method=POST\nx-test=at 12:30 from http://a:1\nbody={\"hello\":\"world\"}"
    );
}

/// `debug` adds the request and the response status before the body, credentials redacted.
#[tokio::test]
async fn debug_adds_request_and_response_lines() {
    let server = start_server().await;
    let url = server.url("/ok");
    let outcome = run(
        &HttpExecutor::new(),
        &[
            ("method", "GET"),
            ("url", &url),
            ("debug", "true"),
            (
                "headers",
                r#"["X-Test: 1", "Authorization: Bearer s3cret"]"#,
            ),
        ],
    )
    .await;
    assert!(outcome.success, "{outcome:?}");
    // Credentials are not written into the stored output.
    assert!(
        outcome
            .output
            .contains("debug: request header authorization: <redacted>\n"),
        "{}",
        outcome.output
    );
    assert!(!outcome.output.contains("s3cret"));
    assert!(
        outcome.output.starts_with(&format!(
            "debug: request GET {url}\ndebug: request header x-test: 1\n"
        )),
        "{}",
        outcome.output
    );
    assert!(
        outcome.output.contains("debug: response HTTP/1.1 200 OK\n"),
        "{}",
        outcome.output
    );
    assert!(outcome.output.ends_with("\nhello"));
}

/// A large body keeps its tail within the output limit.
#[tokio::test]
async fn large_body_keeps_the_tail() {
    let server = start_server().await;
    let config = config(&[
        ("method", "GET"),
        ("url", &server.url("/big")),
        ("expectBody", "END$"),
    ]);
    let outcome = HttpExecutor::new()
        .execute(ExecutionRequest::new("big", &config).with_output_limit(1000))
        .await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.output.len(), 1000);
    assert!(outcome.output.ends_with("xxEND"));
    assert!(outcome.output_truncated);
    assert_eq!(outcome.output_total_bytes, (1 << 20) + 3);
}

/// A slow server hits the timeout promptly.
#[tokio::test]
async fn timeout_stops_the_request() {
    let server = start_server().await;
    let began = Instant::now();
    let outcome = run(
        &HttpExecutor::new(),
        &[
            ("method", "GET"),
            ("url", &server.url("/slow")),
            ("timeout", "300ms"),
        ],
    )
    .await;
    assert!(began.elapsed() < Duration::from_secs(10));
    assert!(!outcome.success);
    assert_eq!(outcome.stopped, Some(Stopped::Timeout), "{outcome:?}");
    assert!(
        outcome.output.starts_with("http: request timed out"),
        "{}",
        outcome.output
    );
}

/// Cancelling the token ends a pending request.
#[tokio::test]
async fn cancel_stops_the_request() {
    let server = start_server().await;
    let config = config(&[("method", "GET"), ("url", &server.url("/slow"))]);
    let cancel = CancellationToken::new();
    let executor = HttpExecutor::new();
    let began = Instant::now();
    let (outcome, ()) = tokio::join!(
        executor.execute(ExecutionRequest::new("slow", &config).with_cancel(cancel.clone())),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            cancel.cancel();
        }
    );
    assert!(began.elapsed() < Duration::from_secs(10));
    assert_eq!(outcome.stopped, Some(Stopped::Cancelled));
    assert_eq!(
        outcome.error.as_deref(),
        Some("http: request was cancelled")
    );
}

/// A refused connection fails with the reason.
#[tokio::test]
async fn connection_refused_is_a_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    drop(listener);
    let outcome = run(&HttpExecutor::new(), &[("method", "GET"), ("url", &url)]).await;
    assert!(!outcome.success);
    assert_eq!(outcome.http_status, None);
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.starts_with("http: request failed")),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.output, "",
        "the error is not repeated in the output"
    );
}

/// TLS: trusted through `tlsRootCAsFile`; rejected without it or with an unrelated CA;
/// accepted with `tlsNoVerifyPeer`.
#[tokio::test]
async fn tls_with_a_test_ca() {
    let pki = TestPki::generate();
    let server = start_tls_server(pki.server_config()).await;
    let url = server.tls_url("/ok");
    let executor = HttpExecutor::new();
    let ca = pki.ca_pem.to_str().expect("utf-8");
    let other_ca = pki.other_ca_pem.to_str().expect("utf-8");

    let outcome = run(
        &executor,
        &[("method", "GET"), ("url", &url), ("tlsRootCAsFile", ca)],
    )
    .await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.output, "hello");

    let outcome = run(
        &executor,
        &[
            ("method", "GET"),
            ("url", &url),
            ("tlsRootCAsFile", other_ca),
        ],
    )
    .await;
    assert!(!outcome.success, "an unrelated CA must not be trusted");
    assert_eq!(outcome.http_status, None);

    let outcome = run(
        &executor,
        &[
            ("method", "GET"),
            ("url", &url),
            ("tlsNoVerifyPeer", "true"),
        ],
    )
    .await;
    assert!(outcome.success, "{outcome:?}");

    let missing = pki.dir.path().join("missing.pem");
    let outcome = run(
        &executor,
        &[
            ("method", "GET"),
            ("url", &url),
            ("tlsRootCAsFile", missing.to_str().expect("utf-8")),
        ],
    )
    .await;
    assert!(!outcome.success);
    assert!(
        outcome
            .error
            .as_deref()
            .is_some_and(|error| error.contains("tlsRootCAsFile")),
        "{outcome:?}"
    );
}

/// Mutual TLS: a server requiring a client certificate accepts ours and refuses a client without.
#[tokio::test]
async fn tls_client_certificate() {
    let pki = TestPki::generate();
    let server = start_tls_server(pki.mtls_server_config()).await;
    let url = server.tls_url("/ok");
    let executor = HttpExecutor::new();
    let ca = pki.ca_pem.to_str().expect("utf-8");

    let outcome = run(
        &executor,
        &[
            ("method", "GET"),
            ("url", &url),
            ("tlsRootCAsFile", ca),
            (
                "tlsCertificateFile",
                pki.client_cert_pem.to_str().expect("utf-8"),
            ),
            (
                "tlsCertificateKeyFile",
                pki.client_key_pem.to_str().expect("utf-8"),
            ),
        ],
    )
    .await;
    assert!(outcome.success, "{outcome:?}");

    let outcome = run(
        &executor,
        &[("method", "GET"), ("url", &url), ("tlsRootCAsFile", ca)],
    )
    .await;
    assert!(!outcome.success, "no client certificate: {outcome:?}");
}

/// Many requests share the pooled client (bounded: 200 sequential requests).
#[tokio::test]
async fn pooled_client_serves_many_requests() {
    let server = start_server().await;
    let executor = HttpExecutor::new();
    let url = server.url("/ok");
    for _ in 0..200 {
        let outcome = run(&executor, &[("method", "GET"), ("url", &url)]).await;
        assert!(outcome.success, "{outcome:?}");
    }
}
