//! Listing queries: react-admin's json-server parameters turned into typed filters, and the
//! filtering, sorting and slicing itself, shared by every [`crate::Cluster`] implementation.

use std::{borrow::Borrow, cmp::Ordering, collections::BTreeMap};

use dkron_model::{Execution, Job, JobSort, JobStatus};

#[cfg(test)]
mod tests;

/// A slice of a filtered, sorted list, with the size of the whole filtered list
/// (`X-Total-Count`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page<T> {
    /// The items of the slice, in order.
    pub items: Vec<T>,
    /// How many items matched before slicing.
    pub total: usize,
}

/// `GET /v1/jobs` parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobQuery {
    /// `metadata[k]=v`: the job's metadata must hold every pair.
    pub metadata: BTreeMap<String, String>,
    /// `q`: case-sensitive substring of the name or the display name.
    pub text: Option<String>,
    /// `status`: exact status (`untriggered` = never run).
    pub status: Option<JobStatus>,
    /// `disabled`.
    pub disabled: Option<bool>,
    /// `id` (repeatable; react-admin's `getMany`): only these names. Empty = no filter.
    pub names: Vec<String>,
    /// `_sort`.
    pub sort: JobSort,
    /// `_order=DESC`.
    pub descending: bool,
    /// `_start`: index of the first item returned.
    pub start: usize,
    /// `_end`: index one past the last item returned; `None` = to the end.
    pub end: Option<usize>,
}

impl JobQuery {
    /// Whether `job` passes every filter.
    pub fn matches(&self, job: &Job) -> bool {
        if !self.names.is_empty() && !self.names.contains(&job.name) {
            return false;
        }
        if let Some(text) = &self.text
            && !job.name.contains(text.as_str())
            && !job.display_name.contains(text.as_str())
        {
            return false;
        }
        if self.status.is_some_and(|s| s != job.status) {
            return false;
        }
        if self.disabled.is_some_and(|d| d != job.disabled) {
            return false;
        }
        self.metadata
            .iter()
            .all(|(k, v)| job.metadata.get(k) == Some(v))
    }

    /// Whether the query only pages through all jobs in name order (no filter, sorted by name,
    /// either direction): an implementation can then answer from its name-ordered store in
    /// O(page), skipping `start` jobs, with [`Page::total`] = the number of jobs, instead of
    /// scanning everything with [`JobQuery::apply`]. The UI's job list asks exactly this.
    pub fn is_plain_name_page(&self) -> bool {
        self.sort == JobSort::Name
            && self.metadata.is_empty()
            && self.text.is_none()
            && self.status.is_none()
            && self.disabled.is_none()
            && self.names.is_empty()
    }

    /// Filters, sorts ([`JobSort::compare`]: ties broken by name, so pages are stable) and
    /// slices `jobs`.
    /// Out-of-range `_start`/`_end` give an empty or shorter page, never an error.
    ///
    /// Costs O(n + k log k) for a page ending at rank k. Prefer [`JobQuery::apply_borrowed`]
    /// when the jobs are already in memory (only the page is cloned), and see
    /// [`JobQuery::is_plain_name_page`] for the common case that needs only the page.
    pub fn apply(&self, jobs: &mut dyn Iterator<Item = Job>) -> Page<Job> {
        let matching: Vec<Job> = jobs.filter(|job| self.matches(job)).collect();
        self.page(matching)
    }

    /// [`JobQuery::apply`] over borrowed jobs: filters and orders references and clones only
    /// the jobs of the page.
    pub fn apply_borrowed(&self, jobs: &mut dyn Iterator<Item = &Job>) -> Page<Job> {
        let matching: Vec<&Job> = jobs.filter(|job| self.matches(job)).collect();
        let page = self.page(matching);
        Page {
            items: page.items.into_iter().cloned().collect(),
            total: page.total,
        }
    }

    fn page<T: Borrow<Job>>(&self, mut items: Vec<T>) -> Page<T> {
        let total = items.len();
        let end = self.end.unwrap_or(total).min(total);
        let start = self.start.min(end);
        let order = |a: &T, b: &T| {
            let (a, b) = (a.borrow(), b.borrow());
            let ascending = self.sort.compare(a, b);
            if self.descending {
                ascending.reverse()
            } else {
                ascending
            }
        };
        // Only the first `end` ranks are needed: partition them out, then sort just those.
        if end < total {
            if end == 0 {
                items.clear();
            } else {
                items.select_nth_unstable_by(end - 1, order);
                items.truncate(end);
            }
        }
        items.sort_by(order);
        items.drain(..start);
        Page { items, total }
    }
}

/// `GET /v1/jobs/{job}/executions` parameters (applied by the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecQuery {
    /// `_sort`.
    pub sort: ExecSort,
    /// `_order`: descending unless `ASC` (dkron's default is `DESC`).
    pub descending: bool,
    /// `_start`.
    pub start: usize,
    /// `_end`; `None` = to the end.
    pub end: Option<usize>,
}

impl Default for ExecQuery {
    fn default() -> ExecQuery {
        ExecQuery {
            sort: ExecSort::StartedAt,
            descending: true,
            start: 0,
            end: None,
        }
    }
}

/// Sort key of an execution list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExecSort {
    /// `id` or `started_at` (the default).
    #[default]
    StartedAt,
    /// `finished_at` (running executions sort last).
    FinishedAt,
    /// `attempt`.
    Attempt,
    /// `node_name`.
    NodeName,
    /// `success`.
    Success,
    /// `group`.
    Group,
}

impl ExecSort {
    /// The key named `text`; unknown keys give `None` (the API then keeps the default order, as
    /// dkron answers an unknown key without an error).
    pub fn from_query(text: &str) -> Option<ExecSort> {
        Some(match text {
            "id" | "started_at" => ExecSort::StartedAt,
            "finished_at" => ExecSort::FinishedAt,
            "attempt" => ExecSort::Attempt,
            "node_name" => ExecSort::NodeName,
            "success" => ExecSort::Success,
            "group" => ExecSort::Group,
            _ => return None,
        })
    }

    fn compare(self, a: &Execution, b: &Execution) -> Ordering {
        match self {
            ExecSort::StartedAt => Ordering::Equal,
            // `None` (running) after every finished time.
            ExecSort::FinishedAt => match (a.finished_at, b.finished_at) {
                (Some(x), Some(y)) => x.cmp(&y),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
            },
            ExecSort::Attempt => a.attempt.cmp(&b.attempt),
            ExecSort::NodeName => a.node_name.cmp(&b.node_name),
            ExecSort::Success => a.success.cmp(&b.success),
            ExecSort::Group => a.group.cmp(&b.group),
        }
    }
}

impl ExecQuery {
    /// Sorts (ties by start time, then node) and slices `executions`.
    pub fn apply(&self, mut executions: Vec<Execution>) -> Page<Execution> {
        executions.sort_by(|a, b| {
            let by_key = self
                .sort
                .compare(a, b)
                .then_with(|| a.started_at.cmp(&b.started_at))
                .then_with(|| a.node_name.cmp(&b.node_name));
            if self.descending {
                by_key.reverse()
            } else {
                by_key
            }
        });
        slice(executions, self.start, self.end)
    }
}

fn slice<T>(mut items: Vec<T>, start: usize, end: Option<usize>) -> Page<T> {
    let total = items.len();
    let end = end.unwrap_or(total).min(total);
    let start = start.min(end);
    items.truncate(end);
    items.drain(..start);
    Page { items, total }
}
