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
//! The web UI (paths under `/ui/`) also takes the token from the [`UI_TOKEN_COOKIE`] that its
//! login form sets, since a browser cannot add a header to a navigation; in token mode its
//! login form, logout and assets are served without one, and a page asked for without a valid
//! token redirects to the login form.
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

    /// The role `token` has in token mode (compared in constant time as every token is), or
    /// `None`: not configured, or no tokens (protected and open mode take no token). The UI's
    /// login form checks a typed token with it.
    pub fn role_of_token(&self, token: &str) -> Option<Role> {
        match self {
            Access::Tokens(tokens) => role_of(tokens, token.trim().as_bytes()),
            Access::Protected | Access::Open => None,
        }
    }

    /// Whether requests need a token ([`Access::Tokens`]).
    pub fn needs_token(&self) -> bool {
        matches!(self, Access::Tokens(_))
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
#[cfg(test)]
pub(crate) fn decide(
    access: &Access,
    method: &Method,
    path: &str,
    peer: Option<IpAddr>,
    authorization: Option<&HeaderValue>,
) -> Result<(), Refusal> {
    admit(access, method, path, peer, authorization.and_then(bearer)).map(|_| ())
}

/// Whether a request to `path` with `method` from `peer` (`None`: unknown) presenting `token`
/// (from `Authorization: Bearer`, or the UI's cookie) may be served, and with which role
/// (`None`: a path open to everyone, served without one).
pub(crate) fn admit(
    access: &Access,
    method: &Method,
    path: &str,
    peer: Option<IpAddr>,
    token: Option<&[u8]>,
) -> Result<Option<Role>, Refusal> {
    if matches!(path, "/health" | "/health/") {
        return Ok(None);
    }
    match access {
        Access::Open => Ok(Some(Role::Write)),
        Access::Protected if peer.is_some_and(is_loopback) => Ok(Some(Role::Write)),
        Access::Protected => Err(Refusal::NotLoopback),
        Access::Tokens(tokens) => {
            // The UI's login form, logout and style sheets must load before a token is known;
            // they read or write nothing of the cluster.
            if is_ui_public(path) {
                return Ok(token.and_then(|t| role_of(tokens, t)));
            }
            let Some(presented) = token else {
                return Err(Refusal::MissingToken);
            };
            match role_of(tokens, presented) {
                None => Err(Refusal::UnknownToken),
                Some(Role::Read) if !matches!(*method, Method::GET | Method::HEAD) => {
                    Err(Refusal::ReadOnly)
                }
                Some(role) => Ok(Some(role)),
            }
        }
    }
}

/// The cookie in which the web UI keeps the token a person typed into `/ui/login` (HttpOnly,
/// SameSite=Strict): browsers cannot add `Authorization` to a navigation. Accepted on the UI's
/// paths only.
pub const UI_TOKEN_COOKIE: &str = "dkron_token";

/// Whether `path` is the web UI's (`/ui`, `/ui/…`), where the token cookie is accepted.
fn is_ui(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The UI paths served without a token in token mode: the login form, logout, static assets.
fn is_ui_public(path: &str) -> bool {
    matches!(path, "/ui/login" | "/ui/logout") || path.starts_with("/ui/assets/")
}

/// The value of the [`UI_TOKEN_COOKIE`] among the request's `Cookie` headers.
fn cookie_token(headers: &axum::http::HeaderMap) -> Option<&[u8]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let value = pair
                .strip_prefix(UI_TOKEN_COOKIE.as_bytes())?
                .strip_prefix(b"=")?;
            (!value.is_empty()).then_some(value)
        })
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

/// The middleware: see the module docs. A request it serves carries the granted [`Role`] as
/// an extension (the UI shows write buttons only for [`Role::Write`]).
pub(crate) async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let path = request.uri().path();
    let headers = request.headers();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(bearer)
        .or_else(|| is_ui(path).then(|| cookie_token(headers)).flatten());
    let decision = admit(&access, request.method(), path, peer, token);
    let refusal = match decision {
        Ok(role) => {
            if let Some(role) = role {
                request.extensions_mut().insert(role);
            }
            return next.run(request).await;
        }
        Err(refusal) => refusal,
    };
    let peer = peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    tracing::debug!(%peer, ?refusal, method = %request.method(), path = %request.uri().path(), "API request refused");
    // A person opening a UI page without a (valid) token is sent to the login form.
    if matches!(refusal, Refusal::MissingToken | Refusal::UnknownToken)
        && is_ui(request.uri().path())
        && matches!(*request.method(), Method::GET | Method::HEAD)
    {
        let login = crate::params::relative_link(request.uri().path(), "/ui/login");
        return (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, login)],
            "API token required: log in\n",
        )
            .into_response();
    }
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
