//! Real encodings go through the fuzz decoders, and are the fuzz target's seed corpus
//! (`write_seed_corpus` regenerates `fuzz/corpus/node_rpc`).

use std::collections::BTreeMap;

use dkron_model::{Job, LaunchRecord, Member};
use jiff::Timestamp;

use super::*;

fn ts(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("in range")
}

fn job() -> Job {
    let mut job = Job::new("backup");
    job.schedule = "@every 10s".to_owned();
    job.executor = "shell".to_owned();
    job.executor_config = BTreeMap::from([
        ("command".to_owned(), "echo hello".to_owned()),
        ("timeout".to_owned(), "30s".to_owned()),
    ]);
    job.retries = 2;
    job
}

fn execution(finished: bool) -> Execution {
    Execution {
        job_name: "backup".to_owned(),
        started_at: ts(1_769_477_404),
        finished_at: finished.then(|| ts(1_769_477_410)),
        success: finished,
        output: "hello\n".to_owned(),
        node_name: "agent1".to_owned(),
        group: 1_769_477_400_000_000_000,
        attempt: 1,
        exit_code: finished.then_some(0),
        scheduled_at: Some(ts(1_769_477_400)),
        ..Execution::default()
    }
}

fn member(leaving_name: &str) -> Member {
    Member {
        name: leaving_name.to_owned(),
        addr: "127.0.0.1".to_owned(),
        port: 8946,
        rpc_addr: "127.0.0.1:6869".to_owned(),
        tags: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
        region: "global".to_owned(),
        datacenter: "dc1".to_owned(),
        version: "0.1.0".to_owned(),
        ..Member::default()
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("encodes")
}

/// Seed inputs: (file name, route, body), each a real encoding.
fn seeds() -> Vec<(&'static str, Route, Vec<u8>)> {
    let launch = LaunchRecord {
        job_name: "backup".to_owned(),
        scheduled_at: ts(1_769_477_400),
        group: 1_769_477_400_000_000_000,
        attempt: 1,
        targets: vec!["agent1".to_owned()],
        ..LaunchRecord::default()
    };
    vec![
        (
            "run",
            Route::Run,
            json(&RunRequest {
                job: job(),
                launch: launch.clone(),
                started_at: Some(ts(1_769_477_404)),
                start_by: Some(ts(1_769_477_406)),
            }),
        ),
        (
            "run-unrecorded-start",
            Route::Run,
            json(&RunRequest {
                job: Job::new("minimal"),
                launch,
                started_at: None,
                start_by: None,
            }),
        ),
        (
            "cancel",
            Route::Cancel,
            json(&CancelRequest {
                job: "backup".to_owned(),
                id: "1769477404000000000-agent1".to_owned(),
            }),
        ),
        (
            "report-started",
            Route::Report,
            json(&ReportRequest {
                execution: execution(false),
                finished: false,
            }),
        ),
        (
            "report-finished",
            Route::Report,
            json(&ReportRequest {
                execution: execution(true),
                finished: true,
            }),
        ),
        (
            "heartbeat",
            Route::Heartbeat,
            json(&Beat {
                member: member("agent1"),
                leaving: false,
            }),
        ),
        (
            "heartbeat-leaving",
            Route::Heartbeat,
            json(&Beat {
                member: member("agent2"),
                leaving: true,
            }),
        ),
        (
            "reply-beat",
            Route::Reply,
            json(&BeatReply {
                accepted: false,
                leader: Some("127.0.0.1:6868".to_owned()),
            }),
        ),
        ("reply-busy", Route::Reply, json(&vec![execution(false)])),
        ("reply-cancelled", Route::Reply, json(&execution(true))),
        (
            "reply-output",
            Route::Reply,
            json(&RelayFrame::Output("line 1\nline 2 €\n".to_owned())),
        ),
        (
            "reply-output-end",
            Route::Reply,
            json(&RelayFrame::End(crate::runner::End {
                success: true,
                finished_at: Some(ts(1_769_477_410)),
                exit_code: Some(0),
            })),
        ),
    ]
}

fn selector(route: Route) -> u8 {
    match route {
        Route::Run => b'r',
        Route::Cancel => b'c',
        Route::Report => b'p',
        Route::Heartbeat => b'h',
        Route::Reply => b'y',
    }
}

#[test]
fn real_encodings_decode_and_round_trip() {
    for (name, route, body) in seeds() {
        assert_eq!(decode(route, &body), Ok(true), "{name}");
    }
}

#[test]
fn garbage_is_refused_by_every_route() {
    for body in [&b""[..], b"{", b"null", b"\"x\"", b"\xff\xfe", b"42"] {
        for route in Route::ALL {
            assert_eq!(decode(route, body), Ok(false), "{route:?} {body:?}");
        }
    }
}

/// Writes the seed corpus of `fuzz/` (run after changing a wire type):
/// `cargo test -p dkron-node write_seed_corpus -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/node_rpc"]
fn write_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/node_rpc");
    std::fs::create_dir_all(&dir).expect("corpus dir");
    for (name, route, body) in seeds() {
        let mut input = vec![selector(route)];
        input.extend_from_slice(&body);
        std::fs::write(dir.join(name), input).expect("seed written");
    }
}
