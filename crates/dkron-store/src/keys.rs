//! The on-disk layout: column families and every key format, in one place.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `jobs` | `<job name>` | version byte + JSON [`dkron_model::Job`] |
//! | `executions` | `<job> 0x00 <started_at ns: i128 BE, sign flipped> <node>` | version byte + JSON [`dkron_model::Execution`] |
//! | `indexes` | `m <job> 0x00 <started> <node>` | [`ExecMeta`]: group, attempt, flags of that execution |
//! | `indexes` | `g <job> 0x00 <group: i64 BE, sign flipped> <started> <node>` | empty: the execution belongs to that group |
//! | `indexes` | `r <job> 0x00 <started> <node>` | empty: the execution is running |
//! | `indexes` | `n <job>` | u64 BE: number of stored executions of the job |
//! | `indexes` | `f <job>` | trim floor: an execution suffix no stored `m` key of the job is below (absent: none known) |
//! | `stats` | `<year: i16 BE, sign flipped> <month u8> <day u8>` (UTC day) | version byte + u64 BE successes + u64 BE failures |
//! | `launches` | `<job> 0x00` | the job's last scheduled fire: i128 ns BE, sign flipped |
//! | `launches` | `<job> 0x00 <group: i64 BE, sign flipped> <attempt: u32 BE>` | version byte + JSON [`dkron_model::LaunchRecord`] (stores of the first release keyed `<job> 0x00 <scheduled_at: i128>`; such keys are still read, and trimmed first) |
//! | `members` | `<member name>` | version byte + JSON [`dkron_model::Member`] |
//! | `raft_log` | `<index u64 BE>` | entry bytes, opaque (encoded by `dkron-raft`) |
//! | `raft_meta` | UTF-8 name (vote, last purged, …) | opaque bytes |
//! | `meta` | UTF-8 name, one type per name ([`MetaKey`]) | see each key |
//!
//! Numbers are big-endian, signed ones with their sign bit flipped, so byte order is numeric
//! order and a reverse prefix scan of `executions` yields a job's history newest first. A job name
//! is followed by `0x00`, which names never contain ([`check_name`]), so `<job> 0x00` is a prefix
//! that no other job shares, and `<job> 0x01` is the exclusive end of that job's range.

use jiff::{Timestamp, civil::Date};

use crate::error::{Error, Result};

/// The column families, each one concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cf {
    Jobs,
    Executions,
    Indexes,
    Stats,
    Launches,
    Members,
    RaftLog,
    RaftMeta,
    Meta,
}

impl Cf {
    /// Every column family, in the order they are opened.
    pub(crate) const ALL: [Cf; 9] = [
        Cf::Jobs,
        Cf::Executions,
        Cf::Indexes,
        Cf::Stats,
        Cf::Launches,
        Cf::Members,
        Cf::RaftLog,
        Cf::RaftMeta,
        Cf::Meta,
    ];

    /// The replicated state machine's families: what a snapshot carries and an import replaces
    /// (plus the `applied` and `paused` entries of `meta`). Raft's own log and meta stay out.
    pub(crate) const STATE: [Cf; 6] = [
        Cf::Jobs,
        Cf::Executions,
        Cf::Indexes,
        Cf::Stats,
        Cf::Launches,
        Cf::Members,
    ];

    /// Position in [`Cf::ALL`], for per-family arrays.
    pub(crate) const fn slot(self) -> usize {
        self as usize
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Cf::Jobs => "jobs",
            Cf::Executions => "executions",
            Cf::Indexes => "indexes",
            Cf::Stats => "stats",
            Cf::Launches => "launches",
            Cf::Members => "members",
            Cf::RaftLog => "raft_log",
            Cf::RaftMeta => "raft_meta",
            Cf::Meta => "meta",
        }
    }

    /// Stable one-byte tag used in snapshot streams.
    pub(crate) fn tag(self) -> u8 {
        match self {
            Cf::Jobs => 1,
            Cf::Executions => 2,
            Cf::Indexes => 3,
            Cf::Stats => 4,
            Cf::Launches => 5,
            Cf::RaftLog => 6,
            Cf::RaftMeta => 7,
            Cf::Meta => 8,
            Cf::Members => 9,
        }
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Cf> {
        Cf::ALL.into_iter().find(|cf| cf.tag() == tag)
    }
}

