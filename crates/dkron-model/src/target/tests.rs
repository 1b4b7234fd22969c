//! Tests for tag targeting, mirroring dkron's `agent_test.go` cases (2 servers + 1 agent).

use std::collections::BTreeMap;

use rand::{SeedableRng, rngs::StdRng};

use super::*;
use crate::{Member, MemberStatus};

fn member(name: &str, server: bool, tags: &[(&str, &str)]) -> Member {
    Member {
        name: name.to_owned(),
        server,
        region: "global".to_owned(),
        datacenter: "dc1".to_owned(),
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Member::default()
    }
}

/// dkron's test cluster: two servers tagged `tag=test`, one agent tagged `tag=test2`; all
/// carry `extra=tag`.
fn cluster() -> Vec<Member> {
    vec![
        member("server1", true, &[("tag", "test"), ("extra", "tag")]),
        member("server2", true, &[("tag", "test"), ("extra", "tag")]),
        member("agent1", false, &[("tag", "test2"), ("extra", "tag")]),
    ]
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Selects with a fixed seed and returns the sorted names.
fn pick(members: &[Member], job_tags: &[(&str, &str)]) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(42);
    let mut names: Vec<String> = select_targets(&tags(job_tags), members, "global", &mut rng)
        .into_iter()
        .map(|m| m.name.clone())
        .collect();
    names.sort();
    names
}

/// The cases of dkron's `TestAgentConfig`/`Test_getTargetNodes`, as a table.
#[test]
fn dkron_cases() {
    let members = cluster();
    let check = |job_tags: &[(&str, &str)], want: &[&str]| {
        assert_eq!(pick(&members, job_tags), want, "tags {job_tags:?}");
    };
    check(&[("tag", "test:2")], &["server1", "server2"]);
    check(&[("tag", "test")], &["server1", "server2"]);
    check(&[], &["agent1", "server1", "server2"]);
    check(&[("tag", "test2")], &["agent1"]);
    check(&[("tag", "test2:5")], &["agent1"]);
    check(&[("tag", "no_tag")], &[]);
    check(&[("tag", "test"), ("extra", "no_tag")], &[]);
    check(
        &[("tag", "test"), ("extra", "tag")],
        &["server1", "server2"],
    );
    check(&[("tag", "test:2"), ("extra", "tag:0")], &[]);
    check(&[("tag", "test:x")], &[]);
    check(&[("tag", "test:")], &[]);
    check(&[("tag", "test:-1")], &[]);
    // Reserved tags are matched like user tags.
    check(&[("server", "true")], &["server1", "server2"]);
    check(
        &[("role", "dkron"), ("dc", "dc1")],
        &["agent1", "server1", "server2"],
    );
    // A value with two colons keeps only its first part and has no count.
    check(&[("tag", "test:1:1")], &["server1", "server2"]);

    assert_eq!(pick(&members, &[("tag", "test:1")]).len(), 1);
    // The smallest count across tags wins.
    assert_eq!(
        pick(&members, &[("tag", "test:2"), ("extra", "tag:1")]).len(),
        1
    );
    assert_eq!(pick(&members, &[("extra", "tag:2")]).len(), 2);
}

/// Only alive members of the requested region qualify.
#[test]
fn alive_and_region() {
    let mut members = cluster();
    members[0].status = MemberStatus::Failed;
    members[1].status = MemberStatus::Leaving;
    assert_eq!(pick(&members, &[]), ["agent1"]);
    members[2].region = "eu".to_owned();
    assert_eq!(pick(&members, &[]), Vec::<String>::new());
    let mut rng = StdRng::seed_from_u64(1);
    let eu = select_targets(&tags(&[]), &members, "eu", &mut rng);
    assert_eq!(eu.len(), 1);
    assert_eq!(eu[0].name, "agent1");
}

/// `TargetSpec::parse` strips counts and keeps the minimum.
#[test]
fn spec_parse() {
    let spec = TargetSpec::parse(&tags(&[("a", "x:3"), ("b", "y:2"), ("c", "z")]));
    assert_eq!(spec.tags, tags(&[("a", "x"), ("b", "y"), ("c", "z")]));
    assert_eq!(spec.limit, Some(2));
    assert_eq!(TargetSpec::parse(&tags(&[("a", "x")])).limit, None);
    assert_eq!(TargetSpec::parse(&tags(&[("a", "x:+4")])).limit, Some(4));
    assert_eq!(
        TargetSpec::parse(&tags(&[("a", "x:1"), ("b", "y:bad")])).limit,
        Some(0)
    );
}

/// Picking 1 of 3 over 999 draws is roughly uniform (fixed seed, so deterministic), and the same
/// seed gives the same picks.
#[test]
fn uniform_distribution() {
    let members = vec![
        member("n1", false, &[("pool", "a")]),
        member("n2", false, &[("pool", "a")]),
        member("n3", false, &[("pool", "a")]),
    ];
    let job_tags = tags(&[("pool", "a:1")]);
    let mut rng = StdRng::seed_from_u64(2024);
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for _ in 0..999 {
        let picked = select_targets(&job_tags, &members, "global", &mut rng);
        assert_eq!(picked.len(), 1);
        *counts.entry(picked[0].name.clone()).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    for (name, count) in &counts {
        // Expected 333 each; ±20% is far outside what a fair generator strays with 999 draws.
        assert!(
            (266..=400).contains(count),
            "{name} picked {count} times: {counts:?}"
        );
    }

    let draw = |seed| {
        let mut rng = StdRng::seed_from_u64(seed);
        let two = tags(&[("pool", "a:2")]);
        select_targets(&two, &members, "global", &mut rng)
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(draw(7), draw(7));
    let picked = draw(7);
    assert_eq!(picked.len(), 2);
    assert_ne!(picked[0], picked[1]);
}
