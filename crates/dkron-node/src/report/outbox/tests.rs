//! The outbox on a real directory: push, ack and pending; durability across a reopen; a torn
//! tail; segments rotated, deleted and compacted; the bound; the import of an earlier version's
//! files.

use std::{io::Write as _, path::PathBuf, time::Duration};

use dkron_model::{Execution, Trigger};
use jiff::Timestamp;

use super::{
    DEFAULT_CAPACITY, MAX_SEGMENTS, Outbox, OutboxError, SEGMENT_BYTES, SEGMENT_SUFFIX, legacy,
    outbox_dir,
};

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

/// The segment files, oldest first.
fn segments(dir: &tempfile::TempDir) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(outbox_dir(dir.path()))
        .expect("list")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.to_string_lossy().ends_with(SEGMENT_SUFFIX))
        .collect();
    files.sort();
    files
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

/// Pushing the same execution again replaces it: one held, the latest content, also after a
/// reopen.
#[test]
fn pushing_again_replaces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let mut run = execution("job", 100);
    outbox.push(&run).expect("push");
    run.output = "processed\n".to_owned();
    outbox.push(&run).expect("push again");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox.pending(), std::slice::from_ref(&run));
    drop(outbox);
    let outbox = open(&dir);
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox.pending(), [run]);
}

/// What was pushed and not acknowledged is there after a reopen (a restart), and what was
/// acknowledged is not; segments left with nothing held are deleted.
#[test]
fn survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second, third) = (
        execution("a", 100),
        execution("b", 200),
        execution("c", 300),
    );
    {
        let outbox = open(&dir);
        for pushed in [&first, &second, &third] {
            outbox.push(pushed).expect("push");
        }
        outbox.ack(&second).expect("ack");
    }
    let outbox = open(&dir);
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox.pending(), [first.clone(), third.clone()]);
    outbox.ack(&first).expect("ack");
    outbox.ack(&third).expect("ack");
    drop(outbox);
    let outbox = open(&dir);
    assert_eq!(outbox.len(), 0);
    assert_eq!(outbox.pending(), []);
    // Only the segment just started is left.
    assert_eq!(segments(&dir).len(), 1, "{:?}", segments(&dir));
}

/// A crash in the middle of an append leaves a torn record at the end of the segment: every
/// cut of it keeps the records before it and loses nothing else; the outbox goes on in a new
/// segment.
#[test]
fn a_torn_tail_keeps_the_records_before_it() {
    let (first, second) = (execution("a", 100), execution("b", 200));
    let (full_len, first_end) = {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = open(&dir);
        outbox.push(&first).expect("push");
        let first_end = std::fs::metadata(&segments(&dir)[0]).expect("stat").len();
        outbox.push(&second).expect("push");
        let full_len = std::fs::metadata(&segments(&dir)[0]).expect("stat").len();
        (full_len, first_end)
    };
    for cut in (first_end..full_len).step_by(7) {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let outbox = open(&dir);
            outbox.push(&first).expect("push");
            outbox.push(&second).expect("push");
        }
        let segment = &segments(&dir)[0];
        let file = std::fs::File::options()
            .write(true)
            .open(segment)
            .expect("open");
        file.set_len(cut).expect("cut");
        drop(file);
        let outbox = open(&dir);
        assert_eq!(
            outbox.pending(),
            std::slice::from_ref(&first),
            "cut at {cut}"
        );
        // Appends go on in a fresh segment and survive the next reopen.
        outbox.push(&second).expect("push after a torn tail");
        drop(outbox);
        assert_eq!(
            open(&dir).pending(),
            [first.clone(), second.clone()],
            "cut at {cut}"
        );
    }
}

/// Garbage appended to a segment (damage, or a write cut by a full disk) is ignored with
/// everything after it in that segment; the other segments are unaffected.
#[test]
fn a_corrupt_tail_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = execution("good", 100);
    {
        let outbox = open(&dir);
        outbox.push(&good).expect("push");
    }
    let mut file = std::fs::File::options()
        .append(true)
        .open(&segments(&dir)[0])
        .expect("open");
    file.write_all(b"\x01{not a frame at all").expect("write");
    drop(file);
    let later = execution("later", 200);
    {
        let outbox = open(&dir);
        assert_eq!(outbox.pending(), std::slice::from_ref(&good));
        outbox.push(&later).expect("push");
    }
    assert_eq!(open(&dir).pending(), [good, later]);
}

/// Full segments are closed and new ones started; a segment is deleted once everything it
/// holds was acknowledged, and the acknowledged executions do not come back after a reopen.
#[test]
fn segments_rotate_and_are_deleted_once_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let big = "x".repeat(64 << 10);
    let count = usize::try_from(2 * SEGMENT_BYTES / (64 << 10)).expect("small") + 4;
    let runs: Vec<Execution> = (0..count)
        .map(|i| {
            let mut run = execution("big", i64::try_from(i).expect("small") * 10);
            run.output.clone_from(&big);
            run
        })
        .collect();
    for run in &runs {
        outbox.push(run).expect("push");
    }
    assert!(segments(&dir).len() >= 3, "{:?}", segments(&dir));
    for run in &runs[..count - 1] {
        outbox.ack(run).expect("ack");
    }
    // Only the segment holding the last one and the current one may be left.
    assert!(segments(&dir).len() <= 2, "{:?}", segments(&dir));
    assert_eq!(outbox.pending(), [runs[count - 1].clone()]);
    drop(outbox);
    assert_eq!(open(&dir).pending(), [runs[count - 1].clone()]);
}

