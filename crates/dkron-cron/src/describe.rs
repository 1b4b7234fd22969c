//! English descriptions of schedules (`at 09:30 on Monday-Friday`, `every 15 minutes`).

use std::fmt::{self, Write as _};

use crate::spec::{self, CronSpec};
use crate::{Manual, Repr, Schedule};

/// An English description of a [`Schedule`], from [`Schedule::describe`]; implements `Display`.
#[derive(Debug, Clone, Copy)]
pub struct Description<'a> {
    schedule: &'a Schedule,
}

impl<'a> Description<'a> {
    pub(crate) fn new(schedule: &'a Schedule) -> Description<'a> {
        Description { schedule }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];

impl fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schedule.repr {
            Repr::Cron { spec, .. } => write_cron(f, spec)?,
            Repr::Every(period) => write!(f, "every {period:#}")?,
            Repr::OneShot(one_shot) => match one_shot.grace {
                None => write!(f, "once at {}", one_shot.at)?,
                Some(grace) => write!(
                    f,
                    "once at {}, or right away if loaded up to {grace:#} late",
                    one_shot.at
                )?,
            },
            Repr::Manual(Manual::Manually) => f.write_str("never on its own (run manually)")?,
            Repr::Manual(Manual::Triggered) => {
                f.write_str("never on its own (run when triggered)")?;
            }
        }
        if let Some(zone) = &self.schedule.time_zone {
            write!(f, " ({})", zone.iana_name().unwrap_or("fixed offset"))?;
        }
        Ok(())
    }
}

fn write_cron(f: &mut fmt::Formatter<'_>, spec: &CronSpec) -> fmt::Result {
    let days = day_phrase(spec);
    let months = (spec.months != 0x1ffe).then(|| {
        list(u64::from(spec.months), |v| {
            MONTHS[v as usize - 1].to_owned()
        })
    });
    if spec.fixed_time {
        let (hour, minute, second) = (
            spec.hours.trailing_zeros(),
            spec.minutes.trailing_zeros(),
            spec.seconds.trailing_zeros(),
        );
        if days.is_none() && months.is_none() {
            f.write_str("every day ")?;
        }
        write!(f, "at {hour:02}:{minute:02}")?;
        if second != 0 {
            write!(f, ":{second:02}")?;
        }
    } else {
        f.write_str(&clock_phrase(spec))?;
    }
    if let Some(days) = days {
        write!(f, " on {days}")?;
    }
    if let Some(months) = months {
        write!(f, " in {months}")?;
    }
    Ok(())
}

/// How a time field reads: every value, a regular step, or a list.
enum Part {
    Every,
    Step(u32),
    Values(String),
}

fn time_part(mask: u64, max: u32) -> Part {
    let all = u64::MAX >> (63 - max);
    if mask == all {
        return Part::Every;
    }
    let first = mask.trailing_zeros();
    let count = mask.count_ones();
    if first == 0 && count > 1 {
        let step = (mask >> 1).trailing_zeros() + 1;
        let stepped = (0..=max)
            .step_by(step as usize)
            .fold(0_u64, |bits, v| bits | 1 << v);
        if stepped == mask {
            return Part::Step(step);
        }
    }
    Part::Values(list(mask, |v| v.to_string()))
}

