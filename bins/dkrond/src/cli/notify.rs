//! The notification flags of `dkrond agent` (dkron's names; see `config::notify`).

use clap::Args;

use crate::config::{RawConfig, Value};

/// dkron's notifications, sent by the leader. Each is also `DKRON_<KEY>` and a config file key.
#[derive(Debug, Clone, Args, Default)]
pub struct NotifyArgs {
    /// SMTP server host for email notifications to a job's owner_email (with --mail-port).
    #[arg(long, value_name = "HOST")]
    pub mail_host: Option<String>,
    /// SMTP server port [default: 0, no email].
    #[arg(long, value_name = "PORT")]
    pub mail_port: Option<String>,
    /// SMTP username (PLAIN/LOGIN authentication with --mail-password).
    #[arg(long, value_name = "USER")]
    pub mail_username: Option<String>,
    /// SMTP password. Prefer DKRON_MAIL_PASSWORD or the config file: other users can see
    /// command lines.
    #[arg(long, value_name = "PASSWORD")]
    pub mail_password: Option<String>,
    /// Sender address of notification emails (required for email).
    #[arg(long, value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// Email body, a Go template over JobName, Success, Output, Report, … [default: the
    /// execution's output].
    #[arg(long, value_name = "TEMPLATE")]
    pub mail_payload: Option<String>,
    /// Prefix of the email subject `<prefix>Success|Failed <job> execution report`
    /// [default: [Dkron]].
    #[arg(long, value_name = "TEXT")]
    pub mail_subject_prefix: Option<String>,
    /// URL POSTed to before each execution starts (with --pre-webhook-payload).
    #[arg(long, value_name = "URL")]
    pub pre_webhook_endpoint: Option<String>,
    /// Body of the pre-webhook, a Go template (see --mail-payload).
    #[arg(long, value_name = "TEMPLATE")]
    pub pre_webhook_payload: Option<String>,
    /// A `Name:Value` header of the pre-webhook (repeatable); `Host:` sets the host.
    #[arg(long = "pre-webhook-headers", value_name = "NAME:VALUE")]
    pub pre_webhook_headers: Vec<String>,
    /// URL POSTed to after each finished execution (with --webhook-payload).
    #[arg(long, value_name = "URL")]
    pub webhook_endpoint: Option<String>,
    /// Deprecated name of --webhook-endpoint (dkron's); --webhook-endpoint wins.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Body of the webhook, a Go template (see --mail-payload).
    #[arg(long, value_name = "TEMPLATE")]
    pub webhook_payload: Option<String>,
    /// A `Name:Value` header of the webhook (repeatable); `Host:` sets the host.
    #[arg(long = "webhook-headers", value_name = "NAME:VALUE")]
    pub webhook_headers: Vec<String>,
    /// Cronitor telemetry URL: GET <url>/<job>?state=run|complete|fail&… at start and end.
    #[arg(long, value_name = "URL")]
    pub cronitor_endpoint: Option<String>,
    /// Notifications waiting to be sent before new ones are dropped (and counted)
    /// [default: 1000].
    #[arg(long, value_name = "N")]
    pub notify_queue: Option<String>,
    /// Attempts after a failed delivery, 1 s apart and doubling (at most 10) [default: 2].
    #[arg(long, value_name = "N")]
    pub notify_retries: Option<String>,
}

impl NotifyArgs {
    /// Adds the flags given to `raw`.
    pub fn add_to(&self, raw: &mut RawConfig) {
        let texts = [
            ("mail-host", &self.mail_host),
            ("mail-port", &self.mail_port),
            ("mail-username", &self.mail_username),
            ("mail-password", &self.mail_password),
            ("mail-from", &self.mail_from),
            ("mail-payload", &self.mail_payload),
            ("mail-subject-prefix", &self.mail_subject_prefix),
            ("pre-webhook-endpoint", &self.pre_webhook_endpoint),
            ("pre-webhook-payload", &self.pre_webhook_payload),
            ("webhook-endpoint", &self.webhook_endpoint),
            ("webhook-url", &self.webhook_url),
            ("webhook-payload", &self.webhook_payload),
            ("cronitor-endpoint", &self.cronitor_endpoint),
            ("notify-queue", &self.notify_queue),
            ("notify-retries", &self.notify_retries),
        ];
        for (key, value) in texts {
            if let Some(text) = value {
                raw.set(key, Value::Text(text.clone()), &format!("flag --{key}"));
            }
        }
        let lists = [
            ("pre-webhook-headers", &self.pre_webhook_headers),
            ("webhook-headers", &self.webhook_headers),
        ];
        for (key, values) in lists {
            if !values.is_empty() {
                raw.set(key, Value::List(values.clone()), &format!("flag --{key}"));
            }
        }
    }
}
