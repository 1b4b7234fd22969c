//! Who may use the API: [`Access`], checked by one middleware before any handler runs.
//!
//! The API runs any shell command a client writes into a job, so whoever reaches it owns the
//! machine. Three modes:
//! - **protected** (the default, after Redis): without tokens only loopback peers are served;
//!   every other address gets 403 with how to configure a token or opt out;
//! - **tokens**: every request needs `Authorization: Bearer <token>`, from loopback too; a
//!   read token may only `GET`/`HEAD`;
//! - **open**: everyone, without a token (the operator asked for it explicitly).
//!
//! `/health` is open in every mode (load balancers probe it without credentials). The peer
//! address is the [`ConnectInfo<SocketAddr>`] extension the server inserts; a request without
//! it is treated as coming from elsewhere (fail closed).
//!
//! Tokens are kept only as SHA-256 digests, and a presented token is digested and compared with
//! every configured one in constant time, so neither the content nor the length of a token
//! leaks through timing, and no token can appear in `Debug` output or messages.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::{Choice, ConstantTimeEq};

/// Who may use the API (see the module docs of `access.rs`, and `docs/operations.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Access {
    /// Protected mode: loopback peers are served without a token, every other address is
    /// refused (403).
    #[default]
    Protected,
    /// Every request but `/health` needs one of these bearer tokens, from every address. An
    /// empty list admits nobody.
    Tokens(Vec<ApiToken>),
    /// Everyone is served without a token (`--insecure-open-api`).
    Open,
}

impl Access {
    /// [`Access::Tokens`] when `tokens` is not empty, else [`Access::Protected`].
    pub fn with_tokens(tokens: Vec<ApiToken>) -> Access {
        if tokens.is_empty() {
            Access::Protected
        } else {
            Access::Tokens(tokens)
        }
    }

    /// How many read and how many write tokens are configured (for the start-up log line).
    pub fn token_counts(&self) -> (usize, usize) {
        match self {
            Access::Tokens(tokens) => {
                let read = tokens.iter().filter(|t| t.role == Role::Read).count();
                (read, tokens.len() - read)
            }
            Access::Protected | Access::Open => (0, 0),
        }
    }
}

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `GET` and `HEAD` only.
    Read,
    /// Everything.
    Write,
}

/// One API token: its role and the SHA-256 digest of its secret (the secret itself is not
/// kept). `Debug` shows the role only.
#[derive(Clone)]
pub struct ApiToken {
    role: Role,
    digest: [u8; 32],
}

/// Why a configured token was refused. Messages never repeat the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The secret is shorter than [`ApiToken::MIN_LEN`].
    #[error(
        "an API token must have at least {min} characters, this one has {len} (make one with `dkrond keygen`)",
        min = ApiToken::MIN_LEN
    )]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// A character that cannot travel in a bearer token.
    #[error(
        "an API token may only hold letters, digits and - . _ ~ + / (then = for padding), as `Authorization: Bearer` carries it"
    )]
    BadCharacter,
    /// `ROLE:SECRET` with a role other than `read` or `write`.
    #[error(
        "an API token's role must be read or write (read:SECRET, write:SECRET, or SECRET for write)"
    )]
    UnknownRole,
}

impl ApiToken {
    /// Fewest characters a token's secret may have.
    pub const MIN_LEN: usize = 16;

    /// Reads `read:SECRET`, `write:SECRET`, or a bare `SECRET` (a write token). The secret is
    /// an RFC 6750 `b64token` (letters, digits, `-._~+/`, then `=` padding) of at least
    /// [`ApiToken::MIN_LEN`] characters; surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`TokenError`], whose message never contains the token.
    pub fn parse(text: &str) -> Result<ApiToken, TokenError> {
        let text = text.trim();
        let (role, secret) = match text.split_once(':') {
            Some(("read", secret)) => (Role::Read, secret),
            Some(("write", secret)) => (Role::Write, secret),
            Some(_) => return Err(TokenError::UnknownRole),
            None => (Role::Write, text),
        };
        ApiToken::new(role, secret)
    }

    /// A token of `role` with `secret` (checked as in [`ApiToken::parse`]).
    ///
    /// # Errors
    /// [`TokenError`], whose message never contains the secret.
    pub fn new(role: Role, secret: &str) -> Result<ApiToken, TokenError> {
        if !is_b64token(secret) {
            return Err(TokenError::BadCharacter);
        }
        let len = secret.chars().count();
        if len < ApiToken::MIN_LEN {
            return Err(TokenError::TooShort { len });
        }
        Ok(ApiToken {
            role,
            digest: digest(secret.as_bytes()),
        })
    }

