//! Timestamps as dkron (Go) writes and reads them.
//!
//! Written as Go's `time.RFC3339Nano` (`2006-01-02T15:04:05.999999999Z07:00`: fraction only
//! when non-zero, trailing zeros cut, `Z` for a zero offset). A missing time is either `null`
//! (nullable fields) or Go's zero time `0001-01-01T00:00:00Z` (fields that are never null in
//! dkron, e.g. a running execution's `finished_at`, or a job's `next`).
//! Read: RFC 3339 with any offset, or the HTML `datetime-local` form `YYYY-MM-DDTHH:MM[:SS]`
//! taken as UTC (dkron's `NullableTime` accepts it); `null`, `""` and the zero time mean none.

use std::fmt::Write as _;

use jiff::{Timestamp, civil::DateTime, tz::TimeZone};

/// Go's zero `time.Time`, as JSON.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Unix second of Go's zero time (0001-01-01T00:00:00Z).
const ZERO_UNIX_SECOND: i64 = -62_135_596_800;

/// Formats `ts` as Go's RFC3339Nano in zone `tz`.
pub(crate) fn format_time(ts: Timestamp, tz: &TimeZone) -> String {
    let zoned = ts.to_zoned_datetime(tz.clone());
    let dt = zoned.datetime();
    let mut out = String::with_capacity(35);
    // Writing to a String cannot fail; the results are ignored on purpose.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    if nanos > 0 {
        let digits = format!("{nanos:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    let offset = zoned.offset().seconds();
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60);
    }
    out
}

/// A nullable time: `None` stays `None` (rendered `null`).
pub(crate) fn format_nullable(ts: Option<Timestamp>, tz: &TimeZone) -> Option<String> {
    ts.map(|ts| format_time(ts, tz))
}

/// A never-null time: `None` is Go's zero time, always written in UTC (dkron converts the zero
/// time into the job's zone too, giving odd local-mean-time offsets; we do not).
pub(crate) fn format_or_zero(ts: Option<Timestamp>, tz: &TimeZone) -> String {
    match ts {
        Some(ts) => format_time(ts, tz),
        None => ZERO_TIME.to_owned(),
    }
}

/// Parses a time string; `Ok(None)` for `""` and Go's zero time.
///
/// # Errors
/// A message saying which forms are accepted.
pub(crate) fn parse_time(text: &str) -> Result<Option<Timestamp>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let ts = match text.parse::<Timestamp>() {
        Ok(ts) => ts,
        Err(_) => match text.parse::<DateTime>() {
            // datetime-local without an offset: UTC, as dkron's NullableTime.
            Ok(dt) => dt
                .to_zoned_datetime(TimeZone::UTC)
                .map_err(|e| e.to_string())?
                .timestamp(),
            Err(_) => {
                return Err(format!(
                    "cannot parse \"{text}\" as an RFC 3339 time (e.g. 2006-01-02T15:04:05Z) \
                     or YYYY-MM-DDTHH:MM"
                ));
            }
        },
    };
    if ts.as_second() == ZERO_UNIX_SECOND && ts.subsec_nanosecond() == 0 {
        return Ok(None);
    }
    Ok(Some(ts))
}

/// Go's `time.Duration.String()`-compatible enough text that `parse_go_duration` reads back
/// exactly: whole seconds as `Ns`, whole milliseconds as `Nms`, otherwise `Nns`.
pub(crate) fn format_duration(d: std::time::Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ns", d.as_nanos())
    }
}
