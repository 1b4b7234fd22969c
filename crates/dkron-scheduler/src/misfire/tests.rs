use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const AT: &str = "2026-01-01T00:00:00Z";
const FIVE: Duration = Duration::from_secs(5);

#[test]
fn a_fire_within_the_bound_runs_whatever_the_policy() {
    let policies = [
        MisfirePolicy::Skip,
        MisfirePolicy::RunOnce,
        MisfirePolicy::CatchUp {
            window: Duration::from_secs(10),
        },
    ];
    for policy in policies {
        for now in ["2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"] {
            assert_eq!(
                verdict(policy, FIVE, ts(AT), Some(ts(AT)), ts(now)),
                Verdict::Run,
                "{policy} at {now}"
            );
        }
    }
}

#[test]
fn skip_drops_a_fire_past_the_threshold() {
    let now = ts("2026-01-01T00:00:05.001Z");
    assert_eq!(
        verdict(MisfirePolicy::Skip, FIVE, ts(AT), None, now),
        Verdict::Skip
    );
}

#[test]
fn catch_up_uses_its_window_not_the_threshold() {
    let policy = MisfirePolicy::CatchUp {
        window: Duration::from_secs(60),
    };
    let next = Some(ts("2026-01-01T00:00:01Z"));
    assert_eq!(
        verdict(policy, FIVE, ts(AT), next, ts("2026-01-01T00:00:59Z")),
        Verdict::Run
    );
    assert_eq!(
        verdict(policy, FIVE, ts(AT), next, ts("2026-01-01T00:01:01Z")),
        Verdict::Skip
    );
}

#[test]
fn run_once_coalesces_late_fires_into_the_latest_due_one() {
    let policy = MisfirePolicy::RunOnce;
    let now = ts("2026-01-01T00:00:09Z");
    // A later fire (00:00:01) is already due: it stands for this one.
    assert_eq!(
        verdict(policy, FIVE, ts(AT), Some(ts("2026-01-01T00:00:01Z")), now),
        Verdict::Coalesce
    );
    // The last late fire (its successor is still ahead) runs, however late.
    assert_eq!(
        verdict(policy, FIVE, ts(AT), Some(ts("2026-01-01T00:00:10Z")), now),
        Verdict::Run
    );
    assert_eq!(verdict(policy, FIVE, ts(AT), None, now), Verdict::Run);
}

#[test]
fn a_clock_behind_the_fire_is_not_late() {
    let now = ts("2025-12-31T23:59:00Z");
    assert_eq!(
        verdict(MisfirePolicy::Skip, FIVE, ts(AT), None, now),
        Verdict::Run
    );
}

#[test]
fn the_tally_counts_per_job_and_empties_on_take() {
    let mut tally = Tally::default();
    tally.add("b".into(), ts("2026-01-01T00:00:02Z"));
    tally.add("a".into(), ts("2026-01-01T00:00:01Z"));
    tally.add("b".into(), ts("2026-01-01T00:00:01Z"));
    tally.add("gone".into(), ts("2026-01-01T00:00:01Z"));
    tally.forget("gone");
    let taken = tally.take();
    assert_eq!(
        taken,
        vec![
            Skipped {
                job: "a".into(),
                count: 1,
                last: ts("2026-01-01T00:00:01Z"),
            },
            Skipped {
                job: "b".into(),
                count: 2,
                last: ts("2026-01-01T00:00:02Z"),
            },
        ]
    );
    assert!(tally.take().is_empty());
}
