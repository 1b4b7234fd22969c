//! `dkron-ui` is the web UI of dkron-rs: HTML pages rendered on the server, over the same
//! [`dkron_api::Cluster`] the REST API calls.
//!
//! [`router`] returns an [`axum::Router`] whose routes all live under `/ui/`. The node passes it
//! to [`dkron_api::router_with`], so the UI sits behind the API's layers: access control (the
//! token may also come from the cookie `/ui/login` sets), CORS, the cross-origin write guard,
//! body limits and panic catching. Mounted anywhere else it would bypass them.
//!
//! # Design
//!
//! - Pages are written with `maud`, which escapes every interpolated value; the only markup not
//!   built by it is the compiled-in CSS, JavaScript and favicon (`assets/`, served with cache
//!   headers and a content version in their links).
//! - The chart of executions per day is an inline SVG drawn here (`chart.rs`), coloured by the
//!   style sheet so it follows the theme.
//! - Writes are HTML form posts to the UI, which calls the [`dkron_api::Cluster`] exactly as the
//!   API's handlers do (pause check, server fields cleared, [`dkron_model::Job::validate`]), then
//!   redirects (303) back to a page. Everything works without JavaScript; the small script adds
//!   the theme toggle, the live schedule explanation and the live output of running executions
//!   (an `EventSource` on each one's stream).
//! - Every link is relative, so the UI works behind a reverse proxy under a path prefix.
//! - Every page sends a `Content-Security-Policy` of `default-src 'self'` (no inline script or
//!   style), `X-Frame-Options: DENY` and `Cache-Control: no-store`.
//!
//! # Routes and test hooks
//!
//! `GET /ui/` dashboard; `GET /ui/jobs` (`q`, `status`, `enabled`, `sort`, `order`, `page`,
//! `per_page`); `GET|POST /ui/jobs/new`; `GET /ui/jobs/{name}` (`epage`, `full`);
//! `GET|POST /ui/jobs/{name}/edit`; `POST /ui/jobs/{name}/run|toggle|delete` (delete shows a
//! confirmation unless the body has `confirm=yes`); `POST /ui/jobs/{name}/backfill` (`from`,
//! `to`, `overlap`; answers with the instants launched); `POST
//! /ui/jobs/{name}/executions/{id}/cancel`; `GET /ui/jobs/{name}/executions/{id}/stream` (the
//! execution's output as server-sent events, as the API's); `GET /ui/members`; `GET /ui/schedule` (the form's
//! preview, JSON); `GET|POST /ui/login`; `POST /ui/logout`; `GET /ui/assets/{file}`.
//! A job named `new` is listed, but its page is shadowed by the form; use the API for it.
//!
//! Browser tests select elements by `data-test` attributes, never by classes:
//! `<main data-test="page-NAME">` (dashboard, jobs, job, job-form, backfill, members, login,
//! confirm-delete, error); `theme-toggle`; dashboard: `leader`, `node-count`, `job-count`,
//! `stats-chart` (the `<svg>`), `running-now`; list: `job-row` with `data-job`, `jobs-total`,
//! `jobs-search` (the form, input `q`), `pager-next`, `pager-prev`, `page-number`, `new-job`;
//! job: `job-name`, `schedule-words`, `next-fires` with `next-fire` items, `run-now`, `toggle`
//! (Disable/Enable), `delete` (then `confirm-delete` on the confirmation page), `edit`,
//! `job-enabled`, `job-skipped` (fires skipped past the misfire bound), `notice`, `paused-reason`, `execution-row` with `data-execution` and `data-status`,
//! `execution-output` (a `<pre>`, with `data-stream` while it runs), `output-show-all`, `cancel-execution`,
//! `policies` with `concurrency-words`, `jitter-words`, `pause-words`, `run-on-words` (a child's)
//! and `notify-words`, `backfill-form` (inputs `from`, `to`, `overlap`) and `backfill-submit`;
//! backfill result (`page-backfill`): `backfill-launched` with `data-count`, `backfill-instant`,
//! `back-to-job`; form: `job-form`,
//! inputs named after the JSON fields (`executor_config.command` for the command; `jitter`,
//! `pause_on_failure`, `run_on`; `notify` = `default` or `custom`, then the checkboxes
//! `notify.channels` (one per channel, ids `f-notify-<channel>`), `notify.on_success`,
//! `notify.on_failure`, `notify.on_recovery`),
//! `schedule-preview`, `submit`, `field-error` with `data-field`; members: `member-row` with
//! `data-member`, `leader-mark`; login: `login` (the form, input `token`), `logout`.
//!
//! # Invariants
//!
//! - The UI never lists all jobs: lists are pages of [`dkron_api::JobQuery`], counts are
//!   [`dkron_api::Page::total`] of empty pages.
//! - A bad form or query gives the page again with the error at its field and a 4xx status;
//!   nothing is written.
//! - Write buttons are shown only to a [`dkron_api::Role::Write`] caller; the access layer
//!   refuses a read token's writes anyway.

mod assets;
mod backfill;
mod chart;
mod fmt;
mod form;
mod links;
mod list;
mod routes;
mod schedule;
mod views;

use std::sync::Arc;

use dkron_api::{Access, Cluster};

/// Settings of the UI router.
#[derive(Debug, Clone)]
pub struct UiOptions {
    /// The API's access settings: in token mode the login form checks tokens against them,
    /// and the pages offer a logout.
    pub access: Access,
    /// Whether the token cookie is marked `Secure` (the API is served over TLS).
    pub secure_cookies: bool,
    /// Most instants one backfill from the job page runs, as
    /// [`dkron_api::ApiOptions::max_backfill_fires`] for the API (the node passes the same
    /// setting, `max-backfill-fires`). Default 1000.
    pub max_backfill_fires: usize,
}

impl Default for UiOptions {
    fn default() -> UiOptions {
        UiOptions {
            access: Access::default(),
            secure_cookies: false,
            max_backfill_fires: dkron_api::ApiOptions::default().max_backfill_fires,
        }
    }
}

impl UiOptions {
    /// Sets [`UiOptions::access`].
    #[must_use]
    pub fn with_access(mut self, access: Access) -> UiOptions {
        self.access = access;
        self
    }

    /// Sets [`UiOptions::max_backfill_fires`].
    #[must_use]
    pub fn with_max_backfill_fires(mut self, fires: usize) -> UiOptions {
        self.max_backfill_fires = fires;
        self
    }

    /// Sets [`UiOptions::secure_cookies`].
    #[must_use]
    pub fn with_secure_cookies(mut self, secure: bool) -> UiOptions {
        self.secure_cookies = secure;
        self
    }
}

/// The UI's routes, all under `/ui/` (and `/ui`, which redirects to `ui/`), for
/// [`dkron_api::router_with`].
pub fn router(cluster: Arc<dyn Cluster>, options: UiOptions) -> axum::Router {
    routes::router(cluster, options)
}
