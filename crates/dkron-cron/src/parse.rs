//! The expression grammar above the fields: `TZ=`/`CRON_TZ=` prefix, descriptors and their
//! arguments, and the split into calendar fields.

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

use crate::error::{DurationProblem, Error, ErrorKind};
use crate::spec::{self, CronSpec, FieldText};
use crate::{Manual, OneShot, Repr, Schedule};

/// Splits on Unicode whitespace (Go's `strings.Fields`), yielding each token's byte offset in
/// `whole`, of which `part` is a subslice.
fn tokens<'a>(whole: &'a str, part: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    let base = part.as_ptr() as usize - whole.as_ptr() as usize;
    part.split(char::is_whitespace)
        .filter(|token| !token.is_empty())
        .map(move |token| {
            (
                base + (token.as_ptr() as usize - part.as_ptr() as usize),
                token,
            )
        })
}

/// Parses `expr`; `name_sum` is the code point sum of the job name when `~` may be used.
pub(crate) fn parse(expr: &str, name_sum: Option<u64>) -> Result<Schedule, Error> {
    parse_repr(expr, name_sum).map(|(time_zone, repr)| Schedule {
        source: expr.into(),
        time_zone,
        repr,
    })
}

fn parse_repr(expr: &str, name_sum: Option<u64>) -> Result<(Option<TimeZone>, Repr), Error> {
    let fail = |kind| Error::schedule(expr, kind);
    let mut rest = expr.trim();
    if rest.is_empty() {
        return Err(fail(ErrorKind::Empty));
    }
    let mut time_zone = None;
    let zone_text = rest
        .strip_prefix("CRON_TZ=")
        .or_else(|| rest.strip_prefix("TZ="));
    if let Some(zone_text) = zone_text {
        let (name, tail) = zone_text
            .split_once(char::is_whitespace)
            .unwrap_or((zone_text, ""));
        let zone = TimeZone::get(name).map_err(|_| {
            fail(ErrorKind::TimeZone {
                name: name.to_owned(),
            })
        })?;
        time_zone = Some(zone);
        rest = tail.trim_start();
        if rest.is_empty() {
            return Err(fail(ErrorKind::FieldCount { found: 0 }));
        }
    }
    // dkron: `~` is substituted only in calendar expressions, never in descriptors.
    let repr = if rest.starts_with('@') {
        parse_descriptor(expr, rest).map_err(fail)?
    } else {
        let mut fields: [FieldText<'_>; 6] = std::array::from_fn(|_| FieldText {
            text: "",
            position: 0,
        });
        let mut n_fields = 0;
        for (position, text) in tokens(expr, rest) {
            if n_fields < fields.len() {
                fields[n_fields] = FieldText { text, position };
            }
            n_fields += 1;
        }
        if n_fields > fields.len() {
            return Err(fail(ErrorKind::FieldCount { found: n_fields }));
        }
        let spec = CronSpec::parse(&fields[..n_fields], name_sum).map_err(fail)?;
        Repr::Cron {
            spec,
            descriptor: None,
        }
    };
    Ok((time_zone, repr))
}

fn calendar(expansion: &'static str, descriptor: &'static str) -> Result<Repr, ErrorKind> {
    let mut fields: [FieldText<'_>; 6] = std::array::from_fn(|_| FieldText {
        text: "",
        position: 0,
    });
    for (idx, (position, text)) in tokens(expansion, expansion).enumerate().take(6) {
        fields[idx] = FieldText { text, position };
    }
    let spec = CronSpec::parse(&fields, None)?;
    Ok(Repr::Cron {
        spec,
        descriptor: Some(descriptor),
    })
}

