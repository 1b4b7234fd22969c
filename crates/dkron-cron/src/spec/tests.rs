//! Masks produced by the field parser, robfig's star rule, and day masks of special months.

use super::*;

fn spec(expr: &str) -> CronSpec {
    let fields: Vec<FieldText<'_>> = expr
        .split(' ')
        .scan(0, |offset, text| {
            let field = FieldText {
                text,
                position: *offset,
            };
            *offset += text.len() + 1;
            Some(field)
        })
        .collect();
    CronSpec::parse(&fields, None).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn bits(values: &[u32]) -> u64 {
    values.iter().fold(0, |acc, v| acc | 1 << v)
}

#[test]
fn robfig_range_table() {
    // From robfig's TestRange, seconds/minutes-like fields.
    assert_eq!(spec("5 * * * * *").seconds, bits(&[5]));
    assert_eq!(spec("5-7 * * * * *").seconds, bits(&[5, 6, 7]));
    assert_eq!(spec("5-7/1 * * * * *").seconds, bits(&[5, 6, 7]));
    assert_eq!(spec("5-20/5 * * * * *").seconds, bits(&[5, 10, 15, 20]));
    assert_eq!(spec("0/15 * * * * *").seconds, bits(&[0, 15, 30, 45]));
    assert_eq!(spec("*/20 * * * * *").seconds, bits(&[0, 20, 40]));
    assert_eq!(spec("50/20 * * * * *").seconds, bits(&[50]));
    assert_eq!(
        spec("1,3-4,*/30 * * * * *").seconds,
        bits(&[0, 1, 3, 4, 30])
    );
    assert_eq!(
        spec("0 0 0 * jan-mar,DEC *").months,
        bits(&[1, 2, 3, 12]) as u16
    );
    assert_eq!(spec("0 0 0 * * mon-FRI").dow, bits(&[1, 2, 3, 4, 5]) as u8);
    assert_eq!(spec("0 0 0 * * 5-7").dow, bits(&[0, 5, 6]) as u8);
    assert_eq!(spec("0 0 0 * * 7").dow, 1);
    assert_eq!(spec("0 0 0 * * 1/2").dow, bits(&[1, 3, 5]) as u8);
    // 5 fields: seconds are zero.
    let classic = spec("*/5 * * * *");
    assert_eq!(classic.seconds, 1);
    assert_eq!(
        classic.minutes,
        bits(&[0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55])
    );
}

#[test]
fn star_rule_follows_robfig() {
    // `*` and `?` set the star bit; a star with a step above 1 does not (robfig #70).
    for (expr, dom_star, dow_star) in [
        ("0 0 0 * * MON", true, false),
        ("0 0 0 ? * MON", true, false),
        ("0 0 0 */1 * MON", true, false),
        ("0 0 0 */2 * MON", false, false),
        ("0 0 0 1,* * MON", true, false),
        ("0 0 0 1 * *", false, true),
        ("0 0 0 1 * ?/1", false, true),
        ("0 0 0 1 * */2", false, false),
    ] {
        let s = spec(expr);
        assert_eq!((s.dom_star, s.dow_star), (dom_star, dow_star), "{expr}");
    }
}

#[test]
fn fixed_time_means_one_time_of_day() {
    assert!(spec("0 30 2 * * *").fixed_time);
    assert!(spec("0 30 2-2 * * *").fixed_time);
    assert!(spec("0 0 0 L * *").fixed_time);
    assert!(!spec("0 */30 * * * *").fixed_time);
    assert!(!spec("0 0 1,2 * * *").fixed_time);
    assert!(!spec("0 0 * * * *").fixed_time);
}

fn days(expr: &str, year: i32, month: u32) -> Vec<u32> {
    let mask = spec(expr).day_mask(year, month);
    (1..=31).filter(|d| mask & (1 << d) != 0).collect()
}

#[test]
fn day_masks() {
    // 2026-02 starts on a Sunday and has 28 days; 2024-02 starts on a Thursday, 29 days.
    assert_eq!(days("0 0 0 L * *", 2026, 2), [28]);
    assert_eq!(days("0 0 0 L * *", 2024, 2), [29]);
    assert_eq!(days("0 0 0 LW * *", 2026, 2), [27]);
    assert_eq!(days("0 0 0 LW * *", 2026, 5), [29]); // 31 May 2026 is a Sunday.
    assert_eq!(days("0 0 0 1W * *", 2026, 8), [3]); // 1 Aug 2026 is a Saturday.
    assert_eq!(days("0 0 0 15W * *", 2026, 2), [16]); // 15 Feb 2026 is a Sunday.
    assert_eq!(days("0 0 0 31W * *", 2026, 5), [29]); // Sunday the 31st moves back.
    assert_eq!(days("0 0 0 30W * *", 2026, 2), Vec::<u32>::new());
    assert_eq!(days("0 0 0 ? * 5#2", 2026, 2), [13]);
    assert_eq!(days("0 0 0 ? * 0#5", 2026, 3), [29]);
    assert_eq!(days("0 0 0 ? * 1#5", 2026, 2), Vec::<u32>::new());
    assert_eq!(days("0 0 0 ? * 5L", 2026, 2), [27]);
    assert_eq!(days("0 0 0 ? * FRI#L", 2026, 2), [27]);
    assert_eq!(days("0 0 0 ? * 0L", 2026, 5), [31]);
    assert_eq!(days("0 0 0 * * MON", 2026, 2), [2, 9, 16, 23]);
    // Both restricted: either matches (Friday the 13th *or* any Friday).
    assert_eq!(days("0 0 0 13 * 5", 2026, 2), [6, 13, 20, 27]);
    assert_eq!(days("0 0 0 */10 * 1", 2026, 2), [1, 2, 9, 11, 16, 21, 23]);
    // Starred day of month: both must match.
    assert_eq!(
        days("0 0 0 * * 0,6", 2026, 2),
        [1, 7, 8, 14, 15, 21, 22, 28]
    );
    assert_eq!(days("0 0 0 29 2 *", 2026, 2), Vec::<u32>::new());
    assert_eq!(days("0 0 0 29 2 *", 2028, 2), [29]);
}

#[test]
fn hash_moduli_follow_dkron() {
    // "test_job" sums to 858 (dkron's Test_scheduleHash).
    assert_eq!(hash_for_field(858, Field::Hour), 18);
    assert_eq!(hash_for_field(858, Field::Month), 7);
    assert_eq!(hash_for_field(858, Field::Second), 18);
    assert_eq!(hash_for_field(858, Field::DayOfMonth), 19);
    assert_eq!(hash_for_field(858, Field::DayOfWeek), 4);
}
