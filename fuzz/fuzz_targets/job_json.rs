//! A job body as `POST /v1/jobs` reads it: any bytes either become a valid job or a clear
//! refusal (never a panic); a job that passes is re-encoded as `GET /v1/jobs/{job}` writes it,
//! and that JSON reads back into the same job, encoded as the same bytes; the executor and
//! processor checks the node runs before a write (dkron-executor's own) do not panic either.
#![no_main]

use std::sync::LazyLock;

use dkron_executor::{ExecutorRegistry, ProcessorRegistry};
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
