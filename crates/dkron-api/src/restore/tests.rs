//! Backup upload parsing and parent-first ordering.

use std::collections::BTreeSet;

use super::{file_of, multipart_field, order, parse_jobs};
use crate::reply::Failure;

const BODY: &str = "--XyZ\r\n\
Content-Disposition: form-data; name=\"comment\"\r\n\r\n\
not this\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"backup.json\"\r\n\
Content-Type: application/json\r\n\r\n\
[{\"name\":\"a\"}]\r\n\
--XyZ--\r\n";

/// The `file` part of a multipart body is found whatever comes before it.
#[test]
fn multipart_file_field() {
    assert_eq!(
        multipart_field(BODY.as_bytes(), "XyZ", "file").as_deref(),
        Some(&b"[{\"name\":\"a\"}]"[..])
    );
    assert_eq!(multipart_field(BODY.as_bytes(), "XyZ", "other"), None);
    let file = file_of("multipart/form-data; boundary=\"XyZ\"", BODY.as_bytes()).expect("found");
    assert!(file.starts_with(b"["));
    assert!(matches!(
        file_of("multipart/form-data; boundary=XyZ", b"--XyZ--\r\n"),
        Err(Failure::MissingFile)
    ));
    assert!(file_of("application/json", b" [ ]").is_ok());
    assert!(matches!(
        file_of("text/plain", b"hello"),
        Err(Failure::Restore(_))
    ));
}

/// Each job is read like a request body; a file that is not an array of job objects is
/// refused whole, while validation is left to each job's write.
#[test]
fn backup_jobs_are_read() {
    let jobs =
        parse_jobs(br#"[{"name":"a","schedule":"@every 1m","success_count":7}]"#).expect("valid");
    assert_eq!(jobs[0].success_count, 7);
    assert!(matches!(
        parse_jobs(br#"{"name":"a"}"#),
        Err(Failure::Restore(_))
    ));
    assert!(parse_jobs(br#"[{"name":"Bad Name","schedule":"@every 1m"}]"#).is_ok());
    assert!(matches!(
        parse_jobs(br#"[{"name":"a","retries":"many"}]"#),
        Err(Failure::Body(_))
    ));
}

/// Parents are written before their children; a cycle refuses the file.
#[test]
fn parents_come_first() {
    let jobs = parse_jobs(
        br#"[{"name":"c","parent_job":"b"},{"name":"b","parent_job":"a"},
             {"name":"a","schedule":"@every 1m"},{"name":"x","parent_job":"stored"}]"#,
    )
    .expect("valid");
    let in_file: BTreeSet<String> = jobs.iter().map(|j| j.name.clone()).collect();
    let ordered: Vec<String> = order(jobs, &in_file)
        .expect("acyclic")
        .into_iter()
        .map(|j| j.name)
        .collect();
    let at = |name: &str| ordered.iter().position(|n| n == name).expect("present");
    assert!(at("a") < at("b") && at("b") < at("c"), "{ordered:?}");
    assert_eq!(ordered.len(), 4);

    let cyclic = parse_jobs(br#"[{"name":"p","parent_job":"q"},{"name":"q","parent_job":"p"}]"#)
        .expect("each valid alone");
    let in_file: BTreeSet<String> = cyclic.iter().map(|j| j.name.clone()).collect();
    assert!(matches!(order(cyclic, &in_file), Err(Failure::Restore(_))));
}
