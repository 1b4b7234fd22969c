//! The rank index agrees with a plain sort under random upserts and removals.

use std::collections::BTreeMap;

use dkron_model::{Job, JobStatus};
use jiff::Timestamp;

use super::*;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_job(rng: &mut XorShift, name: String) -> Job {
    let mut job = Job::new(name);
    job.display_name = format!(
        "{}Display{}",
        if rng.below(2) == 0 { "a" } else { "B" },
        rng.below(50)
    );
    job.schedule = format!("@every {}s", rng.below(20));
    job.success_count = rng.below(10);
    job.error_count = rng.below(10);
    job.last_success =
        (rng.below(3) != 0).then(|| Timestamp::from_second(rng.below(1000) as i64).unwrap());
    job.last_error =
        (rng.below(3) != 0).then(|| Timestamp::from_second(rng.below(1000) as i64).unwrap());
    job.next = (rng.below(4) != 0).then(|| Timestamp::from_second(rng.below(1000) as i64).unwrap());
    job.disabled = rng.below(2) == 0;
    job.status = [
        JobStatus::Untriggered,
        JobStatus::Success,
        JobStatus::Failed,
    ][rng.below(3) as usize];
    if rng.below(2) == 0 {
        job.metadata
            .insert("team".into(), format!("t{}", rng.below(3)));
    }
    job
}

fn expected_page(
    jobs: &BTreeMap<String, Job>,
    key: JobSort,
    order: SortOrder,
    filter: &Filter<'_>,
    start: usize,
    end: Option<usize>,
) -> NamePage {
    let mut summaries: Vec<Summary> = jobs
        .values()
        .map(Summary::of)
        .filter(|s| s.matches(filter))
        .collect();
    summaries.sort_by(|a, b| key.compare(a, b));
    if order == SortOrder::Desc {
        summaries.reverse();
    }
    let total = summaries.len();
    let end = end.unwrap_or(total).min(total);
    let names = summaries
        .iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .map(|s| s.name().into())
        .collect();
    NamePage { names, total }
}

/// Random upserts and removals (past several chunk splits) leave every order equal to a plain
/// sort, and pages at any offset match slicing that sort.
#[test]
fn random_operations_match_plain_sort() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut index = JobIndex::build(Vec::new());
    let mut jobs: BTreeMap<String, Job> = BTreeMap::new();
    for step in 0..6000 {
        let name = format!("job-{:04}", rng.below(2500));
        if rng.below(5) == 0 {
            assert_eq!(index.remove(&name), jobs.remove(&name).is_some());
        } else {
            let job = random_job(&mut rng, name.clone());
            index.upsert(Summary::of(&job));
            jobs.insert(name, job);
        }
        if step % 1000 == 999 {
            index.check();
        }
    }
    index.check();
    assert_eq!(index.len(), jobs.len());
    let no_filter = BTreeMap::new();
    let team = BTreeMap::from([("team".to_owned(), "t1".to_owned())]);
    let filters = [
        Filter {
            metadata: &no_filter,
            q: None,
            status: None,
            disabled: None,
        },
        Filter {
            metadata: &team,
            q: None,
            status: None,
            disabled: None,
        },
        Filter {
            metadata: &no_filter,
            q: Some("Display1"),
            status: Some(JobStatus::Success),
            disabled: Some(true),
        },
    ];
    for key in JobSort::ALL {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            for filter in &filters {
                for (start, end) in [
                    (0, Some(10)),
                    (517, Some(530)),
                    (0, None),
                    (1990, Some(5000)),
                    (9000, Some(9010)),
                ] {
                    assert_eq!(
                        index.page(key, order, filter, start, end),
                        expected_page(&jobs, key, order, filter, start, end),
                        "{key} {order:?} {start}..{end:?}"
                    );
                }
            }
        }
    }
}

/// Building at once equals inserting one by one; lookups find every job.
#[test]
fn build_equals_incremental() {
    let mut rng = XorShift(42);
    let jobs: Vec<Job> = (0..1500)
        .map(|i| random_job(&mut rng, format!("j{i}")))
        .collect();
    let built = JobIndex::build(jobs.iter().map(Summary::of));
    built.check();
    let mut incremental = JobIndex::default();
    for job in &jobs {
        incremental.upsert(Summary::of(job));
    }
    incremental.check();
    let no_filter = BTreeMap::new();
    let filter = Filter {
        metadata: &no_filter,
        q: None,
        status: None,
        disabled: None,
    };
    for key in JobSort::ALL {
        assert_eq!(
            built.page(key, SortOrder::Asc, &filter, 0, None),
            incremental.page(key, SortOrder::Asc, &filter, 0, None)
        );
    }
    for job in &jobs {
        assert_eq!(
            built.get(&job.name).map(Summary::name),
            Some(job.name.as_str())
        );
    }
    assert!(built.get("missing").is_none());
}

#[test]
fn jobs_created_in_name_order_fill_whole_chunks() {
    let mut index = JobIndex::default();
    let count = CHUNK_MAX * 3 + 7;
    for i in 0..count {
        index.upsert(Summary::of(&Job::new(format!("job-{i:06}"))));
    }
    index.check();
    let names = &index.lists[position(JobSort::Name)];
    // Appends leave each full chunk full: 4 chunks, not the 7 that halving would make.
    assert_eq!(names.chunks.len(), count.div_ceil(CHUNK_MAX));
}

#[test]
fn a_summary_keeps_name_display_name_and_schedule_apart() {
    let mut job = Job::new("backup".to_owned());
    job.display_name = "Nightly backup".to_owned();
    job.schedule = "@daily".to_owned();
    let summary = Summary::of(&job);
    assert_eq!(summary.name(), "backup");
    assert_eq!(summary.display_name(), "Nightly backup");
    assert_eq!(summary.schedule(), "@daily");
    let bare = Summary::of(&Job::new("x".to_owned()));
    assert_eq!(
        (bare.name(), bare.display_name(), bare.schedule()),
        ("x", "", "")
    );
}
