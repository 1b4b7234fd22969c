//! The ledger of running process groups: a small file in the data dir listing the process group
//! of every shell execution running on this node, so that a node killed outright (SIGKILL, OOM
//! killer) kills, when it starts again, the commands its previous life left running.
//!
//! The shell executor already kills a command's group whatever ends the run, as long as this
//! process lives. The ledger covers the one case it cannot: this process dying.
//!
//! Each entry is (process group id, start time of the group's leader, execution id), and the
//! file also holds the boot id. At start, [`kill_orphans`] sends SIGKILL to a recorded group only
//! if the boot is the same and its leader is still the process that started at the recorded time
//! ([`dkron_executor::kill_group_if`]): a pgid reused by an unrelated process is never killed.
//! Then the file is cleared.
//!
//! Format (JSON, rewritten whole on every change through a temporary file and a rename, so a
//! reader sees the old list or the new one, never half of one):
//! `{"boot_id": "…", "groups": [{"pgid": 4242, "leader_start": 123456, "execution": "…"}]}`.
//!
//! Limits, on purpose: a group whose leader exited while other members still run is not killed
//! (nothing proves it is the recorded group), and a node killed between a spawn and its record
//! leaves that one group behind.

use std::{
    io,
    path::{Path, PathBuf},
    sync::{Mutex, PoisonError},
};

#[cfg(test)]
mod tests;

/// The ledger's file name in the data dir.
const LEDGER_FILE: &str = "running-groups.json";

/// Where the ledger of a node with data dir `data_dir` lives.
pub(crate) fn ledger_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LEDGER_FILE)
}

/// One recorded process group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pgid: i32,
    leader_start: u64,
    execution: String,
}

/// The ledger of this node's running process groups; see the module docs.
///
/// One per node and file: it does not read the file it is given, it overwrites it on the first
/// change. So [`kill_orphans`] must run on that file before the first execution starts.
#[derive(Debug)]
pub(crate) struct Ledger {
    path: PathBuf,
    boot_id: Option<String>,
    entries: Mutex<Vec<Entry>>,
}

impl Ledger {
    /// A ledger kept at `path`, empty.
    pub(crate) fn new(path: PathBuf) -> Ledger {
        Ledger {
            path,
            boot_id: dkron_executor::boot_id(),
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Records the process group `pgid` of execution `execution`, just spawned (its leader not
    /// reaped yet). Failures are logged: the ledger is a safety net, never a reason to fail a run.
    pub(crate) fn record(&self, pgid: i32, execution: &str) {
        let Some(leader_start) = dkron_executor::group_leader_start(pgid) else {
            tracing::warn!(pgid, %execution, "cannot read the start time of a process group leader; it is not recorded");
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|entry| entry.pgid != pgid);
        entries.push(Entry {
            pgid,
            leader_start,
            execution: execution.to_owned(),
        });
        // Why under the lock: two changes written out of order would lose one.
        self.write(&entries);
    }

    /// Forgets the groups of execution `execution` (it ended: the executor killed and reaped its
    /// group).
    pub(crate) fn remove(&self, execution: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|entry| entry.execution != execution);
        if entries.len() != before {
            self.write(&entries);
        }
    }

    /// Replaces the file with `entries`. Synchronous on purpose: the entry must be on disk
    /// before the command can outlive us, and [`dkron_executor::OutputSink::spawned`] cannot
    /// await. No fsync: the file only has to survive this process, not the machine (a machine
    /// that goes down takes the processes with it).
    fn write(&self, entries: &[Entry]) {
        if let Err(error) = write_file(&self.path, self.boot_id.as_deref(), entries) {
            tracing::warn!(%error, path = %self.path.display(), "cannot write the ledger of running process groups");
        }
    }
}

/// Kills the process groups the ledger at `path` lists that still run, under the same boot and
/// with the same leader, then clears the ledger. Returns how many groups were killed. Call it at
/// start, before the node takes work. Never fails: an unreadable ledger is logged and removed.
pub(crate) fn kill_orphans(path: &Path) -> usize {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return 0,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot read the ledger of running process groups");
            return 0;
        }
    };
    let mut killed = 0;
    match decode(&bytes) {
        Some((recorded_boot, entries)) => {
            let this_boot = dkron_executor::boot_id();
            // Why: after a reboot every recorded process is gone, and a pid (even with a start
            // time that happens to match) names something else.
            let rebooted =
                matches!((&recorded_boot, &this_boot), (Some(then), Some(now)) if then != now);
            if !rebooted {
                for entry in &entries {
                    if dkron_executor::kill_group_if(entry.pgid, entry.leader_start) {
                        killed += 1;
                        tracing::warn!(pgid = entry.pgid, execution = %entry.execution, "killed the process group of an execution interrupted by a crash");
                    }
                }
            }
        }
        None => {
            tracing::warn!(path = %path.display(), "the ledger of running process groups is unreadable; ignored");
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "cannot clear the ledger of running process groups");
        }
    }
    killed
}

/// Writes the ledger through a temporary file and a rename.
fn write_file(path: &Path, boot_id: Option<&str>, entries: &[Entry]) -> io::Result<()> {
    let groups: Vec<serde_json::Value> = entries
        .iter()
        .map(|entry| {
            serde_json::json!({
                "pgid": entry.pgid,
                "leader_start": entry.leader_start,
                "execution": entry.execution,
            })
        })
        .collect();
    let body = serde_json::json!({ "boot_id": boot_id, "groups": groups });
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, body.to_string())?;
    std::fs::rename(&temporary, path)
}

/// Reads a ledger file: (boot id, entries), or `None` if it is not one. Entries that are not
/// well-formed are skipped.
fn decode(bytes: &[u8]) -> Option<(Option<String>, Vec<Entry>)> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let boot_id = value
        .get("boot_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let entries = value
        .get("groups")?
        .as_array()?
        .iter()
        .filter_map(|group| {
            Some(Entry {
                pgid: i32::try_from(group.get("pgid")?.as_i64()?).ok()?,
                leader_start: group.get("leader_start")?.as_u64()?,
                execution: group.get("execution")?.as_str()?.to_owned(),
            })
        })
        .collect();
    Some((boot_id, entries))
}
