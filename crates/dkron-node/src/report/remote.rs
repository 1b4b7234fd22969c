//! [`RemoteReport`]: how an agent reports what its runner ran: to any server over RPC. A
//! finished execution is first appended to the [`Outbox`] on disk and leaves it only when a
//! server acknowledged a committed write, so a result survives an agent restart and is
//! re-delivered until it is recorded (the store counts a re-delivered one once, by id). A
//! result no server took at once is also synced, so it survives a crash of the machine; one
//! taken at once never pays an fsync (a machine crash in those milliseconds leaves the
//! execution recorded as running, and the leader closes it as lost).
//!
//! Finished executions travel in batches (`POST /node/reports`, one Raft entry each): a batch
//! leaves [`LINGER`] after its first execution finished (or when full), the executions that
//! finish while a batch is on its way go in the next one, with at most [`IN_FLIGHT`] batches
//! on their way. At a thousand runs a second that is a few dozen requests
//! and commits instead of a thousand. A server of an earlier version (404) gets them one by one.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use dkron_model::Execution;
use dkron_scheduler::BoxFuture;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::Outbox;
use crate::{
    rpc::{
        ReportBatch, ReportRequest,
        client::{CallError, NodeClient},
    },
    runner::Report,
    throttle::Throttle,
};

/// How long a finished execution is tried at once before it is left to the re-delivery loop.
const DELIVER_FOR: Duration = Duration::from_secs(10);
/// Pause between two rounds over the servers.
const ROUND_PAUSE: Duration = Duration::from_millis(500);
/// How often the outbox is searched for executions left undelivered.
const REDELIVER_EVERY: Duration = Duration::from_secs(2);
/// Age after which an execution in the outbox is the re-delivery loop's: well past
/// [`DELIVER_FOR`], so it does not send what a batch is still trying.
const REDELIVER_AGE: Duration = Duration::from_secs(30);
/// How long a finished execution waits for others to join its batch. Runs due on the same
/// instant start together and end within a few tens of milliseconds: reporting the first
/// ones at once made the servers commit small batches while the rest were still starting on
/// the same cores. Reporting 50 ms later is invisible in the history and keeps the burst's
/// CPU for the runs.
const LINGER: Duration = Duration::from_millis(50);
/// Batches on their way at once.
const IN_FLIGHT: usize = 4;
/// Executions in one batch at most.
const MAX_BATCH: usize = 256;
/// Output bytes in one batch at most (beyond its first execution): well below the RPC body
/// limit.
const MAX_BATCH_OUTPUT: usize = 512 << 10;

/// How often a refused outbox append is logged.
static NOT_KEPT: Throttle = Throttle::new(Duration::from_secs(5));

/// A finished execution waiting for a batch, and who waits for its delivery.
struct Queued {
    execution: Execution,
    delivered: oneshot::Sender<bool>,
}

/// Reports to servers over RPC, through a durable outbox.
#[derive(Debug)]
pub(crate) struct RemoteReport {
    client: NodeClient,
    /// Servers' RPC addresses (the `join` list).
    servers: Vec<String>,
    /// The server to try first (the last that answered).
    next: AtomicUsize,
    outbox: Arc<Outbox>,
    queue: mpsc::UnboundedSender<Queued>,
    /// The queue's receiving end, until [`RemoteReport::run`] takes it.
    queued: Mutex<Option<mpsc::UnboundedReceiver<Queued>>>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("id", &self.execution.id())
            .finish_non_exhaustive()
    }
}

impl RemoteReport {
    pub(crate) fn new(client: NodeClient, servers: Vec<String>, outbox: Outbox) -> RemoteReport {
        let (queue, queued) = mpsc::unbounded_channel();
        RemoteReport {
            client,
            servers,
            next: AtomicUsize::new(0),
            outbox: Arc::new(outbox),
            queue,
            queued: Mutex::new(Some(queued)),
        }
    }

    /// Sends the finished `executions` to one server after another, once each; whether one
    /// committed them.
    async fn deliver(&self, executions: Vec<Execution>) -> bool {
        let count = self.servers.len();
        let first = self.next.load(Ordering::Relaxed);
        let batch = ReportBatch { executions };
        for offset in 0..count {
            let index = (first + offset) % count;
            let server = &self.servers[index];
            let sent = match self.client.report_batch(server, &batch).await {
                Err(CallError::Status { status: 404, .. }) => {
                    self.deliver_one_by_one(server, &batch.executions).await
                }
                other => other,
            };
            match sent {
                Ok(()) => {
                    self.next.store(index, Ordering::Relaxed);
                    return true;
                }
                Err(error) => tracing::debug!(%error, "report not taken, trying another server"),
            }
        }
        false
    }

