//! Integration tests of dkron-cron: table tests (robfig/dkron semantics, DST, descriptors,
//! errors), property tests, and a differential test against croner.

mod descriptors;
mod differential;
mod dst;
mod errors;
mod props;
mod robfig;

use dkron_cron::Schedule;
use jiff::{Timestamp, tz::TimeZone};

/// Parses an RFC 3339 instant, panicking with the text on failure (test input only).
fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad test timestamp {text}: {e}"))
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| panic!("unknown zone {name}: {e}"))
}

/// Asserts the first fire of `expr` strictly after `after` (evaluated in `tz`), or none when
/// `expected` is empty.
#[track_caller]
fn check(expr: &str, after: &str, tz: &TimeZone, expected: &str) {
    let schedule = Schedule::parse(expr).unwrap_or_else(|e| panic!("{e}"));
    let got = schedule.next_after(ts(after), tz);
    let want = (!expected.is_empty()).then(|| ts(expected));
    assert_eq!(
        got, want,
        "`{expr}` after {after}: got {got:?}, want {want:?}"
    );
}

/// Asserts the successive fires of `expr` after `after`.
#[track_caller]
fn check_sequence(expr: &str, after: &str, tz: &TimeZone, expected: &[&str]) {
    let schedule = Schedule::parse(expr).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<Timestamp> = schedule
        .upcoming(ts(after), tz)
        .take(expected.len())
        .collect();
    let want: Vec<Timestamp> = expected.iter().map(|text| ts(text)).collect();
    assert_eq!(got, want, "`{expr}` after {after}");
}

/// Property test case count: `default`, or `PROPTEST_CASES` for a longer local run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
