//! What follows a finished group: retries, dependent jobs, ephemeral deletion.

use std::time::Duration;

use dkron_model::{RetryBackoff, Trigger};

use crate::helpers::*;

fn once(name: &str, at_secs: i64) -> dkron_model::Job {
    job(name, &format!("@at {}", at(at_secs)))
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_retried_with_backoff_in_the_same_group() {
    let mut flaky = once("flaky", 1);
    flaky.retries = 3;
    flaky.retry_backoff = RetryBackoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };
    let h = Harness::start(vec![flaky]).await;
    h.recorder.set(
        "flaky",
        Behaviour {
            duration: Duration::ZERO,
            fail_attempts: 2,
        },
    );
    h.run_for(30.0).await;
    let seen = h.recorder.seen_of("flaky");
    // Attempt 1 at 1 s fails; retry after 1 s (at 2 s) fails; retry after 2 s (at 4 s) succeeds.
    assert_eq!(h.recorder.starts("flaky"), [1, 2, 4]);
    assert_eq!(
        seen.iter().map(|s| s.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        seen.iter().map(|s| s.trigger).collect::<Vec<_>>(),
        [Trigger::Scheduled, Trigger::Retry, Trigger::Retry]
    );
    assert!(
        seen.iter()
            .all(|s| s.group == seen[0].group && s.scheduled_at == at(1))
    );
    // Retries go to the node that failed.
    assert_eq!(seen[1].targets, ["node1"]);
    assert_eq!(h.scheduler.stats().retries, 2);
    let executions = h.store.executions("flaky");
    assert_eq!(
        executions.iter().map(|e| e.success).collect::<Vec<_>>(),
        [false, false, true]
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_the_configured_count() {
    let mut broken = once("broken", 1);
    broken.retries = 2;
    broken.retry_backoff = RetryBackoff {
        initial: Duration::from_secs(5),
        max: Duration::from_secs(7),
    };
    let h = Harness::start(vec![broken]).await;
    h.recorder.set(
        "broken",
        Behaviour {
            duration: Duration::ZERO,
            fail_attempts: u32::MAX,
        },
    );
    h.run_for(60.0).await;
    // 1 s; +5 s; +min(10, 7) s.
    assert_eq!(h.recorder.starts("broken"), [1, 6, 13]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn children_run_after_the_parent_group_succeeds_only() {
    let mut good = once("good", 1);
    good.dependent_jobs = vec!["child-a".into(), "child-off".into(), "ghost".into()];
    let mut bad = once("bad", 1);
    bad.dependent_jobs = vec!["child-b".into()];
    let mut retried = once("retried", 1);
    retried.retries = 1;
    retried.retry_backoff = RetryBackoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(1),
    };
    retried.dependent_jobs = vec!["child-c".into()];
    let child = |name: &str, parent: &str| {
        let mut child = job(name, "");
        child.parent_job = Some(parent.into());
        child
    };
    let mut off = child("child-off", "good");
    off.disabled = true;
    let h = Harness::start(vec![
        good,
        bad,
        retried,
        child("child-a", "good"),
        off,
        child("child-b", "bad"),
        child("child-c", "retried"),
    ])
    .await;
    h.recorder.set(
        "bad",
        Behaviour {
            duration: Duration::ZERO,
            fail_attempts: u32::MAX,
        },
    );
    h.recorder.set(
        "retried",
        Behaviour {
            duration: Duration::ZERO,
            fail_attempts: 1,
        },
    );
    h.run_for(10.0).await;

    let a = h.recorder.seen_of("child-a");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].trigger, Trigger::Dependent);
    assert_eq!(a[0].started, at(1));
    assert_ne!(a[0].group, h.recorder.seen_of("good")[0].group);
    assert!(h.recorder.seen_of("child-off").is_empty());
    assert!(h.recorder.seen_of("child-b").is_empty());
    // A group that succeeded on retry counts as succeeded (last attempt per node).
    assert_eq!(h.recorder.starts("child-c"), [2]);
    // Children never fire on their own.
    assert_eq!(
        h.scheduler
            .job_state("child-a")
            .await
            .unwrap()
            .unwrap()
            .next_fire,
        None
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn ephemeral_jobs_are_deleted_after_success_only() {
    let mut done = once("done", 1);
    done.ephemeral = true;
    let mut failing = once("failing", 1);
    failing.ephemeral = true;
    let h = Harness::start(vec![done, failing]).await;
    h.recorder.set(
        "failing",
        Behaviour {
            duration: Duration::ZERO,
            fail_attempts: u32::MAX,
        },
    );
    h.run_for(3.0).await;
    assert_eq!(h.scheduler.job_state("done").await.unwrap(), None);
    assert_eq!(h.store.job("done"), None);
    assert!(h.scheduler.job_state("failing").await.unwrap().is_some());
    assert!(h.store.job("failing").is_some());
    assert_eq!(h.scheduler.stats().ephemeral_deleted, 1);
    h.stop().await;
}
