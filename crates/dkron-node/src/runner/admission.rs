//! [`Admission`]: at most `max_concurrent` executions run on a node at once; the rest wait in
//! a bounded queue or are refused, by setting ([`ExecutionSlots`]).
//!
//! A waiting execution is already recorded as started and listed as running (the leader and
//! `/v1/busy` see it as running, so `concurrency: forbid` counts it), and stays cancellable:
//! a cancel (a request, a `replace` fire, a shutdown whose grace ran out) ends its wait.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// How many executions a node runs at once, and what happens to those above that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionSlots {
    /// Executions run at once (`max-concurrent-executions`, at least 1).
    pub max_concurrent: usize,
    /// Executions that may wait for a free slot (`execution-queue`); 0 = none wait.
    pub queue: usize,
    /// What happens to an execution that finds every slot taken (`execution-overflow`).
    pub overflow: Overflow,
}

impl ExecutionSlots {
    /// 64 at once, 1024 waiting, excess queued. 64 keeps a small node responsive (each shell
    /// execution is a process, and this machine spawns about 1.5k a second) while leaving
    /// room for many slow jobs; 1024 waiting executions hold about a job and an execution
    /// record each.
    pub const DEFAULT: ExecutionSlots = ExecutionSlots {
        max_concurrent: 64,
        queue: 1024,
        overflow: Overflow::Queue,
    };
}

/// What an execution that finds every slot taken does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Waits in the queue while it has room; refused (failed) when the queue is full.
    Queue,
    /// Refused at once: recorded as failed with the reason.
    Fail,
}

impl Overflow {
    /// The setting's text: `queue` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Overflow::Queue => "queue",
            Overflow::Fail => "fail",
        }
    }
}

/// The slots of one runner.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: ExecutionSlots,
    free: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Admission {
    pub(crate) fn new(slots: ExecutionSlots) -> Admission {
        Admission {
            slots,
            free: Arc::new(Semaphore::new(slots.max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A slot for one execution on node `node`, held until the permit is dropped; waits for
    /// one when the policy and the queue allow. `Err` is the reason the execution did not run,
    /// for its output.
    pub(crate) async fn admit(
        &self,
        node: &str,
        cancel: &CancellationToken,
    ) -> Result<OwnedSemaphorePermit, String> {
        if let Ok(permit) = Arc::clone(&self.free).try_acquire_owned() {
            return Ok(permit);
        }
        let max = self.slots.max_concurrent;
        if self.slots.overflow == Overflow::Fail {
            return Err(format!(
                "node {node} is at its limit of {max} concurrent executions (max-concurrent-executions); execution refused"
            ));
        }
        let queue = self.slots.queue;
        let entered = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < queue).then_some(n + 1)
            })
            .is_ok();
        if !entered {
            return Err(format!(
                "node {node} is at its limit of {max} concurrent executions (max-concurrent-executions) and {queue} are waiting (execution-queue); execution refused"
            ));
        }
        let waited = tokio::select! {
            permit = Arc::clone(&self.free).acquire_owned() => {
                // The semaphore is never closed.
                permit.map_err(|_| "the runner's slots are closed".to_owned())
            }
            () = cancel.cancelled() => {
                Err("execution cancelled while waiting for a free execution slot".to_owned())
            }
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        waited
    }

    /// Executions waiting for a slot now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests;
