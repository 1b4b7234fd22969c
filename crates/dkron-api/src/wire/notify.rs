//! The job field `notify` (dkron-rs): reading and writing a [`NotifyPolicy`].
//!
//! `{"channels": ["mail", "webhook", "pre_webhook", "cronitor"], "on_success": true,
//! "on_failure": true, "on_recovery": true}`; every key optional (absent or `null`: the
//! default), `null` or absent `notify`: the servers' default. Unlike the rest of a job, unknown
//! keys are refused: a misspelt `on_failur` would otherwise silently notify everything.

use dkron_model::{Channel, NotifyPolicy};
use serde::Serialize;
use serde_json::Value;

use super::job::BodyError;

const KEYS: [&str; 4] = ["channels", "on_success", "on_failure", "on_recovery"];

/// Reads `notify` (`value` is the field, absent or `null` = `None`).
pub(crate) fn parse(value: Option<&Value>) -> Result<Option<NotifyPolicy>, BodyError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(field("notify", "expected an object")),
    };
    if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(field(
            &format!("notify.{key}"),
            "unknown key (channels, on_success, on_failure, on_recovery)",
        ));
    }
    let mut policy = NotifyPolicy::default();
    for (key, slot) in [
        ("on_success", &mut policy.on_success),
        ("on_failure", &mut policy.on_failure),
        ("on_recovery", &mut policy.on_recovery),
    ] {
        match map.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *slot = *b,
            Some(_) => return Err(field(&format!("notify.{key}"), "expected a boolean")),
        }
    }
    policy.channels = match map.get("channels") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut channels = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let name = format!("notify.channels[{i}]");
                let Value::String(text) = item else {
                    return Err(field(&name, "expected a string"));
                };
                let channel: Channel = text.parse().map_err(|m: String| field(&name, &m))?;
                if !channels.contains(&channel) {
                    channels.push(channel);
                }
            }
            Some(channels)
        }
        Some(_) => return Err(field("notify.channels", "expected an array of strings")),
    };
    Ok(Some(policy))
}

fn field(field: &str, message: &str) -> BodyError {
    BodyError::Field {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// `notify` as written back: every key present.
#[derive(Debug, Serialize)]
pub(crate) struct NotifyOut {
    channels: Option<Vec<&'static str>>,
    on_success: bool,
    on_failure: bool,
    on_recovery: bool,
}

impl From<&NotifyPolicy> for NotifyOut {
    fn from(policy: &NotifyPolicy) -> NotifyOut {
        NotifyOut {
            channels: policy
                .channels
                .as_ref()
                .map(|c| c.iter().map(|c| c.as_str()).collect()),
            on_success: policy.on_success,
            on_failure: policy.on_failure,
            on_recovery: policy.on_recovery,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(value: Value) -> Result<Option<NotifyPolicy>, BodyError> {
        parse(Some(&value))
    }

    fn field_of(result: Result<Option<NotifyPolicy>, BodyError>) -> String {
        match result {
            Err(BodyError::Field { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn absent_and_null_are_the_servers_default() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parsed(Value::Null), Ok(None));
    }

    #[test]
    fn a_failure_only_policy_reads_and_writes_back() {
        let policy =
            parsed(json!({"channels": ["webhook", "mail", "webhook"], "on_success": false}))
                .unwrap()
                .unwrap();
        assert_eq!(
            policy,
            NotifyPolicy {
                channels: Some(vec![Channel::Webhook, Channel::Mail]),
                on_success: false,
                on_failure: true,
                on_recovery: true,
            }
        );
        let out = serde_json::to_value(NotifyOut::from(&policy)).unwrap();
        assert_eq!(
            out,
            json!({"channels": ["webhook", "mail"], "on_success": false, "on_failure": true, "on_recovery": true})
        );
        assert_eq!(parsed(out).unwrap(), Some(policy));
    }

    #[test]
    fn bad_values_name_the_field() {
        assert_eq!(field_of(parsed(json!("all"))), "notify");
        assert_eq!(
            field_of(parsed(json!({"on_failure": "yes"}))),
            "notify.on_failure"
        );
        assert_eq!(
            field_of(parsed(json!({"channels": "mail"}))),
            "notify.channels"
        );
        assert_eq!(
            field_of(parsed(json!({"channels": ["mail", "sms"]}))),
            "notify.channels[1]"
        );
        assert_eq!(
            field_of(parsed(json!({"channels": [1]}))),
            "notify.channels[0]"
        );
        assert_eq!(
            field_of(parsed(json!({"on_failur": true}))),
            "notify.on_failur"
        );
    }
}
