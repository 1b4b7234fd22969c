//! A group equals its operations applied one by one: same answers, same stored state.

use dkron_model::{Execution, Job, LaunchRecord, Member};
use jiff::Timestamp;
use proptest::prelude::*;

use super::Overlay;
use crate::{Apply, Options, RaftApplied, Store, WriteGroup, keys::Cf};

const JOBS: [&str; 3] = ["a", "b", "c"];

/// One operation on a tiny key space, so that operations of a sequence often touch the same
/// job, execution, group, launch list, day or member.
#[derive(Debug, Clone)]
enum Op {
    SetJob {
        job: usize,
        parent: Option<usize>,
        limit: u32,
    },
    DeleteJob(usize),
    ToggleJob(usize),
    SetJobNext(usize, i64),
    Start {
        job: usize,
        second: i64,
        node: usize,
        group: i64,
    },
    Done {
        job: usize,
        second: i64,
        node: usize,
        group: i64,
        success: bool,
        finished: i64,
    },
    DeleteExecutions(usize),
    Launch {
        job: usize,
        second: i64,
        next: Option<i64>,
    },
    SetMember(usize, u16),
    RemoveMember(usize),
    SetPaused(bool),
}

fn ts(second: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + second).expect("timestamp in range")
}

fn execution(job: usize, second: i64, node: usize, group: i64) -> Execution {
    Execution {
        job_name: JOBS[job].to_owned(),
        started_at: ts(second),
        node_name: format!("n{node}"),
        group,
        attempt: 1,
        output: "out".to_owned(),
        ..Execution::default()
    }
}

fn op() -> impl Strategy<Value = Op> {
    let job = 0..JOBS.len();
    prop_oneof![
        3 => (job.clone(), prop::option::of(0..JOBS.len()), 1u32..4)
            .prop_map(|(job, parent, limit)| Op::SetJob { job, parent, limit }),
        1 => job.clone().prop_map(Op::DeleteJob),
        1 => job.clone().prop_map(Op::ToggleJob),
        1 => (job.clone(), 0i64..5).prop_map(|(job, s)| Op::SetJobNext(job, s)),
        4 => (job.clone(), 0i64..6, 0usize..2, 0i64..3)
            .prop_map(|(job, second, node, group)| Op::Start { job, second, node, group }),
        4 => (job.clone(), 0i64..6, 0usize..2, 0i64..3, any::<bool>(), 0i64..200_000)
            .prop_map(|(job, second, node, group, success, finished)| Op::Done {
                job, second, node, group, success, finished,
            }),
        1 => job.clone().prop_map(Op::DeleteExecutions),
        3 => (job, 0i64..20, prop::option::of(0i64..5))
            .prop_map(|(job, second, next)| Op::Launch { job, second, next }),
        1 => (0usize..2, any::<u16>()).prop_map(|(m, port)| Op::SetMember(m, port)),
        1 => (0usize..2).prop_map(Op::RemoveMember),
        1 => any::<bool>().prop_map(Op::SetPaused),
    ]
}

/// What an operation answered, comparable across the two ways of applying it.
fn outcome<T: std::fmt::Debug>(result: crate::Result<T>) -> String {
    match result {
        Ok(value) => format!("ok {value:?}"),
        Err(error) => format!("err {error}"),
    }
}

fn job_of(job: usize, parent: Option<usize>, limit: u32) -> Job {
    let mut new = Job::new(JOBS[job]);
    new.schedule = "@every 1m".to_owned();
    new.parent_job = parent.map(|p| JOBS[p].to_owned());
    new.history_limit = Some(limit);
    new
}

fn done_of(
    job: usize,
    second: i64,
    node: usize,
    group: i64,
    success: bool,
    finished: i64,
) -> Execution {
    let mut done = execution(job, second, node, group);
    done.finished_at = Some(ts(finished));
    done.success = success;
    done
}

fn launch_of(job: usize, second: i64) -> LaunchRecord {
    LaunchRecord {
        job_name: JOBS[job].to_owned(),
        scheduled_at: ts(second),
        group: second,
        attempt: 1,
        ..LaunchRecord::default()
    }
}

fn member_of(member: usize, port: u16) -> Member {
    Member {
        name: format!("m{member}"),
        port,
        ..Member::default()
    }
}

