//! The in-memory job index: one compact [`Summary`] per job and, for every sort key, a
//! rank-capable ordered list of the jobs, so a page at offset `start` costs O(log n + page).
//!
//! Why in memory: offset paging needs ranks, which a RocksDB scan cannot give without walking
//! every key before the offset. The index holds only what sorting and filtering read (a few
//! hundred bytes per job) and is rebuilt from the `jobs` family at open; RocksDB stays the source
//! of truth.
//!
//! Each ordered list is a sequence of chunks of at most [`CHUNK_MAX`] slot ids with a Fenwick
//! tree over the chunk lengths: rank lookup O(log n), insert/remove O(log n + CHUNK_MAX) memory
//! moves, the Fenwick tree being rebuilt (O(n / CHUNK_MAX)) only when a chunk splits or empties.

use std::{cmp::Ordering, collections::BTreeMap};

use dkron_model::{Job, JobSort, JobStatus, SortFields};
use jiff::Timestamp;

mod pairs;
mod slots;
#[cfg(test)]
mod tests;

use pairs::Pairs;
use slots::Slots;

/// Largest chunk of an ordered list before it splits in two.
const CHUNK_MAX: usize = 512;

/// A chunk with room for `CHUNK_MAX + 1` ids, the most it holds before it splits: it never
/// reallocates, so it never doubles (a chunk grown one id past 512 would have room for 1,024).
fn new_chunk() -> Vec<u32> {
    Vec::with_capacity(CHUNK_MAX + 1)
}

/// Where `key`'s ordered list sits in [`JobIndex::lists`] (the order of [`JobSort::ALL`]).
fn position(key: JobSort) -> usize {
    key as usize
}

/// Whether moving from `old` to `new` changes `key`'s position.
fn differs(key: JobSort, old: &Summary, new: &Summary) -> bool {
    match key {
        JobSort::Name => false,
        JobSort::DisplayName => old.display_name() != new.display_name(),
        JobSort::Schedule => old.schedule() != new.schedule(),
        JobSort::SuccessCount => old.success_count != new.success_count,
        JobSort::ErrorCount => old.error_count != new.error_count,
        JobSort::LastSuccess => old.last_success != new.last_success,
        JobSort::LastError => old.last_error != new.last_error,
        JobSort::Next => old.next != new.next,
    }
}

/// `_order`: dkron sorts descending only for exactly `DESC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortOrder {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// What the index keeps of a job: the fields sorting and filtering read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Name, display name and schedule, one after the other: one allocation instead of three
    /// (this is kept per job on every server).
    text: Box<str>,
    /// Where the display name and the schedule start in `text`.
    display_at: u32,
    schedule_at: u32,
    success_count: u64,
    error_count: u64,
    last_success: Option<Timestamp>,
    last_error: Option<Timestamp>,
    next: Option<Timestamp>,
    status: JobStatus,
    disabled: bool,
    /// `parent_job` and `parent_jobs`, for the cycle check without decoding jobs.
    pub(crate) parents: Box<[Box<str>]>,
    /// The job's own limits, so recording an execution needs no decoding of the job.
    pub(crate) history_limit: Option<u32>,
    pub(crate) output_limit: Option<u64>,
    metadata: Pairs,
}

impl Summary {
    pub(crate) fn of(job: &Job) -> Summary {
        let text = [&job.name, &job.display_name, &job.schedule]
            .map(String::as_str)
            .concat();
        // A job's fields are bounded by the API's body limit, far below 4 GiB; were they not,
        // the display name and schedule would read empty (never a panic).
        let at = |len: usize| u32::try_from(len).unwrap_or(u32::MAX);
        Summary {
            text: text.into_boxed_str(),
            display_at: at(job.name.len()),
            schedule_at: at(job.name.len() + job.display_name.len()),
            success_count: job.success_count,
            error_count: job.error_count,
            last_success: job.last_success,
            last_error: job.last_error,
            next: job.next,
            status: job.status,
            disabled: job.disabled,
            parents: job.parents().map(Into::into).collect(),
            history_limit: job.history_limit,
            output_limit: job.output_limit,
            metadata: Pairs::of(&job.metadata).unwrap_or_default(),
        }
    }

    /// The job's name.
    pub(crate) fn name(&self) -> &str {
        self.part(0, self.display_at)
    }

    fn display_name(&self) -> &str {
        self.part(self.display_at, self.schedule_at)
    }

