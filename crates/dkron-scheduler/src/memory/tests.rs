use dkron_model::Trigger;

use super::*;

fn record(job: &str, at: &str, trigger: Trigger, group: i64, attempt: u32) -> LaunchRecord {
    LaunchRecord {
        job_name: job.to_owned(),
        scheduled_at: at.parse().unwrap(),
        group,
        attempt,
        targets: Vec::new(),
        trigger,
    }
}

#[test]
fn scheduled_fires_only_move_forward() {
    let store = MemoryStore::new();
    assert!(store.record(&record(
        "a",
        "2026-01-01T00:00:01Z",
        Trigger::Scheduled,
        1,
        1
    )));
    assert!(!store.record(&record(
        "a",
        "2026-01-01T00:00:01Z",
        Trigger::Scheduled,
        1,
        1
    )));
    assert!(!store.record(&record(
        "a",
        "2026-01-01T00:00:00Z",
        Trigger::Scheduled,
        0,
        1
    )));
    assert!(store.record(&record(
        "a",
        "2026-01-01T00:00:02Z",
        Trigger::Scheduled,
        2,
        1
    )));
    // Another job has its own history.
    assert!(store.record(&record(
        "b",
        "2026-01-01T00:00:01Z",
        Trigger::Scheduled,
        1,
        1
    )));
    assert_eq!(store.launch_count("a"), 2);
    assert_eq!(
        store.last_fire_now("a"),
        Some("2026-01-01T00:00:02Z".parse().unwrap())
    );
}

#[test]
fn launches_are_unique_per_group_and_attempt() {
    let store = MemoryStore::new();
    assert!(store.record(&record("a", "2026-01-01T00:00:01Z", Trigger::Retry, 7, 2)));
    assert!(!store.record(&record("a", "2026-01-01T00:00:01Z", Trigger::Retry, 7, 2)));
    assert!(store.record(&record("a", "2026-01-01T00:00:01Z", Trigger::Retry, 7, 3)));
    assert!(store.record(&record("a", "2026-01-01T00:00:01Z", Trigger::Manual, 8, 1)));
    // The scheduler gives each manual run a group of its own: the same one twice is a repeat.
    assert!(!store.record(&record("a", "2026-01-01T00:00:01Z", Trigger::Manual, 8, 1)));
    assert!(store.record(&record("a", "2026-01-01T00:00:01Z", Trigger::Manual, 9, 1)));
    // Manual runs do not move the scheduled watermark.
    assert_eq!(store.last_fire_now("a"), None);
}

#[test]
fn kept_launches_and_executions_are_bounded() {
    let store = MemoryStore::with_limits(
        Limits {
            history: 3,
            output_bytes: 10,
        },
        2,
    );
    for second in 1..=5 {
        let at = format!("2026-01-01T00:00:0{second}Z");
        assert!(store.record(&record("a", &at, Trigger::Scheduled, second, 1)));
        let execution = Execution {
            job_name: "a".into(),
            group: second,
            ..Execution::default()
        };
        store.keep_execution(&execution);
    }
    assert_eq!(store.launch_count("a"), 5);
    let groups: Vec<i64> = store.launches("a").iter().map(|r| r.group).collect();
    assert_eq!(groups, [4, 5]);
    let groups: Vec<i64> = store.executions("a").iter().map(|e| e.group).collect();
    assert_eq!(groups, [3, 4, 5]);
}

impl MemoryStore {
    fn last_fire_now(&self, job: &str) -> Option<Timestamp> {
        self.lock().launches.get(job).and_then(|l| l.last_scheduled)
    }
}
