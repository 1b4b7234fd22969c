//! [`Store`]: opening the database, checking its format, and the write path every state-machine
//! operation goes through ([`Store::commit`]).

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use dkron_model::{Job, Limits};
use rocksdb::{
    BlockBasedIndexType, BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB,
    DBCompressionType, Env, IteratorMode, ReadOptions, WriteOptions,
};

use crate::{
    codec,
    error::{Error, Result},
    index::{JobIndex, Summary},
    keys::{AppliedKey, Cf, FormatVersionKey, ImportMarkerKey, MetaKey, printable},
};

/// On-disk format this build reads and writes, stored under `meta/format_version` and checked
/// at open. Bump it (with a migration) whenever a key or value layout changes.
pub const FORMAT_VERSION: u32 = 1;

/// Name of the RocksDB directory inside the store directory.
const DB_DIR: &str = "rocksdb";

/// Name of the spooled snapshot being imported, inside the store directory.
pub(crate) const IMPORT_SPOOL: &str = "snapshot-import.spool";

/// How to open a [`Store`]: memory budgets and the node-wide per-job limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Defaults for jobs that set no `history_limit`/`output_limit`.
    pub limits: Limits,
    /// Shared LRU block cache for all column families (also holds index and filter blocks).
    pub block_cache_bytes: usize,
    /// Memtable size per column family before it is flushed.
    pub write_buffer_bytes: usize,
    /// Cap on all memtables together.
    pub total_write_buffer_bytes: usize,
}

impl Default for Options {
    /// dkron's limits; 16 MiB block cache; 4 MiB memtables, 32 MiB in all. Small on purpose:
    /// the goal is ≤ 2.2 KB of resident memory per stored job at 100k jobs.
    fn default() -> Options {
        Options {
            limits: Limits::DKRON,
            block_cache_bytes: 16 << 20,
            write_buffer_bytes: 4 << 20,
            total_write_buffer_bytes: 32 << 20,
        }
    }
}

impl Options {
    /// Sets the node-wide per-job limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Options {
        self.limits = limits;
        self
    }

    /// Sets the block cache size.
    #[must_use]
    pub fn with_block_cache_bytes(mut self, bytes: usize) -> Options {
        self.block_cache_bytes = bytes;
        self
    }

    /// Sets the per-family memtable size and the total cap.
    #[must_use]
    pub fn with_write_buffers(mut self, per_family: usize, total: usize) -> Options {
        self.write_buffer_bytes = per_family;
        self.total_write_buffer_bytes = total;
        self
    }
}

/// The Raft position a state-machine write applies: written in the same batch as its effect,
/// because openraft requires `last_applied` to be atomic with the state it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftApplied {
    /// Log index of the applied entry.
    pub index: u64,
    /// Opaque bytes owned by `dkron-raft` (log id, membership, …).
    pub bytes: Vec<u8>,
}

/// How a state-machine write is committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Apply {
    /// Raft position recorded in the same batch, if the write comes from the Raft log.
    pub applied: Option<RaftApplied>,
    /// Sync the WAL before returning.
    pub durable: bool,
}

impl Apply {
    /// Not from Raft, not synced (tests, tools, a state machine that syncs elsewhere).
    pub fn local() -> Apply {
        Apply {
            applied: None,
            durable: false,
        }
    }

    /// Not from Raft, synced before returning.
    pub fn durable() -> Apply {
        Apply {
            applied: None,
            durable: true,
        }
    }

    /// From the Raft log at `applied`.
    pub fn raft(applied: RaftApplied, durable: bool) -> Apply {
        Apply {
            applied: Some(applied),
            durable,
        }
    }
}

/// The store: one RocksDB, cheap to clone (an `Arc` inside).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: DB,
    pub(crate) dir: PathBuf,
    pub(crate) options: Options,
    /// Serialises state-machine writes: each reads, decides and writes one batch.
    pub(crate) writer: Mutex<()>,
    /// Summaries and sort orders of all jobs; updated after each successful job write.
    pub(crate) index: RwLock<JobIndex>,
    /// Kept alive as long as the database that uses it.
    _cache: Cache,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Index changes a committed batch implies, applied after the write succeeded: the latest
