//! The starts recorded with their launches: distinct instants, one pending start per launch,
//! hand-over registrations held from before the commit until the dispatch or the refusal.

use std::sync::Arc;

use dkron_model::{Execution, LaunchRecord, Trigger};
use jiff::Timestamp;

use super::Starts;
use crate::leader::HandOvers;

fn launch(job: &str, targets: &[&str]) -> LaunchRecord {
    LaunchRecord {
        job_name: job.to_owned(),
        scheduled_at: Timestamp::from_second(60).expect("timestamp"),
        group: 60_000_000_000,
        attempt: 1,
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        trigger: Trigger::Scheduled,
    }
}

/// Execution ids are the start's nanosecond and the node: a batch's launches never share one.
#[test]
fn stamps_strictly_increase() {
    let starts = Starts::new(Arc::default());
    let stamps: Vec<Timestamp> = (0..1_000)
        .map(|_| starts.stamp(Timestamp::UNIX_EPOCH))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}

/// Launches handed over ahead start on their due instant (nanoseconds apart when several are
/// due at once); no instant is handed out twice, whether asked for now or ahead.
#[test]
fn stamps_ahead_start_on_the_due_instant_and_never_repeat() {
    let starts = Starts::new(Arc::default());
    let due = Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let ahead: Vec<Timestamp> = (0..1_000).map(|_| starts.stamp(due)).collect();
    assert_eq!(ahead[0], due);
    assert_eq!(ahead[999], due + jiff::SignedDuration::from_nanos(999));
    let mut all: Vec<Timestamp> = ahead.clone();
    // Asked for just after `due`, and now: clear of the burst's instants.
    let after = due + jiff::SignedDuration::from_nanos(10);
    all.extend((0..100).map(|_| starts.stamp(after)));
    assert!(all.iter().all(|at| *at >= due));
    let now: Vec<Timestamp> = (0..100)
        .map(|_| starts.stamp(Timestamp::UNIX_EPOCH))
        .collect();
    assert!(now.iter().all(|at| *at < due), "asked for now, not ahead");
    all.extend(now);
    starts.prune();
    all.extend((0..100).map(|_| starts.stamp(due)));
    let distinct: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "an instant was handed out twice");
}

/// Begun: every target's execution is registered as being handed over; taken by the dispatch
/// with its instant and registrations, which end when the dispatch drops them.
#[test]
fn a_begun_start_is_registered_until_its_dispatch_ends() {
    let hand_overs = Arc::new(HandOvers::default());
    let starts = Starts::new(Arc::clone(&hand_overs));
    let record = launch("a", &["n1", "n2"]);
    let at = starts.stamp(Timestamp::UNIX_EPOCH);
    assert!(starts.begin(&record, at));
    let ids = [Execution::id_for(at, "n1"), Execution::id_for(at, "n2")];
    assert!(ids.iter().all(|id| hand_overs.contains(id)));
    assert_eq!(hand_overs.launches(), vec![record.clone(), record.clone()]);

    let mut taken = starts.take(&record).expect("recorded");
    assert_eq!(taken.started_at, at);
    assert!(starts.take(&record).is_none(), "taken once");
    let n1 = taken.guards.remove("n1").expect("n1's registration");
    drop(taken);
    assert!(
        hand_overs.contains(&ids[0]),
        "n1's hand-over still under way"
    );
    assert!(!hand_overs.contains(&ids[1]));
    drop(n1);
    assert!(hand_overs.ids().is_empty());
}

/// A repeat of a pending launch registers nothing and leaves the pending one for its
/// dispatch; a launch that was not recorded is forgotten with its registrations.
#[test]
fn a_repeat_is_not_begun_and_a_refused_launch_is_forgotten() {
    let hand_overs = Arc::new(HandOvers::default());
    let starts = Starts::new(Arc::clone(&hand_overs));
    let record = launch("a", &["n1"]);
    let first = starts.stamp(Timestamp::UNIX_EPOCH);
    assert!(starts.begin(&record, first));
    assert!(!starts.begin(&record, starts.stamp(Timestamp::UNIX_EPOCH)));
    assert_eq!(hand_overs.ids().len(), 1);
    assert_eq!(starts.take(&record).map(|r| r.started_at), Some(first));

    let other = launch("b", &["n1"]);
    assert!(starts.begin(&other, starts.stamp(Timestamp::UNIX_EPOCH)));
    starts.forget(&other);
    assert!(hand_overs.ids().is_empty());
    assert!(starts.take(&other).is_none());
}
