//! Filtering, sorting and slicing of job and execution lists.

use dkron_model::{Execution, Job, JobStatus};
use jiff::Timestamp;

use super::{ExecQuery, ExecSort, JobQuery, JobSort};

fn job(name: &str, display: &str, successes: u64) -> Job {
    let mut job = Job::new(name);
    job.display_name = display.to_owned();
    job.success_count = successes;
    job
}

fn jobs() -> Vec<Job> {
    let mut a = job("alpha", "First", 3);
    a.metadata.insert("team".into(), "ops".into());
    a.metadata.insert("env".into(), "prod".into());
    a.status = JobStatus::Success;
    let mut b = job("beta", "Second", 1);
    b.metadata.insert("team".into(), "ops".into());
    b.disabled = true;
    b.status = JobStatus::Failed;
    let c = job("gamma", "alphabet soup", 2);
    vec![c, b, a]
}

fn names(query: &JobQuery) -> (Vec<String>, usize) {
    let page = query.apply(&mut jobs().into_iter());
    (page.items.into_iter().map(|j| j.name).collect(), page.total)
}

/// Default order is by name; `_order=DESC` reverses; other keys sort by their value.
#[test]
fn jobs_sort() {
    assert_eq!(names(&JobQuery::default()).0, ["alpha", "beta", "gamma"]);
    let desc = JobQuery {
        descending: true,
        ..JobQuery::default()
    };
    assert_eq!(names(&desc).0, ["gamma", "beta", "alpha"]);
    let by_count = JobQuery {
        sort: JobSort::SuccessCount,
        ..JobQuery::default()
    };
    assert_eq!(names(&by_count).0, ["beta", "gamma", "alpha"]);
    assert_eq!(JobSort::from_query("id"), Some(JobSort::Name));
    assert_eq!(JobSort::from_query("bogus"), None);
}

/// Text keys sort ignoring ASCII case, as the store's index does (dkron's BuntDB string
/// index): a list filtered in memory (`id=`) is in the same order as one from the store.
#[test]
fn text_keys_ignore_case() {
    let by_display = JobQuery {
        sort: JobSort::DisplayName,
        ..JobQuery::default()
    };
    // Display names: gamma "alphabet soup", alpha "First", beta "Second".
    assert_eq!(names(&by_display).0, ["gamma", "alpha", "beta"]);
}

/// `q` matches name or display name (case-sensitive); metadata pairs must all match;
/// `status`, `disabled` and `id` filter exactly.
#[test]
fn jobs_filter() {
    let q = JobQuery {
        text: Some("alpha".into()),
        ..JobQuery::default()
    };
    assert_eq!(names(&q).0, ["alpha", "gamma"]);
    let upper = JobQuery {
        text: Some("Alpha".into()),
        ..JobQuery::default()
    };
    assert_eq!(names(&upper).1, 0);
    let mut meta = JobQuery::default();
    meta.metadata.insert("team".into(), "ops".into());
    assert_eq!(names(&meta).0, ["alpha", "beta"]);
    meta.metadata.insert("env".into(), "prod".into());
    assert_eq!(names(&meta).0, ["alpha"]);
    let untriggered = JobQuery {
        status: Some(JobStatus::Untriggered),
        ..JobQuery::default()
    };
    assert_eq!(names(&untriggered).0, ["gamma"]);
    let disabled = JobQuery {
        disabled: Some(true),
        ..JobQuery::default()
    };
    assert_eq!(names(&disabled).0, ["beta"]);
    let by_id = JobQuery {
        names: vec!["gamma".into(), "alpha".into()],
        ..JobQuery::default()
    };
    assert_eq!(names(&by_id).0, ["alpha", "gamma"]);
}

