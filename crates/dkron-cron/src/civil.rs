//! Proleptic Gregorian calendar arithmetic on plain integers, so the next-fire search never
//! builds or validates library date types in its inner loop.

/// Seconds in a civil day.
pub(crate) const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1-12, day 1-31).
///
/// Howard Hinnant's `days_from_civil`: exact for every year representable in `i64` arithmetic
/// that we use (|year| < 10^6).
pub(crate) const fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let year = if month <= 2 {
        year as i64 - 1
    } else {
        year as i64
    };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date `(year, month, day)` of a count of days since 1970-01-01.
pub(crate) const fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + if month <= 2 { 1 } else { 0 };
    (year as i32, month, day)
}

/// Day of week of a count of days since 1970-01-01, Sunday = 0 (1970-01-01 was a Thursday).
pub(crate) const fn weekday_from_days(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

/// Whether `year` is a Gregorian leap year.
pub(crate) const fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Number of days in `month` (1-12) of `year`.
pub(crate) const fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 => {
            if is_leap_year(year) {
                29
            } else {
                28
            }
        }
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A civil (wall clock) date and time with whole seconds; the search works on these fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Civil {
    pub(crate) year: i32,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl Civil {
    /// The civil time `local_seconds` seconds after 1970-01-01T00:00:00 (wall clock).
    pub(crate) const fn from_local_seconds(local_seconds: i64) -> Civil {
        let days = local_seconds.div_euclid(SECS_PER_DAY);
        let second_of_day = local_seconds.rem_euclid(SECS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
        }
    }

    /// Wall clock seconds since 1970-01-01T00:00:00 (the inverse of [`Civil::from_local_seconds`]).
    pub(crate) const fn to_local_seconds(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * SECS_PER_DAY
            + (self.hour * 3600 + self.minute * 60 + self.second) as i64
    }

    /// The same civil time as a jiff value, or `None` outside jiff's range (years -9999..=9999).
    pub(crate) fn to_jiff(self) -> Option<jiff::civil::DateTime> {
        let year = i16::try_from(self.year).ok()?;
        // The other fields are in range by construction; narrowing cannot fail for them.
        jiff::civil::DateTime::new(
            year,
            self.month as i8,
            self.day as i8,
            self.hour as i8,
            self.minute as i8,
            self.second as i8,
            0,
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_days_over_many_centuries() {
        for days in (-1_000_000..1_000_000).step_by(97) {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month));
            assert!(day >= 1 && day <= days_in_month(year, month));
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        // 2024-02-29 was a Thursday, 2026-03-08 a Sunday.
        assert_eq!(weekday_from_days(days_from_civil(2024, 2, 29)), 4);
        assert_eq!(weekday_from_days(days_from_civil(2026, 3, 8)), 0);
        assert!(is_leap_year(2000) && !is_leap_year(1900) && is_leap_year(2024));
        assert_eq!(days_in_month(2023, 2), 28);
    }

    #[test]
    fn local_seconds_round_trip() {
        for secs in [
            -86_401_i64,
            -1,
            0,
            1,
            59,
            3_600,
            1_741_946_853,
            253_402_300_799,
        ] {
            assert_eq!(Civil::from_local_seconds(secs).to_local_seconds(), secs);
        }
    }
}
