//! One attempt of each channel, as dkron sends it (`dkron/notifier.go`); errors are sentences.

use std::time::Duration;

use dkron_model::Execution;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use crate::settings::{Mail, Webhook};

/// The HTTP client of webhooks and Cronitor.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest and lettre are built without a crypto provider of their own (no aws-lc C build).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the notifier's HTTP client: {e}"))
}

/// An email to `to`: subject `<prefix><Success|Failed> <job> execution report` (dkron's), plain
/// text `body`; STARTTLS when the server offers it, PLAIN/LOGIN when credentials are set.
pub(crate) async fn mail(
    mail: &Mail,
    to: &str,
    execution: &Execution,
    body: String,
    timeout: Duration,
) -> Result<(), String> {
    let status = if execution.success {
        "Success"
    } else {
        "Failed"
    };
    let subject = format!(
        "{}{status} {} execution report",
        mail.subject_prefix, execution.job_name
    );
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| format!("mail-from {:?}: {e}", mail.from))?;
    let to: Mailbox = to.parse().map_err(|e| format!("owner_email {to:?}: {e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| format!("cannot build the email: {e}"))?;
    let tls = TlsParameters::new(mail.host.clone()).map_err(|e| format!("TLS: {e}"))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&mail.host)
        .port(mail.port)
        .tls(Tls::Opportunistic(tls))
        .timeout(Some(timeout));
    if !mail.username.is_empty() && !mail.password.is_empty() {
        transport = transport.credentials(Credentials::new(
            mail.username.clone(),
            mail.password.clone(),
        ));
    }
    let transport = transport.build();
    match tokio::time::timeout(timeout, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("SMTP {}:{}: {e}", mail.host, mail.port)),
        Err(_) => Err(format!(
            "SMTP {}:{}: no answer within {timeout:?}",
            mail.host, mail.port
        )),
    }
}

/// POSTs `body` to the webhook with its headers; a `Host` header sets the request's host.
/// Unlike dkron, an answer other than 2xx is a failure (and retried).
pub(crate) async fn webhook(
    http: &reqwest::Client,
    hook: &Webhook,
    body: String,
) -> Result<(), String> {
    let mut request = http.post(&hook.endpoint).body(body);
    for header in &hook.headers {
        request = request.header(header.name.as_str(), header.value.as_str());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("POST {}: {}", hook.endpoint, error_chain(&e)))?;
    let status = response.status();
    tracing::debug!(%status, endpoint = %hook.endpoint, "notifier: webhook answered");
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("POST {}: answered {status}", hook.endpoint))
    }
}

/// Cronitor's telemetry: `GET <endpoint>/<job>?host&message&series&state`, with dkron's values
/// (`series` is the execution id, `state` `run`, `complete` or `fail`).
pub(crate) async fn cronitor(
    http: &reqwest::Client,
    endpoint: &str,
    execution: &Execution,
    state: &str,
) -> Result<(), String> {
    let message = if state == "run" {
        "Job run by Dkron"
    } else {
        "Job complete by Dkron"
    };
    // Keys sorted, as Go's url.Values.Encode writes them.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("host", &execution.node_name)
        .append_pair("message", message)
        .append_pair("series", &execution.id())
        .append_pair("state", state)
        .finish();
    let url = format!("{endpoint}/{}?{query}", execution.job_name);
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("GET {url}: answered {status}"))
    }
}

/// An error and its sources on one line: reqwest's top-level message alone rarely says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
