//! Parse errors say what is wrong and where.

use dkron_cron::{DurationProblem, ErrorKind, Field, FieldProblem, Schedule, parse_go_duration};

fn kind(expr: &str) -> ErrorKind {
    match Schedule::parse(expr) {
        Ok(_) => panic!("`{expr}` parsed"),
        Err(e) => e.kind().clone(),
    }
}

fn field(field: Field, position: usize, token: &str, problem: FieldProblem) -> ErrorKind {
    ErrorKind::Field {
        field,
        position,
        token: token.to_owned(),
        problem,
    }
}

#[test]
fn kinds_and_positions() {
    let cases = [
        ("", ErrorKind::Empty),
        ("   ", ErrorKind::Empty),
        ("* * * *", ErrorKind::FieldCount { found: 4 }),
        ("* * * * * * *", ErrorKind::FieldCount { found: 7 }),
        ("TZ=Europe/Berlin", ErrorKind::FieldCount { found: 0 }),
        (
            "TZ=Mars/Base 0 * * * * *",
            ErrorKind::TimeZone {
                name: "Mars/Base".into(),
            },
        ),
        (
            "0 61 * * * *",
            field(
                Field::Minute,
                2,
                "61",
                FieldProblem::OutOfRange {
                    value: 61,
                    min: 0,
                    max: 59,
                },
            ),
        ),
        (
            "0 0 0 * * MON-FOO",
            field(Field::DayOfWeek, 10, "MON-FOO", FieldProblem::Syntax),
        ),
        (
            "0 0 0 5-1 * *",
            field(
                Field::DayOfMonth,
                6,
                "5-1",
                FieldProblem::ReversedRange { start: 5, end: 1 },
            ),
        ),
        (
            "*/0 * * * * *",
            field(Field::Second, 0, "*/0", FieldProblem::ZeroStep),
        ),
        (
            "0 0 0 1,,2 * *",
            field(Field::DayOfMonth, 8, "", FieldProblem::EmptyElement),
        ),
        (
            "0 0 0 ? * 5#6",
            field(Field::DayOfWeek, 10, "5#6", FieldProblem::Occurrence(6)),
        ),
        (
            "0 0 0 32W * *",
            field(
                Field::DayOfMonth,
                6,
                "32W",
                FieldProblem::OutOfRange {
                    value: 32,
                    min: 1,
                    max: 31,
                },
            ),
        ),
        (
            "  0 0 24 * * *",
            field(
                Field::Hour,
                6,
                "24",
                FieldProblem::OutOfRange {
                    value: 24,
                    min: 0,
                    max: 23,
                },
            ),
        ),
        (
            "0 0 0 1 13 *",
            field(
                Field::Month,
                8,
                "13",
                FieldProblem::OutOfRange {
                    value: 13,
                    min: 1,
                    max: 12,
                },
            ),
        ),
        (
            "0 0 0 0 * *",
            field(
                Field::DayOfMonth,
                6,
                "0",
                FieldProblem::OutOfRange {
                    value: 0,
                    min: 1,
                    max: 31,
                },
            ),
        ),
        (
            "0 0 0 * * 8",
            field(
                Field::DayOfWeek,
                10,
                "8",
                FieldProblem::OutOfRange {
                    value: 8,
                    min: 0,
                    max: 7,
                },
            ),
        ),
        (
            "99999999999 * * * * *",
            field(
                Field::Second,
                0,
                "99999999999",
                FieldProblem::OutOfRange {
                    value: u32::MAX,
                    min: 0,
                    max: 59,
                },
            ),
        ),
        (
            "*-5 * * * * *",
            field(Field::Second, 0, "*-5", FieldProblem::Syntax),
        ),
        (
            "1/2/3 * * * * *",
            field(Field::Second, 0, "1/2/3", FieldProblem::Syntax),
        ),
        (
            "-1 * * * * *",
            field(Field::Second, 0, "-1", FieldProblem::Syntax),
        ),
        ("0 0 ~ * * *", ErrorKind::HashWithoutJobName { position: 4 }),
        (
            "TZ=UTC 0 0 1-~ * * *",
            ErrorKind::HashWithoutJobName { position: 13 },
        ),
        (
            "@foo",
            ErrorKind::UnknownDescriptor {
                name: "@foo".into(),
            },
        ),
        (
            "@daily now",
            ErrorKind::DescriptorArguments {
                descriptor: "@daily",
                expected: "no arguments",
            },
        ),
        (
            "@every 1d",
            ErrorKind::GoDuration {
                text: "1d".into(),
                problem: DurationProblem::UnknownUnit("d".into()),
            },
        ),
        (
            "@every -5s",
            ErrorKind::NonPositivePeriod { text: "-5s".into() },
        ),
        (
            "@at yesterday",
            ErrorKind::Timestamp {
                text: "yesterday".into(),
            },
        ),
        (
            "@after 2020-01-01T00:00:00Z <P",
            ErrorKind::GraceWindow {
                text: "<P".into(),
                problem: DurationProblem::Zero,
            },
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(kind(expr), want, "`{expr}`");
    }
}

#[test]
fn huge_numbers_neither_overflow_nor_panic() {
    // A step past the field's range keeps only the start.
    let schedule = Schedule::parse("5/4294967295 * * * * *").unwrap();
    let after = "2026-01-01T00:00:00Z".parse().unwrap();
    let next = schedule
        .next_after(after, &jiff::tz::TimeZone::UTC)
        .unwrap();
    assert_eq!(next.to_string(), "2026-01-01T00:00:05Z");
    assert!(Schedule::parse("0 0 0 ? * 5#99999999999").is_err());
    assert!(Schedule::parse("@every 99999999999999999999h").is_err());
    assert!(Schedule::parse("@after 2020-01-01T00:00:00Z <P99999999999999999999D").is_err());
}

#[test]
fn messages_are_lower_case_one_liners_with_the_input() {
    let err = Schedule::parse("0 61 * * * *").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid schedule `0 61 * * * *`: minute field: 61 is out of range 0-59 at byte 2 (`61`)"
    );
    assert_eq!(err.position(), Some(2));
    assert_eq!(err.input(), "0 61 * * * *");
    assert_eq!(
        Schedule::parse("* * * *").unwrap_err().to_string(),
        "invalid schedule `* * * *`: expected 5 or 6 fields, found 4"
    );
    let duration = parse_go_duration("1d").unwrap_err();
    assert_eq!(
        duration.to_string(),
        "invalid duration `1d`: unknown unit `d`"
    );
    assert_eq!(duration.position(), None);
}

#[test]
fn go_durations_are_exposed() {
    assert_eq!(
        parse_go_duration("1h30m").unwrap(),
        jiff::SignedDuration::from_mins(90)
    );
    assert_eq!(
        parse_go_duration("-1.5h").unwrap(),
        jiff::SignedDuration::from_mins(-90)
    );
    assert_eq!(parse_go_duration("0").unwrap(), jiff::SignedDuration::ZERO);
    assert_eq!(
        parse_go_duration("300ms").unwrap(),
        jiff::SignedDuration::from_millis(300)
    );
    assert!(parse_go_duration("").is_err());
    assert!(parse_go_duration("1 h").is_err());
}
