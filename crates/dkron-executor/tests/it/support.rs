//! Test support: a small HTTP server on 127.0.0.1 (plain or TLS, optionally requiring a client
//! certificate), a test certificate authority, and `/proc` helpers.

use std::{convert::Infallible, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{
    Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// A running test server; stops (and joins its tasks) on drop.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    tasks: JoinSet<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl TestServer {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn tls_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
}

/// Routes:
/// - `/ok`: 200 `hello`;
/// - `/status/<code>`: that status, body `status <code>`;
/// - `/echo`: 200, body `method=<m>\nx-test=<header>\nbody=<body>`;
/// - `/slow`: answers after 30 s (for timeouts and cancellation);
/// - `/big`: 200 with 1 MiB of `x` then `END`.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let method = request.method().to_string();
    let x_test = request
        .headers()
        .get("x-test")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let (status, text) = if path == "/ok" {
        (StatusCode::OK, "hello".to_owned())
    } else if let Some(code) = path.strip_prefix("/status/") {
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok());
        (
            status.unwrap_or(StatusCode::BAD_REQUEST),
            format!("status {code}"),
        )
    } else if path == "/echo" {
        (
            StatusCode::OK,
            format!(
                "method={method}\nx-test={x_test}\nbody={}",
                String::from_utf8_lossy(&body)
            ),
        )
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(30)).await;
        (StatusCode::OK, "late".to_owned())
    } else if path == "/big" {
        (StatusCode::OK, format!("{}END", "x".repeat(1 << 20)))
    } else {
        (StatusCode::NOT_FOUND, "not found".to_owned())
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    Ok(response)
}

/// A plain HTTP/1.1 server on 127.0.0.1.
pub(crate) async fn start_server() -> TestServer {
    serve(None).await
}

/// An HTTPS server on 127.0.0.1 with `tls`.
pub(crate) async fn start_tls_server(tls: Arc<rustls::ServerConfig>) -> TestServer {
    serve(Some(tokio_rustls::TlsAcceptor::from(tls))).await
}

async fn serve(acceptor: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            connections.spawn(async move {
                match acceptor {
                    None => {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(handle))
                            .await;
                    }
                    Some(acceptor) => {
                        // A failed handshake (untrusted client) just drops the connection.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service_fn(handle))
                                .await;
                        }
                    }
                }
            });
            // Reap finished connections so the set stays small.
            while connections.try_join_next().is_some() {}
        }
    });
    TestServer { addr, tasks }
}

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, all as PEM files in a
/// temp dir.
pub(crate) struct TestPki {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) ca_pem: PathBuf,
    pub(crate) client_cert_pem: PathBuf,
    pub(crate) client_key_pem: PathBuf,
    pub(crate) other_ca_pem: PathBuf,
    ca_der: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
}

fn ca_params(name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params
}

impl TestPki {
    pub(crate) fn generate() -> TestPki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let root_params = ca_params("dkron-rs test CA");
        let ca_cert = root_params.self_signed(&ca_key).expect("ca cert");
        let issuer = rcgen::Issuer::new(root_params, ca_key);

        let server_key = rcgen::KeyPair::generate().expect("server key");
        let server_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server cert");

        let client_key = rcgen::KeyPair::generate().expect("client key");
        let mut client_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("client params");
        client_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "dkron-rs test client");
        client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .expect("client cert");

        let other_key = rcgen::KeyPair::generate().expect("other key");
        let other_ca = ca_params("unrelated CA")
            .self_signed(&other_key)
            .expect("other ca");

        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write pem");
            path
        };
        TestPki {
            ca_pem: write("ca.pem", ca_cert.pem()),
            client_cert_pem: write("client.pem", client_cert.pem()),
            client_key_pem: write("client-key.pem", client_key.serialize_pem()),
            other_ca_pem: write("other-ca.pem", other_ca.pem()),
            ca_der: ca_cert.der().clone(),
            server_chain: vec![server_cert.der().clone()],
            server_key_der: server_key.serialize_der(),
            dir,
        }
    }

    fn server_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()))
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A server config that does not ask for a client certificate.
    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let config = rustls::ServerConfig::builder_with_provider(TestPki::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), self.server_key())
            .expect("server cert");
        Arc::new(config)
    }

    /// A server config that requires a client certificate issued by the test CA.
    pub(crate) fn mtls_server_config(&self) -> Arc<rustls::ServerConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("add ca");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            TestPki::provider(),
        )
        .build()
        .expect("client verifier");
        let config = rustls::ServerConfig::builder_with_provider(TestPki::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), self.server_key())
            .expect("server cert");
        Arc::new(config)
    }
}

/// Processes whose process group is `pgid`, as `(pid, state)`.
pub(crate) fn group_members(pgid: i32) -> Vec<(i32, char)> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(2).and_then(|field| field.parse::<i32>().ok()) == Some(pgid) {
            members.push((pid, fields[0].chars().next().unwrap_or('?')));
        }
    }
    members
}

/// Waits until no process of group `pgid` is left (zombies included), polling, or panics with
/// `what` and the members still there after `within`.
pub(crate) async fn wait_until_group_empty(what: &str, pgid: i32, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let members = group_members(pgid);
        if members.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}: left (pid, state): {members:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An executor config from pairs.
pub(crate) fn config(pairs: &[(&str, &str)]) -> dkron_executor::ExecutorConfig {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}
