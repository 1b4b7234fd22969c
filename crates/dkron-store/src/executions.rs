//! Execution history: record start, record done (idempotent), delete, trim to the job's limit,
//! group status, daily stats, and the reads.

use dkron_model::{Execution, Job, JobStatus, LaunchRecord, group_progress};
use jiff::{Timestamp, civil::Date, tz::Offset};
use rocksdb::IteratorMode;

use crate::{
    Apply, Store, WriteGroup, codec,
    error::{Error, Result},
    group::Tx,
    jobs::delete_history,
    keys::{self, Cf, ExecMeta, IDX_META, IDX_RUNNING},
    store::JobReader,
};

/// What [`Store::record_execution_start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionStarted {
    /// False when a finished copy was already stored (a late start report is ignored).
    pub stored: bool,
    /// Executions of this job removed to respect its history limit.
    pub trimmed: usize,
}

/// What [`Store::record_execution_done`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionDone {
    /// False for a duplicate report of an execution already recorded as done: counters, stats
    /// and `last_*` were left alone.
    pub counted: bool,
    /// Status of the execution's group after this report (also stored as the job's status).
    pub group_status: JobStatus,
    /// Whether every target of the execution's attempt has now finished it (its launch record
    /// names the targets; without a kept record, one finished execution completes it). Only a
    /// complete attempt may be followed by a retry, the dependents or an ephemeral delete.
    pub attempt_complete: bool,
    /// Nodes whose run of this attempt failed, sorted (where a retry goes).
    pub failed_nodes: Vec<String>,
    /// The job as stored after this report.
    pub job: Job,
    /// Executions of this job removed to respect its history limit.
    pub trimmed: usize,
    /// Whether this report ended the job's `pause_on_failure`-th consecutive failed group and
    /// so disabled the job ([`Job::record_group_end`]).
    pub paused: bool,
    /// Children of several parents that this report made ready: it ended the job's group for
    /// good, and every other parent's latest ended group matches the child's `run_on` too
    /// ([`Job::record_parent_end`]). Sorted. The scheduler runs them; children of this job
    /// alone follow dkron's rule and are not listed.
    pub ready_children: Vec<String>,
}

/// One execution in a history listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedExecution {
    /// The execution, its output possibly cut to the listing's limit.
    pub execution: Execution,
    /// Whether the listing cut the output (dkron's `output_truncated`).
    pub output_truncated: bool,
}

/// Which executions [`Store::executions_page`] returns: ranks `start..end` in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPage {
    /// Newest first (dkron's default order) or oldest first.
    pub newest_first: bool,
    /// First rank returned.
    pub start: usize,
    /// Rank after the last returned; `None` = to the last. Clamped to the total.
    pub end: Option<usize>,
}

/// Successes and failures finished on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayStats {
    /// The day (UTC).
    pub date: Date,
    /// Successful executions finished that day.
    pub success_count: u64,
    /// Failed executions finished that day.
    pub failed_count: u64,
}

/// Keeps the last `limit` bytes of `output`, on a char boundary; returns whether it cut.
pub fn truncate_output_tail(output: &mut String, limit: usize) -> bool {
    if output.len() <= limit {
        return false;
    }
    let mut cut = output.len() - limit;
    while !output.is_char_boundary(cut) {
        cut += 1;
    }
    output.drain(..cut);
    true
}

impl Store {
    /// Records that an execution started (dkron's `SetExecution`), in one atomic batch with
    /// the trimming of the job's history to its limit.
    ///
    /// A start for an execution already stored as finished is ignored (reports can arrive out
    /// of order). The output is cut to the job's output limit.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], [`Error::InvalidName`], storage errors.
    pub fn record_execution_start(
        &self,
        execution: Execution,
        apply: &Apply,
    ) -> Result<ExecutionStarted> {
        self.commit(apply, |store, tx| store.plan_execution_start(tx, execution))
    }

