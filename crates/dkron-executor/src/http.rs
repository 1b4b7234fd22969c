//! The `http` executor: one request per execution through a pooled client, with status and body
//! expectations, TLS options and a bounded, streamed body.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Mutex, Once},
    time::Duration,
};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::{
    BoxFuture, Error, ExecutionOutcome, ExecutionRequest, Executor, ExecutorConfig, TailBuffer,
    executor::Stopped, shell::go_parse_bool,
};

#[cfg(test)]
mod tests;

const COMPONENT: &str = "http";
/// dkron's default request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this many distinct TLS configurations keep a client (and its connection pool).
const MAX_CLIENTS: usize = 100;

/// The `http` executor. Keys (dkron's): `method`, `url`, `headers`, `body`, `timeout`,
/// `expectCode`, `expectBody`, `debug`, `tlsNoVerifyPeer`, `tlsCertificateFile`,
/// `tlsCertificateKeyFile`, `tlsRootCAsFile`.
///
/// Differences from dkron, on purpose:
/// - Without `expectCode`, success means a **2xx** status (dkron counts any status, even 500).
/// - `expectCode` is an exact list (dkron matches substrings: `1200` accepted `200`).
/// - Header values may contain `:` (only the first `:` separates name and value).
/// - Bad values (headers that are not a JSON array of `"Name: value"`, a bad regex, a bad code,
///   an unreadable certificate) fail validation or the execution instead of becoming warnings.
/// - `timeout` is whole seconds as in dkron, or a Go duration (`1500ms`); `0` means none.
/// - Connections are kept alive and pooled per TLS configuration (dkron closes each one).
/// - `expectBody` is matched against the captured body, i.e. its last `output_limit` bytes.
/// - `debug` writes the request and response lines into the output (dkron writes a dump of the
///   config), with `Authorization` and cookie values redacted.
#[derive(Debug, Default)]
pub struct HttpExecutor {
    /// One client per TLS configuration. Why a std mutex: held only to clone or insert a client,
    /// never across an await.
    clients: Mutex<HashMap<TlsOptions, reqwest::Client>>,
}

impl HttpExecutor {
    /// The http executor, with an empty client pool.
    pub fn new() -> HttpExecutor {
        HttpExecutor::default()
    }

    fn client(&self, tls: &TlsOptions) -> Result<reqwest::Client, String> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(tls) {
            return Ok(client.clone());
        }
        let client = build_client(tls)?;
        if clients.len() >= MAX_CLIENTS {
            // Why: bounded memory; a dropped client closes its idle connections. Eviction order
            // does not matter much: more than 100 TLS configurations on one agent is unusual.
            clients.clear();
        }
        clients.insert(tls.clone(), client.clone());
        Ok(client)
    }
}

impl Executor for HttpExecutor {
    fn name(&self) -> &'static str {
        "http"
    }

    fn validate(&self, config: &ExecutorConfig) -> Result<(), Error> {
        HttpConfig::parse(config).map(drop)
    }

    fn execute<'a>(&'a self, request: ExecutionRequest<'a>) -> BoxFuture<'a, ExecutionOutcome> {
        Box::pin(self.run(request))
    }

    /// A request from this process: a socket and a few KB, no process.
    fn runs_processes(&self) -> bool {
        false
    }
}

/// The options that shape a client; the pool's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TlsOptions {
    no_verify_peer: bool,
    certificate: Option<(PathBuf, PathBuf)>,
    root_cas: Option<PathBuf>,
}

/// A parsed http config.
#[derive(Debug, Clone)]
struct HttpConfig {
    method: reqwest::Method,
    url: reqwest::Url,
    headers: HeaderMap,
    body: String,
    timeout: Option<Duration>,
    expect_codes: Option<Vec<u16>>,
    expect_body: Option<regex::Regex>,
    debug: bool,
    tls: TlsOptions,
}

