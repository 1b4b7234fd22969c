//! Snapshots for the consensus layer: a consistent point-in-time export of the state-machine
//! families (jobs, executions, indexes, stats, launches, members, and the `applied` and `paused`
//! meta entries; never the Raft log or Raft meta), streamed, and an import that replaces the state.
//!
//! Stream format (all numbers big-endian):
//!
//! ```text
//! header  "DKRONSNP" | snapshot format u32 (= 1) | store FORMAT_VERSION u32
//! record  family tag u8 (1..=9, see keys::Cf::tag) | key len u32 | key | value len u32 | value
//! trailer 0u8 | record count u64 | CRC-32 (IEEE) u32 of every byte before it
//! ```
//!
//! A truncated or altered stream fails the trailer check, so it is an error, never silent loss.
//!
//! Import is crash-safe in two phases: the stream is first spooled to a file next to the
//! database while it is verified (a bad stream leaves the state untouched), then an
//! "import in progress" marker is synced, the state is cleared and reloaded from the spool, and
//! the marker is removed in the final synced batch. [`Store::open`] replays a spool whose marker
//! is still present, so a crash mid-import finishes the import instead of leaving half a state.
//! Readers running during an import may see a partial state.

use std::{
    fs::{self, File},
    io::{self, BufReader, BufWriter, Read, Write},
    path::Path,
};

use rocksdb::{IteratorMode, ReadOptions, WriteBatch, WriteOptions};

use crate::{
    RaftApplied, Store,
    error::{Error, Result},
    keys::{AppliedKey, Cf, ImportMarkerKey, MetaKey, PausedKey},
    paused::decode_paused,
    store::{FORMAT_VERSION, IMPORT_SPOOL, decode_applied},
};

const MAGIC: &[u8; 8] = b"DKRONSNP";
const SNAPSHOT_FORMAT: u32 = 1;
const TRAILER_TAG: u8 = 0;
/// Largest key and value a stream may declare; larger lengths mean a corrupt stream (and must
/// not turn into huge allocations).
const MAX_KEY: u32 = 1 << 16;
const MAX_VALUE: u32 = 1 << 28;
/// Size of the batches an import writes.
const IMPORT_BATCH_BYTES: usize = 4 << 20;

/// What a snapshot export or import covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The Raft position the snapshot's state reflects (read from the same point in time).
    pub applied: Option<RaftApplied>,
    /// Key-value records in the stream.
    pub records: u64,
    /// Bytes of the stream.
    pub bytes: u64,
}

impl Store {
    /// Streams a consistent point-in-time copy of the state (jobs, executions, indexes, stats,
    /// launches, members, the paused flag and the applied Raft position) to `out`. Memory use is one record at a time.
    ///
    /// # Errors
    /// [`Error::Io`] when `out` fails, [`Error::Rocks`].
    pub fn export_snapshot(&self, out: &mut dyn Write) -> Result<SnapshotInfo> {
        let io_error = |source| Error::Io {
            path: "<snapshot output>".into(),
            source,
        };
        // Invariant: every read below goes through this one RocksDB snapshot, so the stream is
        // one point in time even while writes continue.
        let snapshot = self.db().snapshot();
        let mut writer = CrcWriter {
            inner: BufWriter::with_capacity(1 << 16, out),
            crc: Crc32::new(),
            bytes: 0,
        };
        writer.write_all(MAGIC).map_err(io_error)?;
        writer
            .write_all(&SNAPSHOT_FORMAT.to_be_bytes())
            .map_err(io_error)?;
        writer
            .write_all(&FORMAT_VERSION.to_be_bytes())
            .map_err(io_error)?;
        let mut records = 0u64;
        for cf in Cf::STATE {
            for item in snapshot.iterator_cf_opt(self.cf(cf), full_scan(), IteratorMode::Start) {
                let (key, value) = item?;
                write_record(&mut writer, cf, &key, &value).map_err(io_error)?;
                records += 1;
            }
        }
        if let Some(bytes) = snapshot.get_cf(self.cf(Cf::Meta), PausedKey::KEY)? {
            write_record(&mut writer, Cf::Meta, PausedKey::KEY, &bytes).map_err(io_error)?;
            records += 1;
        }
        let applied = snapshot.get_cf(self.cf(Cf::Meta), AppliedKey::KEY)?;
        if let Some(bytes) = &applied {
            write_record(&mut writer, Cf::Meta, AppliedKey::KEY, bytes).map_err(io_error)?;
            records += 1;
        }
        writer.write_all(&[TRAILER_TAG]).map_err(io_error)?;
        writer.write_all(&records.to_be_bytes()).map_err(io_error)?;
        let crc = writer.crc.finish();
        writer.write_all(&crc.to_be_bytes()).map_err(io_error)?;
        writer.inner.flush().map_err(io_error)?;
        let applied = applied.as_deref().map(decode_applied).transpose()?;
        Ok(SnapshotInfo {
            applied,
            records,
            bytes: writer.bytes,
        })
    }

