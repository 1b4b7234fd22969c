//! [`Outbox`]: finished executions kept on disk until a server acknowledged them, so a node cut
//! off from the servers (or restarted meanwhile) loses no report.
//!
//! The outbox is a directory (`<data_dir>/outbox/`) of append-only segment files
//! (`<seq>.seg`, see `frame` for the record format). [`Outbox::push`] appends the
//! [`Execution`]'s JSON to the current segment: from then on it survives a crash of the process.
//! [`Outbox::sync`] makes it survive a crash of the machine too (fdatasync of its segment, and
//! of the directory once per new segment); the caller asks for it only when a report could not
//! be delivered at once, so the usual path pays no fsync. [`Outbox::ack`] drops it (an ack
//! record, not fsynced: an ack lost in a crash only means one more delivery, and a server
//! records an execution id once). [`Outbox::pending`] reads them back, oldest first.
//!
//! Why segments and not a file per execution: creating and unlinking a file per run was most
//! of an agent's CPU at 1,000 runs a second (ext4 inode allocation next to just-deleted inodes),
//! and its journal commits slowed every fsync on the machine. An append is a write to the page
//! cache.
//!
//! A segment grows to [`SEGMENT_BYTES`], then a new one starts; segments are deleted oldest
//! first once every execution they hold was acknowledged (so the ack records of a live segment
//! are never deleted before it). When more than [`MAX_SEGMENTS`] exist, the live records of the
//! oldest are copied forward and it is deleted, so one execution never delivered cannot pin the
//! disk. At open the segments are replayed (pushes minus acks), a torn or corrupt tail is
//! logged and ignored, a new segment is started, and the JSON files of the earlier
//! file-per-execution outbox are imported.
//!
//! Bounded: beyond its capacity ([`DEFAULT_CAPACITY`] unless set) a push is refused with
//! [`OutboxError::Full`], so a node cut off for days says so instead of filling the disk.
//!
//! Blocking: a push or an ack is one small `write` under a mutex (page cache, microseconds),
//! fine on the async runtime; [`Outbox::sync`], [`Outbox::open`] and [`Outbox::pending`] do
//! real I/O and belong on the blocking pool.

mod frame;
mod legacy;
mod segments;

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io,
    os::unix::fs::FileExt as _,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use dkron_model::Execution;

use frame::Kind;
use segments::{Held, Inner, create_segment, replay, segment_path};

#[cfg(test)]
mod tests;

/// How many unacknowledged executions an outbox holds unless told otherwise.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// A segment at least this long is closed and a new one started.
const SEGMENT_BYTES: u64 = 4 << 20;
/// Segments kept before the oldest live one is compacted forward.
const MAX_SEGMENTS: usize = 8;

/// The outbox's directory name in the data dir.
const OUTBOX_DIR: &str = "outbox";
/// Suffix of a segment file.
const SEGMENT_SUFFIX: &str = ".seg";

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
    inner: Mutex<Inner>,
}