    /// For a server without the batch route.
    async fn deliver_one_by_one(
        &self,
        server: &str,
        executions: &[Execution],
    ) -> Result<(), CallError> {
        for execution in executions {
            let request = ReportRequest {
                execution: execution.clone(),
                finished: true,
            };
            self.client.report(server, &request).await?;
        }
        Ok(())
    }

    /// Delivers `executions` (in the outbox), trying rounds of servers for up to `within`;
    /// removes them from the outbox once committed. The first failed round syncs them, since
    /// they have to wait.
    async fn deliver_finished(&self, executions: &[Execution], within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        let mut synced = false;
        loop {
            if self.deliver(executions.to_vec()).await {
                for execution in executions {
                    // Inline: an append to the page cache, no fsync (a lost ack only means
                    // one more delivery).
                    if let Err(error) = self.outbox.ack(execution) {
                        tracing::warn!(%error, "cannot clear a delivered report");
                    }
                }
                return true;
            }
            if !synced {
                let outbox = Arc::clone(&self.outbox);
                let waiting = executions.to_vec();
                let synced_all = tokio::task::spawn_blocking(move || {
                    // One fdatasync covers every record of the current segment.
                    for execution in &waiting {
                        outbox.sync(execution)?;
                    }
                    Ok::<_, super::outbox::OutboxError>(())
                })
                .await;
                match synced_all {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "cannot sync waiting reports"),
                    Err(error) => tracing::warn!(%error, "cannot sync waiting reports"),
                }
                synced = true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    /// Sends what [`Report::finished`] queues, in batches, and re-delivers what the outbox
    /// holds (left by a restart, or not taken in time) every few seconds, until `stop`.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        let queued = self
            .queued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(queued) = queued else {
            return;
        };
        tokio::join!(
            Arc::clone(&self).send_batches(queued, stop.clone()),
            self.redeliver(stop)
        );
    }

    async fn send_batches(
        self: Arc<Self>,
        mut queued: mpsc::UnboundedReceiver<Queued>,
        stop: CancellationToken,
    ) {
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut taken = Vec::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                received = queued.recv_many(&mut taken, MAX_BATCH) => {
                    if received == 0 {
                        return;
                    }
                }
            }
            // Lets the rest of a burst join (a stop cuts it short: what is taken still goes).
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            while taken.len() < MAX_BATCH {
                let room = MAX_BATCH - taken.len();
                tokio::select! {
                    () = &mut linger => break,
                    () = stop.cancelled() => break,
                    received = queued.recv_many(&mut taken, room) => {
                        if received == 0 {
                            break;
                        }
                    }
                }
            }
            while !taken.is_empty() {
                let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                    return;
                };
                // What queued while waiting for a slot joins this batch.
                while taken.len() < MAX_BATCH {
                    match queued.try_recv() {
                        Ok(more) => taken.push(more),
                        Err(_) => break,
                    }
                }
                let batch = cut_batch(&mut taken);
                let this = Arc::clone(&self);
                tokio::spawn(async move {
                    this.send_batch(batch).await;
                    drop(permit);
                });
            }
        }
    }

    /// Delivers one batch and tells each waiter how it went. Executions whose waiter gave up
    /// are left to the re-delivery loop.
    async fn send_batch(&self, batch: Vec<Queued>) {
        let (executions, waiters): (Vec<Execution>, Vec<oneshot::Sender<bool>>) = batch
            .into_iter()
            .filter(|queued| !queued.delivered.is_closed())
            .map(|queued| (queued.execution, queued.delivered))
            .unzip();
        if executions.is_empty() {
            return;
        }
        let delivered = self.deliver_finished(&executions, DELIVER_FOR).await;
        for waiter in waiters {
            let _ = waiter.send(delivered);
        }
    }

    async fn redeliver(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let outbox = Arc::clone(&self.outbox);
            let pending = tokio::task::spawn_blocking(move || outbox.pending_for(REDELIVER_AGE))
                .await
                .unwrap_or_default();
            for chunk in pending.chunks(MAX_BATCH) {
                if stop.is_cancelled() || !self.deliver_finished(chunk, Duration::ZERO).await {
                    break;
                }
                tracing::info!(count = chunk.len(), "re-delivered finished executions");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(REDELIVER_EVERY) => {}
            }
        }
    }
}