impl HttpConfig {
    fn parse(config: &ExecutorConfig) -> Result<HttpConfig, Error> {
        let get = |key: &str| config.get(key).map(String::as_str).unwrap_or("");

        let method = match get("method").trim() {
            "" => return Err(Error::invalid(COMPONENT, "method", "method is empty")),
            method => reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
                Error::invalid(
                    COMPONENT,
                    "method",
                    format!("`{method}` is not an HTTP method"),
                )
            })?,
        };
        let url = match get("url").trim() {
            "" => return Err(Error::invalid(COMPONENT, "url", "url is empty")),
            url => reqwest::Url::parse(url)
                .map_err(|err| Error::invalid(COMPONENT, "url", format!("`{url}`: {err}")))?,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                COMPONENT,
                "url",
                format!("scheme `{}` is not http or https", url.scheme()),
            ));
        }
        let headers = parse_headers(get("headers"))?;
        let timeout = parse_timeout(get("timeout"))?;
        let expect_codes = match get("expectCode").trim() {
            "" => None,
            text => Some(parse_codes(text)?),
        };
        let expect_body = match get("expectBody") {
            "" => None,
            pattern => Some(
                regex::Regex::new(pattern)
                    .map_err(|err| Error::invalid(COMPONENT, "expectBody", err.to_string()))?,
            ),
        };
        let no_verify_peer = match get("tlsNoVerifyPeer") {
            "" => false,
            text => go_parse_bool(text).ok_or_else(|| {
                Error::invalid(
                    COMPONENT,
                    "tlsNoVerifyPeer",
                    format!("`{text}` is not a boolean"),
                )
            })?,
        };
        let certificate = match (get("tlsCertificateFile"), get("tlsCertificateKeyFile")) {
            ("", "") => None,
            ("", _) => {
                return Err(Error::invalid(
                    COMPONENT,
                    "tlsCertificateFile",
                    "a key file needs a certificate file",
                ));
            }
            (_, "") => {
                return Err(Error::invalid(
                    COMPONENT,
                    "tlsCertificateKeyFile",
                    "a certificate file needs a key file",
                ));
            }
            (cert, key) => Some((PathBuf::from(cert), PathBuf::from(key))),
        };
        let root_cas = match get("tlsRootCAsFile") {
            "" => None,
            path => Some(PathBuf::from(path)),
        };
        Ok(HttpConfig {
            method,
            url,
            headers,
            body: get("body").to_owned(),
            timeout,
            expect_codes,
            expect_body,
            debug: !get("debug").is_empty(),
            tls: TlsOptions {
                no_verify_peer,
                certificate,
                root_cas,
            },
        })
    }
}

/// `headers`: a JSON array of `"Name: value"` strings. Only the first `:` separates name from
/// value (dkron cuts values at the second `:`). Empty strings are skipped, as in dkron.
fn parse_headers(text: &str) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    if text.trim().is_empty() {
        return Ok(headers);
    }
    // `null` is accepted as "no headers", as Go's JSON decoder does.
    let entries: Option<Vec<String>> = serde_json::from_str(text).map_err(|err| {
        Error::invalid(
            COMPONENT,
            "headers",
            format!("not a JSON array of strings: {err}"),
        )
    })?;
    for entry in entries.iter().flatten().filter(|entry| !entry.is_empty()) {
        let Some((name, value)) = entry.split_once(':') else {
            return Err(Error::invalid(
                COMPONENT,
                "headers",
                format!("`{entry}` is not `Name: value`"),
            ));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            Error::invalid(
                COMPONENT,
                "headers",
                format!("`{}` is not a header name", name.trim()),
            )
        })?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            Error::invalid(
                COMPONENT,
                "headers",
                format!("the value of `{name}` is not a header value"),
            )
        })?;
        // Why `insert`: dkron's `Header.Set` replaces an earlier entry of the same name.
        headers.insert(name, value);
    }
    Ok(headers)
}

/// A header value as `debug` shows it: credentials are redacted, since the output is stored and
/// shown in the UI.
fn shown_header_value(name: &HeaderName, value: &HeaderValue) -> String {
    let sensitive = [
        reqwest::header::AUTHORIZATION,
        reqwest::header::PROXY_AUTHORIZATION,
        reqwest::header::COOKIE,
        reqwest::header::SET_COOKIE,
    ];
    if sensitive.contains(name) {
        return "<redacted>".to_owned();
    }
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// `timeout`: whole seconds (dkron), or a Go duration; `0` disables it; default 30 s.
fn parse_timeout(text: &str) -> Result<Option<Duration>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Some(DEFAULT_TIMEOUT));
    }
    let duration = match text.parse::<i64>() {
        Ok(seconds) => jiff::SignedDuration::from_secs(seconds),
        Err(_) => dkron_cron::parse_go_duration(text).map_err(|err| {
            Error::invalid(
                COMPONENT,
                "timeout",
                format!("`{text}` is neither whole seconds nor a duration: {err}"),
            )
        })?,
    };
    crate::executor::timeout_limit(COMPONENT, text, duration)
}

