//! `dkron-api` serves dkron's REST API (4.1, plus the older paths clients still use) on
//! axum/hyper, in front of any [`Cluster`].
//!
//! It is the only crate that knows dkron's JSON field names, null and zero-time conventions,
//! status codes and headers (`X-Whom`, `X-Total-Count`, `Location`). `dkron-node` implements
//! [`Cluster`] over Raft, the store, the scheduler and the executors and mounts [`router`];
//! tests implement [`Cluster`] in memory, so the API is testable without Raft.
//!
//! # What it does not do
//!
//! No storage, consensus, scheduling or execution: it never names `dkron-store`, `dkron-raft`,
//! `dkron-scheduler` or `dkron-executor`. It does not serve the web UI's files nor `/metrics`
//! (the node owns the recorder): the node passes such routes to [`router_with`], which puts
//! them behind the same layers (access control, CORS); this router only redirects `/` to the
//! UI, relatively. Routes added to the returned [`axum::Router`] afterwards would bypass
//! access control.
//!
//! # Overview
//!
//! - [`router`] builds the [`axum::Router`] for a [`Cluster`] and [`ApiOptions`]; [`serve`]
//!   runs it on a listener until a shutdown future completes, giving every request its peer
//!   address ([`axum::extract::ConnectInfo`]).
//! - [`Access`] says who may call: protected mode (loopback only, the default), bearer
//!   [`ApiToken`]s with a read or write [`Role`], or open.
//! - [`Cluster`] is the seam: object safe, async through [`BoxFuture`], failing with
//!   [`ClusterError`].
//! - [`JobQuery`], [`ExecQuery`] and [`Page`] carry react-admin's list parameters;
//!   [`JobQuery::apply`] filters, sorts and slices for implementations.
//! - Internally: `wire` (dkron's JSON both ways), `params` (query strings, relative links),
//!   `reply` (rendering and the single failure-to-status mapping), `routes` (handlers),
//!   `restore` (multipart import), `openapi` (the embedded OpenAPI document).
//!
//! # Invariants
//!
//! - No handler runs for a request [`Access`] refuses; `/health` is open in every mode; a
//!   request without a peer address is not loopback.
//! - Every response carries `X-Whom`; CORS grants go only to the API's own origin and
//!   [`ApiOptions::cors_origins`]; every JSON endpoint honours `?pretty`; a handler panic
//!   becomes an empty 500, never a dropped connection.
//! - Request bodies are read as JSON whatever their `Content-Type` (curl's `-d` sends
//!   `application/x-www-form-urlencoded`), and are bounded ([`ApiOptions::max_body_bytes`]).
//! - A rejected request changes nothing: bodies are parsed and validated before the cluster
//!   is called.
//! - Links (`Location`, the `/` redirect) are relative, so the API works behind a reverse proxy
//!   under a path prefix.
//! - Every [`ClusterError`] maps to its status code in one exhaustive match (`reply.rs`).

mod access;
mod backfill;
mod cluster;
mod cors;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod openapi;
mod origin;
mod output;
mod params;
mod query;
mod reply;
mod restore;
mod routes;
#[cfg(feature = "testing")]
pub mod testing;
mod wire;

use std::{future::Future, io, net::SocketAddr, sync::Arc};

pub use crate::{
    access::{Access, ApiToken, Role, TokenError, UI_TOKEN_COOKIE},
    backfill::{Backfill, BackfillError, Backfilled, backfill},
    cluster::{BoxFuture, Cluster, DayStats, Health, NodeInfo, UpsertOptions},
    error::ClusterError,
    openapi::OPENAPI_JSON,
    output::{KEEP_ALIVE, OutputEvent, OutputStream, output_response, stored_output},
    query::{ExecQuery, ExecSort, JobQuery, Page},
    reply::{ERROR_FIELD_HEADER, LEADER_HEADER, TOTAL_COUNT_HEADER},
};

/// Settings of the API router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiOptions {
    /// Largest request body accepted, in bytes (413 above). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Largest `POST /v1/restore` upload, in bytes. Default 64 MiB.
    pub max_restore_bytes: usize,
    /// Whether the node serves the web UI under `ui/`: then `GET /` from a browser is redirected
    /// there (303, relative `Location: ui/`); otherwise `/` is 404, as in dkron.
    pub ui: bool,
    /// Most fire times `GET /v1/jobs/{job}/next` returns (`?count` above is refused).
    pub max_next_count: usize,
    /// Most instants one `POST /v1/jobs/{job}/backfill` runs (a larger range is refused, 400).
    /// Default 1000.
    pub max_backfill_fires: usize,
    /// Web origins (`scheme://host[:port]`) allowed to write besides the API's own: a write
    /// from any other `Origin` is refused (403), so a page an operator opens cannot create
    /// jobs.
    pub cors_origins: Vec<String>,
    /// Who may call the API: protected mode (loopback only) by default.
    pub access: Access,
}

impl Default for ApiOptions {
    fn default() -> ApiOptions {
        ApiOptions {
            max_body_bytes: 1 << 20,
            max_restore_bytes: 64 << 20,
            ui: false,
            max_next_count: 1000,
            max_backfill_fires: 1000,
            cors_origins: Vec::new(),
            access: Access::default(),
        }
    }
}

impl ApiOptions {
    /// Sets [`ApiOptions::max_body_bytes`].
    pub fn with_max_body_bytes(mut self, bytes: usize) -> ApiOptions {
        self.max_body_bytes = bytes;
        self
    }

    /// Sets [`ApiOptions::max_restore_bytes`].
    pub fn with_max_restore_bytes(mut self, bytes: usize) -> ApiOptions {
        self.max_restore_bytes = bytes;
        self
    }

    /// Sets [`ApiOptions::max_backfill_fires`].
    #[must_use]
    pub fn with_max_backfill_fires(mut self, fires: usize) -> ApiOptions {
        self.max_backfill_fires = fires;
        self
    }

    /// Sets [`ApiOptions::ui`].
    pub fn with_ui(mut self, ui: bool) -> ApiOptions {
        self.ui = ui;
        self
    }

    /// Allows writes from the web `origins` (besides the API's own).
    #[must_use]
    pub fn with_cors_origins(mut self, origins: Vec<String>) -> ApiOptions {
        self.cors_origins = origins;
        self
    }

    /// Sets [`ApiOptions::access`].
    #[must_use]
    pub fn with_access(mut self, access: Access) -> ApiOptions {
        self.access = access;
        self
    }
}

/// The REST API for `cluster`: every dkron 4.1 route, the older paths, and ours (see
/// `docs/api.md`), with access control, CORS, `X-Whom`, body limits, request tracing and panic
/// catching.
pub fn router(cluster: Arc<dyn Cluster>, options: ApiOptions) -> axum::Router {
    routes::router(cluster, options, axum::Router::new())
}

/// [`router`] plus the caller's `routes` (the node's `/metrics`, the UI), merged before the
/// layers so that they get the same access control, CORS and headers.
pub fn router_with(
    cluster: Arc<dyn Cluster>,
    options: ApiOptions,
    routes: axum::Router,
) -> axum::Router {
    routes::router(cluster, options, routes)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish. Every request carries its peer address as `ConnectInfo<SocketAddr>` (protected
/// mode needs it).
///
/// # Errors
/// Only what accepting connections on `listener` reports.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
