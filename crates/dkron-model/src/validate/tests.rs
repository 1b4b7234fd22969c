//! Tests for validation: every rule, dkron's exact messages, cycles, and `mem_limit`.

use std::{collections::BTreeMap, time::Duration};

use super::*;
use crate::{Job, RetryBackoff};

/// A valid job that each case then breaks in one way.
fn job(name: &str) -> Job {
    Job {
        schedule: "@every 1m".to_owned(),
        ..Job::new(name)
    }
}

/// Asserts `job.validate()` fails with exactly `message` (dkron's reason text).
fn check_err(job: &Job, message: &str) {
    match job.validate() {
        Ok(()) => panic!("job {:?} validated, expected error {message:?}", job.name),
        Err(err) => assert_eq!(err.to_string(), message, "job {:?}", job.name),
    }
}

/// dkron's e2e examples and the charset: `\p{Ll}`, ASCII digits, `_`, `-` only.
#[test]
fn name_charset() {
    for good in [
        "a",
        "job-1_x",
        "ßñëäïüøáéíóýćàèìòùâêîôûæšłç-09_",
        "ĸ",
        "ω",
        "0",
        "-",
        "_",
    ] {
        assert_eq!(validate_name(good), Ok(()), "{good:?}");
    }
    for (bad, ch) in [
        ("BAD JOB NAME!", 'B'),
        ("bad job", ' '),
        ("job.name", '.'),
        ("jobÉ", 'É'),
        ("a/b", '/'),
        ("ª", 'ª'),
        ("ʰ", 'ʰ'),
        ("ⅰ", 'ⅰ'),
        ("ⓐ", 'ⓐ'),
        ("٣", '٣'),
        ("a\u{0301}", '\u{0301}'),
    ] {
        assert_eq!(
            validate_name(bad),
            Err(Error::IllegalNameChar { ch }),
            "{bad:?}"
        );
    }
    assert_eq!(validate_name(""), Err(Error::EmptyName));
}

/// Messages, word for word, in dkron's check order.
#[test]
fn messages() {
    check_err(&job(""), "name cannot be empty");
    check_err(&job("BAD JOB NAME!"), "name contains illegal character 'B'");

    let mut j = job("self");
    j.parent_job = Some("self".to_owned());
    check_err(&j, "the job can not have itself as parent");

    let mut j = job("tz");
    j.timezone = "Mars/Olympus".to_owned();
    check_err(&j, "unknown time zone Mars/Olympus");

    let mut j = job("shell");
    j.executor = "shell".to_owned();
    j.executor_config
        .insert("timeout".to_owned(), "soon".to_owned());
    check_err(&j, "Error parsing job timeout value");

    let mut j = job("shell");
    j.executor = "shell".to_owned();
    j.executor_config
        .insert("mem_limit".to_owned(), "0".to_owned());
    check_err(
        &j,
        "Error parsing job memory limit value: size must be positive",
    );

    let mut j = job("backoff");
    j.retry_backoff = RetryBackoff {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(1),
    };
    check_err(
        &j,
        "invalid retry backoff: initial delay 10s exceeds maximum 1s",
    );

    let mut j = job("misfire");
    j.misfire_policy = crate::MisfirePolicy::CatchUp {
        window: Duration::ZERO,
    };
    check_err(
        &j,
        r#"invalid misfire policy value, use "skip", "run_once" or "catch_up[:<duration>]""#,
    );

    let mut j = job("history");
    j.history_limit = Some(0);
    check_err(&j, "history limit must be at least 1");
}

