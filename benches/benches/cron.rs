//! Cron parse and next-fire: dkron-cron side by side with the `cron` and `croner` crates.
//!
//! Every library gets the same expressions and the same base instant (2025-03-14T10:07:33Z,
//! as in `reference/perf-anchors.md` (e)); results are checked to agree before timing. After
//! criterion's own report, prints a Markdown table of medians and ratios (ours / peer).
//!
//! Run: `cargo bench -p dkron-benches --bench cron -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, TimeZone as _, Utc};
use criterion::{BenchmarkId, Criterion};
use croner::parser::{CronParser, Seconds, Year};
use dkron_cron::Schedule;
use jiff::{Timestamp, tz::TimeZone};

/// One table row: a label (also the criterion id), the expression, and the zone.
struct Row {
    label: &'static str,
    expr: &'static str,
    zone: &'static str,
    /// Whether the `cron` crate can express it (no `L`, no `@every`, no zones here).
    cron_crate: bool,
    /// Whether croner can express it (no `@every`).
    croner: bool,
}

const ROWS: [Row; 9] = [
    row("every_second", "* * * * * *", "UTC", true, true),
    row("every_5s", "*/5 * * * * *", "UTC", true, true),
    row("every_15min", "0 */15 * * * *", "UTC", true, true),
    row("weekdays_0900", "0 0 9 * * MON-FRI", "UTC", true, true),
    row("monthly", "0 0 0 1 * *", "UTC", true, true),
    row("last_day_L", "0 0 0 L * *", "UTC", false, true),
    row("leap_day", "0 0 0 29 FEB *", "UTC", true, true),
    row("every_1h30m", "@every 1h30m", "UTC", false, false),
    row(
        "weekdays_0900_new_york",
        "0 0 9 * * MON-FRI",
        "America/New_York",
        false,
        true,
    ),
];

const fn row(
    label: &'static str,
    expr: &'static str,
    zone: &'static str,
    cron_crate: bool,
    croner: bool,
) -> Row {
    Row {
        label,
        expr,
        zone,
        cron_crate,
        croner,
    }
}

const BASE_SECONDS: i64 = 1_741_946_853; // 2025-03-14T10:07:33Z

fn croner_parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .sloppy_ranges(true)
        .build()
}

fn base_chrono() -> DateTime<Utc> {
    Utc.timestamp_opt(BASE_SECONDS, 0)
        .single()
        .expect("valid base instant")
}

/// Checks that the libraries agree on every row before anything is timed.
fn check_agreement() {
    let base = Timestamp::from_second(BASE_SECONDS).expect("valid base instant");
    for row in &ROWS {
        let tz = TimeZone::get(row.zone).expect("bundled zone");
        let ours = Schedule::parse(row.expr)
            .expect("our parse")
            .next_after(base, &tz)
            .expect("a fire");
        if row.croner {
            let cron = croner_parser().parse(row.expr).expect("croner parse");
            let zone = chrono_tz::Tz::from_str(row.zone).expect("chrono-tz zone");
            let theirs = cron
                .find_next_occurrence(&base_chrono().with_timezone(&zone), false)
                .expect("croner fire");
            assert_eq!(
                ours.as_second(),
                theirs.timestamp(),
                "croner disagrees on {}",
                row.expr
            );
        }
        if row.cron_crate {
            let schedule = cron::Schedule::from_str(row.expr).expect("cron parse");
            let theirs = schedule.after(&base_chrono()).next().expect("cron fire");
            assert_eq!(
                ours.as_second(),
                theirs.timestamp(),
                "cron disagrees on {}",
                row.expr
            );
        }
    }
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("cron_parse");
    let parser = croner_parser();
    for row in ROWS.iter().filter(|row| row.zone == "UTC") {
        group.bench_with_input(
            BenchmarkId::new("dkron-cron", row.label),
            row.expr,
            |b, expr| {
                b.iter(|| Schedule::parse(black_box(expr)));
            },
        );
        if row.croner {
            group.bench_with_input(
                BenchmarkId::new("croner", row.label),
                row.expr,
                |b, expr| {
                    b.iter(|| parser.parse(black_box(expr)));
                },
            );
        }
        if row.cron_crate {
            group.bench_with_input(BenchmarkId::new("cron", row.label), row.expr, |b, expr| {
                b.iter(|| cron::Schedule::from_str(black_box(expr)));
            });
        }
    }
    group.finish();
}

