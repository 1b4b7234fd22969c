//! Launch records: what the leader commits before dispatching a fire, so that a new leader never
//! fires the same instant twice. The newest few per job are kept; the last one is the job's
//! "last fire".

use dkron_model::{LaunchRecord, Trigger};
use jiff::Timestamp;
use rocksdb::IteratorMode;

use crate::{
    Apply, Store, WriteGroup, codec,
    error::{Error, Result},
    group::Tx,
    keys::{self, Cf},
    store::JobReader,
};

/// Launch records kept per job. Launches are recorded in group order (a group is its fire's
/// instant, or the clock for manual and dependent runs), so only the newest matter to a new
/// leader; a few more help when retries and catch-up fires interleave. The job's last scheduled
/// fire is kept apart, so trimming never loses it.
pub const LAUNCHES_KEPT: usize = 16;

impl Store {
    /// Records a launch (and, when `next` is given, persists it as the job's `next` in the same
    /// batch), dropping the job's launch records beyond the newest [`LAUNCHES_KEPT`].
    ///
    /// A launch that is not new by [`LaunchRecord::is_new`] (a scheduled fire at or before the
    /// job's last scheduled fire, or a `(group, attempt)` already recorded) is refused with
    /// [`crate::Error::AlreadyLaunched`] and changes nothing: inside the Raft state machine this
    /// makes "launch at most once" a property of the replicated state, not of a leader's reads.
    ///
    /// # Errors
    /// [`crate::Error::AlreadyLaunched`], [`crate::Error::JobNotFound`],
    /// [`crate::Error::InvalidName`], storage errors.
    pub fn record_launch(
        &self,
        launch: &LaunchRecord,
        next: Option<Option<Timestamp>>,
        apply: &Apply,
    ) -> Result<()> {
        self.commit(apply, |_, tx| plan_launch(tx, launch, next))
    }

    /// [`Store::record_launch`], and when `started_at` is given, the launch's execution on each
    /// of its targets recorded running from `started_at`, all in one atomic batch
    /// ([`WriteGroup::record_launch_started`]).
    ///
    /// # Errors
    /// As [`WriteGroup::record_launch_started`].
    pub fn record_launch_started(
        &self,
        launch: &LaunchRecord,
        next: Option<Option<Timestamp>>,
        started_at: Option<Timestamp>,
        apply: &Apply,
    ) -> Result<()> {
        let mut group = self.write_group();
        group.record_launch_started(launch, next, started_at)?;
        group.commit(apply)
    }

    /// The newest launch record of a job, if any.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn last_launch(&self, job_name: &str) -> Result<Option<LaunchRecord>> {
        Ok(self.launches(job_name)?.into_iter().next())
    }

    /// The `scheduled_at` of the job's last scheduled fire: what misfire policies resume from.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn last_scheduled(&self, job_name: &str) -> Result<Option<Timestamp>> {
        if keys::check_name(job_name).is_err() {
            return Ok(None);
        }
        let key = keys::last_scheduled_key(job_name);
        if let Some(bytes) = self.get(Cf::Launches, &key)? {
            return decode_last_scheduled(&key, &bytes).map(Some);
        }
        // A store written before the entry existed: the newest scheduled record stands for it.
        Ok(self
            .launches(job_name)?
            .iter()
            .filter(|r| r.trigger == Trigger::Scheduled)
            .map(|r| r.scheduled_at)
            .max())
    }

    /// The launch record of one attempt of a group, if recorded (and still kept).
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn launch(&self, job_name: &str, group: i64, attempt: u32) -> Result<Option<LaunchRecord>> {
        if keys::check_name(job_name).is_err() {
            return Ok(None);
        }
        let key = keys::launch_key(job_name, group, attempt);
        let Some(bytes) = self.get(Cf::Launches, &key)? else {
            return Ok(None);
        };
        codec::decode(Cf::Launches, &key, &bytes).map(Some)
    }

    /// The kept launch records of a job, newest first.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn launches(&self, job_name: &str) -> Result<Vec<LaunchRecord>> {
        if keys::check_name(job_name).is_err() {
            return Ok(Vec::new());
        }
        let prefix = keys::job_prefix(job_name);
        let read_options = Store::bounded(prefix.clone(), keys::job_prefix_end(job_name));
        let mut records = Vec::new();
        for item in
            self.db()
                .iterator_cf_opt(self.cf(Cf::Launches), read_options, IteratorMode::End)
        {
            let (key, value) = item?;
            if keys::is_launch_record_key(&key, prefix.len()) {
                records.push(codec::decode(Cf::Launches, &key, &value)?);
            }
        }
        Ok(records)
    }
}

