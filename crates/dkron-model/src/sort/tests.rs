use std::cmp::Ordering;

use jiff::Timestamp;

use super::JobSort;
use crate::Job;

fn job(name: &str, display: &str) -> Job {
    let mut job = Job::new(name);
    job.display_name = display.to_owned();
    job
}

/// Sort keys come from dkron's names; `id` means `name`; anything else is `None`.
#[test]
fn sort_key_names() {
    for key in JobSort::ALL {
        assert_eq!(JobSort::from_query(key.as_str()), Some(key));
        assert!(JobSort::QUERY_NAMES.contains(&key.as_str()));
    }
    assert_eq!(JobSort::from_query("id"), Some(JobSort::Name));
    assert_eq!(JobSort::from_query("owner"), None);
    assert_eq!(JobSort::from_query("Name"), None);
}

/// Text keys ignore ASCII case (dkron's BuntDB string index); ties fall back to the name.
#[test]
fn text_ignores_case_and_ties_go_by_name() {
    let (lower, upper, tie) = (job("a", "beta"), job("b", "Alpha"), job("c", "ALPHA"));
    assert_eq!(
        JobSort::DisplayName.compare(&upper, &lower),
        Ordering::Less,
        "Alpha before beta despite the capital"
    );
    assert_eq!(JobSort::DisplayName.compare(&upper, &tie), Ordering::Less);
    assert_eq!(JobSort::Name.compare(&lower, &upper), Ordering::Less);
    assert_eq!(JobSort::Name.compare(&lower, &lower), Ordering::Equal);
}

/// A job that never succeeded sorts before any that did.
#[test]
fn never_sorts_first() {
    let never = job("z", "");
    let mut once = job("a", "");
    once.last_success = Some(Timestamp::UNIX_EPOCH);
    assert_eq!(JobSort::LastSuccess.compare(&never, &once), Ordering::Less);
    once.success_count = 1;
    assert_eq!(JobSort::SuccessCount.compare(&never, &once), Ordering::Less);
}