    /// Replaces the whole state (not the Raft log or Raft meta) with the snapshot read from
    /// `input`, including the applied Raft position. The stream is verified in full before the
    /// state is touched.
    ///
    /// # Errors
    /// [`Error::Snapshot`] for a truncated, corrupt or unknown stream (the state is then
    /// unchanged), [`Error::Io`], [`Error::Rocks`].
    pub fn import_snapshot(&self, input: &mut dyn Read) -> Result<SnapshotInfo> {
        let _writer = self.writer();
        let spool = self.dir().join(IMPORT_SPOOL);
        let partial = self.dir().join(format!("{IMPORT_SPOOL}.partial"));
        let spool_error = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        let verified = {
            let file = File::create(&partial).map_err(spool_error(&partial))?;
            let mut tee = Tee {
                input,
                copy: BufWriter::new(file),
            };
            let verified = read_stream(&mut tee, &mut |_, _, _| Ok(()));
            let Tee { copy, .. } = tee;
            match verified {
                Ok(info) => {
                    let file = copy
                        .into_inner()
                        .map_err(|e| spool_error(&partial)(e.into_error()))?;
                    // Durability: the spool is fsynced and renamed before the marker that
                    // points to it is written.
                    file.sync_all().map_err(spool_error(&partial))?;
                    info
                }
                Err(error) => {
                    drop(copy);
                    let _ = fs::remove_file(&partial);
                    return Err(error);
                }
            }
        };
        fs::rename(&partial, &spool).map_err(spool_error(&spool))?;
        File::open(self.dir())
            .and_then(|dir| dir.sync_all())
            .map_err(spool_error(self.dir()))?;
        let mut marker = WriteBatch::default();
        marker.put_cf(self.cf(Cf::Meta), ImportMarkerKey::KEY, []);
        let mut synced = WriteOptions::default();
        // Durability: the marker is synced before the state is cleared, so a crash from here on
        // is finished at the next open by replaying the spool.
        synced.set_sync(true);
        self.db().write_opt(marker, &synced)?;
        self.load_spool(&spool)?;
        self.rebuild_index()?;
        Ok(verified)
    }

    /// Finishes an import interrupted by a crash (called by `open` when the marker is present).
    pub(crate) fn resume_import(&self) -> Result<()> {
        let spool = self.dir().join(IMPORT_SPOOL);
        if !spool.exists() {
            return Err(Error::Snapshot {
                reason: format!(
                    "an import was interrupted and its spool {} is missing",
                    spool.display()
                ),
            });
        }
        self.load_spool(&spool).map(|_| ())
    }

