//! `concurrency`: allow, forbid, replace.

use std::time::Duration;

use dkron_model::Concurrency;

use crate::helpers::*;

fn slow(name: &str, concurrency: Concurrency) -> dkron_model::Job {
    let mut job = job(name, "@every 1s");
    job.concurrency = concurrency;
    job
}

const SLOW: Behaviour = Behaviour {
    duration: Duration::from_millis(2500),
    fail_attempts: 0,
};

#[tokio::test(start_paused = true)]
async fn allow_overlaps_runs() {
    let h = Harness::start(vec![slow("allow", Concurrency::Allow)]).await;
    h.recorder.set("allow", SLOW);
    h.run_for(7.5).await;
    assert_eq!(h.recorder.starts("allow"), [1, 2, 3, 4, 5, 6, 7]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn forbid_skips_fires_while_running() {
    let h = Harness::start(vec![slow("forbid", Concurrency::Forbid)]).await;
    h.recorder.set("forbid", SLOW);
    h.run_for(7.5).await;
    // Runs 1..3.5, 4..6.5, 7..; the fires at 2, 3, 5 and 6 are skipped.
    assert_eq!(h.recorder.starts("forbid"), [1, 4, 7]);
    assert_eq!(h.scheduler.stats().skipped, 4);
    let executions = h.store.executions("forbid");
    assert_eq!(executions.len(), 2);
    assert!(executions.iter().all(|e| e.success));
    assert_eq!(
        h.scheduler
            .job_state("forbid")
            .await
            .unwrap()
            .unwrap()
            .running,
        1
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn replace_cancels_the_running_execution() {
    let h = Harness::start(vec![slow("replace", Concurrency::Replace)]).await;
    h.recorder.set("replace", SLOW);
    h.run_for(4.5).await;
    assert_eq!(h.recorder.starts("replace"), [1, 2, 3, 4]);
    let executions = h.store.executions("replace");
    // The runs of 1, 2 and 3 were each cancelled by the next fire.
    assert_eq!(executions.len(), 3);
    for execution in &executions {
        assert!(!execution.success);
        assert_eq!(execution.output, "cancelled");
    }
    assert_eq!(h.scheduler.stats().replaced, 3);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn forbid_applies_to_dependent_runs_too() {
    let mut parent = job("parent", "@every 1s");
    parent.dependent_jobs = vec!["child".into()];
    let mut child = job("child", "");
    child.parent_job = Some("parent".into());
    child.concurrency = Concurrency::Forbid;
    let h = Harness::start(vec![parent, child]).await;
    h.recorder.set("child", SLOW);
    h.run_for(7.5).await;
    assert_eq!(h.recorder.starts("parent"), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(h.recorder.starts("child"), [1, 4, 7]);
    h.stop().await;
}
