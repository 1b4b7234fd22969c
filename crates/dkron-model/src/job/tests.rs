//! Tests for jobs, schedules and policies.

use std::time::Duration;

use jiff::{Timestamp, tz::TimeZone};

use super::*;

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

/// `Job::new` carries dkron's defaults.
#[test]
fn defaults() {
    let job = Job::new("j");
    assert_eq!(job.name, "j");
    assert_eq!(job.concurrency, Concurrency::Allow);
    assert_eq!(job.status, JobStatus::Untriggered);
    assert_eq!(job.misfire_policy, MisfirePolicy::Skip);
    assert_eq!(job.retries, 0);
    assert!(!job.disabled && !job.ephemeral && !job.is_child());
    assert_eq!(job.effective_history_limit(&Limits::DKRON), 100);
    assert_eq!(job.effective_output_limit(&Limits::DKRON), 256_000);
    let job = Job {
        history_limit: Some(5),
        output_limit: Some(10),
        ..job
    };
    assert_eq!(job.effective_history_limit(&Limits::DKRON), 5);
    assert_eq!(job.effective_output_limit(&Limits::DKRON), 10);
}

/// Text forms of the enums round-trip and reject unknown values with dkron's message.
#[test]
fn enum_text() {
    for c in [
        Concurrency::Allow,
        Concurrency::Forbid,
        Concurrency::Replace,
        Concurrency::BufferOne,
        Concurrency::BufferAll,
    ] {
        assert_eq!(c.to_string().parse::<Concurrency>(), Ok(c));
    }
    assert_eq!("".parse::<Concurrency>(), Ok(Concurrency::Allow));
    let err = "sometimes".parse::<Concurrency>().expect_err("bad policy");
    assert_eq!(
        err.to_string(),
        r#"invalid concurrency policy value, use "allow", "forbid", "replace", "buffer_one" or "buffer_all""#
    );
    assert_eq!(
        err,
        Error::InvalidConcurrency {
            value: "sometimes".to_owned()
        }
    );
    assert!("Allow".parse::<Concurrency>().is_err());

    for s in [
        JobStatus::Untriggered,
        JobStatus::Success,
        JobStatus::Failed,
        JobStatus::PartiallyFailed,
    ] {
        assert_eq!(s.as_str().parse::<JobStatus>(), Ok(s));
    }
    assert_eq!(JobStatus::Untriggered.as_str(), "");
    assert_eq!(JobStatus::PartiallyFailed.as_str(), "partially_failed");
    assert!("running".parse::<JobStatus>().is_err());
}

/// Misfire policy text: names, default window, explicit windows, rejects.
#[test]
fn misfire_policy_text() {
    let check = |text: &str, want: MisfirePolicy| {
        assert_eq!(text.parse::<MisfirePolicy>(), Ok(want), "{text:?}");
    };
    check("", MisfirePolicy::Skip);
    check("skip", MisfirePolicy::Skip);
    check("run_once", MisfirePolicy::RunOnce);
    check(
        "catch_up",
        MisfirePolicy::CatchUp {
            window: DEFAULT_CATCH_UP_WINDOW,
        },
    );
    check(
        "catch_up:30m",
        MisfirePolicy::CatchUp {
            window: Duration::from_secs(1800),
        },
    );
    check(
        "catch_up:1h30m",
        MisfirePolicy::CatchUp {
            window: Duration::from_secs(5400),
        },
    );
    check(
        "catch_up:1500ms",
        MisfirePolicy::CatchUp {
            window: Duration::from_millis(1500),
        },
    );
    for bad in [
        "Skip",
        "catch_up:",
        "catch_up:0s",
        "catch_up:-1h",
        "catch_up:soon",
        "run_twice",
    ] {
        let err = bad.parse::<MisfirePolicy>().expect_err(bad);
        assert_eq!(
            err,
            Error::InvalidMisfirePolicy {
                value: bad.to_owned()
            }
        );
    }
    // Display reads back as the same policy.
    for p in [
        MisfirePolicy::Skip,
        MisfirePolicy::RunOnce,
        MisfirePolicy::CatchUp {
            window: Duration::from_secs(7200),
        },
        MisfirePolicy::CatchUp {
            window: Duration::from_millis(2500),
        },
        MisfirePolicy::CatchUp {
            window: Duration::from_nanos(1_000_000_007),
        },
    ] {
        assert_eq!(p.to_string().parse::<MisfirePolicy>(), Ok(p), "{p}");
    }
    assert_eq!(
        MisfirePolicy::CatchUp {
            window: Duration::from_secs(60)
        }
        .to_string(),
        "catch_up:60s"
    );
}

