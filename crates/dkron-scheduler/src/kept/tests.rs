use std::collections::BTreeMap;

use dkron_model::{Channel, RetryBackoff};

use super::{
    codec::Reader,
    pack::{encode, try_decode},
    *,
};

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Every field set to something other than its default. Written without `..`, so a field added
/// to `Job` fails to compile here until this test covers it.
fn every_field_set() -> Job {
    Job {
        name: "rich".into(),
        display_name: "Rich job ✓".into(),
        timezone: "Europe/Berlin".into(),
        schedule: "0 30 * * * *".into(),
        owner: "ops".into(),
        owner_email: "ops@example.invalid".into(),
        success_count: 12_345_678_901,
        error_count: 7,
        last_success: Some(at("2026-03-01T12:00:00.123456789Z")),
        last_error: Some(at("1969-07-20T20:17:40.5Z")),
        disabled: true,
        tags: map(&[("role", "web:2"), ("zone", "eu")]),
        metadata: map(&[("team", "ünïcode ✓"), ("empty", ""), ("", "empty key")]),
        retries: 3,
        dependent_jobs: vec!["child-a".into(), "child-b".into()],
        parent_job: Some("parent".into()),
        processors: BTreeMap::from([
            ("files".to_owned(), map(&[("log_dir", "/tmp")])),
            ("log".to_owned(), BTreeMap::new()),
        ]),
        concurrency: Concurrency::BufferAll,
        executor: "http".into(),
        executor_config: map(&[("url", "http://127.0.0.1:1/x"), ("method", "POST")]),
        status: JobStatus::PartiallyFailed,
        next: Some(at("2026-03-02T00:00:00Z")),
        ephemeral: true,
        starts_at: Some(at("2026-01-01T00:00:00Z")),
        expires_at: Some(at("2027-01-01T00:00:00Z")),
        misfire_policy: MisfirePolicy::CatchUp {
            window: Duration::from_millis(90_500),
        },
        retry_backoff: RetryBackoff {
            initial: Duration::new(2, 5),
            max: Duration::from_secs(u64::from(u32::MAX) + 1),
        },
        history_limit: Some(u32::MAX),
        output_limit: Some(u64::MAX),
        notify: Some(NotifyPolicy {
            channels: Some(vec![Channel::Webhook]),
            on_success: false,
            on_failure: true,
            on_recovery: false,
        }),
        jitter: Duration::from_millis(1500),
        pause_on_failure: 4,
        consecutive_failures: 2,
        paused_reason: "failed 3 times".into(),
        run_on: RunOn::Always,
        skipped_count: 128,
        last_skipped: Some(at("2026-02-28T23:59:59Z")),
        parent_jobs: vec!["other-parent".into()],
        parent_ends: BTreeMap::from([
            ("parent".to_owned(), JobStatus::Success),
            ("other-parent".to_owned(), JobStatus::Failed),
        ]),
    }
}

#[test]
fn a_job_with_every_field_set_survives_keep_then_full() {
    let job = every_field_set();
    assert_ne!(job, Job::new("rich"));
    let kept = KeptJob::new(job.clone());
    assert!(kept.is_packed());
    assert_eq!(*kept.full(), job);
    // Twice: rebuilding leaves the kept form as it was.
    assert_eq!(*kept.full(), job);
    // And through keeping it whole.
    let mut whole = kept.clone();
    whole.keep_whole();
    assert!(!whole.is_packed());
    assert_eq!(*whole.full(), job);
}