    fn schedule(&self) -> &str {
        self.part(self.schedule_at, u32::MAX)
    }

    /// `text[start..end]`, `end` clamped to the text; empty if out of range.
    fn part(&self, start: u32, end: u32) -> &str {
        let end = (end as usize).min(self.text.len());
        self.text.get(start as usize..end).unwrap_or_default()
    }

    fn matches(&self, filter: &Filter<'_>) -> bool {
        if let Some(q) = filter.q
            && !self.name().contains(q)
            && !self.display_name().contains(q)
        {
            return false;
        }
        if filter.status.is_some_and(|status| status != self.status) {
            return false;
        }
        if filter
            .disabled
            .is_some_and(|disabled| disabled != self.disabled)
        {
            return false;
        }
        // AND over the pairs; a job without metadata never matches a metadata filter.
        filter
            .metadata
            .iter()
            .all(|(key, value)| self.metadata.get(key) == Some(value.as_str()))
    }
}

impl SortFields for Summary {
    fn name(&self) -> &str {
        Summary::name(self)
    }
    fn display_name(&self) -> &str {
        Summary::display_name(self)
    }
    fn schedule(&self) -> &str {
        Summary::schedule(self)
    }
    fn success_count(&self) -> u64 {
        self.success_count
    }
    fn error_count(&self) -> u64 {
        self.error_count
    }
    fn last_success(&self) -> Option<Timestamp> {
        self.last_success
    }
    fn last_error(&self) -> Option<Timestamp> {
        self.last_error
    }
    fn next(&self) -> Option<Timestamp> {
        self.next
    }
}

/// The filter half of a list query, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Filter<'a> {
    pub(crate) metadata: &'a BTreeMap<String, String>,
    pub(crate) q: Option<&'a str>,
    pub(crate) status: Option<JobStatus>,
    pub(crate) disabled: Option<bool>,
}

impl Filter<'_> {
    fn is_empty(&self) -> bool {
        self.metadata.is_empty()
            && self.q.is_none()
            && self.status.is_none()
            && self.disabled.is_none()
    }
}

/// One page of names and the number of jobs the filter matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamePage {
    pub(crate) names: Vec<Box<str>>,
    pub(crate) total: usize,
}

/// All jobs' summaries and one ordered list per sort key.
#[derive(Debug, Default)]
pub(crate) struct JobIndex {
    slots: Slots<Summary>,
    free: Vec<u32>,
    lists: [RankedList; JobSort::ALL.len()],
}

