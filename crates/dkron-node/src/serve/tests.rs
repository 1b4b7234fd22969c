//! The serving loop on real sockets on 127.0.0.1, with a raw HTTP/1.1 client so each test
//! controls exactly what is sent and when.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo, routing::get};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

use super::{ServeOptions, serve};

/// Every wait in these tests is bounded by this: a hung test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(10);

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .route(
            "/half-second",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "finished"
            }),
        )
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(options: ServeOptions) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router(), options, None, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

fn options(max_connections: usize, header: u64, request: u64) -> ServeOptions {
    ServeOptions {
        max_connections,
        header_timeout: Duration::from_millis(header),
        request_timeout: Duration::from_millis(request),
    }
}

/// Sends a keep-alive `GET path`.
async fn send_get(stream: &mut TcpStream, path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
}

/// Reads one response: (status, body). Bodies here are small and carry a Content-Length.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("a content-length");
            while buffer.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await.unwrap();
                assert!(read > 0, "connection closed mid-body");
                buffer.extend_from_slice(&chunk[..read]);
            }
            let status = head[9..12].parse().unwrap();
            let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
            return (status, body);
        }
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection closed before a response");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn get_once(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    send_get(&mut stream, path).await;
    tokio::time::timeout(BOUND, read_response(&mut stream))
        .await
        .expect("an answer in time")
}

/// Reads until the peer closes; panics if it does not within [`BOUND`].
async fn expect_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection")
        .ok();
    rest
}

#[tokio::test]
async fn every_request_carries_the_peer_address() {
    let server = start(ServeOptions::API).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    send_get(&mut stream, "/peer").await;
    let (status, body) = tokio::time::timeout(BOUND, read_response(&mut stream))
        .await
        .unwrap();
    assert_eq!((status, body), (200, local.to_string()));
}

#[tokio::test]
async fn a_client_sending_half_a_request_head_is_disconnected() {
    let server = start(options(8, 300, 5_000)).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: te").await.unwrap();
    let rest = expect_closed(&mut slow).await;
    // hyper may answer 408 before closing; it must never have served the request.
    assert!(
        !String::from_utf8_lossy(&rest).contains("hello"),
        "{rest:?}"
    );
    // The server itself is fine.
    assert_eq!(get_once(server.addr, "/").await, (200, "hello".to_owned()));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = start(options(8, 300, 5_000)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    send_get(&mut stream, "/").await;
    let answer = tokio::time::timeout(BOUND, read_response(&mut stream))
        .await
        .unwrap();
    assert_eq!(answer, (200, "hello".to_owned()));
    // Nothing more is sent: the server closes the connection.
    expect_closed(&mut stream).await;
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let server = start(options(2, 30_000, 30_000)).await;
    // Two connections, each served once and kept alive: they hold both slots.
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    for stream in [&mut first, &mut second] {
        send_get(stream, "/").await;
        let answer = tokio::time::timeout(BOUND, read_response(stream))
            .await
            .unwrap();
        assert_eq!(answer, (200, "hello".to_owned()));
    }
    // The third connects (the kernel's backlog takes it) but is not served...
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    send_get(&mut third, "/").await;
    let mut waiting = Box::pin(read_response(&mut third));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut waiting)
            .await
            .is_err(),
        "a third connection was served while two held the slots"
    );
    // ...until one of the two closes.
    drop(first);
    let answer = tokio::time::timeout(BOUND, waiting)
        .await
        .expect("served once a slot freed");
    assert_eq!(answer, (200, "hello".to_owned()));
    // The second still works: keep-alive was not disturbed.
    send_get(&mut second, "/").await;
    let answer = tokio::time::timeout(BOUND, read_response(&mut second))
        .await
        .unwrap();
    assert_eq!(answer, (200, "hello".to_owned()));
}

#[tokio::test]
async fn a_handler_past_the_request_timeout_gets_a_503() {
    let server = start(options(8, 5_000, 200)).await;
    let (status, body) = get_once(server.addr, "/slow").await;
    assert_eq!(status, 503);
    assert!(body.contains("request timeout"), "{body}");
    // Handlers within the bound are unaffected.
    assert_eq!(get_once(server.addr, "/").await, (200, "hello".to_owned()));
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let mut server = start(options(8, 5_000, 5_000)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    send_get(&mut stream, "/half-second").await;
    // Let the request reach its handler, then ask the server to stop.
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    let answer = tokio::time::timeout(BOUND, read_response(&mut stream))
        .await
        .unwrap();
    assert_eq!(answer, (200, "finished".to_owned()));
    let result = tokio::time::timeout(BOUND, server.task)
        .await
        .expect("serve returns once its connections are done");
    assert!(result.unwrap().is_ok());
    // The listener is gone.
    assert!(TcpStream::connect(server.addr).await.is_err());
}
