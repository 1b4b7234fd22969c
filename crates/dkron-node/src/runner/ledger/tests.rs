//! The ledger against real process groups: a recorded group still running after a "crash" is
//! killed at start; one whose start time or boot does not match is left alone.

use std::{
    os::unix::process::{CommandExt as _, ExitStatusExt as _},
    path::Path,
    process::{Child, Command, ExitStatus},
    time::{Duration, Instant},
};

use super::{Entry, Ledger, decode, kill_orphans, ledger_path, write_file};

/// A `sleep 60` leading its own process group, as the shell executor starts commands; killed
/// and reaped on drop whatever the test did.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        let child = Command::new("sleep")
            .arg("60")
            .process_group(0)
            .spawn()
            .expect("spawn sleep");
        Sleeper(child)
    }

    fn pgid(&self) -> i32 {
        i32::try_from(self.0.id()).expect("pid fits i32")
    }

    fn leader_start(&self) -> u64 {
        dkron_executor::group_leader_start(self.pgid()).expect("leader start time")
    }

    /// Its exit status if it ends within `within`.
    fn ends_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn entry(pgid: i32, leader_start: u64, execution: &str) -> Entry {
    Entry {
        pgid,
        leader_start,
        execution: execution.to_owned(),
    }
}

fn read(path: &Path) -> Vec<Entry> {
    let bytes = std::fs::read(path).expect("ledger file");
    decode(&bytes).expect("a ledger").1
}

/// A group left running by a previous life of the node is killed, and the ledger cleared.
#[test]
fn a_recorded_group_still_running_is_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_path(dir.path());
    let mut sleeper = Sleeper::start();
    let ledger = Ledger::new(path.clone());
    ledger.record(sleeper.pgid(), "1-node1");
    // The node dies here: nothing removes the entry.
    drop(ledger);

    assert_eq!(kill_orphans(&path), 1);
    let status = sleeper
        .ends_within(Duration::from_secs(5))
        .expect("the orphan was killed");
    assert_eq!(status.signal(), Some(9));
    assert!(!path.exists(), "the ledger is cleared");
    // Nothing left to kill on the next start.
    assert_eq!(kill_orphans(&path), 0);
}

/// A pgid whose leader started at another time (the pid was reused) is never killed.
#[test]
fn a_wrong_start_time_is_not_killed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_path(dir.path());
    let mut sleeper = Sleeper::start();
    let start = sleeper.leader_start();
    let entries = [entry(sleeper.pgid(), start.wrapping_add(1), "1-node1")];
    write_file(&path, dkron_executor::boot_id().as_deref(), &entries).expect("write");

    assert_eq!(kill_orphans(&path), 0);
    assert_eq!(sleeper.ends_within(Duration::from_millis(200)), None);
    assert!(!path.exists(), "the ledger is cleared all the same");
}

/// Entries written under another boot are not acted on, even with a matching start time.
#[test]
fn another_boot_is_not_acted_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_path(dir.path());
    let mut sleeper = Sleeper::start();
    let entries = [entry(sleeper.pgid(), sleeper.leader_start(), "1-node1")];
    write_file(&path, Some("not-this-boot"), &entries).expect("write");

    let expected = if dkron_executor::boot_id().is_some() {
        0
    } else {
        // Without a boot id to compare, only the start time decides.
        1
    };
    assert_eq!(kill_orphans(&path), expected);
    if expected == 0 {
        assert_eq!(sleeper.ends_within(Duration::from_millis(200)), None);
    }
}

/// The file follows record and remove; a group whose leader is unknown is not recorded.
#[test]
fn record_and_remove_rewrite_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_path(dir.path());
    let first = Sleeper::start();
    let second = Sleeper::start();
    let ledger = Ledger::new(path.clone());

    ledger.record(first.pgid(), "1-node1");
    ledger.record(second.pgid(), "2-node1");
    assert_eq!(
        read(&path),
        [
            entry(first.pgid(), first.leader_start(), "1-node1"),
            entry(second.pgid(), second.leader_start(), "2-node1"),
        ]
    );
    ledger.remove("1-node1");
    assert_eq!(
        read(&path),
        [entry(second.pgid(), second.leader_start(), "2-node1")]
    );
    // No such process (pids stay below pid_max, at most 2^22): nothing is recorded.
    ledger.record(i32::MAX, "3-node1");
    ledger.remove("2-node1");
    assert_eq!(read(&path), []);
    assert!(!dir.path().join("running-groups.json.tmp").exists());
}

/// A missing ledger kills nothing; a corrupt one is ignored and removed; bad entries are skipped.
#[test]
fn missing_or_corrupt_ledgers_kill_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = ledger_path(dir.path());
    assert_eq!(kill_orphans(&path), 0);

    std::fs::write(&path, b"{not json").expect("write");
    assert_eq!(kill_orphans(&path), 0);
    assert!(!path.exists());

    let (boot, entries) = decode(
        br#"{"boot_id":null,"groups":[{"pgid":"x"},{"pgid":5000000000,"leader_start":1,"execution":"a"},{"pgid":7,"leader_start":1,"execution":"b"}]}"#,
    )
    .expect("a ledger");
    assert_eq!(boot, None);
    assert_eq!(entries, [entry(7, 1, "b")]);
    assert_eq!(decode(br#"{"groups":3}"#), None);
}
