//! `dkron-cron` parses job schedules and computes when they fire next.
//!
//! It understands dkron's schedule language (robfig/cron v3 with seconds, plus dkron's own
//! descriptors) and a small superset, and answers one question: *given an instant and a time
//! zone, when does this schedule fire next?*
//!
//! # What it does not do
//!
//! No IO, no clock, no tokio, no serde: it never reads the current time (callers pass instants
//! in) and keeps no state between calls. Remembering whether a one-shot already ran, or when
//! an `@every` job last fired, is the scheduler's job; this crate only gives the facts it needs
//! ([`Schedule::one_shot`], [`Schedule::period`]). Depends on no other dkron crate.
//!
//! # Overview
//!
//! [`Schedule::parse`] (or [`Schedule::parse_for_job`] when the expression may use `~`) turns
//! an expression into a [`Schedule`]; [`Schedule::next_after`] gives the first fire strictly
//! after an instant; [`Schedule::kind`] says whether it is a calendar ([`ScheduleKind::Cron`]),
//! a fixed period ([`ScheduleKind::Interval`]), a one-shot or manual. Errors are [`Error`],
//! whose [`ErrorKind`] says what is wrong and where. [`parse_go_duration`] exposes the Go
//! duration grammar `@every` uses, for other fields in dkron's wire format.
//!
//! # Language
//!
//! * Calendar fields: `sec min hour dom month dow` (dkron), or classic `min hour dom month dow`
//!   (seconds = 0). Each field is a comma list of `*`, `?`, `N`, `N-M`, with an optional
//!   `/step` (`*/15`, `0/15` = `0-59/15`, `10-40/5`). Months `JAN`-`DEC` and weekdays
//!   `SUN`-`SAT` by name (any case); Sunday is 0 or 7.
//! * Day of month and day of week combine as robfig does: when either field has an element
//!   starting with `*` or `?` (without a step above 1) a day must match both, otherwise
//!   either (`0 0 0 */2 * MON` fires on odd days *and* on Mondays).
//! * Superset of dkron: `L` (last day), `LW` (last weekday), `15W` (weekday nearest the 15th,
//!   never leaving the month) in day of month; `5#2` (second Friday), `5L` or `5#L` (last
//!   Friday) in day of week.
//! * Descriptors: `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`
//!   `@minutely`; `@every <go duration>` (robfig: under a second becomes one second, sub-second
//!   parts are dropped; unlike robfig, zero and negative periods are rejected); `@at <rfc 3339>`;
//!   `@after <rfc 3339> <<iso 8601>` (Y = 365 days, M = 30 days); `@manually` and `@triggered`
//!   (never fire on their own). Descriptor names match in any case.
//! * A leading `TZ=Zone` or `CRON_TZ=Zone` evaluates the schedule in that zone, overriding the
//!   zone the caller passes. Unlike dkron (its issue #1031), descriptors honour zones too.
//! * `~` in a field is dkron's per-job value: the sum of the job name's code points, reduced to
//!   the field (sec/min mod 60, hour mod 24, day (mod 28) + 1, month (mod 12) + 1, weekday
//!   mod 7).
//!
//! # Invariants
//!
//! * Bad input never panics: every expression either parses or returns an [`Error`].
//! * [`Schedule::next_after`] is pure, bounded (impossible dates such as 30 February return
//!   `None` after a 400-year search, and nothing goes past year 9999) and returns an instant
//!   strictly after the one given.
//! * DST: a fixed-time job (seconds, minutes and hours each a single value) whose time falls
//!   in a spring-forward gap runs once, at the first instant after the gap; in a fall-back
//!   overlap it runs once, in the first pass. Every other job skips gap times and runs in both
//!   passes of an overlap, in real-time order. These are the Vixie/OCPS rules croner follows;
//!   robfig (and so dkron) instead skips gap runs and runs fixed-time jobs twice.
//!
//! # Example
//!
//! ```
//! use dkron_cron::{Schedule, ScheduleKind};
//! use jiff::{Timestamp, tz::TimeZone};
//!
//! let schedule = Schedule::parse("0 30 9 * * MON-FRI")?;
//! assert_eq!(schedule.kind(), ScheduleKind::Cron);
//!
//! // Friday 2026-03-06 10:00 in New York: next is Monday 09:30 New York time.
//! let tz = TimeZone::get("America/New_York")?;
//! let after: Timestamp = "2026-03-06T15:00:00Z".parse()?;
//! let next = schedule.next_after(after, &tz).expect("weekdays always come");
//! assert_eq!(next.to_string(), "2026-03-09T13:30:00Z");
//! assert_eq!(schedule.describe().to_string(), "at 09:30 on Monday-Friday");
//!
//! // A zone prefix overrides the zone passed in.
//! let berlin = Schedule::parse("CRON_TZ=Europe/Berlin @daily")?;
//! let next = berlin.next_after(after, &TimeZone::UTC).expect("daily");
//! assert_eq!(next.to_string(), "2026-03-06T23:00:00Z");
//!
//! // `~` needs the job name.
//! let hashed = Schedule::parse_for_job("0 0 ~ * * *", "test_job")?;
//! assert_eq!(hashed.next_after(after, &TimeZone::UTC).unwrap().to_string(), "2026-03-06T18:00:00Z");
//! assert!(Schedule::parse("0 0 ~ * * *").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod civil;
mod describe;
mod duration;
mod error;
mod next;
mod parse;
mod spec;

