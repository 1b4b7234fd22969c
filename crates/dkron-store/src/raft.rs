//! The Raft log and Raft meta, as opaque bytes: `dkron-raft` encodes entries, votes and log
//! ids; this module only stores them under big-endian indexes and named keys.

use std::ops::{Bound, RangeBounds};

use rocksdb::{IteratorMode, WriteBatch, WriteOptions};

use crate::{
    Store,
    error::{Error, Result},
    keys::{self, Cf},
};

/// `raft_meta` key of the last purged log id, written by [`Store::raft_purge_to`].
pub const RAFT_LAST_PURGED: &str = "last_purged";

impl Store {
    /// Appends (or overwrites) log entries `(index, bytes)` in one atomic batch. With
    /// `durable`, the WAL is synced before returning; otherwise call [`Store::sync_wal`] before
    /// acknowledging.
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn raft_append(&self, entries: &[(u64, Vec<u8>)], durable: bool) -> Result<()> {
        let cf = self.cf(Cf::RaftLog);
        let mut batch = WriteBatch::default();
        for (index, bytes) in entries {
            batch.put_cf(cf, keys::raft_log_key(*index), bytes);
        }
        self.write_raft(batch, durable)
    }

    /// Entries with indexes in `range`, in index order.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for a malformed key, [`Error::Rocks`].
    pub fn raft_entries(&self, range: impl RangeBounds<u64>) -> Result<Vec<(u64, Vec<u8>)>> {
        let start = match range.start_bound() {
            Bound::Included(&index) => Some(index),
            Bound::Excluded(&index) => index.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match range.end_bound() {
            Bound::Included(&index) => index.checked_add(1),
            Bound::Excluded(&index) => Some(index),
            Bound::Unbounded => None,
        };
        self.raft_entries_between(start, end)
    }

    /// Non-generic body of [`Store::raft_entries`]: `[start, end)`, `end == None` = to the end.
    fn raft_entries_between(
        &self,
        start: Option<u64>,
        end: Option<u64>,
    ) -> Result<Vec<(u64, Vec<u8>)>> {
        let Some(start) = start else {
            return Ok(Vec::new());
        };
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let mut read_options = rocksdb::ReadOptions::default();
        read_options.set_iterate_lower_bound(keys::raft_log_key(start).to_vec());
        if let Some(end) = end {
            read_options.set_iterate_upper_bound(keys::raft_log_key(end).to_vec());
        }
        let mut entries = Vec::new();
        for item in
            self.db()
                .iterator_cf_opt(self.cf(Cf::RaftLog), read_options, IteratorMode::Start)
        {
            let (key, value) = item?;
            entries.push((raft_index(&key)?, value.into_vec()));
        }
        Ok(entries)
    }

    /// The last entry of the log, if any.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn raft_last_entry(&self) -> Result<Option<(u64, Vec<u8>)>> {
        match self
            .db()
            .iterator_cf(self.cf(Cf::RaftLog), IteratorMode::End)
            .next()
        {
            Some(item) => {
                let (key, value) = item?;
                Ok(Some((raft_index(&key)?, value.into_vec())))
            }
            None => Ok(None),
        }
    }

    /// Index of the last entry of the log, if any.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn raft_last_index(&self) -> Result<Option<u64>> {
        Ok(self.raft_last_entry()?.map(|(index, _)| index))
    }

    /// Deletes entries at `index` and after (conflicting suffix).
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn raft_truncate_from(&self, index: u64, durable: bool) -> Result<()> {
        let mut batch = WriteBatch::default();
        let cf = self.cf(Cf::RaftLog);
        batch.delete_range_cf(cf, keys::raft_log_key(index), keys::raft_log_key(u64::MAX));
        // The range end is exclusive: the last possible index is deleted by itself.
        batch.delete_cf(cf, keys::raft_log_key(u64::MAX));
        self.write_raft(batch, durable)
    }

    /// Deletes entries up to and including `index`, recording `last_purged` (the encoded log id)
    /// under [`RAFT_LAST_PURGED`].
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn raft_purge_to(&self, index: u64, last_purged: &[u8], durable: bool) -> Result<()> {
        let mut batch = WriteBatch::default();
        // Invariant: the last-purged marker is written before (and here atomically with) the
        // range delete, so a reader never sees the entries gone without knowing they were
        // purged; otherwise the log would look like it starts later than it does.
        batch.put_cf(self.cf(Cf::RaftMeta), RAFT_LAST_PURGED, last_purged);
        match index.checked_add(1) {
            Some(end) => batch.delete_range_cf(
                self.cf(Cf::RaftLog),
                keys::raft_log_key(0),
                keys::raft_log_key(end),
            ),
            None => {
                batch.delete_range_cf(
                    self.cf(Cf::RaftLog),
                    keys::raft_log_key(0),
                    keys::raft_log_key(u64::MAX),
                );
                batch.delete_cf(self.cf(Cf::RaftLog), keys::raft_log_key(u64::MAX));
            }
        }
        self.write_raft(batch, durable)
    }

    /// Stores a Raft meta value (vote, committed, …).
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn raft_meta_put(&self, key: &str, value: &[u8], durable: bool) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(Cf::RaftMeta), key, value);
        self.write_raft(batch, durable)
    }

    /// Reads a Raft meta value.
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn raft_meta_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get(Cf::RaftMeta, key.as_bytes())
    }

    /// Deletes a Raft meta value.
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn raft_meta_delete(&self, key: &str, durable: bool) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(Cf::RaftMeta), key);
        self.write_raft(batch, durable)
    }

    fn write_raft(&self, batch: WriteBatch, durable: bool) -> Result<()> {
        let mut write_options = WriteOptions::default();
        // Durability: `sync` makes RocksDB fsync the WAL before returning (votes and appended
        // entries must be on disk before Raft acknowledges them).
        write_options.set_sync(durable);
        self.db().write_opt(batch, &write_options)?;
        Ok(())
    }
}

fn raft_index(key: &[u8]) -> Result<u64> {
    keys::parse_raft_log_key(key).ok_or_else(|| Error::Corrupt {
        cf: Cf::RaftLog.name(),
        key: keys::printable(key),
        reason: "log key is not 8 bytes".to_owned(),
    })
}
