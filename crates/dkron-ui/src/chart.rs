//! The dashboard's chart of executions per day: an inline SVG of stacked bars (successes below,
//! failures above), drawn here rather than with a plotting library because a bar chart is a few
//! rectangles, and plain SVG elements with class names let the style sheet colour them for the
//! light and the dark theme (no inline styles, so the page's CSP holds).

use dkron_api::DayStats;
use maud::{Markup, html};

const WIDTH: u32 = 720;
const HEIGHT: u32 = 220;
/// Room for the y labels on the left and the dates below.
const LEFT: u32 = 40;
const BOTTOM: u32 = 24;
const TOP: u32 = 10;

/// The chart for `days` (oldest first, one entry per day, zeros included).
pub(crate) fn executions_per_day(days: &[DayStats]) -> Markup {
    let max = days
        .iter()
        .map(|d| d.success_count.saturating_add(d.failed_count))
        .max()
        .unwrap_or(0);
    // Up to four equal, round steps up to at least the highest day (1 when nothing ran).
    let step = nice_ceiling(max.div_ceil(4).max(1));
    let lines = max.div_ceil(step).max(1);
    let top = step.saturating_mul(lines);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let plot_w = WIDTH - LEFT - 8;
    let count = u32::try_from(days.len().max(1)).unwrap_or(u32::MAX);
    let slot = plot_w / count;
    let bar = (slot * 7 / 10).max(1);
    let total: u64 = days
        .iter()
        .map(|d| d.success_count.saturating_add(d.failed_count))
        .sum();
    let label = format!(
        "Executions per day over the last {} days: {total} in all, at most {max} in one day",
        days.len()
    );
    let scale = |n: u64| -> u32 {
        let h = u128::from(n) * u128::from(plot_h) / u128::from(top);
        u32::try_from(h).unwrap_or(plot_h)
    };
    let base_y = TOP + plot_h;
    html! {
        svg data-test="stats-chart" class="chart" role="img" aria-label=(label)
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) preserveAspectRatio="xMidYMid meet"
            xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            @for line in 0..=lines {
                @let value = step.saturating_mul(line);
                @let y = base_y - scale(value);
                line class="grid" x1=(LEFT) x2=(WIDTH - 8) y1=(y) y2=(y) {}
                text class="axis" x=(LEFT - 6) y=(y + 4) text-anchor="end" { (value) }
            }
            @for (i, day) in days.iter().enumerate() {
                @let x = LEFT + u32::try_from(i).unwrap_or(0) * slot + (slot - bar) / 2;
                @let ok_h = scale(day.success_count);
                @let failed_h = scale(day.success_count.saturating_add(day.failed_count)) - ok_h;
                g {
                    title { (format!("{}: {} succeeded, {} failed", day.date, day.success_count, day.failed_count)) }
                    @if ok_h > 0 {
                        rect class="bar-ok" x=(x) y=(base_y - ok_h) width=(bar) height=(ok_h) {}
                    }
                    @if failed_h > 0 {
                        rect class="bar-failed" x=(x) y=(base_y - ok_h - failed_h) width=(bar) height=(failed_h) {}
                    }
                }
                // Weekly labels, counted back from the last day so it always has one.
                @if (days.len() - 1 - i).is_multiple_of(7) {
                    text class="axis" x=(x + bar / 2) y=(HEIGHT - 6) text-anchor="middle" {
                        (day.date.strftime("%b %-d").to_string())
                    }
                }
            }
        }
    }
}

/// The smallest of 1, 2, 5 × 10^k that is at least `n` (a readable axis maximum).
fn nice_ceiling(n: u64) -> u64 {
    let mut magnitude: u64 = 1;
    loop {
        for step in [1, 2, 5] {
            let candidate = magnitude.saturating_mul(step);
            if candidate >= n {
                return candidate;
            }
        }
        if magnitude > u64::MAX / 10 {
            return u64::MAX;
        }
        magnitude *= 10;
    }
}

#[cfg(test)]
mod tests {
    use dkron_api::DayStats;
    use jiff::civil::date;

    use super::{executions_per_day, nice_ceiling};

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(501), 1000);
        assert_eq!(nice_ceiling(u64::MAX), u64::MAX);
    }

    #[test]
    fn bars_stack_successes_and_failures() {
        let days = [
            DayStats {
                date: date(2026, 12, 1),
                success_count: 0,
                failed_count: 0,
            },
            DayStats {
                date: date(2026, 12, 2),
                success_count: 6,
                failed_count: 4,
            },
        ];
        let svg = executions_per_day(&days).into_string();
        assert!(svg.starts_with("<svg data-test=\"stats-chart\""), "{svg}");
        // One bar of each kind: the empty day draws none.
        assert_eq!(svg.matches("class=\"bar-ok\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("class=\"bar-failed\"").count(), 1, "{svg}");
        assert!(svg.contains("2026-12-02: 6 succeeded, 4 failed"), "{svg}");
        assert!(svg.contains("10 in all, at most 10 in one day"), "{svg}");
        // Steps of 5 up to 10 on a plot 186 px high: 6 successes are 111 px, 4 failures 75.
        assert!(svg.contains(">10</text>"), "{svg}");
        assert!(svg.contains(">5</text>"), "{svg}");
        assert!(!svg.contains(">15</text>"), "{svg}");
        assert!(svg.contains("height=\"111\""), "{svg}");
        assert!(svg.contains("height=\"75\""), "{svg}");
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let days = [DayStats {
            date: date(2026, 12, 1),
            success_count: u64::MAX,
            failed_count: u64::MAX,
        }];
        let svg = executions_per_day(&days).into_string();
        assert!(svg.contains("bar-ok"), "{svg}");
    }
}
