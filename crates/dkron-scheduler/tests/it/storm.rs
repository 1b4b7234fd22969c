//! Many jobs due at the same instant, and changes made while they fire.

use std::{collections::HashMap, sync::Arc, time::Duration};

use dkron_model::Job;

use crate::helpers::*;

const JOBS: usize = 10_000;

fn starts_by_job(recorder: &Recorder) -> HashMap<String, Vec<i64>> {
    let mut by_job: HashMap<String, Vec<i64>> = HashMap::new();
    for seen in recorder.seen() {
        assert_eq!(seen.started, seen.scheduled_at, "{seen:?}");
        by_job
            .entry(seen.job)
            .or_default()
            .push(seen.scheduled_at.duration_since(at(0)).as_secs());
    }
    for starts in by_job.values_mut() {
        starts.sort_unstable();
    }
    by_job
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_jobs_due_in_one_second_fire_exactly_once_each() {
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| job(&format!("j{i}"), "@every 1s"))
        .collect();
    let h = Harness::start(jobs).await;
    h.run_for(3.5).await;
    let by_job = starts_by_job(&h.recorder);
    assert_eq!(by_job.len(), JOBS);
    for (name, starts) in &by_job {
        assert_eq!(starts, &[1, 2, 3], "{name}");
    }
    let stats = h.scheduler.stats();
    assert_eq!(stats.scheduled, 3 * JOBS as u64);
    assert_eq!(stats.dispatched, 3 * JOBS as u64);
    assert_eq!(stats.duplicates, 0);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn removes_and_upserts_during_a_storm_take_effect_without_duplicates() {
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| job(&format!("j{i}"), "@every 1s"))
        .collect();
    let h = Arc::new(Harness::start(jobs).await);
    h.run_for(1.5).await;

    // Exactly when all 10k jobs are due again, another task changes 10k of them.
    let scheduler = h.scheduler.clone();
    let changer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for i in 0..JOBS {
            let name = format!("j{i}");
            match i * 4 / JOBS {
                0 => assert!(scheduler.remove(&name).await.unwrap()),
                1 => scheduler.upsert(job(&name, "@every 2s")).await.unwrap(),
                2 => {
                    let mut same = job(&name, "@every 1s");
                    same.owner = "someone else".into();
                    scheduler.upsert(same).await.unwrap();
                }
                _ => scheduler
                    .upsert(job(&format!("new{i}"), "@every 1s"))
                    .await
                    .unwrap(),
            }
        }
    });
    changer.await.unwrap();
    h.run_for(2.5).await;

    let by_job = starts_by_job(&h.recorder);
    for i in 0..JOBS {
        let starts = &by_job[&format!("j{i}")];
        match i * 4 / JOBS {
            0 => assert!(
                starts == &[1] || starts == &[1, 2],
                "removed j{i}: {starts:?}"
            ),
            1 => assert!(
                starts == &[1, 3] || starts == &[1, 2, 4],
                "rescheduled j{i}: {starts:?}"
            ),
            _ => assert_eq!(starts, &[1, 2, 3, 4], "j{i}"),
        }
        if i * 4 / JOBS == 3 {
            assert_eq!(by_job[&format!("new{i}")], [3, 4], "new{i}");
        }
    }
    assert_eq!(h.scheduler.job_count().await.unwrap(), JOBS);
    let h = Arc::into_inner(h).unwrap();
    h.stop().await;
}
