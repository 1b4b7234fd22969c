//! `GET /v1/jobs` semantics: filters, every sort key both ways, `_start`/`_end` and the total.

use std::collections::BTreeMap;

use dkron_model::{JobSort, JobStatus};
use dkron_store::{Apply, JobQuery, SortOrder, Store};

use crate::support::*;

fn names(store: &Store, query: &JobQuery) -> (Vec<String>, usize) {
    let page = store.list_jobs(query).unwrap();
    (page.jobs.into_iter().map(|j| j.name).collect(), page.total)
}

fn sorted(sort: JobSort, order: SortOrder) -> JobQuery {
    JobQuery {
        sort,
        order,
        ..JobQuery::default()
    }
}

/// An empty store lists nothing with a zero total.
#[test]
fn empty_list() {
    let (_dir, store) = temp_store();
    assert_eq!(names(&store, &JobQuery::default()), (vec![], 0));
}

/// Three jobs with distinct values per key: each key sorts them as dkron would, ascending and
/// descending, with ties broken by name.
#[test]
fn every_sort_key_both_ways() {
    let (_dir, store) = temp_store();
    let mut a = job("a");
    a.display_name = "Zeta".into();
    a.schedule = "@every 3m".into();
    a.next = Some(ts(300));
    let mut b = job("b");
    b.display_name = "alpha".into();
    b.schedule = "@every 1m".into();
    b.next = None;
    let mut c = job("c");
    c.display_name = "Beta".into();
    c.schedule = "@every 2m".into();
    c.next = Some(ts(100));
    for j in [a, b, c] {
        put(&store, j);
    }
    // success: c 2, a 1, b 0 ; errors: b 1, others 0 (tie a < c by name).
    done(&store, finished(started("c", "n", 10, 10), 1, true));
    done(&store, finished(started("c", "n", 20, 20), 1, true));
    done(&store, finished(started("a", "n", 30, 30), 1, true));
    done(&store, finished(started("b", "n", 40, 40), 1, false));
    let cases = [
        (JobSort::Name, ["a", "b", "c"]),
        (JobSort::DisplayName, ["b", "c", "a"]), // alpha, Beta, Zeta: case-insensitive
        (JobSort::Schedule, ["b", "c", "a"]),
        (JobSort::SuccessCount, ["b", "a", "c"]),
        (JobSort::ErrorCount, ["a", "c", "b"]),
        (JobSort::LastSuccess, ["b", "c", "a"]), // never, 21, 31
        (JobSort::LastError, ["a", "c", "b"]),
        (JobSort::Next, ["b", "c", "a"]), // none first
    ];
    for (key, expected) in cases {
        let (asc, total) = names(&store, &sorted(key, SortOrder::Asc));
        assert_eq!(asc, expected, "{key} asc");
        assert_eq!(total, 3);
        let (desc, _) = names(&store, &sorted(key, SortOrder::Desc));
        let mut reversed = expected.to_vec();
        reversed.reverse();
        assert_eq!(desc, reversed, "{key} desc");
    }
}

/// `_start`/`_end` slice after sorting; the total counts all matches; out-of-range is empty.
#[test]
fn paging() {
    let (_dir, store) = temp_store();
    for i in 0..25 {
        put(&store, job(&format!("job-{i:02}")));
    }
    let page = |start, end, order| {
        names(
            &store,
            &JobQuery {
                start,
                end,
                order,
                ..JobQuery::default()
            },
        )
    };
    let (first, total) = page(0, Some(10), SortOrder::Asc);
    assert_eq!(total, 25);
    assert_eq!(first.first().map(String::as_str), Some("job-00"));
    assert_eq!(first.len(), 10);
    let (last, _) = page(20, Some(30), SortOrder::Asc);
    assert_eq!(
        last,
        (20..25).map(|i| format!("job-{i:02}")).collect::<Vec<_>>()
    );
    let (desc, _) = page(0, Some(2), SortOrder::Desc);
    assert_eq!(desc, ["job-24", "job-23"]);
    assert_eq!(page(30, Some(40), SortOrder::Asc), (vec![], 25));
    assert_eq!(page(5, Some(2), SortOrder::Asc), (vec![], 25));
    assert_eq!(page(23, None, SortOrder::Asc).0, ["job-23", "job-24"]);
}

