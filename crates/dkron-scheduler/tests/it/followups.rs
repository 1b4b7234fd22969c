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

/// A dispatch that only hands runs over and reports nothing itself, as a cluster node does:
/// its results come back through the replicated store and [`Scheduler::report`].
#[derive(Debug, Default)]
struct HandOnly {
    launched: std::sync::Mutex<Vec<dkron_model::LaunchRecord>>,
}

impl dkron_scheduler::Dispatch for HandOnly {
    fn dispatch(
        &self,
        run: dkron_scheduler::Run,
    ) -> dkron_scheduler::BoxFuture<'_, dkron_scheduler::Handoff> {
        self.launched.lock().unwrap().push(run.launch.clone());
        Box::pin(std::future::ready(dkron_scheduler::Handoff::Handed))
    }
}

impl HandOnly {
    fn launched(&self) -> Vec<(String, Trigger, u32, Vec<String>)> {
        self.launched
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.job_name.clone(), r.trigger, r.attempt, r.targets.clone()))
            .collect()
    }
}

/// A finished execution of `launch` on `node`, as a store would hand it back.
fn reported(
    launch: &dkron_model::LaunchRecord,
    node: &str,
    success: bool,
) -> dkron_model::Execution {
    let mut execution = launch.execution(node, launch.scheduled_at);
    execution.success = success;
    execution.finished_at = Some(launch.scheduled_at);
    execution
}

fn progress(
    status: dkron_model::JobStatus,
    attempt: u32,
    failed: &[&str],
) -> dkron_model::GroupProgress {
    dkron_model::GroupProgress {
        status,
        attempt,
        attempt_complete: true,
        failed_nodes: failed.iter().map(|n| (*n).to_owned()).collect(),
        ready_children: Vec::new(),
    }
}

/// Reports that come back through a store drive what follows a run: a failed attempt is
/// retried on the failed node, a success runs the children; an incomplete attempt does
/// nothing yet; and a group this scheduler never launched (its predecessor did, before a
/// leader change) is continued all the same.
#[tokio::test(start_paused = true)]
async fn reports_from_a_store_drive_retries_and_dependents() {
    use dkron_model::JobStatus;

    let mut parent = once("parent", 1);
    parent.retries = 1;
    parent.retry_backoff = RetryBackoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(1),
    };
    parent.dependent_jobs = vec!["child".to_owned()];
    let mut child = job("child", "@manually");
    child.parent_job = Some("parent".to_owned());
    let mut inherited = job("inherited", "@manually");
    inherited.retries = 2;
    let store = std::sync::Arc::new(dkron_scheduler::MemoryStore::new());
    for job in [parent, child, inherited] {
        store.put_job(job);
    }
    let dispatch = std::sync::Arc::new(HandOnly::default());
    let scheduler = dkron_scheduler::Scheduler::builder()
        .memory_store(std::sync::Arc::clone(&store))
        .dispatch(dispatch.clone())
        .clock(std::sync::Arc::new(
            dkron_scheduler::TokioClock::starting_at(at(0)),
        ))
        .start()
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let first = dispatch.launched.lock().unwrap()[0].clone();
    assert_eq!(dispatch.launched().len(), 1);

    // Not complete yet: nothing follows.
    let mut partial = progress(JobStatus::PartiallyFailed, 1, &["n1"]);
    partial.attempt_complete = false;
    scheduler
        .report(reported(&first, "n1", false), partial)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(dispatch.launched().len(), 1, "{:?}", dispatch.launched());

    scheduler
        .report(
            reported(&first, "n1", false),
            progress(JobStatus::Failed, 1, &["n1"]),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let retry = dispatch.launched.lock().unwrap()[1].clone();
    assert_eq!(
        dispatch.launched()[1],
        (
            "parent".to_owned(),
            Trigger::Retry,
            2,
            vec!["n1".to_owned()]
        )
    );
    assert_eq!(
        (retry.group, retry.scheduled_at),
        (first.group, first.scheduled_at)
    );

    scheduler
        .report(
            reported(&retry, "n1", true),
            progress(JobStatus::Success, 2, &[]),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(dispatch.launched()[2].0, "child");
    assert_eq!(dispatch.launched()[2].1, Trigger::Dependent);

    // A group launched by another scheduler.
    let foreign = dkron_model::LaunchRecord {
        job_name: "inherited".to_owned(),
        scheduled_at: at(2),
        group: 42,
        attempt: 1,
        targets: vec!["n2".to_owned()],
        trigger: Trigger::Manual,
    };
    scheduler
        .report(
            reported(&foreign, "n2", false),
            progress(JobStatus::Failed, 1, &["n2"]),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let launched = dispatch.launched.lock().unwrap().clone();
    let continued = launched.last().unwrap();
    assert_eq!(
        (
            continued.job_name.as_str(),
            continued.group,
            continued.attempt
        ),
        ("inherited", 42, 2)
    );
    assert_eq!(continued.targets, ["n2"]);
    assert_eq!(launched.len(), 4);
    assert!(scheduler.shutdown(Duration::from_secs(5)).await.drained);
}

/// A run launched by a previous scheduler and still running (`in_flight`) counts for
/// `forbid`: fires are skipped until its report completes it, then they launch again.
#[tokio::test(start_paused = true)]
async fn an_adopted_run_holds_forbid_until_it_is_reported() {
    use dkron_model::{Concurrency, JobStatus};

    let mut exclusive = job("exclusive", "@every 1s");
    exclusive.concurrency = Concurrency::Forbid;
    let store = std::sync::Arc::new(dkron_scheduler::MemoryStore::new());
    store.put_job(exclusive);
    let earlier = dkron_model::LaunchRecord {
        job_name: "exclusive".to_owned(),
        scheduled_at: at(0),
        group: 7,
        attempt: 1,
        targets: vec!["n1".to_owned()],
        trigger: Trigger::Scheduled,
    };
    let dispatch = std::sync::Arc::new(HandOnly::default());
    let scheduler = dkron_scheduler::Scheduler::builder()
        .memory_store(std::sync::Arc::clone(&store))
        .dispatch(dispatch.clone())
        .clock(std::sync::Arc::new(
            dkron_scheduler::TokioClock::starting_at(at(0)),
        ))
        .in_flight(vec![earlier.clone()])
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(dispatch.launched().is_empty(), "{:?}", dispatch.launched());
    assert_eq!(scheduler.stats().skipped, 3);

    scheduler
        .report(
            reported(&earlier, "n1", true),
            progress(JobStatus::Success, 1, &[]),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(dispatch.launched().len(), 1, "{:?}", dispatch.launched());
    assert!(scheduler.shutdown(Duration::from_secs(5)).await.drained);
}
