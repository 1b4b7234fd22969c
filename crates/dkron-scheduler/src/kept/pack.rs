//! A [`Job`] to its [`Packed`] form and back: which fields stay typed, and the order the others
//! take in the buffer (`codec` writes and reads the bytes).

use dkron_model::Job;
use tracing::error;

use super::{
    OptTime, Packed,
    codec::{Reader, Writer},
};

pub(super) fn write_timing(
    out: &mut Writer,
    schedule: &str,
    timezone: &str,
    parent_job: Option<&str>,
    parent_jobs: &[String],
) {
    out.str(schedule);
    out.str(timezone);
    out.opt_str(parent_job);
    out.strs(parent_jobs);
}

/// Packs `job`. Every field is named (no `..`), so a field added to `Job` does not compile
/// until it is kept here and in [`decode`].
pub(super) fn encode(job: Job) -> Packed {
    let is_child = job.is_child();
    let waits_for_parents = job.waits_for_parents();
    let Job {
        name,
        display_name,
        timezone,
        schedule,
        owner,
        owner_email,
        success_count,
        error_count,
        last_success,
        last_error,
        disabled,
        tags,
        metadata,
        retries,
        dependent_jobs,
        parent_job,
        processors,
        concurrency,
        executor,
        executor_config,
        status,
        next,
        ephemeral,
        starts_at,
        expires_at,
        misfire_policy,
        retry_backoff,
        history_limit,
        output_limit,
        notify,
        jitter,
        pause_on_failure,
        consecutive_failures,
        paused_reason,
        run_on,
        skipped_count,
        last_skipped,
        parent_jobs,
        parent_ends,
    } = job;
    let mut out = Writer::default();
    write_timing(
        &mut out,
        &schedule,
        &timezone,
        parent_job.as_deref(),
        &parent_jobs,
    );
    // Past 4 GiB of timing text the comparison reads a prefix (`timing` never fails): such a
    // job could not be stored anyway.
    let timing_len = u32::try_from(out.0.len()).unwrap_or(u32::MAX);
    for text in [
        &display_name,
        &owner,
        &owner_email,
        &executor,
        &paused_reason,
    ] {
        out.str(text);
    }
    out.map(&tags);
    out.map(&metadata);
    out.map(&executor_config);
    out.nested(&processors);
    out.strs(&dependent_jobs);
    out.u64(success_count);
    out.u64(error_count);
    out.u64(skipped_count);
    out.time(last_success);
    out.time(last_error);
    out.time(last_skipped);
    out.status(status);
    out.duration(retry_backoff.initial);
    out.duration(retry_backoff.max);
    out.opt_u64(history_limit.map(u64::from));
    out.opt_u64(output_limit);
    out.u64(u64::from(pause_on_failure));
    out.u64(u64::from(consecutive_failures));
    out.statuses(&parent_ends);
    Packed {
        name: name.into_boxed_str(),
        rest: out.0.into_boxed_slice(),
        notify: notify.map(Box::new),
        jitter,
        misfire_policy,
        starts_at: OptTime::new(starts_at),
        expires_at: OptTime::new(expires_at),
        next: OptTime::new(next),
        retries,
        timing_len,
        concurrency,
        run_on,
        disabled,
        ephemeral,
        has_dependents: !dependent_jobs.is_empty(),
        is_child,
        waits_for_parents,
    }
}

/// Rebuilds the job [`encode`] packed.
pub(super) fn decode(packed: &Packed) -> Job {
    match try_decode(packed) {
        Some(job) => job,
        None => {
            // Unreachable: `encode` wrote the buffer. Said loudly rather than run without its
            // settings unnoticed; the decision fields are still right.
            error!(job = %packed.name, "kept job's packed fields are corrupt; running it without them");
            let mut job = Job::new(packed.name.as_ref());
            job.notify = packed.notify.as_deref().cloned();
            job.jitter = packed.jitter;
            job.misfire_policy = packed.misfire_policy;
            job.starts_at = packed.starts_at.get();
            job.expires_at = packed.expires_at.get();
            job.next = packed.next.get();
            job.retries = packed.retries;
            job.concurrency = packed.concurrency;
            job.run_on = packed.run_on;
            job.disabled = packed.disabled;
            job.ephemeral = packed.ephemeral;
            job
        }
    }
}

pub(super) fn try_decode(packed: &Packed) -> Option<Job> {
    let mut r = Reader(&packed.rest);
    let schedule = r.string()?;
    let timezone = r.string()?;
    let parent_job = r.opt_string()?;
    let parent_jobs = r.strings()?;
    let display_name = r.string()?;
    let owner = r.string()?;
    let owner_email = r.string()?;
    let executor = r.string()?;
    let paused_reason = r.string()?;
    let tags = r.map()?;
    let metadata = r.map()?;
    let executor_config = r.map()?;
    let processors = r.nested()?;
    let dependent_jobs = r.strings()?;
    let success_count = r.u64()?;
    let error_count = r.u64()?;
    let skipped_count = r.u64()?;
    let last_success = r.time()?;
    let last_error = r.time()?;
    let last_skipped = r.time()?;
    let status = r.status()?;
    let retry_backoff = dkron_model::RetryBackoff {
        initial: r.duration()?,
        max: r.duration()?,
    };
    let history_limit = match r.opt_u64()? {
        Some(limit) => Some(u32::try_from(limit).ok()?),
        None => None,
    };
    let output_limit = r.opt_u64()?;
    let pause_on_failure = r.u32()?;
    let consecutive_failures = r.u32()?;
    let parent_ends = r.statuses()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Job {
        name: packed.name.to_string(),
        display_name,
        timezone,
        schedule,
        owner,
        owner_email,
        success_count,
        error_count,
        last_success,
        last_error,
        disabled: packed.disabled,
        tags,
        metadata,
        retries: packed.retries,
        dependent_jobs,
        parent_job,
        processors,
        concurrency: packed.concurrency,
        executor,
        executor_config,
        status,
        next: packed.next.get(),
        ephemeral: packed.ephemeral,
        starts_at: packed.starts_at.get(),
        expires_at: packed.expires_at.get(),
        misfire_policy: packed.misfire_policy,
        retry_backoff,
        history_limit,
        output_limit,
        notify: packed.notify.as_deref().cloned(),
        jitter: packed.jitter,
        pause_on_failure,
        consecutive_failures,
        paused_reason,
        run_on: packed.run_on,
        skipped_count,
        last_skipped,
        parent_jobs,
        parent_ends,
    })
}
