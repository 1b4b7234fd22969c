//! `dkron-cron` parses job schedules and computes when they fire next.
//!
//! (Skeleton: the public API below is fixed; the implementation is being written.)

#![warn(missing_docs)]

use std::fmt;

use jiff::{Timestamp, tz::TimeZone};

/// A parsed schedule. Built only by [`Schedule::parse`] or [`Schedule::parse_for_job`].
#[derive(Debug, Clone)]
pub struct Schedule {
    source: String,
}

/// What kind of schedule a [`Schedule`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// Calendar fields (`0 30 9 * * MON-FRI`) or a calendar descriptor (`@daily`).
    Cron,
    /// `@every <duration>`: a fixed period.
    Interval,
    /// `@at <time>` or `@after <time> <grace>`: fires at most once.
    OneShot,
    /// `@manually` or `@triggered`: never fires on its own.
    Manual,
}

/// Why a schedule expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Schedule {
    /// Parses a schedule expression.
    ///
    /// # Errors
    /// Returns an [`Error`] saying what is wrong and where.
    pub fn parse(expr: &str) -> Result<Schedule, Error> {
        Err(Error { message: format!("schedule parser not implemented yet: `{expr}`") })
    }

    /// Parses a schedule expression, replacing `~` with dkron's value derived from `job_name`.
    ///
    /// # Errors
    /// Returns an [`Error`] saying what is wrong and where.
    pub fn parse_for_job(expr: &str, job_name: &str) -> Result<Schedule, Error> {
        let _ = job_name;
        Schedule::parse(expr)
    }

    /// The first fire strictly after `after`, evaluated in `tz` unless the expression carries a
    /// `TZ=`/`CRON_TZ=` prefix. `None` means the schedule never fires again.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let _ = (after, tz);
        None
    }

    /// What kind of schedule this is.
    pub fn kind(&self) -> ScheduleKind {
        ScheduleKind::Manual
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}