impl JobIndex {
    /// Builds the index from every job at once (sorting, not inserting one by one).
    pub(crate) fn build(summaries: impl IntoIterator<Item = Summary>) -> JobIndex {
        let slots = Slots::from_items(summaries);
        let lists = JobSort::ALL.map(|key| {
            let mut ids: Vec<u32> = (0..slots.len() as u32).collect();
            ids.sort_unstable_by(|&a, &b| key.compare(summary(&slots, a), summary(&slots, b)));
            RankedList::from_sorted(ids)
        });
        JobIndex {
            slots,
            free: Vec::new(),
            lists,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lists[0].len
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Summary> {
        let slots = &self.slots;
        let slot =
            self.lists[position(JobSort::Name)].find(|id| summary(slots, id).name().cmp(name))?;
        self.slots.get(slot)
    }

    /// Inserts or replaces the job's summary.
    pub(crate) fn upsert(&mut self, new: Summary) {
        let JobIndex { slots, free, lists } = self;
        let existing =
            lists[position(JobSort::Name)].find(|id| summary(slots, id).name().cmp(new.name()));
        match existing {
            Some(slot) => {
                let old = slots.get_mut(slot).take();
                let Some(old) = old else { return };
                for key in JobSort::ALL {
                    if differs(key, &old, &new) {
                        lists[position(key)].remove(|id| {
                            let other = if id == slot { &old } else { summary(slots, id) };
                            key.compare(other, &old)
                        });
                    }
                }
                for key in JobSort::ALL {
                    if differs(key, &old, &new) {
                        lists[position(key)]
                            .insert(slot, |id| key.compare(summary(slots, id), &new));
                    }
                }
                *slots.get_mut(slot) = Some(new);
            }
            None => {
                let slot = match free.pop() {
                    Some(slot) => slot,
                    None => slots.push_empty(),
                };
                for key in JobSort::ALL {
                    lists[position(key)].insert(slot, |id| key.compare(summary(slots, id), &new));
                }
                *slots.get_mut(slot) = Some(new);
            }
        }
    }

    /// Removes the job's summary; returns whether it was there.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        let JobIndex { slots, free, lists } = self;
        let Some(slot) =
            lists[position(JobSort::Name)].find(|id| summary(slots, id).name().cmp(name))
        else {
            return false;
        };
        let Some(old) = slots.get_mut(slot).take() else {
            return false;
        };
        for key in JobSort::ALL {
            lists[position(key)].remove(|id| {
                let other = if id == slot { &old } else { summary(slots, id) };
                key.compare(other, &old)
            });
        }
        free.push(slot);
        true
    }

    /// Names of the jobs at ranks `start..end` in `key`/`order`, among those the filter matches,
    /// and how many match. Unfiltered: O(log n + page). Filtered: O(n) over the summaries.
    pub(crate) fn page(
        &self,
        key: JobSort,
        order: SortOrder,
        filter: &Filter<'_>,
        start: usize,
        end: Option<usize>,
    ) -> NamePage {
        let list = &self.lists[position(key)];
        if filter.is_empty() {
            let total = list.len;
            let end = end.unwrap_or(total).min(total);
            let start = start.min(end);
            let ids: Vec<u32> = match order {
                SortOrder::Asc => list.range(start, end).collect(),
                SortOrder::Desc => {
                    let mut ids: Vec<u32> = list.range(total - end, total - start).collect();
                    ids.reverse();
                    ids
                }
            };
            let names = ids
                .into_iter()
                .map(|id| summary(&self.slots, id).name().into())
                .collect();
            return NamePage { names, total };
        }
        let matching = |id: &u32| summary(&self.slots, *id).matches(filter);
        let mut total = 0usize;
        let mut names = Vec::new();
        let mut take = |id: u32| {
            if total >= start && end.is_none_or(|end| total < end) {
                names.push(summary(&self.slots, id).name().into());
            }
            total += 1;
        };
        match order {
            SortOrder::Asc => list.range(0, list.len).filter(matching).for_each(&mut take),
            SortOrder::Desc => list.range_rev().filter(matching).for_each(&mut take),
        }
        NamePage { names, total }
    }

    /// Every job name, in name order.
    pub(crate) fn names(&self) -> Vec<Box<str>> {
        let list = &self.lists[position(JobSort::Name)];
        list.range(0, list.len)
            .map(|id| summary(&self.slots, id).name().into())
            .collect()
    }

    /// Debug check: every list holds each live slot once, in order.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let live = self.slots.live().count();
        for key in JobSort::ALL {
            let list = &self.lists[position(key)];
            assert_eq!(list.len, live, "{key} length");
            let ids: Vec<u32> = list.range(0, list.len).collect();
            for pair in ids.windows(2) {
                let order =
                    key.compare(summary(&self.slots, pair[0]), summary(&self.slots, pair[1]));
                assert_eq!(order, Ordering::Less, "{key} order");
            }
            list.check();
        }
    }
}

fn summary(slots: &Slots<Summary>, id: u32) -> &Summary {
    // Invariant: every id in a list names a live slot (remove takes it out of every list
    // before freeing the slot).
    slots.get(id).expect("ordered lists only hold live slots")
}

/// Slot ids in one total order, chunked, with ranks through a Fenwick tree over chunk lengths.
#[derive(Debug, Default)]
struct RankedList {
    chunks: Vec<Vec<u32>>,
    /// 1-based Fenwick tree over `chunks[i].len()`.
    fenwick: Vec<usize>,
    len: usize,
}

impl RankedList {
    fn from_sorted(ids: Vec<u32>) -> RankedList {
        let len = ids.len();
        // Full chunks: a later insert splits one in two halves at O(CHUNK_MAX), once.
        let chunks: Vec<Vec<u32>> = ids
            .chunks(CHUNK_MAX)
            .map(|ids| {
                let mut chunk = new_chunk();
                chunk.extend_from_slice(ids);
                chunk
            })
            .collect();
        let mut list = RankedList {
            chunks,
            fenwick: Vec::new(),
            len,
        };
        list.rebuild_fenwick();
        list
    }

