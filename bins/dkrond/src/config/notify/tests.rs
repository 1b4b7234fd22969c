//! The notification settings: dkron's rules for what is enabled, layering, bad values.

use std::time::Duration;

use dkron_notify::{Header, Settings};

use crate::config::{Config, ConfigError, RawConfig, Value};

fn source(pairs: &[(&str, &str)], origin: &str) -> RawConfig {
    let mut raw = RawConfig::default();
    for (key, value) in pairs {
        raw.set(key, Value::Text((*value).to_owned()), origin);
    }
    raw
}

/// A server (an agent would need `join`) configured by the three sources.
fn resolve(mut flags: RawConfig, env: RawConfig, file: RawConfig) -> Result<Config, ConfigError> {
    flags.set("server", Value::Bool(true), "flag");
    Config::resolve(flags, env, file, &|| Some("box".to_owned()))
}

#[test]
fn nothing_is_sent_by_default() {
    let config = resolve(
        RawConfig::default(),
        RawConfig::default(),
        RawConfig::default(),
    )
    .unwrap();
    assert_eq!(config.notify, Settings::default());
    assert_eq!(config.notify.queue, 1000);
    assert_eq!(config.notify.retries, 2);
    assert_eq!(config.notify.timeout, Duration::from_secs(10));
}

#[test]
fn a_dkron_config_file_enables_every_channel() {
    let yaml = r##"
webhook-url: https://hooks.slack.com/services/XXXXXX/XXXXXXX/XXXXXXXXXXXXXXXXXXXX
webhook-payload: "payload={\"text\": \"{{.Report}}\", \"channel\": \"#foo\"}"
webhook-headers: Content-Type:application/x-www-form-urlencoded
pre-webhook-endpoint: http://127.0.0.1:9/pre
pre-webhook-payload: "{{.JobName}} starts"
pre-webhook-headers:
  - "Authorization: Bearer a:b"
mail-host: email-smtp.eu-west-1.amazonaws.com
mail-port: 25
mail-username: mailuser
mail-password: mailpassword
mail-from: cron@example.com
mail-payload: "Job {{.JobName}} finished with status {{.Success}} on node {{.NodeName}}\n\nOutput:\n{{.Output}}"
cronitor-endpoint: https://cronitor.link/p/KEY/
"##;
    let file = RawConfig::from_file_text(yaml, "yml", "dkron.yml");
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    let config = resolve(RawConfig::default(), RawConfig::default(), file).unwrap();
    let notify = config.notify;
    let webhook = notify.webhook.expect("webhook-url is webhook-endpoint");
    assert!(webhook.endpoint.starts_with("https://hooks.slack.com/"));
    assert_eq!(
        webhook.headers,
        vec![Header::parse("Content-Type:application/x-www-form-urlencoded").unwrap()]
    );
    let pre = notify.pre_webhook.expect("pre-webhook");
    assert_eq!(pre.headers[0].value, "Bearer a:b");
    let mail = notify.mail.expect("mail");
    assert_eq!(
        (mail.host.as_str(), mail.port),
        ("email-smtp.eu-west-1.amazonaws.com", 25)
    );
    assert_eq!(mail.subject_prefix, "[Dkron]");
    assert_eq!(mail.from, "cron@example.com");
    assert_eq!(
        notify.cronitor_endpoint.as_deref(),
        Some("https://cronitor.link/p/KEY")
    );
}

#[test]
fn flags_win_and_webhook_endpoint_beats_webhook_url() {
    let flags = source(
        &[
            ("webhook-endpoint", "http://flag/"),
            ("notify-retries", "0"),
        ],
        "flag",
    );
    let env = source(
        &[
            ("webhook-url", "http://env/"),
            ("webhook-payload", "p"),
            ("notify-queue", "5"),
        ],
        "env",
    );
    let config = resolve(flags, env, RawConfig::default()).unwrap();
    assert_eq!(config.notify.webhook.unwrap().endpoint, "http://flag/");
    assert_eq!((config.notify.queue, config.notify.retries), (5, 0));
}

#[test]
fn half_configured_channels_send_nothing_and_say_so() {
    let flags = source(
        &[("webhook-endpoint", "http://x/"), ("mail-host", "smtp")],
        "flag",
    );
    let config = resolve(flags, RawConfig::default(), RawConfig::default()).unwrap();
    assert!(config.notify.webhook.is_none() && config.notify.mail.is_none());
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("webhook-payload"))
    );
    assert!(config.warnings.iter().any(|w| w.contains("mail-port")));
}

#[test]
fn bad_values_are_reported_by_key() {
    let flags = source(
        &[
            ("mail-port", "70000"),
            ("webhook-endpoint", "ftp://x"),
            ("webhook-headers", "no colon"),
            ("notify-queue", "0"),
            ("notify-retries", "11"),
        ],
        "flag",
    );
    let problems = resolve(flags, RawConfig::default(), RawConfig::default())
        .unwrap_err()
        .problems;
    assert_eq!(problems.len(), 5, "{problems:?}");
    let mail = source(&[("mail-host", "smtp"), ("mail-port", "25")], "flag");
    let problems = resolve(mail, RawConfig::default(), RawConfig::default())
        .unwrap_err()
        .problems;
    assert!(
        problems.iter().any(|p| p.contains("mail-from")),
        "{problems:?}"
    );
}

#[test]
fn headers_from_the_environment_are_comma_separated() {
    let env = RawConfig::from_env(
        [
            ("DKRON_WEBHOOK_ENDPOINT".to_owned(), "http://x/".to_owned()),
            ("DKRON_WEBHOOK_PAYLOAD".to_owned(), "p".to_owned()),
            ("DKRON_WEBHOOK_HEADERS".to_owned(), "A: 1, B: 2".to_owned()),
        ]
        .into_iter(),
    );
    assert!(
        env.problems.is_empty() && env.warnings.is_empty(),
        "{env:?}"
    );
    let config = resolve(RawConfig::default(), env, RawConfig::default()).unwrap();
    let headers = config.notify.webhook.unwrap().headers;
    assert_eq!(headers.len(), 2);
    assert_eq!(
        (headers[1].name.as_str(), headers[1].value.as_str()),
        ("B", "2")
    );
}
