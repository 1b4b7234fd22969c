//! Node-to-node RPC, on the RPC port next to Raft's routes and behind the same cluster key:
//! what the leader asks of a node (run, cancel, what runs), and what a node tells the servers
//! (heartbeats, execution reports).
//!
//! | route | who calls | body | answer |
//! |---|---|---|---|
//! | `POST /node/run` | the leader, to a target | [`RunRequest`] | 202; 409 past its `start_by` or while the node's lease is lapsed; 400 to start more than 10 s ahead; 503 while stopping |
//! | `POST /node/runs` | the leader, to a target | [`RunBatch`] | 200 with one [`RunOutcome`] per run (what `/node/run` would have answered) |
//! | `POST /node/cancel` | any server | [`CancelRequest`] | 200 with the [`Execution`], 404 |
//! | `GET /node/busy` | any server | — | the running [`Execution`]s |
//! | `GET /node/held` | the leader's reconciler | — | ids of the executions accepted and not yet reported |
//! | `POST /node/report` | a node, to any server | [`ReportRequest`] | 200 once committed, 503 |
//! | `POST /node/reports` | a node, to any server | [`ReportBatch`] | 200 once all are committed (one Raft entry), 503 |
//! | `POST /node/heartbeat` | a node, to the leader | [`Beat`] | [`BeatReply`] |
//! | `GET /node/output/{id}` | any server | — | the execution's live output, streamed (`output`), 404, 503 past `max-output-streams` |
//!
//! Agents serve run, runs, cancel, busy, held and output; servers serve all nine.

pub(crate) mod client;
pub(crate) mod output;

use std::sync::{Arc, OnceLock};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use dkron_model::{Execution, Job, LaunchRecord, Member};
use dkron_raft::{ClusterKey, Command, KEY_HEADER};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    handles::Handles,
    leader::Liveness,
    live::OutputStreams,
    runner::{NotStarted, Runner},
};

pub(crate) const RUN_PATH: &str = "/node/run";
pub(crate) const RUNS_PATH: &str = "/node/runs";
pub(crate) const CANCEL_PATH: &str = "/node/cancel";
pub(crate) const BUSY_PATH: &str = "/node/busy";
pub(crate) const HELD_PATH: &str = "/node/held";
pub(crate) const REPORT_PATH: &str = "/node/report";
pub(crate) const REPORTS_PATH: &str = "/node/reports";
pub(crate) const HEARTBEAT_PATH: &str = "/node/heartbeat";

/// Run `launch` of `job` on the receiving node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRequest {
    pub(crate) job: Job,
    pub(crate) launch: LaunchRecord,
    /// The start the leader recorded for this execution (its id): the node reports no start
    /// of its own.
    #[serde(default)]
    pub(crate) started_at: Option<Timestamp>,
    /// The node starts the run only before this instant (the leader's clock when it sent the
    /// request, plus [`client::HAND_OVER`]), and refuses it after: a node that was paused or cut
    /// off may read the request long after the leader gave up on it (its call timed out, so it
    /// recorded the run as failed and may fire the job elsewhere), and running it then would
    /// overlap a `forbid` job and run a fire the history says failed. `None` (an older leader):
    /// no bound.
    #[serde(default)]
    pub(crate) start_by: Option<Timestamp>,
}

impl RunRequest {
    /// Whether the hand-over came too late to start at `now`.
    pub(crate) fn expired(&self, now: Timestamp) -> bool {
        self.start_by.is_some_and(|by| now > by)
    }

    /// Whether the run is to start further ahead of `now` than a node waits for a start
    /// ([`crate::runner::MAX_AHEAD`]; a leader hands over at most `dispatch-lead` ahead).
    pub(crate) fn too_far_ahead(&self, now: Timestamp) -> bool {
        self.started_at.is_some_and(|start| {
            std::time::Duration::try_from(start.duration_since(now))
                .is_ok_and(|ahead| ahead > crate::runner::MAX_AHEAD)
        })
    }
}

/// Runs handed to the receiving node in one call: a leader handing over a thousand fires a
/// second to an agent sends a few requests instead of a thousand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunBatch {
    pub(crate) runs: Vec<RunRequest>,
}

/// What became of each run of a [`RunBatch`], in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunOutcomes {
    pub(crate) outcomes: Vec<RunOutcome>,
}

/// One run's outcome: taken (`refused` empty), or refused with the status `/node/run` would
/// have answered and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RunOutcome {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refused: Option<String>,
    #[serde(default)]
    pub(crate) status: u16,
}

/// Cancel execution `id` of `job` if it runs on the receiving node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CancelRequest {
    pub(crate) job: String,
    pub(crate) id: String,
}

/// An execution that started (`finished == false`) or finished on the sending node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReportRequest {
    pub(crate) execution: Execution,
    pub(crate) finished: bool,
}

