//! TLS of the node's listeners: PEM files loaded into rustls (ring provider, as the executors).

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::TlsAcceptor;

use crate::Error;

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates peers are verified against (peer RPC); `None` for the HTTP API.
    pub ca: Option<PathBuf>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::Tls {
        reason: format!("{what}: {reason}"),
    }
}

fn load_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let what = format!("{what} {}", path.display());
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error(&what, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(&what, e))?;
    if certs.is_empty() {
        return Err(tls_error(&what, "no PEM certificate in it"));
    }
    Ok(certs)
}

/// The TLS acceptor for a listener serving `files`' certificate.
///
/// # Errors
/// [`Error::Tls`] naming the file when one cannot be read or parsed, or when the key does not
/// belong to the certificate.
pub(crate) fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, Error> {
    let certs = load_certs(&files.cert, "TLS certificate")?;
    let key_what = format!("TLS key {}", files.key.display());
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| tls_error(&key_what, e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS settings", e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            tls_error(
                &format!(
                    "TLS certificate {} with key {}",
                    files.cert.display(),
                    files.key.display()
                ),
                e,
            )
        })?;
    // The serving loop speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The client side of peer RPC over TLS: servers are verified against the CA file `ca`.
///
/// # Errors
/// [`Error::Tls`] when the CA file is missing, unreadable or holds no usable certificate.
pub(crate) fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(ca, "TLS CA")? {
        roots
            .add(cert)
            .map_err(|e| tls_error(&format!("TLS CA {}", ca.display()), e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("TLS settings", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Both sides of peer RPC over TLS (`files`), or neither.
///
/// # Errors
/// As [`acceptor`] and [`client_config`].
pub(crate) fn rpc(
    files: Option<&TlsFiles>,
) -> Result<(Option<TlsAcceptor>, Option<Arc<rustls::ClientConfig>>), Error> {
    let Some(files) = files else {
        return Ok((None, None));
    };
    let Some(ca) = &files.ca else {
        return Err(tls_error(
            "peer RPC TLS",
            "a CA (rpc-tls-ca) is needed to verify peers",
        ));
    };
    Ok((Some(acceptor(files)?), Some(client_config(ca)?)))
}
