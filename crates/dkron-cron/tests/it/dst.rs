//! DST tables for America/New_York, Europe/Berlin and Australia/Lord_Howe (30-minute shift).
//!
//! Rules (Vixie/OCPS, as croner): a fixed-time job in a spring-forward gap runs once at the
//! first instant after the gap; in a fall-back overlap once, in the first pass; wildcard and
//! interval jobs skip the gap and run in both passes, in real-time order. robfig (dkron) skips
//! gap runs and runs fixed-time jobs twice; the cases where we differ say so.

use crate::{check, check_sequence, zone};

#[test]
fn new_york_spring_forward() {
    // 2026-03-08 02:00 EST -> 03:00 EDT.
    let ny = zone("America/New_York");
    // Fixed time inside the gap: first instant after it, then back to normal.
    check_sequence(
        "0 30 2 * * *",
        "2026-03-07T12:00:00-05:00",
        &ny,
        &["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
    );
    check(
        "0 0 2 * * *",
        "2026-03-08T00:00:00-05:00",
        &ny,
        "2026-03-08T03:00:00-04:00",
    );
    // robfig's own case: it skips to next year; we run at the gap's end.
    check(
        "TZ=America/New_York 0 30 2 11 Mar ?",
        "2012-03-11T00:00:00-05:00",
        &ny,
        "2012-03-11T03:00:00-04:00",
    );
    // Fixed time outside the gap is unaffected.
    check_sequence(
        "0 30 1 * * *",
        "2026-03-08T00:00:00-05:00",
        &ny,
        &["2026-03-08T01:30:00-05:00", "2026-03-09T01:30:00-04:00"],
    );
    // Wildcard / interval jobs skip the missing hour.
    check_sequence(
        "0 */30 * * * *",
        "2026-03-08T01:00:00-05:00",
        &ny,
        &[
            "2026-03-08T01:30:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:30:00-04:00",
        ],
    );
    check_sequence(
        "0 0 * * * *",
        "2026-03-08T00:00:00-05:00",
        &ny,
        &[
            "2026-03-08T01:00:00-05:00",
            "2026-03-08T03:00:00-04:00",
            "2026-03-08T04:00:00-04:00",
        ],
    );
    check(
        "* * * * * *",
        "2026-03-08T01:59:59-05:00",
        &ny,
        "2026-03-08T03:00:00-04:00",
    );
    check(
        "0 0,30 2 * * *",
        "2026-03-08T01:00:00-05:00",
        &ny,
        "2026-03-09T02:00:00-04:00",
    );
    // robfig's hourly cases (they agree with ours).
    check_sequence(
        "TZ=America/New_York 0 0 * * * ?",
        "2012-03-11T00:00:00-05:00",
        &jiff::tz::TimeZone::UTC,
        &[
            "2012-03-11T01:00:00-05:00",
            "2012-03-11T03:00:00-04:00",
            "2012-03-11T04:00:00-04:00",
            "2012-03-11T05:00:00-04:00",
        ],
    );
    // Descriptors honour the zone (dkron #1031).
    check_sequence(
        "CRON_TZ=America/New_York @daily",
        "2026-03-07T12:00:00Z",
        &jiff::tz::TimeZone::UTC,
        &["2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"],
    );
}

#[test]
fn new_york_fall_back() {
    // 2026-11-01 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice.
    let ny = zone("America/New_York");
    // Fixed time in the overlap: once, first pass.
    check_sequence(
        "0 30 1 * * *",
        "2026-11-01T00:00:00-04:00",
        &ny,
        &["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"],
    );
    // Already in the second pass: today's run is gone.
    check(
        "0 15 1 * * *",
        "2026-11-01T01:05:00-05:00",
        &ny,
        "2026-11-02T01:15:00-05:00",
    );
    // Fixed times after the overlap run once (robfig agrees).
    check_sequence(
        "0 0 2 * * *",
        "2026-11-01T00:00:00-04:00",
        &ny,
        &["2026-11-01T02:00:00-05:00", "2026-11-02T02:00:00-05:00"],
    );
    // robfig runs `0 0 1 * * ?` twice that night; we run it once.
    check_sequence(
        "TZ=America/New_York 0 0 1 * * ?",
        "2012-11-04T00:00:00-04:00",
        &ny,
        &["2012-11-04T01:00:00-04:00", "2012-11-05T01:00:00-05:00"],
    );
    // Interval jobs run in both passes, in real-time order.
    check_sequence(
        "0 */30 * * * *",
        "2026-11-01T00:45:00-04:00",
        &ny,
        &[
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:00:00-05:00",
        ],
    );
    // From late in the first pass, the second pass comes next (not 02:00).
    check(
        "0 */30 * * * *",
        "2026-11-01T01:45:00-04:00",
        &ny,
        "2026-11-01T01:00:00-05:00",
    );
    check(
        "0 0,30 1 * * *",
        "2026-11-01T01:45:00-04:00",
        &ny,
        "2026-11-01T01:00:00-05:00",
    );
    check(
        "0 0 1,3 * * *",
        "2026-11-01T01:30:00-04:00",
        &ny,
        "2026-11-01T01:00:00-05:00",
    );
    check_sequence(
        "0 0 * * * *",
        "2026-11-01T00:00:00-04:00",
        &ny,
        &[
            "2026-11-01T01:00:00-04:00",
            "2026-11-01T01:00:00-05:00",
            "2026-11-01T02:00:00-05:00",
        ],
    );
    check_sequence(
        "CRON_TZ=America/New_York @hourly",
        "2012-11-04T00:00:00-04:00",
        &jiff::tz::TimeZone::UTC,
        &[
            "2012-11-04T01:00:00-04:00",
            "2012-11-04T01:00:00-05:00",
            "2012-11-04T02:00:00-05:00",
        ],
    );
    check_sequence(
        "@daily",
        "2026-10-31T12:00:00-04:00",
        &ny,
        &["2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"],
    );
}

#[test]
fn berlin() {
    // 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
    let berlin = zone("Europe/Berlin");
    check_sequence(
        "0 30 2 * * *",
        "2026-03-28T12:00:00+01:00",
        &berlin,
        &["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    );
    check_sequence(
        "0 0 * * * *",
        "2026-03-29T00:30:00+01:00",
        &berlin,
        &["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"],
    );
    check_sequence(
        "0 30 2 * * *",
        "2026-10-24T12:00:00+02:00",
        &berlin,
        &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"],
    );
    check_sequence(
        "0 */30 * * * *",
        "2026-10-25T02:15:00+02:00",
        &berlin,
        &[
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T02:30:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ],
    );
    check_sequence(
        "0 30 1 * * *",
        "2026-10-24T12:00:00+02:00",
        &berlin,
        &["2026-10-25T01:30:00+02:00", "2026-10-26T01:30:00+01:00"],
    );
    check_sequence(
        "TZ=Europe/Berlin @weekly",
        "2026-10-20T00:00:00Z",
        &jiff::tz::TimeZone::UTC,
        &["2026-10-25T00:00:00+02:00", "2026-11-01T00:00:00+01:00"],
    );
}

#[test]
fn lord_howe_half_hour_shift() {
    // 2026-04-05 02:00 +11:00 -> 01:30 +10:30 (01:30-01:59 twice);
    // 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (02:00-02:29 missing).
    let lord_howe = zone("Australia/Lord_Howe");
    check_sequence(
        "0 15 2 * * *",
        "2026-10-03T12:00:00+10:30",
        &lord_howe,
        &["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"],
    );
    check_sequence(
        "0 */15 * * * *",
        "2026-10-04T01:40:00+10:30",
        &lord_howe,
        &[
            "2026-10-04T01:45:00+10:30",
            "2026-10-04T02:30:00+11:00",
            "2026-10-04T02:45:00+11:00",
        ],
    );
    check_sequence(
        "0 45 1 * * *",
        "2026-04-04T12:00:00+11:00",
        &lord_howe,
        &["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"],
    );
    check_sequence(
        "0 */15 * * * *",
        "2026-04-05T01:20:00+11:00",
        &lord_howe,
        &[
            "2026-04-05T01:30:00+11:00",
            "2026-04-05T01:45:00+11:00",
            "2026-04-05T01:30:00+10:30",
            "2026-04-05T01:45:00+10:30",
            "2026-04-05T02:00:00+10:30",
        ],
    );
    check_sequence(
        "0 0 * * * *",
        "2026-04-05T00:30:00+11:00",
        &lord_howe,
        &[
            "2026-04-05T01:00:00+11:00",
            "2026-04-05T02:00:00+10:30",
            "2026-04-05T03:00:00+10:30",
        ],
    );
    check_sequence(
        "0 0 * * * *",
        "2026-10-04T00:30:00+10:30",
        &lord_howe,
        &["2026-10-04T01:00:00+10:30", "2026-10-04T03:00:00+11:00"],
    );
}
