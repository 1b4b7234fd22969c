use dkron_model::{Job, Member};
use dkron_store::{Options, Store};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, storage::RaftStateMachine};

use super::*;
use crate::SkippedFires;

fn log_id(index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn entry(index: u64, command: Command) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(command),
    }
}

/// Stores job `a`, the job the other commands here act on.
fn set_job_a() -> Command {
    Command::SetJob(Box::new(Job {
        name: "a".to_owned(),
        schedule: "@every 1m".to_owned(),
        ..Job::default()
    }))
}

fn toggle() -> Command {
    Command::ToggleJob {
        name: "a".to_owned(),
    }
}

fn open(dir: &Path) -> StateMachine {
    let store = Store::open(&dir.join("store"), Options::default()).expect("store opens");
    StateMachine::open(store, &dir.join("snapshots")).expect("state machine opens")
}

/// A batch entry applies its commands in order and answers each, refusals included.
#[tokio::test]
async fn a_batch_applies_every_command_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let batch = Command::Batch(vec![
        set_job_a(),
        toggle(),
        Command::DeleteJob {
            name: "b".to_owned(),
        },
    ]);
    let responses = sm.apply([entry(1, batch)]).await.expect("applied");
    let Some(Response::Batch(responses)) = responses.into_iter().next() else {
        panic!("one batch response")
    };
    assert!(matches!(
        responses[0],
        Response::JobWritten { created: true, .. }
    ));
    assert!(matches!(&responses[1], Response::Job(job) if job.disabled));
    assert_eq!(
        responses[2],
        Response::Refused(Refusal::JobNotFound {
            job: "b".to_owned()
        })
    );
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(1)));
}

/// Entries applied in one call form one store group: a command sees the effects of commands
/// in earlier entries and earlier in its batch, and the position is the last entry's.
#[tokio::test]
async fn commands_of_one_apply_call_see_each_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut sm = open(dir.path());
        let start = |second| {
            Command::ExecutionStarted(dkron_model::Execution {
                job_name: "a".to_owned(),
                started_at: jiff::Timestamp::from_second(second).expect("timestamp"),
                node_name: "n1".to_owned(),
                group: second,
                attempt: 1,
                ..dkron_model::Execution::default()
            })
        };
        let responses = sm
            .apply([
                entry(1, set_job_a()),
                entry(
                    2,
                    Command::Batch(vec![toggle(), start(1), toggle(), start(2)]),
                ),
                entry(3, toggle()),
            ])
            .await
            .expect("applied");
        let Response::Batch(batch) = &responses[1] else {
            panic!("entry 2 answers as a batch: {responses:?}")
        };
        assert!(matches!(&batch[0], Response::Job(job) if job.disabled));
        assert!(matches!(
            batch[1],
            Response::ExecutionStarted { stored: true, .. }
        ));
        assert!(matches!(&batch[2], Response::Job(job) if !job.disabled));
        assert!(matches!(&responses[2], Response::Job(job) if job.disabled));
    }
    // Everything is on disk with the last entry's position.
    let mut sm = open(dir.path());
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(3)));
    let job = sm.store().job("a").expect("read").expect("stored");
    assert!(job.disabled, "three toggles");
    assert_eq!(sm.store().executions("a", None).expect("history").len(), 2);
}

/// A batch inside a batch is refused as an outcome, and the entry still counts as applied.
#[tokio::test]
async fn a_nested_batch_is_refused_but_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let responses = sm
        .apply([entry(1, Command::Batch(vec![Command::Batch(Vec::new())]))])
        .await
        .expect("applied");
    assert!(
        matches!(&responses[0], Response::Batch(r) if matches!(r[0], Response::Refused(Refusal::Invalid { .. })))
    );
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(1)));
}

/// Member records and the paused flag are applied through the store, each with its position;
/// removing an unknown member is not refused, and a bad member name is refused as an outcome.
#[tokio::test]
async fn members_and_the_paused_flag_are_applied_to_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let member = Member {
        name: "n1".to_owned(),
        addr: "127.0.0.1".to_owned(),
        server: true,
        ..Member::default()
    };
    let remove = |name: &str| Command::RemoveMember {
        name: name.to_owned(),
    };
    let responses = sm
        .apply([
            entry(1, Command::SetMember(member.clone())),
            entry(2, Command::SetPaused(true)),
        ])
        .await
        .expect("applied");
    assert_eq!(responses, vec![Response::Done, Response::Done]);
    assert_eq!(sm.store().members().expect("members"), vec![member.clone()]);
    assert!(sm.store().paused().expect("paused"));
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(2)));

    let bad = Member {
        name: String::new(),
        ..member
    };
    let responses = sm
        .apply([
            entry(3, remove("n1")),
            entry(4, remove("n1")),
            entry(5, Command::SetMember(bad)),
            entry(6, Command::SetPaused(false)),
        ])
        .await
        .expect("applied");
    assert_eq!(responses[..2], [Response::Done, Response::Done]);
    assert!(matches!(
        responses[2],
        Response::Refused(Refusal::Invalid { .. })
    ));
    assert_eq!(responses[3], Response::Done);
    assert!(sm.store().members().expect("members").is_empty());
    assert!(!sm.store().paused().expect("paused"));
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(6)));
}

