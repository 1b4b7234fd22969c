//! robfig/cron v3's `TestNext` and `TestActivation` cases (the semantics dkron inherits), in
//! UTC. DST cases live in `dst.rs`.

use jiff::tz::TimeZone;

use crate::{check, ts};
use dkron_cron::Schedule;

#[test]
fn next_table() {
    let utc = TimeZone::UTC;
    let cases = [
        (
            "2012-07-09T14:45:00Z",
            "0 0/15 * * * *",
            "2012-07-09T15:00:00Z",
        ),
        (
            "2012-07-09T14:59:00Z",
            "0 0/15 * * * *",
            "2012-07-09T15:00:00Z",
        ),
        (
            "2012-07-09T14:59:59Z",
            "0 0/15 * * * *",
            "2012-07-09T15:00:00Z",
        ),
        (
            "2012-07-09T15:45:00Z",
            "0 20-35/15 * * * *",
            "2012-07-09T16:20:00Z",
        ),
        (
            "2012-07-09T23:46:00Z",
            "0 */15 * * * *",
            "2012-07-10T00:00:00Z",
        ),
        (
            "2012-07-09T23:45:00Z",
            "0 20-35/15 * * * *",
            "2012-07-10T00:20:00Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * * * *",
            "2012-07-10T00:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 1/2 * * *",
            "2012-07-10T01:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 10-12 * * *",
            "2012-07-10T10:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 1/2 */2 * *",
            "2012-07-11T01:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * 9-20 * *",
            "2012-07-10T00:20:15Z",
        ),
        (
            "2012-07-09T23:35:51Z",
            "15/35 20-35/15 * 9-20 Jul *",
            "2012-07-10T00:20:15Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 9 Apr-Oct ?",
            "2012-08-09T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 */5 Apr,Aug,Oct Mon",
            "2012-08-01T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 */5 Oct Mon",
            "2012-10-01T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 * Feb Mon",
            "2013-02-04T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 * Feb Mon/2",
            "2013-02-01T00:00:00Z",
        ),
        (
            "2012-12-31T23:59:45Z",
            "0 * * * * *",
            "2013-01-01T00:00:00Z",
        ),
        (
            "2012-07-09T23:35:00Z",
            "0 0 0 29 Feb ?",
            "2016-02-29T00:00:00Z",
        ),
        ("2012-07-09T23:35:00Z", "0 0 0 30 Feb ?", ""),
        ("2012-07-09T23:35:00Z", "0 0 0 31 Apr ?", ""),
        // Classic 5-field form: seconds are zero.
        (
            "2016-01-03T04:09:03Z",
            "14 14 * * ?",
            "2016-01-03T14:14:00Z",
        ),
        (
            "2016-01-03T14:00:00Z",
            "14 14 * * ?",
            "2016-01-03T14:14:00Z",
        ),
    ];
    for (after, expr, expected) in cases {
        check(expr, after, &utc, expected);
    }
}

#[test]
fn zone_prefix_table() {
    // robfig's TZ= cases that do not touch a DST transition.
    let utc = TimeZone::UTC;
    check(
        "TZ=America/New_York 0 0 3 3 * ?",
        "2012-11-04T04:00:00Z",
        &utc,
        "2012-12-03T08:00:00Z",
    );
    // robfig #157: DST makes midnight not exist in Sao Paulo (2018-11-04).
    check(
        "TZ=America/Sao_Paulo 0 0 9 10 * ?",
        "2018-10-17T09:00:00Z",
        &utc,
        "2018-11-10T11:00:00Z",
    );
    check(
        "TZ=America/Sao_Paulo 0 0 9 22 * ?",
        "2018-02-14T10:00:00Z",
        &utc,
        "2018-02-22T12:00:00Z",
    );
}

/// robfig's `TestActivation`: does the schedule fire exactly at `time`?
#[test]
fn activation_table() {
    let cases = [
        ("2012-07-15T00:00:00Z", "0/15 * * * *", true),
        ("2012-07-15T00:45:00Z", "0/15 * * * *", true),
        ("2012-07-15T00:40:00Z", "0/15 * * * *", false),
        ("2012-07-15T00:05:00Z", "5/15 * * * *", true),
        ("2012-07-15T00:20:00Z", "5/15 * * * *", true),
        ("2012-07-15T00:50:00Z", "5/15 * * * *", true),
        ("2012-07-15T08:30:00Z", "30 08 ? Jul Sun", true),
        ("2012-07-15T08:30:00Z", "30 08 15 Jul ?", true),
        ("2012-07-16T08:30:00Z", "30 08 ? Jul Sun", false),
        ("2012-07-16T08:30:00Z", "30 08 15 Jul ?", false),
        ("2012-07-15T08:30:00Z", "30 08 ? Jul Sun", true),
        ("2012-07-01T00:00:00Z", "@monthly", true),
        // Day of month and day of week: both restricted means either may match.
        ("2012-07-15T00:00:00Z", "* * 1,15 * Sun", true),
        ("2012-06-15T00:00:00Z", "* * 1,15 * Sun", true),
        ("2012-08-01T00:00:00Z", "* * 1,15 * Sun", true),
        ("2012-07-15T00:00:00Z", "* * */10 * Sun", true),
        // ... but a star in either means both must match.
        ("2012-07-15T00:00:00Z", "* * * * Mon", false),
        ("2012-07-09T00:00:00Z", "* * 1,15 * *", false),
        ("2012-07-15T00:00:00Z", "* * 1,15 * *", true),
        ("2012-07-15T00:00:00Z", "* * */2 * Sun", true),
    ];
    for (time, expr, expected) in cases {
        let schedule = Schedule::parse(expr).unwrap_or_else(|e| panic!("{e}"));
        let at = ts(time);
        let before = at.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap();
        let fires = schedule.next_after(before, &TimeZone::UTC) == Some(at);
        assert_eq!(fires, expected, "`{expr}` at {time}");
    }
}

