//! The job the store and API benches share: about 600 bytes of JSON, like the anchors' workload.

use dkron_model::{Concurrency, Job};

/// Job number `i`: a shell job with tags, metadata and retries, `@every 1h` in Europe/Berlin.
pub fn bench_job(i: usize) -> Job {
    let mut job = Job::new(format!("job-{i:06}"));
    job.display_name = format!("Nightly report {i} for team {}", i % 97);
    job.schedule = "@every 1h".to_owned();
    job.timezone = "Europe/Berlin".to_owned();
    job.owner = "platform-team".to_owned();
    job.owner_email = "platform@example.com".to_owned();
    job.executor = "shell".to_owned();
    job.executor_config.insert(
        "command".into(),
        format!("/usr/local/bin/report --id {i} --format json --upload"),
    );
    job.executor_config.insert("timeout".into(), "30s".into());
    job.tags.insert("role".into(), "worker:1".into());
    job.metadata
        .insert("team".into(), format!("team-{}", i % 97));
    job.retries = 2;
    job.concurrency = Concurrency::Forbid;
    job
}