/// A command that panics inside apply is refused as its outcome: the commands before it in
/// the entry and the entries after it apply, and the node keeps applying (issue 13).
#[tokio::test]
async fn a_panicking_command_is_refused_and_later_entries_apply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let responses = sm
        .apply([
            entry(1, Command::Batch(vec![set_job_a(), Command::PanicForTest])),
            entry(2, Command::PanicForTest),
            entry(3, toggle()),
        ])
        .await
        .expect("applied despite the panics");
    let Response::Batch(batch) = &responses[0] else {
        panic!("a batch response: {responses:?}")
    };
    assert!(matches!(
        batch[0],
        Response::JobWritten { created: true, .. }
    ));
    for refused in [&batch[1], &responses[1]] {
        assert!(
            matches!(refused, Response::Refused(Refusal::Failed { kind, message })
                if kind == "panic_for_test" && message.contains("a bug in apply")),
            "{refused:?}"
        );
    }
    assert!(matches!(&responses[2], Response::Job(job) if job.disabled));
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(3)));
    // And the next apply call still works.
    let responses = sm.apply([entry(4, toggle())]).await.expect("applied");
    assert!(matches!(&responses[0], Response::Job(job) if !job.disabled));
    assert_eq!(sm.applied_state().await.expect("state").0, Some(log_id(4)));
}

/// The issue's case: a job whose counter a client set to `u64::MAX` finishes runs without
/// the state machine stopping; the counter saturates.
#[tokio::test]
async fn a_saturated_counter_does_not_stop_applying() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let job = Job {
        name: "a".to_owned(),
        schedule: "@every 1m".to_owned(),
        success_count: u64::MAX,
        ..Job::default()
    };
    sm.apply([entry(1, Command::SetJob(Box::new(job)))])
        .await
        .expect("applied");
    let done = |second| {
        let started_at = jiff::Timestamp::from_second(second).expect("timestamp");
        Command::ExecutionDone(dkron_model::Execution {
            job_name: "a".to_owned(),
            started_at,
            finished_at: Some(started_at),
            success: true,
            node_name: "n1".to_owned(),
            group: second,
            ..dkron_model::Execution::default()
        })
    };
    let responses = sm
        .apply([entry(2, done(10)), entry(3, done(20)), entry(4, toggle())])
        .await
        .expect("applied");
    assert!(
        matches!(&responses[1], Response::ExecutionDone { job, .. } if job.success_count == u64::MAX)
    );
    assert!(matches!(&responses[2], Response::Job(job) if job.disabled));
}

/// Dropped fires add up per job, keep the latest instant, pass over a deleted job, and a later
/// upsert of the job (a client's write, counters cleared) keeps the stored count.
#[tokio::test]
async fn skipped_fires_are_counted_per_job() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let at = |second| jiff::Timestamp::from_second(second).expect("timestamp");
    let fires = |job: &str, count, last| SkippedFires {
        job: job.to_owned(),
        count,
        last: at(last),
    };
    let responses = sm
        .apply([
            entry(1, set_job_a()),
            entry(
                2,
                Command::RecordSkipped(vec![fires("a", 3, 20), fires("gone", 1, 20)]),
            ),
            entry(3, Command::RecordSkipped(vec![fires("a", 2, 10)])),
            entry(4, set_job_a()),
        ])
        .await
        .expect("applied");
    assert_eq!(responses[1], Response::Done);
    let Response::JobWritten { job, .. } = &responses[3] else {
        panic!("unexpected {:?}", responses[3]);
    };
    assert_eq!(job.skipped_count, 5);
    assert_eq!(job.last_skipped, Some(at(20)));
}

/// A `RecordLaunch` with a start records the launch's executions running with it, only when
/// the launch is new: the same fire proposed again (a second leader) is refused and records no
/// execution. An entry written before `started_at` existed decodes and records the launch
/// alone.
#[tokio::test]
async fn a_launch_carries_its_starts_only_when_new() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sm = open(dir.path());
    let at = |second| jiff::Timestamp::from_second(second).expect("timestamp");
    let launch = |second: i64, targets: &[&str]| dkron_model::LaunchRecord {
        job_name: "a".to_owned(),
        scheduled_at: at(second),
        group: second * 1_000_000_000,
        attempt: 1,
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        trigger: dkron_model::Trigger::Scheduled,
    };
    let record = |second, started| Command::RecordLaunch {
        launch: launch(second, &["n1", "n2"]),
        next: Some(Some(at(second + 60))),
        started_at: Some(at(started)),
    };
    let responses = sm
        .apply([
            entry(1, set_job_a()),
            entry(2, Command::Batch(vec![record(60, 61), record(60, 62)])),
        ])
        .await
        .expect("applied");
    let Response::Batch(batch) = &responses[1] else {
        panic!("entry 2 answers as a batch: {responses:?}")
    };
    assert_eq!(batch[0], Response::Done);
    assert!(matches!(
        batch[1],
        Response::Refused(Refusal::AlreadyLaunched { .. })
    ));
    let mut running = sm.store().running_executions().expect("running");
    running.sort_by(|a, b| a.node_name.cmp(&b.node_name));
    let fire = launch(60, &["n1", "n2"]);
    assert_eq!(
        running,
        vec![fire.execution("n1", at(61)), fire.execution("n2", at(61))]
    );

    // As the previous version wrote it: no `started_at`.
    let old = br#"{"RecordLaunch":{"launch":{"job_name":"a","scheduled_at":"1970-01-01T00:02:00Z","group":120000000000,"attempt":1,"targets":["n1"],"trigger":"Scheduled"},"next":null}}"#;
    let command: Command = serde_json::from_slice(old).expect("an old entry decodes");
    assert!(matches!(
        &command,
        Command::RecordLaunch {
            started_at: None,
            ..
        }
    ));
    let responses = sm.apply([entry(3, command)]).await.expect("applied");
    assert_eq!(responses, vec![Response::Done]);
    assert_eq!(sm.store().last_scheduled("a").expect("read"), Some(at(120)));
    assert_eq!(sm.store().running_executions().expect("running").len(), 2);
}
