//! Run-policy fields on the wire: `jitter`, `pause_on_failure`, `run_on`, and `/next` with a
//! jitter.

use axum::http::StatusCode;
use serde_json::Value;

use crate::support::{app, get, post};

/// The fields round-trip; the server-maintained ones are read-only.
#[tokio::test]
async fn run_policy_fields_round_trip() {
    let (router, fake) = app();
    let reply = post(
        &router,
        "/v1/jobs",
        r#"{"name":"nightly","schedule":"0 30 2 * * *","jitter":"90s","pause_on_failure":3,
            "consecutive_failures":9,"paused_reason":"sent by a client"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["jitter"], "90s");
    assert_eq!(body["pause_on_failure"], 3);
    assert_eq!(body["consecutive_failures"], 0, "read-only");
    assert_eq!(body["paused_reason"], "", "read-only");
    assert_eq!(body["run_on"], "success");
    let stored = fake.lock().jobs["nightly"].clone();
    assert_eq!(stored.jitter, std::time::Duration::from_secs(90));

    let reply = post(
        &router,
        "/v1/jobs",
        r#"{"name":"cleanup","parent_job":"nightly","run_on":"failure"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.json()["run_on"], "failure");
    // Without a jitter the field is null; "" and null mean none.
    let plain = post(
        &router,
        "/v1/jobs",
        r#"{"name":"plain","schedule":"@every 1m","jitter":""}"#,
    )
    .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.text());
    assert_eq!(plain.json()["jitter"], Value::Null);
}

/// Bad values answer 400 naming the field, and store nothing.
#[tokio::test]
async fn bad_run_policies_are_refused_naming_the_field() {
    let (router, fake) = app();
    for (body, field, text) in [
        (
            r#"{"name":"a","schedule":"@every 1m","jitter":"soon"}"#,
            "jitter",
            "Unable to parse payload",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","jitter":"-5s"}"#,
            "jitter",
            "must not be negative",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","jitter":"25h"}"#,
            "jitter",
            "invalid jitter",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","jitter":30}"#,
            "jitter",
            "expected a duration string",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","pause_on_failure":"often"}"#,
            "pause_on_failure",
            "non-negative integer",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","pause_on_failure":4294967296}"#,
            "pause_on_failure",
            "too large",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","run_on":"sometimes"}"#,
            "run_on",
            "invalid run_on value",
        ),
        (
            r#"{"name":"a","schedule":"@every 1m","run_on":"always"}"#,
            "run_on",
            "run_on always needs a parent_job",
        ),
    ] {
        let reply = post(&router, "/v1/jobs", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.header("x-dkron-error-field"), Some(field), "{body}");
        assert!(reply.text().contains(text), "{body}: {}", reply.text());
    }
    assert!(fake.lock().jobs.is_empty());
}

/// `/next` lists each fire at its jittered instant: within the bound after the schedule's
/// instant, the same on every call (and on every server: the delay is derived, not drawn).
#[tokio::test]
async fn next_shows_the_jittered_times() {
    let (router, _fake) = app();
    post(
        &router,
        "/v1/jobs",
        r#"{"name":"spread","schedule":"0 0 * * * *","jitter":"10m"}"#,
    )
    .await;
    let first = get(&router, "/v1/jobs/spread/next?count=24").await.json();
    let fires: Vec<jiff::Timestamp> = first["next"]
        .as_array()
        .expect("array")
        .iter()
        .map(|t| t.as_str().expect("string").parse().expect("RFC 3339"))
        .collect();
    assert_eq!(fires.len(), 24);
    let mut offsets = std::collections::BTreeSet::new();
    for fire in &fires {
        // Hourly at :00, delayed by up to 10 minutes.
        let into_hour = fire.as_second().rem_euclid(3600);
        assert!(into_hour <= 600, "{fire} is {into_hour} s into its hour");
        offsets.insert(fire.as_millisecond().rem_euclid(3_600_000));
        let job = dkron_model::Job {
            name: "spread".into(),
            jitter: std::time::Duration::from_secs(600),
            ..dkron_model::Job::default()
        };
        let scheduled = jiff::Timestamp::from_second(fire.as_second() - into_hour).unwrap();
        assert_eq!(job.jittered(scheduled), *fire, "the scheduler's instant");
    }
    assert!(
        offsets.len() > 20,
        "fires spread within the hour: {offsets:?}"
    );
    let again = get(&router, "/v1/jobs/spread/next?count=24").await.json();
    // Two calls may straddle a fire becoming due; the later list continues the earlier one.
    let first_list = first["next"].as_array().unwrap();
    let again_list = again["next"].as_array().unwrap();
    assert!(
        first_list.ends_with(&again_list[..again_list.len() - 1])
            || first_list[..] == again_list[..],
        "stable per fire"
    );
}

