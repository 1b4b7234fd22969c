//! The crate's one error type: what is wrong with an expression, and where.

use std::fmt;

/// Why a schedule expression (or a Go duration) was rejected.
///
/// Carries the input as written and an [`ErrorKind`] saying what is wrong and where; the
/// `Display` form is one lower-case line such as
/// ``invalid schedule `0 61 * * * *`: minute field: 61 is out of range 0-59 at byte 2 (`61`)``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    input: Box<str>,
    kind: ErrorKind,
    subject: Subject,
}

/// What the rejected input was meant to be; only changes the message's first words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Schedule,
    Duration,
}

/// What is wrong with a rejected input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The expression is empty or only whitespace.
    #[error("empty expression")]
    Empty,
    /// A `TZ=`/`CRON_TZ=` prefix names no known time zone (or nothing follows it).
    #[error("unknown time zone `{name}`")]
    TimeZone {
        /// The zone name as written.
        name: String,
    },
    /// A calendar expression has neither 5 nor 6 fields.
    #[error("expected 5 or 6 fields, found {found}")]
    FieldCount {
        /// How many whitespace-separated fields were found.
        found: usize,
    },
    /// One element of a calendar field is invalid.
    #[error("{field} field: {problem} at byte {position} (`{token}`)")]
    Field {
        /// Which field.
        field: Field,
        /// Byte offset of `token` in the expression as written.
        position: usize,
        /// The offending element (one comma-separated part of the field).
        token: String,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// `~` was used but the expression was parsed without a job name.
    #[error("`~` at byte {position} needs a job name (use Schedule::parse_for_job)")]
    HashWithoutJobName {
        /// Byte offset of the `~` in the expression as written.
        position: usize,
    },
    /// `@name` is not a known descriptor.
    #[error("unknown descriptor `{name}`")]
    UnknownDescriptor {
        /// The descriptor as written, including the `@`.
        name: String,
    },
    /// A descriptor got the wrong arguments (count or shape).
    #[error("`{descriptor}` expects {expected}")]
    DescriptorArguments {
        /// The descriptor, e.g. `@every`.
        descriptor: &'static str,
        /// What it expects, e.g. `one duration such as 1h30m`.
        expected: &'static str,
    },
    /// A Go duration (`@every`, or [`crate::parse_go_duration`]) is invalid.
    #[error("{problem} in duration `{text}`")]
    GoDuration {
        /// The duration as written.
        text: String,
        /// What is wrong with it.
        problem: DurationProblem,
    },
    /// `@every` was given a zero or negative period.
    #[error("the period of `@every` must be positive, got `{text}`")]
    NonPositivePeriod {
        /// The duration as written.
        text: String,
    },
    /// An `@at`/`@after` instant is not an RFC 3339 timestamp with an offset.
    #[error("`{text}` is not an rfc 3339 timestamp such as 2026-01-02T15:04:05Z")]
    Timestamp {
        /// The timestamp as written.
        text: String,
    },
    /// The grace window of `@after` is missing its `<` or is not a positive ISO-8601 duration.
    #[error(
        "{problem} in grace window `{text}` (expected `<` and an iso 8601 duration such as <PT30M)"
    )]
    GraceWindow {
        /// The grace window as written.
        text: String,
        /// What is wrong with it.
        problem: DurationProblem,
    },
}

/// A calendar field of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// Seconds, 0-59 (first of 6 fields; absent in the 5-field form).
    Second,
    /// Minutes, 0-59.
    Minute,
    /// Hours, 0-23.
    Hour,
    /// Day of month, 1-31, plus `L`, `LW`, `nW`.
    DayOfMonth,
    /// Month, 1-12 or `JAN`-`DEC`.
    Month,
    /// Day of week, 0-7 (0 and 7 are Sunday) or `SUN`-`SAT`, plus `n#k`, `nL`.
    DayOfWeek,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// What is wrong with one element of a calendar field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// Nothing between two commas, or a field made only of commas.
    #[error("empty element")]
    EmptyElement,
    /// Neither a number, a name valid in this field, nor a known special form.
    #[error("unexpected text")]
    Syntax,
    /// A value outside the field's range.
    #[error("{value} is out of range {min}-{max}")]
    OutOfRange {
        /// The value as read (saturated at `u32::MAX`).
        value: u32,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// A range whose start is after its end.
    #[error("range start {start} is after its end {end}")]
    ReversedRange {
        /// Start of the range.
        start: u32,
        /// End of the range.
        end: u32,
    },
    /// A step of zero (`*/0`).
    #[error("step must be at least 1")]
    ZeroStep,
    /// `#k` with `k` outside 1-5.
    #[error("occurrence #{0} must be 1-5 or L")]
    Occurrence(u32),
}

/// What is wrong with a duration (Go syntax or ISO 8601).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationProblem {
    /// Nothing to parse.
    #[error("empty text")]
    Empty,
    /// The text does not follow the grammar.
    #[error("invalid syntax")]
    Syntax,
    /// A number without a unit (Go: `time: missing unit`).
    #[error("missing unit")]
    MissingUnit,
    /// A unit Go does not know (Go: `time: unknown unit`).
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    /// The value does not fit in a signed 64-bit count of nanoseconds.
    #[error("value out of range")]
    Overflow,
    /// The duration is zero where a positive one is required.
    #[error("zero duration")]
    Zero,
}

impl Error {
    pub(crate) fn schedule(input: &str, kind: ErrorKind) -> Error {
        Error {
            input: input.into(),
            kind,
            subject: Subject::Schedule,
        }
    }

    pub(crate) fn duration(input: &str, kind: ErrorKind) -> Error {
        Error {
            input: input.into(),
            kind,
            subject: Subject::Duration,
        }
    }

    /// The rejected input as written.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Byte offset in [`Error::input`] of the offending part, when one part is to blame.
    pub fn position(&self) -> Option<usize> {
        match self.kind {
            ErrorKind::Field { position, .. } | ErrorKind::HashWithoutJobName { position } => {
                Some(position)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.subject {
            Subject::Schedule => write!(f, "invalid schedule `{}`: {}", self.input, self.kind),
            Subject::Duration => match &self.kind {
                // The input is the duration itself: do not repeat it.
                ErrorKind::GoDuration { problem, .. } => {
                    write!(f, "invalid duration `{}`: {}", self.input, problem)
                }
                kind => write!(f, "invalid duration `{}`: {}", self.input, kind),
            },
        }
    }
}

impl std::error::Error for Error {}