#[test]
fn each_field_alone_round_trips() {
    let full = every_field_set();
    // One job per field: the default job with only that field taken from `full`, so no field
    // can hide behind another one's value.
    let fill: Vec<fn(&mut Job, &Job)> = vec![
        |j, f| j.display_name.clone_from(&f.display_name),
        |j, f| j.timezone.clone_from(&f.timezone),
        |j, f| j.schedule.clone_from(&f.schedule),
        |j, f| j.owner.clone_from(&f.owner),
        |j, f| j.owner_email.clone_from(&f.owner_email),
        |j, f| j.success_count = f.success_count,
        |j, f| j.error_count = f.error_count,
        |j, f| j.last_success = f.last_success,
        |j, f| j.last_error = f.last_error,
        |j, f| j.disabled = f.disabled,
        |j, f| j.tags.clone_from(&f.tags),
        |j, f| j.metadata.clone_from(&f.metadata),
        |j, f| j.retries = f.retries,
        |j, f| j.dependent_jobs.clone_from(&f.dependent_jobs),
        |j, f| j.parent_job.clone_from(&f.parent_job),
        |j, _| j.parent_job = Some(String::new()),
        |j, f| j.processors.clone_from(&f.processors),
        |j, f| j.concurrency = f.concurrency,
        |j, f| j.executor.clone_from(&f.executor),
        |j, f| j.executor_config.clone_from(&f.executor_config),
        |j, f| j.status = f.status,
        |j, f| j.next = f.next,
        |j, f| j.ephemeral = f.ephemeral,
        |j, f| j.starts_at = f.starts_at,
        |j, f| j.expires_at = f.expires_at,
        |j, f| j.misfire_policy = f.misfire_policy,
        |j, f| j.retry_backoff = f.retry_backoff,
        |j, f| j.history_limit = f.history_limit,
        |j, f| j.output_limit = f.output_limit,
        |j, f| j.notify.clone_from(&f.notify),
        |j, f| j.jitter = f.jitter,
        |j, f| j.pause_on_failure = f.pause_on_failure,
        |j, f| j.consecutive_failures = f.consecutive_failures,
        |j, f| j.paused_reason.clone_from(&f.paused_reason),
        |j, f| j.run_on = f.run_on,
        |j, f| j.skipped_count = f.skipped_count,
        |j, f| j.last_skipped = f.last_skipped,
        |j, f| j.parent_jobs.clone_from(&f.parent_jobs),
        |j, f| j.parent_ends.clone_from(&f.parent_ends),
    ];
    for (i, fill) in fill.into_iter().enumerate() {
        let mut job = Job::new("one");
        fill(&mut job, &full);
        assert_eq!(*KeptJob::new(job.clone()).full(), job, "field {i}");
    }
    // And the plain job, every field at its default.
    assert_eq!(*KeptJob::new(Job::default()).full(), Job::default());
}

#[test]
fn extreme_values_round_trip() {
    for seconds in [i64::MIN / 4, -1, 0, 1, 253_402_207_199] {
        for nanos in [0, 1, 999_999_999] {
            let Ok(time) = Timestamp::new(seconds, if seconds < 0 { -nanos } else { nanos }) else {
                continue;
            };
            let mut job = Job::new("t");
            job.last_success = Some(time);
            job.starts_at = Some(time);
            job.next = Some(time);
            job.success_count = u64::MAX;
            job.jitter = Duration::new(u64::MAX, 999_999_999);
            job.retry_backoff.initial = Duration::new(u64::MAX, 999_999_999);
            job.history_limit = Some(0);
            job.output_limit = Some(0);
            assert_eq!(*KeptJob::new(job.clone()).full(), job, "{time}");
        }
    }
    for time in [Timestamp::MIN, Timestamp::MAX] {
        let mut job = Job::new("t");
        job.last_error = Some(time);
        job.expires_at = Some(time);
        job.starts_at = Some(time);
        assert_eq!(*KeptJob::new(job.clone()).full(), job);
    }
}

#[test]
fn the_loop_reads_the_same_from_a_packed_job_as_from_the_whole_job() {
    let mut jobs = vec![every_field_set(), Job::new("plain")];
    let mut child = Job::new("child");
    child.parent_job = Some("p".into());
    child.run_on = RunOn::Failure;
    jobs.push(child);
    let mut windowed = Job::new("windowed");
    windowed.starts_at = Some(at("2026-01-01T00:00:00Z"));
    windowed.jitter = Duration::from_secs(30);
    jobs.push(windowed);
    let instants = [
        at("2025-12-31T23:59:59Z"),
        at("2026-01-01T00:00:00Z"),
        at("2026-06-01T12:34:56.789Z"),
        at("2027-01-01T00:00:00Z"),
        at("2027-01-01T00:00:00.000000001Z"),
    ];
    for job in jobs {
        let kept = KeptJob::new(job.clone());
        let mut whole = kept.clone();
        whole.keep_whole();
        for form in [&kept, &whole] {
            assert_eq!(form.name(), job.name);
            assert_eq!(form.disabled(), job.disabled);
            assert_eq!(form.ephemeral(), job.ephemeral);
            assert_eq!(form.concurrency(), job.concurrency);
            assert_eq!(form.misfire_policy(), job.misfire_policy);
            assert_eq!(form.retries(), job.retries);
            assert_eq!(form.jitter(), job.jitter);
            assert_eq!(form.starts_at(), job.starts_at);
            assert_eq!(form.expires_at(), job.expires_at);
            assert_eq!(form.next(), job.next);
            assert_eq!(form.has_dependents(), !job.dependent_jobs.is_empty());
            assert_eq!(form.is_child(), job.is_child());
            assert_eq!(form.waits_for_parents(), job.waits_for_parents());
            for status in [
                JobStatus::Untriggered,
                JobStatus::Success,
                JobStatus::Failed,
                JobStatus::PartiallyFailed,
            ] {
                assert_eq!(form.runs_after(status), job.runs_after(status));
            }
            for now in instants {
                assert_eq!(form.active_at(now), job.active_at(now), "{now}");
                assert_eq!(form.jittered(now), job.jittered(now), "{now}");
            }
        }
    }
}

