//! The outbox's segment files: the state they describe ([`Inner`]), appending, rotation,
//! deletion once acknowledged, compaction of a stuck record, and replay at open.

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::{self, Write as _},
    os::unix::fs::FileExt as _,
    path::{Path, PathBuf},
    time::Instant,
};

use dkron_model::Execution;

use super::{
    MAX_SEGMENTS, OutboxError, SEGMENT_BYTES, SEGMENT_SUFFIX,
    frame::{self, Kind},
    io_error, key,
};

/// Where a held execution's record is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    pub(super) seq: u64,
    pub(super) offset: u64,
    pub(super) len: usize,
    /// When it was pushed; `None` for one found at open.
    pub(super) pushed: Option<Instant>,
}

/// The segment being appended to.
#[derive(Debug)]
pub(super) struct Current {
    pub(super) seq: u64,
    pub(super) file: File,
    pub(super) len: u64,
    /// Bytes of it known durable (fdatasynced).
    pub(super) synced: u64,
}

/// What the segments on disk hold, kept in memory (under the outbox's mutex).
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) held: HashMap<String, Held>,
    /// Held executions per segment, for every segment on disk (the current one included).
    pub(super) live: BTreeMap<u64, usize>,
    pub(super) current: Current,
    /// Segments up to this one have a durable directory entry.
    pub(super) dir_synced: u64,
}

impl Inner {
    /// Appends `record` to the current segment; returns where it starts. A failed write is
    /// cut off again, so a later record is never behind a torn one.
    pub(super) fn append(&mut self, dir: &Path, record: &[u8]) -> Result<u64, OutboxError> {
        let at = self.current.len;
        if let Err(source) = self.current.file.write_all(record) {
            let path = segment_path(dir, self.current.seq);
            let cut = self
                .current
                .file
                .set_len(at)
                .and_then(|()| self.current.file.sync_data());
            if cut.is_err() {
                // The segment's tail is unknown: continue in a fresh one.
                self.rotate(dir);
            }
            return Err(OutboxError::Io {
                action: "append to",
                path,
                source,
            });
        }
        self.current.len += record.len() as u64;
        Ok(at)
    }

    /// One execution held in segment `seq` was acknowledged or replaced.
    pub(super) fn release(&mut self, seq: u64) {
        if let Some(count) = self.live.get_mut(&seq) {
            *count = count.saturating_sub(1);
        }
    }

    pub(super) fn rotate_if_full(&mut self, dir: &Path) {
        if self.current.len >= SEGMENT_BYTES {
            self.rotate(dir);
        }
    }

    /// Starts a new segment, deletes the dead ones, and compacts the oldest live one when
    /// there are too many.
    fn rotate(&mut self, dir: &Path) {
        let seq = self.current.seq + 1;
        match create_segment(dir, seq) {
            Ok(current) => {
                self.current = current;
                self.live.insert(seq, 0);
            }
            Err(error) => {
                // Appends continue in the old segment; the next rotation tries again.
                tracing::warn!(%error, "outbox: cannot start a new segment");
                return;
            }
        }
        self.drop_dead_segments(dir);
        if self.live.len() > MAX_SEGMENTS {
            self.compact_oldest(dir);
        }
    }

    /// Deletes the oldest segments while they hold nothing (never the current one): oldest
    /// first, so an ack record is never deleted before the push it cancels.
    pub(super) fn drop_dead_segments(&mut self, dir: &Path) {
        while let Some((&seq, &count)) = self.live.first_key_value() {
            if count > 0 || seq == self.current.seq {
                break;
            }
            let path = segment_path(dir, seq);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "outbox: cannot delete a segment");
                    break;
                }
            }
            self.live.remove(&seq);
        }
    }

    /// Copies the held records of the oldest segment into the current one, syncs it, and
    /// deletes the oldest (the copies are durable before the originals go).
    fn compact_oldest(&mut self, dir: &Path) {
        let Some((&oldest, _)) = self.live.first_key_value() else {
            return;
        };
        let path = segment_path(dir, oldest);
        let moving: Vec<(String, Held)> = self
            .held
            .iter()
            .filter(|(_, held)| held.seq == oldest)
            .map(|(key, held)| (key.clone(), *held))
            .collect();
        let copied = (|| -> Result<(), OutboxError> {
            let file = File::open(&path).map_err(io_error("open", &path))?;
            for (key, held) in &moving {
                let mut body = vec![0; held.len];
                file.read_exact_at(&mut body, held.offset)
                    .map_err(io_error("read", &path))?;
                let at = self.append(dir, &frame::encode(Kind::Push, &body))?;
                let seq = self.current.seq;
                *self.live.entry(seq).or_default() += 1;
                let moved = Held {
                    seq,
                    offset: at + frame::HEADER as u64,
                    ..*held
                };
                self.held.insert(key.clone(), moved);
                self.release(oldest);
            }
            let current = segment_path(dir, self.current.seq);
            self.current
                .file
                .sync_data()
                .map_err(io_error("sync", &current))?;
            self.current.synced = self.current.len;
            File::open(dir)
                .and_then(|dir| dir.sync_all())
                .map_err(io_error("sync", dir))?;
            self.dir_synced = self.current.seq;
            Ok(())
        })();
        match copied {
            Ok(()) => self.drop_dead_segments(dir),
            Err(error) => tracing::warn!(%error, "outbox: cannot compact the oldest segment"),
        }
    }
}

/// Replays segment `seq` into `held` and `live`.
pub(super) fn replay(
    dir: &Path,
    seq: u64,
    held: &mut HashMap<String, Held>,
    live: &mut BTreeMap<u64, usize>,
) -> Result<(), OutboxError> {
    let path = segment_path(dir, seq);
    let bytes = std::fs::read(&path).map_err(io_error("read", &path))?;
    let (frames, valid) = frame::decode(&bytes);
    if valid < bytes.len() {
        // A crash mid-append (a torn tail), or damage: what follows cannot be trusted.
        tracing::warn!(path = %path.display(), at = valid, dropped = bytes.len() - valid, "outbox: a segment's tail is torn or corrupt; ignored from there");
    }
    live.insert(seq, 0);
    for record in frames {
        match record.kind {
            Kind::Push => {
                let execution: Execution = match serde_json::from_slice(record.payload) {
                    Ok(execution) => execution,
                    Err(error) => {
                        tracing::warn!(%error, path = %path.display(), at = record.offset, "outbox: unreadable record skipped");
                        continue;
                    }
                };
                let now = Held {
                    seq,
                    offset: record.offset,
                    len: record.payload.len(),
                    pushed: None,
                };
                *live.entry(seq).or_default() += 1;
                if let Some(before) = held.insert(key(&execution), now)
                    && let Some(count) = live.get_mut(&before.seq)
                {
                    *count = count.saturating_sub(1);
                }
            }
            Kind::Ack => {
                let key = String::from_utf8_lossy(record.payload);
                if let Some(before) = held.remove(key.as_ref())
                    && let Some(count) = live.get_mut(&before.seq)
                {
                    *count = count.saturating_sub(1);
                }
            }
        }
    }
    Ok(())
}

pub(super) fn create_segment(dir: &Path, seq: u64) -> Result<Current, OutboxError> {
    let path = segment_path(dir, seq);
    let file = File::options()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(io_error("create", &path))?;
    Ok(Current {
        seq,
        file,
        len: 0,
        synced: 0,
    })
}

pub(super) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}{SEGMENT_SUFFIX}"))
}