/// summary of each job written (`None`: removed). Only the latest counts, since the index is
/// keyed by name; it is also what later operations of a write group look up.
#[derive(Debug, Default)]
pub(crate) struct IndexChanges {
    latest: HashMap<Box<str>, Option<Summary>>,
}

impl IndexChanges {
    pub(crate) fn upsert(&mut self, job: &Job) {
        self.latest
            .insert(job.name.as_str().into(), Some(Summary::of(job)));
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.latest.insert(name.into(), None);
    }

    /// The pending change of job `name`: `Some(None)` when it is removed, `None` when there is
    /// no change.
    pub(crate) fn get(&self, name: &str) -> Option<Option<&Summary>> {
        self.latest.get(name).map(Option::as_ref)
    }

    /// Adds `later`'s changes over these.
    pub(crate) fn extend(&mut self, later: IndexChanges) {
        self.latest.extend(later.latest);
    }
}

impl Store {
    /// Opens (creating if needed) the store in directory `dir`: RocksDB lives in
    /// `dir/rocksdb`. Checks the format version, finishes an interrupted snapshot import, and
    /// builds the in-memory job index from the `jobs` family.
    ///
    /// # Errors
    /// [`Error::FormatVersion`] for a database of another format, [`Error::Corrupt`] when a job
    /// cannot be decoded, [`Error::Rocks`]/[`Error::Io`] for storage failures.
    pub fn open(dir: &Path, options: Options) -> Result<Store> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut db_options = rocksdb::Options::default();
        db_options.create_if_missing(true);
        db_options.create_missing_column_families(true);
        db_options.set_db_write_buffer_size(options.total_write_buffer_bytes);
        // Few open files keep table-reader memory (index blocks outside the cache) bounded.
        db_options.set_max_open_files(256);
        db_options.set_keep_log_file_num(4);
        // Compactions at the lowest CPU and I/O priority: every server compacts the same data
        // at about the same moment (0.3-0.7 s of a core every few seconds each at 1,667 fires a
        // second), and at normal priority that took the cores from the launches and commits
        // of runs due then. Flushes keep their priority: a memtable waiting for its flush
        // stalls writes.
        let mut env = Env::new()?;
        env.lower_thread_pool_cpu_priority();
        env.lower_thread_pool_io_priority();
        db_options.set_env(&env);
        let families = Cf::ALL
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), family_options(cf, &options, &cache)));
        let db = DB::open_cf_descriptors(&db_options, dir.join(DB_DIR), families)?;
        let store = Store {
            inner: Arc::new(Inner {
                db,
                dir: dir.to_owned(),
                options,
                writer: Mutex::new(()),
                index: RwLock::new(JobIndex::default()),
                _cache: cache,
            }),
        };
        store.check_format()?;
        if store.meta_get::<ImportMarkerKey>()?.is_some() {
            // Why: a crash interrupted an import; the verified spool is still there, so
            // replaying it finishes the replacement instead of leaving half a state.
            store.resume_import()?;
        }
        store.rebuild_index()?;
        Ok(store)
    }

    /// The store directory given to [`Store::open`].
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Syncs the WAL: every write that returned before this call is durable when it returns.
    /// For callers that write with `durable: false` and acknowledge later (openraft's `append`).
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn sync_wal(&self) -> Result<()> {
        // Durability: fsync of the WAL, covering all earlier writes.
        self.inner.db.flush_wal(true)?;
        Ok(())
    }

    /// Bytes the replicated state takes in SST files (the families a snapshot carries; what
    /// is still only in memtables is not counted). An estimate, for deciding when a snapshot
    /// is worth its cost.
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn state_size_bytes(&self) -> Result<u64> {
        let mut total = 0u64;
        for cf in Cf::STATE {
            let size = self
                .inner
                .db
                .property_int_value_cf(self.cf(cf), "rocksdb.total-sst-files-size")?;
            total = total.saturating_add(size.unwrap_or(0));
        }
        Ok(total)
    }

    /// Records only the Raft position (for blank and membership entries).
    ///
    /// # Errors
    /// [`Error::Rocks`].
    pub fn record_applied(&self, apply: &Apply) -> Result<()> {
        self.write_group().commit(apply)
    }

    /// The last Raft position applied to the state, if any.
    ///
    /// # Errors
    /// [`Error::Corrupt`] or [`Error::Rocks`].
    pub fn applied(&self) -> Result<Option<RaftApplied>> {
        let Some(bytes) = self.meta_get::<AppliedKey>()? else {
            return Ok(None);
        };
        decode_applied(&bytes).map(Some)
    }

    pub(crate) fn cf(&self, cf: Cf) -> &ColumnFamily {
        // Invariant: `open` created every family of `Cf::ALL`.
        self.inner
            .db
            .cf_handle(cf.name())
            .expect("column family created at open")
    }

    pub(crate) fn db(&self) -> &DB {
        &self.inner.db
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock cannot leave a half-written batch (batches are atomic),
        // so a poisoned lock is safe to take over.
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn index_read(&self) -> RwLockReadGuard<'_, JobIndex> {
        self.inner
            .index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn index_write(&self) -> RwLockWriteGuard<'_, JobIndex> {
        self.inner
            .index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.db.get_cf(self.cf(cf), key)?)
    }

    pub(crate) fn meta_get<K: MetaKey>(&self) -> Result<Option<Vec<u8>>> {
        self.get(Cf::Meta, K::KEY)
    }

    pub(crate) fn apply_index_changes(&self, changes: IndexChanges) {
        if changes.latest.is_empty() {
            return;
        }
        let mut index = self.index_write();
        for (name, change) in changes.latest {
            match change {
                Some(summary) => index.upsert(summary),
                None => {
                    index.remove(&name);
                }
            }
        }
    }

    /// Rebuilds the job index from the `jobs` family.
    pub(crate) fn rebuild_index(&self) -> Result<()> {
        let mut jobs = self
            .inner
            .db
            .iterator_cf(self.cf(Cf::Jobs), IteratorMode::Start);
        let mut failed = None;
        // Summaries go straight into the index's segments: no vector of all of them first
        // (28 MB at 100k jobs, doubling as it grows).
        let summaries = std::iter::from_fn(|| {
            let summary = jobs.next()?.map_err(Error::from).and_then(|(key, value)| {
                let job: Job = codec::decode(Cf::Jobs, &key, &value)?;
                if job.name.as_bytes() != &*key {
                    return Err(Error::Corrupt {
                        cf: Cf::Jobs.name(),
                        key: printable(&key),
                        reason: format!("stored job is named `{}`", job.name),
                    });
                }
                Ok(Summary::of(&job))
            });
            summary.map_err(|error| failed = Some(error)).ok()
        });
        let index = JobIndex::build(summaries);
        if let Some(error) = failed {
            return Err(error);
        }
        *self.index_write() = index;
        Ok(())
    }

    /// Checks `meta/format_version`; writes it into a new, empty database.
    fn check_format(&self) -> Result<()> {
        match self.meta_get::<FormatVersionKey>()? {
            Some(bytes) => {
                let found = match <[u8; 4]>::try_from(bytes.as_slice()) {
                    Ok(array) => u32::from_be_bytes(array),
                    Err(_) => {
                        return Err(Error::Corrupt {
                            cf: Cf::Meta.name(),
                            key: printable(FormatVersionKey::KEY),
                            reason: format!("expected 4 bytes, found {}", bytes.len()),
                        });
                    }
                };
                if found != FORMAT_VERSION {
                    return Err(Error::FormatVersion {
                        found,
                        expected: FORMAT_VERSION,
                    });
                }
                Ok(())
            }
            None => {
                for cf in Cf::ALL {
                    if self
                        .inner
                        .db
                        .iterator_cf(self.cf(cf), IteratorMode::Start)
                        .next()
                        .is_some()
                    {
                        // Data without a version: not ours, or damaged. Never guess.
                        return Err(Error::FormatVersion {
                            found: 0,
                            expected: FORMAT_VERSION,
                        });
                    }
                }
                let mut write_options = WriteOptions::default();
                // Durability: the version is synced so a new database is never seen without it.
                write_options.set_sync(true);
                self.inner.db.put_cf_opt(
                    self.cf(Cf::Meta),
                    FormatVersionKey::KEY,
                    FORMAT_VERSION.to_be_bytes(),
                    &write_options,
                )?;
                Ok(())
            }
        }
    }

    /// Read options bounded to `[lower, upper)`.
    pub(crate) fn bounded(lower: Vec<u8>, upper: Vec<u8>) -> ReadOptions {
        let mut read_options = ReadOptions::default();
        read_options.set_iterate_lower_bound(lower);
        read_options.set_iterate_upper_bound(upper);
        read_options
    }
}