    /// What the token allows.
    pub fn role(&self) -> Role {
        self.role
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Why: even a digest of a short secret could be brute-forced from a log.
        f.debug_struct("ApiToken")
            .field("role", &self.role)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl PartialEq for ApiToken {
    fn eq(&self, other: &ApiToken) -> bool {
        self.role == other.role && bool::from(self.digest.ct_eq(&other.digest))
    }
}

impl Eq for ApiToken {}

/// RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn digest(secret: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, secret).as_ref());
    out
}

/// Why the middleware refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 401: no `Authorization: Bearer` header.
    MissingToken,
    /// 401: a bearer token that is not configured.
    UnknownToken,
    /// 403: a read token on a write.
    ReadOnly,
    /// 403: protected mode, and the peer is not loopback (or unknown).
    NotLoopback,
}

/// Whether a request to `path` with `method` from `peer` (`None`: unknown) carrying
/// `authorization` may be served.
pub(crate) fn decide(
    access: &Access,
    method: &Method,
    path: &str,
    peer: Option<IpAddr>,
    authorization: Option<&HeaderValue>,
) -> Result<(), Refusal> {
    if matches!(path, "/health" | "/health/") {
        return Ok(());
    }
    match access {
        Access::Open => Ok(()),
        Access::Protected if peer.is_some_and(is_loopback) => Ok(()),
        Access::Protected => Err(Refusal::NotLoopback),
        Access::Tokens(tokens) => {
            let Some(presented) = authorization.and_then(bearer) else {
                return Err(Refusal::MissingToken);
            };
            match role_of(tokens, presented) {
                None => Err(Refusal::UnknownToken),
                Some(Role::Read) if !matches!(*method, Method::GET | Method::HEAD) => {
                    Err(Refusal::ReadOnly)
                }
                Some(_) => Ok(()),
            }
        }
    }
}

/// 127.0.0.0/8, `::1`, and IPv4 loopback mapped into IPv6 (`::ffff:127.0.0.1`).
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer(value: &HeaderValue) -> Option<&[u8]> {
    let value = value.as_bytes();
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The strongest role among the tokens `presented` matches. Every configured token is
/// compared, in time independent of the presented token's content and of where it differs.
fn role_of(tokens: &[ApiToken], presented: &[u8]) -> Option<Role> {
    let presented = digest(presented);
    let mut read = Choice::from(0);
    let mut write = Choice::from(0);
    for token in tokens {
        let hit = token.digest.ct_eq(&presented);
        match token.role {
            Role::Read => read |= hit,
            Role::Write => write |= hit,
        }
    }
    if bool::from(write) {
        Some(Role::Write)
    } else if bool::from(read) {
        Some(Role::Read)
    } else {
        None
    }
}

/// The middleware: see the module docs.
pub(crate) async fn guard(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let decision = decide(
        &access,
        request.method(),
        request.uri().path(),
        peer,
        request.headers().get(header::AUTHORIZATION),
    );
    let Err(refusal) = decision else {
        return next.run(request).await;
    };
    let peer = peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    tracing::debug!(%peer, ?refusal, method = %request.method(), path = %request.uri().path(), "API request refused");
    refusal.into_response()
}

impl IntoResponse for Refusal {
    /// The status, a one-line text reason, and for 401 (and a read token's 403) the
    /// `WWW-Authenticate` challenge of RFC 6750.
    fn into_response(self) -> Response {
        let (status, challenge, reason) = match self {
            Refusal::MissingToken => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer realm="dkron""#),
                "API token required: send Authorization: Bearer <token>",
            ),
            Refusal::UnknownToken => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer realm="dkron", error="invalid_token""#),
                "unknown API token",
            ),
            Refusal::ReadOnly => (
                StatusCode::FORBIDDEN,
                Some(r#"Bearer realm="dkron", error="insufficient_scope""#),
                "this API token may only read (GET, HEAD): writes need a write token",
            ),
            Refusal::NotLoopback => (
                StatusCode::FORBIDDEN,
                None,
                "dkrond is in protected mode: without an API token it serves loopback clients only; configure a token with --api-token (clients send Authorization: Bearer <token>), or serve every address without one with --insecure-open-api",
            ),
        };
        let mut response = (status, format!("{reason}\n")).into_response();
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests;