fn apply_alone(store: &Store, op: &Op) -> String {
    let local = &Apply::local();
    match op.clone() {
        Op::SetJob { job, parent, limit } => {
            outcome(store.set_job(job_of(job, parent, limit), local))
        }
        Op::DeleteJob(job) => outcome(store.delete_job(JOBS[job], local)),
        Op::ToggleJob(job) => outcome(store.toggle_job(JOBS[job], local)),
        Op::SetJobNext(job, s) => outcome(store.set_job_next(JOBS[job], Some(ts(s)), local)),
        Op::Start {
            job,
            second,
            node,
            group,
        } => outcome(store.record_execution_start(execution(job, second, node, group), local)),
        Op::Done {
            job,
            second,
            node,
            group,
            success,
            finished,
        } => outcome(
            store
                .record_execution_done(done_of(job, second, node, group, success, finished), local),
        ),
        Op::DeleteExecutions(job) => outcome(store.delete_executions(JOBS[job], local)),
        Op::Launch { job, second, next } => {
            outcome(store.record_launch(&launch_of(job, second), next.map(|n| Some(ts(n))), local))
        }
        Op::SetMember(m, port) => outcome(store.set_member(&member_of(m, port), local)),
        Op::RemoveMember(m) => outcome(store.remove_member(&format!("m{m}"), local)),
        Op::SetPaused(paused) => outcome(store.set_paused(paused, local)),
    }
}

fn apply_in(group: &mut WriteGroup<'_>, op: &Op) -> String {
    match op.clone() {
        Op::SetJob { job, parent, limit } => outcome(group.set_job(job_of(job, parent, limit))),
        Op::DeleteJob(job) => outcome(group.delete_job(JOBS[job])),
        Op::ToggleJob(job) => outcome(group.toggle_job(JOBS[job])),
        Op::SetJobNext(job, s) => outcome(group.set_job_next(JOBS[job], Some(ts(s)))),
        Op::Start {
            job,
            second,
            node,
            group: g,
        } => outcome(group.record_execution_start(execution(job, second, node, g))),
        Op::Done {
            job,
            second,
            node,
            group: g,
            success,
            finished,
        } => outcome(group.record_execution_done(done_of(job, second, node, g, success, finished))),
        Op::DeleteExecutions(job) => outcome(group.delete_executions(JOBS[job])),
        Op::Launch { job, second, next } => {
            outcome(group.record_launch(&launch_of(job, second), next.map(|n| Some(ts(n)))))
        }
        Op::SetMember(m, port) => outcome(group.set_member(&member_of(m, port))),
        Op::RemoveMember(m) => outcome(group.remove_member(&format!("m{m}"))),
        Op::SetPaused(paused) => outcome(group.set_paused(paused)),
    }
}

/// Everything a snapshot carries, plus the job index as the list API sees it.
fn state(store: &Store) -> (Vec<u8>, Vec<String>, usize) {
    let mut bytes = Vec::new();
    store.export_snapshot(&mut bytes).expect("export");
    (bytes, store.job_names(), store.job_count())
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options::default()).expect("store opens")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_group_answers_and_stores_what_its_operations_do_one_by_one(
        setup in prop::collection::vec(op(), 0..12),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let alone = open(&dir.path().join("alone"));
        let grouped = open(&dir.path().join("grouped"));
        // Some state already on disk, written the same way in both.
        for op in &setup {
            apply_alone(&alone, op);
            apply_alone(&grouped, op);
        }
        let expected: Vec<String> = ops.iter().map(|op| apply_alone(&alone, op)).collect();
        let mut group = grouped.write_group();
        let answers: Vec<String> = ops.iter().map(|op| apply_in(&mut group, op)).collect();
        group.commit(&Apply::local()).expect("group committed");
        prop_assert_eq!(answers, expected);
        prop_assert!(state(&grouped) == state(&alone), "stored state differs");
    }
}

#[test]
fn a_dropped_group_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut group = store.write_group();
    group.set_job(job_of(0, None, 3)).expect("job set");
    drop(group);
    assert_eq!(store.job(JOBS[0]).expect("read"), None);
    assert_eq!(store.job_count(), 0);
}