/// Reading jobs, the same straight from RocksDB ([`Store`]) or through a write group's view
/// ([`crate::group::Tx`]).
pub(crate) trait JobReader {
    /// The stored value of `key` in `cf`.
    fn value(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Reads and decodes a job.
    fn load_job(&self, name: &str) -> Result<Option<Job>> {
        let Some(bytes) = self.value(Cf::Jobs, name.as_bytes())? else {
            return Ok(None);
        };
        codec::decode(Cf::Jobs, name.as_bytes(), &bytes).map(Some)
    }

    /// Reads a job that must exist.
    fn require_job(&self, name: &str) -> Result<Job> {
        self.load_job(name)?.ok_or_else(|| Error::JobNotFound {
            job: name.to_owned(),
        })
    }
}

impl JobReader for Store {
    fn value(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get(cf, key)
    }
}

fn family_options(cf: Cf, options: &Options, cache: &Cache) -> rocksdb::Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    // Index and filter blocks count against the cache instead of growing outside it.
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks_with_high_priority(true);
    if matches!(cf, Cf::Executions | Cf::Indexes) {
        // Partitioned in the families that grow with history: a lookup loads one 4 KiB
        // partition of a file's index and filter, not the whole (megabytes for a large file).
        // Whole blocks competed with data for the small cache and every miss re-read and
        // re-checksummed one: with ~100 MB of history, looking up a new execution's (absent)
        // key cost more than the rest of the write path together. The other families stay
        // small enough for whole blocks, which save a level of lookup.
        table.set_index_type(BlockBasedIndexType::TwoLevelIndexSearch);
        table.set_partition_filters(true);
        table.set_metadata_block_size(4096);
        table.set_pin_top_level_index_and_filter(true);
    }
    let mut family = rocksdb::Options::default();
    family.set_block_based_table_factory(&table);
    family.set_write_buffer_size(options.write_buffer_bytes);
    family.set_max_write_buffer_number(2);
    family.set_compression_type(match cf {
        // Raft entries are short-lived; skip compressing them.
        Cf::RaftLog => DBCompressionType::None,
        _ => DBCompressionType::Lz4,
    });
    family
}

pub(crate) fn encode_applied(applied: &RaftApplied) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + applied.bytes.len());
    out.extend_from_slice(&applied.index.to_be_bytes());
    out.extend_from_slice(&applied.bytes);
    out
}

pub(crate) fn decode_applied(bytes: &[u8]) -> Result<RaftApplied> {
    let Some((index, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(Error::Corrupt {
            cf: Cf::Meta.name(),
            key: printable(AppliedKey::KEY),
            reason: "shorter than a log index".to_owned(),
        });
    };
    Ok(RaftApplied {
        index: u64::from_be_bytes(*index),
        bytes: rest.to_vec(),
    })
}