#[test]
fn star_rule_example_from_the_brief() {
    // `*/2` is not a star (robfig #70): odd days OR Mondays.
    let utc = TimeZone::UTC;
    crate::check_sequence(
        "0 0 0 */2 * MON",
        "2026-03-01T12:00:00Z",
        &utc,
        &[
            "2026-03-02T00:00:00Z", // Monday
            "2026-03-03T00:00:00Z", // odd day
            "2026-03-05T00:00:00Z",
            "2026-03-07T00:00:00Z",
            "2026-03-09T00:00:00Z", // both
            "2026-03-11T00:00:00Z",
            "2026-03-13T00:00:00Z",
            "2026-03-15T00:00:00Z",
            "2026-03-16T00:00:00Z", // Monday
        ],
    );
    // `?` is a star: only Mondays.
    crate::check_sequence(
        "0 0 0 ? * MON",
        "2026-03-01T12:00:00Z",
        &utc,
        &["2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"],
    );
}

#[test]
fn superset_day_forms() {
    let utc = TimeZone::UTC;
    // Last day of month, across a leap February.
    crate::check_sequence(
        "0 0 0 L * *",
        "2024-01-15T00:00:00Z",
        &utc,
        &[
            "2024-01-31T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2024-03-31T00:00:00Z",
            "2024-04-30T00:00:00Z",
        ],
    );
    check(
        "0 0 0 L 2 *",
        "2025-03-01T00:00:00Z",
        &utc,
        "2026-02-28T00:00:00Z",
    );
    // Last weekday: 2026-05-31 is a Sunday, 2026-01-31 a Saturday.
    check(
        "0 0 0 LW * *",
        "2026-05-01T00:00:00Z",
        &utc,
        "2026-05-29T00:00:00Z",
    );
    check(
        "0 0 0 LW * *",
        "2026-01-01T00:00:00Z",
        &utc,
        "2026-01-30T00:00:00Z",
    );
    // Nearest weekday to the 1st when it is a Saturday: Monday the 3rd, not the previous month.
    check(
        "0 0 0 1W * *",
        "2026-07-15T00:00:00Z",
        &utc,
        "2026-08-03T00:00:00Z",
    );
    // Second Friday, fifth Monday (skips months without one), last Friday.
    check(
        "0 0 12 ? * 5#2",
        "2026-03-01T00:00:00Z",
        &utc,
        "2026-03-13T12:00:00Z",
    );
    check(
        "0 0 0 ? * MON#5",
        "2026-04-01T00:00:00Z",
        &utc,
        "2026-06-29T00:00:00Z",
    );
    check(
        "0 0 0 ? * 5L",
        "2026-03-01T00:00:00Z",
        &utc,
        "2026-03-27T00:00:00Z",
    );
    check(
        "0 0 0 ? * FRI#L",
        "2026-03-01T00:00:00Z",
        &utc,
        "2026-03-27T00:00:00Z",
    );
    // The next 29 February.
    check(
        "0 0 0 29 2 *",
        "2025-03-14T10:07:33Z",
        &utc,
        "2028-02-29T00:00:00Z",
    );
    check(
        "0 0 0 29 FEB ?",
        "2028-02-29T00:00:00Z",
        &utc,
        "2032-02-29T00:00:00Z",
    );
    // Sunday as 7.
    check(
        "0 0 0 * * 7",
        "2026-03-02T00:00:00Z",
        &utc,
        "2026-03-08T00:00:00Z",
    );
    // Impossible patterns end quickly with None.
    check("0 0 0 30 2 *", "2026-01-01T00:00:00Z", &utc, "");
    check("0 0 0 30W 2 *", "2026-01-01T00:00:00Z", &utc, "");
    check("0 0 0 31 4,6,9,11 ?", "2026-01-01T00:00:00Z", &utc, "");
}

#[test]
fn search_ends_at_year_9999() {
    let utc = TimeZone::UTC;
    check("0 0 0 1 1 *", "9999-06-01T00:00:00Z", &utc, "");
    check("0 0 0 29 2 *", "9997-01-01T00:00:00Z", &utc, "");
    check("@every 1h", "9999-12-30T21:30:00Z", &utc, "");
    check(
        "0 0 0 1 1 *",
        "-009999-06-01T00:00:00Z",
        &utc,
        "-009998-01-01T00:00:00Z",
    );
}
