//! Where notifications start on a server: the leader, when it learns from the applied feed
//! that an execution finished (once per execution, whichever node ran it), and when it records
//! a start (`leader::ports::HandOff` for other nodes, `RaftReport` for its own share). Delivery is `dkron-notify`'s, off both paths; this module only reads
//! what the notifier needs from the local store.
//!
//! Exactly one server sends: the leader, which alone follows the feed with a running scheduler.
//! An execution finished during a change of leader may be notified by neither or, rarely, both.

use std::sync::Arc;

use dkron_model::{Execution, Job};
use dkron_notify::{Finished, Lookup, Notifier};
use dkron_store::HistoryPage;

use crate::handles::Handles;

/// Executions read to find a finished one's group and the run before it.
const LOOKBACK: usize = 64;

/// The notifier's view of the local store.
#[derive(Debug)]
pub(crate) struct StoreLookup {
    pub(crate) handles: Arc<Handles>,
}

impl Lookup for StoreLookup {
    fn finished(&self, execution: &Execution) -> Finished {
        let store = &self.handles.store;
        let stored = store
            .execution(&execution.job_name, &execution.id())
            .ok()
            .flatten()
            .unwrap_or_else(|| execution.clone());
        // The newest executions only (bounded work per notification, whatever the history
        // limit), outputs cut to nothing: the group and the previous run need no output.
        let page = HistoryPage {
            newest_first: true,
            start: 0,
            end: Some(LOOKBACK),
        };
        let listed = store
            .executions_page(&execution.job_name, page, Some(0))
            .map(|(listed, _total)| listed)
            .unwrap_or_default();
        let group = listed
            .iter()
            .filter(|l| l.execution.group == execution.group)
            .map(|l| l.execution.clone())
            .collect();
        let recovered = previous_failed(listed.iter().map(|l| &l.execution), execution);
        Finished {
            execution: stored,
            group,
            recovered,
        }
    }
}

/// Whether the job's run before `execution` failed: the latest finished execution of another
/// group that started before it, among `newest_first` (a later run may already have started).
fn previous_failed<'a>(
    newest_first: impl Iterator<Item = &'a Execution>,
    execution: &Execution,
) -> bool {
    newest_first
        .filter(|e| e.group != execution.group && e.started_at < execution.started_at)
        .find(|e| e.finished_at.is_some())
        .is_some_and(|previous| !previous.success)
}

/// This server starts `execution`: tells the notifier (pre-webhook, Cronitor `run`).
pub(crate) fn started(handles: &Handles, notifier: &Notifier, execution: &Execution) {
    if !notifier.wants_starts() {
        return;
    }
    if let Ok(Some(job)) = handles.store.job(&execution.job_name) {
        notifier.started(Arc::new(job), execution.clone());
    }
}

/// An execution was recorded finished: notifies it unless it will be retried.
pub(crate) fn finished(handles: &Handles, notifier: &Notifier, execution: &Execution) {
    if !notifier.wants_finishes() {
        return;
    }
    // A job deleted meanwhile (ephemeral) still notifies, with no owner to email.
    let job = handles
        .store
        .job(&execution.job_name)
        .ok()
        .flatten()
        .unwrap_or_else(|| Job::new(execution.job_name.clone()));
    if dkron_notify::is_final(&job, execution) {
        notifier.finished(Arc::new(job), execution.clone());
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn run(group: i64, second: i64, success: bool, finished: bool) -> Execution {
        let started_at = Timestamp::from_second(second).unwrap();
        Execution {
            job_name: "j".into(),
            group,
            started_at,
            finished_at: finished.then_some(started_at),
            success,
            ..Execution::default()
        }
    }

    #[test]
    fn a_success_after_a_failed_run_is_a_recovery() {
        let this = run(3, 30, true, true);
        // Newest first: a later run already started, this one, then its earlier attempt,
        // then the previous run (failed), then an older success.
        let history = [
            run(4, 40, true, false),
            this.clone(),
            run(3, 29, false, true),
            run(2, 20, false, true),
            run(1, 10, true, true),
        ];
        assert!(previous_failed(history.iter(), &this));
    }

    #[test]
    fn a_success_after_a_success_or_nothing_is_not_a_recovery() {
        let this = run(3, 30, true, true);
        let history = [
            this.clone(),
            run(2, 20, true, true),
            run(1, 10, false, true),
        ];
        assert!(!previous_failed(history.iter(), &this));
        assert!(!previous_failed([this.clone()].iter(), &this));
        // A previous run still going does not count; the one before it does.
        let history = [
            this.clone(),
            run(2, 20, false, false),
            run(1, 10, false, true),
        ];
        assert!(previous_failed(history.iter(), &this));
    }
}