/// A backfill runs the schedule's instants in the range (both ends inclusive) with the overlap
/// policy, answers which it launched, and refuses a bad body or a range above the setting.
#[tokio::test]
async fn backfill_launches_the_instants_of_a_range() {
    use dkron_api::ApiOptions;
    use dkron_model::BackfillOverlap;

    let (router, fake) = crate::support::app_with(ApiOptions::default().with_max_backfill_fires(5));
    post(
        &router,
        "/v1/jobs",
        r#"{"name":"hourly","schedule":"0 0 * * * *","timezone":"Europe/Berlin"}"#,
    )
    .await;
    let body =
        r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T03:00:00Z","overlap":"buffer_all"}"#;
    let reply = post(&router, "/v1/jobs/hourly/backfill", body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let out = reply.json();
    assert_eq!(out["count"], 4);
    assert_eq!(out["overlap"], "buffer_all");
    assert_eq!(
        out["launched"][0], "2026-01-01T01:00:00+01:00",
        "in the job's zone"
    );
    assert_eq!(out["launched"][3], "2026-01-01T04:00:00+01:00");
    {
        let state = fake.lock();
        let (job, fires, overlap) = state.backfills.last().expect("asked the cluster");
        assert_eq!(job, "hourly");
        assert_eq!(fires.len(), 4);
        assert_eq!(*overlap, BackfillOverlap::BufferAll);
    }
    // `skip`: the first instant only.
    let skip = r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T03:00:00Z","overlap":"skip"}"#;
    let out = post(&router, "/v1/jobs/hourly/backfill", skip).await.json();
    assert_eq!(out["count"], 1);
    assert_eq!(fake.lock().backfills.len(), 2);

    let before = fake.lock().backfills.len();
    for (body, field) in [
        (r#"{"to":"2026-01-01T03:00:00Z"}"#, "from"),
        (
            r#"{"from":"yesterday","to":"2026-01-01T03:00:00Z"}"#,
            "from",
        ),
        (
            r#"{"from":"2026-01-01T03:00:00Z","to":"2026-01-01T00:00:00Z"}"#,
            "to",
        ),
        (
            r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T03:00:00Z","overlap":"buffer_one"}"#,
            "overlap",
        ),
        // Six instants: above the setting of 5.
        (
            r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T05:00:00Z"}"#,
            "to",
        ),
    ] {
        let reply = post(&router, "/v1/jobs/hourly/backfill", body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.header("x-dkron-error-field"), Some(field), "{body}");
    }
    let above = r#"{"from":"2026-01-01T00:00:00Z","to":"2026-01-01T05:00:00Z"}"#;
    let text = post(&router, "/v1/jobs/hourly/backfill", above)
        .await
        .text();
    assert!(text.contains("max-backfill-fires"), "{text}");
    assert_eq!(
        fake.lock().backfills.len(),
        before,
        "nothing asked of the cluster"
    );
    let unknown = post(&router, "/v1/jobs/nope/backfill", above).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    post(
        &router,
        "/v1/jobs",
        r#"{"name":"kid","parent_job":"hourly"}"#,
    )
    .await;
    let child = post(&router, "/v1/jobs/kid/backfill", above).await;
    assert_eq!(child.status, StatusCode::BAD_REQUEST);
    assert!(child.text().contains("no schedule to backfill"));
}