/// Executions that finished on the sending node, committed together as one Raft entry: an
/// agent running a thousand executions a second sends a few dozen requests instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReportBatch {
    pub(crate) executions: Vec<Execution>,
}

/// "I am alive, with these tags" (or, with `leaving`, "I am going away").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Beat {
    pub(crate) member: Member,
    pub(crate) leaving: bool,
}

/// The answer to a [`Beat`]: taken by the leader, or the leader to send it to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BeatReply {
    pub(crate) accepted: bool,
    /// RPC address of the leader, when the receiver knows it.
    pub(crate) leader: Option<String>,
}

/// Where the routes find their [`RpcState`]: the RPC port serves Raft before the rest of a
/// server exists (forming the cluster needs it), so the node routes answer 503 until the state
/// is set.
#[derive(Debug, Default)]
pub(crate) struct RpcSlot(OnceLock<RpcState>);

impl RpcSlot {
    /// Sets the state once the node's parts exist (later calls are ignored).
    pub(crate) fn set(&self, state: RpcState) {
        let _ = self.0.set(state);
    }

    fn get(&self) -> Option<&RpcState> {
        self.0.get()
    }
}

/// What the routes reach: the runner on every node; the store, Raft and the leader's liveness
/// table on servers.
#[derive(Debug)]
pub(crate) struct RpcState {
    pub(crate) runner: Arc<Runner>,
    pub(crate) server: Option<ServerSide>,
    pub(crate) key: Option<ClusterKey>,
    /// The node's output-stream slots, shared with its API.
    pub(crate) streams: OutputStreams,
}

/// A server's part of [`RpcState`].
#[derive(Debug)]
pub(crate) struct ServerSide {
    pub(crate) handles: Arc<Handles>,
    pub(crate) liveness: Arc<Liveness>,
}

impl RpcState {
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let key = self.key.as_ref()?;
        let presented = headers
            .get(KEY_HEADER)
            .map(|value| value.as_bytes())
            .unwrap_or_default();
        (!key.matches(presented))
            .then(|| (StatusCode::UNAUTHORIZED, "missing or wrong cluster key").into_response())
    }
}

/// The node routes, to merge into the RPC router.
pub(crate) fn router(state: Arc<RpcSlot>) -> Router {
    Router::new()
        .route(RUN_PATH, post(run))
        .route(RUNS_PATH, post(runs))
        .route(CANCEL_PATH, post(cancel))
        .route(BUSY_PATH, get(busy))
        .route(HELD_PATH, get(held))
        .route(REPORT_PATH, post(report))
        .route(REPORTS_PATH, post(reports))
        .route(HEARTBEAT_PATH, post(heartbeat))
        .route(output::OUTPUT_PATH, get(output::output))
        .with_state(state)
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// An answer that ends a request early (not ready, no key, bad body, not a server).
struct Refused(Box<Response>);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn refused(status: StatusCode, message: impl Into<String>) -> Refused {
    Refused(Box::new((status, message.into()).into_response()))
}

/// The node's state once it exists and the caller presented the cluster key.
fn admit<'s>(slot: &'s RpcSlot, headers: &HeaderMap) -> Result<&'s RpcState, Refused> {
    let Some(state) = slot.get() else {
        return Err(refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "this node is starting",
        ));
    };
    match state.refuse(headers) {
        Some(refusal) => Err(Refused(Box::new(refusal))),
        None => Ok(state),
    }
}

/// A server's part of the state; agents answer 404 to server routes.
fn server_side(state: &RpcState) -> Result<&ServerSide, Refused> {
    state
        .server
        .as_ref()
        .ok_or_else(|| refused(StatusCode::NOT_FOUND, "not a server"))
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refused> {
    serde_json::from_slice(body)
        .map_err(|error| refused(StatusCode::BAD_REQUEST, error.to_string()))
}

/// What every route answers: its response, or an early refusal.
type Answer = Result<Response, Refused>;

async fn run(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap, body: Bytes) -> Answer {
    let state = admit(&slot, &headers)?;
    let request: RunRequest = parse(&body)?;
    Ok(match accept(state, request) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => (refusal.status(), refusal.to_string()).into_response(),
    })
}

async fn runs(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap, body: Bytes) -> Answer {
    let state = admit(&slot, &headers)?;
    let batch: RunBatch = parse(&body)?;
    let outcomes: Vec<RunOutcome> = batch
        .runs
        .into_iter()
        .map(|request| match accept(state, request) {
            Ok(()) => RunOutcome::default(),
            Err(refusal) => RunOutcome {
                refused: Some(refusal.to_string()),
                status: refusal.status().as_u16(),
            },
        })
        .collect();
    Ok(json(StatusCode::OK, &RunOutcomes { outcomes }))
}