impl WriteGroup<'_> {
    /// [`Store::record_launch`] in this group.
    ///
    /// # Errors
    /// As [`Store::record_launch`].
    pub fn record_launch(
        &mut self,
        launch: &LaunchRecord,
        next: Option<Option<Timestamp>>,
    ) -> Result<()> {
        self.run(|_, tx| plan_launch(tx, launch, next))
    }

    /// [`WriteGroup::record_launch`], and when `started_at` is given, the launch's execution on
    /// each of its targets ([`LaunchRecord::execution`]) recorded running from `started_at`.
    ///
    /// The executions are recorded only when the launch is: a launch that is not new records
    /// nothing, so a refused launch leaves no run behind that never happens. This is how the
    /// leader commits a fire's start with its launch, one Raft command per fire.
    ///
    /// # Errors
    /// As [`Store::record_launch`]; [`crate::Error::InvalidName`] for a target's name (checked
    /// before anything is recorded).
    pub fn record_launch_started(
        &mut self,
        launch: &LaunchRecord,
        next: Option<Option<Timestamp>>,
        started_at: Option<Timestamp>,
    ) -> Result<()> {
        if started_at.is_some() {
            for target in &launch.targets {
                keys::check_name(target)?;
            }
        }
        self.record_launch(launch, next)?;
        let Some(started_at) = started_at else {
            return Ok(());
        };
        // Invariant: after the launch succeeded, a start cannot be refused (the job exists, the
        // names were checked), so the launch and its starts are recorded together or not at
        // all. Each start is its own operation so that it sees the one before (history trim).
        for target in &launch.targets {
            self.record_execution_start(launch.execution(target, started_at))?;
        }
        Ok(())
    }
}

fn decode_last_scheduled(key: &[u8], bytes: &[u8]) -> Result<Timestamp> {
    keys::timestamp_from_be(bytes).ok_or_else(|| Error::Corrupt {
        cf: Cf::Launches.name(),
        key: keys::printable(key),
        reason: "last scheduled fire is not a 16-byte timestamp".to_owned(),
    })
}

/// The job's last scheduled fire as this operation sees it (earlier writes of the group
/// included).
fn last_scheduled_in(tx: &Tx<'_>, job: &str) -> Result<Option<Timestamp>> {
    let key = keys::last_scheduled_key(job);
    if let Some(bytes) = tx.get(Cf::Launches, &key)? {
        return decode_last_scheduled(&key, &bytes).map(Some);
    }
    let prefix = keys::job_prefix(job);
    let mut last = None;
    for item in tx.scan(
        Cf::Launches,
        prefix.clone(),
        keys::job_prefix_end(job),
        true,
    ) {
        let (key, value) = item?;
        if !keys::is_launch_record_key(&key, prefix.len()) {
            continue;
        }
        let record: LaunchRecord = codec::decode(Cf::Launches, &key, &value)?;
        if record.trigger == Trigger::Scheduled {
            last = last.max(Some(record.scheduled_at));
        }
    }
    Ok(last)
}

fn plan_launch(
    tx: &mut Tx<'_>,
    launch: &LaunchRecord,
    next: Option<Option<Timestamp>>,
) -> Result<()> {
    let mut job = tx.require_job(&launch.job_name)?;
    let new_key = keys::launch_key(&job.name, launch.group, launch.attempt);
    let last_scheduled = last_scheduled_in(tx, &job.name)?;
    // A retry's record may be trimmed already (its group is older than the newest records), so
    // the history answers too: an execution of this attempt or a later one of the group means
    // it was launched (the soak saw a late retry run twice under the same attempt).
    let recorded = tx.get(Cf::Launches, &new_key)?.is_some()
        || (launch.trigger == Trigger::Retry
            && crate::executions::attempt_in_history(tx, &job.name, launch.group, launch.attempt)?);
    // Invariant: the one rule (dkron-model) decides, here, inside the state machine, so every
    // replica refuses the same repeats whichever leader proposed them.
    if !launch.is_new(last_scheduled, recorded) {
        return Err(Error::AlreadyLaunched {
            job: job.name.clone(),
            group: launch.group,
            attempt: launch.attempt,
        });
    }
    if let Some(last) = launch.last_scheduled_after(last_scheduled)
        && Some(last) != last_scheduled
    {
        tx.put(
            Cf::Launches,
            keys::last_scheduled_key(&job.name),
            keys::timestamp_be(last).to_vec(),
        );
    }
    // Keep the new record and the newest others, LAUNCHES_KEPT in all (this operation's writes
    // are not visible to its reads, so it is merged in by hand). The new one is kept even when
    // its group is the oldest (a late retry): until its execution's start is recorded, the
    // record is all that refuses a second launch of the attempt.
    let prefix_len = keys::job_prefix(&job.name).len();
    let mut all_keys = Vec::new();
    for item in tx.scan(
        Cf::Launches,
        keys::job_prefix(&job.name),
        keys::job_prefix_end(&job.name),
        true,
    ) {
        let (key, _) = item?;
        if key != new_key && keys::is_launch_record_key(&key, prefix_len) {
            all_keys.push(key);
        }
    }
    tx.put(Cf::Launches, new_key, codec::encode(Cf::Launches, launch)?);
    all_keys.sort_unstable_by(|a, b| b.cmp(a));
    for key in all_keys.into_iter().skip(LAUNCHES_KEPT.saturating_sub(1)) {
        tx.delete(Cf::Launches, key);
    }
    if let Some(next) = next {
        job.next = next;
        tx.put_job(&job)?;
    }
    Ok(())
}