fn parse_codes(text: &str) -> Result<Vec<u16>, Error> {
    let mut codes = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        match item.parse::<u16>() {
            Ok(code) if (100..=999).contains(&code) => codes.push(code),
            _ => {
                return Err(Error::invalid(
                    COMPONENT,
                    "expectCode",
                    format!("`{item}` is not a status code"),
                ));
            }
        }
    }
    if codes.is_empty() {
        return Err(Error::invalid(
            COMPONENT,
            "expectCode",
            format!("`{text}` lists no status code"),
        ));
    }
    Ok(codes)
}

/// Installs rustls' ring provider as the process default, once. Why: reqwest is built without a
/// provider (the default one, aws-lc, is a long C build); if the embedding program installed
/// another provider first, that one is kept.
/// Installs rustls' ring provider as the process default, once: reqwest is built without a
/// provider of its own (no aws-lc C build), so every client in the process needs this first.
pub fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn build_client(tls: &TlsOptions) -> Result<reqwest::Client, String> {
    ensure_crypto_provider();
    let mut builder = reqwest::Client::builder()
        // Why: dkron's Go transport uses no proxy; an agent's HTTP_PROXY must not reroute jobs.
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(30))
        .tls_danger_accept_invalid_certs(tls.no_verify_peer);
    if let Some((cert_path, key_path)) = &tls.certificate {
        let mut pem = read_file("tlsCertificateFile", cert_path)?;
        pem.push(b'\n');
        pem.extend_from_slice(&read_file("tlsCertificateKeyFile", key_path)?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|err| format!("http: client certificate: {}", error_chain(&err)))?;
        builder = builder.identity(identity);
    }
    if let Some(path) = &tls.root_cas {
        let certs = reqwest::Certificate::from_pem_bundle(&read_file("tlsRootCAsFile", path)?)
            .map_err(|err| {
                format!(
                    "http: tlsRootCAsFile {}: {}",
                    path.display(),
                    error_chain(&err)
                )
            })?;
        if certs.is_empty() {
            return Err(format!(
                "http: tlsRootCAsFile {}: no certificates in file",
                path.display()
            ));
        }
        // As in dkron, the configured roots replace the system's.
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|err| format!("http: cannot build the client: {}", error_chain(&err)))
}

fn read_file(key: &str, path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("http: {key} {}: {err}", path.display()))
}

/// An error and its sources on one line: reqwest's top-level message alone rarely says why.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
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

impl HttpExecutor {
    async fn run(&self, request: ExecutionRequest<'_>) -> ExecutionOutcome {
        let started_at = jiff::Timestamp::now();
        let config = match HttpConfig::parse(request.config) {
            Ok(config) => config,
            Err(err) => return ExecutionOutcome::failed(started_at, err.to_string()),
        };
        let client = match self.client(&config.tls) {
            Ok(client) => client,
            Err(err) => return ExecutionOutcome::failed(started_at, err),
        };
        let mut outcome = Exchange::new(&request, started_at)
            .run(&client, &config, &request)
            .await;
        outcome.finished_at = jiff::Timestamp::now();
        outcome
    }
}

/// The state of one request/response exchange.
struct Exchange<'r> {
    progress: Option<&'r dyn crate::OutputSink>,
    debug_text: String,
    body: TailBuffer,
    started_at: jiff::Timestamp,
}

