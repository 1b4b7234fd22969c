//! [`NotifyPolicy`]: a job's own notification rule (dkron-rs; dkron has only the global one).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A way a notification is delivered; each is configured on the servers (dkron's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email to the job's `owner_email` (`mail-*`).
    Mail,
    /// POST to `webhook-endpoint` after each finished execution.
    Webhook,
    /// POST to `pre-webhook-endpoint` before each start.
    PreWebhook,
    /// Cronitor telemetry (`cronitor-endpoint`): `run` at start, `complete`/`fail` at the end.
    Cronitor,
}

impl Channel {
    /// Every channel, in a fixed order.
    pub const ALL: [Channel; 4] = [
        Channel::Mail,
        Channel::Webhook,
        Channel::PreWebhook,
        Channel::Cronitor,
    ];

    /// The name on the wire, in settings and in metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Mail => "mail",
            Channel::Webhook => "webhook",
            Channel::PreWebhook => "pre_webhook",
            Channel::Cronitor => "cronitor",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Channel, String> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown channel {s:?} (mail, webhook, pre_webhook, cronitor)"))
    }
}

/// Which notifications a job wants; overrides the servers' default (every configured channel,
/// every finished execution, as dkron).
///
/// A finished execution notifies when it failed and `on_failure`, succeeded and `on_success`,
/// or succeeded after a failed run and `on_recovery`. Starts (pre-webhook, Cronitor `run`)
/// follow `channels` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPolicy {
    /// The channels used; `None` = every configured one, `Some([])` = none.
    pub channels: Option<Vec<Channel>>,
    /// Notify a successful execution.
    pub on_success: bool,
    /// Notify a failed execution.
    pub on_failure: bool,
    /// Notify a successful execution whose job's previous run failed (with `on_success` off).
    pub on_recovery: bool,
}

impl Default for NotifyPolicy {
    /// Everything, as without a policy.
    fn default() -> NotifyPolicy {
        NotifyPolicy {
            channels: None,
            on_success: true,
            on_failure: true,
            on_recovery: true,
        }
    }
}

impl NotifyPolicy {
    /// Whether `channel` is used.
    pub fn uses(&self, channel: Channel) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(&channel))
    }

    /// Whether a finished execution notifies: `success` is its outcome, `recovered` whether the
    /// job's previous run failed.
    pub fn wants_finished(&self, success: bool, recovered: bool) -> bool {
        if success {
            self.on_success || (recovered && self.on_recovery)
        } else {
            self.on_failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_only_skips_successes_and_recoveries() {
        let policy = NotifyPolicy {
            on_success: false,
            on_recovery: false,
            ..NotifyPolicy::default()
        };
        assert!(policy.wants_finished(false, false));
        assert!(!policy.wants_finished(true, false));
        assert!(!policy.wants_finished(true, true));
    }

    #[test]
    fn recovery_notifies_the_first_success_after_a_failure_only() {
        let policy = NotifyPolicy {
            on_success: false,
            on_failure: false,
            ..NotifyPolicy::default()
        };
        assert!(policy.wants_finished(true, true));
        assert!(!policy.wants_finished(true, false));
        assert!(!policy.wants_finished(false, true));
    }

    #[test]
    fn the_default_notifies_everything_on_every_channel() {
        let policy = NotifyPolicy::default();
        assert!(policy.wants_finished(true, false) && policy.wants_finished(false, false));
        assert!(Channel::ALL.into_iter().all(|c| policy.uses(c)));
    }

    #[test]
    fn channels_limit_the_channels_used() {
        let policy = NotifyPolicy {
            channels: Some(vec![Channel::Webhook]),
            ..NotifyPolicy::default()
        };
        assert!(policy.uses(Channel::Webhook));
        assert!(!policy.uses(Channel::Mail));
        let none = NotifyPolicy {
            channels: Some(Vec::new()),
            ..NotifyPolicy::default()
        };
        assert!(Channel::ALL.into_iter().all(|c| !none.uses(c)));
    }

    #[test]
    fn channel_names_round_trip_and_unknown_ones_are_refused() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(channel));
            let json = serde_json::to_string(&channel).unwrap();
            assert_eq!(json, format!("\"{channel}\""));
        }
        assert!("sms".parse::<Channel>().unwrap_err().contains("sms"));
    }

    #[test]
    fn a_stored_policy_missing_fields_decodes_with_defaults() {
        let policy: NotifyPolicy = serde_json::from_str(r#"{"on_success":false}"#).unwrap();
        assert_eq!(
            policy,
            NotifyPolicy {
                on_success: false,
                ..NotifyPolicy::default()
            }
        );
    }
}
