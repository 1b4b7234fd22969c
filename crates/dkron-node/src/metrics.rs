//! The Prometheus recorder behind `/metrics`, and the names of the metrics the node emits.
//!
//! Libraries and the node emit through the `metrics` facade; one recorder per process renders
//! them as Prometheus text. A process that starts several nodes (tests) shares the recorder.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::Error;

/// Successful executions per job (`job_name` label), as dkron 4.1 names it.
pub(crate) const EXECUTIONS_SUCCEEDED: &str = "dkron_job_executions_succeeded_total";
/// Failed executions per job (`job_name` label), as dkron 4.1 names it.
pub(crate) const EXECUTIONS_FAILED: &str = "dkron_job_executions_failed_total";
/// Seconds between a fire's scheduled instant and the start of its execution.
pub(crate) const SCHEDULER_LATENESS: &str = "dkron_scheduler_lateness_seconds";
/// Seconds from submitting a Raft command to having it applied.
pub(crate) const RAFT_COMMIT: &str = "dkron_raft_commit_seconds";
/// Timer fires the leader's scheduler dropped because they could not start within their job's
/// misfire bound (skipped or coalesced), counted by the leader that dropped them.
pub(crate) const FIRES_SKIPPED: &str = "dkron_scheduler_fires_skipped_total";
/// Jobs stored.
pub(crate) const JOBS: &str = "dkron_jobs";

/// Bucket bounds in seconds: from sub-millisecond commits to minutes-late fires.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often [`upkeep`] folds recorded histogram samples into their buckets (the exporter's
/// own default when it runs its upkeep itself).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus handle, installing the recorder on first use.
pub(crate) fn handle() -> Result<PrometheusHandle, Error> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(SCHEDULER_LATENESS.to_owned()), BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(RAFT_COMMIT.to_owned()), BUCKETS))
        .map_err(|e| Error::Metrics {
            reason: e.to_string(),
        })?
        .build_recorder();
    let handle = recorder.handle();
    // Why: a race with another thread installing first is harmless: that one's handle is kept.
    if metrics::set_global_recorder(recorder).is_err() {
        tracing::debug!("a metrics recorder was already installed");
    }
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// Until `stop`: folds the histogram samples recorded since the last round into their
/// buckets every [`UPKEEP_EVERY`]. Why: the recorder keeps every sample (a Raft commit, a
/// fire's lateness) in a growing list until upkeep or a scrape of `/metrics` folds them, so a
/// node nobody scrapes grew by every sample it ever recorded (2 MB per 100k job writes, about
/// 30 MB an hour at 1,000 fires/s; docs/benchmarks.md, "a heap profile").
pub(crate) async fn upkeep(handle: PrometheusHandle, stop: CancellationToken) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => handle.run_upkeep(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upkeep_folds_samples_and_ends_with_stop() {
        let handle = handle().expect("recorder");
        let stop = CancellationToken::new();
        let task = tokio::spawn(upkeep(handle.clone(), stop.clone()));
        ::metrics::histogram!(RAFT_COMMIT).record(0.003);
        // The first tick is immediate; a render folds the samples again either way, so the
        // sample shows in the output whichever of the two ran first.
        let rendered = handle.render();
        assert!(
            rendered.contains(&format!("{RAFT_COMMIT}_count")),
            "{rendered}"
        );
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("upkeep ended within 30 s of stop")
            .expect("upkeep did not panic");
    }
}
