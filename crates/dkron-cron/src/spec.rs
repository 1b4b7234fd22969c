//! Calendar expressions: the bitmask form of the six fields, their parser, and the civil-time
//! search for the first matching wall clock time.
//!
//! Invariant: every mask only has bits inside its field's range (seconds 0-59, minutes 0-59,
//! hours 0-23, days 1-31, months 1-12, weekdays 0-6), and every field matches at least one value,
//! so the search only ever fails for lack of a matching *day* (bounded by a year cap).

use crate::civil::{self, Civil};
use crate::error::{ErrorKind, Field, FieldProblem};

#[cfg(test)]
mod tests;

/// A parsed calendar expression (`sec min hour dom month dow`), as bitmasks plus the day
/// extensions (`L`, `LW`, `nW`, `n#k`, `nL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CronSpec {
    pub(crate) seconds: u64,
    pub(crate) minutes: u64,
    pub(crate) hours: u32,
    /// Plain days of month, bits 1-31.
    pub(crate) dom: u32,
    /// Months, bits 1-12.
    pub(crate) months: u16,
    /// Weekdays, bits 0-6, Sunday = 0.
    pub(crate) dow: u8,
    /// `nW`: bit n set when the weekday nearest to day n is wanted.
    pub(crate) dom_nearest_weekday: u32,
    /// `n#k`: for weekday n, bit k-1 set when its k-th occurrence in the month is wanted.
    pub(crate) dow_nth: [u8; 7],
    /// `nL`: bit n set when the last weekday n of the month is wanted.
    pub(crate) dow_last: u8,
    /// `L` in day of month.
    pub(crate) dom_last: bool,
    /// `LW` in day of month.
    pub(crate) dom_last_weekday: bool,
    /// robfig's star rule: the field has an element starting with `*` or `?` without a step
    /// above 1. When either day field is starred a day must match both; otherwise either.
    pub(crate) dom_star: bool,
    pub(crate) dow_star: bool,
    /// Seconds, minutes and hours each name exactly one value: the job fires at one time of
    /// day, which decides DST handling (see [`crate::Schedule::next_after`]).
    pub(crate) fixed_time: bool,
}

/// How each calendar descriptor expands.
pub(crate) const YEARLY: &str = "0 0 0 1 1 *";
pub(crate) const MONTHLY: &str = "0 0 0 1 * *";
pub(crate) const WEEKLY: &str = "0 0 0 * * 0";
pub(crate) const DAILY: &str = "0 0 0 * * *";
pub(crate) const HOURLY: &str = "0 0 * * * *";
pub(crate) const MINUTELY: &str = "0 * * * * *";

/// Every day of month, bits 1-31.
pub(crate) const ALL_DOM: u32 = 0xffff_fffe;
/// Every weekday, bits 0-6.
pub(crate) const ALL_DOW: u8 = 0x7f;

struct Bounds {
    field: Field,
    min: u32,
    /// Largest value written (7 for day of week: Sunday again).
    max: u32,
    /// Largest value of `*` and of an open `N/step` (6 for day of week, as robfig).
    max_open: u32,
    names: &'static [&'static str],
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DOW_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const SECOND: Bounds = Bounds {
    field: Field::Second,
    min: 0,
    max: 59,
    max_open: 59,
    names: &[],
};
const MINUTE: Bounds = Bounds {
    field: Field::Minute,
    min: 0,
    max: 59,
    max_open: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    field: Field::Hour,
    min: 0,
    max: 23,
    max_open: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    field: Field::DayOfMonth,
    min: 1,
    max: 31,
    max_open: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    field: Field::Month,
    min: 1,
    max: 12,
    max_open: 12,
    names: &MONTH_NAMES,
};
const DOW: Bounds = Bounds {
    field: Field::DayOfWeek,
    min: 0,
    max: 7,
    max_open: 6,
    names: &DOW_NAMES,
};

/// dkron's `~` value for a field: the job name's code point sum reduced per field
/// (`Job.scheduleHash`: sec/min mod 60, hour mod 24, dom mod 28 + 1, month mod 12 + 1, dow mod 7).
pub(crate) fn hash_for_field(name_sum: u64, field: Field) -> u32 {
    let value = match field {
        Field::Second | Field::Minute => name_sum % 60,
        Field::Hour => name_sum % 24,
        Field::DayOfMonth => name_sum % 28 + 1,
        Field::Month => name_sum % 12 + 1,
        Field::DayOfWeek => name_sum % 7,
    };
    // All reductions are below 60.
    value as u32
}

/// One field's text and its byte offset in the whole expression.
pub(crate) struct FieldText<'a> {
    pub(crate) text: &'a str,
    pub(crate) position: usize,
}