impl<'r> Exchange<'r> {
    fn new(request: &ExecutionRequest<'r>, started_at: jiff::Timestamp) -> Exchange<'r> {
        Exchange {
            progress: request.progress,
            debug_text: String::new(),
            body: TailBuffer::new(request.output_limit),
            started_at,
        }
    }

    fn debug_line(&mut self, line: String) {
        if let Some(progress) = self.progress {
            progress.output(line.as_bytes());
            progress.output(b"\n");
        }
        self.debug_text.push_str(&line);
        self.debug_text.push('\n');
    }

    async fn run(
        mut self,
        client: &reqwest::Client,
        config: &HttpConfig,
        request: &ExecutionRequest<'_>,
    ) -> ExecutionOutcome {
        if config.debug {
            self.debug_line(format!("debug: request {} {}", config.method, config.url));
            for (name, value) in &config.headers {
                self.debug_line(format!(
                    "debug: request header {name}: {}",
                    shown_header_value(name, value)
                ));
            }
            if let Some(timeout) = config.timeout {
                self.debug_line(format!("debug: timeout {timeout:?}"));
            }
        }
        let mut builder = client
            .request(config.method.clone(), config.url.clone())
            .headers(config.headers.clone());
        if !config.body.is_empty() {
            builder = builder.body(config.body.clone());
        }
        if let Some(timeout) = config.timeout {
            // Why per request: the timeout covers connect, headers and body, and the pooled client
            // is shared by jobs with different timeouts.
            builder = builder.timeout(timeout);
        }

        let exchange = async {
            let response = builder.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response))
        };
        let (status, mut response) = tokio::select! {
            res = exchange => match res {
                Ok(pair) => pair,
                Err(err) => return self.finish_error(None, &err),
            },
            () = request.cancel.cancelled() => return self.finish_cancelled(None),
        };
        if config.debug {
            self.debug_line(format!("debug: response {:?} {status}", response.version()));
            let header_lines: Vec<String> = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    format!(
                        "debug: response header {name}: {}",
                        shown_header_value(name, value)
                    )
                })
                .collect();
            for line in header_lines {
                self.debug_line(line);
            }
        }
        loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk,
                () = request.cancel.cancelled() => return self.finish_cancelled(Some(status.as_u16())),
            };
            match chunk {
                Ok(Some(bytes)) => {
                    self.body.push(&bytes);
                    if let Some(progress) = self.progress {
                        progress.output(&bytes);
                    }
                }
                Ok(None) => break,
                Err(err) => return self.finish_error(Some(status.as_u16()), &err),
            }
        }

        let body_text = self.body.to_string_lossy();
        let code = status.as_u16();
        let mut error = match &config.expect_codes {
            Some(codes) if !codes.contains(&code) => {
                let listed: Vec<String> = codes.iter().map(u16::to_string).collect();
                Some(format!(
                    "http: received status {code}, expected one of {}",
                    listed.join(",")
                ))
            }
            None if !status.is_success() => {
                Some(format!("http: received status {code}, expected 2xx"))
            }
            _ => None,
        };
        if error.is_none()
            && let Some(pattern) = &config.expect_body
            && !pattern.is_match(&body_text)
        {
            error = Some(format!(
                "http: response body does not match `{}`",
                pattern.as_str()
            ));
        }
        ExecutionOutcome {
            success: error.is_none(),
            exit_code: None,
            http_status: Some(code),
            output: self.debug_text + &body_text,
            output_truncated: self.body.truncated(),
            output_total_bytes: self.body.total_bytes(),
            stopped: None,
            started_at: self.started_at,
            finished_at: self.started_at,
            error,
        }
    }

    fn finish_error(self, http_status: Option<u16>, err: &reqwest::Error) -> ExecutionOutcome {
        let stopped = err.is_timeout().then_some(Stopped::Timeout);
        let message = if err.is_timeout() {
            format!("http: request timed out: {}", error_chain(err))
        } else {
            format!("http: request failed: {}", error_chain(err))
        };
        self.finish_stopped(http_status, stopped, message)
    }

    fn finish_cancelled(self, http_status: Option<u16>) -> ExecutionOutcome {
        self.finish_stopped(
            http_status,
            Some(Stopped::Cancelled),
            "http: request was cancelled".to_owned(),
        )
    }

    fn finish_stopped(
        self,
        http_status: Option<u16>,
        stopped: Option<Stopped>,
        message: String,
    ) -> ExecutionOutcome {
        let mut output = self.debug_text + &self.body.to_string_lossy();
        // As for the shell executor, a run stopped from outside says so at the end of its output;
        // other failures are only in `error`.
        if stopped.is_some() {
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str(&message);
        }
        ExecutionOutcome {
            success: false,
            exit_code: None,
            http_status,
            output,
            output_truncated: self.body.truncated(),
            output_total_bytes: self.body.total_bytes(),
            stopped,
            started_at: self.started_at,
            finished_at: self.started_at,
            error: Some(message),
        }
    }
}
