//! [`NodeClient`]: the calling side of the node routes (see `rpc`).

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use dkron_model::Execution;
use dkron_raft::KEY_HEADER;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    BUSY_PATH, Beat, BeatReply, CANCEL_PATH, CancelRequest, HEARTBEAT_PATH, HELD_PATH, REPORT_PATH,
    REPORTS_PATH, RUN_PATH, RUNS_PATH, ReportBatch, ReportRequest, RunOutcome, RunOutcomes,
};

/// Why a node call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// The node could not be reached, or the exchange broke.
    #[error("cannot reach {target}: {reason}")]
    Unreachable { target: String, reason: String },
    /// The node answered with an error status.
    #[error("{target} answered {status}: {body}")]
    Status {
        target: String,
        status: u16,
        body: String,
    },
    /// The answer could not be decoded.
    #[error("bad answer from {target}: {reason}")]
    BadAnswer { target: String, reason: String },
}

/// Calls other nodes' RPC ports, with the cluster key. Cheap to clone (a pooled client).
#[derive(Debug, Clone)]
pub(crate) struct NodeClient {
    http: reqwest::Client,
    /// For output relays, which last as long as the execution: no overall bound, only one on
    /// each read (the node pings while quiet).
    streaming: reqwest::Client,
    key: Option<String>,
    /// `http` or `https` (peer RPC over TLS).
    scheme: &'static str,
}

/// One call's bound: a node that does not answer within it counts as unreachable.
const CALL: Duration = Duration::from_secs(5);

/// How long after the leader sends a run the target may still start it ([`RunRequest::start_by`]):
/// half the call's bound, so a node that accepts in time also answers before the leader's call
/// times out (the rest of the bound carries the answer back). Assumes the nodes' clocks agree
/// within it, as cron scheduling does anyway.
pub(crate) const HAND_OVER: Duration = Duration::from_millis(2500);

impl NodeClient {
    /// A client presenting `key`, over HTTPS verified by `tls` when given.
    pub(crate) fn new(key: Option<&str>, tls: Option<Arc<rustls::ClientConfig>>) -> NodeClient {
        dkron_executor::ensure_crypto_provider();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let http = build(tls.clone(), |builder| builder.timeout(CALL));
        let streaming = build(tls, |builder| builder.read_timeout(3 * super::output::PING));
        NodeClient {
            http,
            streaming,
            key: key.map(str::to_owned),
            scheme,
        }
    }

