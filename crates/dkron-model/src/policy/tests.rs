use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::{Error, Job, JobStatus, MAX_JITTER, RunOn, jitter_delay};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn jitter_is_stable_per_fire_and_within_its_bound() {
    let at = ts("2026-01-28T02:30:00Z");
    let bound = Duration::from_secs(30);
    let first = jitter_delay("backup", at, bound);
    assert_eq!(
        first,
        jitter_delay("backup", at, bound),
        "same fire, same delay"
    );
    assert!(first <= bound);
    // Pinned: the delay must not change between versions or compilers (servers of mixed versions
    // would fire at different moments, and `/next` would lie).
    assert_eq!(first, Duration::from_millis(PINNED_BACKUP_MS));
    let mut seen = std::collections::BTreeSet::new();
    for minute in 0..2000 {
        let fire = at.checked_add(SignedDuration::from_mins(minute)).unwrap();
        let delay = jitter_delay("backup", fire, bound);
        assert!(delay <= bound, "{delay:?} above {bound:?}");
        assert_eq!(delay.subsec_nanos() % 1_000_000, 0, "whole milliseconds");
        seen.insert(delay.as_secs());
    }
    // 2000 fires spread over the range (whole seconds 0..30; 30 s itself is one millisecond
    // of 30 001), not one value.
    assert_eq!(seen.len(), 30, "seconds seen: {seen:?}");
}

/// The delay of `backup`'s fire at 2026-01-28T02:30:00Z with a 30 s bound.
const PINNED_BACKUP_MS: u64 = 19_995;

#[test]
fn jitter_differs_by_job_and_is_zero_without_a_bound() {
    let at = ts("2026-01-28T02:30:00Z");
    let bound = Duration::from_secs(3600);
    let delays: std::collections::BTreeSet<_> = (0..50)
        .map(|i| jitter_delay(&format!("job-{i}"), at, bound))
        .collect();
    assert!(
        delays.len() > 45,
        "50 jobs at one instant spread out: {delays:?}"
    );
    assert_eq!(jitter_delay("backup", at, Duration::ZERO), Duration::ZERO);
    assert_eq!(
        jitter_delay("backup", at, Duration::from_micros(900)),
        Duration::ZERO,
        "below a millisecond there is nothing to spread"
    );
}

#[test]
fn jittered_adds_the_delay_and_keeps_unjittered_jobs_on_time() {
    let at = ts("2026-01-28T02:30:00Z");
    let mut job = Job::new("backup");
    assert_eq!(job.jittered(at), at);
    job.jitter = Duration::from_secs(30);
    let due = job.jittered(at);
    assert_eq!(
        due.duration_since(at),
        SignedDuration::from_millis(PINNED_BACKUP_MS as i64)
    );
}

#[test]
fn pause_on_failure_disables_after_n_consecutive_failed_groups() {
    let mut job = Job::new("flaky");
    job.pause_on_failure = 3;
    assert!(!job.record_group_end(JobStatus::Failed));
    assert!(!job.record_group_end(JobStatus::PartiallyFailed));
    assert!(
        !job.record_group_end(JobStatus::Success),
        "a success resets"
    );
    assert_eq!(job.consecutive_failures, 0);
    assert!(!job.record_group_end(JobStatus::Failed));
    assert!(!job.record_group_end(JobStatus::Failed));
    assert!(!job.disabled);
    assert!(job.record_group_end(JobStatus::Failed));
    assert!(job.disabled);
    assert_eq!(job.consecutive_failures, 3);
    assert_eq!(
        job.paused_reason,
        "paused after 3 consecutive failed runs (pause_on_failure: 3)"
    );
    // Already paused: counting goes on, the reason stays the first one.
    assert!(!job.record_group_end(JobStatus::Failed));
    assert_eq!(job.consecutive_failures, 4);
    assert!(job.paused_reason.contains("after 3"));
}

#[test]
fn without_pause_on_failure_failures_are_only_counted() {
    let mut job = Job::new("flaky");
    for _ in 0..10 {
        assert!(!job.record_group_end(JobStatus::Failed));
    }
    assert!(!job.disabled);
    assert_eq!(job.consecutive_failures, 10);
    assert!(job.paused_reason.is_empty());
    assert!(!job.record_group_end(JobStatus::Untriggered));
    assert_eq!(job.consecutive_failures, 10);
}

