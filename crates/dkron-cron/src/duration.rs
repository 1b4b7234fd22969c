//! Duration grammars: Go's `time.ParseDuration` (for `@every`) and the ISO-8601 subset dkron
//! accepts for the `@after` grace window.

use crate::error::DurationProblem;

#[cfg(test)]
mod tests;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Parses Go's duration syntax `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` (or a bare `0`) into
/// nanoseconds, following `time.ParseDuration` step by step: the same units (`ns us µs μs ms s
/// m h`), the same overflow limits (`i64` nanoseconds, `-1<<63` allowed), the same float
/// arithmetic for fractions so that `0.3333333333333333333h` is exactly 20 minutes as in Go.
pub(crate) fn parse_go(text: &str) -> Result<i64, DurationProblem> {
    let mut rest = text.as_bytes();
    let mut negative = false;
    if let Some((&sign @ (b'-' | b'+'), tail)) = rest.split_first() {
        negative = sign == b'-';
        rest = tail;
    }
    if rest == b"0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(if text.is_empty() {
            DurationProblem::Empty
        } else {
            DurationProblem::Syntax
        });
    }
    // Go accumulates in a u64 that may reach exactly 1<<63 (for the most negative value).
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        if !(rest[0] == b'.' || rest[0].is_ascii_digit()) {
            return Err(DurationProblem::Syntax);
        }
        let digits_before = rest.len();
        let (mut value, tail) = leading_int(rest).ok_or(DurationProblem::Overflow)?;
        rest = tail;
        let had_integer = rest.len() != digits_before;
        let mut fraction = 0_u64;
        let mut scale = 1_f64;
        let mut had_fraction = false;
        if let Some((b'.', tail)) = rest.split_first() {
            rest = tail;
            let digits_after = rest.len();
            let (f, s, tail) = leading_fraction(rest);
            fraction = f;
            scale = s;
            rest = tail;
            had_fraction = rest.len() != digits_after;
        }
        if !had_integer && !had_fraction {
            return Err(DurationProblem::Syntax);
        }
        let unit_len = rest
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(DurationProblem::MissingUnit);
        }
        let (unit_bytes, tail) = rest.split_at(unit_len);
        rest = tail;
        let unit = unit_nanos(unit_bytes).ok_or_else(|| {
            DurationProblem::UnknownUnit(String::from_utf8_lossy(unit_bytes).into_owned())
        })?;
        if value > LIMIT / unit {
            return Err(DurationProblem::Overflow);
        }
        value *= unit;
        if fraction > 0 {
            // Go: float64 keeps fractions of an hour nanosecond-accurate; the product is
            // at most 3.6e12, so the cast back cannot saturate.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(DurationProblem::Overflow);
            }
        }
        total += value;
        if total > LIMIT {
            return Err(DurationProblem::Overflow);
        }
    }
    if negative {
        // total <= 1<<63, so the negation fits (wrapping only at exactly 1<<63 -> i64::MIN).
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| DurationProblem::Overflow)
}

/// Consumes leading ASCII digits; `None` on overflow past `1<<63` (Go's `errLeadingInt`).
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut value: u64 = 0;
    let mut idx = 0;
    while idx < s.len() && s[idx].is_ascii_digit() {
        if value > (1 << 63) / 10 {
            return None;
        }
        value = value * 10 + u64::from(s[idx] - b'0');
        if value > 1 << 63 {
            return None;
        }
        idx += 1;
    }
    Some((value, &s[idx..]))
}

/// Consumes leading ASCII digits of a fraction; stops gaining precision instead of failing.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut value: u64 = 0;
    let mut scale = 1_f64;
    let mut overflow = false;
    let mut idx = 0;
    while idx < s.len() && s[idx].is_ascii_digit() {
        let digit = u64::from(s[idx] - b'0');
        idx += 1;
        if overflow {
            continue;
        }
        if value > (i64::MAX as u64) / 10 {
            overflow = true;
            continue;
        }
        let next = value * 10 + digit;
        if next > 1 << 63 {
            overflow = true;
            continue;
        }
        value = next;
        scale *= 10.0;
    }
    (value, scale, &s[idx..])
}

fn unit_nanos(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"ns" => 1,
        // "us", U+00B5 micro sign, U+03BC Greek small letter mu.
        b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
        b"ms" => 1_000_000,
        b"s" => NANOS_PER_SECOND,
        b"m" => 60 * NANOS_PER_SECOND,
        b"h" => 3_600 * NANOS_PER_SECOND,
        _ => return None,
    })
}