    /// Follows the output of execution `id` on the node at `rpc_addr`.
    /// [`CallError::Status`] 404 when it does not run there.
    pub(crate) async fn output(
        &self,
        rpc_addr: &str,
        id: &str,
    ) -> Result<dkron_api::OutputStream, CallError> {
        let unreachable = |reason: String| CallError::Unreachable {
            target: rpc_addr.to_owned(),
            reason,
        };
        let mut url = reqwest::Url::parse(&format!("{}://{rpc_addr}", self.scheme))
            .map_err(|e| unreachable(e.to_string()))?;
        // Why segments: an id holds the node name, which is escaped here, not trusted.
        url.path_segments_mut()
            .map_err(|()| unreachable("not a base URL".to_owned()))?
            .extend(
                super::output::OUTPUT_PREFIX
                    .trim_start_matches('/')
                    .split('/'),
            )
            .push(id);
        let mut request = self.streaming.get(url);
        if let Some(key) = &self.key {
            request = request.header(KEY_HEADER, key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(dkron_raft::error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(CallError::Status {
                target: rpc_addr.to_owned(),
                status: status.as_u16(),
                body,
            });
        }
        Ok(super::output::relayed(rpc_addr.to_owned(), response))
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        rpc_addr: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<Option<T>, CallError> {
        let bytes = match body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|e| CallError::BadAnswer {
                target: rpc_addr.to_owned(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        self.call_with(rpc_addr, path, bytes).await
    }

    /// [`NodeClient::call`] with the body already encoded (a POST), or none (a GET).
    async fn call_with<T: DeserializeOwned>(
        &self,
        rpc_addr: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Option<T>, CallError> {
        let url = format!("{}://{rpc_addr}{path}", self.scheme);
        let mut request = match body {
            Some(bytes) => self.http.post(&url).body(bytes),
            None => self.http.get(&url),
        };
        if let Some(key) = &self.key {
            request = request.header(KEY_HEADER, key);
        }
        let unreachable = |e: reqwest::Error| CallError::Unreachable {
            target: rpc_addr.to_owned(),
            reason: dkron_raft::error_chain(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(CallError::Status {
                target: rpc_addr.to_owned(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| CallError::BadAnswer {
                target: rpc_addr.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Hands a run, encoded as a [`super::RunRequest`], to the node at `rpc_addr`.
    pub(crate) async fn run_encoded(
        &self,
        rpc_addr: &str,
        request: Vec<u8>,
    ) -> Result<(), CallError> {
        self.call_with::<serde_json::Value>(rpc_addr, RUN_PATH, Some(request))
            .await
            .map(drop)
    }

    /// Hands runs, encoded as a [`super::RunBatch`], to the node at `rpc_addr`; `expected`
    /// outcomes come back, in order. A node of an earlier version answers 404
    /// ([`CallError::Status`]).
    pub(crate) async fn run_batch(
        &self,
        rpc_addr: &str,
        batch: Vec<u8>,
        expected: usize,
    ) -> Result<Vec<RunOutcome>, CallError> {
        let answer: Option<RunOutcomes> = self.call_with(rpc_addr, RUNS_PATH, Some(batch)).await?;
        match answer {
            Some(RunOutcomes { outcomes }) if outcomes.len() == expected => Ok(outcomes),
            other => Err(CallError::BadAnswer {
                target: rpc_addr.to_owned(),
                reason: format!(
                    "{} outcomes for {expected} runs",
                    other.map_or(0, |o| o.outcomes.len())
                ),
            }),
        }
    }

    /// Cancels an execution on the node at `rpc_addr`; `None` when it does not run there.
    pub(crate) async fn cancel(
        &self,
        rpc_addr: &str,
        request: &CancelRequest,
    ) -> Result<Option<Execution>, CallError> {
        match self.call(rpc_addr, CANCEL_PATH, Some(request)).await {
            Err(CallError::Status { status: 404, .. }) => Ok(None),
            other => other,
        }
    }

    /// The executions running on the node at `rpc_addr`.
    pub(crate) async fn busy(&self, rpc_addr: &str) -> Result<Vec<Execution>, CallError> {
        self.call::<(), _>(rpc_addr, BUSY_PATH, None)
            .await
            .map(Option::unwrap_or_default)
    }

    /// Ids of the executions the node at `rpc_addr` accepted and has not reported yet.
    pub(crate) async fn held(&self, rpc_addr: &str) -> Result<BTreeSet<String>, CallError> {
        // An empty answer is an error, never "holds nothing": the caller closes what is not held.
        self.call::<(), _>(rpc_addr, HELD_PATH, None)
            .await?
            .ok_or_else(|| CallError::BadAnswer {
                target: rpc_addr.to_owned(),
                reason: "empty answer".to_owned(),
            })
    }

    /// Reports an execution to the server at `rpc_addr`; `Ok` once it is committed.
    pub(crate) async fn report(
        &self,
        rpc_addr: &str,
        request: &ReportRequest,
    ) -> Result<(), CallError> {
        self.call::<_, serde_json::Value>(rpc_addr, REPORT_PATH, Some(request))
            .await
            .map(drop)
    }

    /// Reports finished executions to the server at `rpc_addr`; `Ok` once all are committed.
    /// A server of an earlier version answers 404 ([`CallError::Status`]).
    pub(crate) async fn report_batch(
        &self,
        rpc_addr: &str,
        batch: &ReportBatch,
    ) -> Result<(), CallError> {
        self.call::<_, serde_json::Value>(rpc_addr, REPORTS_PATH, Some(batch))
            .await
            .map(drop)
    }

    /// Sends a heartbeat to the server at `rpc_addr`.
    pub(crate) async fn beat(&self, rpc_addr: &str, beat: &Beat) -> Result<BeatReply, CallError> {
        self.call(rpc_addr, HEARTBEAT_PATH, Some(beat))
            .await?
            .ok_or_else(|| CallError::BadAnswer {
                target: rpc_addr.to_owned(),
                reason: "empty heartbeat answer".to_owned(),
            })
    }
}

/// A client for node RPC, with `bound` (the overall or per-read timeout) applied.
fn build(
    tls: Option<Arc<rustls::ClientConfig>>,
    bound: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        // Node RPC goes straight to the peer, never through an HTTP proxy.
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        // Why: below the serving loop's default idle close (the 10 s header timeout), so
        // a call never goes out on a connection the peer is closing.
        .pool_idle_timeout(Duration::from_secs(5));
    builder = bound(builder);
    if let Some(tls) = tls {
        builder = builder
            .tls_backend_preconfigured(Arc::unwrap_or_clone(tls))
            .https_only(true);
    }
    builder.build().unwrap_or_else(|error| {
        // Only a broken TLS backend gets here; calls then fail and say so.
        tracing::error!(%error, "cannot build the node RPC client");
        reqwest::Client::default()
    })
}
