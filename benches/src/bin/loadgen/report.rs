//! From sink arrivals and RSS samples to figures: lateness, missed and duplicated fires per
//! whole second, the summary table, the JSON file and the SVG plot.
//!
//! Lateness: every job of a scenario has an `@every <n>s` schedule, which dkron-cron fires on
//! whole seconds, so a fire's scheduled instant is its arrival rounded down to the second. That
//! holds while a fire arrives less than a second late; a fire later than that lands in the next
//! second (a "collision" there, a miss in its own), and its lateness reads 1 s too low. So the
//! summary counts misses by volume (expected − arrivals), collisions separately (a duplicate,
//! or a fire ≥ 1 s late), and duplicates proper come from the execution records
//! (`scenarios.rs`), which carry `scheduled_at`. "0 collisions" says no fire was a second late.

use std::{collections::HashSet, fmt::Write as _};

use serde_json::{Value, json};

use crate::sink::Arrival;

const NS: i64 = 1_000_000_000;

/// One whole second of a run, keyed by the scheduled instant.
#[derive(Clone, Debug, Default)]
pub(crate) struct Second {
    /// Seconds since the run's zero.
    pub(crate) t: i64,
    /// Fires due in this second (from the scenario's job count).
    pub(crate) expected: u64,
    /// Distinct (job, second) fires that arrived.
    pub(crate) delivered: u64,
    pub(crate) duplicates: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// RSS of the watched processes at one instant (seconds since the run's zero, MB per process),
/// how long one `GET /v1/jobs/<job>` and one job upsert on the leader took then (NaN: it
/// failed, or was not measured), and the leader's `dkron_scheduler_fires_skipped_total` then
/// (NaN: not read).
#[derive(Clone, Debug)]
pub(crate) struct RssSample {
    pub(crate) t: f64,
    pub(crate) mb: Vec<(String, f64)>,
    pub(crate) api_ms: f64,
    pub(crate) write_ms: f64,
    pub(crate) skipped: f64,
}

impl RssSample {
    /// A sample of RSS only.
    pub(crate) fn rss(t: f64, mb: Vec<(String, f64)>) -> RssSample {
        RssSample {
            t,
            mb,
            api_ms: f64::NAN,
            write_ms: f64::NAN,
            skipped: f64::NAN,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Summary {
    /// Every arrival in the window, collisions included.
    pub(crate) arrivals: u64,
    pub(crate) expected: u64,
    pub(crate) delivered: u64,
    pub(crate) missed: u64,
    pub(crate) duplicates: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// Fires of jobs whose schedule is `@every period_s` with scheduled seconds in
/// `[from_s, to_s)` (Unix seconds); `due(second)` is how many fires were due in it. `zero_s` is
/// the run's zero for the per-second `t`.
pub(crate) fn analyse(
    arrivals: &[Arrival],
    zero_s: i64,
    from_s: i64,
    to_s: i64,
    due: &dyn Fn(i64) -> u64,
) -> (Summary, Vec<Second>) {
    let span = usize::try_from((to_s - from_s).max(0)).unwrap_or(0);
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); span];
    let mut dups = vec![0u64; span];
    let mut seen: HashSet<(u32, i64)> = HashSet::with_capacity(arrivals.len());
    for arrival in arrivals {
        let second = arrival.at_ns.div_euclid(NS);
        if second < from_s || second >= to_s {
            continue;
        }
        let k = usize::try_from(second - from_s).unwrap_or(0);
        if seen.insert((arrival.job, second)) {
            per[k].push((arrival.at_ns - second * NS) as f64 / 1e6);
        } else {
            dups[k] += 1;
        }
    }
    let mut all: Vec<f64> = Vec::new();
    let mut seconds = Vec::with_capacity(span);
    let mut summary = Summary::default();
    for (k, mut lateness) in per.into_iter().enumerate() {
        let second = from_s + k as i64;
        lateness.sort_by(f64::total_cmp);
        let expected = due(second);
        let delivered = lateness.len() as u64;
        summary.expected += expected;
        summary.delivered += delivered;
        summary.duplicates += dups[k];
        summary.arrivals += delivered + dups[k];
        seconds.push(Second {
            t: second - zero_s,
            expected,
            delivered,
            duplicates: dups[k],
            p50_ms: quantile(&lateness, 0.50),
            p99_ms: quantile(&lateness, 0.99),
            max_ms: lateness.last().copied().unwrap_or(f64::NAN),
        });
        all.extend(lateness);
    }
    summary.missed = summary.expected.saturating_sub(summary.arrivals);
    all.sort_by(f64::total_cmp);
    summary.p50_ms = quantile(&all, 0.50);
    summary.p99_ms = quantile(&all, 0.99);
    summary.max_ms = all.last().copied().unwrap_or(f64::NAN);
    (summary, seconds)
}

/// Nearest-rank quantile of sorted values (NaN when empty).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub(crate) fn summary_json(s: &Summary) -> Value {
    json!({
        "expected": s.expected, "arrivals": s.arrivals, "distinct_seconds": s.delivered,
        "missed": s.missed, "collisions": s.duplicates, "p50_ms": finite(s.p50_ms), "p99_ms": finite(s.p99_ms),
        "max_ms": finite(s.max_ms),
    })
}

pub(crate) fn seconds_json(seconds: &[Second]) -> Value {
    Value::Array(
        seconds
            .iter()
            .map(|s| {
                json!({"t": s.t, "expected": s.expected, "distinct": s.delivered,
                    "collisions": s.duplicates, "p50_ms": finite(s.p50_ms),
                    "p99_ms": finite(s.p99_ms), "max_ms": finite(s.max_ms)})
            })
            .collect(),
    )
}

pub(crate) fn rss_json(samples: &[RssSample]) -> Value {
    Value::Array(
        samples
            .iter()
            .map(|s| {
                let mut o = serde_json::Map::new();
                o.insert("t".into(), json!(s.t));
                o.insert("api_get_ms".into(), finite(s.api_ms));
                o.insert("api_write_ms".into(), finite(s.write_ms));
                o.insert("skipped_total".into(), finite(s.skipped));
                for (name, mb) in &s.mb {
                    o.insert(format!("{name}_mb"), json!(mb));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

/// NaN (no data) as JSON null.
pub(crate) fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// The table printed at the end: one row per figure.
pub(crate) fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in rows {
        let _ = writeln!(out, "  {key:<width$}  {value}");
    }
    out
}

/// One line of a plot panel: name, colour, (t, value) points.
type Line<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// An SVG with four panels over the run's time: lateness p50/p99 per second, RSS per process,
/// missed fires per second with the fires the leader skipped (misfire bound) per second, and
/// the API's latency (one read and one write a second).
pub(crate) fn svg(title: &str, seconds: &[Second], rss: &[RssSample]) -> String {
    const W: f64 = 900.0;
    const PH: f64 = 180.0;
    const LEFT: f64 = 70.0;
    const TOP: f64 = 40.0;
    const GAP: f64 = 40.0;
    let t_max = seconds
        .iter()
        .map(|s| s.t as f64 + 1.0)
        .chain(rss.iter().map(|r| r.t))
        .fold(1.0_f64, f64::max);
    let t_min = seconds
        .iter()
        .map(|s| s.t as f64)
        .chain(rss.iter().map(|r| r.t))
        .fold(t_max, f64::min);
    let x = |t: f64| LEFT + (t - t_min) / (t_max - t_min).max(1.0) * (W - LEFT - 20.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"20\" font-size=\"14\">{}</text>\n",
        TOP + 4.0 * (PH + GAP),
        escape(title)
    );
    let mut panel = |index: usize, label: &str, lines: Vec<Line<'_>>| {
        let top = TOP + index as f64 * (PH + GAP);
        let y_max = lines
            .iter()
            .flat_map(|(_, _, points)| points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0_f64, f64::max)
            .max(1e-9)
            * 1.1;
        let y = |v: f64| top + PH - v / y_max * PH;
        let _ = writeln!(
            out,
            "<rect x=\"{LEFT}\" y=\"{top}\" width=\"{}\" height=\"{PH}\" fill=\"none\" stroke=\"#999\"/>\n<text x=\"{LEFT}\" y=\"{}\">{}</text>",
            W - LEFT - 20.0,
            top - 5.0,
            escape(label)
        );
        for k in 0..=4 {
            let v = y_max * f64::from(k) / 4.0;
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT - 5.0,
                y(v) + 4.0,
                short(v)
            );
        }
        for k in 0..=6 {
            let t = t_min + (t_max - t_min) * f64::from(k) / 6.0;
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{:.0} s</text>",
                x(t),
                top + PH + 14.0,
                t
            );
        }
        for (i, (name, color, points)) in lines.iter().enumerate() {
            let path: Vec<String> = points
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.2\" points=\"{}\"/>\n<text x=\"{}\" y=\"{}\" fill=\"{color}\">{}</text>",
                path.join(" "),
                W - 200.0 + 90.0 * (i % 2) as f64,
                top - 5.0 - 12.0 * (i / 2) as f64,
                escape(name)
            );
        }
    };
    let secs = |f: &dyn Fn(&Second) -> f64| -> Vec<(f64, f64)> {
        seconds.iter().map(|s| (s.t as f64, f(s))).collect()
    };
    panel(
        0,
        "lateness at the sink per scheduled second (ms)",
        vec![
            ("p50", "#1f77b4", secs(&|s| s.p50_ms)),
            ("p99", "#d62728", secs(&|s| s.p99_ms)),
        ],
    );
    let names: Vec<String> = rss
        .first()
        .map(|r| r.mb.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let colors = ["#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    let rss_lines: Vec<Line<'_>> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let points = rss
                .iter()
                .filter_map(|r| r.mb.iter().find(|(n, _)| n == name).map(|(_, v)| (r.t, *v)))
                .collect();
            (name.as_str(), colors[i % colors.len()], points)
        })
        .collect();
    panel(1, "RSS (MB)", rss_lines);
    // The counter is cumulative: per second is the difference of neighbouring samples.
    let skipped: Vec<(f64, f64)> = rss
        .windows(2)
        .map(|w| {
            (
                w[1].t,
                (w[1].skipped - w[0].skipped) / (w[1].t - w[0].t).max(1e-3),
            )
        })
        .collect();
    panel(
        2,
        "fires per second: missed at the sink (expected - delivered), skipped by the leader",
        vec![
            (
                "missed",
                "#d62728",
                secs(&|s| s.expected.saturating_sub(s.delivered) as f64),
            ),
            ("skipped", "#1f77b4", skipped),
        ],
    );
    let api = |f: &dyn Fn(&RssSample) -> f64| -> Vec<(f64, f64)> {
        rss.iter().map(|r| (r.t, f(r))).collect()
    };
    panel(
        3,
        "API latency on the leader, one request a second (ms)",
        vec![
            ("GET job", "#2ca02c", api(&|r| r.api_ms)),
            ("upsert job", "#ff7f0e", api(&|r| r.write_ms)),
        ],
    );
    out.push_str("</svg>\n");
    out
}

fn short(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_missed_and_duplicates_per_second() {
        let at = |job, s: i64, ms: i64| Arrival {
            job,
            at_ns: s * NS + ms * 1_000_000,
        };
        // Job 0 fires at 100 (5 ms) and twice at 101; job 1 fires at 100 (20 ms) only.
        let arrivals = [at(0, 100, 5), at(1, 100, 20), at(0, 101, 7), at(0, 101, 9)];
        let (summary, seconds) = analyse(&arrivals, 100, 100, 102, &|_| 2);
        assert_eq!(summary.expected, 4);
        assert_eq!(summary.delivered, 3);
        assert_eq!(summary.arrivals, 4);
        // By volume nothing is missing: the second arrival at 101 may be the 100 fire, late.
        assert_eq!(summary.missed, 0);
        assert_eq!(summary.duplicates, 1);
        assert_eq!(seconds[0].p99_ms, 20.0);
        assert_eq!(seconds[1].p50_ms, 7.0);
        assert!(svg("t", &seconds, &[]).contains("<polyline"));
    }
}
