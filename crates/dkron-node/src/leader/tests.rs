//! Closing interrupted runs: when they are recorded to have ended.

use jiff::{SignedDuration, Timestamp};

use super::ended_at;

/// A run cut off by a crash ends by the restart's boot (soak finding 9: "now", long after the
/// boot, stretched a killed `forbid` run over its job's next fire); a run recorded after the
/// boot, or closed without a bound, ends now; never before its start.
#[test]
fn a_run_cut_off_by_a_crash_ends_by_the_boot() {
    let booted_at = Timestamp::now() - SignedDuration::from_secs(30);
    let before = booted_at - SignedDuration::from_secs(2);
    assert_eq!(ended_at(before, Some(booted_at)), booted_at);

    let after = booted_at + SignedDuration::from_secs(1);
    let closing = Timestamp::now();
    let ended = ended_at(after, Some(booted_at));
    assert!(ended >= closing, "{ended} is before the close at {closing}");
    assert!(ended_at(before, None) >= closing);

    let future = Timestamp::now() + SignedDuration::from_secs(3600);
    assert_eq!(ended_at(future, None), future);
}
