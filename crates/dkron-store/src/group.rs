//! [`WriteGroup`]: several state-machine operations written as one atomic RocksDB batch, each
//! one seeing the effects of those before it.
//!
//! Why: a Raft entry carries many commands (group commit), and every replica applies each
//! entry. One RocksDB write per command (WAL record, memtable insert, applied position) was
//! the largest cost of a 3-node cluster under load; one write per group removes it.
//!
//! How an operation sees the ones before it: it plans against a [`Tx`], whose reads look in
//! the group's overlay (the writes of the operations already accepted) before RocksDB. Its own
//! writes are staged in the `Tx` and join the overlay and the batch only when it succeeds, so:
//! - an operation never sees its own writes: the view it had when each operation was its own
//!   batch (the operations rely on that, e.g. trimming merges the new execution in by hand);
//! - a refused operation leaves no trace in the group.
//!
//! Invariant: every read through a `Tx` returns what RocksDB would return had each accepted
//! operation been written as its own batch, in order. Plans therefore read only through their
//! `Tx` (never `Store::get`/`Store::db` directly), including the in-memory job index, whose
//! pending changes the group also overlays.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::MutexGuard;

use dkron_model::Job;
use rocksdb::{DB, DBIteratorWithThreadMode, IteratorMode, WriteBatch, WriteOptions};

use crate::{
    Apply, Store, codec,
    error::{Error, Result},
    index::Summary,
    keys::{AppliedKey, Cf, MetaKey},
    store::{IndexChanges, JobReader, encode_applied},
};

/// Operations applied together and written as one atomic batch by [`WriteGroup::commit`].
///
/// Holds the store's writer lock from [`Store::write_group`] until it is committed or
/// dropped; dropping it without committing writes nothing. Each operation returns what the
/// same operation on [`Store`] returns; a refused one ([`Error::is_refusal`]) leaves the group
/// as it was, so the following operations still apply. After any other error the group should
/// be dropped: the storage failed.
pub struct WriteGroup<'s> {
    store: &'s Store,
    _writer: MutexGuard<'s, ()>,
    batch: WriteBatch,
    overlay: Overlay,
    changes: IndexChanges,
    /// Operations accepted so far.
    accepted: usize,
}

impl std::fmt::Debug for WriteGroup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteGroup")
            .field("accepted", &self.accepted)
            .field("batch_bytes", &self.batch.size_in_bytes())
            .finish_non_exhaustive()
    }
}

/// The writes of the accepted operations, as reads should see them.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// The latest write of each key, per family (`Cf::slot`): `Some` a put, `None` a delete.
    points: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; Cf::ALL.len()],
    /// Range deletions `[from, to)`. A point written after one is in `points` and wins; points
    /// written before it were removed from `points` when it was added.
    ranges: Vec<(Cf, Vec<u8>, Vec<u8>)>,
}

impl Overlay {
    /// `Some(value or None)` when the group decides the key, `None` when RocksDB does.
    fn get(&self, cf: Cf, key: &[u8]) -> Option<Option<&[u8]>> {
        if let Some(value) = self.points[cf.slot()].get(key) {
            return Some(value.as_deref());
        }
        self.range_deleted(cf, key).then_some(None)
    }

    fn range_deleted(&self, cf: Cf, key: &[u8]) -> bool {
        self.ranges
            .iter()
            .any(|(c, from, to)| *c == cf && from.as_slice() <= key && key < to.as_slice())
    }

    fn apply(&mut self, write: &Write) {
        match write {
            Write::Put(cf, key, value) => {
                self.points[cf.slot()].insert(key.clone(), Some(value.clone()));
            }
            Write::Delete(cf, key) => {
                self.points[cf.slot()].insert(key.clone(), None);
            }
            Write::DeleteRange(cf, from, to) => {
                if from < to {
                    let points = &mut self.points[cf.slot()];
                    let mut tail = points.split_off(from.as_slice());
                    let mut after = tail.split_off(to.as_slice());
                    points.append(&mut after);
                    self.ranges.push((*cf, from.clone(), to.clone()));
                }
            }
        }
    }
}

