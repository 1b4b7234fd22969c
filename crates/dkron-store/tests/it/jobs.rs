//! Job writes: dkron's merge rules, parent/child bookkeeping, delete and toggle.

use dkron_model::JobStatus;
use dkron_store::{Apply, Error, JobQuery, RaftApplied};

use crate::support::*;

/// A stored job reads back equal; the first write creates, the second replaces.
#[test]
fn set_then_get_round_trips() {
    let (_dir, store) = temp_store();
    assert_eq!(store.job("a").unwrap(), None);
    let mut a = job("a");
    a.metadata.insert("team".into(), "core".into());
    a.display_name = "Job A".into();
    let written = store.set_job(a.clone(), &Apply::local()).unwrap();
    assert!(written.created);
    assert_eq!(written.job, a);
    assert_eq!(store.job("a").unwrap(), Some(a.clone()));
    let again = store.set_job(a, &Apply::durable()).unwrap();
    assert!(!again.created);
    assert_eq!(store.job_count(), 1);
}

/// Counters and last_* keep the maximum of stored and submitted; a non-empty stored status is
/// kept; `dependent_jobs` never comes from the caller; `next` keeps the later value while the
/// schedule is unchanged and takes the submitted one when it changes.
#[test]
fn merge_rules() {
    let (_dir, store) = temp_store();
    let mut a = job("a");
    a.next = Some(ts(1000));
    put(&store, a.clone());
    done(&store, finished(started("a", "n1", 100, 100), 5, true));
    done(&store, finished(started("a", "n1", 200, 200), 5, false));

    // A submission with stale counters, no status, bogus children and an older `next`.
    let mut stale = a.clone();
    stale.success_count = 0;
    stale.error_count = 7;
    stale.last_success = None;
    stale.dependent_jobs = vec!["ghost".into()];
    stale.status = JobStatus::Untriggered;
    stale.next = Some(ts(500));
    stale.owner = "new owner".into();
    let merged = put(&store, stale);
    assert_eq!(merged.success_count, 1);
    assert_eq!(merged.error_count, 7);
    assert_eq!(merged.last_success, Some(ts(105)));
    assert_eq!(merged.last_error, Some(ts(205)));
    assert_eq!(merged.status, JobStatus::Failed);
    assert!(merged.dependent_jobs.is_empty());
    assert_eq!(merged.next, Some(ts(1000)));
    assert_eq!(merged.owner, "new owner");

    let mut rescheduled = merged.clone();
    rescheduled.schedule = "@every 5m".into();
    rescheduled.next = Some(ts(600));
    assert_eq!(put(&store, rescheduled).next, Some(ts(600)));

    // A new job's submitted dependents are dropped too.
    let mut fresh = job("fresh");
    fresh.dependent_jobs = vec!["ghost".into()];
    assert!(put(&store, fresh).dependent_jobs.is_empty());
}

/// A child needs an existing parent.
#[test]
fn parent_must_exist() {
    let (_dir, store) = temp_store();
    let error = store
        .set_job(child("c", "nope"), &Apply::local())
        .unwrap_err();
    assert!(
        matches!(&error, Error::ParentNotFound { job, parent } if job == "c" && parent == "nope"),
        "{error}"
    );
    assert!(error.is_refusal());
    assert_eq!(store.job("c").unwrap(), None);
}

/// Children are added to, moved between and removed from their parents' `dependent_jobs`.
#[test]
fn parent_child_bookkeeping() {
    let (_dir, store) = temp_store();
    put(&store, job("p1"));
    put(&store, job("p2"));
    put(&store, child("c2", "p1"));
    put(&store, child("c1", "p1"));
    assert_eq!(
        store.job("p1").unwrap().unwrap().dependent_jobs,
        vec!["c1", "c2"]
    );

    // Parent swap updates both parents.
    put(&store, child("c1", "p2"));
    assert_eq!(store.job("p1").unwrap().unwrap().dependent_jobs, vec!["c2"]);
    assert_eq!(store.job("p2").unwrap().unwrap().dependent_jobs, vec!["c1"]);

    // Becoming independent detaches; becoming a child again attaches.
    put(&store, job("c2"));
    assert!(store.job("p1").unwrap().unwrap().dependent_jobs.is_empty());
    put(&store, child("c2", "p1"));
    assert_eq!(store.job("p1").unwrap().unwrap().dependent_jobs, vec!["c2"]);

    // Deleting a child detaches it.
    store.delete_job("c2", &Apply::local()).unwrap();
    assert!(store.job("p1").unwrap().unwrap().dependent_jobs.is_empty());
}

