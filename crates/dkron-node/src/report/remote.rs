//! [`RemoteReport`]: how an agent reports what its runner ran: to any server over RPC. A
//! finished execution is first written to the [`Outbox`] on disk and leaves it only when a
//! server acknowledged a committed write, so a result survives an agent restart and is
//! re-delivered until it is recorded (the store counts a re-delivered one once, by id). A
//! result no server took at once is also synced, so it survives a crash of the machine; one
//! taken at once never pays an fsync (a machine crash in those milliseconds leaves the
//! execution recorded as running, and the leader closes it as lost).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use dkron_model::Execution;
use dkron_scheduler::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::Outbox;
use crate::{
    rpc::{ReportRequest, client::NodeClient},
    runner::Report,
};

/// How long a finished execution is tried at once before it is left to [`RemoteReport::redeliver`].
const DELIVER_FOR: Duration = Duration::from_secs(10);
/// Pause between two rounds over the servers.
const ROUND_PAUSE: Duration = Duration::from_millis(500);

/// Reports to servers over RPC, through a durable outbox.
#[derive(Debug)]
pub(crate) struct RemoteReport {
    client: NodeClient,
    /// Servers' RPC addresses (the `join` list).
    servers: Vec<String>,
    /// The server to try first (the last that answered).
    next: AtomicUsize,
    outbox: Arc<Outbox>,
}

impl RemoteReport {
    pub(crate) fn new(client: NodeClient, servers: Vec<String>, outbox: Outbox) -> RemoteReport {
        RemoteReport {
            client,
            servers,
            next: AtomicUsize::new(0),
            outbox: Arc::new(outbox),
        }
    }

    /// Sends `request` to one server after another, once each; whether one committed it.
    async fn deliver(&self, request: &ReportRequest) -> bool {
        let count = self.servers.len();
        let first = self.next.load(Ordering::Relaxed);
        for offset in 0..count {
            let index = (first + offset) % count;
            match self.client.report(&self.servers[index], request).await {
                Ok(()) => {
                    self.next.store(index, Ordering::Relaxed);
                    return true;
                }
                Err(error) => tracing::debug!(%error, "report not taken, trying another server"),
            }
        }
        false
    }

    /// Delivers `execution` (in the outbox), trying rounds of servers for up to `within`;
    /// removes it from the outbox once committed.
    async fn deliver_finished(&self, execution: &Execution, within: Duration) -> bool {
        let request = ReportRequest {
            execution: execution.clone(),
            finished: true,
        };
        let deadline = tokio::time::Instant::now() + within;
        let mut synced = false;
        loop {
            if self.deliver(&request).await {
                // Inline: an unlink, no fsync (a lost ack only means one more delivery).
                if let Err(error) = self.outbox.ack(execution) {
                    tracing::warn!(%error, "cannot clear a delivered report");
                }
                return true;
            }
            if !synced {
                // It has to wait: make it survive a crash of the machine too.
                let outbox = Arc::clone(&self.outbox);
                let waiting = execution.clone();
                match tokio::task::spawn_blocking(move || outbox.sync(&waiting)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "cannot sync a waiting report"),
                    Err(error) => tracing::warn!(%error, "cannot sync a waiting report"),
                }
                synced = true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    /// Re-delivers what the outbox holds (left by a restart, or not taken in time) every
    /// few seconds until `stop`.
    pub(crate) async fn redeliver(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let outbox = Arc::clone(&self.outbox);
            let pending = tokio::task::spawn_blocking(move || outbox.pending())
                .await
                .unwrap_or_default();
            for execution in pending {
                if stop.is_cancelled() || !self.deliver_finished(&execution, Duration::ZERO).await {
                    break;
                }
                tracing::info!(id = %execution.id(), "re-delivered a finished execution");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }
}

impl Report for RemoteReport {
    fn started<'a>(&'a self, execution: &'a Execution) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let request = ReportRequest {
                execution: execution.clone(),
                finished: false,
            };
            // Best effort: the history shows the run while it runs if a server takes it.
            if !self.deliver(&request).await {
                tracing::warn!(id = %execution.id(), "no server took an execution's start");
            }
        })
    }

    fn finished(&self, execution: Execution) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Invariant: in the outbox before any delivery, so a crash of this process after
            // the run loses nothing. Inline: a small file written to the page cache, no fsync
            // (a blocking-pool hand-off per run cost more than the write).
            if let Err(error) = self.outbox.push(&execution) {
                tracing::error!(%error, "cannot keep a finished execution");
            }
            if !self.deliver_finished(&execution, DELIVER_FOR).await {
                tracing::warn!(id = %execution.id(), "no server took a finished execution yet; it stays in the outbox");
            }
        })
    }
}