/// `every 5 seconds`, `at minute 30 of every hour`, `at minute 0 of hours 9-17`.
fn clock_phrase(spec: &CronSpec) -> String {
    let units = [
        ("second", spec.seconds, 59),
        ("minute", spec.minutes, 59),
        ("hour", u64::from(spec.hours), 23),
    ];
    let mut segments: Vec<String> = Vec::with_capacity(3);
    // Whether the finest kept segment names specific values (so "of every <unit>" reads well).
    let mut finer_specific = false;
    for (idx, (unit, mask, max)) in units.into_iter().enumerate() {
        match time_part(mask, max) {
            Part::Every => {
                if segments.is_empty() || finer_specific {
                    segments.push(format!("every {unit}"));
                    finer_specific = false;
                }
            }
            Part::Step(step) => {
                segments.push(format!("every {step} {unit}s"));
                finer_specific = false;
            }
            Part::Values(values) => {
                // A zero second (or a zero minute under a zero second) is the default: omit it
                // unless a coarser field lists values and it would read as "at hours 9-17".
                let coarser_all = units[idx + 1..]
                    .iter()
                    .all(|&(_, m, x)| matches!(time_part(m, x), Part::Every | Part::Step(_)));
                if mask == 1 && segments.is_empty() && (idx == 0 || coarser_all) {
                    continue;
                }
                let plural = if mask.count_ones() > 1 { "s" } else { "" };
                segments.push(format!("{unit}{plural} {values}"));
                finer_specific = true;
            }
        }
    }
    let mut text = String::new();
    for (idx, segment) in segments.iter().enumerate() {
        if idx == 0 {
            if !segment.starts_with("every") {
                text.push_str("at ");
            }
        } else {
            text.push_str(" of ");
        }
        text.push_str(segment);
    }
    text
}

fn day_phrase(spec: &CronSpec) -> Option<String> {
    let mut dom_parts = Vec::new();
    if spec.dom != 0 && spec.dom != spec::ALL_DOM {
        dom_parts.push(format!(
            "day {}",
            list(u64::from(spec.dom), |v| v.to_string())
        ));
    }
    if spec.dom_last {
        dom_parts.push("the last day of the month".to_owned());
    }
    if spec.dom_last_weekday {
        dom_parts.push("the last weekday of the month".to_owned());
    }
    if spec.dom_nearest_weekday != 0 {
        let days = list(u64::from(spec.dom_nearest_weekday), |v| v.to_string());
        dom_parts.push(format!("the weekday nearest day {days}"));
    }
    let mut dow_parts = Vec::new();
    if spec.dow != 0 && spec.dow != spec::ALL_DOW {
        dow_parts.push(list(u64::from(spec.dow), |v| {
            WEEKDAYS[v as usize].to_owned()
        }));
    }
    for (weekday, &nth) in spec.dow_nth.iter().enumerate() {
        for (k, ordinal) in ORDINALS.iter().enumerate() {
            if nth & (1 << k) != 0 {
                dow_parts.push(format!("the {ordinal} {}", WEEKDAYS[weekday]));
            }
        }
    }
    for (weekday, name) in WEEKDAYS.iter().enumerate() {
        if spec.dow_last & (1 << weekday) != 0 {
            dow_parts.push(format!("the last {name}"));
        }
    }
    let join = |parts: Vec<String>| (!parts.is_empty()).then(|| parts.join(" or "));
    match (join(dom_parts), join(dow_parts)) {
        (None, None) => None,
        (Some(days), None) | (None, Some(days)) => Some(days),
        (Some(dom), Some(dow)) => {
            let word = if spec.dom_star || spec.dow_star {
                "and"
            } else {
                "or"
            };
            Some(format!("{dom} {word} {dow}"))
        }
    }
}

/// `1, 5-10, 15` from a bit set; runs of three or more become ranges.
fn list(mask: u64, name: impl Fn(u32) -> String) -> String {
    let mut text = String::new();
    let mut rest = mask;
    while rest != 0 {
        let start = rest.trailing_zeros();
        let run = (rest >> start).trailing_ones();
        let end = start + run - 1;
        if !text.is_empty() {
            text.push_str(", ");
        }
        match run {
            1 => text.push_str(&name(start)),
            2 => {
                let _ = write!(text, "{}, {}", name(start), name(end));
            }
            _ => {
                let _ = write!(text, "{}-{}", name(start), name(end));
            }
        }
        rest &= !((u64::MAX >> (63 - end)) & (u64::MAX << start));
    }
    text
}
