//! Job operations: set (with dkron's merge rules), delete, toggle, and the reads, including the
//! paged list.

use std::collections::BTreeMap;

use dkron_model::{Job, JobSort, JobStatus, validate_parent_chain};
use jiff::Timestamp;
use rocksdb::IteratorMode;

use crate::{
    Apply, Store, WriteGroup, codec,
    error::{Error, Result},
    group::Tx,
    index::{Filter, SortOrder},
    keys::{self, Cf, IDX_GROUP, IDX_META, IDX_RUNNING},
    store::JobReader,
};

/// What [`Store::set_job`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWritten {
    /// The job as stored, after merging with the previous version.
    pub job: Job,
    /// Whether it did not exist before.
    pub created: bool,
    /// The parents it had before this write (`parent_job` and `parent_jobs`); a parent in only
    /// one of this and the job's parents had its `dependent_jobs` changed.
    pub previous_parents: Vec<String>,
}

/// A `GET /v1/jobs` query: filters, sort, and `_start`/`_end` paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQuery {
    /// `metadata[k]=v` pairs; a job must have all of them.
    pub metadata: BTreeMap<String, String>,
    /// Case-sensitive substring of `name` or `display_name`.
    pub q: Option<String>,
    /// Exact status (`Untriggered` = never run).
    pub status: Option<JobStatus>,
    /// `disabled` equals this.
    pub disabled: Option<bool>,
    /// Sort key.
    pub sort: JobSort,
    /// Sort direction.
    pub order: SortOrder,
    /// First rank returned (`_start`).
    pub start: usize,
    /// Rank after the last returned (`_end`); `None` = to the end. Clamped to the total.
    pub end: Option<usize>,
}

/// One page of jobs and how many matched the filters before paging (`X-Total-Count`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPage {
    /// The jobs at ranks `start..end`.
    pub jobs: Vec<Job>,
    /// Jobs matching the filters.
    pub total: usize,
}

impl Store {
    /// Creates or replaces a job with dkron's merge rules (one atomic batch):
    ///
    /// - every parent (`parent_job`, `parent_jobs`) must exist, and the parent graph must not
    ///   loop;
    /// - `success_count`/`error_count`/`last_success`/`last_error` keep the larger of the
    ///   stored and the submitted value (so a restore never loses counters);
    /// - a stored status other than untriggered is kept;
    /// - `dependent_jobs` is server-maintained: the stored list is kept (empty for a new job);
    /// - with an unchanged schedule `next` keeps the later of stored and submitted;
    /// - the job is added to each new parent's `dependent_jobs` and removed from each old one's;
    /// - `parent_ends` is server-maintained: kept for the parents still named;
    /// - a lowered history limit trims the oldest executions at once.
    ///
    /// Model validation ([`Job::validate`]) is the caller's: the store checks only what needs
    /// the other jobs.
    ///
    /// # Errors
    /// [`Error::ParentNotFound`], [`Error::InvalidJob`] (parent cycle),
    /// [`Error::InvalidName`], storage errors.
    pub fn set_job(&self, job: Job, apply: &Apply) -> Result<JobWritten> {
        self.commit(apply, |store, tx| store.plan_set_job(tx, job))
    }