fn parse_descriptor(expr: &str, text: &str) -> Result<Repr, ErrorKind> {
    let mut args = tokens(expr, text).map(|(_, token)| token);
    let name = args.next().unwrap_or(text);
    // One slot more than any descriptor takes, so extra arguments never match a pattern below.
    let mut arg_buf = [""; 3];
    let mut n_args = 0;
    for arg in args {
        if n_args < arg_buf.len() {
            arg_buf[n_args] = arg;
        }
        n_args += 1;
    }
    let args = &arg_buf[..n_args.min(arg_buf.len())];
    debug_assert!(n_args <= 2 || args.len() == 3);
    let no_args = |descriptor: &'static str| {
        if n_args == 0 {
            Ok(())
        } else {
            Err(ErrorKind::DescriptorArguments {
                descriptor,
                expected: "no arguments",
            })
        }
    };
    // Case-insensitive without allocating: compare against the known names.
    const NAMES: [&str; 13] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
        "@minutely",
        "@manually",
        "@triggered",
        "@every",
        "@at",
        "@after",
    ];
    let canonical = NAMES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("");
    match canonical {
        "@yearly" | "@annually" => {
            no_args("@yearly").and_then(|()| calendar(spec::YEARLY, "@yearly"))
        }
        "@monthly" => no_args("@monthly").and_then(|()| calendar(spec::MONTHLY, "@monthly")),
        "@weekly" => no_args("@weekly").and_then(|()| calendar(spec::WEEKLY, "@weekly")),
        "@daily" | "@midnight" => no_args("@daily").and_then(|()| calendar(spec::DAILY, "@daily")),
        "@hourly" => no_args("@hourly").and_then(|()| calendar(spec::HOURLY, "@hourly")),
        "@minutely" => no_args("@minutely").and_then(|()| calendar(spec::MINUTELY, "@minutely")),
        "@manually" => no_args("@manually").map(|()| Repr::Manual(Manual::Manually)),
        "@triggered" => no_args("@triggered").map(|()| Repr::Manual(Manual::Triggered)),
        "@every" => {
            let [duration] = args else {
                return Err(ErrorKind::DescriptorArguments {
                    descriptor: "@every",
                    expected: "one go duration such as 1h30m",
                });
            };
            let nanos =
                crate::duration::parse_go(duration).map_err(|problem| ErrorKind::GoDuration {
                    text: (*duration).to_owned(),
                    problem,
                })?;
            if nanos <= 0 {
                return Err(ErrorKind::NonPositivePeriod {
                    text: (*duration).to_owned(),
                });
            }
            // robfig's `Every`: below one second becomes one second, otherwise the sub-second
            // part is dropped.
            let seconds = (nanos / 1_000_000_000).max(1);
            Ok(Repr::Every(SignedDuration::from_secs(seconds)))
        }
        "@at" => {
            let [at] = args else {
                return Err(ErrorKind::DescriptorArguments {
                    descriptor: "@at",
                    expected: "one rfc 3339 timestamp",
                });
            };
            Ok(Repr::OneShot(OneShot {
                at: parse_timestamp(at)?,
                grace: None,
            }))
        }
        "@after" => {
            let [at, grace] = args else {
                return Err(ErrorKind::DescriptorArguments {
                    descriptor: "@after",
                    expected: "an rfc 3339 timestamp and a grace window such as <PT30M",
                });
            };
            let at = parse_timestamp(at)?;
            let grace_error = |problem| ErrorKind::GraceWindow {
                text: (*grace).to_owned(),
                problem,
            };
            let window = grace
                .strip_prefix('<')
                .ok_or_else(|| grace_error(DurationProblem::Syntax))?;
            let nanos = crate::duration::parse_iso8601(window).map_err(grace_error)?;
            Ok(Repr::OneShot(OneShot {
                at,
                grace: Some(SignedDuration::from_nanos(nanos)),
            }))
        }
        _ => Err(ErrorKind::UnknownDescriptor {
            name: name.to_owned(),
        }),
    }
}

fn parse_timestamp(text: &str) -> Result<Timestamp, ErrorKind> {
    text.parse::<Timestamp>().map_err(|_| ErrorKind::Timestamp {
        text: text.to_owned(),
    })
}
