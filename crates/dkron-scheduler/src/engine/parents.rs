//! Children of several parents (`parent_jobs`): whether a parent's finished group completes a
//! round of the child's parents ([`dkron_model::Job::record_parent_end`] is the rule).
//!
//! Who applies the rule depends on where the report came from. A replicated store applies it
//! in the batch that ends the parent's group and lists the ready children in the report, so
//! every leader decides the same from replicated state. Reports received in-process (the
//! embedded scheduler) have no store to decide: this loop notes the parent ends on its own copy
//! of the child.

use dkron_model::JobStatus;

use super::Engine;

/// Who decides which children of several parents a finished group makes ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decided {
    /// The replicated store: its report lists them (`GroupProgress::ready_children`).
    ByStore,
    /// This loop, for reports it received in-process.
    Here,
}

impl Decided {
    /// The ready children when the store decided (`listed`); `None` when this loop decides.
    pub(super) fn ready(self, listed: Vec<String>) -> Option<Vec<String>> {
        match self {
            Decided::ByStore => Some(listed),
            Decided::Here => None,
        }
    }
}

impl Engine {
    /// Whether `parent`'s group that ended with `status` completes a round of the parents of
    /// child `idx`: it is in `ready` (the store's decision), or, with `ready` `None`, the notes
    /// on the loop's copy of the child say so. Those notes live in memory only, and a new copy
    /// of the child (an upsert) starts them afresh.
    pub(super) fn completes_round(
        &mut self,
        idx: u32,
        parent: &str,
        status: JobStatus,
        ready: Option<&[String]>,
    ) -> bool {
        let Some(slot) = self.slot_mut(idx) else {
            return false;
        };
        match ready {
            Some(ready) => ready.iter().any(|c| c == slot.job.name()),
            None => slot.job.make_mut().record_parent_end(parent, status),
        }
    }
}
