//! Wire format: times, tolerant job reading, dkron's output shapes.

use dkron_model::{Concurrency, Execution, Job, JobStatus, Member, MemberStatus};
use jiff::{Timestamp, tz::TimeZone};
use serde_json::{Value, json};

use super::{
    BodyError, ExecutionOut, JobOut, MemberOut, format_time, parse_job,
    time::{ZERO_TIME, format_or_zero, parse_time},
};

fn ts(text: &str) -> Timestamp {
    text.parse().expect("valid timestamp")
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialisable")
}

/// Go's RFC3339Nano: fraction only when non-zero, trailing zeros cut, `Z` or `±hh:mm`.
#[test]
fn time_format_matches_go_rfc3339nano() {
    let utc = TimeZone::UTC;
    let check = |input: &str, tz: &TimeZone, expected: &str| {
        assert_eq!(format_time(ts(input), tz), expected, "{input}");
    };
    check("2026-01-28T10:00:00Z", &utc, "2026-01-28T10:00:00Z");
    check("2026-01-28T10:00:00.5Z", &utc, "2026-01-28T10:00:00.5Z");
    check(
        "2022-04-25T19:27:01.024805435Z",
        &utc,
        "2022-04-25T19:27:01.024805435Z",
    );
    check("2026-01-28T10:00:00.120Z", &utc, "2026-01-28T10:00:00.12Z");
    let berlin = jiff::tz::db().get("Europe/Berlin").expect("bundled zone");
    check("2026-01-28T10:00:00Z", &berlin, "2026-01-28T11:00:00+01:00");
    check("2026-07-28T10:00:00Z", &berlin, "2026-07-28T12:00:00+02:00");
    let ny = jiff::tz::db()
        .get("America/New_York")
        .expect("bundled zone");
    check("2026-01-28T10:00:00Z", &ny, "2026-01-28T05:00:00-05:00");
    assert_eq!(format_or_zero(None, &berlin), ZERO_TIME);
}

/// RFC 3339 with any offset, HTML datetime-local (UTC), and the empty/zero/null forms.
#[test]
fn time_parse_accepts_dkron_forms() {
    assert_eq!(
        parse_time("2026-01-28T11:00:00+01:00"),
        Ok(Some(ts("2026-01-28T10:00:00Z")))
    );
    assert_eq!(
        parse_time("2026-01-28T10:00"),
        Ok(Some(ts("2026-01-28T10:00:00Z")))
    );
    assert_eq!(parse_time(""), Ok(None));
    assert_eq!(parse_time(ZERO_TIME), Ok(None));
    assert!(parse_time("yesterday").is_err());
}

/// The seed document's sample job, verbatim: the legacy `command` becomes a shell job.
#[test]
fn seed_sample_job_becomes_a_shell_job() {
    let body = br#"{
   "name":"cron_job",
   "schedule":"@every 2s",
   "command":"date",
   "owner":"foo",
   "owner_email":"foo@bar.com"
}"#;
    let job = parse_job(body).expect("seed job parses");
    assert_eq!(job.name, "cron_job");
    assert_eq!(job.schedule, "@every 2s");
    assert_eq!(job.executor, "shell");
    assert_eq!(
        job.executor_config.get("command").map(String::as_str),
        Some("date")
    );
    assert_eq!(job.owner, "foo");
    assert_eq!(job.owner_email, "foo@bar.com");
    job.validate().expect("seed job is valid");
}