/// Retry delays double from `initial` and stop at `max`; extreme inputs stay bounded.
#[test]
fn retry_backoff_schedule() {
    let b = RetryBackoff::default();
    let secs: Vec<u64> = (1..=9).map(|a| b.delay(a).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(b.delay(0), Duration::from_secs(1));
    assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));

    let b = RetryBackoff {
        initial: Duration::from_millis(300),
        max: Duration::from_secs(1),
    };
    let ms: Vec<u128> = (1..=4).map(|a| b.delay(a).as_millis()).collect();
    assert_eq!(ms, [300, 600, 1000, 1000]);

    let zero = RetryBackoff {
        initial: Duration::ZERO,
        max: Duration::from_secs(5),
    };
    assert_eq!(zero.delay(u32::MAX), Duration::ZERO);
    let huge = RetryBackoff {
        initial: Duration::MAX,
        max: Duration::MAX,
    };
    assert_eq!(huge.delay(u32::MAX), Duration::MAX);
}

/// Dependents stay sorted and unique.
#[test]
fn dependents() {
    let mut job = Job::new("p");
    for child in ["c", "a", "b", "a"] {
        job.add_dependent(child);
    }
    assert_eq!(job.dependent_jobs, ["a", "b", "c"]);
    assert!(job.remove_dependent("b"));
    assert!(!job.remove_dependent("b"));
    assert_eq!(job.dependent_jobs, ["a", "c"]);
}

/// `starts_at..=expires_at` is inclusive on both ends.
#[test]
fn active_window() {
    let mut job = Job::new("w");
    assert!(job.active_at(ts("2020-01-01T00:00:00Z")));
    job.starts_at = Some(ts("2024-01-01T00:00:00Z"));
    job.expires_at = Some(ts("2024-12-31T00:00:00Z"));
    assert!(!job.active_at(ts("2023-12-31T23:59:59Z")));
    assert!(job.active_at(ts("2024-01-01T00:00:00Z")));
    assert!(job.active_at(ts("2024-12-31T00:00:00Z")));
    assert!(!job.active_at(ts("2024-12-31T00:00:01Z")));
}

/// Empty and `UTC` zones are UTC; IANA names resolve; unknown names fail with dkron's text.
#[test]
fn time_zones() {
    assert_eq!(Job::new("z").time_zone(), Ok(TimeZone::UTC));
    let job = Job {
        timezone: "America/Mexico_City".to_owned(),
        ..Job::new("z")
    };
    assert_eq!(
        job.time_zone().map(|tz| tz.iana_name().map(str::to_owned)),
        Ok(Some("America/Mexico_City".to_owned()))
    );
    let job = Job {
        timezone: "Nowhere/Land".to_owned(),
        ..Job::new("z")
    };
    assert_eq!(
        job.time_zone().map(|_| ()),
        Err(Error::UnknownTimeZone {
            name: "Nowhere/Land".to_owned()
        })
    );
}

