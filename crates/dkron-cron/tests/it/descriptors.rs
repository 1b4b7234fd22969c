//! Descriptors, `@every`, one-shots, zone prefixes, `~` hashing, kinds and descriptions
//! (dkron's extcron and job tests).

use dkron_cron::{OneShot, Schedule, ScheduleKind};
use jiff::{SignedDuration, tz::TimeZone};

use crate::{check, check_sequence, ts, zone};

fn parse(expr: &str) -> Schedule {
    Schedule::parse(expr).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn calendar_descriptors_expand_like_robfig() {
    let utc = TimeZone::UTC;
    let pairs = [
        ("@yearly", "0 0 0 1 1 *"),
        ("@annually", "0 0 0 1 1 *"),
        ("@monthly", "0 0 0 1 * *"),
        ("@weekly", "0 0 0 * * 0"),
        ("@daily", "0 0 0 * * *"),
        ("@midnight", "0 0 0 * * *"),
        ("@hourly", "0 0 * * * *"),
        ("@minutely", "0 * * * * *"),
    ];
    for (descriptor, fields) in pairs {
        let a = parse(descriptor);
        let b = parse(fields);
        assert_eq!(a.kind(), ScheduleKind::Cron);
        for after in [
            "2026-03-14T10:07:33Z",
            "2024-02-29T23:59:59Z",
            "2025-12-31T23:59:59Z",
        ] {
            assert_eq!(
                a.next_after(ts(after), &utc),
                b.next_after(ts(after), &utc),
                "{descriptor}"
            );
        }
    }
    check(
        "@weekly",
        "2026-03-14T10:07:33Z",
        &utc,
        "2026-03-15T00:00:00Z",
    );
    // Descriptors are matched case-insensitively.
    check(
        "@Daily",
        "2026-03-14T10:07:33Z",
        &utc,
        "2026-03-15T00:00:00Z",
    );
}

#[test]
fn every_adds_the_period_to_the_previous_fire() {
    let utc = TimeZone::UTC;
    let every = parse("@every 1h30m");
    assert_eq!(every.kind(), ScheduleKind::Interval);
    assert_eq!(every.period(), Some(SignedDuration::from_secs(5400)));
    check_sequence(
        "@every 1h30m",
        "2026-01-01T00:00:00Z",
        &utc,
        &["2026-01-01T01:30:00Z", "2026-01-01T03:00:00Z"],
    );
    // Sub-second parts of `after` are dropped (robfig: "on the second").
    check(
        "@every 2s",
        "2026-01-01T00:00:00.75Z",
        &utc,
        "2026-01-01T00:00:02Z",
    );
    // robfig's `Every`: below a second becomes one second; sub-second parts are dropped.
    assert_eq!(
        parse("@every 500ms").period(),
        Some(SignedDuration::from_secs(1))
    );
    assert_eq!(
        parse("@every 1.9s").period(),
        Some(SignedDuration::from_secs(1))
    );
    assert_eq!(
        parse("@every 1m30.5s").period(),
        Some(SignedDuration::from_secs(90))
    );
    // The zone does not change a period.
    check(
        "TZ=Europe/Berlin @every 1h",
        "2026-03-29T00:30:00Z",
        &utc,
        "2026-03-29T01:30:00Z",
    );
    for bad in [
        "@every",
        "@every 0s",
        "@every 0",
        "@every -1m",
        "@every 1d",
        "@every 1h 30m",
        "@every x",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn at_is_a_one_shot_that_never_fires_in_the_past() {
    let utc = TimeZone::UTC;
    let at = parse("@at 2018-01-02T15:04:00Z");
    assert_eq!(at.kind(), ScheduleKind::OneShot);
    assert_eq!(
        at.one_shot(),
        Some(OneShot {
            at: ts("2018-01-02T15:04:00Z"),
            grace: None
        })
    );
    check(
        "@at 2018-01-02T15:04:00Z",
        "2018-01-01T00:00:00Z",
        &utc,
        "2018-01-02T15:04:00Z",
    );
    check("@at 2018-01-02T15:04:00Z", "2018-01-02T15:04:00Z", &utc, "");
    check("@at 2018-01-02T15:04:00Z", "2019-01-01T00:00:00Z", &utc, "");
    // With an offset (dkron's extparser test).
    check(
        "@at 2019-02-04T09:20:00+06:00",
        "2019-01-01T00:00:00Z",
        &utc,
        "2019-02-04T03:20:00Z",
    );
    assert!(
        !at.one_shot()
            .unwrap()
            .is_due_late(ts("2018-01-02T15:04:01Z"))
    );
    for bad in [
        "@at",
        "@at 2018-01-02",
        "@at 2018-01-02T15:04:00",
        "@at 2018-01-02T15:04:00Z extra",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn after_exposes_its_grace_window() {
    let utc = TimeZone::UTC;
    let after = parse("@after 2020-01-01T00:00:00Z <PT2H");
    assert_eq!(after.kind(), ScheduleKind::OneShot);
    let one_shot = after.one_shot().unwrap();
    assert_eq!(one_shot.at, ts("2020-01-01T00:00:00Z"));
    assert_eq!(one_shot.grace, Some(SignedDuration::from_hours(2)));
    // next_after is pure: the instant while it is ahead, then nothing.
    check(
        "@after 2020-01-01T00:00:00Z <PT2H",
        "2019-12-31T23:00:00Z",
        &utc,
        "2020-01-01T00:00:00Z",
    );
    check(
        "@after 2020-01-01T00:00:00Z <PT2H",
        "2020-01-01T00:00:00Z",
        &utc,
        "",
    );
    // dkron's AfterSchedule table: late but within the window (end inclusive) runs once.
    for (now, due) in [
        ("2019-12-31T23:00:00Z", false),
        ("2020-01-01T00:00:00Z", true),
        ("2020-01-01T01:00:00Z", true),
        ("2020-01-01T01:59:59Z", true),
        ("2020-01-01T02:00:00Z", true),
        ("2020-01-01T02:00:01Z", false),
    ] {
        assert_eq!(one_shot.is_due_late(ts(now)), due, "{now}");
    }
    let small = parse("@after 2020-01-01T12:00:00Z <PT5M")
        .one_shot()
        .unwrap();
    assert!(small.is_due_late(ts("2020-01-01T12:03:00Z")));
    assert!(!small.is_due_late(ts("2020-01-01T12:06:00Z")));
    assert_eq!(
        parse("@after 2020-01-01T12:00:00Z <P1DT2H30M")
            .one_shot()
            .unwrap()
            .grace,
        Some(SignedDuration::from_mins(26 * 60 + 30))
    );
    for bad in [
        "@after 2020-01-01T00:00:00Z PT2H",
        "@after 2020-01-01 <PT2H",
        "@after 2020-01-01T00:00:00Z <invalid",
        "@after 2020-01-01T00:00:00Z",
        "@after 2020-01-01T00:00:00Z <PT2H extra",
        "@after 2020-01-01T00:00:00Z <P",
    ] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn manual_schedules_never_fire() {
    for expr in ["@manually", "@triggered"] {
        let schedule = parse(expr);
        assert_eq!(schedule.kind(), ScheduleKind::Manual);
        assert_eq!(
            schedule.next_after(ts("2026-01-01T00:00:00Z"), &TimeZone::UTC),
            None
        );
    }
    assert!(Schedule::parse("@manually now").is_err());
}

#[test]
fn zone_prefix_overrides_the_callers_zone() {
    let schedule = parse("TZ=Europe/Berlin 0 0 9 * * *");
    assert_eq!(
        schedule.time_zone().and_then(|tz| tz.iana_name()),
        Some("Europe/Berlin")
    );
    // Whatever zone is passed in, Berlin wins.
    let after = ts("2026-07-01T00:00:00Z");
    let want = Some(ts("2026-07-01T07:00:00Z"));
    assert_eq!(schedule.next_after(after, &TimeZone::UTC), want);
    assert_eq!(schedule.next_after(after, &zone("America/New_York")), want);
    assert_eq!(parse("0 0 9 * * *").time_zone(), None);
    check(
        "CRON_TZ=Asia/Kolkata 0 0 9 * * *",
        "2026-07-01T00:00:00Z",
        &TimeZone::UTC,
        "2026-07-01T03:30:00Z",
    );
}

#[test]
fn hash_follows_dkron() {
    // dkron Test_scheduleHash: "test_job" -> hour 18, month 7.
    let utc = TimeZone::UTC;
    let hashed = Schedule::parse_for_job("0 0 ~ * * *", "test_job").unwrap();
    let plain = parse("0 0 18 * * *");
    let after = ts("2026-03-14T10:07:33Z");
    assert_eq!(
        hashed.next_after(after, &utc),
        plain.next_after(after, &utc)
    );
    let month = Schedule::parse_for_job("TZ=Europe/Madrid 0 0 1 * ~ *", "test_job").unwrap();
    assert_eq!(
        month.next_after(after, &utc),
        Some(ts("2026-07-01T01:00:00+02:00"))
    );
    // In steps and ranges, and in the 5-field form (minute field: 858 mod 60 = 18).
    let stepped = Schedule::parse_for_job("0 ~/15 * * * *", "test_job").unwrap();
    let fires: Vec<_> = stepped
        .upcoming(ts("2026-03-14T10:00:00Z"), &utc)
        .take(4)
        .collect();
    let want = [
        "2026-03-14T10:18:00Z",
        "2026-03-14T10:33:00Z",
        "2026-03-14T10:48:00Z",
        "2026-03-14T11:18:00Z",
    ];
    assert_eq!(fires, want.map(ts));
    let classic = Schedule::parse_for_job("~ * * * *", "test_job").unwrap();
    assert_eq!(
        classic.next_after(ts("2026-03-14T10:00:00Z"), &utc),
        Some(ts("2026-03-14T10:18:00Z"))
    );
    // Non-ASCII names sum code points, not bytes: "é" is 233 -> 233 mod 24 = 17.
    let accented = Schedule::parse_for_job("0 0 ~ * * *", "é").unwrap();
    assert_eq!(
        accented.next_after(ts("2026-03-14T10:00:00Z"), &utc),
        Some(ts("2026-03-14T17:00:00Z"))
    );
    // Descriptors never take `~`.
    assert!(Schedule::parse_for_job("@daily", "test_job").is_ok());
    assert!(Schedule::parse_for_job("@at ~", "test_job").is_err());
}

#[test]
fn source_display_and_descriptions() {
    let cases = [
        ("0 30 9 * * MON-FRI", "at 09:30 on Monday-Friday"),
        ("* * * * * *", "every second"),
        ("*/5 * * * * *", "every 5 seconds"),
        ("0 */15 * * * *", "every 15 minutes"),
        ("0 0 * * * *", "every hour"),
        ("0 30 * * * *", "at minute 30 of every hour"),
        ("30 * * * * *", "at second 30 of every minute"),
        ("0 0 9-17 * * *", "at minute 0 of hours 9-17"),
        ("@daily", "every day at 00:00"),
        ("0 0 0 L * *", "at 00:00 on the last day of the month"),
        ("0 0 0 29 2 *", "at 00:00 on day 29 in February"),
        ("0 0 12 ? * 5#2", "at 12:00 on the second Friday"),
        ("0 0 0 13 * FRI", "at 00:00 on day 13 or Friday"),
        ("15 10 8 * * *", "every day at 08:10:15"),
        ("@every 1h30m", "every 1h 30m"),
        ("@at 2026-01-02T03:04:05Z", "once at 2026-01-02T03:04:05Z"),
        (
            "@after 2026-01-02T03:04:05Z <PT30M",
            "once at 2026-01-02T03:04:05Z, or right away if loaded up to 30m late",
        ),
        ("@manually", "never on its own (run manually)"),
        (
            "TZ=Europe/Berlin @daily",
            "every day at 00:00 (Europe/Berlin)",
        ),
    ];
    for (expr, want) in cases {
        let schedule = parse(expr);
        assert_eq!(schedule.describe().to_string(), want, "{expr}");
        assert_eq!(schedule.to_string(), expr);
        assert_eq!(schedule.source(), expr);
    }
    assert!(parse("0 30 2 * * *").is_fixed_time());
    assert!(!parse("@hourly").is_fixed_time());
    let from_str: Schedule = "@hourly".parse().unwrap();
    assert_eq!(from_str, parse("@hourly"));
}
