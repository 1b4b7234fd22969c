//! The one HTTP serving loop of a node, for the REST API and the peer RPC port alike: a bounded
//! number of connections, a header-read timeout, a request timeout, optional TLS, the peer's
//! address in every request, and graceful shutdown.
//!
//! Why our own loop rather than `axum::serve`: axum's has no connection limit and no timeouts,
//! and neither bound can be added from outside it.

use std::{convert::Infallible, future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{Request, Response, StatusCode, header},
};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::Semaphore,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::Service;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Connections served at once. When all are taken the loop stops accepting, so the next
    /// clients wait in the kernel's backlog until a connection closes.
    pub max_connections: usize,
    /// A connection that does not send a complete request head (request line and headers)
    /// within this is closed. The wait for the next request on an idle keep-alive connection
    /// counts too, so this is also the keep-alive idle timeout. With TLS it bounds the
    /// handshake as well.
    pub header_timeout: Duration,
    /// A request whose handler (body upload included) has not answered within this gets a
    /// 503 with a plain-text reason.
    pub request_timeout: Duration,
}

impl ServeOptions {
    /// 1024 connections, a 10 s header timeout, a 60 s request timeout: the REST API defaults.
    pub const API: ServeOptions = ServeOptions {
        max_connections: 1024,
        header_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(60),
    };

    /// The bounds of the peer RPC port derived from the API's: the same connection limit and
    /// header timeout, and at least [`RPC_REQUEST_TIMEOUT`] per request (a snapshot chunk or a
    /// join that waits for a membership change may take longer than an API call).
    pub fn for_rpc(self) -> ServeOptions {
        ServeOptions {
            request_timeout: self.request_timeout.max(RPC_REQUEST_TIMEOUT),
            ..self
        }
    }
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions::API
    }
}

/// The least request timeout on the peer RPC port (see [`ServeOptions::for_rpc`]).
pub const RPC_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Serves `router` on `listener` with the bounds of `options`, over TLS when `tls` is given,
/// until `shutdown` completes; then stops accepting, lets requests in flight finish and
/// closes idle connections. Every request carries the peer's
/// [`ConnectInfo<SocketAddr>`](ConnectInfo) in its extensions.
///
/// # Errors
/// None today: a failed accept (out of file descriptors, a reset before accept) is logged and
/// retried after a pause. `io::Result` is kept so a fatal listener error can be reported.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    let shutdown = async move {
        shutdown.await;
        stopper.cancel();
    };
    tokio::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    loop {
        // Why a slot before accept: the excess waits in the kernel's backlog, costing nothing
        // here, instead of being accepted and then starved.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: pause rather than spin; the connection that failed
                    // is the client's to retry.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            router: router.clone(),
            http: http.clone(),
            peer,
            request_timeout: options.request_timeout,
            stop: stop.clone(),
        };
        let tls = tls.clone();
        let header_timeout = options.header_timeout;
        connections.spawn(async move {
            match tls {
                None => connection.run(stream).await,
                Some(tls) => {
                    // The handshake is bounded like a request head: a client that opens a
                    // connection and says nothing must not hold a slot.
                    match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
                        Ok(Ok(stream)) => connection.run(stream).await,
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// One accepted connection and what its requests need.
struct Connection {
    router: Router,
    http: hyper::server::conn::http1::Builder,
    peer: SocketAddr,
    request_timeout: Duration,
    stop: CancellationToken,
}

impl Connection {
    async fn run<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            http,
            peer,
            request_timeout,
            stop,
        } = self;
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut router = router.clone();
            async move {
                let call = router.call(request.map(Body::new));
                match tokio::time::timeout(request_timeout, call).await {
                    Ok(response) => response,
                    Err(_) => Ok::<_, Infallible>(timed_out(request_timeout)),
                }
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stop.cancelled() => {
                // Finish the request in flight, then close; an idle connection closes now.
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            // Header timeouts, resets and malformed requests: the client's problem, not ours.
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    }
}

/// The answer to a request that outlived the request timeout.
fn timed_out(after: Duration) -> Response<Body> {
    let mut response = Response::new(Body::from(format!(
        "the request did not complete within the server's request timeout ({}s)\n",
        after.as_secs_f64()
    )));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // The connection may still be mid-upload: close it rather than read the rest.
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

#[cfg(test)]
mod tests;
