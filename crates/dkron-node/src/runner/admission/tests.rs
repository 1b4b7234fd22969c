use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Admission, ExecutionSlots, Overflow, Work};

/// Bounds where only `max_concurrent` binds (the process bound is far above it).
fn slots(max_concurrent: usize, queue: usize, overflow: Overflow) -> ExecutionSlots {
    ExecutionSlots {
        max_concurrent,
        max_processes: 1 << 20,
        queue,
        overflow,
    }
}

/// Spawns an admission of a process on `admission` and returns once `waiting` wait.
async fn waiting_process(
    admission: &std::sync::Arc<Admission>,
    cancel: &CancellationToken,
    waiting: usize,
) -> tokio::task::JoinHandle<Result<(), String>> {
    let task = {
        let admission = std::sync::Arc::clone(admission);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            admission
                .admit("n1", Work::Process, &cancel)
                .await
                .map(drop)
        })
    };
    while admission.waiting() < waiting {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task
}

#[tokio::test]
async fn fail_refuses_above_the_limit_with_the_reason() {
    let admission = Admission::new(slots(1, 10, Overflow::Fail));
    let cancel = CancellationToken::new();
    let first = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    let refused = admission
        .admit("n1", Work::Process, &cancel)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        "node n1 is at its limit of 1 concurrent executions (max-concurrent-executions); execution refused"
    );
    drop(first);
    assert!(admission.admit("n1", Work::Process, &cancel).await.is_ok());
}

#[tokio::test]
async fn queue_waits_for_a_free_slot() {
    let admission = std::sync::Arc::new(Admission::new(slots(1, 1, Overflow::Queue)));
    let cancel = CancellationToken::new();
    let first = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    let waiter = waiting_process(&admission, &cancel, 1).await;
    // The queue (of one) is full: the next is refused, naming both settings.
    let refused = admission
        .admit("n1", Work::Process, &cancel)
        .await
        .unwrap_err();
    assert!(refused.contains("max-concurrent-executions"), "{refused}");
    assert!(
        refused.contains("1 are waiting (execution-queue)"),
        "{refused}"
    );
    assert!(!waiter.is_finished());
    drop(first);
    assert_eq!(waiter.await.unwrap(), Ok(()));
    assert_eq!(admission.waiting(), 0);
}

#[tokio::test]
async fn a_waiting_execution_can_be_cancelled() {
    let admission = std::sync::Arc::new(Admission::new(slots(1, 4, Overflow::Queue)));
    let held = admission
        .admit("n1", Work::Process, &CancellationToken::new())
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let waiter = waiting_process(&admission, &cancel, 1).await;
    cancel.cancel();
    let outcome = waiter.await.unwrap().unwrap_err();
    assert!(outcome.contains("cancelled while waiting"), "{outcome}");
    assert_eq!(admission.waiting(), 0);
    drop(held);
}

#[tokio::test]
async fn an_empty_queue_refuses_at_once() {
    let admission = Admission::new(slots(2, 0, Overflow::Queue));
    let cancel = CancellationToken::new();
    let _a = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    let _b = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    assert!(admission.admit("n1", Work::Process, &cancel).await.is_err());
}

/// A staged run that comes due waits for a slot even when the queue is full; staging is
/// bounded at acceptance.
#[tokio::test]
async fn a_staged_run_waits_past_a_full_queue_and_staging_is_bounded() {
    let admission = std::sync::Arc::new(Admission::new(slots(1, 1, Overflow::Queue)));
    let cancel = CancellationToken::new();
    let running = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    let queued = waiting_process(&admission, &cancel, 1).await;
    assert!(
        admission.admit("n1", Work::Process, &cancel).await.is_err(),
        "the queue is full"
    );
    let ticket = admission.stage().expect("room to stage");
    let staged = {
        let admission = std::sync::Arc::clone(&admission);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            admission
                .admit_staged("n1", Work::Process, &cancel, ticket)
                .await
                .map(drop)
        })
    };
    while admission.waiting() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(running);
    assert!(queued.await.unwrap().is_ok());
    assert!(staged.await.unwrap().is_ok());

    let tickets: Vec<_> = (0..super::MAX_STAGED)
        .map(|_| admission.stage().expect("below the bound"))
        .collect();
    assert!(admission.stage().is_none(), "staging is bounded");
    drop(tickets);
    assert!(admission.stage().is_some());
}

/// `execution-overflow: fail` refuses a staged run that finds every slot taken.
#[tokio::test]
async fn fail_refuses_a_staged_run_too() {
    let admission = Admission::new(slots(1, 10, Overflow::Fail));
    let cancel = CancellationToken::new();
    let _running = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    let ticket = admission.stage().unwrap();
    assert!(
        admission
            .admit_staged("n1", Work::Process, &cancel, ticket)
            .await
            .is_err()
    );
}

/// Processes have their own, tighter bound: with every process slot taken, work inside the
/// node (a request) still starts at once, and a process waits (or, with `fail`, is refused
/// naming `max-concurrent-processes`).
#[tokio::test]
async fn processes_are_bounded_apart_from_requests() {
    let bounds = ExecutionSlots {
        max_processes: 1,
        ..slots(3, 4, Overflow::Queue)
    };
    let admission = std::sync::Arc::new(Admission::new(bounds));
    let cancel = CancellationToken::new();
    let process = admission.admit("n1", Work::Process, &cancel).await.unwrap();
    let request = admission
        .admit("n1", Work::InProcess, &cancel)
        .await
        .expect("a request does not need a process slot");
    let waiter = waiting_process(&admission, &cancel, 1).await;
    // The waiting process holds no execution slot: the third slot is still free.
    let third = admission
        .admit("n1", Work::InProcess, &cancel)
        .await
        .expect("the waiting process holds no execution slot");
    assert!(!waiter.is_finished());
    drop(process);
    assert_eq!(waiter.await.unwrap(), Ok(()));
    drop((request, third));

    let refusing = Admission::new(ExecutionSlots {
        max_processes: 1,
        ..slots(3, 4, Overflow::Fail)
    });
    let _process = refusing.admit("n1", Work::Process, &cancel).await.unwrap();
    assert_eq!(
        refusing
            .admit("n1", Work::Process, &cancel)
            .await
            .unwrap_err(),
        "node n1 is at its limit of 1 concurrent processes (max-concurrent-processes); execution refused"
    );
    assert!(refusing.admit("n1", Work::InProcess, &cancel).await.is_ok());
}

/// The execution bound counts both kinds: with every execution slot taken by requests, a
/// process waits too, and the reason names `max-concurrent-executions`.
#[tokio::test]
async fn the_execution_bound_counts_both_kinds() {
    let admission = Admission::new(ExecutionSlots {
        max_processes: 4,
        ..slots(1, 4, Overflow::Fail)
    });
    let cancel = CancellationToken::new();
    let _request = admission
        .admit("n1", Work::InProcess, &cancel)
        .await
        .unwrap();
    let refused = admission
        .admit("n1", Work::Process, &cancel)
        .await
        .unwrap_err();
    assert!(refused.contains("max-concurrent-executions"), "{refused}");
}
