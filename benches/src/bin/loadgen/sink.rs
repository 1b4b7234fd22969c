//! The local HTTP sink the jobs' `http` executor calls: `GET /j/<index>` records the job index
//! and the wall-clock arrival time, and answers `200` with an empty body.
//!
//! dkron's `http` executor sends a fixed URL, headers and body (no templating), so a request
//! cannot carry its scheduled instant; lateness is derived from the arrival (see `report.rs`).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::task::JoinSet;

use crate::Result;

/// One request at the sink.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival {
    pub(crate) job: u32,
    /// Nanoseconds since the Unix epoch.
    pub(crate) at_ns: i64,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The sink; its accept loop and every connection are aborted on drop.
pub(crate) struct Sink {
    pub(crate) addr: SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    pub(crate) async fn start() -> Result<Sink> {
        use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("sink bind: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("sink address: {e}"))?;
        let arrivals = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
        let shared = arrivals.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // E.g. out of descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let arrivals = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        // Taken first: the arrival is the moment the request was parsed.
                        let at_ns = now_ns();
                        let job = request
                            .uri()
                            .path()
                            .strip_prefix("/j/")
                            .and_then(|j| j.parse().ok());
                        if let Some(job) = job
                            && let Ok(mut list) = arrivals.lock()
                        {
                            list.push(Arrival { job, at_ns });
                        }
                        async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
                // Closed connections leave the set here, so it holds only live ones.
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Sink {
            addr,
            arrivals,
            task,
        })
    }

    /// Every arrival so far, in arrival order.
    pub(crate) fn snapshot(&self) -> Vec<Arrival> {
        self.arrivals.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// How many arrivals so far, and the arrivals from `from` on (for the progress line).
    pub(crate) fn since(&self, from: usize) -> (usize, Vec<Arrival>) {
        self.arrivals
            .lock()
            .map(|l| {
                (
                    l.len(),
                    l.get(from..).map(<[_]>::to_vec).unwrap_or_default(),
                )
            })
            .unwrap_or_default()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