/// Next fire: schedule, zone, `~` from the name, and the active window. Children never fire.
#[test]
fn next_fire() {
    let mut job = Job {
        schedule: "0 30 9 * * *".to_owned(),
        ..Job::new("daily")
    };
    assert_eq!(
        job.next_fire_after(ts("2024-03-01T10:00:00Z")),
        Some(ts("2024-03-02T09:30:00Z"))
    );

    job.timezone = "Europe/Madrid".to_owned(); // UTC+1 in March before DST
    assert_eq!(
        job.next_fire_after(ts("2024-03-01T10:00:00Z")),
        Some(ts("2024-03-02T08:30:00Z"))
    );
    job.timezone.clear();

    // Not before `starts_at`, and exactly at it is allowed.
    job.starts_at = Some(ts("2024-06-01T09:30:00Z"));
    assert_eq!(
        job.next_fire_after(ts("2024-03-01T10:00:00Z")),
        Some(ts("2024-06-01T09:30:00Z"))
    );
    // Not after `expires_at`.
    job.expires_at = Some(ts("2024-06-03T09:29:59Z"));
    assert_eq!(
        job.next_fire_after(ts("2024-06-01T09:30:00Z")),
        Some(ts("2024-06-02T09:30:00Z"))
    );
    assert_eq!(job.next_fire_after(ts("2024-06-02T09:30:00Z")), None);

    // dkron's `~` example: `test_job` hashes to hour 18.
    let hashed = Job {
        schedule: "0 0 ~ * * *".to_owned(),
        ..Job::new("test_job")
    };
    assert_eq!(
        hashed.next_fire_after(ts("2024-01-01T00:00:00Z")),
        Some(ts("2024-01-01T18:00:00Z"))
    );

    let child = Job {
        parent_job: Some("daily".to_owned()),
        ..hashed.clone()
    };
    assert_eq!(child.job_schedule().map(|s| s.is_none()), Ok(true));
    assert_eq!(child.next_fire_after(ts("2024-01-01T00:00:00Z")), None);

    let broken = Job {
        schedule: "bogus".to_owned(),
        ..Job::new("b")
    };
    assert_eq!(broken.next_fire_after(ts("2024-01-01T00:00:00Z")), None);
}

/// Missed fires per policy: skip none, run one (the first missed), or catch up within the window.
#[test]
fn misfires() {
    let job = Job {
        schedule: "0 */10 * * * *".to_owned(),
        ..Job::new("m")
    };
    let schedule = job.job_schedule().expect("valid").expect("not a child");
    let last = ts("2024-01-01T00:00:00Z");
    let now = ts("2024-01-01T01:05:00Z"); // missed 00:10 .. 01:00 (6 fires)

    assert_eq!(schedule.fires_between(last, now, 100).len(), 6);
    assert_eq!(
        schedule.fires_between(last, now, 2),
        [ts("2024-01-01T00:10:00Z"), ts("2024-01-01T00:20:00Z")]
    );

    assert!(
        MisfirePolicy::Skip
            .fires_to_run(&schedule, last, now, 100)
            .is_empty()
    );
    assert_eq!(
        MisfirePolicy::RunOnce.fires_to_run(&schedule, last, now, 100),
        [ts("2024-01-01T00:10:00Z")]
    );
    assert!(
        MisfirePolicy::RunOnce
            .fires_to_run(&schedule, last, ts("2024-01-01T00:09:59Z"), 100)
            .is_empty()
    );

    // A 25-minute window reaches back to 00:40; a fire exactly at the horizon counts.
    let catch_up = MisfirePolicy::CatchUp {
        window: Duration::from_secs(25 * 60),
    };
    assert_eq!(
        catch_up.fires_to_run(&schedule, last, now, 100),
        [
            ts("2024-01-01T00:40:00Z"),
            ts("2024-01-01T00:50:00Z"),
            ts("2024-01-01T01:00:00Z")
        ]
    );
    let exact = MisfirePolicy::CatchUp {
        window: Duration::from_secs(35 * 60),
    };
    assert_eq!(
        exact.fires_to_run(&schedule, last, now, 100).first(),
        Some(&ts("2024-01-01T00:30:00Z"))
    );
    // The window never reaches behind `last`.
    let wide = MisfirePolicy::CatchUp {
        window: Duration::from_secs(86_400),
    };
    assert_eq!(wide.fires_to_run(&schedule, last, now, 100).len(), 6);
    assert_eq!(wide.fires_to_run(&schedule, last, now, 4).len(), 4);
    let huge = MisfirePolicy::CatchUp {
        window: Duration::MAX,
    };
    assert_eq!(huge.fires_to_run(&schedule, last, now, 100).len(), 6);
}

