//! From civil matches to instants: resolves the wall clock times [`CronSpec::next_civil`] finds
//! in a time zone, with the DST rules of [`crate::Schedule::next_after`].

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::civil::Civil;
use crate::spec::CronSpec;

/// Years searched past the start before giving up. The Gregorian calendar repeats every 400
/// years (146 097 days, a whole number of weeks), so a pattern with no match in 401 years has
/// none at all; impossible patterns such as `0 0 0 30 2 *` return `None` after ~400 steps.
const SEARCH_YEARS: i32 = 401;

/// Last year searched: jiff's civil range ends at 9999.
const LAST_YEAR: i32 = 9999;

/// Bound on DST re-resolutions in one walk; each one moves the civil cursor forward, and a
/// real zone needs at most a couple per transition.
const MAX_ROUNDS: u32 = 1_000;

/// An instant in whole seconds since the epoch and the UTC offset it was resolved with.
#[derive(Debug, Clone, Copy)]
struct Found {
    instant: i64,
    offset: i64,
}

impl CronSpec {
    /// The first instant strictly after `after` whose wall clock time in `tz` matches.
    pub(crate) fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        // Whole seconds, rounded down: every candidate is a whole second, and a candidate is
        // strictly after `after` exactly when it is strictly after this floor.
        let mut after_floor = after.as_second();
        if after.subsec_nanosecond() < 0 {
            after_floor -= 1;
        }
        let offset_after = i64::from(tz.to_offset(after).seconds());
        let local_after = after_floor + offset_after;
        let start = Civil::from_local_seconds(local_after + 1);
        let last_year = start.year.saturating_add(SEARCH_YEARS).min(LAST_YEAR);
        let first = self.walk(tz, after_floor, local_after + 1, last_year);

        // When `after` lies in the first pass of a repeated hour (fall back), the second pass
        // is still ahead in real time but behind in wall clock time, so the walk above cannot
        // see it. A fixed-time job never runs in the second pass; any other job may, so look
        // there too when the first answer is not plainly before the transition.
        let first = if self.fixed_time {
            first
        } else {
            let suspicious = match first {
                Some(found) => found.offset != offset_after || found.instant - after_floor > 86_400,
                None => true,
            };
            if suspicious {
                match self.second_pass(tz, after, after_floor, local_after, offset_after, last_year)
                {
                    Some(other) if first.is_none_or(|f| other.instant < f.instant) => Some(other),
                    _ => first,
                }
            } else {
                first
            }
        };
        Timestamp::from_second(first?.instant).ok()
    }

    /// If `after` is in the first pass of a fold, the first match in the second pass.
    #[cold]
    fn second_pass(
        &self,
        tz: &TimeZone,
        after: Timestamp,
        after_floor: i64,
        local_after: i64,
        offset_after: i64,
        last_year: i32,
    ) -> Option<Found> {
        let civil_after = Civil::from_local_seconds(local_after).to_jiff()?;
        let AmbiguousOffset::Fold {
            before,
            after: offset_later,
        } = tz.to_ambiguous_timestamp(civil_after).offset()
        else {
            return None;
        };
        if i64::from(before.seconds()) != offset_after {
            return None;
        }
        let transition = tz.following(after).next()?.timestamp().as_second();
        let fold_start = transition + i64::from(offset_later.seconds());
        self.walk(tz, after_floor, fold_start, last_year)
    }

    /// Walks wall clock times from `local` (inclusive) and returns the first one that resolves
    /// to an instant after `after_floor` under the DST rules.
    fn walk(
        &self,
        tz: &TimeZone,
        after_floor: i64,
        mut local: i64,
        last_year: i32,
    ) -> Option<Found> {
        for _ in 0..MAX_ROUNDS {
            let civil = self.next_civil(Civil::from_local_seconds(local), last_year)?;
            let civil_seconds = civil.to_local_seconds();
            match tz.to_ambiguous_timestamp(civil.to_jiff()?).offset() {
                AmbiguousOffset::Unambiguous { offset } => {
                    let offset = i64::from(offset.seconds());
                    let instant = civil_seconds - offset;
                    if instant > after_floor {
                        return Some(Found { instant, offset });
                    }
                    local = civil_seconds + 1;
                }
                AmbiguousOffset::Gap {
                    before: _,
                    after: offset_later,
                } => {
                    // The gap's civil range is [T + before, T + after) for transition T, so T is
                    // the first transition after `civil - after`.
                    let offset_later = i64::from(offset_later.seconds());
                    let probe = Timestamp::from_second(civil_seconds - offset_later).ok()?;
                    let transition = tz.following(probe).next()?.timestamp().as_second();
                    if self.fixed_time {
                        // The job's one time of day does not exist today: run at the first
                        // instant after the gap. (croner also re-checks the day pattern on the
                        // far side of the gap, which only differs for gaps that cross midnight;
                        // the run still belongs to the day whose time was skipped.)
                        if transition > after_floor {
                            return Some(Found {
                                instant: transition,
                                offset: offset_later,
                            });
                        }
                        local = civil_seconds + 1;
                    } else {
                        // Interval and wildcard jobs skip the missing wall clock times.
                        local = (transition + offset_later).max(civil_seconds + 1);
                    }
                }
                AmbiguousOffset::Fold {
                    before,
                    after: offset_later,
                } => {
                    let earlier = civil_seconds - i64::from(before.seconds());
                    let later = civil_seconds - i64::from(offset_later.seconds());
                    if earlier > after_floor {
                        return Some(Found {
                            instant: earlier,
                            offset: i64::from(before.seconds()),
                        });
                    }
                    // A fixed-time job runs once, in the first pass; others run in both.
                    if !self.fixed_time && later > after_floor {
                        return Some(Found {
                            instant: later,
                            offset: i64::from(offset_later.seconds()),
                        });
                    }
                    local = civil_seconds + 1;
                }
            }
        }
        None
    }
}