/// The total counts matches before slicing; out-of-range slices are empty, never errors.
#[test]
fn jobs_slice() {
    let page = |start, end| {
        names(&JobQuery {
            start,
            end,
            ..JobQuery::default()
        })
    };
    assert_eq!(page(1, Some(2)), (vec!["beta".to_owned()], 3));
    assert_eq!(page(0, Some(100)).0.len(), 3);
    assert_eq!(page(5, None), (Vec::<String>::new(), 3));
    assert_eq!(page(2, Some(1)), (Vec::<String>::new(), 3));
}

fn execution(node: &str, started: i64, finished: Option<i64>) -> Execution {
    Execution {
        job_name: "a".into(),
        node_name: node.into(),
        started_at: Timestamp::from_second(started).expect("in range"),
        finished_at: finished.map(|s| Timestamp::from_second(s).expect("in range")),
        ..Execution::default()
    }
}

/// Executions: newest first by default, `ASC` reverses, running ones sort last by
/// `finished_at`, paging keeps the total.
#[test]
fn executions_sort_and_page() {
    let all = vec![
        execution("n1", 10, Some(11)),
        execution("n2", 30, None),
        execution("n1", 20, Some(25)),
    ];
    let starts = |query: ExecQuery| {
        let page = query.apply(all.clone());
        (
            page.items
                .iter()
                .map(|e| e.started_at.as_second())
                .collect::<Vec<_>>(),
            page.total,
        )
    };
    assert_eq!(starts(ExecQuery::default()), (vec![30, 20, 10], 3));
    let asc = ExecQuery {
        descending: false,
        ..ExecQuery::default()
    };
    assert_eq!(starts(asc).0, [10, 20, 30]);
    let finished = ExecQuery {
        sort: ExecSort::FinishedAt,
        descending: false,
        ..ExecQuery::default()
    };
    assert_eq!(starts(finished).0, [10, 20, 30]);
    let paged = ExecQuery {
        start: 1,
        end: Some(2),
        ..ExecQuery::default()
    };
    assert_eq!(starts(paged), (vec![20], 3));
    assert_eq!(ExecSort::from_query("job_name"), None);
}

/// Only unfiltered name-ordered queries qualify for the O(page) path.
#[test]
fn plain_name_page() {
    let plain = JobQuery {
        descending: true,
        start: 100,
        end: Some(110),
        ..JobQuery::default()
    };
    assert!(plain.is_plain_name_page());
    let filtered = JobQuery {
        disabled: Some(false),
        ..JobQuery::default()
    };
    assert!(!filtered.is_plain_name_page());
    let sorted = JobQuery {
        sort: JobSort::Next,
        ..JobQuery::default()
    };
    assert!(!sorted.is_plain_name_page());
}

/// The borrowed and owned forms give the same pages for every window, order and key.
#[test]
fn borrowed_equals_owned() {
    let many: Vec<Job> = (0..50)
        .map(|i| job(&format!("job-{:02}", (i * 37) % 50), "x", i % 7))
        .collect();
    for sort in [JobSort::Name, JobSort::SuccessCount] {
        for descending in [false, true] {
            for (start, end) in [
                (0, None),
                (0, Some(0)),
                (3, Some(9)),
                (45, Some(80)),
                (60, None),
            ] {
                let query = JobQuery {
                    sort,
                    descending,
                    start,
                    end,
                    ..JobQuery::default()
                };
                let owned = query.apply(&mut many.clone().into_iter());
                let borrowed = query.apply_borrowed(&mut many.iter());
                assert_eq!(owned, borrowed, "{query:?}");
                assert_eq!(owned.total, 50);
                let mut all = many.clone();
                all.sort_by(|a, b| {
                    let key = match sort {
                        JobSort::SuccessCount => a.success_count.cmp(&b.success_count),
                        _ => std::cmp::Ordering::Equal,
                    }
                    .then_with(|| a.name.cmp(&b.name));
                    if descending { key.reverse() } else { key }
                });
                let end = end.unwrap_or(50).min(50);
                let expected: Vec<Job> = all.into_iter().take(end).skip(start.min(end)).collect();
                assert_eq!(owned.items, expected, "{query:?}");
            }
        }
    }
}