    fn rebuild_fenwick(&mut self) {
        let n = self.chunks.len();
        self.fenwick = vec![0; n + 1];
        for i in 1..=n {
            self.fenwick[i] += self.chunks[i - 1].len();
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                self.fenwick[parent] += self.fenwick[i];
            }
        }
    }

    fn fenwick_add(&mut self, chunk: usize, delta: isize) {
        let mut i = chunk + 1;
        while i < self.fenwick.len() {
            self.fenwick[i] = self.fenwick[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Chunk and offset of rank `rank` (< len).
    fn locate(&self, mut rank: usize) -> (usize, usize) {
        let n = self.chunks.len();
        let mut pos = 0;
        let mut step = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        while step > 0 {
            if pos + step <= n && self.fenwick[pos + step] <= rank {
                pos += step;
                rank -= self.fenwick[pos];
            }
            step >>= 1;
        }
        (pos, rank)
    }

    /// Position of the element `cmp` says is equal (`cmp(id)` orders `id` against the target),
    /// or where it would go.
    fn search(&self, cmp: impl Fn(u32) -> Ordering) -> (usize, Result<usize, usize>) {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|&last| cmp(last) == Ordering::Less));
        match self.chunks.get(chunk) {
            Some(ids) => (chunk, ids.binary_search_by(|&id| cmp(id))),
            None => (chunk, Err(0)),
        }
    }

    fn find(&self, cmp: impl Fn(u32) -> Ordering) -> Option<u32> {
        let (chunk, at) = self.search(cmp);
        at.ok().map(|at| self.chunks[chunk][at])
    }

    fn insert(&mut self, id: u32, cmp: impl Fn(u32) -> Ordering) {
        let (mut chunk, at) = self.search(cmp);
        let mut at = match at {
            Ok(_) => return, // already present: a total order has no duplicates
            Err(at) => at,
        };
        if chunk == self.chunks.len() {
            // Larger than everything: append to the last chunk (or start the first).
            if self.chunks.is_empty() {
                self.chunks.push(new_chunk());
                self.rebuild_fenwick();
            }
            chunk = self.chunks.len() - 1;
            at = self.chunks[chunk].len();
        }
        self.chunks[chunk].insert(at, id);
        self.len += 1;
        if self.chunks[chunk].len() > CHUNK_MAX {
            // Appending (names created in order, or equal keys ordered by name) leaves the
            // full chunk full and starts the next one; an insert elsewhere splits in halves.
            let appended = chunk + 1 == self.chunks.len() && at == CHUNK_MAX;
            let split = if appended { CHUNK_MAX } else { CHUNK_MAX / 2 };
            let mut upper = new_chunk();
            upper.extend(self.chunks[chunk].drain(split..));
            self.chunks.insert(chunk + 1, upper);
            self.rebuild_fenwick();
        } else {
            self.fenwick_add(chunk, 1);
        }
    }

    fn remove(&mut self, cmp: impl Fn(u32) -> Ordering) -> bool {
        let (chunk, at) = self.search(cmp);
        let Ok(at) = at else { return false };
        self.chunks[chunk].remove(at);
        self.len -= 1;
        if self.chunks[chunk].is_empty() {
            self.chunks.remove(chunk);
            self.rebuild_fenwick();
        } else {
            self.fenwick_add(chunk, -1);
        }
        true
    }

    /// Ids at ranks `start..end` (both clamped by the caller), ascending.
    fn range(&self, start: usize, end: usize) -> impl Iterator<Item = u32> + '_ {
        let (chunk, offset) = if start < self.len {
            self.locate(start)
        } else {
            (self.chunks.len(), 0)
        };
        self.chunks
            .iter()
            .skip(chunk)
            .enumerate()
            .flat_map(move |(i, ids)| ids[if i == 0 { offset } else { 0 }..].iter().copied())
            .take(end.saturating_sub(start))
    }

    fn range_rev(&self) -> impl Iterator<Item = u32> + '_ {
        self.chunks
            .iter()
            .rev()
            .flat_map(|ids| ids.iter().rev().copied())
    }

    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.chunks.iter().map(Vec::len).sum::<usize>(), self.len);
        assert!(
            self.chunks
                .iter()
                .all(|c| !c.is_empty() && c.len() <= CHUNK_MAX)
        );
        assert!(
            self.chunks.iter().all(|c| c.capacity() == CHUNK_MAX + 1),
            "a chunk grew past its fixed room"
        );
        for rank in 0..self.len {
            let (chunk, offset) = self.locate(rank);
            let before: usize = self.chunks[..chunk].iter().map(Vec::len).sum();
            assert_eq!(before + offset, rank);
        }
    }
}