/// One execution never acknowledged does not pin old segments for ever: past
/// [`MAX_SEGMENTS`] it is copied forward and the old segment deleted, and it still comes back.
#[test]
fn a_stuck_execution_is_compacted_forward() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let stuck = execution("stuck", 1);
    outbox.push(&stuck).expect("push");
    let big = "y".repeat(256 << 10);
    let rounds = usize::try_from(SEGMENT_BYTES / (256 << 10)).expect("small") * (MAX_SEGMENTS + 3);
    for i in 0..rounds {
        let mut run = execution("churn", 100 + i64::try_from(i).expect("small"));
        run.output.clone_from(&big);
        outbox.push(&run).expect("push");
        outbox.ack(&run).expect("ack");
    }
    let left = segments(&dir).len();
    assert!(left <= MAX_SEGMENTS, "{left} segments");
    assert_eq!(outbox.pending(), std::slice::from_ref(&stuck));
    drop(outbox);
    assert_eq!(open(&dir).pending(), [stuck]);
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

/// A sync makes the record durable and is idempotent; syncing an acknowledged execution is
/// nothing to do.
#[test]
fn sync_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let run = execution("a", 1);
    outbox.push(&run).expect("push");
    outbox.sync(&run).expect("sync");
    outbox.sync(&run).expect("sync again");
    let len = std::fs::metadata(&segments(&dir)[0]).expect("stat").len();
    assert_eq!(outbox.lock().current.synced, len);
    outbox.ack(&run).expect("ack");
    outbox.sync(&run).expect("an acknowledged execution");
}

/// Only executions pushed at least the given age ago are listed for re-delivery; those found
/// at open always are.
#[test]
fn pending_for_skips_young_executions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outbox = open(&dir);
    let run = execution("a", 1);
    outbox.push(&run).expect("push");
    assert_eq!(outbox.pending_for(Duration::from_secs(3600)), []);
    assert_eq!(
        outbox.pending_for(Duration::ZERO),
        std::slice::from_ref(&run)
    );
    drop(outbox);
    assert_eq!(open(&dir).pending_for(Duration::from_secs(3600)), [run]);
}

/// The files of the file-per-execution outbox are imported at open (and removed); leftover
/// temporary files are removed; unreadable ones are left alone and not counted.
#[test]
fn an_earlier_versions_files_are_imported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = outbox_dir(dir.path());
    std::fs::create_dir_all(&files).expect("mkdir");
    let (one, two) = (execution("a", 100), execution("b.c", 200));
    for run in [&one, &two] {
        let body = serde_json::to_vec(run).expect("json");
        std::fs::write(files.join(legacy::file_name(run)), body).expect("write");
    }
    let leftover = files.join("c.1-node1.json.tmp");
    std::fs::write(&leftover, b"{\"job_name\":").expect("write");
    let bad = files.join("bad.1-node1.json");
    std::fs::write(&bad, b"{not json").expect("write");
    // Valid JSON, but every field defaulted: not the execution the name promises.
    let misnamed = files.join("empty.2-node1.json");
    std::fs::write(&misnamed, b"{}").expect("write");

    let outbox = open(&dir);
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox.pending(), [one.clone(), two.clone()]);
    assert!(!leftover.exists(), "the temporary file is removed at open");
    assert!(!files.join(legacy::file_name(&one)).exists(), "imported");
    assert!(bad.exists() && misnamed.exists(), "unreadable files stay");
    outbox.ack(&one).expect("ack");
    drop(outbox);
    assert_eq!(open(&dir).pending(), [two]);
}

/// Legacy names were escaped (never a path), distinct, and under the file-name limit.
#[test]
fn legacy_file_names_are_safe_and_distinct() {
    let mut run = execution("déjà-vu_1", 5);
    run.node_name = "../etc/passwd".to_owned();
    let name = legacy::file_name(&run);
    assert_eq!(
        name,
        "d%C3%A9j%C3%A0-vu_1.5000000000-%2E%2E%2Fetc%2Fpasswd.json"
    );
    assert_ne!(
        legacy::file_name(&execution("a.b", 5)),
        legacy::file_name(&execution("a", 5))
    );
    let long = "x".repeat(300);
    let (one, two) = (
        legacy::file_name(&execution(&format!("{long}1"), 5)),
        legacy::file_name(&execution(&format!("{long}2"), 5)),
    );
    assert!(one.len() <= 255, "{}", one.len());
    assert_ne!(one, two);
}
