//! How times and durations read on the pages.

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

/// An instant in UTC, to the second: `2026-12-04 21:50:07 UTC`.
pub(crate) fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// An instant in `tz`, with the zone's abbreviation and offset: `2026-12-04 09:30:00 CET
/// (+01:00)`.
pub(crate) fn zoned(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S %Z (%:z)")
        .to_string()
}

/// An instant in RFC 3339 for `<time datetime>`.
pub(crate) fn machine(at: Timestamp) -> String {
    at.to_string()
}

/// A duration for people: `250 ms`, `4.2 s`, `3 min 05 s`, `2 h 01 min`.
pub(crate) fn duration(span: SignedDuration) -> String {
    let ms = span.as_millis().max(0);
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let secs = ms / 1000;
    if secs < 60 {
        return format!("{}.{} s", secs, (ms % 1000) / 100);
    }
    if secs < 3600 {
        return format!("{} min {:02} s", secs / 60, secs % 60);
    }
    format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
}

/// A duration as a Go duration that `dkron_cron::parse_go_duration` reads back exactly, for a
/// form field: `1h30m`, `45s`, `1500ms`; empty for zero.
pub(crate) fn go_duration(d: std::time::Duration) -> String {
    if d.is_zero() {
        return String::new();
    }
    if d.subsec_nanos() != 0 {
        return if d.subsec_nanos().is_multiple_of(1_000_000) {
            format!("{}ms", d.as_millis())
        } else {
            format!("{}ns", d.as_nanos())
        };
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp, tz::TimeZone};

    use super::{duration, go_duration, utc, zoned};

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(SignedDuration::from_millis(250)), "250 ms");
        assert_eq!(duration(SignedDuration::from_millis(4200)), "4.2 s");
        assert_eq!(duration(SignedDuration::from_secs(185)), "3 min 05 s");
        assert_eq!(duration(SignedDuration::from_secs(7260)), "2 h 01 min");
        assert_eq!(duration(SignedDuration::from_secs(-3)), "0 ms");
    }

    #[test]
    fn instants_in_utc_and_in_a_zone() {
        let at: Timestamp = "2026-07-01T12:00:00Z".parse().expect("valid");
        assert_eq!(utc(at), "2026-07-01 12:00:00 UTC");
        let paris = TimeZone::get("Europe/Paris").expect("bundled");
        assert_eq!(zoned(at, &paris), "2026-07-01 14:00:00 CEST (+02:00)");
    }

    #[test]
    fn go_durations_read_back_exactly() {
        use std::time::Duration;
        for (d, text) in [
            (Duration::ZERO, ""),
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(86_400), "24h"),
            (Duration::from_secs(3601), "1h1s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_nanos(7), "7ns"),
        ] {
            assert_eq!(go_duration(d), text);
            if !text.is_empty() {
                let back = dkron_cron::parse_go_duration(text).expect("valid");
                assert_eq!(Duration::try_from(back).ok(), Some(d));
            }
        }
    }
}