/// Why a node did not take a run handed to it.
#[derive(Debug, thiserror::Error)]
enum RunRefused {
    #[error("the hand-over expired before this node read it")]
    Expired,
    #[error("the run's start {0} is more than {max:?} ahead of this node's clock", max = crate::runner::MAX_AHEAD)]
    TooFarAhead(Timestamp),
    #[error(transparent)]
    NotStarted(NotStarted),
}

impl RunRefused {
    fn status(&self) -> StatusCode {
        match self {
            RunRefused::Expired
            | RunRefused::NotStarted(NotStarted::LeaseLapsed | NotStarted::TooManyStaged) => {
                StatusCode::CONFLICT
            }
            RunRefused::TooFarAhead(_) => StatusCode::BAD_REQUEST,
            RunRefused::NotStarted(NotStarted::Stopping) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Hands one run to this node's runner, unless it came too late or too far ahead.
fn accept(state: &RpcState, request: RunRequest) -> Result<(), RunRefused> {
    let now = Timestamp::now();
    if request.expired(now) {
        tracing::warn!(job = %request.job.name, start_by = ?request.start_by, "refused a run handed over too late");
        return Err(RunRefused::Expired);
    }
    if let Some(start) = request.started_at.filter(|_| request.too_far_ahead(now)) {
        return Err(RunRefused::TooFarAhead(start));
    }
    state
        .runner
        .start_at(
            Arc::new(request.job),
            request.launch,
            CancellationToken::new(),
            request.started_at,
        )
        .map_err(RunRefused::NotStarted)
}

async fn cancel(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap, body: Bytes) -> Answer {
    let state = admit(&slot, &headers)?;
    let request: CancelRequest = parse(&body)?;
    Ok(match state.runner.cancel(&request.job, &request.id) {
        Some(execution) => json(StatusCode::OK, &execution),
        None => (StatusCode::NOT_FOUND, "not running here").into_response(),
    })
}

async fn busy(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap) -> Answer {
    let state = admit(&slot, &headers)?;
    Ok(json(StatusCode::OK, &state.runner.running()))
}

async fn held(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap) -> Answer {
    let state = admit(&slot, &headers)?;
    Ok(json(StatusCode::OK, &state.runner.held_ids()))
}

async fn report(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap, body: Bytes) -> Answer {
    let state = admit(&slot, &headers)?;
    let server = server_side(state)?;
    let request: ReportRequest = parse(&body)?;
    let command = if request.finished {
        Command::ExecutionDone(request.execution)
    } else {
        Command::ExecutionStarted(request.execution)
    };
    // Invariant: 200 only once the report is committed; the sender keeps it until then.
    Ok(match server.handles.write(command).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    })
}

async fn reports(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap, body: Bytes) -> Answer {
    let state = admit(&slot, &headers)?;
    let server = server_side(state)?;
    let batch: ReportBatch = parse(&body)?;
    if batch.executions.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    let commands = batch
        .executions
        .into_iter()
        .map(Command::ExecutionDone)
        .collect();
    // Invariant: 200 only once every report is committed; the sender keeps them until then.
    // One entry: a refusal of one (its job deleted meanwhile) is that one's answer, not the
    // batch's.
    Ok(match server.handles.write(Command::Batch(commands)).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response(),
    })
}

async fn heartbeat(State(slot): State<Arc<RpcSlot>>, headers: HeaderMap, body: Bytes) -> Answer {
    let state = admit(&slot, &headers)?;
    let server = server_side(state)?;
    let beat: Beat = parse(&body)?;
    let raft = &server.handles.raft;
    let leader = raft.leader().map(|(_, node)| node.rpc_addr);
    let accepted = raft.is_leader();
    if accepted {
        server.liveness.beat(&server.handles, beat).await;
    }
    Ok(json(StatusCode::OK, &BeatReply { accepted, leader }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_handed_over_too_late_is_expired() {
        let at = |s: i64| Timestamp::from_second(s).expect("in range");
        let mut request = RunRequest {
            job: Job::new("j"),
            launch: LaunchRecord::default(),
            started_at: None,
            start_by: Some(at(100)),
        };
        assert!(!request.expired(at(99)));
        assert!(!request.expired(at(100)));
        assert!(request.expired(at(101)));
        request.start_by = None;
        assert!(!request.expired(at(1_000_000)));
    }

    #[test]
    fn a_run_to_start_beyond_the_wait_bound_is_too_far_ahead() {
        let at = |s: i64| Timestamp::from_second(s).expect("in range");
        let mut request = RunRequest {
            job: Job::new("j"),
            launch: LaunchRecord::default(),
            started_at: None,
            start_by: None,
        };
        assert!(!request.too_far_ahead(at(100)));
        request.started_at = Some(at(105));
        assert!(!request.too_far_ahead(at(100)), "5 s ahead is waited for");
        assert!(!request.too_far_ahead(at(200)), "a start in the past");
        request.started_at = Some(at(111));
        assert!(request.too_far_ahead(at(100)));
    }
}