/// Takes the next batch off the front of `taken`: at most [`MAX_BATCH`] executions and
/// [`MAX_BATCH_OUTPUT`] bytes of output (at least one execution).
fn cut_batch(taken: &mut Vec<Queued>) -> Vec<Queued> {
    let mut output = 0;
    let mut end = 0;
    for queued in taken.iter() {
        output += queued.execution.output.len();
        if end > 0 && (end >= MAX_BATCH || output > MAX_BATCH_OUTPUT) {
            break;
        }
        end += 1;
    }
    let rest = taken.split_off(end);
    std::mem::replace(taken, rest)
}

impl Report for RemoteReport {
    fn started<'a>(&'a self, execution: &'a Execution) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let request = ReportRequest {
                execution: execution.clone(),
                finished: false,
            };
            // Best effort: the history shows the run while it runs if a server takes it.
            let count = self.servers.len();
            let first = self.next.load(Ordering::Relaxed);
            for offset in 0..count {
                let server = &self.servers[(first + offset) % count];
                if self.client.report(server, &request).await.is_ok() {
                    return;
                }
            }
            tracing::warn!(id = %execution.id(), "no server took an execution's start");
        })
    }

    fn finished(&self, execution: Execution) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Invariant: in the outbox before any delivery, so a crash of this process after
            // the run loses nothing. Inline: an append to the page cache, no fsync.
            if let Err(error) = self.outbox.push(&execution) {
                // Throttled: a full outbox refuses every run's report (25,900 lines in one
                // overloaded `loadgen scale` run), when the node has no CPU to spare.
                match NOT_KEPT.admit(std::time::Instant::now()) {
                    Some(held_back) => tracing::error!(
                        %error, held_back,
                        "cannot keep a finished execution; it is sent without a copy on disk \
                         (held_back: how many more since the last such error)"
                    ),
                    None => tracing::debug!(%error, "cannot keep a finished execution"),
                }
            }
            let id = execution.id();
            let (delivered, answer) = oneshot::channel();
            let queued = Queued {
                execution,
                delivered,
            };
            if self.queue.send(queued).is_err() {
                tracing::warn!(%id, "the report sender stopped; the execution stays in the outbox");
                return;
            }
            // Waits (a shutdown waits for it too) so a leaving agent delivers what it ran.
            if !answer.await.unwrap_or(false) {
                tracing::warn!(%id, "no server took a finished execution yet; it stays in the outbox");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(output: usize) -> Queued {
        let execution = Execution {
            job_name: "j".to_owned(),
            output: "o".repeat(output),
            ..Execution::default()
        };
        Queued {
            execution,
            delivered: oneshot::channel().0,
        }
    }

    fn sizes(batch: &[Queued]) -> Vec<usize> {
        batch.iter().map(|q| q.execution.output.len()).collect()
    }

    /// Batches are cut by count and by output bytes, never empty, in order.
    #[test]
    fn batches_are_cut_by_count_and_bytes() {
        let mut taken: Vec<Queued> = (0..MAX_BATCH + 10).map(|_| queued(1)).collect();
        assert_eq!(cut_batch(&mut taken).len(), MAX_BATCH);
        assert_eq!(cut_batch(&mut taken).len(), 10);
        assert!(taken.is_empty());

        let half = MAX_BATCH_OUTPUT / 2;
        let mut taken: Vec<Queued> = [half, half, 1, MAX_BATCH_OUTPUT * 3, 2]
            .into_iter()
            .map(queued)
            .collect();
        assert_eq!(sizes(&cut_batch(&mut taken)), [half, half]);
        // One execution above the bound still goes, alone.
        assert_eq!(sizes(&cut_batch(&mut taken)), [1]);
        assert_eq!(sizes(&cut_batch(&mut taken)), [MAX_BATCH_OUTPUT * 3]);
        assert_eq!(sizes(&cut_batch(&mut taken)), [2]);
        assert!(taken.is_empty());
    }
}