/// Parses the ISO-8601 duration subset dkron's `@after` accepts:
/// `P[nY][nM][nD][T[nH][nM][n[.f]S]]` with Y = 365 days and M = 30 days, into nanoseconds.
/// Rejects empty, zero, malformed and overflowing input. Fractions of a second beyond
/// nanoseconds are truncated.
pub(crate) fn parse_iso8601(text: &str) -> Result<i64, DurationProblem> {
    if text.is_empty() {
        return Err(DurationProblem::Empty);
    }
    let mut rest = text
        .strip_prefix('P')
        .ok_or(DurationProblem::Syntax)?
        .as_bytes();
    const DAY: i64 = 86_400;
    // Date designators in the only order dkron's pattern allows.
    let date_units: [(u8, i64); 3] = [(b'Y', 365 * DAY), (b'M', 30 * DAY), (b'D', DAY)];
    let time_units: [(u8, i64); 2] = [(b'H', 3_600), (b'M', 60)];
    let mut seconds: i64 = 0;
    let mut nanos: i64 = 0;
    let mut next_unit = 0;
    while !rest.is_empty() && rest[0] != b'T' {
        let (value, unit, tail) = iso_component(rest)?;
        let idx = date_units[next_unit..]
            .iter()
            .position(|&(u, _)| u == unit)
            .ok_or(DurationProblem::Syntax)?
            + next_unit;
        next_unit = idx + 1;
        seconds = add_scaled(seconds, value, date_units[idx].1)?;
        rest = tail;
    }
    if let Some((b'T', tail)) = rest.split_first() {
        rest = tail;
        let mut next_unit = 0;
        while !rest.is_empty() {
            let (value, unit, tail) = iso_component(rest)?;
            if unit == b'S' || unit == b'.' {
                // Seconds, possibly fractional; must be last.
                let (whole, frac, tail) = iso_seconds(rest)?;
                if !tail.is_empty() {
                    return Err(DurationProblem::Syntax);
                }
                seconds = add_scaled(seconds, whole, 1)?;
                nanos = frac;
                break;
            }
            let idx = time_units[next_unit..]
                .iter()
                .position(|&(u, _)| u == unit)
                .ok_or(DurationProblem::Syntax)?
                + next_unit;
            next_unit = idx + 1;
            seconds = add_scaled(seconds, value, time_units[idx].1)?;
            rest = tail;
        }
    }
    let total = seconds
        .checked_mul(NANOS_PER_SECOND as i64)
        .and_then(|n| n.checked_add(nanos))
        .ok_or(DurationProblem::Overflow)?;
    if total == 0 {
        return Err(DurationProblem::Zero);
    }
    Ok(total)
}

/// One `<digits><designator>` component; the designator is returned as is (`.` for a fraction).
fn iso_component(s: &[u8]) -> Result<(i64, u8, &[u8]), DurationProblem> {
    let n_digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if n_digits == 0 || n_digits == s.len() {
        return Err(DurationProblem::Syntax);
    }
    let value = parse_decimal(&s[..n_digits])?;
    Ok((value, s[n_digits], &s[n_digits + 1..]))
}

/// `<digits>[.<digits>]S`: whole seconds and nanoseconds (fraction truncated to 9 digits).
fn iso_seconds(s: &[u8]) -> Result<(i64, i64, &[u8]), DurationProblem> {
    let n_digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let whole = parse_decimal(&s[..n_digits])?;
    let mut rest = &s[n_digits..];
    let mut nanos = 0_i64;
    if let Some((b'.', tail)) = rest.split_first() {
        let n_frac = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n_frac == 0 {
            return Err(DurationProblem::Syntax);
        }
        let mut scale = 100_000_000_i64;
        for &digit in tail[..n_frac].iter().take(9) {
            nanos += i64::from(digit - b'0') * scale;
            scale /= 10;
        }
        rest = &tail[n_frac..];
    }
    match rest.split_first() {
        Some((b'S', tail)) => Ok((whole, nanos, tail)),
        _ => Err(DurationProblem::Syntax),
    }
}

fn parse_decimal(digits: &[u8]) -> Result<i64, DurationProblem> {
    if digits.is_empty() {
        return Err(DurationProblem::Syntax);
    }
    digits.iter().try_fold(0_i64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(i64::from(d - b'0')))
            .ok_or(DurationProblem::Overflow)
    })
}

fn add_scaled(acc: i64, value: i64, scale: i64) -> Result<i64, DurationProblem> {
    value
        .checked_mul(scale)
        .and_then(|v| acc.checked_add(v))
        .ok_or(DurationProblem::Overflow)
}