    fn plan_execution_start(
        &self,
        tx: &mut Tx<'_>,
        mut execution: Execution,
    ) -> Result<ExecutionStarted> {
        // The job's limits come from the job index: no read and decode of the job itself.
        let Some((history_limit, output_limit)) = tx.indexed(&execution.job_name, |summary| {
            (summary.history_limit, summary.output_limit)
        }) else {
            return Err(Error::JobNotFound {
                job: execution.job_name,
            });
        };
        keys::check_name(&execution.node_name)?;
        self.cap_output(output_limit, &mut execution);
        let job = execution.job_name.as_str();
        let suffix = keys::execution_suffix(execution.started_at, &execution.node_name);
        let previous = exec_meta(tx, job, &suffix)?;
        if previous.is_some_and(|meta| meta.finished) {
            return Ok(ExecutionStarted {
                stored: false,
                trimmed: 0,
            });
        }
        put_execution(tx, &execution, &suffix, previous)?;
        let trimmed = self.trim(
            tx,
            job,
            history_limit,
            (&suffix, execution.group),
            previous.is_none(),
        )?;
        Ok(ExecutionStarted {
            stored: true,
            trimmed: trimmed.len(),
        })
    }

    /// Records a finished execution (dkron's `ExecutionDone`) in one atomic batch: stores it,
    /// clears its running mark, and, unless it was already recorded as done, bumps
    /// `success_count`/`error_count`, `last_success`/`last_error` and the day's stats; then
    /// stores the status of its group as the job's status and trims the history.
    ///
    /// Idempotent by execution id (`<started_at>-<node>`): a duplicate never counts twice. A
    /// duplicate with a later `finished_at` replaces the stored copy (dkron keeps the latest)
    /// only when it tells more about the run: see [`replaces`].
    /// The idempotence window is the retained history: a report for an execution already
    /// trimmed away is counted as new.
    ///
    /// # Errors
    /// [`Error::JobNotFound`] (also for a job deleted meanwhile), [`Error::NotFinished`],
    /// [`Error::InvalidName`], storage errors.
    pub fn record_execution_done(
        &self,
        execution: Execution,
        apply: &Apply,
    ) -> Result<ExecutionDone> {
        self.commit(apply, |store, tx| store.plan_execution_done(tx, execution))
    }

    fn plan_execution_done(
        &self,
        tx: &mut Tx<'_>,
        mut execution: Execution,
    ) -> Result<ExecutionDone> {
        let mut job = tx.require_job(&execution.job_name)?;
        keys::check_name(&execution.node_name)?;
        let Some(finished_at) = execution.finished_at else {
            return Err(Error::NotFinished {
                job: job.name.clone(),
                id: execution.id(),
            });
        };
        self.cap_output(job.output_limit, &mut execution);
        let suffix = keys::execution_suffix(execution.started_at, &execution.node_name);
        let previous = exec_meta(tx, &job.name, &suffix)?;
        let counted = !previous.is_some_and(|meta| meta.finished);
        let mut trimmed = Vec::new();
        if counted {
            put_execution(tx, &execution, &suffix, previous)?;
            trimmed = self.trim(
                tx,
                &job.name,
                job.history_limit,
                (&suffix, execution.group),
                previous.is_none(),
            )?;
            if execution.success {
                // Saturating: a client may have written u64::MAX (the counters are API fields),
                // and the state machine must never panic on an entry it accepted.
                job.success_count = job.success_count.saturating_add(1);
                job.last_success = job.last_success.max(Some(finished_at));
            } else {
                job.error_count = job.error_count.saturating_add(1);
                job.last_error = job.last_error.max(Some(finished_at));
            }
            count_day(tx, finished_at, execution.success)?;
        } else if stored_execution(tx, &job.name, &suffix)?
            .is_some_and(|stored| replaces(&stored, &execution))
        {
            put_execution(tx, &execution, &suffix, previous)?;
        }
        let members = group_members_with(tx, &job.name, &execution, &suffix, &trimmed)?;
        let launch_key = keys::launch_key(&job.name, execution.group, execution.attempt);
        let targets = match tx.get(Cf::Launches, &launch_key)? {
            Some(bytes) => {
                codec::decode::<LaunchRecord>(Cf::Launches, &launch_key, &bytes)?.targets
            }
            None => Vec::new(),
        };
        let progress = group_progress(&members, execution.attempt, &targets);
        let status = progress.status;
        job.status = status;
        // A group ends for good once its attempt is complete and it succeeded or has no retry
        // left (the scheduler's rule). Only a counted report can complete it, so a re-delivered
        // report never counts a group twice.
        let group_ended = counted
            && progress.attempt_complete
            && (status == JobStatus::Success || execution.attempt > job.retries);
        let paused = group_ended && job.record_group_end(status);
        let ready_children = if group_ended {
            note_parent_end(tx, &job, status)?
        } else {
            Vec::new()
        };
        tx.put_job(&job)?;
        Ok(ExecutionDone {
            counted,
            group_status: status,
            attempt_complete: progress.attempt_complete,
            failed_nodes: progress.failed_nodes,
            job,
            trimmed: trimmed.len(),
            paused,
            ready_children,
        })
    }

