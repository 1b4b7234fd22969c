//! The schedule language: any text either parses or is an error (never a panic); what parses
//! prints back to itself, its fires are strictly increasing from the instant given, and each
//! fire of a calendar or one-shot schedule is the next fire after the instant just before it.
//!
//! Input: the expression, optionally followed by a NUL byte, up to 8 bytes of a Unix second
//! (little-endian) and one byte choosing the time zone. Without the suffix, a few fixed
//! instants around DST changes and the ends of time are tried.
#![no_main]

use dkron_cron::{Schedule, ScheduleKind, parse_go_duration};
use jiff::{Timestamp, tz::TimeZone};
use libfuzzer_sys::fuzz_target;

/// Zones with odd rules: DST in both hemispheres, a 30-minute DST shift, 45-minute offsets,
/// a zone that skipped a whole day (Apia, 2011-12-30).
const ZONES: [&str; 7] = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Apia",
];

/// Instants (Unix seconds) tried when the input names none.
const INSTANTS: [i64; 5] = [
    1_710_053_999,   // 2024-03-10T06:59:59Z, one second before New York springs forward
    1_730_613_600,   // 2024-11-03T06:00:00Z, New York's fall-back hour
    1_325_239_200,   // 2011-12-30T10:00:00Z, the day Apia skipped
    -62_135_596_800, // 0001-01-01T00:00:00Z
    253_402_200_000, // 9999-12-30T20:00:00Z, just before the end of jiff's range
];

/// Fires checked after the first, per instant.
const FOLLOWING: usize = 6;

fuzz_target!(|data: &[u8]| {
    let (text, suffix) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    let Ok(expr) = std::str::from_utf8(text) else {
        return;
    };

    // The Go duration grammar `@every` uses is exposed on its own too.
    let _ = parse_go_duration(expr);

    let schedule = match Schedule::parse_for_job(expr, "fuzz-job") {
        Ok(schedule) => schedule,
        Err(error) => {
            // The error renders, and points inside the input.
            let _ = error.to_string();
            if let Some(position) = error.position() {
                assert!(position <= expr.len(), "{error:?} points past {expr:?}");
            }
            return;
        }
    };
    let _ = schedule.describe().to_string();
    let again = Schedule::parse_for_job(&schedule.to_string(), "fuzz-job")
        .unwrap_or_else(|error| panic!("{expr:?} parsed, its display did not: {error}"));
    assert_eq!(again, schedule, "display of {expr:?} parses differently");
    if schedule.kind() == ScheduleKind::Interval {
        let period = schedule.period().expect("an interval has a period");
        assert!(period.is_positive(), "{expr:?}: period {period:?}");
    }

    match suffix {
        Some(suffix) => {
            let mut second = [0u8; 8];
            let len = suffix.len().min(8);
            second[..len].copy_from_slice(&suffix[..len]);
            let second = i64::from_le_bytes(second);
            let zone = ZONES[usize::from(suffix.get(8).copied().unwrap_or(0)) % ZONES.len()];
            // Any i64 into jiff's range (years -9999 to 9999).
            let span = Timestamp::MAX.as_second() - Timestamp::MIN.as_second() + 1;
            let second = Timestamp::MIN.as_second() + second.rem_euclid(span);
            let after = Timestamp::from_second(second).expect("in range");
            check_fires(&schedule, expr, after, zone);
        }
        None => {
            for second in INSTANTS {
                let after = Timestamp::from_second(second).expect("in range");
                for zone in ["UTC", "America/New_York"] {
                    check_fires(&schedule, expr, after, zone);
                }
            }
        }
    }
});

fn check_fires(schedule: &Schedule, expr: &str, after: Timestamp, zone: &str) {
    let tz = TimeZone::get(zone).expect("bundled zone");
    let mut previous = after;
    for fire in schedule.upcoming(after, &tz).take(1 + FOLLOWING) {
        assert!(
            fire > previous,
            "{expr:?} in {zone}: fire {fire} is not after {previous} (from {after})"
        );
        assert_eq!(
            schedule.next_after(previous, &tz),
            Some(fire),
            "{expr:?} in {zone}: upcoming and next_after disagree after {previous}"
        );
        // A calendar or one-shot schedule is a fixed set of instants, so the first fire after
        // an instant just before `fire` is `fire` itself. (`@every` counts from the instant.)
        if schedule.kind() != ScheduleKind::Interval
            && let Ok(just_before) = fire.checked_sub(jiff::SignedDuration::from_nanos(1))
        {
            assert_eq!(
                schedule.next_after(just_before, &tz),
                Some(fire),
                "{expr:?} in {zone}: {fire} is not the next fire after {just_before}"
            );
        }
        if let Some(one_shot) = schedule.one_shot() {
            let _ = one_shot.is_due_late(fire);
        }
        previous = fire;
    }
}
