//! `parent_jobs` on the wire: read back, one parent as `parent_job`, bad lists refused naming
//! the field, and a restore writing every parent first.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{app, get, post, restore};

#[tokio::test]
async fn parent_jobs_round_trip_and_one_parent_is_parent_job() {
    let (router, fake) = app();
    for name in ["a", "b"] {
        let body = json!({"name": name, "schedule": "@manually"}).to_string();
        assert_eq!(
            post(&router, "/v1/jobs", &body).await.status,
            StatusCode::CREATED
        );
    }
    let reply = post(
        &router,
        "/v1/jobs",
        r#"{"name":"both","parent_jobs":["a","b"],"run_on":"always"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["parent_jobs"], json!(["a", "b"]));
    assert_eq!(body["parent_job"], "");
    assert_eq!(
        get(&router, "/v1/jobs/b").await.json()["dependent_jobs"],
        json!(["both"])
    );
    // What a client read, sent back, is the same job.
    let again = post(&router, "/v1/jobs", &body.to_string()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    assert_eq!(fake.lock().jobs["both"].parent_jobs, ["a", "b"]);
    // A one-element list is dkron's parent_job.
    let one = post(&router, "/v1/jobs", r#"{"name":"one","parent_jobs":["a"]}"#).await;
    assert_eq!(one.status, StatusCode::CREATED, "{}", one.text());
    assert_eq!(one.json()["parent_job"], "a");
    assert_eq!(one.json()["parent_jobs"], Value::Null);
    // Plain jobs read parent_jobs as null.
    assert_eq!(
        get(&router, "/v1/jobs/a").await.json()["parent_jobs"],
        Value::Null
    );
}

#[tokio::test]
async fn bad_parent_lists_are_refused_naming_the_field() {
    let (router, fake) = app();
    for name in ["a", "b"] {
        let body = json!({"name": name, "schedule": "@manually"}).to_string();
        assert_eq!(
            post(&router, "/v1/jobs", &body).await.status,
            StatusCode::CREATED
        );
    }
    for (body, field, text) in [
        (
            r#"{"name":"x","parent_job":"a","parent_jobs":["a","b"]}"#,
            "parent_jobs",
            "parent_job a is set too",
        ),
        (
            r#"{"name":"x","parent_jobs":["a","a"]}"#,
            "parent_jobs",
            "a is named twice",
        ),
        (
            r#"{"name":"x","parent_jobs":["a",""]}"#,
            "parent_jobs",
            "a parent name is empty",
        ),
        (
            r#"{"name":"x","parent_jobs":["a","x"]}"#,
            "parent_job",
            "the job can not have itself as parent",
        ),
        (
            r#"{"name":"x","parent_jobs":"a"}"#,
            "parent_jobs",
            "an array of strings",
        ),
        (
            r#"{"name":"x","parent_jobs":["a",7]}"#,
            "parent_jobs[1]",
            "a string",
        ),
    ] {
        let reply = post(&router, "/v1/jobs", body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text()
        );
        assert_eq!(reply.header("x-dkron-error-field"), Some(field), "{body}");
        assert!(reply.text().contains(text), "{body}: {}", reply.text());
    }
    let missing = post(
        &router,
        "/v1/jobs",
        r#"{"name":"x","parent_jobs":["a","nope"]}"#,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text());
    let jobs = fake.lock().jobs.clone();
    assert!(!jobs.contains_key("x"));
    assert!(jobs["a"].dependent_jobs.is_empty());
}

#[tokio::test]
async fn a_restore_writes_every_parent_first() {
    let (router, fake) = app();
    // The child comes first in the file, its second parent last.
    let file = r#"[{"name":"both","parent_jobs":["a","b"]},
                   {"name":"a","schedule":"@manually"},
                   {"name":"b","schedule":"@manually","parent_job":"a"}]"#;
    let reply = restore(&router, file, "application/json").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let results = reply.restore_results();
    assert_eq!(
        results,
        [
            "success create a",
            "success create b",
            "success create both"
        ]
    );
    assert_eq!(fake.lock().jobs["b"].dependent_jobs, ["both"]);
    // A cycle through a second parent refuses the whole file.
    let looped = r#"[{"name":"p","schedule":"@manually","parent_jobs":["q","r"]},
                     {"name":"q","schedule":"@manually"},
                     {"name":"r","schedule":"@manually","parent_job":"p"}]"#;
    let reply = restore(&router, looped, "application/json").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    assert!(!fake.lock().jobs.contains_key("q"));
}