    /// Deletes every execution of a job and resets `success_count`, `error_count`,
    /// `last_success` and `last_error` (one atomic batch). Returns the job as stored.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], storage errors.
    pub fn delete_executions(&self, job_name: &str, apply: &Apply) -> Result<Job> {
        self.commit(apply, |_, tx| plan_delete_executions(tx, job_name))
    }

    /// Executions of a job, newest first. With `output_limit`, each output longer than that
    /// keeps only its last `output_limit` bytes and is marked truncated.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], [`Error::Corrupt`], [`Error::Rocks`].
    pub fn executions(
        &self,
        job_name: &str,
        output_limit: Option<usize>,
    ) -> Result<Vec<ListedExecution>> {
        keys::check_name(job_name).map_err(|_| Error::JobNotFound {
            job: job_name.to_owned(),
        })?;
        self.require_job(job_name)?;
        let read_options =
            Store::bounded(keys::job_prefix(job_name), keys::job_prefix_end(job_name));
        let mut listed = Vec::new();
        for item in
            self.db()
                .iterator_cf_opt(self.cf(Cf::Executions), read_options, IteratorMode::End)
        {
            let (key, value) = item?;
            let mut execution: Execution = codec::decode(Cf::Executions, &key, &value)?;
            let output_truncated = output_limit
                .is_some_and(|limit| truncate_output_tail(&mut execution.output, limit));
            listed.push(ListedExecution {
                execution,
                output_truncated,
            });
        }
        Ok(listed)
    }

    /// One page of a job's executions in start order (newest first with `newest_first`):
    /// ranks `start..end` (`end` `None` = to the last), and how many are stored. Reads only
    /// the page's executions: ranks are counted on the small `m` index, the page's records are
    /// then fetched in one multi-get, and the total is the job's stored counter. Outputs are
    /// cut as in [`Store::executions`].
    ///
    /// # Errors
    /// [`Error::JobNotFound`], [`Error::Corrupt`], [`Error::Rocks`].
    pub fn executions_page(
        &self,
        job_name: &str,
        page: HistoryPage,
        output_limit: Option<usize>,
    ) -> Result<(Vec<ListedExecution>, usize)> {
        keys::check_name(job_name).map_err(|_| Error::JobNotFound {
            job: job_name.to_owned(),
        })?;
        self.require_job(job_name)?;
        let count_key = keys::count_key(job_name);
        let total = match self.get(Cf::Indexes, &count_key)? {
            Some(bytes) => codec::decode_u64(Cf::Indexes, &count_key, &bytes)?,
            None => 0,
        };
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let end = page.end.unwrap_or(total).min(total);
        if page.start >= end {
            return Ok((Vec::new(), total));
        }
        // Ascending scans start at the trim floor, above the tombstones of trimmed executions.
        let prefix = keys::index_prefix(IDX_META, job_name);
        let prefix_len = prefix.len();
        let mut lower = prefix;
        if let Some(floor) = self.get(Cf::Indexes, &keys::floor_key(job_name))? {
            lower.extend_from_slice(&floor);
        }
        let upper = keys::index_prefix_end(IDX_META, job_name);
        let mode = if page.newest_first {
            IteratorMode::End
        } else {
            IteratorMode::Start
        };
        let mut execution_keys = Vec::with_capacity(end - page.start);
        let ranks =
            self.db()
                .iterator_cf_opt(self.cf(Cf::Indexes), Store::bounded(lower, upper), mode);
        for item in ranks.skip(page.start).take(end - page.start) {
            let (key, _) = item?;
            execution_keys.push(keys::execution_key(job_name, &key[prefix_len..]));
        }
        let values =
            self.db()
                .batched_multi_get_cf(self.cf(Cf::Executions), execution_keys.iter(), false);
        let mut listed = Vec::with_capacity(execution_keys.len());
        for (key, value) in execution_keys.iter().zip(values) {
            let Some(bytes) = value? else {
                return Err(Error::Corrupt {
                    cf: Cf::Indexes.name(),
                    key: keys::printable(key),
                    reason: "execution meta without an execution".to_owned(),
                });
            };
            let mut execution: Execution = codec::decode(Cf::Executions, key, &bytes)?;
            let output_truncated = output_limit
                .is_some_and(|limit| truncate_output_tail(&mut execution.output, limit));
            listed.push(ListedExecution {
                execution,
                output_truncated,
            });
        }
        Ok((listed, total))
    }