#[test]
fn a_refused_operation_leaves_the_group_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut group = store.write_group();
    group.set_job(job_of(0, None, 3)).expect("job set");
    let refused = group
        .record_execution_start(execution(1, 0, 0, 0))
        .expect_err("no such job");
    assert!(refused.is_refusal(), "{refused}");
    group
        .record_execution_start(execution(0, 0, 0, 0))
        .expect("started");
    assert_eq!(group.accepted(), 2);
    let applied = RaftApplied {
        index: 7,
        bytes: b"position".to_vec(),
    };
    group
        .commit(&Apply::raft(applied.clone(), false))
        .expect("committed");
    assert_eq!(store.applied().expect("applied"), Some(applied));
    assert_eq!(store.executions(JOBS[0], None).expect("history").len(), 1);
    assert!(store.job(JOBS[1]).expect("read").is_none());
}

#[test]
fn a_scan_merges_the_groups_writes_in_both_directions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut group = store.write_group();
    group
        .run(|_, tx| {
            for key in ["k1", "k3", "k5", "k7", "x"] {
                tx.put(Cf::Stats, key.as_bytes(), b"db".to_vec());
            }
            Ok(())
        })
        .expect("seeded");
    group.commit(&Apply::local()).expect("committed");

    let mut group = store.write_group();
    group
        .run(|_, tx| {
            tx.put(Cf::Stats, b"k2".to_vec(), b"new".to_vec());
            tx.put(Cf::Stats, b"k3".to_vec(), b"rewritten".to_vec());
            tx.delete(Cf::Stats, b"k5".to_vec());
            tx.put(Cf::Stats, b"k8".to_vec(), b"new".to_vec());
            Ok(())
        })
        .expect("first operation");
    group
        .run(|_, tx| {
            tx.delete_range(Cf::Stats, b"k6".to_vec(), b"k9".to_vec());
            Ok(())
        })
        .expect("second operation");
    group
        .run(|_, tx| {
            tx.put(Cf::Stats, b"k8".to_vec(), b"after the range".to_vec());
            Ok(())
        })
        .expect("third operation");
    group
        .run(|_, tx| {
            let read = |reverse| -> Vec<(String, String)> {
                tx.scan(Cf::Stats, b"k".to_vec(), b"l".to_vec(), reverse)
                    .map(|item| {
                        let (key, value) = item.expect("scan item");
                        (
                            String::from_utf8(key).expect("utf-8"),
                            String::from_utf8(value).expect("utf-8"),
                        )
                    })
                    .collect()
            };
            let expected: Vec<(String, String)> = [
                ("k1", "db"),
                ("k2", "new"),
                ("k3", "rewritten"),
                ("k8", "after the range"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
            assert_eq!(read(false), expected);
            let mut reversed = expected;
            reversed.reverse();
            assert_eq!(read(true), reversed);
            assert_eq!(tx.get(Cf::Stats, b"k7").expect("get"), None);
            assert_eq!(tx.get(Cf::Stats, b"k5").expect("get"), None);
            assert_eq!(tx.get(Cf::Stats, b"x").expect("get"), Some(b"db".to_vec()));
            Ok(())
        })
        .expect("reads");
}

#[test]
fn an_operation_does_not_see_its_own_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let mut group = store.write_group();
    group
        .run(|_, tx| {
            tx.put(Cf::Stats, b"k".to_vec(), b"v".to_vec());
            assert_eq!(tx.get(Cf::Stats, b"k").expect("get"), None);
            assert_eq!(tx.scan(Cf::Stats, Vec::new(), vec![0xff], false).count(), 0);
            Ok(())
        })
        .expect("operation");
}

#[test]
fn overlay_slots_match_the_family_list() {
    for cf in Cf::ALL {
        assert_eq!(Cf::ALL[cf.slot()], cf);
    }
    assert_eq!(Overlay::default().points.len(), Cf::ALL.len());
}

/// An operation that panics after staging writes leaves the group as it was: the state
/// machine catches the panic, refuses that command and commits the others.
#[test]
fn a_panicking_operation_leaves_no_trace_in_the_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Options::default()).expect("open");
    let mut group = store.write_group();
    group.set_job(job_of(0, None, 10)).expect("set a");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = group.run(|_, tx| -> crate::Result<()> {
            tx.put(Cf::Jobs, b"ghost".to_vec(), b"{}".to_vec());
            panic!("a bug in an operation")
        });
    }));
    assert!(panicked.is_err());
    assert_eq!(group.accepted(), 1);
    group.set_job(job_of(1, None, 10)).expect("set b");
    group.commit(&Apply::default()).expect("commit");
    assert!(store.job("a").expect("read").is_some());
    assert!(store.job("b").expect("read").is_some());
    assert_eq!(store.get(Cf::Jobs, b"ghost").expect("read"), None);
}
