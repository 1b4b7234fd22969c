//! [`Couriers`]: the leader's hand-overs to other nodes, carried in batches, one courier per
//! target.
//!
//! Fires come in bursts (every job `@every 1s` is due on the same second), and one call per
//! run made the leader and the agent parse, route and answer a thousand requests a second. A
//! courier sends every run queued for its target when a call slot is free, in one `/node/runs`
//! call of at most [`BATCH_BYTES`], with at most [`CALLS_IN_FLIGHT`] calls on their way (runs
//! queue meanwhile, so a slow target gets fewer, larger calls). A node without the route (an
//! earlier version, 404) gets one `/node/run` per run from then on.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::rpc::{
    RunRequest,
    client::{CallError, NodeClient},
};

/// Calls one courier has on their way at once.
const CALLS_IN_FLIGHT: usize = 4;
/// A batch's body stops growing past this (the node routes take bodies up to 2 MiB); a run
/// larger on its own goes alone.
const BATCH_BYTES: usize = 1 << 20;
/// A courier with nothing to carry for this long stops; the next hand-over starts another.
const IDLE: Duration = Duration::from_secs(30);

/// What a hand-over comes to: taken, or why not.
type Answer = Result<(), String>;

/// A run on its way: its request, encoded, and where its answer goes.
struct Parcel {
    request: Vec<u8>,
    answer: oneshot::Sender<Answer>,
}

/// One courier per target RPC address; see the module docs.
#[derive(Debug)]
pub(crate) struct Couriers {
    client: NodeClient,
    routes: Mutex<HashMap<String, mpsc::UnboundedSender<Parcel>>>,
}

impl Couriers {
    pub(crate) fn new(client: NodeClient) -> Couriers {
        Couriers {
            client,
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// Hands `request` to the node at `rpc_addr`; `Err` says why it was not taken.
    pub(crate) async fn hand_over(&self, rpc_addr: &str, request: &RunRequest) -> Answer {
        let request = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let (answer, answered) = oneshot::channel();
        let mut parcel = Parcel { request, answer };
        loop {
            let route = self.route(rpc_addr);
            match route.send(parcel) {
                Ok(()) => break,
                // That courier stopped (idle) after it was looked up: start another.
                Err(mpsc::error::SendError(back)) => {
                    parcel = back;
                    self.forget(rpc_addr, &route);
                }
            }
        }
        answered
            .await
            .unwrap_or_else(|_| Err("the hand-over was dropped (the node is stopping)".into()))
    }

    /// The courier to `rpc_addr`, started if there is none.
    fn route(&self, rpc_addr: &str) -> mpsc::UnboundedSender<Parcel> {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(route) = routes.get(rpc_addr).filter(|r| !r.is_closed()) {
            return route.clone();
        }
        let (route, parcels) = mpsc::unbounded_channel();
        tokio::spawn(courier(self.client.clone(), rpc_addr.to_owned(), parcels));
        routes.insert(rpc_addr.to_owned(), route.clone());
        route
    }

    fn forget(&self, rpc_addr: &str, stopped: &mpsc::UnboundedSender<Parcel>) {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        if routes
            .get(rpc_addr)
            .is_some_and(|r| r.same_channel(stopped))
        {
            routes.remove(rpc_addr);
        }
    }
}

/// Carries the parcels for `target` until idle (or until every sender is gone).
// The channel is unbounded by type; each parcel has a caller waiting for its answer (a
// hand-over task of the leader, bounded as the dispatches in flight are).
async fn courier(client: NodeClient, target: String, mut parcels: mpsc::UnboundedReceiver<Parcel>) {
    let slots = Arc::new(Semaphore::new(CALLS_IN_FLIGHT));
    let single = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut carried: Option<Parcel> = None;
    loop {
        let first = match carried.take() {
            Some(parcel) => parcel,
            None => match tokio::time::timeout(IDLE, parcels.recv()).await {
                Ok(Some(parcel)) => parcel,
                Ok(None) => return,
                Err(_idle) => {
                    // No new parcel gets in from here; those already in are still carried.
                    parcels.close();
                    match parcels.recv().await {
                        Some(parcel) => parcel,
                        None => return,
                    }
                }
            },
        };
        // Waiting for a slot before gathering: runs queue while the calls are out.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        let mut bytes = batch[0].request.len();
        while let Ok(parcel) = parcels.try_recv() {
            if bytes + parcel.request.len() > BATCH_BYTES {
                carried = Some(parcel);
                break;
            }
            bytes += parcel.request.len() + 1;
            batch.push(parcel);
        }
        tokio::spawn(deliver(
            client.clone(),
            target.clone(),
            batch,
            Arc::clone(&single),
            slot,
        ));
    }
}

/// Sends `batch` to `target` and answers each parcel.
async fn deliver(
    client: NodeClient,
    target: String,
    batch: Vec<Parcel>,
    single: Arc<std::sync::atomic::AtomicBool>,
    _slot: OwnedSemaphorePermit,
) {
    use std::sync::atomic::Ordering;
    if batch.len() > 1 && !single.load(Ordering::Relaxed) {
        let count = batch.len();
        match client.run_batch(&target, encode(&batch), count).await {
            Ok(outcomes) => {
                for (parcel, outcome) in batch.into_iter().zip(outcomes) {
                    let answer = match outcome.refused {
                        None => Ok(()),
                        Some(reason) => Err(CallError::Status {
                            target: target.clone(),
                            status: outcome.status,
                            body: reason,
                        }
                        .to_string()),
                    };
                    let _ = parcel.answer.send(answer);
                }
                return;
            }
            Err(CallError::Status { status: 404, .. }) => {
                tracing::info!(node = %target, "the node has no /node/runs; handing runs over one by one");
                single.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                let why = error.to_string();
                for parcel in batch {
                    let _ = parcel.answer.send(Err(why.clone()));
                }
                return;
            }
        }
    }
    let calls = batch.into_iter().map(|parcel| {
        let (client, target) = (client.clone(), target.clone());
        async move {
            let answer = client
                .run_encoded(&target, parcel.request)
                .await
                .map_err(|e| e.to_string());
            let _ = parcel.answer.send(answer);
        }
    });
    futures_util::future::join_all(calls).await;
}

/// A [`crate::rpc::RunBatch`] of the parcels' encoded requests, without decoding them again.
fn encode(batch: &[Parcel]) -> Vec<u8> {
    let size: usize = batch.iter().map(|p| p.request.len() + 1).sum();
    let mut body = Vec::with_capacity(size + 12);
    body.extend_from_slice(b"{\"runs\":[");
    for (i, parcel) in batch.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&parcel.request);
    }
    body.extend_from_slice(b"]}");
    body
}

#[cfg(test)]
mod tests;
