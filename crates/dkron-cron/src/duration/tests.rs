//! Go's own `time.ParseDuration` test table, and dkron's ISO-8601 grace-window cases.

use super::*;

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

#[test]
fn go_parse_duration_table() {
    let cases: &[(&str, i64)] = &[
        ("0", 0),
        ("5s", 5 * SEC),
        ("30s", 30 * SEC),
        ("1478s", 1478 * SEC),
        ("-5s", -5 * SEC),
        ("+5s", 5 * SEC),
        ("-0", 0),
        ("+0", 0),
        ("5.0s", 5 * SEC),
        ("5.6s", 5 * SEC + 600 * MS),
        ("5.s", 5 * SEC),
        (".5s", 500 * MS),
        ("1.0s", SEC),
        ("1.00s", SEC),
        ("1.004s", SEC + 4 * MS),
        ("1.0040s", SEC + 4 * MS),
        ("100.00100s", 100 * SEC + MS),
        ("10ns", 10 * NS),
        ("11us", 11 * US),
        ("12\u{b5}s", 12 * US),
        ("12\u{3bc}s", 12 * US),
        ("13ms", 13 * MS),
        ("14s", 14 * SEC),
        ("15m", 15 * MIN),
        ("16h", 16 * HOUR),
        ("3h30m", 3 * HOUR + 30 * MIN),
        ("10.5s4m", 4 * MIN + 10 * SEC + 500 * MS),
        ("-2m3.4s", -(2 * MIN + 3 * SEC + 400 * MS)),
        (
            "1h2m3s4ms5us6ns",
            HOUR + 2 * MIN + 3 * SEC + 4 * MS + 5 * US + 6 * NS,
        ),
        ("39h9m14.425s", 39 * HOUR + 9 * MIN + 14 * SEC + 425 * MS),
        ("52763797000ns", 52_763_797_000),
        ("0.3333333333333333333h", 20 * MIN),
        ("9007199254740993ns", (1 << 53) + 1),
        ("9223372036854775807ns", i64::MAX),
        ("9223372036854775.807us", i64::MAX),
        ("9223372036s854ms775us807ns", i64::MAX),
        ("-9223372036854775808ns", i64::MIN),
        ("-9223372036854775.808us", i64::MIN),
        ("-9223372036s854ms775us808ns", i64::MIN),
        ("-2562047h47m16.854775808s", i64::MIN),
        ("0.100000000000000000000h", 6 * MIN),
        (
            "0.830103483285477580700h",
            49 * MIN + 48 * SEC + 372_539_827,
        ),
    ];
    for &(text, want) in cases {
        assert_eq!(parse_go(text), Ok(want), "{text}");
    }
}

#[test]
fn go_parse_duration_errors() {
    let cases: &[(&str, DurationProblem)] = &[
        ("", DurationProblem::Empty),
        ("3", DurationProblem::MissingUnit),
        ("-", DurationProblem::Syntax),
        ("s", DurationProblem::Syntax),
        (".", DurationProblem::Syntax),
        ("-.", DurationProblem::Syntax),
        (".s", DurationProblem::Syntax),
        ("+.s", DurationProblem::Syntax),
        ("1d", DurationProblem::UnknownUnit("d".into())),
        ("1h 30m", DurationProblem::UnknownUnit("h ".into())),
        ("\u{b5}", DurationProblem::Syntax),
        ("hello world", DurationProblem::Syntax),
        ("9223372036854775810ns", DurationProblem::Overflow),
        ("9223372036854775808ns", DurationProblem::Overflow),
        ("-9223372036854775809ns", DurationProblem::Overflow),
        ("9223372036854775.808us", DurationProblem::Overflow),
        ("9223372036854ms775us808ns", DurationProblem::Overflow),
        ("99999999999999999999999h", DurationProblem::Overflow),
    ];
    for (text, want) in cases {
        assert_eq!(parse_go(text).as_ref(), Err(want), "{text}");
    }
}

#[test]
fn iso8601_dkron_table() {
    let cases: &[(&str, i64)] = &[
        ("PT2H", 2 * HOUR),
        ("P1D", 24 * HOUR),
        ("P1DT2H", 26 * HOUR),
        ("PT30M", 30 * MIN),
        ("PT1H30M", 90 * MIN),
        ("PT45S", 45 * SEC),
        ("P1M", 30 * 24 * HOUR),
        ("P1Y", 365 * 24 * HOUR),
        (
            "P1Y2M3DT4H5M6S",
            (365 * 24 + 60 * 24 + 3 * 24 + 4) * HOUR + 5 * MIN + 6 * SEC,
        ),
        ("PT1.5S", 1_500 * MS),
        ("PT0.000000001S", 1),
        ("PT0.0000000019S", 1),
        ("P0DT1S", SEC),
    ];
    for &(text, want) in cases {
        assert_eq!(parse_iso8601(text), Ok(want), "{text}");
    }
}

#[test]
fn iso8601_rejects_empty_zero_malformed() {
    let cases: &[(&str, DurationProblem)] = &[
        ("", DurationProblem::Empty),
        ("P", DurationProblem::Zero),
        ("PT", DurationProblem::Zero),
        ("PT0S", DurationProblem::Zero),
        ("P2H", DurationProblem::Syntax),
        ("invalid", DurationProblem::Syntax),
        ("PT1S2M", DurationProblem::Syntax),
        ("P1D1Y", DurationProblem::Syntax),
        ("PT1H1H", DurationProblem::Syntax),
        ("PT1.S", DurationProblem::Syntax),
        ("PT.5S", DurationProblem::Syntax),
        ("P1", DurationProblem::Syntax),
        ("pT1H", DurationProblem::Syntax),
        ("PT-1H", DurationProblem::Syntax),
        ("P99999999999999999999Y", DurationProblem::Overflow),
        ("P999999999999Y", DurationProblem::Overflow),
    ];
    for (text, want) in cases {
        assert_eq!(parse_iso8601(text).as_ref(), Err(want), "{text}");
    }
}