fn finished(success: bool, at: &str) -> crate::Execution {
    crate::Execution {
        success,
        finished_at: Some(ts(at)),
        ..crate::Execution::default()
    }
}

/// Finished executions move counters and last times; running ones do not; times never go back.
#[test]
fn record_finished() {
    let mut job = Job::new("r");
    job.record_finished(&finished(true, "2024-01-01T00:00:10Z"));
    job.record_finished(&finished(false, "2024-01-01T00:00:20Z"));
    job.record_finished(&finished(true, "2024-01-01T00:00:05Z")); // reported late
    job.record_finished(&crate::Execution {
        success: true,
        ..crate::Execution::default()
    });
    assert_eq!((job.success_count, job.error_count), (2, 1));
    assert_eq!(job.last_success, Some(ts("2024-01-01T00:00:10Z")));
    assert_eq!(job.last_error, Some(ts("2024-01-01T00:00:20Z")));
}

/// A replacement keeps the larger counters, the stored status and children, and the later
/// `next` only while the schedule is unchanged.
#[test]
fn merge_server_fields() {
    let mut stored = Job {
        schedule: "@hourly".to_owned(),
        ..Job::new("m")
    };
    stored.success_count = 10;
    stored.error_count = 1;
    stored.last_success = Some(ts("2024-05-01T00:00:00Z"));
    stored.status = JobStatus::Success;
    stored.dependent_jobs = vec!["child".to_owned()];
    stored.next = Some(ts("2024-05-01T01:00:00Z"));

    let mut submitted = Job {
        schedule: "@hourly".to_owned(),
        ..Job::new("m")
    };
    submitted.error_count = 3;
    submitted.next = Some(ts("2024-04-01T00:00:00Z"));
    submitted.merge_server_fields(&stored);
    assert_eq!((submitted.success_count, submitted.error_count), (10, 3));
    assert_eq!(submitted.last_success, stored.last_success);
    assert_eq!(submitted.status, JobStatus::Success);
    assert_eq!(submitted.dependent_jobs, ["child"]);
    assert_eq!(submitted.next, stored.next);

    let mut rescheduled = Job {
        schedule: "@daily".to_owned(),
        ..Job::new("m")
    };
    rescheduled.next = Some(ts("2024-04-02T00:00:00Z"));
    rescheduled.merge_server_fields(&stored);
    assert_eq!(rescheduled.next, Some(ts("2024-04-02T00:00:00Z")));
}

/// The persisted encoding tolerates missing fields (so fields can be added) and round-trips.
#[test]
fn serde_compat() {
    let empty: Job = serde_json::from_str("{}").expect("empty object");
    assert_eq!(empty, Job::default());
    let old: Job =
        serde_json::from_str(r#"{"name":"old","retry_backoff":{"max":{"secs":5,"nanos":0}}}"#)
            .expect("partial object");
    assert_eq!(old.name, "old");
    assert_eq!(old.retry_backoff.initial, RetryBackoff::default().initial);
    assert_eq!(old.retry_backoff.max, Duration::from_secs(5));

    let mut job = Job {
        schedule: "@daily".to_owned(),
        ..Job::new("full")
    };
    job.misfire_policy = MisfirePolicy::CatchUp {
        window: Duration::from_secs(90),
    };
    job.concurrency = Concurrency::Replace;
    job.next = Some(ts("2024-01-01T00:00:00.5Z"));
    job.tags.insert("role".to_owned(), "web:2".to_owned());
    job.processors.insert(
        "log".to_owned(),
        [("forward".to_owned(), "true".to_owned())].into(),
    );
    let text = serde_json::to_string(&job).expect("serialize");
    assert_eq!(
        serde_json::from_str::<Job>(&text).expect("deserialize"),
        job
    );

    let exec = crate::Execution {
        job_name: "full".to_owned(),
        finished_at: Some(ts("2024-01-01T00:00:01Z")),
        exit_code: Some(3),
        trigger: crate::Trigger::Retry,
        ..crate::Execution::default()
    };
    let text = serde_json::to_string(&exec).expect("serialize");
    assert_eq!(
        serde_json::from_str::<crate::Execution>(&text).expect("deserialize"),
        exec
    );
}