    /// One execution by its id (`<started_at ns>-<node>`), output in full; `None` when the job,
    /// the execution or a well-formed id is missing.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn execution(&self, job_name: &str, id: &str) -> Result<Option<Execution>> {
        let Some((nanos, node)) = dkron_model::parse_execution_id(id) else {
            return Ok(None);
        };
        let Ok(started_at) = Timestamp::from_nanosecond(nanos) else {
            return Ok(None);
        };
        if keys::check_name(job_name).is_err() {
            return Ok(None);
        }
        let key = keys::execution_key(job_name, &keys::execution_suffix(started_at, node));
        let Some(bytes) = self.get(Cf::Executions, &key)? else {
            return Ok(None);
        };
        codec::decode(Cf::Executions, &key, &bytes).map(Some)
    }

    /// Every execution started and not yet finished, across all jobs (job name order, then
    /// start order).
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn running_executions(&self) -> Result<Vec<Execution>> {
        self.running_in(vec![IDX_RUNNING], vec![IDX_RUNNING + 1])
    }

    /// The running executions of one job, oldest first.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn running_executions_of(&self, job_name: &str) -> Result<Vec<Execution>> {
        if keys::check_name(job_name).is_err() {
            return Ok(Vec::new());
        }
        self.running_in(
            keys::index_prefix(IDX_RUNNING, job_name),
            keys::index_prefix_end(IDX_RUNNING, job_name),
        )
    }

    fn running_in(&self, lower: Vec<u8>, upper: Vec<u8>) -> Result<Vec<Execution>> {
        let mut execution_keys = Vec::new();
        for item in self.db().iterator_cf_opt(
            self.cf(Cf::Indexes),
            Store::bounded(lower, upper),
            IteratorMode::Start,
        ) {
            let (key, _) = item?;
            // `r <job> 0x00 <suffix>` -> `<job> 0x00 <suffix>`.
            execution_keys.push(key[1..].to_vec());
        }
        let cf = self.cf(Cf::Executions);
        let values = self
            .db()
            .batched_multi_get_cf(cf, execution_keys.iter(), true);
        let mut running = Vec::with_capacity(execution_keys.len());
        for (key, value) in execution_keys.iter().zip(values) {
            match value? {
                Some(bytes) => running.push(codec::decode(Cf::Executions, key, &bytes)?),
                None => {
                    return Err(Error::Corrupt {
                        cf: Cf::Indexes.name(),
                        key: keys::printable(key),
                        reason: "running mark without an execution".to_owned(),
                    });
                }
            }
        }
        Ok(running)
    }

    /// Daily counts for the `days` days ending with `today` (UTC), oldest first, zero-filled.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn stats(&self, days: u32, today: Date) -> Result<Vec<DayStats>> {
        let mut dates = Vec::with_capacity(days as usize);
        let mut date = today;
        for _ in 0..days {
            dates.push(date);
            match date.yesterday() {
                Ok(previous) => date = previous,
                Err(_) => break,
            }
        }
        dates.reverse();
        let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
            return Ok(Vec::new());
        };
        let mut upper = keys::stats_key(*last).to_vec();
        upper.push(0);
        let read_options = Store::bounded(keys::stats_key(*first).to_vec(), upper);
        let mut stored = std::collections::HashMap::new();
        for item in self
            .db()
            .iterator_cf_opt(self.cf(Cf::Stats), read_options, IteratorMode::Start)
        {
            let (key, value) = item?;
            stored.insert(key.to_vec(), codec::decode_day(&key, &value)?);
        }
        Ok(dates
            .into_iter()
            .map(|date| {
                let (success_count, failed_count) = stored
                    .get(keys::stats_key(date).as_slice())
                    .copied()
                    .unwrap_or((0, 0));
                DayStats {
                    date,
                    success_count,
                    failed_count,
                }
            })
            .collect())
    }

    /// Cuts the output to the limit of a job whose own `output_limit` is `own`.
    fn cap_output(&self, own: Option<u64>, execution: &mut Execution) {
        let limit = usize::try_from(self.options().limits.output_for(own)).unwrap_or(usize::MAX);
        if truncate_output_tail(&mut execution.output, limit) {
            execution.output_truncated = true;
        }
    }

    /// Keeps job `job`'s history within its limit (`own_limit`: the job's own `history_limit`),
    /// counting the execution just put (`written`: its suffix and group) in if `is_new`.
    /// Returns the suffixes removed (oldest first; possibly the written one itself when it is
    /// the oldest). With an empty suffix and `is_new` false it
    /// only enforces the limit (after the limit was lowered).
    ///
    /// The scan starts at the job's trim floor (`f <job>`), not at the start of its range: the
    /// executions trimmed before are tombstones there until compaction, and walking over them
    /// made every trim of a long-lived job slower than the last. Invariant: no stored `m` key
    /// of the job is below its floor (a trim raises it to the newest suffix it removed; a new
    /// execution older than the floor lowers it).
    pub(crate) fn trim(
        &self,
        tx: &mut Tx<'_>,
        job: &str,
        own_limit: Option<u32>,
        written: (&[u8], i64),
        is_new: bool,
    ) -> Result<Vec<Vec<u8>>> {
        let (new_suffix, new_group) = written;
        let count_key = keys::count_key(job);
        let stored = match tx.get(Cf::Indexes, &count_key)? {
            Some(bytes) => codec::decode_u64(Cf::Indexes, &count_key, &bytes)?,
            None => 0,
        };
        let floor_key = keys::floor_key(job);
        let floor = tx.get(Cf::Indexes, &floor_key)?;
        let count = stored + u64::from(is_new);
        let limit = u64::from(self.options().limits.history_for(own_limit).max(1));
        let excess = count.saturating_sub(limit);
        let mut removed: Vec<(Vec<u8>, i64)> = Vec::new();
        if excess > 0 {
            // The batch is not visible to reads: take the `excess + 1` oldest stored ones and
            // merge the new one in, then drop the `excess` oldest of those.
            let prefix = keys::index_prefix(IDX_META, job);
            let prefix_len = prefix.len();
            let mut lower = prefix;
            lower.extend_from_slice(floor.as_deref().unwrap_or_default());
            let upper = keys::index_prefix_end(IDX_META, job);
            let mut candidates = Vec::new();
            for item in tx.scan(Cf::Indexes, lower, upper, false) {
                if candidates.len() as u64 > excess {
                    break;
                }
                let (key, value) = item?;
                let suffix = key[prefix_len..].to_vec();
                if suffix == new_suffix {
                    continue;
                }
                candidates.push((suffix, ExecMeta::decode(&key, &value)?.group));
            }
            if is_new {
                candidates.push((new_suffix.to_vec(), new_group));
                candidates.sort();
            }
            candidates.truncate(usize::try_from(excess).unwrap_or(usize::MAX));
            removed = candidates;
        }
        for (suffix, group) in &removed {
            tx.delete(Cf::Executions, keys::execution_key(job, suffix));
            for kind in [IDX_META, IDX_RUNNING] {
                tx.delete(Cf::Indexes, keys::index_key(kind, job, suffix));
            }
            // Deleting after the put of the same key in one batch: the delete wins.
            tx.delete(Cf::Indexes, keys::group_key(job, *group, suffix));
        }
        let kept = count - removed.len() as u64;
        if kept != stored {
            tx.put(Cf::Indexes, count_key, kept.to_be_bytes());
        }
        // `removed` is in key order and holds the oldest: every kept execution is above its
        // last, and the stored ones were already at or above the floor. The floor never drops
        // for a late execution that is trimmed at once (the next trim would walk the tombstones
        // between). Otherwise only a new execution kept below the floor moves it (down).
        let new_floor = match removed.last() {
            Some((suffix, _)) => Some(match floor.as_deref() {
                Some(floor) => floor.max(suffix.as_slice()),
                None => suffix.as_slice(),
            }),
            None if is_new && floor.as_deref().is_some_and(|f| new_suffix < f) => Some(new_suffix),
            None => floor.as_deref(),
        };
        if new_floor != floor.as_deref()
            && let Some(new_floor) = new_floor
        {
            tx.put(Cf::Indexes, floor_key, new_floor);
        }
        Ok(removed.into_iter().map(|(suffix, _)| suffix).collect())
    }
}

