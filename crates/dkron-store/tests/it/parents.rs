//! Children of several parents (`parent_jobs`): the parents' bookkeeping, the cycle check over
//! the whole graph, and the round rule applied in the batch that ends a parent's group.

use dkron_model::{Job, JobStatus, RunOn};
use dkron_store::{Apply, Error};

use crate::support::*;

fn child_of(name: &str, parents: &[&str]) -> Job {
    let mut job = Job::new(name);
    job.parent_jobs = parents.iter().map(|p| (*p).to_owned()).collect();
    job
}

/// Group `group` of `job` on n1, finished with `success` (no retries, so it ends for good).
fn group_end(store: &dkron_store::Store, job: &str, group: i64, success: bool) -> Vec<String> {
    done(
        store,
        finished(started(job, "n1", 1_000 + group, group), 1, success),
    )
    .ready_children
}

#[test]
fn every_parent_lists_the_child_and_none_can_be_deleted() {
    let (dir, store) = temp_store();
    put(&store, job("a"));
    put(&store, job("b"));
    put(&store, job("c"));
    let written = store
        .set_job(child_of("both", &["a", "b"]), &Apply::local())
        .unwrap();
    assert!(written.created && written.previous_parents.is_empty());
    for parent in ["a", "b"] {
        assert_eq!(store.job(parent).unwrap().unwrap().dependent_jobs, ["both"]);
    }
    let error = store.delete_job("b", &Apply::local()).unwrap_err();
    assert!(matches!(error, Error::HasDependents { .. }), "{error}");
    // Moving to b and c detaches it from a, keeps it on b, adds it to c.
    let moved = store
        .set_job(child_of("both", &["b", "c"]), &Apply::local())
        .unwrap();
    assert_eq!(moved.previous_parents, ["a", "b"]);
    assert!(store.job("a").unwrap().unwrap().dependent_jobs.is_empty());
    assert_eq!(store.job("c").unwrap().unwrap().dependent_jobs, ["both"]);
    // A one-element list is stored as parent_job.
    let one = put(&store, child_of("one", &["a"]));
    assert_eq!(
        (one.parent_job.as_deref(), one.parent_jobs.len()),
        (Some("a"), 0)
    );
    // Deleting the child detaches it from every parent; then the parents can go.
    store.delete_job("both", &Apply::local()).unwrap();
    for parent in ["b", "c"] {
        assert!(
            store
                .job(parent)
                .unwrap()
                .unwrap()
                .dependent_jobs
                .is_empty()
        );
    }
    store.delete_job("c", &Apply::local()).unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.job("a").unwrap().unwrap().dependent_jobs, ["one"]);
}

#[test]
fn a_missing_parent_or_a_cycle_through_any_parent_is_refused() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    let error = store
        .set_job(child_of("x", &["a", "nope"]), &Apply::local())
        .unwrap_err();
    assert!(
        matches!(&error, Error::ParentNotFound { parent, .. } if parent == "nope"),
        "{error}"
    );
    assert!(store.job("x").unwrap().is_none());
    assert!(store.job("a").unwrap().unwrap().dependent_jobs.is_empty());
    // b <- c (c has parents a and b); making b a child of c loops through c's second parent.
    put(&store, job("b"));
    put(&store, child_of("c", &["a", "b"]));
    let error = store
        .set_job(child_of("b", &["a", "c"]), &Apply::local())
        .unwrap_err();
    assert!(matches!(error, Error::InvalidJob { .. }), "{error}");
    assert!(!store.job("b").unwrap().unwrap().is_child());
    assert!(store.job("c").unwrap().unwrap().dependent_jobs.is_empty());
}

#[test]
fn the_child_is_ready_once_both_parents_ended_a_matching_group() {
    let (dir, store) = temp_store();
    put(&store, job("a"));
    put(&store, job("b"));
    put(&store, child_of("both", &["a", "b"]));
    let mut on_failure = child_of("failed", &["a", "b"]);
    on_failure.run_on = RunOn::Failure;
    put(&store, on_failure);
    // a succeeds: noted on the child, nothing ready.
    assert!(group_end(&store, "a", 1, true).is_empty());
    assert_eq!(
        store.job("both").unwrap().unwrap().parent_ends.get("a"),
        Some(&JobStatus::Success)
    );
    // The note survives a reopen: a new leader decides from it.
    drop(store);
    let store = open(dir.path());
    // b succeeds: `both` is ready and its notes are used up.
    assert_eq!(group_end(&store, "b", 2, true), ["both"]);
    assert!(store.job("both").unwrap().unwrap().parent_ends.is_empty());
    // Next round: b again alone is not enough.
    assert!(group_end(&store, "b", 3, true).is_empty());
    assert_eq!(group_end(&store, "a", 4, true), ["both"]);
    // Both fail: the failure child is ready, the success one is not.
    assert!(group_end(&store, "a", 5, false).is_empty());
    assert_eq!(group_end(&store, "b", 6, false), ["failed"]);
    // An edit of the child keeps the notes of the parents it still names.
    assert!(group_end(&store, "a", 7, true).is_empty());
    let mut edited = child_of("both", &["a", "b"]);
    edited.owner = "someone".to_owned();
    assert_eq!(
        put(&store, edited).parent_ends.get("a"),
        Some(&JobStatus::Success)
    );
}

#[test]
fn a_group_that_will_be_retried_notes_nothing() {
    let (_dir, store) = temp_store();
    let mut flaky = job("a");
    flaky.retries = 1;
    put(&store, flaky);
    put(&store, job("b"));
    put(&store, child_of("both", &["a", "b"]));
    assert!(group_end(&store, "b", 1, true).is_empty());
    // a's first attempt fails with a retry left: its group has not ended.
    assert!(group_end(&store, "a", 2, false).is_empty());
    assert_eq!(
        store.job("both").unwrap().unwrap().parent_ends.len(),
        1,
        "only b's end is noted"
    );
    // Its retry succeeds: the group ended for good, the child is ready.
    let mut retry = started("a", "n1", 1_010, 2);
    retry.attempt = 2;
    assert_eq!(
        done(&store, finished(retry, 1, true)).ready_children,
        ["both"]
    );
}