#[test]
fn enabling_a_paused_job_clears_its_reason_and_count() {
    let mut stored = Job::new("flaky");
    stored.pause_on_failure = 1;
    assert!(stored.record_group_end(JobStatus::Failed));
    // A client re-sends the job still disabled: the reason stays.
    let mut update = Job::new("flaky");
    update.disabled = true;
    update.merge_server_fields(&stored);
    assert_eq!(update.paused_reason, stored.paused_reason);
    assert_eq!(update.consecutive_failures, 1);
    // Enabled: counting starts again.
    let mut update = Job::new("flaky");
    update.paused_reason = "sent by a client".into();
    update.consecutive_failures = 7;
    update.merge_server_fields(&stored);
    assert!(update.paused_reason.is_empty());
    assert_eq!(update.consecutive_failures, 0);
    // An edit of an enabled job keeps its failure streak (the client's values are ignored).
    let mut running = Job::new("flaky");
    running.consecutive_failures = 2;
    let mut edit = Job::new("flaky");
    edit.consecutive_failures = 9;
    edit.merge_server_fields(&running);
    assert_eq!(edit.consecutive_failures, 2);
}

#[test]
fn run_on_decides_which_parent_outcome_runs_a_child() {
    use JobStatus::*;
    let cases = [
        (RunOn::Success, [true, false, false, false]),
        (RunOn::Failure, [false, true, true, false]),
        (RunOn::Always, [true, true, true, false]),
    ];
    for (run_on, expected) in cases {
        let got = [Success, Failed, PartiallyFailed, Untriggered].map(|s| run_on.matches(s));
        assert_eq!(got, expected, "{run_on}");
    }
    for text in ["success", "failure", "always"] {
        assert_eq!(text.parse::<RunOn>().unwrap().as_str(), text);
    }
    assert_eq!("".parse::<RunOn>().unwrap(), RunOn::Success);
    let error = "sometimes".parse::<RunOn>().unwrap_err();
    assert_eq!(error.field(), Some("run_on"));
}

#[test]
fn validation_bounds_jitter_and_run_on() {
    let mut job = Job::new("j");
    job.schedule = "@every 1m".into();
    job.jitter = MAX_JITTER;
    job.validate().unwrap();
    job.jitter = MAX_JITTER + Duration::from_millis(1);
    let error = job.validate().unwrap_err();
    assert!(matches!(error, Error::InvalidJitter { .. }));
    assert_eq!(error.field(), Some("jitter"));
    job.jitter = Duration::ZERO;
    job.run_on = RunOn::Failure;
    let error = job.validate().unwrap_err();
    assert_eq!(error.to_string(), "run_on failure needs a parent_job");
    assert_eq!(error.field(), Some("run_on"));
    job.parent_job = Some("parent".into());
    job.validate().unwrap();
}

#[test]
fn a_job_stored_before_these_fields_decodes_with_defaults() {
    let old = r#"{"name":"old","schedule":"@every 1m","retries":2,"concurrency":"Forbid"}"#;
    let job: Job = serde_json::from_str(old).unwrap();
    assert_eq!(job.jitter, Duration::ZERO);
    assert_eq!(job.pause_on_failure, 0);
    assert_eq!(job.consecutive_failures, 0);
    assert!(job.paused_reason.is_empty());
    assert_eq!(job.run_on, RunOn::Success);
    assert_eq!(job.retries, 2);
}

#[test]
fn toggling_a_paused_job_on_clears_the_pause() {
    let mut job = Job::new("flaky");
    job.pause_on_failure = 1;
    assert!(job.record_group_end(JobStatus::Failed));
    job.toggle_disabled();
    assert!(!job.disabled);
    assert!(job.paused_reason.is_empty());
    assert_eq!(job.consecutive_failures, 0);
    job.toggle_disabled();
    assert!(job.disabled);
}

#[test]
fn a_backfill_range_lists_the_schedule_instants_inclusive_and_bounded() {
    let mut job = Job::new("hourly");
    job.schedule = "0 0 * * * *".into();
    let from = ts("2026-01-01T00:00:00Z");
    let to = ts("2026-01-01T03:00:00Z");
    let fires = job.fires_in(from, to, 10);
    assert_eq!(
        fires,
        [
            ts("2026-01-01T00:00:00Z"),
            ts("2026-01-01T01:00:00Z"),
            ts("2026-01-01T02:00:00Z"),
            ts("2026-01-01T03:00:00Z")
        ],
        "both ends inclusive"
    );
    // One more than the bound tells the caller the range is too large.
    assert_eq!(job.fires_in(from, to, 2).len(), 3);
    job.parent_job = Some("parent".into());
    assert!(
        job.fires_in(from, to, 10).is_empty(),
        "a child has no schedule"
    );
}

#[test]
fn backfill_overlap_texts() {
    use crate::BackfillOverlap;
    for text in ["allow", "skip", "buffer_all"] {
        assert_eq!(text.parse::<BackfillOverlap>().unwrap().as_str(), text);
    }
    assert_eq!(
        "".parse::<BackfillOverlap>().unwrap(),
        BackfillOverlap::Allow
    );
    assert!("buffer_one".parse::<BackfillOverlap>().is_err());
}