/// One staged write of an operation.
#[derive(Debug)]
enum Write {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

/// What one operation plans against: reads through the group's overlay, writes staged.
pub(crate) struct Tx<'g> {
    store: &'g Store,
    overlay: &'g Overlay,
    group_changes: &'g IndexChanges,
    writes: Vec<Write>,
    changes: IndexChanges,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("writes", &self.writes.len())
            .finish_non_exhaustive()
    }
}

impl<'g> Tx<'g> {
    /// The value of `key`, as of the operations accepted before this one.
    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.overlay.get(cf, key) {
            Some(value) => Ok(value.map(<[u8]>::to_vec)),
            None => self.store.get(cf, key),
        }
    }

    /// Keys and values in `[lower, upper)`, ascending, or descending with `reverse`, as of the
    /// operations accepted before this one.
    pub(crate) fn scan(&self, cf: Cf, lower: Vec<u8>, upper: Vec<u8>, reverse: bool) -> Scan<'g> {
        let points = &self.overlay.points[cf.slot()];
        let mut written: Vec<(Vec<u8>, Vec<u8>)> = points
            .range::<[u8], _>((
                Bound::Included(lower.as_slice()),
                Bound::Excluded(upper.as_slice()),
            ))
            .filter_map(|(key, value)| Some((key.clone(), value.clone()?)))
            .collect();
        if reverse {
            written.reverse();
        }
        let ranges = self
            .overlay
            .ranges
            .iter()
            .filter(|(c, from, to)| *c == cf && *from < upper && lower < *to)
            .map(|(_, from, to)| (from.clone(), to.clone()))
            .collect();
        let mode = if reverse {
            IteratorMode::End
        } else {
            IteratorMode::Start
        };
        let db =
            self.store
                .db()
                .iterator_cf_opt(self.store.cf(cf), Store::bounded(lower, upper), mode);
        Scan {
            db: db.peekable(),
            written: written.into_iter().peekable(),
            points,
            ranges,
            reverse,
        }
    }

    /// `read` of job `name`'s summary in the job index, as of the operations accepted before
    /// this one; `None` when there is no such job.
    pub(crate) fn indexed<T>(&self, name: &str, read: impl FnOnce(&Summary) -> T) -> Option<T> {
        match self.group_changes.get(name) {
            Some(pending) => pending.map(read),
            None => self.store.index_read().get(name).map(read),
        }
    }

    pub(crate) fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push(Write::Put(cf, key.into(), value.into()));
    }

    /// Encodes and puts a job, and records its new summary for the job index.
    pub(crate) fn put_job(&mut self, job: &Job) -> Result<()> {
        self.put(Cf::Jobs, job.name.as_bytes(), codec::encode(Cf::Jobs, job)?);
        self.changes.upsert(job);
        Ok(())
    }

    pub(crate) fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        self.writes.push(Write::Delete(cf, key.into()));
    }

    pub(crate) fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        self.writes.push(Write::DeleteRange(cf, from, to));
    }

    /// Records that the job is removed from the job index.
    pub(crate) fn unindex_job(&mut self, name: &str) {
        self.changes.remove(name);
    }
}

impl JobReader for Tx<'_> {
    fn value(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get(cf, key)
    }
}

/// A merged scan: RocksDB's keys in range, minus those the group deleted or rewrote, plus the
/// group's puts in range, in key order.
pub(crate) struct Scan<'g> {
    db: Peekable<DBIteratorWithThreadMode<'g, DB>>,
    written: Peekable<std::vec::IntoIter<(Vec<u8>, Vec<u8>)>>,
    points: &'g BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    ranges: Vec<(Vec<u8>, Vec<u8>)>,
    reverse: bool,
}

impl std::fmt::Debug for Scan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("reverse", &self.reverse)
            .finish_non_exhaustive()
    }
}

