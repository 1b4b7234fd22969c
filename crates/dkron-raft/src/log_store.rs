//! [`LogStore`]: openraft's log storage over `dkron-store`'s raw Raft log.
//!
//! `append` writes the entries (one RocksDB batch, WAL not yet synced) and hands openraft's
//! completion callback to a flusher thread. The flusher takes every callback queued while the
//! previous fsync ran, syncs the WAL once, then completes them all, so appends that overlap
//! share one fsync. Openraft 0.9 itself awaits each append's flush before the next one
//! (`append_to_log` in its core loop) and puts one client write in each entry, so the grouping
//! that matters under load happens earlier: [`crate::RaftNode::write`] packs concurrent writes
//! into one [`crate::Command::Batch`] entry.
//!
//! The flusher thread is owned by the [`LogStore`]: dropping the log store (openraft drops it
//! when [`crate::RaftNode::shutdown`] stops its core, or when the runtime is dropped) closes
//! the queue and joins the thread, so no thread uses RocksDB after the node is gone.
//!
//! The newest entries are also kept decoded in memory ([`Tail`], up to [`TAIL_BYTES`]): under
//! load every entry is read back twice right after its append, by replication to each
//! follower and by the state machine, and serving those reads from memory skips a RocksDB read
//! and a JSON decode each time.
//!
//! Invariants: an `append` is acknowledged only after a WAL sync that started after its write
//! returned (RocksDB's WAL is one sequential file, so the sync covers it); the vote and log
//! truncations are synced before returning. The tail, when not empty, is a run of consecutive
//! entries ending at the last entry of the log, equal to what RocksDB holds for them.

use std::{
    collections::VecDeque,
    fmt::Debug,
    io,
    ops::{Bound, RangeBounds},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
};

use dkron_store::{RAFT_LAST_PURGED, Store};
use openraft::{
    Entry, ErrorSubject, ErrorVerb, LogId, LogState, OptionalSend, RaftLogReader, StorageError,
    Vote,
    storage::{LogFlushed, RaftLogStorage},
};

use crate::{
    codec::{decode, encode, io_error},
    types::{NodeId, TypeConfig},
};

/// `raft_meta` key of the vote.
const VOTE_KEY: &str = "vote";
/// Encoded bytes of the newest entries kept in memory: enough for every entry still in
/// flight to a follower or to the state machine under load (at most two batches of 256
/// writes in flight, ~0.5 MB of job upserts). Decoded entries take about twice their encoded
/// size, and 8 MiB held ~18 MB of heap after a burst of job creation (docs/benchmarks.md,
/// "Memory per stored job: a heap profile"); a follower further behind reads from RocksDB.
const TAIL_BYTES: usize = 2 << 20;

/// Counters of the write path, to show group commit at work: `writes / syncs` is how many
/// client writes one fsync carried on this node.
#[derive(Debug, Default)]
pub struct LogStats {
    appends: AtomicU64,
    entries: AtomicU64,
    bytes: AtomicU64,
    syncs: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) proposals: AtomicU64,
    flusher_running: AtomicBool,
}

/// A copy of [`LogStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStatsSnapshot {
    /// `append` calls.
    pub appends: u64,
    /// Entries appended.
    pub entries: u64,
    /// Encoded bytes of the entries appended.
    pub bytes: u64,
    /// WAL syncs that acknowledged appends.
    pub syncs: u64,
    /// Writes submitted through [`crate::RaftNode::write`] on this node.
    pub writes: u64,
    /// Log entries proposed for them (one per batch).
    pub proposals: u64,
    /// Whether the flusher thread is running (false once the log store is dropped: the thread
    /// has ended).
    pub flusher_running: bool,
}

impl LogStats {
    /// The counters now.
    pub fn snapshot(&self) -> LogStatsSnapshot {
        LogStatsSnapshot {
            appends: self.appends.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            syncs: self.syncs.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            proposals: self.proposals.load(Ordering::Relaxed),
            flusher_running: self.flusher_running.load(Ordering::Acquire),
        }
    }
}

/// The newest entries of the log, decoded, with their encoded sizes (see the module docs).
#[derive(Debug, Default)]
struct Tail {
    entries: VecDeque<(Entry<TypeConfig>, usize)>,
    bytes: usize,
}

