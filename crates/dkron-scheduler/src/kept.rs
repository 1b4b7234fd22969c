//! [`KeptJob`]: a job as the timer loop keeps it between fires, in about half the memory of a
//! `Job` (1.3 KB instead of 2.6 KB for the load harness's jobs).
//!
//! Why: the loop holds every job for as long as it is loaded (100k jobs on a leader), and most
//! of a small job's heap is its four maps (`tags`, `metadata`, `executor_config`,
//! `processors`): a B-tree leaf is allocated whole, eleven key and value slots (~540 B) for a
//! map of one entry. The loop decides with none of them, nor with the job's free text and
//! executor name, so those are packed into one buffer (one allocation instead of one per
//! string) and rebuilt only when a fire leaves the loop ([`KeptJob::full`], about 1–3 µs with
//! the frees: see docs/benchmarks.md). A job that fires often is unpacked for good
//! ([`KeptJob::keep_whole`]).

use std::{collections::BTreeMap, ops::Deref, sync::Arc};

use dkron_model::Job;
use tracing::error;

/// A job without the fields [`pack`] takes out (empty in `bare`), plus those fields packed.
/// Cloning is two reference-count increments.
#[derive(Debug, Clone)]
pub(crate) struct KeptJob {
    bare: Arc<Job>,
    /// See [`pack`]; `None` when all those fields are empty (no allocation), or in the
    /// unlikely case they could not be packed (then `bare` keeps them).
    packed: Option<Arc<[u8]>>,
}

impl KeptJob {
    pub(crate) fn new(mut job: Job) -> KeptJob {
        let packed = pack(&mut job);
        KeptJob {
            bare: Arc::new(job),
            packed,
        }
    }

    /// Whether some fields are packed ([`KeptJob::full`] then rebuilds the job).
    pub(crate) fn is_packed(&self) -> bool {
        self.packed.is_some()
    }

    /// Unpacks for good (until the job is replaced): for a job that fires so often that
    /// rebuilding it each time costs more than its memory is worth.
    pub(crate) fn keep_whole(&mut self) {
        if self.packed.is_some() {
            self.bare = self.full();
            self.packed = None;
        }
    }

    /// The fields the loop itself updates (a child's round of parents), copied on write if a
    /// fire still holds them. Not the packed fields: [`KeptJob::full`] takes those from the
    /// packed copy.
    pub(crate) fn make_mut(&mut self) -> &mut Job {
        Arc::make_mut(&mut self.bare)
    }

    /// The whole job, as it was given: what leaves the loop (dispatch, target selection).
    pub(crate) fn full(&self) -> Arc<Job> {
        let Some(packed) = &self.packed else {
            return Arc::clone(&self.bare);
        };
        let mut job = (*self.bare).clone();
        if unpack(packed, &mut job).is_none() {
            // Unreachable: `pack` wrote the buffer. Said loudly rather than run without them
            // unnoticed.
            error!(job = %job.name, "kept job's packed fields are corrupt; running it without them");
        }
        Arc::new(job)
    }
}

/// Every field but those [`pack`] takes out (`display_name`, `owner`, `owner_email`,
/// `executor`, `paused_reason` and the four maps), which read empty here: what the loop decides
/// with. Use [`KeptJob::full`] for the whole job.
impl Deref for KeptJob {
    type Target = Job;

    fn deref(&self) -> &Job {
        &self.bare
    }
}

/// Takes fields the loop never reads out of `job` into one buffer: the strings
/// `display_name`, `owner`, `owner_email`, `executor`, `paused_reason`; for each of `tags`,
/// `metadata` and `executor_config` an entry count then its keys and values; then
/// `processors`' count and, per processor, its name and map. Counts and string lengths are
/// `u32` little-endian.
fn pack(job: &mut Job) -> Option<Arc<[u8]>> {
    let strings = [
        &job.display_name,
        &job.owner,
        &job.owner_email,
        &job.executor,
        &job.paused_reason,
    ];
    let maps = [&job.tags, &job.metadata, &job.executor_config];
    if strings.iter().all(|s| s.is_empty())
        && maps.iter().all(|m| m.is_empty())
        && job.processors.is_empty()
    {
        return None;
    }
    let mut out = Vec::new();
    for s in strings {
        put_str(&mut out, s)?;
    }
    for map in maps {
        put_map(&mut out, map)?;
    }
    put_len(&mut out, job.processors.len())?;
    for (name, config) in &job.processors {
        put_str(&mut out, name)?;
        put_map(&mut out, config)?;
    }
    for s in [
        &mut job.display_name,
        &mut job.owner,
        &mut job.owner_email,
        &mut job.executor,
        &mut job.paused_reason,
    ] {
        *s = String::new();
    }
    job.tags = BTreeMap::new();
    job.metadata = BTreeMap::new();
    job.executor_config = BTreeMap::new();
    job.processors = BTreeMap::new();
    Some(Arc::from(out))
}

/// `None` only for a map or string over 4 GiB (the job keeps those fields unpacked then).
fn put_len(out: &mut Vec<u8>, len: usize) -> Option<()> {
    out.extend_from_slice(&u32::try_from(len).ok()?.to_le_bytes());
    Some(())
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Option<()> {
    put_len(out, s.len())?;
    out.extend_from_slice(s.as_bytes());
    Some(())
}

fn put_map(out: &mut Vec<u8>, map: &BTreeMap<String, String>) -> Option<()> {
    put_len(out, map.len())?;
    for (key, value) in map {
        put_str(out, key)?;
        put_str(out, value)?;
    }
    Some(())
}

/// Puts the fields packed by [`pack`] back into `job`.
fn unpack(buf: &[u8], job: &mut Job) -> Option<()> {
    let mut reader = Reader(buf);
    job.display_name = reader.str()?;
    job.owner = reader.str()?;
    job.owner_email = reader.str()?;
    job.executor = reader.str()?;
    job.paused_reason = reader.str()?;
    job.tags = reader.map()?;
    job.metadata = reader.map()?;
    job.executor_config = reader.map()?;
    let processors = reader.len()?;
    for _ in 0..processors {
        let name = reader.str()?;
        let config = reader.map()?;
        job.processors.insert(name, config);
    }
    reader.0.is_empty().then_some(())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn len(&mut self) -> Option<usize> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        usize::try_from(u32::from_le_bytes(*head)).ok()
    }

    fn str(&mut self) -> Option<String> {
        let len = self.len()?;
        let (bytes, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(std::str::from_utf8(bytes).ok()?.to_owned())
    }

    fn map(&mut self) -> Option<BTreeMap<String, String>> {
        let entries = self.len()?;
        let mut map = BTreeMap::new();
        for _ in 0..entries {
            let key = self.str()?;
            let value = self.str()?;
            map.insert(key, value);
        }
        Some(map)
    }
}

#[cfg(test)]
mod tests;