    /// Clears the state, loads the (verified) spool, removes the marker in the final synced
    /// batch, then deletes the spool.
    fn load_spool(&self, spool: &Path) -> Result<SnapshotInfo> {
        let mut clear = WriteBatch::default();
        for cf in Cf::STATE {
            // Keys are job names (UTF-8, never 0xff) or tagged/numeric prefixes below 0xff; the
            // sweep after the range delete catches anything at or above the bound regardless.
            clear.delete_range_cf(self.cf(cf), &[0u8; 0][..], &[0xffu8; 16][..]);
        }
        clear.delete_cf(self.cf(Cf::Meta), AppliedKey::KEY);
        clear.delete_cf(self.cf(Cf::Meta), PausedKey::KEY);
        self.db().write(clear)?;
        for cf in Cf::STATE {
            let mut sweep = WriteBatch::default();
            for item in self.db().iterator_cf(self.cf(cf), IteratorMode::Start) {
                let (key, _) = item?;
                sweep.delete_cf(self.cf(cf), key);
            }
            self.db().write(sweep)?;
        }
        let file = File::open(spool).map_err(|source| Error::Io {
            path: spool.to_owned(),
            source,
        })?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut batch = WriteBatch::default();
        let info = read_stream(&mut reader, &mut |cf, key, value| {
            batch.put_cf(self.cf(cf), key, value);
            if batch.size_in_bytes() >= IMPORT_BATCH_BYTES {
                self.db().write(std::mem::take(&mut batch))?;
            }
            Ok(())
        })?;
        batch.delete_cf(self.cf(Cf::Meta), ImportMarkerKey::KEY);
        let mut synced = WriteOptions::default();
        // Durability: the final batch is synced, which also makes every earlier batch of the
        // import durable (the WAL is synced up to this write).
        synced.set_sync(true);
        self.db().write_opt(batch, &synced)?;
        fs::remove_file(spool).map_err(|source| Error::Io {
            path: spool.to_owned(),
            source,
        })?;
        Ok(info)
    }
}

/// Read options for a scan of a whole family: its blocks bypass the block cache (a snapshot
/// reads every block once; caching them evicted what the write path looks up, making commits
/// slower for as long as the export ran) and are read ahead in large steps.
fn full_scan() -> ReadOptions {
    let mut options = ReadOptions::default();
    options.fill_cache(false);
    options.set_readahead_size(2 << 20);
    options
}

fn write_record(out: &mut dyn Write, cf: Cf, key: &[u8], value: &[u8]) -> io::Result<()> {
    let too_long = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "record too long for a snapshot",
        )
    };
    let key_len = u32::try_from(key.len()).map_err(|_| too_long())?;
    let value_len = u32::try_from(value.len()).map_err(|_| too_long())?;
    out.write_all(&[cf.tag()])?;
    out.write_all(&key_len.to_be_bytes())?;
    out.write_all(key)?;
    out.write_all(&value_len.to_be_bytes())?;
    out.write_all(value)
}