impl Outbox {
    /// Opens (creating it if needed) the outbox in directory `dir`, with [`DEFAULT_CAPACITY`]:
    /// replays its segments, starts a new one, and imports an earlier version's files.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the directory cannot be created or listed, or a segment cannot
    /// be read or created.
    pub(crate) fn open(dir: PathBuf) -> Result<Outbox, OutboxError> {
        std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error("list", &dir))? {
            let entry = entry.map_err(io_error("list", &dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(seq) = name
                .strip_suffix(SEGMENT_SUFFIX)
                .and_then(|seq| seq.parse::<u64>().ok())
            {
                segments.push(seq);
            } else if name.ends_with(legacy::TEMPORARY_SUFFIX) {
                // Why: a legacy push that crashed before its rename; the execution was not taken.
                if let Err(error) = std::fs::remove_file(entry.path()) {
                    tracing::warn!(%error, path = %entry.path().display(), "outbox: cannot remove a leftover temporary file");
                }
            }
        }
        segments.sort_unstable();
        let mut held = HashMap::new();
        let mut live = BTreeMap::new();
        for &seq in &segments {
            replay(&dir, seq, &mut held, &mut live)?;
        }
        let seq = segments.last().map_or(1, |last| last + 1);
        let current = create_segment(&dir, seq)?;
        live.insert(seq, 0);
        let outbox = Outbox {
            dir,
            capacity: DEFAULT_CAPACITY,
            inner: Mutex::new(Inner {
                held,
                live,
                current,
                dir_synced: 0,
            }),
        };
        outbox.lock().drop_dead_segments(&outbox.dir);
        outbox.import_legacy()?;
        Ok(outbox)
    }

    /// Moves the files of the file-per-execution outbox into the current segment: appended,
    /// synced, then the files removed. Unreadable files are logged and left alone.
    fn import_legacy(&self) -> Result<(), OutboxError> {
        let files = legacy::files(&self.dir);
        let mut imported = Vec::new();
        for path in files {
            match legacy::read(&path) {
                Ok(execution) => match self.push_at(&execution, None) {
                    Ok(()) => imported.push((path, execution)),
                    Err(error @ OutboxError::Full { .. }) => {
                        // The rest stay files and are imported at a later open.
                        tracing::warn!(%error, "outbox: files of an earlier version left for later");
                        break;
                    }
                    Err(error) => return Err(error),
                },
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "outbox: unreadable file of an earlier version left alone");
                }
            }
        }
        if let Some((_, execution)) = imported.last() {
            self.sync(execution)?;
            for (path, _) in &imported {
                std::fs::remove_file(path).map_err(io_error("remove", path))?;
            }
            tracing::info!(
                count = imported.len(),
                "outbox: imported the files of an earlier version"
            );
        }
        Ok(())
    }

    /// Holds at most `capacity` executions.
    #[cfg(test)]
    pub(crate) fn with_capacity(mut self, capacity: usize) -> Outbox {
        self.capacity = capacity;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update of the maps follows the file operation it records: poisoning leaves
        // them describing what is on disk.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many executions wait.
    pub(crate) fn len(&self) -> usize {
        self.lock().held.len()
    }

    /// Keeps `execution` until [`Outbox::ack`]; on return it survives a crash of this process
    /// ([`Outbox::sync`] for a crash of the machine). Pushing an execution already held
    /// replaces it (and does not count twice).
    ///
    /// # Errors
    /// [`OutboxError::Full`] at capacity (for a new execution), [`OutboxError::Io`] when the
    /// record cannot be written, [`OutboxError::Encode`] when the execution cannot be
    /// serialized.
    pub(crate) fn push(&self, execution: &Execution) -> Result<(), OutboxError> {
        self.push_at(execution, Some(Instant::now()))
    }

    fn push_at(&self, execution: &Execution, pushed: Option<Instant>) -> Result<(), OutboxError> {
        let body = serde_json::to_vec(execution).map_err(|source| OutboxError::Encode {
            id: execution.id(),
            source,
        })?;
        let record = frame::encode(Kind::Push, &body);
        let key = key(execution);
        let mut inner = self.lock();
        if !inner.held.contains_key(&key) && inner.held.len() >= self.capacity {
            return Err(OutboxError::Full {
                dir: self.dir.clone(),
                capacity: self.capacity,
            });
        }
        let offset = inner.append(&self.dir, &record)?;
        let seq = inner.current.seq;
        *inner.live.entry(seq).or_default() += 1;
        let now = Held {
            seq,
            offset: offset + frame::HEADER as u64,
            len: body.len(),
            pushed,
        };
        if let Some(before) = inner.held.insert(key, now) {
            inner.release(before.seq);
        }
        inner.rotate_if_full(&self.dir);
        Ok(())
    }

    /// Makes the record of `execution` (pushed before) survive a crash of the machine.
    /// Nothing to do when it was acknowledged meanwhile, or an earlier sync covered it.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the segment or the directory cannot be synced.
    pub(crate) fn sync(&self, execution: &Execution) -> Result<(), OutboxError> {
        let (file, path, seq, upto, dir_upto) = {
            let inner = self.lock();
            let Some(held) = inner.held.get(&key(execution)).copied() else {
                return Ok(());
            };
            let end = held.offset + held.len as u64;
            let path = segment_path(&self.dir, held.seq);
            let dir_upto = (inner.dir_synced < held.seq).then_some(inner.current.seq);
            if held.seq == inner.current.seq {
                if end <= inner.current.synced && dir_upto.is_none() {
                    return Ok(());
                }
                let file = inner
                    .current
                    .file
                    .try_clone()
                    .map_err(io_error("open", &path))?;
                (file, path, held.seq, Some(inner.current.len), dir_upto)
            } else {
                // An older segment: rare (a record waiting across a rotation).
                let file = File::open(&path).map_err(io_error("open", &path))?;
                (file, path, held.seq, None, dir_upto)
            }
        };
        // Outside the lock: pushes and acks go on while the disk syncs.
        file.sync_data().map_err(io_error("sync", &path))?;
        if let Some(dir_upto) = dir_upto {
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(io_error("sync", &self.dir))?;
            let mut inner = self.lock();
            inner.dir_synced = inner.dir_synced.max(dir_upto);
        }
        if let Some(upto) = upto {
            let mut inner = self.lock();
            if inner.current.seq == seq {
                inner.current.synced = inner.current.synced.max(upto);
            }
        }
        Ok(())
    }

    /// Drops `execution`: a server has it. Acknowledging an execution not held is not an error.
    /// Not fsynced: an ack lost in a crash only means the execution is sent again, and a server
    /// records an execution id once.
    ///
    /// # Errors
    /// [`OutboxError::Io`] when the ack record cannot be written (the execution is dropped
    /// here all the same; a restart would send it once more).
    pub(crate) fn ack(&self, execution: &Execution) -> Result<(), OutboxError> {
        let key = key(execution);
        let mut inner = self.lock();
        let Some(held) = inner.held.remove(&key) else {
            return Ok(());
        };
        inner.release(held.seq);
        if inner.live.get(&held.seq) == Some(&0) && held.seq != inner.current.seq {
            inner.drop_dead_segments(&self.dir);
        }
        // Why no record when the segment is gone: nothing is left to replay it against.
        if inner.live.contains_key(&held.seq) {
            inner.append(&self.dir, &frame::encode(Kind::Ack, key.as_bytes()))?;
            inner.rotate_if_full(&self.dir);
        }
        Ok(())
    }

    /// Every execution waiting, oldest first (by finish time, then start time). Records that
    /// cannot be read back are logged and skipped.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> Vec<Execution> {
        self.pending_for(Duration::ZERO)
    }

    /// [`Outbox::pending`], but only executions pushed at least `age` ago (or found at open):
    /// younger ones are still being delivered by whoever pushed them.
    pub(crate) fn pending_for(&self, age: Duration) -> Vec<Execution> {
        let mut wanted: Vec<Held> = {
            let inner = self.lock();
            inner
                .held
                .values()
                .filter(|held| held.pushed.is_none_or(|at| at.elapsed() >= age))
                .copied()
                .collect()
        };
        wanted.sort_by_key(|held| (held.seq, held.offset));
        let mut executions = Vec::with_capacity(wanted.len());
        let mut open: Option<(u64, File)> = None;
        for held in wanted {
            if open.as_ref().is_none_or(|(seq, _)| *seq != held.seq) {
                let path = segment_path(&self.dir, held.seq);
                match File::open(&path) {
                    Ok(file) => open = Some((held.seq, file)),
                    // Acknowledged and deleted since the list was taken.
                    Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                    Err(error) => {
                        tracing::warn!(%error, path = %path.display(), "outbox: cannot open a segment");
                        continue;
                    }
                }
            }
            let Some((_, file)) = &open else { continue };
            let mut body = vec![0; held.len];
            let read = file
                .read_exact_at(&mut body, held.offset)
                .map_err(|error| error.to_string())
                .and_then(|()| {
                    serde_json::from_slice::<Execution>(&body).map_err(|error| error.to_string())
                });
            match read {
                Ok(execution) => executions.push(execution),
                Err(error) => {
                    tracing::warn!(%error, seq = held.seq, offset = held.offset, "outbox: unreadable record skipped");
                }
            }
        }
        executions.sort_by(|a, b| age_key(a).cmp(&age_key(b)));
        executions
    }
}

/// What identifies a held execution: its job and id (an id is unique within a job).
fn key(execution: &Execution) -> String {
    format!("{}\0{}", execution.job_name, execution.id())
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