impl Scan<'_> {
    /// Skips RocksDB keys the group decides (rewritten, deleted or range-deleted).
    fn skip_shadowed(&mut self) {
        while let Some(Ok((key, _))) = self.db.peek() {
            let shadowed = self.points.contains_key(&**key)
                || self
                    .ranges
                    .iter()
                    .any(|(from, to)| from.as_slice() <= &**key && &**key < to.as_slice());
            if !shadowed {
                return;
            }
            self.db.next();
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.skip_shadowed();
        let take_written = match (self.db.peek(), self.written.peek()) {
            (None, None) => return None,
            (Some(Err(_)), _) | (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(Ok((db_key, _))), Some((written_key, _))) => {
                // Never equal: equal keys are shadowed above.
                (written_key.as_slice() < &**db_key) != self.reverse
            }
        };
        if take_written {
            return self.written.next().map(Ok);
        }
        self.db.next().map(|item| {
            item.map(|(key, value)| (key.into_vec(), value.into_vec()))
                .map_err(Error::from)
        })
    }
}

impl Store {
    /// Starts a group of operations written as one atomic batch (see [`WriteGroup`]). Takes
    /// the store's writer lock until the group is committed or dropped.
    pub fn write_group(&self) -> WriteGroup<'_> {
        WriteGroup {
            store: self,
            _writer: self.writer(),
            batch: WriteBatch::default(),
            overlay: Overlay::default(),
            changes: IndexChanges::default(),
            accepted: 0,
        }
    }

    /// Runs one operation as its own group: written with `apply` when it succeeds. When it is
    /// refused and `apply` carries a Raft position, the position alone is still written: the
    /// refusal is the entry's outcome, and re-applying it after a restart must not be needed.
    pub(crate) fn commit<T>(
        &self,
        apply: &Apply,
        plan: impl FnOnce(&Store, &mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut group = self.write_group();
        match group.run(plan) {
            Ok(outcome) => {
                group.commit(apply)?;
                Ok(outcome)
            }
            Err(error) if error.is_refusal() && apply.applied.is_some() => {
                group.commit(apply)?;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }
}

impl WriteGroup<'_> {
    /// Plans one operation against the group; accepts its writes when it succeeds.
    pub(crate) fn run<T>(
        &mut self,
        plan: impl FnOnce(&Store, &mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut tx = Tx {
            store: self.store,
            overlay: &self.overlay,
            group_changes: &self.changes,
            writes: Vec::new(),
            changes: IndexChanges::default(),
        };
        let outcome = plan(self.store, &mut tx)?;
        let Tx {
            writes, changes, ..
        } = tx;
        for write in &writes {
            match write {
                Write::Put(cf, key, value) => self.batch.put_cf(self.store.cf(*cf), key, value),
                Write::Delete(cf, key) => self.batch.delete_cf(self.store.cf(*cf), key),
                Write::DeleteRange(cf, from, to) => {
                    self.batch.delete_range_cf(self.store.cf(*cf), from, to);
                }
            }
            self.overlay.apply(write);
        }
        self.changes.extend(changes);
        self.accepted += 1;
        Ok(outcome)
    }

    /// Operations accepted so far (refused ones are not counted).
    pub fn accepted(&self) -> usize {
        self.accepted
    }

    /// Bytes of the batch built so far: callers bound a group's memory with it.
    pub fn batch_bytes(&self) -> usize {
        self.batch.size_in_bytes()
    }

    /// Writes every accepted operation and `apply`'s Raft position as one atomic batch (synced
    /// when `apply.durable`), then updates the job index. Writes nothing when there is nothing
    /// to write.
    ///
    /// # Errors
    /// [`Error::Rocks`]: nothing was written.
    pub fn commit(self, apply: &Apply) -> Result<()> {
        let WriteGroup {
            store,
            _writer,
            mut batch,
            changes,
            ..
        } = self;
        if let Some(applied) = &apply.applied {
            batch.put_cf(store.cf(Cf::Meta), AppliedKey::KEY, encode_applied(applied));
        }
        if batch.is_empty() && !apply.durable {
            return Ok(());
        }
        let mut write_options = WriteOptions::default();
        // Durability: with `sync` RocksDB fsyncs the WAL before `write_opt` returns, so a
        // durable write is on disk when the caller is told it succeeded.
        write_options.set_sync(apply.durable);
        store.db().write_opt(batch, &write_options)?;
        // Still under the writer lock: the index never runs behind a later group's reads.
        store.apply_index_changes(changes);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