impl WriteGroup<'_> {
    /// [`Store::record_execution_start`] in this group.
    ///
    /// # Errors
    /// As [`Store::record_execution_start`].
    pub fn record_execution_start(&mut self, execution: Execution) -> Result<ExecutionStarted> {
        self.run(|store, tx| store.plan_execution_start(tx, execution))
    }

    /// [`Store::record_execution_done`] in this group.
    ///
    /// # Errors
    /// As [`Store::record_execution_done`].
    pub fn record_execution_done(&mut self, execution: Execution) -> Result<ExecutionDone> {
        self.run(|store, tx| store.plan_execution_done(tx, execution))
    }

    /// [`Store::delete_executions`] in this group.
    ///
    /// # Errors
    /// As [`Store::delete_executions`].
    pub fn delete_executions(&mut self, job_name: &str) -> Result<Job> {
        self.run(|_, tx| plan_delete_executions(tx, job_name))
    }
}

fn plan_delete_executions(tx: &mut Tx<'_>, job_name: &str) -> Result<Job> {
    let mut job = tx.require_job(job_name)?;
    delete_history(tx, job_name);
    job.success_count = 0;
    job.error_count = 0;
    job.last_success = None;
    job.last_error = None;
    tx.put_job(&job)?;
    Ok(job)
}

