//! The notification settings: dkron's keys (`mail-*`, `webhook-*`, `pre-webhook-*`,
//! `cronitor-endpoint`, and the deprecated `webhook-url`) plus dkron-rs' `notify-queue` and
//! `notify-retries`. See docs/operations.md, "Notifications".

use dkron_notify::{
    DEFAULT_QUEUE, DEFAULT_RETRIES, DEFAULT_SUBJECT_PREFIX, Header, Mail, Settings, Webhook,
};

use super::{RawConfig, Value, to_int, to_text};

#[cfg(test)]
mod tests;

/// The keys of this group.
pub(super) const KEYS: &[&str] = &[
    "mail-host",
    "mail-port",
    "mail-username",
    "mail-password",
    "mail-from",
    "mail-payload",
    "mail-subject-prefix",
    "pre-webhook-endpoint",
    "pre-webhook-payload",
    "pre-webhook-headers",
    "webhook-endpoint",
    "webhook-url",
    "webhook-payload",
    "webhook-headers",
    "cronitor-endpoint",
    "notify-queue",
    "notify-retries",
];

/// Keys whose environment variable is a comma-separated list.
pub(super) const LIST_KEYS: &[&str] = &["pre-webhook-headers", "webhook-headers"];

/// Most `notify-retries`: past this a dead endpoint ties a delivery up for many minutes.
const MAX_RETRIES: i64 = 10;

/// What one source set of this group; texts as given (empty = unset, as dkron).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawNotify {
    /// Every text key of [`KEYS`] that was set, by key.
    texts: std::collections::BTreeMap<&'static str, String>,
    /// `mail-port`.
    mail_port: Option<u16>,
    /// `webhook-headers`.
    webhook_headers: Option<Vec<Header>>,
    /// `pre-webhook-headers`.
    pre_webhook_headers: Option<Vec<Header>>,
    /// `notify-queue`.
    queue: Option<usize>,
    /// `notify-retries`.
    retries: Option<u32>,
}

impl RawNotify {
    /// Sets `key` (one of [`KEYS`]) from `value`.
    pub(super) fn set(&mut self, key: &str, value: &Value) -> Result<(), String> {
        match key {
            "mail-port" => {
                self.mail_port =
                    Some(u16::try_from(to_int(value, 0, i64::from(u16::MAX))?).unwrap_or(0));
            }
            "notify-queue" => {
                self.queue = usize::try_from(to_int(value, 1, 1 << 20)?).ok();
            }
            "notify-retries" => {
                self.retries = u32::try_from(to_int(value, 0, MAX_RETRIES)?).ok();
            }
            "webhook-headers" => self.webhook_headers = Some(headers(value)?),
            "pre-webhook-headers" => self.pre_webhook_headers = Some(headers(value)?),
            key => {
                let name = KEYS
                    .iter()
                    .find(|k| **k == key)
                    .copied()
                    .ok_or("unknown setting")?;
                let text = to_text(value)?;
                if name.ends_with("-endpoint") || name == "webhook-url" {
                    check_url(&text)?;
                }
                self.texts.insert(name, text);
            }
        }
        Ok(())
    }
}

/// dkron's `Name:Value` headers: a list, or one text (dkron's sample config file writes one).
fn headers(value: &Value) -> Result<Vec<Header>, String> {
    let items = match value {
        Value::List(items) => items.clone(),
        Value::Text(text) if text.trim().is_empty() => Vec::new(),
        Value::Text(text) => vec![text.clone()],
        _ => return Err("expected a list of Name:Value headers".to_owned()),
    };
    items
        .iter()
        .filter(|h| !h.trim().is_empty())
        .map(|h| Header::parse(h))
        .collect()
}

fn check_url(text: &str) -> Result<(), String> {
    if text.is_empty() || text.starts_with("http://") || text.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{text:?} is not an http:// or https:// URL"))
    }
}

/// Layers the sources (the first that sets a key wins) into the notifier's settings, with
/// dkron's rules for what is enabled: mail needs `mail-host` and `mail-port`, a webhook its
/// endpoint and its payload.
pub(super) fn resolve(
    layers: &[RawConfig; 3],
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Settings {
    let text = |key: &str| {
        layers
            .iter()
            .find_map(|l| l.notify.texts.get(key).cloned())
            .unwrap_or_default()
    };
    let pick = |get: &dyn Fn(&RawNotify) -> Option<Vec<Header>>| {
        layers
            .iter()
            .find_map(|l| get(&l.notify))
            .unwrap_or_default()
    };
    let defaults = Settings::default();
    let mut settings = Settings {
        queue: layers
            .iter()
            .find_map(|l| l.notify.queue)
            .unwrap_or(DEFAULT_QUEUE),
        retries: layers
            .iter()
            .find_map(|l| l.notify.retries)
            .unwrap_or(DEFAULT_RETRIES),
        ..defaults
    };
    let host = text("mail-host");
    let port = layers.iter().find_map(|l| l.notify.mail_port).unwrap_or(0);
    if !host.is_empty() && port != 0 {
        let from = text("mail-from");
        if from.is_empty() {
            problems.push("mail-from: required when mail-host and mail-port are set".to_owned());
        }
        let prefix = layers
            .iter()
            .find_map(|l| l.notify.texts.get("mail-subject-prefix").cloned())
            .unwrap_or_else(|| DEFAULT_SUBJECT_PREFIX.to_owned());
        settings.mail = Some(Mail {
            host,
            port,
            username: text("mail-username"),
            password: text("mail-password"),
            from,
            payload: text("mail-payload"),
            subject_prefix: prefix,
        });
    } else if !host.is_empty() || port != 0 {
        warnings.push(
            "mail-host and mail-port must both be set for email notifications: no email is sent"
                .to_owned(),
        );
    }
    // `webhook-url` is dkron's deprecated name of `webhook-endpoint`, which wins.
    let mut endpoint = text("webhook-endpoint");
    if endpoint.is_empty() {
        endpoint = text("webhook-url");
    }
    settings.webhook = webhook(
        "webhook",
        endpoint,
        text("webhook-payload"),
        pick(&|n| n.webhook_headers.clone()),
        warnings,
    );
    settings.pre_webhook = webhook(
        "pre-webhook",
        text("pre-webhook-endpoint"),
        text("pre-webhook-payload"),
        pick(&|n| n.pre_webhook_headers.clone()),
        warnings,
    );
    let cronitor = text("cronitor-endpoint");
    settings.cronitor_endpoint =
        (!cronitor.is_empty()).then(|| cronitor.trim_end_matches('/').to_owned());
    settings
}

fn webhook(
    name: &str,
    endpoint: String,
    payload: String,
    headers: Vec<Header>,
    warnings: &mut Vec<String>,
) -> Option<Webhook> {
    match (endpoint.is_empty(), payload.is_empty()) {
        (false, false) => Some(Webhook {
            endpoint,
            payload,
            headers,
        }),
        (true, true) => None,
        _ => {
            warnings.push(format!(
                "{name}-endpoint and {name}-payload must both be set: no {name} is sent (as dkron)"
            ));
            None
        }
    }
}