/// Rejects names that cannot be used as a key component: empty, or containing the `0x00`
/// separator. (Model validation is stricter; this is the store's own guard.)
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.as_bytes().contains(&0) {
        return Err(Error::InvalidName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Printable form of a key for error messages.
pub(crate) fn printable(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

fn i128_be(value: i128) -> [u8; 16] {
    // Flipping the sign bit makes two's-complement order equal unsigned byte order.
    ((value as u128) ^ (1u128 << 127)).to_be_bytes()
}

fn i128_from_be(bytes: [u8; 16]) -> i128 {
    (u128::from_be_bytes(bytes) ^ (1u128 << 127)) as i128
}

fn i64_be(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1u64 << 63)).to_be_bytes()
}

/// `<job> 0x00`: the prefix of everything of one job in a job-keyed family.
pub(crate) fn job_prefix(job: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(job.len() + 1);
    key.extend_from_slice(job.as_bytes());
    key.push(0);
    key
}

/// `<job> 0x01`: exclusive end of [`job_prefix`]'s range.
pub(crate) fn job_prefix_end(job: &str) -> Vec<u8> {
    let mut key = job_prefix(job);
    if let Some(last) = key.last_mut() {
        *last = 1;
    }
    key
}

/// An execution's key suffix after `<job> 0x00`: `<started_at> <node>`.
pub(crate) fn execution_suffix(started_at: Timestamp, node: &str) -> Vec<u8> {
    let mut suffix = Vec::with_capacity(16 + node.len());
    suffix.extend_from_slice(&i128_be(started_at.as_nanosecond()));
    suffix.extend_from_slice(node.as_bytes());
    suffix
}

/// `executions` key of one execution.
pub(crate) fn execution_key(job: &str, suffix: &[u8]) -> Vec<u8> {
    let mut key = job_prefix(job);
    key.extend_from_slice(suffix);
    key
}

/// Splits an execution suffix back into start (Unix ns) and node.
pub(crate) fn parse_execution_suffix(suffix: &[u8]) -> Option<(i128, &[u8])> {
    let started: [u8; 16] = suffix.get(..16)?.try_into().ok()?;
    Some((i128_from_be(started), &suffix[16..]))
}

/// Splits an `executions` key into job name and suffix.
#[cfg(test)]
pub(crate) fn split_job_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = key.iter().position(|&b| b == 0)?;
    Some((&key[..nul], &key[nul + 1..]))
}

/// Tags of the `indexes` family's key kinds.
pub(crate) const IDX_META: u8 = b'm';
pub(crate) const IDX_GROUP: u8 = b'g';
pub(crate) const IDX_RUNNING: u8 = b'r';
pub(crate) const IDX_COUNT: u8 = b'n';
pub(crate) const IDX_FLOOR: u8 = b'f';

/// `indexes` key `<kind> <job> 0x00 <suffix>` (for `m` and `r`).
pub(crate) fn index_key(kind: u8, job: &str, suffix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + job.len() + suffix.len());
    key.push(kind);
    key.extend_from_slice(job.as_bytes());
    key.push(0);
    key.extend_from_slice(suffix);
    key
}

/// `indexes` range start of one kind for one job: `<kind> <job> 0x00`.
pub(crate) fn index_prefix(kind: u8, job: &str) -> Vec<u8> {
    index_key(kind, job, &[])
}

/// Exclusive end of [`index_prefix`]: `<kind> <job> 0x01`.
pub(crate) fn index_prefix_end(kind: u8, job: &str) -> Vec<u8> {
    let mut key = index_prefix(kind, job);
    if let Some(last) = key.last_mut() {
        *last = 1;
    }
    key
}

/// `indexes` key `g <job> 0x00 <group> <suffix>`.
pub(crate) fn group_key(job: &str, group: i64, suffix: &[u8]) -> Vec<u8> {
    let mut key = group_prefix(job, group);
    key.extend_from_slice(suffix);
    key
}

/// `g <job> 0x00 <group>`: every execution of one group.
pub(crate) fn group_prefix(job: &str, group: i64) -> Vec<u8> {
    let mut key = index_prefix(IDX_GROUP, job);
    key.extend_from_slice(&i64_be(group));
    key
}

/// `n <job>`: the job's stored-execution counter.
pub(crate) fn count_key(job: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + job.len());
    key.push(IDX_COUNT);
    key.extend_from_slice(job.as_bytes());
    key
}

/// `f <job>`: the job's trim floor. Trimming removes the oldest executions, leaving RocksDB
/// tombstones at the start of the job's `m` range until compaction; the next trim seeks to the
/// floor instead of walking over all of them.
pub(crate) fn floor_key(job: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + job.len());
    key.push(IDX_FLOOR);
    key.extend_from_slice(job.as_bytes());
    key
}

