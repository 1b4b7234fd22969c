//! Query parameters and relative links.

use dkron_model::{JobSort, JobStatus};

use super::{Params, encode_segment, relative_link};
use crate::reply::Failure;

/// Relative links resolve, from the request path, to the target (checked against RFC 3986
/// resolution by hand for each case).
#[test]
fn relative_links() {
    let check = |from: &str, to: &str, expected: &str| {
        assert_eq!(relative_link(from, to), expected, "{from} -> {to}");
    };
    check("/v1/jobs", "/v1/jobs/a", "jobs/a");
    check("/v1/jobs/", "/v1/jobs/a", "a");
    check("/v1/jobs/old", "/v1/jobs/a", "a");
    check("/v1/jobs/a", "/v1/jobs/a", "a");
    check("/v1/jobs/a/run", "/v1/jobs/a", "../a");
    check("/v1/jobs/a/toggle/", "/v1/jobs/a", "../../a");
    check("/v1/job/a", "/v1/jobs/a", "../jobs/a");
    check("/", "/ui/", "ui");
}

/// Names with non-ASCII letters are percent-encoded as UTF-8.
#[test]
fn segment_encoding() {
    assert_eq!(encode_segment("a_b-1"), "a_b-1");
    assert_eq!(encode_segment("ßx"), "%C3%9Fx");
}

/// react-admin's parameters, `metadata[k]=v`, and presence-only flags.
#[test]
fn job_query_from_react_admin_params() {
    let params = Params::parse(Some(
        "_sort=success_count&_order=DESC&_start=10&_end=20&q=ab&status=untriggered\
         &disabled=false&metadata%5Bteam%5D=ops&metadata[env]=prod&id=a&id=b&pretty",
    ));
    assert!(params.pretty());
    let query = params.job_query().expect("valid");
    assert_eq!(query.sort, JobSort::SuccessCount);
    assert!(query.descending);
    assert_eq!((query.start, query.end), (10, Some(20)));
    assert_eq!(query.text.as_deref(), Some("ab"));
    assert_eq!(query.status, Some(JobStatus::Untriggered));
    assert_eq!(query.disabled, Some(false));
    assert_eq!(query.metadata.len(), 2);
    assert_eq!(query.metadata["team"], "ops");
    assert_eq!(query.names, ["a", "b"]);
    assert!(!Params::parse(None).pretty());
}

/// Malformed parameters name themselves.
#[test]
fn bad_params_are_refused() {
    let param_of = |query: &str| match Params::parse(Some(query)).job_query() {
        Err(Failure::Query { param, .. }) => param,
        other => panic!("expected a query error for {query}, got {other:?}"),
    };
    assert_eq!(param_of("_sort=owner"), "_sort");
    assert_eq!(param_of("_start=-1"), "_start");
    assert_eq!(param_of("_end=ten"), "_end");
    assert_eq!(param_of("status=great"), "status");
    assert_eq!(param_of("disabled=maybe"), "disabled");
}
