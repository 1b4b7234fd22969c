//! Couriers against a stub node on 127.0.0.1: a burst goes in one `/node/runs` call with one
//! answer per run; a node without the route gets one `/node/run` per run.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use dkron_model::{Job, LaunchRecord};

use super::{Couriers, Parcel, encode};
use crate::rpc::{
    RUN_PATH, RUNS_PATH, RunBatch, RunOutcome, RunOutcomes, RunRequest, client::NodeClient,
};

fn request(job: &str) -> RunRequest {
    RunRequest {
        job: Job::new(job),
        launch: LaunchRecord {
            job_name: job.to_owned(),
            ..LaunchRecord::default()
        },
        started_at: None,
        start_by: None,
    }
}

/// What the stub saw: calls per route and the jobs handed over.
#[derive(Debug, Default)]
struct Seen {
    batches: AtomicUsize,
    singles: AtomicUsize,
    jobs: Mutex<Vec<String>>,
}

/// A node that takes every job whose name does not start with `no`, with `/node/runs` or not.
async fn stub(batches: bool) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let mut router = Router::new().route(
        RUN_PATH,
        post(|State(seen): State<Arc<Seen>>, body: Bytes| async move {
            seen.singles.fetch_add(1, Ordering::SeqCst);
            let run: RunRequest = serde_json::from_slice(&body).expect("a run request");
            seen.jobs.lock().unwrap().push(run.job.name.clone());
            if run.job.name.starts_with("no") {
                (StatusCode::CONFLICT, "refused".to_owned())
            } else {
                (StatusCode::ACCEPTED, String::new())
            }
        }),
    );
    if batches {
        router = router.route(
            RUNS_PATH,
            post(|State(seen): State<Arc<Seen>>, body: Bytes| async move {
                seen.batches.fetch_add(1, Ordering::SeqCst);
                let batch: RunBatch = serde_json::from_slice(&body).expect("a run batch");
                let outcomes = batch
                    .runs
                    .iter()
                    .map(|run| {
                        seen.jobs.lock().unwrap().push(run.job.name.clone());
                        if run.job.name.starts_with("no") {
                            RunOutcome {
                                refused: Some("refused".to_owned()),
                                status: 409,
                            }
                        } else {
                            RunOutcome::default()
                        }
                    })
                    .collect();
                serde_json::to_vec(&RunOutcomes { outcomes }).expect("encoded")
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = router.with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

fn jobs() -> Vec<String> {
    (0..20)
        .map(|i| {
            if i % 5 == 0 {
                format!("no-{i}")
            } else {
                format!("job-{i}")
            }
        })
        .collect()
}

async fn hand_all_over(couriers: &Couriers, addr: &str) -> Vec<(String, Result<(), String>)> {
    let requests: Vec<RunRequest> = jobs().iter().map(|j| request(j)).collect();
    let answers =
        futures_util::future::join_all(requests.iter().map(|r| couriers.hand_over(addr, r))).await;
    jobs().into_iter().zip(answers).collect()
}

fn check(answers: &[(String, Result<(), String>)], seen: &Seen) {
    for (job, answer) in answers {
        if job.starts_with("no") {
            let why = answer.as_ref().expect_err(job);
            assert!(why.contains("409") && why.contains("refused"), "{why}");
        } else {
            assert_eq!(answer, &Ok(()), "{job}");
        }
    }
    let mut handed = seen.jobs.lock().unwrap().clone();
    handed.sort();
    let mut all = jobs();
    all.sort();
    assert_eq!(handed, all, "each run handed over once");
}

#[tokio::test]
async fn a_burst_goes_in_one_call_with_an_answer_per_run() {
    let (addr, seen) = stub(true).await;
    let couriers = Couriers::new(NodeClient::new(None, None));
    let answers = hand_all_over(&couriers, &addr).await;
    check(&answers, &seen);
    assert_eq!(seen.batches.load(Ordering::SeqCst), 1);
    assert_eq!(seen.singles.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_node_without_the_batch_route_gets_runs_one_by_one() {
    let (addr, seen) = stub(false).await;
    let couriers = Couriers::new(NodeClient::new(None, None));
    let answers = hand_all_over(&couriers, &addr).await;
    check(&answers, &seen);
    assert_eq!(seen.singles.load(Ordering::SeqCst), 20);
    // Later bursts go one by one straight away.
    let again = hand_all_over(&couriers, &addr).await;
    assert!(
        again
            .iter()
            .all(|(job, a)| a.is_ok() != job.starts_with("no"))
    );
    assert_eq!(seen.singles.load(Ordering::SeqCst), 40);
}

#[tokio::test]
async fn an_unreachable_node_fails_every_run_saying_so() {
    // A port nothing listens on (bound, then closed).
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let couriers = Couriers::new(NodeClient::new(None, None));
    for (_, answer) in hand_all_over(&couriers, &addr).await {
        let why = answer.expect_err("nothing listens");
        assert!(why.contains("cannot reach"), "{why}");
    }
}

#[test]
fn a_batch_is_the_requests_as_encoded() {
    let parcels: Vec<Parcel> = ["a", "b", "c"]
        .iter()
        .map(|job| Parcel {
            request: serde_json::to_vec(&request(job)).unwrap(),
            answer: tokio::sync::oneshot::channel().0,
        })
        .collect();
    let batch: RunBatch = serde_json::from_slice(&encode(&parcels)).expect("a run batch");
    let names: Vec<&str> = batch.runs.iter().map(|r| r.job.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}