use std::fmt;

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

pub use crate::describe::Description;
pub use crate::error::{DurationProblem, Error, ErrorKind, Field, FieldProblem};
use crate::spec::CronSpec;

/// A parsed schedule. Built only by [`Schedule::parse`] or [`Schedule::parse_for_job`], so it
/// is always valid; immutable and cheap to share.
///
/// `Display` writes the expression as written ([`Schedule::source`]); for English use
/// [`Schedule::describe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    source: Box<str>,
    time_zone: Option<TimeZone>,
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// Calendar fields; `descriptor` names the `@` form it came from, if any.
    Cron {
        spec: CronSpec,
        descriptor: Option<&'static str>,
    },
    /// `@every`: whole seconds, at least one.
    Every(SignedDuration),
    OneShot(OneShot),
    Manual(Manual),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manual {
    Manually,
    Triggered,
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

/// The instant of an `@at` or `@after` schedule, and `@after`'s grace window.
///
/// `@after <at> <<grace>` (dkron 4.1): fires at `at`; a scheduler that loads the job late, but
/// no later than `at + grace` (inclusive), runs it once immediately instead. Whether it already
/// ran is the scheduler's memory, not this crate's: see [`OneShot::is_due_late`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneShot {
    /// When the job is due.
    pub at: Timestamp,
    /// `@after`'s grace window; `None` for `@at` (a missed `@at` never runs).
    pub grace: Option<SignedDuration>,
}

impl OneShot {
    /// Whether a job loaded at `now`, having missed `at`, must still run once right away:
    /// `at <= now <= at + grace`. Always false for `@at`.
    pub fn is_due_late(&self, now: Timestamp) -> bool {
        let Some(grace) = self.grace else {
            return false;
        };
        // A window past the end of time covers everything after `at`.
        let window_end = self.at.checked_add(grace).unwrap_or(Timestamp::MAX);
        self.at <= now && now <= window_end
    }
}

/// Parses a duration in Go's `time.ParseDuration` syntax (`300ms`, `-1.5h`, `2h45m`, `0`).
///
/// Exactly Go's grammar: a sign, then one or more decimal numbers each with a unit (`ns`,
/// `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`), or a bare `0`; values must fit in 64-bit
/// nanoseconds. Used by `@every`, and by dkron-model and dkron-executor for the shell executor's
/// `timeout`: keep this signature stable.
///
/// # Errors
/// Returns an [`Error`] (kind [`ErrorKind::GoDuration`]) when `text` is not a Go duration.
pub fn parse_go_duration(text: &str) -> Result<SignedDuration, Error> {
    duration::parse_go(text)
        .map(SignedDuration::from_nanos)
        .map_err(|problem| {
            Error::duration(
                text,
                ErrorKind::GoDuration {
                    text: text.to_owned(),
                    problem,
                },
            )
        })
}

impl Schedule {
    /// Parses a schedule expression (see the crate docs for the language).
    ///
    /// # Errors
    /// Returns an [`Error`] saying what is wrong and where, including for `~`, which needs
    /// [`Schedule::parse_for_job`].
    pub fn parse(expr: &str) -> Result<Schedule, Error> {
        parse::parse(expr, None)
    }

    /// Parses a schedule expression, replacing `~` with dkron's value derived from `job_name`
    /// (the sum of its Unicode code points, reduced per field). Descriptors never use `~`.
    ///
    /// # Errors
    /// Returns an [`Error`] saying what is wrong and where.
    pub fn parse_for_job(expr: &str, job_name: &str) -> Result<Schedule, Error> {
        let name_sum = job_name.chars().map(|c| u64::from(u32::from(c))).sum();
        parse::parse(expr, Some(name_sum))
    }