/// What the `m` index holds for one execution: enough to count, trim and compute group status
/// without reading the execution (whose output may be large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExecMeta {
    pub(crate) group: i64,
    pub(crate) attempt: u32,
    pub(crate) finished: bool,
    pub(crate) success: bool,
}

impl ExecMeta {
    const LEN: usize = 1 + 8 + 4 + 1;

    pub(crate) fn encode(self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = crate::codec::VALUE_VERSION;
        out[1..9].copy_from_slice(&self.group.to_be_bytes());
        out[9..13].copy_from_slice(&self.attempt.to_be_bytes());
        out[13] = u8::from(self.finished) | (u8::from(self.success) << 1);
        out
    }

    pub(crate) fn decode(key: &[u8], bytes: &[u8]) -> Result<ExecMeta> {
        let corrupt = |reason: &str| Error::Corrupt {
            cf: Cf::Indexes.name(),
            key: printable(key),
            reason: reason.to_owned(),
        };
        if bytes.len() != Self::LEN {
            return Err(corrupt("execution meta has the wrong length"));
        }
        if bytes[0] != crate::codec::VALUE_VERSION {
            return Err(corrupt("unknown value version"));
        }
        let group = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| corrupt("group"))?);
        let attempt = u32::from_be_bytes(bytes[9..13].try_into().map_err(|_| corrupt("attempt"))?);
        Ok(ExecMeta {
            group,
            attempt,
            finished: bytes[13] & 1 != 0,
            success: bytes[13] & 2 != 0,
        })
    }
}

/// `stats` key of one UTC day.
pub(crate) fn stats_key(date: Date) -> [u8; 4] {
    let year = ((date.year() as u16) ^ 0x8000).to_be_bytes();
    [year[0], year[1], date.month() as u8, date.day() as u8]
}

/// `launches` key of one launch: `<job> 0x00 <group> <attempt>`. A retry (same group, next
/// attempt) gets a key of its own, so it never replaces the record of the fire it retries.
pub(crate) fn launch_key(job: &str, group: i64, attempt: u32) -> Vec<u8> {
    let mut key = job_prefix(job);
    key.extend_from_slice(&i64_be(group));
    key.extend_from_slice(&attempt.to_be_bytes());
    key
}

/// `launches` key of a job's last scheduled fire: `<job> 0x00` alone, first in the job's range
/// (so deleting the range deletes it too).
pub(crate) fn last_scheduled_key(job: &str) -> Vec<u8> {
    job_prefix(job)
}

/// Whether a key of a job's `launches` range (of length `prefix_len + suffix`) is a launch
/// record, as opposed to the last-scheduled entry.
pub(crate) fn is_launch_record_key(key: &[u8], prefix_len: usize) -> bool {
    key.len() > prefix_len
}

/// Encodes a timestamp as i128 nanoseconds, big-endian with the sign flipped.
pub(crate) fn timestamp_be(at: Timestamp) -> [u8; 16] {
    i128_be(at.as_nanosecond())
}

/// Decodes [`timestamp_be`].
pub(crate) fn timestamp_from_be(bytes: &[u8]) -> Option<Timestamp> {
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Timestamp::from_nanosecond(i128_from_be(bytes)).ok()
}

/// `raft_log` key of one entry.
pub(crate) fn raft_log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

pub(crate) fn parse_raft_log_key(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// A typed key of the `meta` family: each name has one value type.
pub(crate) trait MetaKey {
    const KEY: &'static [u8];
}

/// `format_version` -> u32 BE. Checked at open; see [`crate::FORMAT_VERSION`].
pub(crate) struct FormatVersionKey;
impl MetaKey for FormatVersionKey {
    const KEY: &'static [u8] = b"format_version";
}

/// `applied` -> u64 BE Raft index + opaque bytes ([`crate::RaftApplied`]). Written in the same
/// batch as the effect of the entry it names.
pub(crate) struct AppliedKey;
impl MetaKey for AppliedKey {
    const KEY: &'static [u8] = b"applied";
}

/// `paused` -> one byte, 1 when the cluster is paused (dkron's pause: new and changed jobs are
/// refused), 0 or absent otherwise. Replicated state: written through Raft and carried by
/// snapshots, like `applied`.
pub(crate) struct PausedKey;
impl MetaKey for PausedKey {
    const KEY: &'static [u8] = b"paused";
}

/// `import_in_progress` -> empty. Present while a snapshot import is replacing the state; the
/// spooled snapshot next to the database is then replayed at open.
pub(crate) struct ImportMarkerKey;
impl MetaKey for ImportMarkerKey {
    const KEY: &'static [u8] = b"import_in_progress";
}

#[cfg(test)]
mod tests;
