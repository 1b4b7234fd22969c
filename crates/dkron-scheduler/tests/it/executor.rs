//! The default dispatch runs real shell jobs (real time, real processes).

use std::{sync::Arc, time::Duration};

use dkron_model::Trigger;
use dkron_scheduler::{MemoryStore, Scheduler};

use crate::helpers::job;

/// Waits until `check` holds, polling every 20 ms, for at most `limit`.
async fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_jobs_run_through_the_default_dispatch() {
    let store = Arc::new(MemoryStore::new());
    let mut echo = job("echo", "@manually");
    echo.executor = "shell".into();
    echo.executor_config
        .insert("command".into(), "echo hello from dkron".into());
    let mut fails = job("fails", "@manually");
    fails.executor = "shell".into();
    fails
        .executor_config
        .insert("command".into(), "exit 3".into());
    fails.executor_config.insert("shell".into(), "true".into());
    let mut unknown = job("unknown", "@manually");
    unknown.executor = "no-such-executor".into();
    for job in [echo, fails, unknown] {
        store.put_job(job);
    }
    let scheduler = Scheduler::builder()
        .memory_store(Arc::clone(&store))
        .start()
        .await
        .unwrap();
    for name in ["echo", "fails", "unknown"] {
        scheduler.run_now(name).await.unwrap();
    }
    let all_done = wait_until(Duration::from_secs(20), || {
        ["echo", "fails", "unknown"]
            .iter()
            .all(|name| !store.executions(name).is_empty())
    })
    .await;
    assert!(all_done, "executions did not arrive in 20 s");

    let echo = &store.executions("echo")[0];
    assert!(echo.success, "{echo:?}");
    assert_eq!(echo.output.trim(), "hello from dkron");
    assert_eq!(echo.exit_code, Some(0));
    assert_eq!(echo.trigger, Trigger::Manual);
    assert_eq!(echo.node_name, "local");
    assert!(echo.finished_at.is_some());
    let fails = &store.executions("fails")[0];
    assert!(!fails.success);
    assert_eq!(fails.exit_code, Some(3));
    let unknown = &store.executions("unknown")[0];
    assert!(!unknown.success);
    assert!(
        unknown.output.contains("no-such-executor"),
        "{}",
        unknown.output
    );
    assert!(scheduler.shutdown(Duration::from_secs(5)).await.drained);
}