impl CronSpec {
    /// Parses 5 (`min hour dom month dow`, seconds = 0) or 6 (`sec min ...`) fields.
    /// `name_sum` is the job name's code point sum when `~` is allowed.
    pub(crate) fn parse(
        fields: &[FieldText<'_>],
        name_sum: Option<u64>,
    ) -> Result<CronSpec, ErrorKind> {
        let (second_text, rest) = match fields.len() {
            6 => (Some(&fields[0]), &fields[1..]),
            5 => (None, fields),
            found => return Err(ErrorKind::FieldCount { found }),
        };
        let mut spec = CronSpec {
            seconds: 1,
            minutes: 0,
            hours: 0,
            dom: 0,
            months: 0,
            dow: 0,
            dom_nearest_weekday: 0,
            dow_nth: [0; 7],
            dow_last: 0,
            dom_last: false,
            dom_last_weekday: false,
            dom_star: false,
            dow_star: false,
            fixed_time: false,
        };
        if let Some(text) = second_text {
            spec.seconds = parse_plain(text, &SECOND, name_sum)?.0;
        }
        spec.minutes = parse_plain(&rest[0], &MINUTE, name_sum)?.0;
        spec.hours = parse_plain(&rest[1], &HOUR, name_sum)?.0 as u32;
        parse_dom(&mut spec, &rest[2], name_sum)?;
        spec.months = parse_plain(&rest[3], &MONTH, name_sum)?.0 as u16;
        parse_dow(&mut spec, &rest[4], name_sum)?;
        spec.fixed_time = spec.seconds.count_ones() == 1
            && spec.minutes.count_ones() == 1
            && spec.hours.count_ones() == 1;
        Ok(spec)
    }

    /// The days of `month` in `year` that match, as bits 1-31.
    #[inline]
    pub(crate) fn day_mask(&self, year: i32, month: u32) -> u32 {
        let len = civil::days_in_month(year, month);
        let valid = ((1_u64 << (len + 1)) - 2) as u32;
        let dom_plain_only =
            self.dom_nearest_weekday == 0 && !self.dom_last && !self.dom_last_weekday;
        let dow_all = self.dow == ALL_DOW && self.dow_last == 0 && self.dow_nth == [0; 7];
        // Fast path: the weekday does not matter (`*` in day of week, star rule => AND).
        if dow_all && self.dow_star && dom_plain_only {
            return self.dom & valid;
        }
        let first_weekday = civil::weekday_from_days(civil::days_from_civil(year, month, 1));
        let mut dom_days = self.dom & valid;
        if !dom_plain_only {
            let last_weekday = (first_weekday + len - 1) % 7;
            if self.dom_last {
                dom_days |= 1 << len;
            }
            if self.dom_last_weekday {
                let day = match last_weekday {
                    6 => len - 1,
                    0 => len - 2,
                    _ => len,
                };
                dom_days |= 1 << day;
            }
            let mut wanted = self.dom_nearest_weekday & valid;
            while wanted != 0 {
                let day = wanted.trailing_zeros();
                wanted &= wanted - 1;
                let target = match (first_weekday + day - 1) % 7 {
                    // Saturday: Friday before, unless that leaves the month.
                    6 if day > 1 => day - 1,
                    6 => day + 2,
                    // Sunday: Monday after, unless that leaves the month.
                    0 if day < len => day + 1,
                    0 => day - 2,
                    _ => day,
                };
                dom_days |= 1 << target;
            }
        }
        let dow_days = if dow_all {
            valid
        } else {
            // Rotate the weekday set so bit i means "day i+1", then repeat it for 5 weeks.
            let week = u64::from(self.dow);
            let rotated = ((week >> first_weekday) | (week << (7 - first_weekday))) & 0x7f;
            let mut days = ((rotated * 0x1020_4081) << 1) as u32 & valid;
            if self.dow_last != 0 || self.dow_nth != [0; 7] {
                days |= self.special_weekdays(first_weekday, len);
            }
            days
        };
        if self.dom_star || self.dow_star {
            dom_days & dow_days
        } else {
            dom_days | dow_days
        }
    }

    /// Days matched by `n#k` and `nL` in a month of `len` days starting on `first_weekday`.
    #[cold]
    fn special_weekdays(&self, first_weekday: u32, len: u32) -> u32 {
        let mut days = 0_u32;
        let last_weekday = (first_weekday + len - 1) % 7;
        for weekday in 0..7_u32 {
            let first = 1 + (weekday + 7 - first_weekday) % 7;
            let mut nth = self.dow_nth[weekday as usize];
            while nth != 0 {
                let k = nth.trailing_zeros();
                nth &= nth - 1;
                let day = first + 7 * k;
                if day <= len {
                    days |= 1 << day;
                }
            }
            if self.dow_last & (1 << weekday) != 0 {
                days |= 1 << (len - (last_weekday + 7 - weekday) % 7);
            }
        }
        days
    }

    /// The first civil time at or after `start` that matches, searching no later than
    /// `last_year`.
    pub(crate) fn next_civil(&self, start: Civil, last_year: i32) -> Option<Civil> {
        let Civil {
            mut year,
            mut month,
            mut day,
            mut hour,
            mut minute,
            mut second,
        } = start;
        // Cache of the current month's day mask: the search often moves to the next day.
        let mut mask_key = (i32::MIN, 0);
        let mut days = 0_u32;
        loop {
            if year > last_year {
                return None;
            }
            let months = self.months & (u16::MAX << month);
            if months == 0 {
                year += 1;
                (month, day, hour, minute, second) = (1, 1, 0, 0, 0);
                continue;
            }
            let next_month = months.trailing_zeros();
            if next_month != month {
                (month, day, hour, minute, second) = (next_month, 1, 0, 0, 0);
            }
            if mask_key != (year, month) {
                mask_key = (year, month);
                days = self.day_mask(year, month);
            }
            // `day` is at most 32 here; shifting a u64 keeps that well defined.
            let later_days = (u64::from(days) & (u64::MAX << day)) as u32;
            if later_days == 0 {
                (day, hour, minute, second) = (1, 0, 0, 0);
                month += 1;
                if month > 12 {
                    year += 1;
                    month = 1;
                }
                continue;
            }
            let next_day = later_days.trailing_zeros();
            if next_day != day {
                (day, hour, minute, second) = (next_day, 0, 0, 0);
            }
            let hours = u64::from(self.hours) & (u64::MAX << hour);
            if hours == 0 {
                (day, hour, minute, second) = (day + 1, 0, 0, 0);
                continue;
            }
            let next_hour = hours.trailing_zeros();
            if next_hour != hour {
                (hour, minute, second) = (next_hour, 0, 0);
            }
            let minutes = self.minutes & (u64::MAX << minute);
            if minutes == 0 {
                (hour, minute, second) = (hour + 1, 0, 0);
                continue;
            }
            let next_minute = minutes.trailing_zeros();
            if next_minute != minute {
                (minute, second) = (next_minute, 0);
            }
            let seconds = self.seconds & (u64::MAX << second);
            if seconds == 0 {
                (minute, second) = (minute + 1, 0);
                continue;
            }
            second = seconds.trailing_zeros();
            return Some(Civil {
                year,
                month,
                day,
                hour,
                minute,
                second,
            });
        }
    }
}

fn field_error(bounds: &Bounds, position: usize, token: &str, problem: FieldProblem) -> ErrorKind {
    ErrorKind::Field {
        field: bounds.field,
        position,
        token: token.to_owned(),
        problem,
    }
}

/// Splits a field on commas, yielding each element with its byte offset in the expression.
fn elements<'a>(field: &'a FieldText<'a>) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let mut offset = field.position;
    field.text.split(',').map(move |element| {
        let position = offset;
        offset += element.len() + 1;
        (position, element)
    })
}