    /// The first fire strictly after `after`, evaluated in `tz` unless the expression carries a
    /// `TZ=`/`CRON_TZ=` prefix. `None` means the schedule never fires again.
    ///
    /// * Calendar schedules: the first matching wall clock second after `after`, resolved with
    ///   the DST rules in the crate docs.
    /// * `@every d`: `after` rounded down to the whole second, plus `d`. Pass the previous
    ///   fire (or the instant the job was added) to get a steady period, as robfig does.
    /// * `@at t` and `@after t <g`: `Some(t)` when `after < t`, else `None`. The grace window
    ///   of `@after` is not applied here, because running late needs memory of whether the
    ///   job ran; schedulers use [`Schedule::one_shot`] and [`OneShot::is_due_late`] on load.
    /// * `@manually`, `@triggered`: always `None`.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.repr {
            Repr::Cron { spec, .. } => {
                spec.next_after(after, self.time_zone.as_ref().unwrap_or(tz))
            }
            Repr::Every(period) => {
                let whole = Timestamp::from_second(after.as_second()).ok()?;
                let floor = if after.subsec_nanosecond() < 0 {
                    whole.checked_sub(SignedDuration::from_secs(1)).ok()?
                } else {
                    whole
                };
                floor.checked_add(*period).ok()
            }
            Repr::OneShot(one_shot) => (after < one_shot.at).then_some(one_shot.at),
            Repr::Manual(_) => None,
        }
    }

    /// The fires after `after`, in order: `next_after` applied repeatedly.
    pub fn upcoming<'a>(&'a self, after: Timestamp, tz: &'a TimeZone) -> Upcoming<'a> {
        Upcoming {
            schedule: self,
            tz,
            cursor: Some(after),
        }
    }

    /// What kind of schedule this is.
    pub fn kind(&self) -> ScheduleKind {
        match self.repr {
            Repr::Cron { .. } => ScheduleKind::Cron,
            Repr::Every(_) => ScheduleKind::Interval,
            Repr::OneShot(_) => ScheduleKind::OneShot,
            Repr::Manual(_) => ScheduleKind::Manual,
        }
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The zone of a `TZ=`/`CRON_TZ=` prefix, which overrides the zone passed to
    /// [`Schedule::next_after`].
    pub fn time_zone(&self) -> Option<&TimeZone> {
        self.time_zone.as_ref()
    }

    /// The period of an `@every` schedule: whole seconds, at least one (robfig rounds shorter
    /// periods up to a second and drops sub-second parts).
    pub fn period(&self) -> Option<SignedDuration> {
        match self.repr {
            Repr::Every(period) => Some(period),
            _ => None,
        }
    }

    /// The instant (and grace window) of an `@at` or `@after` schedule.
    pub fn one_shot(&self) -> Option<OneShot> {
        match self.repr {
            Repr::OneShot(one_shot) => Some(one_shot),
            _ => None,
        }
    }

    /// Whether this calendar schedule names one time of day (single second, minute and hour),
    /// which decides its DST behaviour. False for non-calendar schedules.
    ///
    /// Decided on the values, not the syntax: `0 0 */40 * * *` (hours {0}) is fixed-time here,
    /// while croner calls any stepped field an interval.
    pub fn is_fixed_time(&self) -> bool {
        matches!(&self.repr, Repr::Cron { spec, .. } if spec.fixed_time)
    }

    /// An English description, e.g. `at 09:30 on Monday-Friday` or `every 15 minutes`.
    pub fn describe(&self) -> Description<'_> {
        Description::new(self)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Schedule {
    type Err = Error;

    fn from_str(expr: &str) -> Result<Schedule, Error> {
        Schedule::parse(expr)
    }
}

/// Iterator over a schedule's fires, from [`Schedule::upcoming`].
#[derive(Debug, Clone)]
pub struct Upcoming<'a> {
    schedule: &'a Schedule,
    tz: &'a TimeZone,
    cursor: Option<Timestamp>,
}

impl Iterator for Upcoming<'_> {
    type Item = Timestamp;

    fn next(&mut self) -> Option<Timestamp> {
        let next = self.schedule.next_after(self.cursor?, self.tz);
        self.cursor = next;
        next
    }
}