impl Tail {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(entry, _)| entry.log_id.index)
    }

    /// Adds an entry just written to the log; a gap before it (after a snapshot) restarts the
    /// tail, and an entry at or before the last one replaces it and what follows.
    fn push(&mut self, entry: Entry<TypeConfig>, size: usize) {
        let index = entry.log_id.index;
        self.truncate_from(index);
        if let Some((last, _)) = self.entries.back()
            && last.log_id.index + 1 != index
        {
            self.entries.clear();
            self.bytes = 0;
        }
        self.entries.push_back((entry, size));
        self.bytes += size;
        while self.bytes > TAIL_BYTES && self.entries.len() > 1 {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
    }

    /// Drops entries at `index` and after.
    fn truncate_from(&mut self, index: u64) {
        while self
            .entries
            .back()
            .is_some_and(|(entry, _)| entry.log_id.index >= index)
        {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Drops entries up to and including `index`.
    fn purge_to(&mut self, index: u64) {
        while self
            .entries
            .front()
            .is_some_and(|(entry, _)| entry.log_id.index <= index)
        {
            if let Some((_, size)) = self.entries.pop_front() {
                self.bytes -= size;
            }
        }
    }

    /// The entries in `range` when the tail holds all of them that exist (the tail ends where
    /// the log does); `None` when the range starts before the tail.
    fn read(&self, range: &impl RangeBounds<u64>) -> Option<Vec<Entry<TypeConfig>>> {
        let first = self.first_index()?;
        let start = match range.start_bound() {
            Bound::Included(&start) => start,
            // Past the largest index: an empty range, which the tail answers.
            Bound::Excluded(&start) => start.saturating_add(1),
            Bound::Unbounded => 0,
        };
        if start < first {
            return None;
        }
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        Some(
            self.entries
                .iter()
                .skip(skip)
                .map(|(entry, _)| entry)
                .take_while(|entry| range.contains(&entry.log_id.index))
                .cloned()
                .collect(),
        )
    }
}

/// The tail shared by the log store and its readers.
#[derive(Debug, Clone, Default)]
struct SharedTail(Arc<Mutex<Tail>>);

impl SharedTail {
    fn lock(&self) -> MutexGuard<'_, Tail> {
        // A panic while holding the lock could leave the tail out of step with RocksDB: start
        // over empty rather than trust it.
        self.0.lock().unwrap_or_else(|poisoned| {
            let mut tail = poisoned.into_inner();
            *tail = Tail::default();
            tail
        })
    }
}

/// The Raft log on `dkron-store` (column families `raft_log`, `raft_meta`).
#[derive(Debug)]
pub struct LogStore {
    store: Store,
    tail: SharedTail,
    /// The flusher's queue; `None` only while dropping (closing it ends the thread).
    flusher: Option<mpsc::Sender<LogFlushed<TypeConfig>>>,
    /// The flusher thread, joined on drop.
    thread: Option<JoinHandle<()>>,
    stats: Arc<LogStats>,
}

/// A cloneable reader of the log, for openraft's replication tasks.
#[derive(Debug, Clone)]
pub struct LogReader {
    store: Store,
    tail: SharedTail,
}

impl LogStore {
    /// A log store on `store`; starts its flusher thread (dropping the log store stops and
    /// joins it).
    ///
    /// # Errors
    /// [`crate::Error::Io`] when the thread cannot be spawned.
    pub fn new(store: Store) -> crate::Result<LogStore> {
        let (flusher, queue) = mpsc::channel::<LogFlushed<TypeConfig>>();
        let stats = Arc::new(LogStats::default());
        let flusher_store = store.clone();
        let flusher_stats = Arc::clone(&stats);
        stats.flusher_running.store(true, Ordering::Release);
        let thread = thread::Builder::new()
            .name("dkron-raft-flush".to_owned())
            .spawn(move || {
                flush_loop(&flusher_store, &queue, &flusher_stats);
                // Why here and not in `Drop`: set by the thread itself, the flag also turns
                // false if the loop ends some other way.
                flusher_stats
                    .flusher_running
                    .store(false, Ordering::Release);
            })
            .map_err(|source| {
                stats.flusher_running.store(false, Ordering::Release);
                crate::Error::Io {
                    context: "spawning the log flusher thread".to_owned(),
                    source,
                }
            })?;
        Ok(LogStore {
            store,
            tail: SharedTail::default(),
            flusher: Some(flusher),
            thread: Some(thread),
            stats,
        })
    }

    /// The write-path counters.
    pub fn stats(&self) -> Arc<LogStats> {
        Arc::clone(&self.stats)
    }
}

impl LogStore {
    /// Writes entries to RocksDB (WAL not synced) and to the tail; returns how many.
    #[expect(
        clippy::result_large_err,
        reason = "the error type is openraft's, fixed by its traits"
    )]
    fn write_entries(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> Result<u64, StorageError<NodeId>> {
        let mut encoded = Vec::new();
        let mut decoded = Vec::new();
        for entry in entries {
            let bytes = encode(&entry, ErrorSubject::Log(entry.log_id))?;
            encoded.push((entry.log_id.index, bytes));
            decoded.push(entry);
        }
        // Under the tail's lock, so that no reader sees the tail and RocksDB disagree.
        let mut tail = self.tail.lock();
        // Not synced here: the flusher syncs once for every append queued meanwhile.
        self.store
            .raft_append(&encoded, false)
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Write, &e))?;
        let mut total = 0;
        for (entry, (_, bytes)) in decoded.into_iter().zip(&encoded) {
            tail.push(entry, bytes.len());
            total += bytes.len() as u64;
        }
        self.stats.bytes.fetch_add(total, Ordering::Relaxed);
        Ok(encoded.len() as u64)
    }
}