#[test]
fn same_timing_compares_schedule_zone_window_parents_and_jitter_only() {
    let base = every_field_set();
    let kept = KeptJob::new(base.clone());
    let mut whole = kept.clone();
    whole.keep_whole();
    // Other fields changed: same timing, packed or whole on either side.
    let mut other = base.clone();
    other.display_name = "renamed".into();
    other.retries = 0;
    other.tags.clear();
    other.concurrency = Concurrency::Allow;
    for new in [KeptJob::new(other.clone()), {
        let mut w = KeptJob::new(other);
        w.keep_whole();
        w
    }] {
        assert!(kept.same_timing(&new));
        assert!(whole.same_timing(&new));
    }
    let changes: [fn(&mut Job); 8] = [
        |j| j.schedule = "@every 1m".into(),
        |j| j.timezone = "UTC".into(),
        |j| j.starts_at = None,
        |j| j.expires_at = None,
        |j| j.parent_job = None,
        |j| j.parent_jobs.push("third".into()),
        |j| j.jitter = Duration::ZERO,
        // The same text moved from one field to the next must not read as equal.
        |j| {
            j.schedule = format!("{}{}", j.schedule, j.timezone);
            j.timezone = String::new();
        },
    ];
    for (i, change) in changes.into_iter().enumerate() {
        let mut changed = base.clone();
        change(&mut changed);
        let new = KeptJob::new(changed.clone());
        let mut new_whole = new.clone();
        new_whole.keep_whole();
        for (a, b) in [
            (&kept, &new),
            (&kept, &new_whole),
            (&whole, &new),
            (&whole, &new_whole),
        ] {
            assert!(!a.same_timing(b), "change {i}");
            assert!(!b.same_timing(a), "change {i}");
        }
    }
}

#[test]
fn make_mut_updates_the_whole_job_and_keeps_it_whole() {
    let job = every_field_set();
    let mut kept = KeptJob::new(job.clone());
    let before = kept.full();
    kept.make_mut()
        .parent_ends
        .insert("third".into(), JobStatus::Success);
    assert!(!kept.is_packed());
    assert_eq!(kept.full().parent_ends.len(), 3);
    assert_eq!(*before, job, "a job handed out earlier is not changed");
    // The rest is unchanged.
    let mut expected = job;
    expected
        .parent_ends
        .insert("third".into(), JobStatus::Success);
    assert_eq!(*kept.full(), expected);
}

#[test]
fn a_damaged_buffer_is_refused_not_misread() {
    let Form::Packed(packed) = KeptJob::new(every_field_set()).0 else {
        panic!("a new kept job is packed");
    };
    let rest = packed.rest.to_vec();
    let with = |rest: Vec<u8>| Packed {
        name: packed.name.clone(),
        rest: rest.into_boxed_slice(),
        notify: None,
        ..encode(Job::new("x"))
    };
    for cut in [0, 1, 3, rest.len() / 2, rest.len() - 1] {
        assert!(
            try_decode(&with(rest[..cut].to_vec())).is_none(),
            "cut at {cut}"
        );
    }
    // Trailing bytes are refused too.
    let mut longer = rest.clone();
    longer.push(0);
    assert!(try_decode(&with(longer)).is_none());
    // A varint that never ends, or overflows 64 bits.
    assert!(Reader(&[0x80; 11]).u64().is_none());
    assert!(
        Reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
            .u64()
            .is_none()
    );
    assert_eq!(
        Reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).u64(),
        Some(u64::MAX)
    );
    // Invalid UTF-8 in a string.
    assert!(Reader(&[1, 0xff]).string().is_none());
    // A huge count with nothing behind it allocates nothing and fails.
    assert!(Reader(&[0xff, 0xff, 0xff, 0xff, 0x0f]).strings().is_none());
    // What `decode` makes of it: the decision fields, the rest at defaults.
    let fallback = decode(&with(Vec::new()));
    assert_eq!(fallback.name, "rich");
    assert!(fallback.tags.is_empty());
}

#[test]
fn kept_whole_a_job_is_shared_as_is_and_unchanged() {
    let job = every_field_set();
    let mut kept = KeptJob::new(job.clone());
    kept.keep_whole();
    let (a, b) = (kept.full(), kept.full());
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(*a, job);
    // Twice changes nothing.
    kept.keep_whole();
    assert_eq!(*kept.full(), job);
}

#[test]
fn a_packed_job_is_a_fraction_of_a_whole_one() {
    // What the loop keeps per job besides its slot: the packed struct and its buffer. A
    // regression guard on the struct (a field added typed rather than encoded), not a timing.
    assert!(
        size_of::<Packed>() <= 128,
        "Packed is {} B",
        size_of::<Packed>()
    );
    assert_eq!(size_of::<KeptJob>(), 16);
    assert_eq!(size_of::<OptTime>(), 12);
}