/// Parses a field made only of values, ranges, steps, `*` and `?`; returns its mask and whether
/// robfig's star bit would be set.
fn parse_plain(
    field: &FieldText<'_>,
    bounds: &Bounds,
    name_sum: Option<u64>,
) -> Result<(u64, bool), ErrorKind> {
    let mut bits = 0_u64;
    let mut star = false;
    for (position, element) in elements(field) {
        let (element_bits, element_star) = parse_range(element, position, bounds, name_sum)?;
        bits |= element_bits;
        star |= element_star;
    }
    Ok((bits, star))
}

fn parse_dom(
    spec: &mut CronSpec,
    field: &FieldText<'_>,
    name_sum: Option<u64>,
) -> Result<(), ErrorKind> {
    for (position, element) in elements(field) {
        if element.eq_ignore_ascii_case("l") {
            spec.dom_last = true;
        } else if element.eq_ignore_ascii_case("lw") {
            spec.dom_last_weekday = true;
        } else if let Some(day) = element.strip_suffix(['W', 'w']).filter(|d| !d.is_empty()) {
            let value = parse_value(day, position, &DOM, name_sum, element)?;
            check_range(value, value, &DOM, position, element)?;
            spec.dom_nearest_weekday |= 1 << value;
        } else {
            let (bits, star) = parse_range(element, position, &DOM, name_sum)?;
            spec.dom |= bits as u32;
            spec.dom_star |= star;
        }
    }
    Ok(())
}

