//! Counting the fires the scheduler dropped past their misfire bound: taken from the scheduler
//! once a second and committed as one Raft write, so a job's `skipped_count` is replicated
//! (every server answers it) without a write per dropped fire, which past capacity would add
//! load exactly when there is none to spare.

use std::{sync::Arc, time::Duration};

use dkron_raft::{Command, SkippedFires};
use dkron_scheduler::Scheduler;
use tokio::task::JoinHandle;

use crate::{handles::Handles, metrics};

/// How often the leader takes the scheduler's tally of dropped fires and records it.
pub(crate) const RECORD_EVERY: Duration = Duration::from_secs(1);

/// Records the tally once a second, one write at a time, off the leadership task (a commit
/// past capacity can take a while, and the task also follows the applied-changes feed).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    /// The write in flight, if any; a tick while it runs is passed over (the tally waits in
    /// the scheduler, one entry per job at most).
    pending: Option<JoinHandle<()>>,
}

impl Recorder {
    pub(crate) fn tick(&mut self, handles: &Arc<Handles>, scheduler: &Scheduler) {
        if self.pending.as_ref().is_some_and(|p| !p.is_finished()) {
            return;
        }
        let (handles, scheduler) = (Arc::clone(handles), scheduler.clone());
        self.pending = Some(tokio::spawn(async move {
            record(&handles, &scheduler).await;
        }));
    }

    /// Waits for the write in flight, at most `bound`.
    pub(crate) async fn finish(self, bound: Duration) {
        if let Some(pending) = self.pending {
            let _ = tokio::time::timeout(bound, pending).await;
        }
    }
}

/// Takes the tally and records it. A failed write loses that second's per-job counts (the
/// metric keeps them): a leader change in between is the only cause, and the new leader's
/// scheduler starts a fresh tally.
async fn record(handles: &Handles, scheduler: &Scheduler) {
    let Ok(taken) = scheduler.take_skipped().await else {
        return;
    };
    if taken.is_empty() {
        return;
    }
    let total: u64 = taken.iter().map(|s| s.count).sum();
    ::metrics::counter!(metrics::FIRES_SKIPPED).increment(total);
    let jobs = taken.len();
    let fires = taken
        .into_iter()
        .map(|s| SkippedFires {
            job: s.job,
            count: s.count,
            last: s.last,
        })
        .collect();
    tracing::warn!(
        fires = total,
        jobs,
        "timer fires not run: later than their misfire bound (the cluster is past capacity)"
    );
    if let Err(error) = handles.write(Command::RecordSkipped(fires)).await {
        tracing::warn!(%error, "cannot record the skipped fires' counts");
    }
}