/// Legacy `shell` and `environment_variables` map onto the shell executor's keys, without
/// overriding keys the job's `executor_config` sets itself; another executor is left alone.
#[test]
fn legacy_fields_fill_only_missing_shell_keys() {
    let job = parse_job(
        br#"{"name":"a","command":"echo $A","shell":true,
             "environment_variables":["A=1","B=2"],
             "executor_config":{"env":"C=3"}}"#,
    )
    .expect("parses");
    assert_eq!(job.executor, "shell");
    assert_eq!(job.executor_config["command"], "echo $A");
    assert_eq!(job.executor_config["shell"], "true");
    assert_eq!(job.executor_config["env"], "C=3");

    let job = parse_job(br#"{"name":"a","command":"date","environment_variables":["A=1","B=2"]}"#)
        .expect("parses");
    assert_eq!(job.executor_config["env"], "A=1,B=2");
    assert!(!job.executor_config.contains_key("shell"));

    let http = parse_job(br#"{"name":"a","command":"date","executor":"http"}"#).expect("parses");
    assert_eq!(http.executor, "http");
    assert!(http.executor_config.is_empty());
}

/// A record read from the API and sent back (id, status, next, counters, nulls, unknown
/// fields) is accepted; read-only fields are dropped and counters kept.
#[test]
fn whole_record_round_trip_is_accepted() {
    let mut stored = Job::new("backup");
    stored.schedule = "0 0 * * * *".to_owned();
    stored.executor = "shell".to_owned();
    stored
        .executor_config
        .insert("command".into(), "true".into());
    stored.success_count = 4;
    stored.last_success = Some(ts("2026-01-01T00:00:00Z"));
    stored.status = JobStatus::Success;
    stored.dependent_jobs = vec!["child".into()];
    stored.next = Some(ts("2026-02-01T00:00:00Z"));
    let mut sent = to_value(&JobOut::from(&stored));
    sent["some_future_field"] = json!({"x": [1, 2]});
    sent["command"] = json!("ignored because executor is set");
    let body = serde_json::to_vec(&sent).expect("serialisable");
    let job = parse_job(&body).expect("round trip parses");
    assert_eq!(job.name, "backup");
    assert_eq!(job.success_count, 4);
    assert_eq!(job.last_success, stored.last_success);
    assert_eq!(job.status, JobStatus::Untriggered, "status is read-only");
    assert!(job.dependent_jobs.is_empty(), "dependent_jobs is read-only");
    assert_eq!(job.next, None, "next is read-only");
    assert_eq!(job.executor_config, stored.executor_config);
}

/// `null` for any field means its default.
#[test]
fn nulls_mean_defaults() {
    let fields = [
        "displayname",
        "timezone",
        "schedule",
        "owner",
        "owner_email",
        "success_count",
        "error_count",
        "last_success",
        "last_error",
        "disabled",
        "tags",
        "metadata",
        "retries",
        "dependent_jobs",
        "parent_job",
        "processors",
        "concurrency",
        "executor",
        "executor_config",
        "status",
        "next",
        "ephemeral",
        "starts_at",
        "expires_at",
        "misfire_policy",
        "retry_backoff",
        "history_limit",
        "output_limit",
    ];
    let mut body = serde_json::Map::new();
    body.insert("name".into(), json!("n"));
    for field in fields {
        body.insert(field.into(), Value::Null);
    }
    let job = parse_job(&serde_json::to_vec(&body).expect("json")).expect("parses");
    assert_eq!(job, Job::new("n"));
}

/// Wrong types are refused and name the field; syntax errors and non-objects use dkron's text.
#[test]
fn wrong_types_name_the_field() {
    let field = |body: &str| match parse_job(body.as_bytes()) {
        Err(BodyError::Field { field, .. }) => field,
        other => panic!("expected a field error for {body}, got {other:?}"),
    };
    assert_eq!(field(r#"{"name":"a","retries":"many"}"#), "retries");
    assert_eq!(field(r#"{"name":"a","retries":-1.5}"#), "retries");
    assert_eq!(field(r#"{"name":7}"#), "name");
    assert_eq!(field(r#"{"name":"a","disabled":"perhaps"}"#), "disabled");
    assert_eq!(
        field(r#"{"name":"a","tags":{"env":{"deep":1}}}"#),
        "tags.env"
    );
    assert_eq!(field(r#"{"name":"a","tags":["x"]}"#), "tags");
    assert_eq!(field(r#"{"name":"a","starts_at":"soon"}"#), "starts_at");
    assert_eq!(
        field(r#"{"name":"a","processors":{"log":"x"}}"#),
        "processors.log"
    );
    assert_eq!(
        field(r#"{"name":"a","retry_backoff":{"initial":"fast"}}"#),
        "retry_backoff.initial"
    );
    assert!(matches!(parse_job(b"{"), Err(BodyError::Syntax(_))));
    assert!(matches!(parse_job(b"[]"), Err(BodyError::Syntax(_))));
    assert_eq!(parse_job(b""), Err(BodyError::Syntax("EOF".to_owned())));
}

/// Scalars in string maps are kept as text (JSON editors produce numbers and booleans);
/// numeric strings and integral floats are accepted for counts.
#[test]
fn tolerant_scalars() {
    let job = parse_job(
        br#"{"name":"a","retries":"3","success_count":2.0,"error_count":-4,
             "executor_config":{"timeout":30,"debug":true,"x":null}}"#,
    )
    .expect("parses");
    assert_eq!(job.retries, 3);
    assert_eq!(job.success_count, 2);
    assert_eq!(job.error_count, 0);
    assert_eq!(job.executor_config["timeout"], "30");
    assert_eq!(job.executor_config["debug"], "true");
    assert_eq!(job.executor_config["x"], "");
}

/// Concurrency and misfire policy texts are validation failures, as in dkron.
#[test]
fn bad_policies_are_validation_failures() {
    let err = parse_job(br#"{"name":"a","concurrency":"sometimes"}"#).expect_err("invalid");
    let BodyError::Invalid(model) = err else {
        panic!("expected a validation failure, got {err:?}");
    };
    assert_eq!(model.field(), Some("concurrency"));
    let job = parse_job(br#"{"name":"a","concurrency":"forbid","misfire_policy":"catch_up:10m"}"#)
        .expect("parses");
    assert_eq!(job.concurrency, Concurrency::Forbid);
    assert_eq!(job.misfire_policy.to_string(), "catch_up:600s");
}

/// dkron's job JSON: every field, in order, with its null conventions.
#[test]
fn job_output_shape() {
    let mut job = Job::new("a");
    job.schedule = "@every 2s".into();
    let value = to_value(&JobOut::from(&job));
    let Value::Object(map) = &value else {
        panic!("object expected")
    };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    // serde_json's map is sorted unless preserve_order; check the set and the conventions.
    for key in [
        "id",
        "name",
        "displayname",
        "timezone",
        "schedule",
        "owner",
        "owner_email",
        "success_count",
        "error_count",
        "last_success",
        "last_error",
        "disabled",
        "tags",
        "metadata",
        "retries",
        "dependent_jobs",
        "parent_job",
        "processors",
        "concurrency",
        "executor",
        "executor_config",
        "status",
        "next",
        "ephemeral",
        "starts_at",
        "expires_at",
    ] {
        assert!(keys.contains(&key), "missing {key}");
    }
    assert_eq!(value["id"], "a");
    assert_eq!(value["last_success"], Value::Null);
    assert_eq!(value["tags"], Value::Null);
    assert_eq!(value["dependent_jobs"], Value::Null);
    assert_eq!(value["processors"], json!({}));
    assert_eq!(value["concurrency"], "allow");
    assert_eq!(value["status"], "");
    assert_eq!(value["next"], ZERO_TIME);
    assert_eq!(value["parent_job"], "");
    let text = serde_json::to_string(&JobOut::from(&job)).expect("json");
    let id_at = text.find("\"id\"").expect("id");
    let name_at = text.find("\"name\"").expect("name");
    let next_at = text.find("\"next\"").expect("next");
    assert!(
        id_at < name_at && name_at < next_at,
        "dkron's field order: {text}"
    );
}

/// A running execution: id `<nanos>-<node>`, `finished_at` is Go's zero time in any zone,
/// empty fields omitted.
#[test]
fn execution_output_shape() {
    let execution = Execution {
        job_name: "a".into(),
        started_at: ts("2022-04-25T19:27:01.024805435Z"),
        node_name: "node1".into(),
        attempt: 1,
        ..Execution::default()
    };
    let berlin = jiff::tz::db().get("Europe/Berlin").expect("zone");
    let value = to_value(&ExecutionOut::new(&execution, &berlin));
    assert_eq!(value["id"], "1650914821024805435-node1");
    assert_eq!(value["started_at"], "2022-04-25T21:27:01.024805435+02:00");
    assert_eq!(value["finished_at"], ZERO_TIME);
    assert_eq!(value["success"], false);
    assert_eq!(value["output_truncated"], false);
    assert_eq!(value["trigger"], "scheduled");
    assert!(value.get("output").is_none());
    assert!(value.get("group").is_none());
    assert!(value.get("exit_code").is_none());
}

/// Members use Go's serf field names; lists add `id` and `statusText`.
#[test]
fn member_output_shape() {
    let member = Member {
        name: "node1".into(),
        addr: "127.0.0.1".into(),
        port: 8946,
        status: MemberStatus::Failed,
        server: true,
        ..Member::default()
    };
    let listed = to_value(&MemberOut::listed(&member));
    assert_eq!(listed["Name"], "node1");
    assert_eq!(listed["Addr"], "127.0.0.1");
    assert_eq!(listed["Port"], 8946);
    assert_eq!(listed["Status"], 4);
    assert_eq!(listed["statusText"], "failed");
    assert_eq!(listed["id"], "node1");
    assert_eq!(listed["Tags"]["role"], "dkron");
    assert_eq!(listed["Tags"]["server"], "true");
    assert!(listed.get("ProtocolCur").is_some());
    let bare = to_value(&MemberOut::bare(&member));
    assert!(bare.get("id").is_none() && bare.get("statusText").is_none());
}

/// Any JSON value (within proptest's sizes) under any known field name, and any bytes as a
/// body, give a job or an error, never a panic.
mod never_panics {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::super::parse_job;

    const FIELDS: &[&str] = &[
        "name",
        "displayname",
        "timezone",
        "schedule",
        "owner",
        "success_count",
        "last_success",
        "disabled",
        "tags",
        "metadata",
        "retries",
        "parent_job",
        "processors",
        "concurrency",
        "executor",
        "executor_config",
        "next",
        "starts_at",
        "expires_at",
        "misfire_policy",
        "retry_backoff",
        "history_limit",
        "output_limit",
        "command",
        "shell",
        "environment_variables",
    ];

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_field_values(values in prop::collection::vec(json_value(), FIELDS.len())) {
            let object: serde_json::Map<String, Value> = FIELDS
                .iter()
                .zip(values)
                .map(|(k, v)| ((*k).to_owned(), v))
                .collect();
            let name = object["name"].clone();
            let body = serde_json::to_vec(&Value::Object(object)).expect("serialisable");
            if let Ok(job) = parse_job(&body) {
                // Only a string or null name is accepted, and kept as sent.
                prop_assert_eq!(Value::String(job.name.clone()), match name {
                    Value::Null => Value::String(String::new()),
                    other => other,
                });
                // Validation must not panic either.
                let _ = job.validate();
            }
        }

        #[test]
        fn any_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
            if parse_job(&body).is_ok() {
                // Only a JSON object can be a job.
                let parsed: Result<Value, _> = serde_json::from_slice(&body);
                prop_assert!(parsed.is_ok_and(|v| v.is_object()));
            }
        }
    }
}
