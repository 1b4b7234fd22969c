//! A child of several parents (`parent_jobs`, a dkron-rs extension): its parents, the shape
//! rules of the list, and when a round of parent groups runs it.
//!
//! The rule: each time a parent's group ends for good, its status is noted on the child
//! (`parent_ends`, the latest per parent). Once every parent has a noted status matching the
//! child's `run_on`, the child runs and the notes are cleared, so the next run needs a new
//! group of every parent: "since the child's last run by its parents, each parent's latest
//! ended group satisfied `run_on`". The notes are job state, written by the replicated store
//! in the batch that ends the parent's group, so a new leader decides the same way.

use crate::{Error, Job, JobStatus};

#[cfg(test)]
mod tests;

/// Most parents one job may name in `parent_jobs`: a bound on the work one parent group end
/// and one cycle check do.
pub const MAX_PARENTS: usize = 64;

impl Job {
    /// The job's parents: `parent_job` (an empty one counts as none), then `parent_jobs`.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.parent_job
            .as_deref()
            .filter(|p| !p.is_empty())
            .into_iter()
            .chain(self.parent_jobs.iter().map(String::as_str))
    }

    /// Whether the child waits for several parents (the `parent_jobs` rule), rather than
    /// running after each group of its one parent (dkron's rule).
    pub fn waits_for_parents(&self) -> bool {
        self.parents().nth(1).is_some()
    }

    /// Writes the parents in their one stored form: an empty `parent_job` becomes `None`, a
    /// one-element `parent_jobs` (or one equal to `[parent_job]`) becomes `parent_job`. Any
    /// other combination is left for [`Job::validate`] to refuse.
    pub fn normalize_parents(&mut self) {
        if self.parent_job.as_deref() == Some("") {
            self.parent_job = None;
        }
        match (&self.parent_job, self.parent_jobs.as_slice()) {
            (None, [only]) => {
                self.parent_job = Some(only.clone());
                self.parent_jobs.clear();
            }
            (Some(parent), [only]) if parent == only => self.parent_jobs.clear(),
            _ => {}
        }
    }

    /// The shape rules of `parent_jobs` (part of [`Job::validate`]): not together with a
    /// different `parent_job`, no empty or repeated name, at most [`MAX_PARENTS`], and not the
    /// job itself.
    pub(crate) fn validate_parents(&self) -> Result<(), Error> {
        if self.parent_jobs.is_empty() {
            return Ok(());
        }
        let invalid = |reason: String| Err(Error::InvalidParents { reason });
        if let Some(parent) = self.parent_job.as_deref().filter(|p| !p.is_empty())
            && self.parent_jobs != [parent]
        {
            return invalid(format!(
                "parent_job {parent} is set too: give the parents in parent_jobs only"
            ));
        }
        if self.parent_jobs.len() > MAX_PARENTS {
            return invalid(format!("more than {MAX_PARENTS} parents"));
        }
        for (i, parent) in self.parent_jobs.iter().enumerate() {
            if parent.is_empty() {
                return invalid("a parent name is empty".to_owned());
            }
            if parent == &self.name {
                return Err(Error::SelfParent);
            }
            if self.parent_jobs[..i].contains(parent) {
                return invalid(format!("{parent} is named twice"));
            }
        }
        Ok(())
    }

    /// Notes that `parent`'s group ended for good with `status`, and says whether the child
    /// runs now: every parent's latest ended group matches `run_on`. When it does, the notes
    /// are cleared (the round is used up). A child of one parent, or a job that does not name
    /// `parent`, notes nothing and returns `false` (dkron's rule applies to it).
    pub fn record_parent_end(&mut self, parent: &str, status: JobStatus) -> bool {
        if !self.waits_for_parents() || !self.parents().any(|p| p == parent) {
            return false;
        }
        self.parent_ends.insert(parent.to_owned(), status);
        let run_on = self.run_on;
        let ready = self.parents().all(|p| {
            self.parent_ends
                .get(p)
                .is_some_and(|status| run_on.matches(*status))
        });
        if ready {
            self.parent_ends.clear();
        }
        ready
    }

    /// Keeps the notes of `stored` across an edit, for the parents the job still names (a new
    /// parent starts with none).
    pub fn keep_parent_ends(&mut self, stored: &Job) {
        self.parent_ends.clone_from(&stored.parent_ends);
        if !self.waits_for_parents() {
            self.parent_ends.clear();
            return;
        }
        let parents: Vec<String> = self.parents().map(str::to_owned).collect();
        self.parent_ends.retain(|p, _| parents.contains(p));
    }
}
