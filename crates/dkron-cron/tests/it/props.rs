//! Property tests: bad input never panics; valid expressions always answer with an instant
//! strictly after the one given, or `None`.

use dkron_cron::Schedule;
use jiff::{Timestamp, tz::TimeZone};
use proptest::prelude::*;

/// Zones with gaps, folds, half-hour offsets and historical oddities.
const ZONES: [&str; 6] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Kolkata",
];

fn element() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        Just("?".to_owned()),
        (0_u32..62).prop_map(|v| v.to_string()),
        any::<u32>().prop_map(|v| v.to_string()),
        (0_u32..62, any::<u32>()).prop_map(|(a, s)| format!("{a}/{s}")),
        (0_u32..32, 0_u32..32).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (1_u32..40).prop_map(|s| format!("*/{s}")),
        (0_u32..32, 1_u32..20).prop_map(|(a, s)| format!("{a}/{s}")),
        (0_u32..8, 1_u32..6).prop_map(|(d, k)| format!("{d}#{k}")),
        (0_u32..8).prop_map(|d| format!("{d}L")),
        (1_u32..32).prop_map(|d| format!("{d}W")),
        Just("L".to_owned()),
        Just("LW".to_owned()),
        Just("MON-FRI".to_owned()),
        Just("jan,Jul".to_owned()),
        Just("~".to_owned()),
    ]
}

fn field() -> impl Strategy<Value = String> {
    prop::collection::vec(element(), 1..3).prop_map(|parts| parts.join(","))
}

/// Cron-like expressions, many of them invalid (values out of range, specials in the wrong
/// field), plus descriptors.
fn cronish() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(field(), 5..=6).prop_map(|fields| fields.join(" ")),
        1 => prop_oneof![
            Just("@daily".to_owned()),
            Just("@hourly".to_owned()),
            Just("@weekly".to_owned()),
            (1_u32..100_000).prop_map(|s| format!("@every {s}s")),
            Just("@manually".to_owned()),
        ],
    ]
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // 1900..2200, with sub-second parts.
    (-2_208_988_800_i64..7_258_118_400, 0_i32..1_000_000_000)
        .prop_map(|(s, ns)| Timestamp::new(s, ns).expect("in range"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::cases(512), ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in ".{0,48}") {
        let _ = Schedule::parse(&text);
        let _ = Schedule::parse_for_job(&text, "job");
        let _ = dkron_cron::parse_go_duration(&text);
    }

    #[test]
    fn cron_alphabet_never_panics(text in "(TZ=UTC )?[0-9*/,?LW#~@ a-zA-Z-]{0,40}") {
        let _ = Schedule::parse(&text);
        let _ = Schedule::parse_for_job(&text, "job");
    }

    #[test]
    fn next_is_strictly_after(
        expr in cronish(),
        after in instant(),
        zone_idx in 0..ZONES.len(),
    ) {
        let tz = TimeZone::get(ZONES[zone_idx]).expect("bundled zone");
        if let Ok(schedule) = Schedule::parse_for_job(&expr, "some-job") {
            let mut cursor = after;
            // A few successive fires: each strictly after the previous.
            for _ in 0..3 {
                match schedule.next_after(cursor, &tz) {
                    Some(next) => {
                        prop_assert!(next > cursor, "`{}`: {} is not after {}", expr, next, cursor);
                        cursor = next;
                    }
                    None => break,
                }
            }
        }
    }
}
