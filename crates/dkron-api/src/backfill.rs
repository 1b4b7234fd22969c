//! Backfill (dkron-rs): which of a job's scheduled instants a backfill runs, and launching them.
//! Shared by `POST /v1/jobs/{job}/backfill` and the web UI's backfill form, so both refuse and
//! launch the same.

use dkron_model::{BackfillOverlap, Job};
use jiff::Timestamp;

use crate::{Cluster, ClusterError};

/// What a backfill asks for: the schedule's instants in `from..=to`, run with `overlap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub from: Timestamp,
    pub to: Timestamp,
    pub overlap: BackfillOverlap,
}

/// A launched backfill: the job (as read before launching) and the instants started, oldest
/// first (for `buffer_all`: queued in that order). Empty when the range holds none.
#[derive(Debug, Clone, PartialEq)]
pub struct Backfilled {
    pub job: Job,
    pub launched: Vec<Timestamp>,
}

/// Why a backfill was refused; nothing was launched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BackfillError {
    /// A request field is wrong (`to` before `from`, a range above the limit): 400 naming it.
    #[error("{message}")]
    Field { field: String, message: String },
    /// The job has a parent: its parent runs it (400).
    #[error("job {job} has a parent_job: its parent runs it, it has no schedule to backfill")]
    Child { job: String },
    /// The cluster refused or failed (an unknown or disabled job, …).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl BackfillError {
    fn field(field: &str, message: String) -> BackfillError {
        BackfillError::Field {
            field: field.to_owned(),
            message,
        }
    }
}

/// Runs `request` for job `name`: refuses `to` before `from`, a child job, a disabled job
/// ([`ClusterError::JobDisabled`]) and a range of more than `max` instants; for `skip`, launches
/// only the first instant, and none while a run of the job is going.
///
/// # Errors
/// [`BackfillError`]; nothing runs then.
pub async fn backfill(
    cluster: &dyn Cluster,
    name: String,
    request: Backfill,
    max: usize,
) -> Result<Backfilled, BackfillError> {
    if request.to < request.from {
        return Err(BackfillError::field(
            "to",
            "must not be before \"from\"".to_owned(),
        ));
    }
    let job = cluster.get_job(name).await?;
    if job.disabled {
        return Err(ClusterError::JobDisabled { job: job.name }.into());
    }
    let running = request.overlap == BackfillOverlap::Skip
        && cluster.busy().await?.iter().any(|e| e.job_name == job.name);
    let launched = fires_to_run(&job, &request, max, running)?;
    if !launched.is_empty() {
        cluster
            .backfill_job(job.name.clone(), launched.clone(), request.overlap)
            .await?;
    }
    Ok(Backfilled { job, launched })
}

/// The instants to run: the schedule's in `from..=to`, refused above `max`; for `skip`, only
/// the first, and none while a run of the job is going.
fn fires_to_run(
    job: &Job,
    request: &Backfill,
    max: usize,
    running: bool,
) -> Result<Vec<Timestamp>, BackfillError> {
    if job.is_child() {
        return Err(BackfillError::Child {
            job: job.name.clone(),
        });
    }
    let mut fires = job.fires_in(request.from, request.to, max);
    if fires.len() > max {
        return Err(BackfillError::field(
            "to",
            format!(
                "the range holds more than {max} scheduled instants (setting max-backfill-fires)"
            ),
        ));
    }
    if request.overlap == BackfillOverlap::Skip {
        fires.truncate(usize::from(!running));
    }
    Ok(fires)
}