fn exec_meta(tx: &Tx<'_>, job: &str, suffix: &[u8]) -> Result<Option<ExecMeta>> {
    let key = keys::index_key(IDX_META, job, suffix);
    match tx.get(Cf::Indexes, &key)? {
        Some(bytes) => ExecMeta::decode(&key, &bytes).map(Some),
        None => Ok(None),
    }
}

fn stored_execution(tx: &Tx<'_>, job: &str, suffix: &[u8]) -> Result<Option<Execution>> {
    let key = keys::execution_key(job, suffix);
    let Some(bytes) = tx.get(Cf::Executions, &key)? else {
        return Ok(None);
    };
    codec::decode(Cf::Executions, &key, &bytes).map(Some)
}

/// Whether `late`, a second done report of the finished execution `stored`, replaces it.
///
/// It must end later, and be the run's own end: a success, or a failure with an exit code
/// (a process ended so), or replace a close that claims no run at all (the reconciler's "never
/// ran", `finished_at` = the start). A failure without an exit code that comes after another
/// end is a close by someone who did not see the run (the leader's "node lost", a restarted
/// node's "interrupted", read from a store that was behind): the run ended by the earlier
/// record, and a later `finished_at` would stretch a killed run over the next fire of its job.
pub(crate) fn replaces(stored: &Execution, late: &Execution) -> bool {
    let later = stored.finished_at < late.finished_at;
    let never_ran = !stored.success && stored.finished_at == Some(stored.started_at);
    later && (late.success || late.exit_code.is_some() || never_ran)
}

/// Puts the execution and its index entries.
fn put_execution(
    tx: &mut Tx<'_>,
    execution: &Execution,
    suffix: &[u8],
    previous: Option<ExecMeta>,
) -> Result<()> {
    let job = execution.job_name.as_str();
    let meta = ExecMeta {
        group: execution.group,
        attempt: execution.attempt,
        finished: execution.finished_at.is_some(),
        success: execution.success,
    };
    tx.put(
        Cf::Executions,
        keys::execution_key(job, suffix),
        codec::encode(Cf::Executions, execution)?,
    );
    tx.put(
        Cf::Indexes,
        keys::index_key(IDX_META, job, suffix),
        meta.encode(),
    );
    if let Some(previous) = previous
        && previous.group != execution.group
    {
        tx.delete(Cf::Indexes, keys::group_key(job, previous.group, suffix));
    }
    tx.put(
        Cf::Indexes,
        keys::group_key(job, execution.group, suffix),
        Vec::new(),
    );
    if meta.finished {
        tx.delete(Cf::Indexes, keys::index_key(IDX_RUNNING, job, suffix));
    } else {
        tx.put(
            Cf::Indexes,
            keys::index_key(IDX_RUNNING, job, suffix),
            Vec::new(),
        );
    }
    Ok(())
}

