//! [`Admission`]: at most `max_concurrent` executions run on a node at once, and of those at
//! most `max_processes` start a process; the rest wait in a bounded queue or are refused, by
//! setting ([`ExecutionSlots`]).
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
    /// Of those, executions whose executor starts a process (`shell`) at once
    /// (`max-concurrent-processes`, at least 1).
    pub max_processes: usize,
    /// Executions that may wait for a free slot (`execution-queue`); 0 = none wait.
    pub queue: usize,
    /// What happens to an execution that finds every slot taken (`execution-overflow`).
    pub overflow: Overflow,
}

impl ExecutionSlots {
    /// 1024 at once, 64 of them processes, 1024 waiting, excess queued. A process is the
    /// expensive kind: 64 keeps a small node responsive (this machine spawns about 1.5k a
    /// second) while leaving room for many slow jobs. An `http` execution is a request in
    /// this process (a socket and a few KB): with 64 slots for those too, 1,000 jobs due on
    /// one second went out 64 at a time, each wave waiting for the last one's response, and
    /// the last started 30-50 ms late (docs/benchmarks.md). 1024 waiting executions hold about
    /// a job and an execution record each.
    pub const DEFAULT: ExecutionSlots = ExecutionSlots {
        max_concurrent: 1024,
        max_processes: 64,
        queue: 1024,
        overflow: Overflow::Queue,
    };
}

/// What an execution needs from the node besides its slot: whether its executor starts a
/// process (`dkron_executor::Executor::runs_processes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// A process (the `shell` executor): counts against `max-concurrent-processes` too.
    Process,
    /// Work inside this process (an `http` request).
    InProcess,
}

/// What an admitted execution holds until it ends: its slot, and its process slot if it
/// starts a process.
#[derive(Debug)]
pub(crate) struct Slot {
    _execution: OwnedSemaphorePermit,
    _process: Option<OwnedSemaphorePermit>,
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

/// Runs a node holds ahead of their start instant at most (`dispatch-lead`; a few KB each).
/// They come in bursts larger than the queue (every job due on the same second, handed over
/// together), and all become due at once: so they are bounded here, at acceptance, and then
/// wait for a slot outside the queue's bound.
pub(crate) const MAX_STAGED: usize = 16_384;

/// The slots of one runner.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: ExecutionSlots,
    free: Arc<Semaphore>,
    /// Process slots: taken before an execution slot, so executions waiting for one hold no
    /// execution slot meanwhile.
    processes: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Runs accepted ahead of their start, not yet due.
    staged: Arc<AtomicUsize>,
}

/// A staged run's place ([`Admission::stage`]), given back when dropped.
#[derive(Debug)]
pub(crate) struct Staged(Arc<AtomicUsize>);

impl Drop for Staged {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub(crate) fn new(slots: ExecutionSlots) -> Admission {
        Admission {
            slots,
            free: Arc::new(Semaphore::new(slots.max_concurrent.max(1))),
            processes: Arc::new(Semaphore::new(slots.max_processes.max(1))),
            waiting: AtomicUsize::new(0),
            staged: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A slot for one execution on node `node`, held until dropped; waits for one when the
    /// policy and the queue allow. `Err` is the reason the execution did not run, for its
    /// output.
    pub(crate) async fn admit(
        &self,
        node: &str,
        work: Work,
        cancel: &CancellationToken,
    ) -> Result<Slot, String> {
        self.admit_with(node, work, cancel, true).await
    }

    /// [`Admission::admit`] for a run that was staged ([`Admission::stage`]) and is now due:
    /// it waits for a slot even when the queue is full (it was counted, and its memory spent,
    /// when it was accepted; refusing it now would only fail a run the node took on).
    /// `execution-overflow: fail` still refuses it when every slot is taken.
    pub(crate) async fn admit_staged(
        &self,
        node: &str,
        work: Work,
        cancel: &CancellationToken,
        staged: Staged,
    ) -> Result<Slot, String> {
        drop(staged);
        self.admit_with(node, work, cancel, false).await
    }

    /// Holds a place for a run accepted ahead of its start instant (`dispatch-lead`) until it
    /// is due; `None` when [`MAX_STAGED`] runs are waiting for their start already.
    pub(crate) fn stage(&self) -> Option<Staged> {
        self.staged
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_STAGED).then_some(n + 1)
            })
            .ok()
            .map(|_| Staged(Arc::clone(&self.staged)))
    }

    async fn admit_with(
        &self,
        node: &str,
        work: Work,
        cancel: &CancellationToken,
        bounded: bool,
    ) -> Result<Slot, String> {
        if let Some(slot) = self.try_take(work) {
            return Ok(slot);
        }
        let (max, setting, kind) = self.full_bound(work);
        if self.slots.overflow == Overflow::Fail {
            return Err(format!(
                "node {node} is at its limit of {max} concurrent {kind} ({setting}); execution refused"
            ));
        }
        let queue = self.slots.queue;
        let entered = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < queue || !bounded).then_some(n + 1)
            })
            .is_ok();
        if !entered {
            return Err(format!(
                "node {node} is at its limit of {max} concurrent {kind} ({setting}) and {queue} are waiting (execution-queue); execution refused"
            ));
        }
        let waited = tokio::select! {
            slot = self.take(work) => slot,
            () = cancel.cancelled() => {
                Err("execution cancelled while waiting for a free execution slot".to_owned())
            }
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        waited
    }

    /// The slots `work` needs, if all are free now.
    fn try_take(&self, work: Work) -> Option<Slot> {
        let process = match work {
            Work::Process => Some(Arc::clone(&self.processes).try_acquire_owned().ok()?),
            Work::InProcess => None,
        };
        let execution = Arc::clone(&self.free).try_acquire_owned().ok()?;
        Some(Slot {
            _execution: execution,
            _process: process,
        })
    }

    /// Waits for the slots `work` needs: the process slot first.
    async fn take(&self, work: Work) -> Result<Slot, String> {
        // The semaphores are never closed.
        let closed = |_| "the runner's slots are closed".to_owned();
        let process = match work {
            Work::Process => Some(
                Arc::clone(&self.processes)
                    .acquire_owned()
                    .await
                    .map_err(closed)?,
            ),
            Work::InProcess => None,
        };
        let execution = Arc::clone(&self.free)
            .acquire_owned()
            .await
            .map_err(closed)?;
        Ok(Slot {
            _execution: execution,
            _process: process,
        })
    }

    /// The bound `work` found full, for the reason it waits or is refused: its value, its
    /// setting and what it counts.
    fn full_bound(&self, work: Work) -> (usize, &'static str, &'static str) {
        if work == Work::Process && self.processes.available_permits() == 0 {
            (
                self.slots.max_processes,
                "max-concurrent-processes",
                "processes",
            )
        } else {
            (
                self.slots.max_concurrent,
                "max-concurrent-executions",
                "executions",
            )
        }
    }

    /// Executions waiting for a slot now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests;