fn bench_next(c: &mut Criterion) {
    let mut group = c.benchmark_group("cron_next");
    let base = Timestamp::from_second(BASE_SECONDS).expect("valid base instant");
    for row in &ROWS {
        let tz = TimeZone::get(row.zone).expect("bundled zone");
        let ours = Schedule::parse(row.expr).expect("our parse");
        group.bench_function(BenchmarkId::new("dkron-cron", row.label), |b| {
            b.iter(|| ours.next_after(black_box(base), &tz));
        });
        if row.croner {
            let cron = croner_parser().parse(row.expr).expect("croner parse");
            let zone = chrono_tz::Tz::from_str(row.zone).expect("chrono-tz zone");
            let start = base_chrono().with_timezone(&zone);
            group.bench_function(BenchmarkId::new("croner", row.label), |b| {
                b.iter(|| cron.find_next_occurrence(black_box(&start), false));
            });
        }
        if row.cron_crate {
            let schedule = cron::Schedule::from_str(row.expr).expect("cron parse");
            let start = base_chrono();
            group.bench_function(BenchmarkId::new("cron", row.label), |b| {
                b.iter(|| schedule.after(black_box(&start)).next());
            });
        }
    }
    group.finish();
}

/// Criterion's output directory: `$CARGO_TARGET_DIR/criterion`, else next to this binary
/// (`<target>/release/deps/cron-*` -> `<target>/criterion`).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(dir).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The median (ns) criterion recorded for `group/function/label`, if it ran.
fn median_ns(group: &str, function: &str, label: &str) -> Option<f64> {
    let path = criterion_dir()?
        .join(group)
        .join(function)
        .join(label)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    // {"mean":{...},"median":{"confidence_interval":{...},"point_estimate":N,...},...}
    let median = &text[text.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn cell(value: Option<f64>) -> String {
    match value {
        Some(ns) if ns >= 10_000.0 => format!("{:.1} µs", ns / 1000.0),
        Some(ns) => format!("{ns:.0} ns"),
        None => "—".to_owned(),
    }
}

fn ratio(ours: Option<f64>, peer: Option<f64>) -> String {
    match (ours, peer) {
        (Some(ours), Some(peer)) => format!("{:.2}", ours / peer),
        _ => "—".to_owned(),
    }
}

#[expect(clippy::print_stdout, reason = "the bench's product is this table")]
fn print_table() {
    for (group, title) in [("cron_next", "next fire"), ("cron_parse", "parse")] {
        println!(
            "\n### {title} (criterion medians; ratio = dkron-cron / peer, below 1 is faster)\n"
        );
        println!(
            "| row | expression | zone | dkron-cron | cron 0.17 | croner 4.0.3 | ÷ cron | ÷ croner |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for row in &ROWS {
            if group == "cron_parse" && row.zone != "UTC" {
                continue;
            }
            let ours = median_ns(group, "dkron-cron", row.label);
            let cron = median_ns(group, "cron", row.label);
            let croner = median_ns(group, "croner", row.label);
            println!(
                "| {} | `{}` | {} | {} | {} | {} | {} | {} |",
                row.label,
                row.expr,
                row.zone,
                cell(ours),
                cell(cron),
                cell(croner),
                ratio(ours, cron),
                ratio(ours, croner)
            );
        }
    }
}

fn main() {
    check_agreement();
    let mut criterion = Criterion::default().configure_from_args();
    bench_next(&mut criterion);
    bench_parse(&mut criterion);
    criterion.final_summary();
    print_table();
}