impl Drop for LogStore {
    fn drop(&mut self) {
        // Closing the queue ends the loop once the callbacks already queued are completed;
        // joining waits at most for that last WAL sync. Why join: a detached thread could
        // still be inside RocksDB while the process exits and tears the database down.
        drop(self.flusher.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the raft log flusher thread panicked");
        }
    }
}

/// Completes queued append callbacks, one WAL sync for all callbacks queued at that moment.
fn flush_loop(store: &Store, queue: &mpsc::Receiver<LogFlushed<TypeConfig>>, stats: &LogStats) {
    while let Ok(first) = queue.recv() {
        let mut waiting = vec![first];
        waiting.extend(queue.try_iter());
        // Durability: this sync starts after every queued append's write returned, so it covers
        // all of them.
        let result = store.sync_wal();
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        for callback in waiting {
            let outcome = match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(io::Error::other(crate::command::error_chain(error))),
            };
            callback.log_io_completed(outcome);
        }
    }
}

#[expect(
    clippy::result_large_err,
    reason = "the error type is openraft's, fixed by its traits"
)]
fn read_entries(
    store: &Store,
    tail: &SharedTail,
    range: impl RangeBounds<u64>,
) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
    if let Some(entries) = tail.lock().read(&range) {
        return Ok(entries);
    }
    let raw = store
        .raft_entries(range)
        .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
    let mut entries = Vec::with_capacity(raw.len());
    for (index, bytes) in raw {
        let entry: Entry<TypeConfig> = decode(&bytes, ErrorSubject::LogIndex(index))?;
        entries.push(entry);
    }
    Ok(entries)
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        read_entries(&self.store, &self.tail, range)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        read_entries(&self.store, &self.tail, range)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let last_purged_log_id: Option<LogId<NodeId>> = match self
            .store
            .raft_meta_get(RAFT_LAST_PURGED)
            .map_err(|e| io_error(ErrorSubject::Store, ErrorVerb::Read, &e))?
        {
            Some(bytes) => Some(decode(&bytes, ErrorSubject::Store)?),
            None => None,
        };
        let last = self
            .store
            .raft_last_entry()
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
        let last_log_id = match last {
            Some((index, bytes)) => {
                let entry: Entry<TypeConfig> = decode(&bytes, ErrorSubject::LogIndex(index))?;
                Some(entry.log_id)
            }
            // An empty log after a purge ends where the purge did.
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        LogReader {
            store: self.store.clone(),
            tail: self.tail.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let bytes = encode(vote, ErrorSubject::Vote)?;
        // Durability: a vote must survive a crash before it is answered (no double voting).
        self.store
            .raft_meta_put(VOTE_KEY, &bytes, true)
            .map_err(|e| io_error(ErrorSubject::Vote, ErrorVerb::Write, &e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        match self
            .store
            .raft_meta_get(VOTE_KEY)
            .map_err(|e| io_error(ErrorSubject::Vote, ErrorVerb::Read, &e))?
        {
            Some(bytes) => Ok(Some(decode(&bytes, ErrorSubject::Vote)?)),
            None => Ok(None),
        }
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let count = self.write_entries(entries)?;
        self.stats.appends.fetch_add(1, Ordering::Relaxed);
        self.stats.entries.fetch_add(count, Ordering::Relaxed);
        let queued = match &self.flusher {
            Some(flusher) => flusher.send(callback).map_err(|mpsc::SendError(c)| c),
            None => Err(callback),
        };
        if let Err(callback) = queued {
            // The flusher thread is gone (it only ends when this sender is dropped, or by a
            // panic): sync inline rather than never acknowledging.
            let result = self
                .store
                .sync_wal()
                .map_err(|e| io::Error::other(crate::command::error_chain(&e)));
            callback.log_io_completed(result);
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let mut tail = self.tail.lock();
        // Durability: synced, so conflicting entries removed here never reappear after a crash
        // next to entries appended later.
        let result = self
            .store
            .raft_truncate_from(log_id.index, true)
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e));
        match &result {
            Ok(()) => tail.truncate_from(log_id.index),
            // What RocksDB kept is unknown to the tail now: reads go to RocksDB.
            Err(_) => *tail = Tail::default(),
        }
        result
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let bytes = encode(&log_id, ErrorSubject::Log(log_id))?;
        self.tail.lock().purge_to(log_id.index);
        // Not synced: a purge lost in a crash only leaves entries a snapshot already covers.
        self.store
            .raft_purge_to(log_id.index, &bytes, false)
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))
    }
}

#[cfg(test)]
mod tests;
