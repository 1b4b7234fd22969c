//! dkron's notifications (`reference/dkron.md` §6.3), delivered off the execution path.
//!
//! - After each finished execution that will not be retried: an email to the job's
//!   `owner_email` (`mail-*`), a POST to `webhook-endpoint` with the templated
//!   `webhook-payload`, and a Cronitor `complete`/`fail` ping.
//! - Before each start: a POST to `pre-webhook-endpoint` and a Cronitor `run` ping.
//!
//! Payloads are Go templates over dkron's fields ([`template`]). A job's
//! [`dkron_model::NotifyPolicy`] narrows what it sends (dkron-rs).
//!
//! [`Notifier`] never blocks its caller: events go to a bounded queue (a full queue drops and
//! counts), a worker renders them and sends each channel's delivery, retried a bounded number
//! of times with backoff. Outcomes are counted in the `metrics` facade ([`metrics`]). This crate
//! knows neither Raft nor the store: what it needs of the history comes through [`Lookup`].

mod deliver;
mod notifier;
mod settings;
pub mod template;

pub use notifier::{Finished, Lookup, Notifier, Stats, is_final};
pub use settings::{
    DEFAULT_QUEUE, DEFAULT_RETRIES, DEFAULT_SUBJECT_PREFIX, Header, MAX_BACKOFF, Mail, Settings,
    Webhook,
};

/// Names of the metrics this crate emits.
pub mod metrics {
    /// Deliveries that succeeded (`channel` label: `mail`, `webhook`, `pre_webhook`,
    /// `cronitor`).
    pub const SENT: &str = "dkron_notifications_sent_total";
    /// Deliveries that failed every attempt (`channel` label).
    pub const FAILED: &str = "dkron_notifications_failed_total";
    /// Attempts that failed and were tried again (`channel` label).
    pub const RETRIED: &str = "dkron_notifications_retried_total";
    /// Events dropped because the queue was full.
    pub const DROPPED: &str = "dkron_notifications_dropped_total";
}
