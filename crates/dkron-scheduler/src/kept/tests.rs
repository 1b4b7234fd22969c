use super::*;

fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn rich_job() -> Job {
    let mut job = Job::new("rich");
    job.schedule = "@every 1s".into();
    job.display_name = "Rich job".into();
    job.owner = "ops".into();
    job.owner_email = "ops@example.invalid".into();
    job.executor = "http".into();
    job.paused_reason = "failed 3 times".into();
    job.retries = 2;
    job.dependent_jobs = vec!["child".into()];
    job.tags = map(&[("role", "web:2")]);
    job.metadata = map(&[("team", "ünïcode ✓"), ("empty", ""), ("", "empty key")]);
    job.executor_config = map(&[("url", "http://127.0.0.1:1/x"), ("method", "POST")]);
    job.processors
        .insert("files".into(), map(&[("log_dir", "/tmp")]));
    job.processors.insert("log".into(), BTreeMap::new());
    job
}

#[test]
fn full_gives_back_the_job_as_it_was_given() {
    let job = rich_job();
    let kept = KeptJob::new(job.clone());
    assert_eq!(*kept.full(), job);
    // Twice: unpacking leaves the kept form as it was.
    assert_eq!(*kept.full(), job);
}

#[test]
fn the_loop_sees_every_field_but_the_maps() {
    let kept = KeptJob::new(rich_job());
    assert_eq!(kept.name, "rich");
    assert_eq!(kept.retries, 2);
    assert_eq!(kept.dependent_jobs, ["child"]);
    assert!(kept.tags.is_empty() && kept.metadata.is_empty());
    assert!(kept.executor_config.is_empty() && kept.processors.is_empty());
    assert!(kept.display_name.is_empty() && kept.owner.is_empty() && kept.executor.is_empty());
    assert!(kept.packed.is_some());
}

#[test]
fn a_job_with_nothing_to_pack_packs_nothing_and_is_shared_as_is() {
    let mut job = Job::new("plain");
    job.schedule = "@hourly".into();
    let kept = KeptJob::new(job.clone());
    assert!(kept.packed.is_none());
    let (a, b) = (kept.full(), kept.full());
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(*a, job);
}

#[test]
fn each_packed_field_alone_round_trips() {
    let fill: [fn(&mut Job); 9] = [
        |j| j.display_name = "d".into(),
        |j| j.owner = "o".into(),
        |j| j.owner_email = "e".into(),
        |j| j.executor = "shell".into(),
        |j| j.paused_reason = "p".into(),
        |j| j.tags = map(&[("a", "1")]),
        |j| j.metadata = map(&[("b", "2")]),
        |j| j.executor_config = map(&[("c", "3")]),
        |j| {
            j.processors.insert("p".into(), map(&[("d", "4")]));
        },
    ];
    for fill in fill {
        let mut job = Job::new("one");
        fill(&mut job);
        assert_eq!(*KeptJob::new(job.clone()).full(), job);
    }
}

#[test]
fn a_damaged_buffer_is_refused_not_misread() {
    let mut job = rich_job();
    let packed = pack(&mut job).unwrap();
    for cut in [0, 3, 4, packed.len() / 2, packed.len() - 1] {
        let mut into = Job::new("x");
        assert!(unpack(&packed[..cut], &mut into).is_none(), "cut at {cut}");
    }
    // Trailing bytes are refused too.
    let mut longer = packed.to_vec();
    longer.push(0);
    assert!(unpack(&longer, &mut Job::new("x")).is_none());
    // Invalid UTF-8 in a string.
    let mut bad = Vec::new();
    put_len(&mut bad, 1).unwrap();
    bad.push(0xff);
    assert!(unpack(&bad, &mut Job::new("x")).is_none());
}

#[test]
fn kept_whole_a_job_is_shared_as_is_and_unchanged() {
    let job = rich_job();
    let mut kept = KeptJob::new(job.clone());
    kept.keep_whole();
    assert!(kept.packed.is_none());
    assert_eq!(kept.tags, job.tags);
    let (a, b) = (kept.full(), kept.full());
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(*a, job);
    // Twice changes nothing.
    kept.keep_whole();
    assert_eq!(*kept.full(), job);
}