    fn plan_set_job(&self, tx: &mut Tx<'_>, mut job: Job) -> Result<JobWritten> {
        keys::check_name(&job.name)?;
        job.normalize_parents();
        let parents: Vec<String> = job.parents().map(str::to_owned).collect();
        if !parents.is_empty() {
            for parent in &parents {
                keys::check_name(parent)?;
                if tx.indexed(parent, |_| ()).is_none() {
                    return Err(Error::ParentNotFound {
                        job: job.name.clone(),
                        parent: parent.clone(),
                    });
                }
            }
            let parents_of = |name: &str| {
                tx.indexed(name, |summary| {
                    summary.parents.iter().map(|p| p.to_string()).collect()
                })
                .unwrap_or_default()
            };
            validate_parent_chain(&job, &parents_of).map_err(|source| Error::InvalidJob {
                job: job.name.clone(),
                source,
            })?;
        }
        let existing = tx.load_job(&job.name)?;
        let created = existing.is_none();
        let old_parents = match &existing {
            Some(stored) => {
                job.success_count = job.success_count.max(stored.success_count);
                job.error_count = job.error_count.max(stored.error_count);
                job.last_success = job.last_success.max(stored.last_success);
                job.last_error = job.last_error.max(stored.last_error);
                job.skipped_count = job.skipped_count.max(stored.skipped_count);
                job.last_skipped = job.last_skipped.max(stored.last_skipped);
                if stored.status != JobStatus::Untriggered {
                    job.status = stored.status;
                }
                job.dependent_jobs.clone_from(&stored.dependent_jobs);
                job.merge_pause_fields(stored);
                job.keep_parent_ends(stored);
                if stored.schedule == job.schedule {
                    job.next = job.next.max(stored.next);
                }
                let limits = &self.options().limits;
                if job.effective_history_limit(limits) < stored.effective_history_limit(limits) {
                    // A lowered limit applies at once, in this batch.
                    self.trim(tx, &job.name, job.history_limit, (&[], 0), false)?;
                }
                stored.parents().map(str::to_owned).collect()
            }
            None => {
                job.dependent_jobs.clear();
                job.consecutive_failures = 0;
                job.paused_reason.clear();
                job.parent_ends.clear();
                Vec::new()
            }
        };
        for old_parent in old_parents.iter().filter(|p| !parents.contains(p)) {
            if let Some(mut parent) = tx.load_job(old_parent)?
                && parent.remove_dependent(&job.name)
            {
                tx.put_job(&parent)?;
            }
        }
        for new_parent in &parents {
            let mut parent = tx
                .load_job(new_parent)?
                .ok_or_else(|| Error::ParentNotFound {
                    job: job.name.clone(),
                    parent: new_parent.clone(),
                })?;
            if !parent.dependent_jobs.contains(&job.name) {
                parent.add_dependent(&job.name);
                tx.put_job(&parent)?;
            }
        }
        tx.put_job(&job)?;
        Ok(JobWritten {
            job,
            created,
            previous_parents: old_parents,
        })
    }

    /// Deletes a job, its executions, indexes and launch records, and detaches it from its
    /// parents (one atomic batch). Returns the deleted job.
    ///
    /// # Errors
    /// [`Error::JobNotFound`]; [`Error::HasDependents`] while it has children; storage errors.
    pub fn delete_job(&self, name: &str, apply: &Apply) -> Result<Job> {
        self.commit(apply, |store, tx| store.plan_delete_job(tx, name))
    }

    fn plan_delete_job(&self, tx: &mut Tx<'_>, name: &str) -> Result<Job> {
        let job = tx.require_job(name)?;
        if !job.dependent_jobs.is_empty() {
            return Err(Error::HasDependents {
                job: job.name.clone(),
                children: job.dependent_jobs.clone(),
            });
        }
        for parent_name in job.parents() {
            if let Some(mut parent) = tx.load_job(parent_name)?
                && parent.remove_dependent(name)
            {
                tx.put_job(&parent)?;
            }
        }
        tx.delete(Cf::Jobs, name.as_bytes());
        delete_history(tx, name);
        tx.delete_range(
            Cf::Launches,
            keys::job_prefix(name),
            keys::job_prefix_end(name),
        );
        tx.unindex_job(name);
        Ok(job)
    }

    /// Flips `disabled`; returns the job as stored.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], storage errors.
    pub fn toggle_job(&self, name: &str, apply: &Apply) -> Result<Job> {
        self.commit(apply, |_, tx| update_job(tx, name, toggle))
    }

    /// Sets `next` (the scheduler persisting its next fire); returns the job as stored.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], storage errors.
    pub fn set_job_next(&self, name: &str, next: Option<Timestamp>, apply: &Apply) -> Result<Job> {
        self.commit(apply, |_, tx| update_job(tx, name, |job| job.next = next))
    }

    /// Adds `count` timer fires the scheduler dropped (misfire bound) to the job's
    /// `skipped_count`, and moves `last_skipped` to `last` if later; returns the job as stored.
    ///
    /// # Errors
    /// [`Error::JobNotFound`], storage errors.
    pub fn record_skipped(
        &self,
        name: &str,
        count: u64,
        last: Timestamp,
        apply: &Apply,
    ) -> Result<Job> {
        self.commit(apply, |_, tx| update_job(tx, name, skipped(count, last)))
    }

