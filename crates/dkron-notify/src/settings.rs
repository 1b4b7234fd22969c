//! [`Settings`]: the servers' notification settings, dkron's keys (`reference/dkron.md` §6.3).

use std::{fmt, time::Duration};

/// Everything the notifier needs. `Settings::default()` sends nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This server's name: the templates' `ReportingNode`.
    pub reporting_node: String,
    /// Email (`mail-host`, `mail-port`, …); `None` when `mail-host` or `mail-port` is unset.
    pub mail: Option<Mail>,
    /// `webhook-endpoint` with `webhook-payload` and `webhook-headers`; `None` unless both the
    /// endpoint and the payload are set (as dkron).
    pub webhook: Option<Webhook>,
    /// `pre-webhook-endpoint` with its payload and headers; same rule.
    pub pre_webhook: Option<Webhook>,
    /// `cronitor-endpoint`.
    pub cronitor_endpoint: Option<String>,
    /// `notify-queue` (dkron-rs): events waiting for the worker before new ones are dropped.
    pub queue: usize,
    /// `notify-retries` (dkron-rs): attempts after the first failed one, per delivery.
    pub retries: u32,
    /// Pause before the first retry; doubled for each later one, at most [`MAX_BACKOFF`].
    pub backoff: Duration,
    /// Bound on one attempt (connect, send, answer).
    pub timeout: Duration,
}

/// Default `notify-queue`.
pub const DEFAULT_QUEUE: usize = 1000;
/// Default `notify-retries`.
pub const DEFAULT_RETRIES: u32 = 2;
/// Longest pause between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            reporting_node: String::new(),
            mail: None,
            webhook: None,
            pre_webhook: None,
            cronitor_endpoint: None,
            queue: DEFAULT_QUEUE,
            retries: DEFAULT_RETRIES,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Settings {
    /// Whether anything is sent after an execution.
    pub fn any_finished(&self) -> bool {
        self.mail.is_some() || self.webhook.is_some() || self.cronitor_endpoint.is_some()
    }

    /// Whether anything is sent before a start.
    pub fn any_started(&self) -> bool {
        self.pre_webhook.is_some() || self.cronitor_endpoint.is_some()
    }
}

/// The SMTP server and the email's parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// `mail-host`.
    pub host: String,
    /// `mail-port`.
    pub port: u16,
    /// `mail-username`; PLAIN authentication when it and the password are set (as dkron).
    pub username: String,
    /// `mail-password`.
    pub password: String,
    /// `mail-from`.
    pub from: String,
    /// `mail-payload`: the body's template; empty = the execution's output (as dkron).
    pub payload: String,
    /// `mail-subject-prefix` (dkron's default `[Dkron]`, no space added).
    pub subject_prefix: String,
}

impl fmt::Debug for Mail {
    /// Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("from", &self.from)
            .field("subject_prefix", &self.subject_prefix)
            .finish_non_exhaustive()
    }
}

/// dkron's default `mail-subject-prefix`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "[Dkron]";

/// A webhook: where, what (a template), with which headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL POSTed to.
    pub endpoint: String,
    /// The body's template.
    pub payload: String,
    /// Extra headers; a `Host` header sets the request's host (as dkron).
    pub headers: Vec<Header>,
}

/// One `Name: Value` header of `webhook-headers` / `pre-webhook-headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name, trimmed.
    pub name: String,
    /// The value, trimmed.
    pub value: String,
}

impl Header {
    /// Reads dkron's `Name:Value` form. Split at the first `:`, so a value may hold colons
    /// (dkron keeps only the text up to the second colon).
    ///
    /// # Errors
    /// A sentence when there is no `:` or the name is not a valid header name.
    pub fn parse(text: &str) -> Result<Header, String> {
        let Some((name, value)) = text.split_once(':') else {
            return Err(format!("header {text:?} is not Name:Value"));
        };
        let (name, value) = (name.trim(), value.trim());
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header {text:?}: {name:?} is not a header name"))?;
        reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| format!("header {text:?}: the value is not a valid header value"))?;
        Ok(Header {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_at_the_first_colon() {
        let header = Header::parse("Authorization: Bearer a:b").unwrap();
        assert_eq!(header.name, "Authorization");
        assert_eq!(header.value, "Bearer a:b");
        let header = Header::parse("Content-Type:application/x-www-form-urlencoded").unwrap();
        assert_eq!(header.value, "application/x-www-form-urlencoded");
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(
            Header::parse("no colon")
                .unwrap_err()
                .contains("Name:Value")
        );
        assert!(Header::parse("bad name: x").is_err());
        assert!(Header::parse(": x").is_err());
    }

    #[test]
    fn nothing_is_configured_by_default_and_the_password_is_not_printed() {
        let settings = Settings::default();
        assert!(!settings.any_finished() && !settings.any_started());
        let mail = Mail {
            host: "smtp".into(),
            port: 25,
            username: "u".into(),
            password: "hunter2".into(),
            from: "f@x".into(),
            payload: String::new(),
            subject_prefix: DEFAULT_SUBJECT_PREFIX.into(),
        };
        assert!(!format!("{mail:?}").contains("hunter2"));
    }
}