/// A bad schedule is reported with the parser's message after dkron's prefix.
#[test]
fn schedule_required_and_parsed() {
    let mut j = job("sched");
    j.schedule = "not a schedule".to_owned();
    let err = j.validate().expect_err("bad schedule");
    assert!(matches!(err, Error::Schedule { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("can't parse job schedule: "),
        "{err}"
    );

    // No schedule and no parent: the empty schedule is parsed, and fails.
    j.schedule.clear();
    assert!(matches!(j.validate(), Err(Error::Schedule { .. })));

    // A child needs no schedule...
    j.parent_job = Some("parent".to_owned());
    assert_eq!(j.validate(), Ok(()));
    // An empty parent is no parent.
    j.parent_job = Some(String::new());
    assert!(matches!(j.validate(), Err(Error::Schedule { .. })));
    j.parent_job = Some("parent".to_owned());
    // ...but one it has must still parse (dkron parses non-empty schedules of children too).
    j.schedule = "nonsense".to_owned();
    assert!(matches!(j.validate(), Err(Error::Schedule { .. })));
}

/// Valid jobs pass: descriptors, cron with `~`, zones, shell config.
#[test]
fn valid_jobs() {
    let mut j = job("ok");
    assert_eq!(j.validate(), Ok(()));
    j.schedule = "0 0 ~ * * *".to_owned();
    j.timezone = "Europe/Berlin".to_owned();
    j.executor = "shell".to_owned();
    j.executor_config = BTreeMap::from([
        ("command".to_owned(), "echo hi".to_owned()),
        ("timeout".to_owned(), "1h30m".to_owned()),
        ("mem_limit".to_owned(), "512MB".to_owned()),
    ]);
    assert_eq!(j.validate(), Ok(()));
    // Executor config keys are only checked for the shell executor.
    j.executor = "http".to_owned();
    j.executor_config
        .insert("timeout".to_owned(), "30".to_owned());
    assert_eq!(j.validate(), Ok(()));
    // UTC and the empty zone are always known.
    j.timezone = "UTC".to_owned();
    assert_eq!(j.validate(), Ok(()));
}

/// Each error names the field it is about.
#[test]
fn error_fields() {
    assert_eq!(Error::EmptyName.field(), Some("name"));
    assert_eq!(
        Error::InvalidConcurrency { value: "x".into() }.field(),
        Some("concurrency")
    );
    assert_eq!(
        Error::UnknownValue {
            kind: "trigger",
            value: "x".into()
        }
        .field(),
        None
    );
}

/// Builds a `parents_of` lookup from `(child, parent)` pairs (a child may have several).
fn parents(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Vec<String> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (c, p) in pairs {
        map.entry((*c).to_owned())
            .or_default()
            .push((*p).to_owned());
    }
    move |name| map.get(name).cloned().unwrap_or_default()
}

/// Cycles through other jobs are rejected with the chain; chains ending anywhere else pass.
#[test]
fn parent_cycles() {
    let mut a = job("a");
    a.parent_job = Some("b".to_owned());

    // b -> a closes the loop a -> b -> a.
    let err = validate_parent_chain(&a, &parents(&[("b", "a")])).expect_err("cycle");
    assert_eq!(err.to_string(), "parent chain forms a cycle: a -> b -> a");

    // A longer loop that does not pass through `a` is found too.
    let err = validate_parent_chain(&a, &parents(&[("b", "c"), ("c", "d"), ("d", "b")]))
        .expect_err("cycle");
    assert_eq!(
        err,
        Error::ParentCycle {
            chain: vec!["a".into(), "b".into(), "c".into(), "d".into(), "b".into()]
        }
    );

    // The stored parent of `a` itself is ignored: the job as given wins.
    assert_eq!(
        validate_parent_chain(&a, &parents(&[("a", "zzz"), ("b", "c")])),
        Ok(())
    );
    // An empty parent ends the chain.
    assert_eq!(validate_parent_chain(&a, &parents(&[("b", "")])), Ok(()));
    // No parent at all.
    assert_eq!(validate_parent_chain(&job("x"), &parents(&[])), Ok(()));

    // An absurdly long chain stops at the bound instead of looping.
    let long = |name: &str| {
        let n: usize = name.trim_start_matches('j').parse().unwrap_or(0);
        vec![format!("j{}", n + 1)]
    };
    let mut start = job("j0");
    start.parent_job = Some("j1".to_owned());
    assert_eq!(
        validate_parent_chain(&start, &long),
        Err(Error::ParentChainTooLong {
            job: "j0".to_owned(),
            max: MAX_PARENT_CHAIN
        })
    );
}

/// `mem_limit` table: units, case, fractions, blanks, rejects.
#[test]
fn mem_limit_table() {
    const K: u64 = 1024;
    for (text, bytes) in [
        ("1", 1),
        ("1024", 1024),
        ("10B", 10),
        ("1k", K),
        ("1K", K),
        ("1kb", K),
        ("1KB", K),
        ("2M", 2 * K * K),
        ("2mb", 2 * K * K),
        ("3G", 3 * K * K * K),
        ("3gB", 3 * K * K * K),
        ("1T", K * K * K * K),
        ("1TB", K * K * K * K),
        ("1.5K", 1536),
        ("0.5KB", 512),
        (" 64 MB ", 64 * K * K),
        (".5K", 512),
    ] {
        assert_eq!(parse_mem_limit(text), Ok(bytes), "{text:?}");
    }
    for text in [
        "",
        "0",
        "0MB",
        "0.0001B",
        "abc",
        "-1",
        "1PB",
        "1 K B",
        "1..5K",
        ".",
        "K",
        "1e3",
        "99999999999999999999T",
    ] {
        let err = parse_mem_limit(text).expect_err(text);
        assert!(
            matches!(err, Error::InvalidMemLimit { .. }),
            "{text:?}: {err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("Error parsing job memory limit value: "),
            "{err}"
        );
    }
}

/// With several parents the whole graph is walked: a cycle through any parent is found, a
/// diamond (two parents sharing an ancestor) is not a cycle, and a wide graph stays bounded.
#[test]
fn parent_graph_cycles() {
    let mut a = job("a");
    a.parent_jobs = vec!["b".to_owned(), "c".to_owned()];

    // Through the second parent: a -> c -> d -> a.
    let err = validate_parent_chain(&a, &parents(&[("b", "x"), ("c", "d"), ("d", "a")]))
        .expect_err("cycle");
    assert_eq!(
        err.to_string(),
        "parent chain forms a cycle: a -> c -> d -> a"
    );

    // A diamond: b and c both descend from root; no cycle.
    let diamond = parents(&[("b", "root"), ("c", "root"), ("root", "")]);
    assert_eq!(validate_parent_chain(&a, &diamond), Ok(()));

    // A cycle among other jobs, reached through a multi-parent job in between.
    let err = validate_parent_chain(
        &a,
        &parents(&[("c", "e"), ("c", "f"), ("f", "g"), ("g", "f")]),
    )
    .expect_err("cycle");
    assert_eq!(
        err.to_string(),
        "parent chain forms a cycle: a -> c -> f -> g -> f"
    );

    // A graph where every job has two parents further down: each job is expanded once, and the
    // walk stops at the bound.
    let wide = |name: &str| {
        let n: usize = name.trim_start_matches('j').parse().unwrap_or(0);
        vec![format!("j{}", n + 1), format!("j{}", n + 2)]
    };
    let mut start = job("j0");
    start.parent_jobs = vec!["j1".to_owned(), "j2".to_owned()];
    assert_eq!(
        validate_parent_chain(&start, &wide),
        Err(Error::ParentChainTooLong {
            job: "j0".to_owned(),
            max: MAX_PARENT_CHAIN
        })
    );
}
