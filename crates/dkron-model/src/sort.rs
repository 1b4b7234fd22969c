//! How job lists sort: dkron's `_sort` keys and the one order every lister uses, so a list
//! answered from the store's index and one sorted in memory come out the same.

use std::cmp::Ordering;

use jiff::Timestamp;

use crate::Job;

#[cfg(test)]
mod tests;

/// dkron's sort keys for `GET /v1/jobs` (`_sort`; `id` means `name`).
///
/// Strings compare ASCII-case-insensitively (as dkron's BuntDB string indexes do), times with
/// "never" first; ties are broken by name, so every order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JobSort {
    /// `name` (also `id`; the default).
    #[default]
    Name,
    /// `displayname`.
    DisplayName,
    /// `schedule`.
    Schedule,
    /// `success_count`.
    SuccessCount,
    /// `error_count`.
    ErrorCount,
    /// `last_success` (never succeeded sorts first).
    LastSuccess,
    /// `last_error` (never failed sorts first).
    LastError,
    /// `next` (no next fire sorts first).
    Next,
}

/// The fields a job list sorts on, for whatever holds them (a [`Job`], a store's summary).
pub trait SortFields {
    /// `name`.
    fn name(&self) -> &str;
    /// `displayname`.
    fn display_name(&self) -> &str;
    /// `schedule`.
    fn schedule(&self) -> &str;
    /// `success_count`.
    fn success_count(&self) -> u64;
    /// `error_count`.
    fn error_count(&self) -> u64;
    /// `last_success`.
    fn last_success(&self) -> Option<Timestamp>;
    /// `last_error`.
    fn last_error(&self) -> Option<Timestamp>;
    /// `next`.
    fn next(&self) -> Option<Timestamp>;
}

impl JobSort {
    /// Every key, in a fixed order (a lister may keep one list per key, indexed by position).
    pub const ALL: [JobSort; 8] = [
        JobSort::Name,
        JobSort::DisplayName,
        JobSort::Schedule,
        JobSort::SuccessCount,
        JobSort::ErrorCount,
        JobSort::LastSuccess,
        JobSort::LastError,
        JobSort::Next,
    ];

    /// Every `_sort` value accepted, in the order an error message lists them.
    pub const QUERY_NAMES: [&'static str; 9] = [
        "id",
        "name",
        "displayname",
        "schedule",
        "success_count",
        "error_count",
        "last_success",
        "last_error",
        "next",
    ];

    /// dkron's name for the key.
    pub fn as_str(self) -> &'static str {
        match self {
            JobSort::Name => "name",
            JobSort::DisplayName => "displayname",
            JobSort::Schedule => "schedule",
            JobSort::SuccessCount => "success_count",
            JobSort::ErrorCount => "error_count",
            JobSort::LastSuccess => "last_success",
            JobSort::LastError => "last_error",
            JobSort::Next => "next",
        }
    }

    /// The key a `_sort` value names (`id` is `name`), or `None`.
    pub fn from_query(text: &str) -> Option<JobSort> {
        if text == "id" {
            return Some(JobSort::Name);
        }
        JobSort::ALL.into_iter().find(|key| key.as_str() == text)
    }

    /// Orders `a` and `b` by this key, then by name.
    pub fn compare<T: SortFields + ?Sized>(self, a: &T, b: &T) -> Ordering {
        let by_key = match self {
            JobSort::Name => Ordering::Equal,
            JobSort::DisplayName => cmp_ascii_ci(a.display_name(), b.display_name()),
            JobSort::Schedule => cmp_ascii_ci(a.schedule(), b.schedule()),
            JobSort::SuccessCount => a.success_count().cmp(&b.success_count()),
            JobSort::ErrorCount => a.error_count().cmp(&b.error_count()),
            JobSort::LastSuccess => a.last_success().cmp(&b.last_success()),
            JobSort::LastError => a.last_error().cmp(&b.last_error()),
            JobSort::Next => a.next().cmp(&b.next()),
        };
        by_key.then_with(|| a.name().cmp(b.name()))
    }
}

impl std::fmt::Display for JobSort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SortFields for Job {
    fn name(&self) -> &str {
        &self.name
    }
    fn display_name(&self) -> &str {
        &self.display_name
    }
    fn schedule(&self) -> &str {
        &self.schedule
    }
    fn success_count(&self) -> u64 {
        self.success_count
    }
    fn error_count(&self) -> u64 {
        self.error_count
    }
    fn last_success(&self) -> Option<Timestamp> {
        self.last_success
    }
    fn last_error(&self) -> Option<Timestamp> {
        self.last_error
    }
    fn next(&self) -> Option<Timestamp> {
        self.next
    }
}

fn cmp_ascii_ci(a: &str, b: &str) -> Ordering {
    let a = a.bytes().map(|c| c.to_ascii_lowercase());
    let b = b.bytes().map(|c| c.to_ascii_lowercase());
    a.cmp(b)
}
