//! [`Outbox`]: finished executions kept on disk until a server acknowledged them, so a node cut
//! off from the servers (or restarted meanwhile) loses no report.
//!
//! The outbox is a directory (`<data_dir>/outbox/`) with one JSON file per execution: the
//! [`Execution`] as dkron-model serializes it. [`Outbox::push`] writes a file (temporary file,
//! rename): from then on it survives a crash of the process. [`Outbox::sync`] makes it survive
//! a crash of the machine too (fsync of the file and the directory); the caller asks for it
//! only when a report could not be delivered at once, so the usual path pays no fsync (two
//! fsyncs per run were the bound of an agent's run rate on this VM). [`Outbox::ack`] removes
//! it, and [`Outbox::pending`] reads them all back, oldest first, for sending again.
//!
//! A file is named after the execution's job and id, escaped to a safe file name, so pushing
//! the same execution twice replaces its file and an ack needs only the execution. Files that
//! cannot be read back (corrupt, or not named after the execution they hold) are logged and
//! skipped, never a reason to fail.
//!
//! Bounded: beyond its capacity ([`DEFAULT_CAPACITY`] unless set) a push is refused with
//! [`OutboxError::Full`], so a node cut off for days says so instead of filling the disk.
//!
//! Blocking: every call does file I/O (a sync waits for two fsyncs). Callers on the async
//! runtime run it through `spawn_blocking`, or accept a few milliseconds per finished
//! execution. One `Outbox` per directory: the count is kept in memory.

use std::{
    fmt::Write as _,
    fs::File,
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, PoisonError},
};

use dkron_model::Execution;

#[cfg(test)]
mod tests;

/// How many unacknowledged executions an outbox holds unless told otherwise.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// The outbox's directory name in the data dir.
const OUTBOX_DIR: &str = "outbox";
/// Suffix of an execution's file.
const SUFFIX: &str = ".json";
/// Suffix of a file being written: never read back, removed at open.
const TEMPORARY_SUFFIX: &str = ".tmp";
/// Longest escaped stem kept whole; longer ones are cut and end with a hash (file names are at
/// most 255 bytes on common filesystems).
const MAX_STEM: usize = 200;
/// How much of a too-long stem is kept before the hash.
const LONG_STEM_PREFIX: usize = 160;

/// Why the outbox could not take or drop an execution.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutboxError {
    /// The outbox already holds its capacity of unacknowledged executions.
    #[error("outbox {} is full: {capacity} executions wait for a server", dir.display())]
    Full {
        /// The outbox directory.
        dir: PathBuf,
        /// Its capacity.
        capacity: usize,
    },
    /// A file operation failed.
    #[error("outbox: cannot {action} {}", path.display())]
    Io {
        /// What was being done (`create`, `write`, `remove`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The execution could not be serialized.
    #[error("outbox: cannot encode execution {id}")]
    Encode {
        /// The execution's id.
        id: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Where the outbox of a node with data dir `data_dir` lives.
pub(crate) fn outbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(OUTBOX_DIR)
}

/// Finished executions not yet acknowledged by a server; see the module docs.
#[derive(Debug)]
pub(crate) struct Outbox {
    dir: PathBuf,
    capacity: usize,
    /// Files held. Why a mutex and not an atomic: it also serializes the check of the bound
    /// with the write, so concurrent pushes cannot overshoot it.
    count: Mutex<usize>,
}

impl Outbox {
    /// Opens (creating it if needed) the outbox in directory `dir`, with [`DEFAULT_CAPACITY`].
    /// Temporary files left by a crash in the middle of a push are removed.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory cannot be created or listed.
    pub(crate) fn open(dir: PathBuf) -> Result<Outbox, OutboxError> {
        std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).map_err(io_error("list", &dir))? {
            let entry = entry.map_err(io_error("list", &dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(TEMPORARY_SUFFIX) {
                // Why: a push that crashed before its rename; the execution was not taken.
                if let Err(error) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(%error, path = %entry.path().display(), "outbox: cannot remove a leftover temporary file");
                }
            } else if name.ends_with(SUFFIX) {
                count += 1;
            }
        }
        Ok(Outbox {
            dir,
            capacity: DEFAULT_CAPACITY,
            count: Mutex::new(count),
        })
    }

    /// Holds at most `capacity` executions.
    #[cfg(test)]
    pub(crate) fn with_capacity(mut self, capacity: usize) -> Outbox {
        self.capacity = capacity;
        self
    }

    fn count(&self) -> MutexGuard<'_, usize> {
        // The count is updated after the file operation it follows: poisoning leaves it valid.
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many executions wait (files held, readable or not).
    pub(crate) fn len(&self) -> usize {
        *self.count()
    }

    /// Keeps `execution` until [`Outbox::ack`]; on return it survives a crash of this process
    /// ([`Outbox::sync`] for a crash of the machine). Pushing an execution already held
    /// replaces it (and does not count twice).
    ///
    /// # Errors
    /// [`OutboxError::Full`] at capacity (for a new execution), [`OutboxError::Io`] when the
    /// file cannot be written, [`OutboxError::Encode`] when the execution cannot be serialized.
    pub(crate) fn push(&self, execution: &Execution) -> Result<(), OutboxError> {
        let body = serde_json::to_vec(execution).map_err(|source| OutboxError::Encode {
            id: execution.id(),
            source,
        })?;
        let name = file_name(execution);
        let path = self.dir.join(&name);
        let temporary = self.dir.join(format!("{name}{TEMPORARY_SUFFIX}"));
        // The slot is taken under the lock, the file written without it: pushes from many
        // executions then share the disk instead of waiting for each other's fsyncs.
        let replacing = path.exists();
        {
            let mut count = self.count();
            if !replacing {
                if *count >= self.capacity {
                    return Err(OutboxError::Full {
                        dir: self.dir.clone(),
                        capacity: self.capacity,
                    });
                }
                *count += 1;
            }
        }
        if let Err(error) = write_file(&temporary, &path, &body) {
            // Why: a failed write must not leave a temporary file behind until the next open.
            let _ = std::fs::remove_file(&temporary);
            if !replacing {
                *self.count() -= 1;
            }
            return Err(error);
        }
        Ok(())
    }

    /// Makes the file of `execution` (pushed before) survive a crash of the machine.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the file or the directory cannot be synced.
    pub(crate) fn sync(&self, execution: &Execution) -> Result<(), OutboxError> {
        let path = self.dir.join(file_name(execution));
        File::open(&path)
            .and_then(|file| file.sync_all())
            .map_err(io_error("sync", &path))?;
        // Why: the rename that created it is only durable once the directory is.
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error("sync", &self.dir))
    }

    /// Drops `execution`: a server has it. Acknowledging an execution not held is not an error.
    /// Not fsynced: an ack lost in a crash only means the execution is sent again, and a server
    /// records an execution id once.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the file exists but cannot be removed.
    pub(crate) fn ack(&self, execution: &Execution) -> Result<(), OutboxError> {
        let path = self.dir.join(file_name(execution));
        let mut count = self.count();
        match std::fs::remove_file(&path) {
            Ok(()) => {
                *count = count.saturating_sub(1);
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(OutboxError::Io {
                action: "remove",
                path,
                source,
            }),
        }
    }

    /// Every execution waiting, oldest first (by finish time, then start time). Files that
    /// cannot be read or parsed, or that do not hold the execution their name says, are logged
    /// and skipped.
    pub(crate) fn pending(&self) -> Vec<Execution> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(%error, dir = %self.dir.display(), "outbox: cannot list");
                return Vec::new();
            }
        };
        let mut executions = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    tracing::warn!(%error, dir = %self.dir.display(), "outbox: cannot list an entry");
                    continue;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|name| name.ends_with(SUFFIX)) else {
                continue;
            };
            let path = entry.path();
            match read_execution(&path) {
                Ok(execution) if file_name(&execution) == name => executions.push(execution),
                Ok(execution) => {
                    tracing::warn!(path = %path.display(), id = %execution.id(), "outbox: a file does not hold the execution it is named after; skipped");
                }
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "outbox: unreadable file skipped");
                }
            }
        }
        executions.sort_by(|a, b| age_key(a).cmp(&age_key(b)));
        executions
    }
}

