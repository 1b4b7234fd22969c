//! A child of several parents (`parent_jobs`) in the embedded scheduler: reports received
//! in-process, so the loop applies the round rule itself.

use dkron_model::{RunOn, Trigger};

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn a_child_of_two_parents_runs_once_per_round_in_process() {
    let mut a = job("a", "@every 2s");
    a.dependent_jobs = vec!["both".into(), "on-fail".into()];
    let mut b = job("b", "@every 5s");
    b.dependent_jobs = vec!["both".into(), "on-fail".into()];
    let child = |name: &str, run_on: RunOn| {
        let mut child = job(name, "");
        child.parent_jobs = vec!["a".into(), "b".into()];
        child.run_on = run_on;
        child
    };
    let h = Harness::start(vec![
        a,
        b,
        child("both", RunOn::Success),
        child("on-fail", RunOn::Failure),
    ])
    .await;
    h.run_for(11.0).await;
    // a runs at 2, 4, 6, 8, 10 and b at 5, 10: a round ends with b's run at 5, and with the
    // later of the two runs at 10. a's runs in between start nothing.
    assert_eq!(h.recorder.starts("a"), [2, 4, 6, 8, 10]);
    assert_eq!(h.recorder.starts("both"), [5, 10]);
    assert!(
        h.recorder
            .seen_of("both")
            .iter()
            .all(|s| s.trigger == Trigger::Dependent)
    );
    // Nothing failed: the failure child never ran.
    assert!(h.recorder.seen_of("on-fail").is_empty());
    h.stop().await;
}