/// The executions of `execution`'s group (outputs left out): the stored members plus
/// `execution` itself (this operation's writes are not visible to its reads), minus those
/// trimmed by it.
/// Whether the job's history holds an execution of `group` at `attempt` or a later attempt.
pub(crate) fn attempt_in_history(tx: &Tx<'_>, job: &str, group: i64, attempt: u32) -> Result<bool> {
    let prefix = keys::group_prefix(job, group);
    let mut upper = prefix.clone();
    upper.push(0xff);
    for item in tx.scan(Cf::Indexes, prefix.clone(), upper, false) {
        let (key, _) = item?;
        if exec_meta(tx, job, &key[prefix.len()..])?.is_some_and(|meta| meta.attempt >= attempt) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn group_members_with(
    tx: &Tx<'_>,
    job: &str,
    execution: &Execution,
    suffix: &[u8],
    trimmed: &[Vec<u8>],
) -> Result<Vec<Execution>> {
    let prefix = keys::group_prefix(job, execution.group);
    let mut upper = prefix.clone();
    upper.push(0xff);
    let mut members = vec![execution.clone()];
    members[0].output.clear();
    for item in tx.scan(Cf::Indexes, prefix.clone(), upper, false) {
        let (key, _) = item?;
        let member_suffix = &key[prefix.len()..];
        if member_suffix == suffix || trimmed.iter().any(|t| t.as_slice() == member_suffix) {
            continue;
        }
        let corrupt = |reason: &str| Error::Corrupt {
            cf: Cf::Indexes.name(),
            key: keys::printable(&key),
            reason: reason.to_owned(),
        };
        let Some(meta) = exec_meta(tx, job, member_suffix)? else {
            return Err(corrupt("group entry without execution meta"));
        };
        let (nanos, node) = keys::parse_execution_suffix(member_suffix)
            .ok_or_else(|| corrupt("short execution key"))?;
        let started_at =
            Timestamp::from_nanosecond(nanos).map_err(|_| corrupt("start time out of range"))?;
        members.push(Execution {
            job_name: job.to_owned(),
            started_at,
            // Only "finished or not" matters to the status; the start stands in for the end.
            finished_at: meta.finished.then_some(started_at),
            success: meta.success,
            node_name: String::from_utf8_lossy(node).into_owned(),
            group: meta.group,
            attempt: meta.attempt,
            ..Execution::default()
        });
    }
    Ok(members)
}

fn count_day(tx: &mut Tx<'_>, finished_at: Timestamp, success: bool) -> Result<()> {
    let date = Offset::UTC.to_datetime(finished_at).date();
    let key = keys::stats_key(date);
    let (mut successes, mut failures) = match tx.get(Cf::Stats, &key)? {
        Some(bytes) => codec::decode_day(&key, &bytes)?,
        None => (0, 0),
    };
    if success {
        successes = successes.saturating_add(1);
    } else {
        failures = failures.saturating_add(1);
    }
    tx.put(Cf::Stats, key, codec::encode_day(successes, failures));
    Ok(())
}

#[cfg(test)]
mod tests;

/// `parent`'s group ended for good with `status`: notes it on each child that waits for several
/// parents, in this batch, and returns the children that are now ready to run.
fn note_parent_end(tx: &mut Tx<'_>, parent: &Job, status: JobStatus) -> Result<Vec<String>> {
    let mut ready = Vec::new();
    for name in &parent.dependent_jobs {
        let Some(mut child) = tx.load_job(name)? else {
            continue;
        };
        if !child.waits_for_parents() {
            continue;
        }
        if child.record_parent_end(&parent.name, status) {
            ready.push(name.clone());
        }
        tx.put_job(&child)?;
    }
    Ok(ready)
}