/// Parses and verifies a whole stream, handing each record to `visit`. Nothing `visit` did is
/// trustworthy unless this returns `Ok`.
fn read_stream(input: &mut dyn Read, visit: &mut RecordVisitor<'_>) -> Result<SnapshotInfo> {
    let mut reader = CrcReader {
        inner: input,
        crc: Crc32::new(),
        bytes: 0,
    };
    let mut header = [0u8; 16];
    reader.read_exact_or(&mut header, "header")?;
    if &header[..8] != MAGIC {
        return Err(invalid("not a dkron-store snapshot (bad magic)"));
    }
    let format = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    let store_format = u32::from_be_bytes([header[12], header[13], header[14], header[15]]);
    if format != SNAPSHOT_FORMAT || store_format != FORMAT_VERSION {
        return Err(Error::Snapshot {
            reason: format!(
                "unsupported snapshot format {format} / store format {store_format} (expected {SNAPSHOT_FORMAT} / {FORMAT_VERSION})"
            ),
        });
    }
    let mut records = 0u64;
    let mut applied = None;
    loop {
        let mut tag = [0u8; 1];
        reader.read_exact_or(&mut tag, "record tag")?;
        if tag[0] == TRAILER_TAG {
            break;
        }
        let cf = Cf::from_tag(tag[0])
            .ok_or_else(|| invalid(&format!("unknown family tag {}", tag[0])))?;
        let key = reader.read_field(MAX_KEY, "key")?;
        let value = reader.read_field(MAX_VALUE, "value")?;
        match cf {
            Cf::Meta if key == AppliedKey::KEY => applied = Some(decode_applied(&value)?),
            Cf::Meta if key == PausedKey::KEY => {
                decode_paused(&value)?;
            }
            Cf::Meta | Cf::RaftLog | Cf::RaftMeta => {
                return Err(invalid("record for a family a snapshot does not carry"));
            }
            _ => {}
        }
        visit(cf, &key, &value)?;
        records += 1;
    }
    let mut count = [0u8; 8];
    reader.read_exact_or(&mut count, "record count")?;
    let expected_crc = reader.crc.finish();
    let mut crc = [0u8; 4];
    reader.read_exact_or(&mut crc, "checksum")?;
    if u64::from_be_bytes(count) != records {
        return Err(invalid("record count does not match the trailer"));
    }
    if u32::from_be_bytes(crc) != expected_crc {
        return Err(invalid("checksum mismatch"));
    }
    let mut extra = [0u8; 1];
    if reader.inner.read(&mut extra).map_err(|source| Error::Io {
        path: "<snapshot input>".into(),
        source,
    })? != 0
    {
        return Err(invalid("bytes after the trailer"));
    }
    Ok(SnapshotInfo {
        applied,
        records,
        bytes: reader.bytes,
    })
}

/// Receives each record of a stream: family, key, value.
type RecordVisitor<'a> = dyn FnMut(Cf, &[u8], &[u8]) -> Result<()> + 'a;

fn invalid(reason: &str) -> Error {
    Error::Snapshot {
        reason: reason.to_owned(),
    }
}

struct CrcWriter<'a> {
    inner: BufWriter<&'a mut dyn Write>,
    crc: Crc32,
    bytes: u64,
}

impl Write for CrcWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct CrcReader<'a> {
    inner: &'a mut dyn Read,
    crc: Crc32,
    bytes: u64,
}

impl CrcReader<'_> {
    fn read_exact_or(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.crc.update(buf);
                self.bytes += buf.len() as u64;
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                Err(invalid(&format!("stream truncated in the {what}")))
            }
            Err(source) => Err(Error::Io {
                path: "<snapshot input>".into(),
                source,
            }),
        }
    }

    fn read_field(&mut self, max: u32, what: &str) -> Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.read_exact_or(&mut len, what)?;
        let len = u32::from_be_bytes(len);
        if len > max {
            return Err(invalid(&format!("{what} length {len} is implausible")));
        }
        // Read through `take` so a lying length on a short stream never allocates it all.
        let mut field = Vec::new();
        let read = (&mut *self.inner)
            .take(u64::from(len))
            .read_to_end(&mut field)
            .map_err(|source| Error::Io {
                path: "<snapshot input>".into(),
                source,
            })?;
        if read != len as usize {
            return Err(invalid(&format!("stream truncated in a {what}")));
        }
        self.crc.update(&field);
        self.bytes += u64::from(len);
        Ok(field)
    }
}

/// Copies everything read from `input` into `copy`.
struct Tee<'a, W: Write> {
    input: &'a mut dyn Read,
    copy: W,
}

impl<W: Write> Read for Tee<'_, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.input.read(buf)?;
        self.copy.write_all(&buf[..read])?;
        Ok(read)
    }
}

/// CRC-32 (IEEE 802.3, reflected), table-driven.
struct Crc32 {
    state: u32,
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

impl Crc32 {
    fn new() -> Crc32 {
        Crc32 { state: !0 }
    }

    fn update(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state =
                CRC_TABLE[((self.state ^ u32::from(byte)) & 0xff) as usize] ^ (self.state >> 8);
        }
    }

    fn finish(&self) -> u32 {
        !self.state
    }
}

#[cfg(test)]
mod tests;