fn parse_dow(
    spec: &mut CronSpec,
    field: &FieldText<'_>,
    name_sum: Option<u64>,
) -> Result<(), ErrorKind> {
    for (position, element) in elements(field) {
        if let Some((day, occurrence)) = element.split_once('#') {
            let weekday = parse_value(day, position, &DOW, name_sum, element)?;
            check_range(weekday, weekday, &DOW, position, element)?;
            let weekday = (weekday % 7) as usize;
            if occurrence.eq_ignore_ascii_case("l") {
                spec.dow_last |= 1 << weekday;
                continue;
            }
            let k = parse_number(occurrence)
                .ok_or_else(|| field_error(&DOW, position, element, FieldProblem::Syntax))?;
            if !(1..=5).contains(&k) {
                return Err(field_error(
                    &DOW,
                    position,
                    element,
                    FieldProblem::Occurrence(k),
                ));
            }
            spec.dow_nth[weekday] |= 1 << (k - 1);
        } else if let Some(day) = element
            .strip_suffix(['L', 'l'])
            .filter(|d| !d.is_empty() && !d.contains(['-', '/', '*', '?']))
        {
            let weekday = parse_value(day, position, &DOW, name_sum, element)?;
            check_range(weekday, weekday, &DOW, position, element)?;
            spec.dow_last |= 1 << (weekday % 7);
        } else {
            let (bits, star) = parse_range(element, position, &DOW, name_sum)?;
            // 7 is Sunday again.
            spec.dow |= ((bits | (bits >> 7)) & 0x7f) as u8;
            spec.dow_star |= star;
        }
    }
    Ok(())
}

/// `*`, `?`, `N`, `N-M`, each optionally followed by `/step` (robfig: `N/step` runs to the
/// field's maximum). Returns the bits and whether this element sets robfig's star bit.
fn parse_range(
    element: &str,
    position: usize,
    bounds: &Bounds,
    name_sum: Option<u64>,
) -> Result<(u64, bool), ErrorKind> {
    if element.is_empty() {
        return Err(field_error(
            bounds,
            position,
            element,
            FieldProblem::EmptyElement,
        ));
    }
    let (range, step) = match element.split_once('/') {
        Some((range, step)) => {
            let step = parse_number(step)
                .ok_or_else(|| field_error(bounds, position, element, FieldProblem::Syntax))?;
            if step == 0 {
                return Err(field_error(
                    bounds,
                    position,
                    element,
                    FieldProblem::ZeroStep,
                ));
            }
            (range, Some(step))
        }
        None => (element, None),
    };
    let (start, end, star) = if range == "*" || range == "?" {
        (bounds.min, bounds.max_open, true)
    } else if let Some((low, high)) = range.split_once('-') {
        let start = parse_value(low, position, bounds, name_sum, element)?;
        let end = parse_value(high, position, bounds, name_sum, element)?;
        (start, end, false)
    } else {
        let start = parse_value(range, position, bounds, name_sum, element)?;
        let end = if step.is_some() {
            bounds.max_open.max(start)
        } else {
            start
        };
        (start, end, false)
    };
    check_range(start, end, bounds, position, element)?;
    let step = step.unwrap_or(1);
    let bits = if step == 1 {
        (u64::MAX >> (63 - end)) & (u64::MAX << start)
    } else {
        let mut bits = 0_u64;
        let mut value = start;
        while value <= end {
            bits |= 1 << value;
            // Saturating: a huge step (`0/4294967295`) must end the loop, not overflow.
            value = value.saturating_add(step);
        }
        bits
    };
    // robfig: a star with a step above 1 is a restriction, not a star.
    Ok((bits, star && step == 1))
}

fn check_range(
    start: u32,
    end: u32,
    bounds: &Bounds,
    position: usize,
    token: &str,
) -> Result<(), ErrorKind> {
    for value in [start, end] {
        if value < bounds.min || value > bounds.max {
            let problem = FieldProblem::OutOfRange {
                value,
                min: bounds.min,
                max: bounds.max,
            };
            return Err(field_error(bounds, position, token, problem));
        }
    }
    if start > end {
        return Err(field_error(
            bounds,
            position,
            token,
            FieldProblem::ReversedRange { start, end },
        ));
    }
    Ok(())
}

/// A number, a name valid in this field (case-insensitive), or `~`.
fn parse_value(
    text: &str,
    position: usize,
    bounds: &Bounds,
    name_sum: Option<u64>,
    element: &str,
) -> Result<u32, ErrorKind> {
    if text == "~" {
        let Some(sum) = name_sum else {
            // Point at the `~` itself.
            let offset = element.find('~').unwrap_or(0);
            return Err(ErrorKind::HashWithoutJobName {
                position: position + offset,
            });
        };
        return Ok(hash_for_field(sum, bounds.field));
    }
    if let Some(value) = parse_number(text) {
        return Ok(value);
    }
    // Months are 1-based, weekdays 0-based; the name tables start at the minimum.
    if text.len() == 3
        && let Some(idx) = bounds
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(bounds.min + idx as u32);
    }
    Err(field_error(bounds, position, element, FieldProblem::Syntax))
}

/// ASCII digits only (no sign), saturating at `u32::MAX` so huge values report out of range.
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0_u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}