/// A parent with children cannot be deleted until they are; double delete is not found.
#[test]
fn delete_refuses_parent_with_children() {
    let (_dir, store) = temp_store();
    put(&store, job("p"));
    put(&store, child("c", "p"));
    let error = store.delete_job("p", &Apply::local()).unwrap_err();
    assert!(
        matches!(&error, Error::HasDependents { children, .. } if children == &["c"]),
        "{error}"
    );
    assert!(store.job("p").unwrap().is_some());
    store.delete_job("c", &Apply::local()).unwrap();
    let deleted = store.delete_job("p", &Apply::local()).unwrap();
    assert_eq!(deleted.name, "p");
    assert!(matches!(
        store.delete_job("p", &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
    assert_eq!(store.job_count(), 0);
}

/// Deleting a job deletes its history, running marks and launch records; re-creating it starts
/// empty.
#[test]
fn delete_removes_history() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    put(&store, job("ab"));
    done(&store, finished(started("a", "n1", 10, 10), 1, true));
    store
        .record_execution_start(started("a", "n2", 20, 20), &Apply::local())
        .unwrap();
    store
        .record_execution_start(started("ab", "n1", 20, 20), &Apply::local())
        .unwrap();
    store
        .record_launch(
            &dkron_model::LaunchRecord {
                job_name: "a".into(),
                scheduled_at: ts(20),
                group: 20,
                attempt: 1,
                ..Default::default()
            },
            None,
            &Apply::local(),
        )
        .unwrap();
    store.delete_job("a", &Apply::local()).unwrap();
    assert!(matches!(
        store.executions("a", None),
        Err(Error::JobNotFound { .. })
    ));
    put(&store, job("a"));
    assert!(store.executions("a", None).unwrap().is_empty());
    assert!(store.running_executions_of("a").unwrap().is_empty());
    assert_eq!(store.last_launch("a").unwrap(), None);
    // The neighbour whose name extends "a" is untouched.
    assert_eq!(store.running_executions().unwrap().len(), 1);
    assert_eq!(store.executions("ab", None).unwrap().len(), 1);
}

/// Toggle flips `disabled` and reports unknown jobs.
#[test]
fn toggle_flips_disabled() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    assert!(store.toggle_job("a", &Apply::local()).unwrap().disabled);
    assert!(!store.toggle_job("a", &Apply::local()).unwrap().disabled);
    assert!(store.toggle_job("a", &Apply::local()).unwrap().disabled);
    assert!(store.job("a").unwrap().unwrap().disabled);
    let page = store
        .list_jobs(&JobQuery {
            disabled: Some(true),
            ..JobQuery::default()
        })
        .unwrap();
    assert_eq!(page.total, 1);
    assert!(matches!(
        store.toggle_job("zz", &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
}

/// `set_job_next` persists the scheduler's next fire.
#[test]
fn set_next() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    assert_eq!(
        store
            .set_job_next("a", Some(ts(77)), &Apply::local())
            .unwrap()
            .next,
        Some(ts(77))
    );
    assert_eq!(store.job("a").unwrap().unwrap().next, Some(ts(77)));
    assert!(matches!(
        store.set_job_next("b", None, &Apply::local()),
        Err(Error::JobNotFound { .. })
    ));
}

/// A parent chain that would loop is refused.
#[test]
fn parent_cycle_is_refused() {
    let (_dir, store) = temp_store();
    put(&store, job("a"));
    put(&store, child("b", "a"));
    put(&store, child("c", "b"));
    let error = store.set_job(child("a", "c"), &Apply::local()).unwrap_err();
    assert!(matches!(error, Error::InvalidJob { .. }), "{error}");
    assert_eq!(store.job("a").unwrap().unwrap().parent_job, None);
}

/// The Raft position is written with the effect, and also when the command is refused.
#[test]
fn applied_position_advances_with_every_command() {
    let (_dir, store) = temp_store();
    assert_eq!(store.applied().unwrap(), None);
    let at = |index: u64| {
        Apply::raft(
            RaftApplied {
                index,
                bytes: vec![index as u8; 3],
            },
            true,
        )
    };
    store.set_job(job("a"), &at(1)).unwrap();
    assert_eq!(store.applied().unwrap().unwrap().index, 1);
    assert!(store.delete_job("missing", &at(2)).is_err());
    assert_eq!(
        store.applied().unwrap(),
        Some(RaftApplied {
            index: 2,
            bytes: vec![2; 3]
        })
    );
    store.record_applied(&at(3)).unwrap();
    assert_eq!(store.applied().unwrap().unwrap().index, 3);
    store.toggle_job("a", &at(4)).unwrap();
    assert_eq!(store.applied().unwrap().unwrap().index, 4);
}

/// Names that would break the key layout are refused, not stored.
#[test]
fn nul_in_name_is_refused() {
    let (_dir, store) = temp_store();
    assert!(matches!(
        store.set_job(job("a\0b"), &Apply::local()),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(
        store.set_job(job(""), &Apply::local()),
        Err(Error::InvalidName { .. })
    ));
    assert_eq!(store.job_count(), 0);
}
