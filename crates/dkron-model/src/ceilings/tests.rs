use jiff::Timestamp;

use crate::{Ceilings, Error, Job, JobStatus};

fn small() -> Ceilings {
    Ceilings {
        history_limit: 10,
        output_limit: 1000,
        retries: 3,
        name_length: 8,
    }
}

#[test]
fn at_the_ceiling_is_accepted() {
    let mut job = Job::new("eightchr");
    job.display_name = "ééééééé!".to_owned();
    job.history_limit = Some(10);
    job.output_limit = Some(1000);
    job.retries = 3;
    assert_eq!(job.check_ceilings(&small()), Ok(()));
}

/// A change to a job, the field it pushes over, its value, the ceiling, the setting.
type Case = (fn(&mut Job), &'static str, u64, u64, &'static str);

#[test]
fn each_field_above_its_ceiling_is_named_with_value_and_setting() {
    let cases: [Case; 5] = [
        (
            |j| j.name = "ninechars".to_owned(),
            "name",
            9,
            8,
            "max-job-name-length",
        ),
        (
            |j| j.display_name = "x".repeat(9),
            "displayname",
            9,
            8,
            "max-job-name-length",
        ),
        (
            |j| j.history_limit = Some(11),
            "history_limit",
            11,
            10,
            "max-history-limit",
        ),
        (
            |j| j.output_limit = Some(1001),
            "output_limit",
            1001,
            1000,
            "max-output-limit",
        ),
        (|j| j.retries = 4, "retries", 4, 3, "max-retries"),
    ];
    for (change, field, value, max, setting) in cases {
        let mut job = Job::new("job");
        change(&mut job);
        let error = job.check_ceilings(&small()).unwrap_err();
        assert_eq!(
            error,
            Error::AboveCeiling {
                field,
                value,
                max,
                setting
            }
        );
        let text = error.to_string();
        for part in [field, &value.to_string(), &max.to_string(), setting] {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
        assert_eq!(error.field(), Some(field));
    }
}

#[test]
fn unset_limits_are_not_checked() {
    // A job without its own limits uses the node defaults, which the configuration keeps
    // at or below the ceilings.
    let job = Job::new("job");
    assert_eq!(job.check_ceilings(&small()), Ok(()));
}

#[test]
fn name_length_counts_characters_not_bytes() {
    let job = Job::new("éééééééé");
    assert_eq!(job.check_ceilings(&small()), Ok(()));
}

#[test]
fn server_fields_are_cleared() {
    let mut job = Job::new("job");
    job.success_count = u64::MAX;
    job.error_count = 7;
    job.last_success = Some(Timestamp::UNIX_EPOCH);
    job.last_error = Some(Timestamp::UNIX_EPOCH);
    job.status = JobStatus::Success;
    job.next = Some(Timestamp::UNIX_EPOCH);
    job.dependent_jobs = vec!["child".to_owned()];
    job.retries = 2;
    job.clear_server_fields();
    let mut expected = Job::new("job");
    expected.retries = 2;
    assert_eq!(job, expected);
}