/// Filters: metadata pairs are ANDed (jobs without metadata never match), `q` is a
/// case-sensitive substring of name or display name, `status` includes untriggered, `disabled`.
#[test]
fn filters() {
    let (_dir, store) = temp_store();
    let mut web1 = job("web-1");
    web1.metadata = BTreeMap::from([("team".into(), "web".into()), ("env".into(), "prod".into())]);
    let mut web2 = job("web-2");
    web2.metadata = BTreeMap::from([("team".into(), "web".into()), ("env".into(), "dev".into())]);
    web2.display_name = "Nightly Backup".into();
    let mut db = job("db");
    db.disabled = true;
    for j in [web1, web2, db] {
        put(&store, j);
    }
    done(&store, finished(started("web-1", "n", 1, 1), 1, true));
    done(&store, finished(started("web-2", "n", 1, 1), 1, false));

    let query = |f: &dyn Fn(&mut JobQuery)| {
        let mut q = JobQuery::default();
        f(&mut q);
        names(&store, &q)
    };
    assert_eq!(
        query(&|q| q.metadata = BTreeMap::from([("team".into(), "web".into())])),
        (vec!["web-1".into(), "web-2".into()], 2)
    );
    assert_eq!(
        query(&|q| q.metadata =
            BTreeMap::from([("team".into(), "web".into()), ("env".into(), "prod".into())])),
        (vec!["web-1".into()], 1)
    );
    assert_eq!(
        query(&|q| q.metadata = BTreeMap::from([("env".into(), "x".into())])).1,
        0
    );
    assert_eq!(
        query(&|q| q.q = Some("Backup".into())),
        (vec!["web-2".into()], 1)
    );
    assert_eq!(query(&|q| q.q = Some("backup".into())).1, 0);
    assert_eq!(query(&|q| q.q = Some("web".into())).1, 2);
    assert_eq!(
        query(&|q| q.status = Some(JobStatus::Untriggered)),
        (vec!["db".into()], 1)
    );
    assert_eq!(
        query(&|q| q.status = Some(JobStatus::Failed)),
        (vec!["web-2".into()], 1)
    );
    assert_eq!(query(&|q| q.disabled = Some(true)), (vec!["db".into()], 1));
    assert_eq!(query(&|q| q.disabled = Some(false)).1, 2);
    // Filters combine with paging: the total is before paging.
    assert_eq!(
        query(&|q| {
            q.q = Some("web".into());
            q.start = 1;
            q.end = Some(5);
            q.order = SortOrder::Desc;
        }),
        (vec!["web-1".into()], 2)
    );
}

/// The index follows updates and deletes (sort positions move with counters).
#[test]
fn index_follows_writes() {
    let (_dir, store) = temp_store();
    for name in ["a", "b", "c"] {
        put(&store, job(name));
    }
    done(&store, finished(started("a", "n", 1, 1), 1, true));
    let by_success = sorted(JobSort::SuccessCount, SortOrder::Desc);
    assert_eq!(names(&store, &by_success).0[0], "a");
    done(&store, finished(started("c", "n", 1, 1), 1, true));
    done(&store, finished(started("c", "n", 2, 2), 1, true));
    assert_eq!(names(&store, &by_success).0[0], "c");
    store.delete_job("c", &Apply::local()).unwrap();
    assert_eq!(
        names(&store, &by_success),
        (vec!["a".into(), "b".into()], 2)
    );
    assert_eq!(store.job_names(), ["a", "b"]);
}
