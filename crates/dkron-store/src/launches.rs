//! Launch records: what the leader commits before dispatching a fire, so that a new leader never
//! fires the same instant twice. The newest few per job are kept; the last one is the job's
//! "last fire".

use dkron_model::LaunchRecord;
use jiff::Timestamp;
use rocksdb::IteratorMode;

use crate::{
    Apply, Store, WriteGroup, codec,
    error::Result,
    group::Tx,
    keys::{self, Cf},
    store::JobReader,
};

/// Launch records kept per job. Fires are recorded in time order, so only the newest matter to
/// a new leader; a few more help when retries and catch-up fires interleave.
pub const LAUNCHES_KEPT: usize = 16;

impl Store {
    /// Records a launch (and, when `next` is given, persists it as the job's `next` in the same
    /// batch), dropping the job's launch records beyond the newest [`LAUNCHES_KEPT`].
    ///
    /// # Errors
    /// [`crate::Error::JobNotFound`], [`crate::Error::InvalidName`], storage errors.
    pub fn record_launch(
        &self,
        launch: &LaunchRecord,
        next: Option<Option<Timestamp>>,
        apply: &Apply,
    ) -> Result<()> {
        self.commit(apply, |_, tx| plan_launch(tx, launch, next))
    }

    /// The newest launch record of a job (its last fire), if any.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn last_launch(&self, job_name: &str) -> Result<Option<LaunchRecord>> {
        if keys::check_name(job_name).is_err() {
            return Ok(None);
        }
        let read_options =
            Store::bounded(keys::job_prefix(job_name), keys::job_prefix_end(job_name));
        let mut iter =
            self.db()
                .iterator_cf_opt(self.cf(Cf::Launches), read_options, IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (key, value) = item?;
                codec::decode(Cf::Launches, &key, &value).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The launch record of one fire of a job, if recorded (and still kept).
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`], [`crate::Error::Rocks`].
    pub fn launch(&self, job_name: &str, scheduled_at: Timestamp) -> Result<Option<LaunchRecord>> {
        if keys::check_name(job_name).is_err() {
            return Ok(None);
        }
        let key = keys::launch_key(job_name, scheduled_at);
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
        let read_options =
            Store::bounded(keys::job_prefix(job_name), keys::job_prefix_end(job_name));
        let mut records = Vec::new();
        for item in
            self.db()
                .iterator_cf_opt(self.cf(Cf::Launches), read_options, IteratorMode::End)
        {
            let (key, value) = item?;
            records.push(codec::decode(Cf::Launches, &key, &value)?);
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
}

fn plan_launch(
    tx: &mut Tx<'_>,
    launch: &LaunchRecord,
    next: Option<Option<Timestamp>>,
) -> Result<()> {
    let mut job = tx.require_job(&launch.job_name)?;
    let new_key = keys::launch_key(&job.name, launch.scheduled_at);
    // Keep the newest LAUNCHES_KEPT of the stored records plus the new one (this operation's
    // writes are not visible to its reads, so it is merged in by hand).
    let mut all_keys = vec![new_key.clone()];
    for item in tx.scan(
        Cf::Launches,
        keys::job_prefix(&job.name),
        keys::job_prefix_end(&job.name),
        true,
    ) {
        let (key, _) = item?;
        if key != new_key {
            all_keys.push(key);
        }
    }
    tx.put(Cf::Launches, new_key, codec::encode(Cf::Launches, launch)?);
    all_keys.sort_unstable_by(|a, b| b.cmp(a));
    for key in all_keys.into_iter().skip(LAUNCHES_KEPT) {
        tx.delete(Cf::Launches, key);
    }
    if let Some(next) = next {
        job.next = next;
        tx.put_job(&job)?;
    }
    Ok(())
}
