use crate::{Error, Job, JobStatus, MAX_PARENTS, RunOn};

fn child(parents: &[&str]) -> Job {
    let mut job = Job::new("child");
    job.parent_jobs = parents.iter().map(|p| (*p).to_owned()).collect();
    job.normalize_parents();
    job
}

#[test]
fn parents_lists_parent_job_then_parent_jobs() {
    let mut job = Job::new("x");
    assert_eq!(job.parents().count(), 0);
    assert!(!job.is_child());
    job.parent_job = Some(String::new());
    assert!(
        !job.is_child(),
        "an empty parent_job is none (dkron's wire)"
    );
    job.parent_job = Some("a".into());
    assert_eq!(job.parents().collect::<Vec<_>>(), ["a"]);
    assert!(!job.waits_for_parents());
    let two = child(&["a", "b"]);
    assert_eq!(two.parents().collect::<Vec<_>>(), ["a", "b"]);
    assert!(two.is_child() && two.waits_for_parents());
}

#[test]
fn one_parent_is_stored_as_parent_job() {
    let one = child(&["a"]);
    assert_eq!(one.parent_job.as_deref(), Some("a"));
    assert!(one.parent_jobs.is_empty());
    let mut same = child(&[]);
    same.parent_job = Some("a".into());
    same.parent_jobs = vec!["a".into()];
    same.normalize_parents();
    assert_eq!(
        (same.parent_job.as_deref(), same.parent_jobs.len()),
        (Some("a"), 0)
    );
    let mut empty = Job::new("x");
    empty.parent_job = Some(String::new());
    empty.normalize_parents();
    assert_eq!(empty.parent_job, None);
}

#[test]
fn malformed_parent_lists_are_refused_naming_the_field() {
    let mut both = child(&["a", "b"]);
    both.parent_job = Some("c".into());
    let err = both.validate().expect_err("both");
    assert_eq!(err.field(), Some("parent_jobs"));
    assert_eq!(
        err.to_string(),
        "invalid parent_jobs: parent_job c is set too: give the parents in parent_jobs only"
    );
    let twice = child(&["a", "b", "a"]);
    assert_eq!(
        twice.validate(),
        Err(Error::InvalidParents {
            reason: "a is named twice".into()
        })
    );
    let empty = child(&["a", ""]);
    assert_eq!(
        empty.validate().map_err(|e| e.field()),
        Err(Some("parent_jobs"))
    );
    assert_eq!(child(&["a", "child"]).validate(), Err(Error::SelfParent));
    let names: Vec<String> = (0..=MAX_PARENTS).map(|i| format!("p{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert!(matches!(
        child(&refs).validate(),
        Err(Error::InvalidParents { .. })
    ));
    assert_eq!(child(&refs[..MAX_PARENTS]).validate(), Ok(()));
    // run_on is allowed on a child of several parents.
    let mut failure = child(&["a", "b"]);
    failure.run_on = RunOn::Failure;
    assert_eq!(failure.validate(), Ok(()));
}

#[test]
fn the_child_runs_once_every_parent_ended_a_matching_group() {
    let mut job = child(&["a", "b"]);
    assert!(!job.record_parent_end("a", JobStatus::Success));
    // A second group of the same parent does not make a round on its own.
    assert!(!job.record_parent_end("a", JobStatus::Success));
    assert!(job.record_parent_end("b", JobStatus::Success));
    assert!(job.parent_ends.is_empty(), "the round is used up");
    // The next round needs both again.
    assert!(!job.record_parent_end("b", JobStatus::Success));
    assert!(job.record_parent_end("a", JobStatus::Success));
}

#[test]
fn the_latest_group_of_each_parent_counts() {
    let mut job = child(&["a", "b"]);
    assert!(!job.record_parent_end("a", JobStatus::Success));
    // a's latest group failed: b's success is not enough.
    assert!(!job.record_parent_end("a", JobStatus::Failed));
    assert!(!job.record_parent_end("b", JobStatus::Success));
    assert_eq!(job.parent_ends.len(), 2);
    // a succeeds again: every latest group matches.
    assert!(job.record_parent_end("a", JobStatus::Success));
}

#[test]
fn run_on_decides_which_outcomes_count() {
    let mut job = child(&["a", "b"]);
    job.run_on = RunOn::Failure;
    assert!(!job.record_parent_end("a", JobStatus::Failed));
    assert!(!job.record_parent_end("b", JobStatus::Success));
    assert!(job.record_parent_end("b", JobStatus::PartiallyFailed));
    job.run_on = RunOn::Always;
    assert!(!job.record_parent_end("a", JobStatus::Success));
    assert!(job.record_parent_end("b", JobStatus::Failed));
}

#[test]
fn one_parent_or_a_stranger_notes_nothing() {
    let mut one = child(&["a"]);
    assert!(!one.record_parent_end("a", JobStatus::Success));
    assert!(one.parent_ends.is_empty());
    let mut two = child(&["a", "b"]);
    assert!(!two.record_parent_end("zzz", JobStatus::Success));
    assert!(two.parent_ends.is_empty());
}

#[test]
fn an_edit_keeps_the_notes_of_the_parents_still_named() {
    let mut stored = child(&["a", "b", "c"]);
    assert!(!stored.record_parent_end("a", JobStatus::Success));
    assert!(!stored.record_parent_end("c", JobStatus::Success));
    let mut edited = child(&["a", "b"]);
    edited.keep_parent_ends(&stored);
    assert_eq!(edited.parent_ends.keys().collect::<Vec<_>>(), ["a"]);
    let mut single = child(&["a"]);
    single.keep_parent_ends(&stored);
    assert!(single.parent_ends.is_empty());
}
