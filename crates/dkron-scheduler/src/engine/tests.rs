use dkron_model::Job;

use super::*;
use crate::{FnDispatch, MemoryStore, TokioClock};

fn engine() -> Engine {
    let store = Arc::new(MemoryStore::new());
    let origin = "2026-01-01T00:00:00Z".parse().unwrap();
    Engine::new(Arc::new(Ports {
        source: store.clone(),
        launch_log: store.clone(),
        sink: store,
        dispatch: Arc::new(FnDispatch::new(|_| async { Ok(String::new()) })),
        clock: Arc::new(TokioClock::starting_at(origin)),
        counters: Arc::new(Counters::default()),
        misfire_threshold: crate::DEFAULT_MISFIRE_THRESHOLD,
        lead: SignedDuration::ZERO,
    }))
}

fn upsert(engine: &mut Engine, name: &str, schedule: &str) {
    let mut job = Job::new(name);
    job.schedule = schedule.to_owned();
    let timed = job.job_schedule().unwrap().as_ref().map(Timed::new);
    engine.upsert(KeptJob::new(job), timed);
    engine.compact_heap();
}

#[tokio::test(start_paused = true)]
async fn a_storm_of_updates_keeps_the_heap_bounded() {
    let mut engine = engine();
    for i in 0..20_000 {
        // Alternating schedules: every update changes the timing and leaves a stale entry.
        upsert(
            &mut engine,
            "busy",
            if i % 2 == 0 { "@every 1s" } else { "@every 7s" },
        );
    }
    assert_eq!(engine.names.len(), 1);
    assert!(
        engine.heap.len() <= 2 + 1024 + 1,
        "heap grew to {}",
        engine.heap.len()
    );
    // The one live entry is the latest schedule's.
    assert_eq!(
        engine.next_deadline(),
        Some("2026-01-01T00:00:07Z".parse().unwrap())
    );
}

#[tokio::test(start_paused = true)]
async fn a_reused_slot_does_not_revive_stale_entries() {
    let mut engine = engine();
    upsert(&mut engine, "a", "@every 5s");
    assert!(engine.remove("a"));
    assert!(!engine.remove("a"));
    upsert(&mut engine, "b", "@every 9s");
    assert_eq!(engine.cells.len(), 1, "the slot was reused");
    // a's entry (5 s) is still in the heap but stale: b's 9 s is the deadline.
    assert_eq!(engine.heap.len(), 2);
    assert_eq!(
        engine.next_deadline(),
        Some("2026-01-01T00:00:09Z".parse().unwrap())
    );
    assert_eq!(engine.heap.len(), 1);
    assert_eq!(engine.find("b"), Some(0));
    assert_eq!(engine.find("a"), None);
}

#[tokio::test(start_paused = true)]
async fn the_name_table_follows_inserts_and_removals() {
    let mut engine = engine();
    for i in 0..5_000 {
        upsert(&mut engine, &format!("job-{i}"), "@every 1s");
    }
    for i in (0..5_000).step_by(2) {
        assert!(engine.remove(&format!("job-{i}")));
    }
    for i in 0..5_000 {
        let found = engine.find(&format!("job-{i}"));
        assert_eq!(found.is_some(), i % 2 == 1, "job-{i}");
        if let Some(idx) = found {
            assert_eq!(
                name_at(&engine.cells, idx),
                Some(format!("job-{i}").as_str())
            );
        }
    }
    assert_eq!(engine.names.len(), 2_500);
}