/// What [`Outbox::pending`] orders by: finish time, then start time; job and node break ties so
/// the order does not depend on the directory's.
fn age_key(execution: &Execution) -> (jiff::Timestamp, jiff::Timestamp, &str, &str) {
    (
        execution.finished_at.unwrap_or(execution.started_at),
        execution.started_at,
        &execution.job_name,
        &execution.node_name,
    )
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> OutboxError + 'a {
    move |source| OutboxError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes `body` to `temporary`, syncs it, renames it to `path` and syncs the directory, so
/// after a crash either the old file or the whole new one is there.
/// Writes `body` to `path` through `temporary` and a rename, so a reader never sees half a
/// file. No fsync: see [`Outbox::sync`].
fn write_file(temporary: &Path, path: &Path, body: &[u8]) -> Result<(), OutboxError> {
    let mut file = File::create(temporary).map_err(io_error("create", temporary))?;
    file.write_all(body).map_err(io_error("write", temporary))?;
    drop(file);
    std::fs::rename(temporary, path).map_err(io_error("rename into", path))
}

/// Reads one execution file.
fn read_execution(path: &Path) -> Result<Execution, String> {
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    serde_json::from_slice(&bytes).map_err(|error| error.to_string())
}

/// The file name of `execution`: `<job>.<id>.json`, each part escaped (bytes outside
/// `[A-Za-z0-9_-]` as `%XX`), so names are distinct, readable, and never a path. A stem longer
/// than [`MAX_STEM`] is cut and ends with `~` and a 64-bit FNV-1a hash of the job and id.
fn file_name(execution: &Execution) -> String {
    let id = execution.id();
    let mut stem = String::new();
    escape_into(&mut stem, &execution.job_name);
    stem.push('.');
    escape_into(&mut stem, &id);
    if stem.len() > MAX_STEM {
        // The stem is ASCII, so any byte index is a character boundary.
        stem.truncate(LONG_STEM_PREFIX);
        let key = [execution.job_name.as_bytes(), b"\0", id.as_bytes()].concat();
        let _ = write!(stem, "~{:016x}", fnv1a_64(&key));
    }
    stem.push_str(SUFFIX);
    stem
}

fn escape_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// FNV-1a, 64 bits: stable across builds and Rust versions (unlike `DefaultHasher`), which a
/// name that must be found again after an upgrade needs.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}
