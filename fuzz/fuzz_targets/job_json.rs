//! A job body as `POST /v1/jobs` reads it: any bytes either become a valid job or a clear
//! refusal (never a panic); a job that passes is re-encoded as `GET /v1/jobs/{job}` writes it,
//! and that JSON reads back into the same job, encoded as the same bytes. What runs next on an
//! accepted job does not panic either: the executors' and processors' own checks (run by the
//! node before a write), fire planning within the job's window, retry backoff.
#![no_main]

use std::sync::LazyLock;

use dkron_executor::{ExecutorRegistry, ProcessorRegistry};
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;

static EXECUTORS: LazyLock<ExecutorRegistry> = LazyLock::new(ExecutorRegistry::with_defaults);
static PROCESSORS: LazyLock<ProcessorRegistry> = LazyLock::new(ProcessorRegistry::with_defaults);

fuzz_target!(|data: &[u8]| {
    let Ok(job) = dkron_api::fuzz::decode_job(data) else {
        return;
    };
    // The node's write-time check (dkron-node's `Runner::validate`): known executors only.
    if !job.executor_config.is_empty() && EXECUTORS.get(&job.executor).is_ok() {
        let _ = EXECUTORS.validate(&job.executor, &job.executor_config);
    }
    let _ = PROCESSORS.validate(&job.processors);

    // What the scheduler does with an accepted job: its schedule, zone and window plan fires,
    // and failed runs are retried after a backoff.
    let plan = job
        .job_schedule()
        .unwrap_or_else(|error| panic!("a valid job has no plan: {error}"));
    if let Some(plan) = plan {
        let since = Timestamp::from_second(1_735_689_600).expect("2025-01-01");
        let fires = plan.fires_between(since, Timestamp::MAX, 8);
        for (i, fire) in fires.iter().enumerate() {
            assert!(
                *fire > since && (i == 0 || *fire > fires[i - 1]),
                "{fires:?}"
            );
            assert!(
                job.starts_at.is_none_or(|start| *fire >= start),
                "{fire} before start"
            );
            assert!(
                job.expires_at.is_none_or(|end| *fire <= end),
                "{fire} after expiry"
            );
        }
    }
    for attempt in [
        0,
        1,
        2,
        job.retries,
        job.retries.saturating_add(1),
        u32::MAX,
    ] {
        let delay = job.retry_backoff.delay(attempt);
        assert!(
            delay <= job.retry_backoff.max,
            "{delay:?} above {:?}",
            job.retry_backoff.max
        );
    }

    let encoded = dkron_api::fuzz::encode_job(&job).expect("a valid job encodes");
    let again = dkron_api::fuzz::decode_job(&encoded).unwrap_or_else(|error| {
        panic!(
            "the API's own JSON for a job it accepted is refused: {error}\n{}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(
        again,
        job,
        "a job read back from its JSON differs\n{}",
        String::from_utf8_lossy(&encoded)
    );
    let twice = dkron_api::fuzz::encode_job(&again).expect("a valid job encodes");
    assert_eq!(
        String::from_utf8_lossy(&encoded),
        String::from_utf8_lossy(&twice),
        "a job read back from its JSON encodes differently"
    );
});
