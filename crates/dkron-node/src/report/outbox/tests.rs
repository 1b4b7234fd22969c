//! The outbox on a real directory: push, ack and pending; durability across a reopen; corrupt
//! files skipped; the bound; file names.

use dkron_model::{Execution, Trigger};
use jiff::Timestamp;

use super::{DEFAULT_CAPACITY, Outbox, OutboxError, file_name, outbox_dir};

/// A finished execution of `job` that started at `second` and finished a second later.
fn execution(job: &str, second: i64) -> Execution {
    Execution {
        job_name: job.to_owned(),
        started_at: Timestamp::from_second(second).expect("valid"),
        finished_at: Some(Timestamp::from_second(second + 1).expect("valid")),
        success: true,
        output: format!("output of {job} at {second}\n"),
        node_name: "node1".to_owned(),
        group: second,
        attempt: 1,
        exit_code: Some(0),
        trigger: Trigger::Scheduled,
        ..Execution::default()
    }
}

fn open(dir: &tempfile::TempDir) -> Outbox {
    Outbox::open(outbox_dir(dir.path())).expect("open")
}

/// Pushed executions come back oldest first; an ack drops one; acking twice is harmless.
#[test]
fn push_ack_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    assert_eq!(outbox.pending(), []);
    let (old, middle, new) = (
        execution("a", 100),
        execution("b", 200),
        execution("a", 300),
    );
    for pushed in [&new, &old, &middle] {
        outbox.push(pushed).expect("push");
    }
    assert_eq!(outbox.len(), 3);
    assert_eq!(outbox.pending(), [old.clone(), middle.clone(), new.clone()]);

    outbox.ack(&middle).expect("ack");
    outbox.ack(&middle).expect("a second ack is harmless");
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox.pending(), [old, new]);
}

/// Pushing the same execution again replaces it: one file, the latest content.
#[test]
fn pushing_again_replaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let mut run = execution("job", 100);
    outbox.push(&run).expect("push");
    run.output = "processed\n".to_owned();
    outbox.push(&run).expect("push again");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox.pending(), [run]);
}

/// What was pushed is there after a reopen (a restart), with its count; a temporary file left
/// by a crash mid-push is removed and not counted.
#[test]
fn survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (execution("a", 100), execution("b", 200));
    {
        let outbox = open(&dir);
        outbox.push(&first).expect("push");
        outbox.push(&second).expect("push");
    }
    let leftover = outbox_dir(dir.path()).join("c.1-node1.json.tmp");
    std::fs::write(&leftover, b"{\"job_name\":").expect("write");

    let outbox = open(&dir);
    assert_eq!(outbox.len(), 2);
    assert!(!leftover.exists(), "the temporary file is removed at open");
    assert_eq!(outbox.pending(), [first.clone(), second]);
    outbox.ack(&first).expect("ack");
    drop(outbox);
    assert_eq!(open(&dir).len(), 1);
}

/// Corrupt files, and files that do not hold the execution they are named after, are skipped;
/// the good ones still come back.
#[test]
fn a_corrupt_file_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let good = execution("good", 100);
    outbox.push(&good).expect("push");
    let files = outbox_dir(dir.path());
    std::fs::write(files.join("bad.1-node1.json"), b"{not json").expect("write");
    // Valid JSON, but every field defaulted: not the execution the name promises.
    std::fs::write(files.join("empty.2-node1.json"), b"{}").expect("write");
    std::fs::write(files.join("binary.3-node1.json"), [0xff, 0xfe, 0x00]).expect("write");
    // Not an outbox file at all.
    std::fs::write(files.join("README"), b"hello").expect("write");

    assert_eq!(outbox.pending(), [good]);
    // Reopened, the unreadable files still take room: they count until an operator looks.
    assert_eq!(open(&dir).len(), 4);
}

/// Beyond its capacity the outbox refuses new executions, but still replaces held ones and
/// takes new ones once acks made room.
#[test]
fn the_bound_is_enforced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir).with_capacity(2);
    let (a, b, c) = (execution("a", 1), execution("b", 2), execution("c", 3));
    outbox.push(&a).expect("push");
    outbox.push(&b).expect("push");
    match outbox.push(&c) {
        Err(OutboxError::Full { capacity: 2, .. }) => {}
        other => panic!("expected Full, got {other:?}"),
    }
    outbox
        .push(&a)
        .expect("replacing a held execution is not growth");
    assert_eq!(outbox.len(), 2);
    outbox.ack(&a).expect("ack");
    outbox.push(&c).expect("room again");
    assert_eq!(outbox.pending(), [b, c]);
    assert_eq!(DEFAULT_CAPACITY, 10_000);
    assert_eq!(open(&dir).capacity, DEFAULT_CAPACITY);
}

/// Names are escaped (never a path), distinct, and stay under the file-name limit whatever the
/// job and node names.
#[test]
fn file_names_are_safe_and_distinct() {
    let mut run = execution("déjà-vu_1", 5);
    run.node_name = "../etc/passwd".to_owned();
    let name = file_name(&run);
    assert_eq!(
        name,
        "d%C3%A9j%C3%A0-vu_1.5000000000-%2E%2E%2Fetc%2Fpasswd.json"
    );
    assert!(!name.contains('/'));

    // Job `a.b` cannot be confused with job `a` and an id starting with `b`.
    let dotted = execution("a.b", 5);
    assert_ne!(file_name(&dotted), file_name(&execution("a", 5)));

    let long = "x".repeat(300);
    let (one, two) = (
        execution(&format!("{long}1"), 5),
        execution(&format!("{long}2"), 5),
    );
    let (one_name, two_name) = (file_name(&one), file_name(&two));
    assert!(one_name.len() <= 255, "{}", one_name.len());
    assert_ne!(one_name, two_name);

    // Long names work end to end.
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    outbox.push(&one).expect("push");
    outbox.push(&two).expect("push");
    assert_eq!(outbox.pending(), [one.clone(), two]);
    outbox.ack(&one).expect("ack");
    assert_eq!(outbox.len(), 1);
}