    /// The job named `name`, if stored.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn job(&self, name: &str) -> Result<Option<Job>> {
        self.load_job(name)
    }

    /// Number of stored jobs (O(1)).
    pub fn job_count(&self) -> usize {
        self.index_read().len()
    }

    /// Every job name, in name order.
    pub fn job_names(&self) -> Vec<String> {
        self.index_read()
            .names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Calls `visit` with every stored job in name order, streaming (for the scheduler's reload).
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn for_each_job(&self, visit: &mut dyn FnMut(Job)) -> Result<()> {
        for item in self
            .db()
            .iterator_cf(self.cf(Cf::Jobs), IteratorMode::Start)
        {
            let (key, value) = item?;
            visit(codec::decode(Cf::Jobs, &key, &value)?);
        }
        Ok(())
    }

    /// One page of jobs for `GET /v1/jobs`.
    ///
    /// Cost: without filters O(log n + page) (ranks from the in-memory index, then one
    /// multi-get of the page); with filters O(n) over the in-memory summaries (no disk reads)
    /// plus the page. `total` counts the jobs matching the filters, before paging.
    ///
    /// Not a point-in-time snapshot across concurrent writes: a job deleted between ranking and
    /// reading is left out of the page.
    ///
    /// # Errors
    /// [`Error::Corrupt`], [`Error::Rocks`].
    pub fn list_jobs(&self, query: &JobQuery) -> Result<JobPage> {
        let filter = Filter {
            metadata: &query.metadata,
            q: query.q.as_deref(),
            status: query.status,
            disabled: query.disabled,
        };
        let page = self
            .index_read()
            .page(query.sort, query.order, &filter, query.start, query.end);
        let cf = self.cf(Cf::Jobs);
        let values = self.db().batched_multi_get_cf(
            cf,
            page.names.iter().map(|name| name.as_bytes()),
            false,
        );
        let mut jobs = Vec::with_capacity(page.names.len());
        for (name, value) in page.names.iter().zip(values) {
            if let Some(bytes) = value? {
                jobs.push(codec::decode(Cf::Jobs, name.as_bytes(), &bytes)?);
            }
        }
        Ok(JobPage {
            jobs,
            total: page.total,
        })
    }
}

impl WriteGroup<'_> {
    /// The job named `name` as this group sees it (the group's earlier writes included);
    /// writes nothing. For commands that only need the job to exist (a run request).
    ///
    /// # Errors
    /// [`Error::JobNotFound`], storage errors.
    pub fn job(&mut self, name: &str) -> Result<Job> {
        self.run(|_, tx| tx.require_job(name))
    }

    /// [`Store::set_job`] in this group.
    ///
    /// # Errors
    /// As [`Store::set_job`].
    pub fn set_job(&mut self, job: Job) -> Result<JobWritten> {
        self.run(|store, tx| store.plan_set_job(tx, job))
    }

    /// [`Store::delete_job`] in this group.
    ///
    /// # Errors
    /// As [`Store::delete_job`].
    pub fn delete_job(&mut self, name: &str) -> Result<Job> {
        self.run(|store, tx| store.plan_delete_job(tx, name))
    }

    /// [`Store::toggle_job`] in this group.
    ///
    /// # Errors
    /// As [`Store::toggle_job`].
    pub fn toggle_job(&mut self, name: &str) -> Result<Job> {
        self.run(|_, tx| update_job(tx, name, toggle))
    }

    /// [`Store::set_job_next`] in this group.
    ///
    /// # Errors
    /// As [`Store::set_job_next`].
    pub fn set_job_next(&mut self, name: &str, next: Option<Timestamp>) -> Result<Job> {
        self.run(|_, tx| update_job(tx, name, |job| job.next = next))
    }

    /// [`Store::record_skipped`] in this group.
    ///
    /// # Errors
    /// As [`Store::record_skipped`].
    pub fn record_skipped(&mut self, name: &str, count: u64, last: Timestamp) -> Result<Job> {
        self.run(|_, tx| update_job(tx, name, skipped(count, last)))
    }
}

fn skipped(count: u64, last: Timestamp) -> impl FnOnce(&mut Job) {
    move |job| {
        // Saturating: the counter is an API field a client may have set high.
        job.skipped_count = job.skipped_count.saturating_add(count);
        job.last_skipped = job.last_skipped.max(Some(last));
    }
}

fn toggle(job: &mut Job) {
    job.toggle_disabled();
}

fn update_job(tx: &mut Tx<'_>, name: &str, change: impl FnOnce(&mut Job)) -> Result<Job> {
    let mut job = tx.require_job(name)?;
    change(&mut job);
    tx.put_job(&job)?;
    Ok(job)
}

/// Deletes every execution of `job` and its index entries (range deletions).
pub(crate) fn delete_history(tx: &mut Tx<'_>, job: &str) {
    tx.delete_range(
        Cf::Executions,
        keys::job_prefix(job),
        keys::job_prefix_end(job),
    );
    for kind in [IDX_META, IDX_GROUP, IDX_RUNNING] {
        tx.delete_range(
            Cf::Indexes,
            keys::index_prefix(kind, job),
            keys::index_prefix_end(kind, job),
        );
    }
    tx.delete(Cf::Indexes, keys::count_key(job));
    tx.delete(Cf::Indexes, keys::floor_key(job));
}
