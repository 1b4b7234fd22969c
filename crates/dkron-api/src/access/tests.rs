//! The access decision, without a router: peers, tokens and roles, `/health`.

use std::net::IpAddr;

use axum::http::{HeaderValue, Method};

use crate::access::{
    Access, ApiToken, Refusal, Role, TokenError, admit, cookie_token, decide, is_loopback,
};

const READ: &str = "read-secret-0123456789";
const WRITE: &str = "write-secret-0123456789";

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().expect("an IP"))
}

fn tokens() -> Access {
    Access::with_tokens(vec![
        ApiToken::parse(&format!("read:{READ}")).expect("read token"),
        ApiToken::parse(WRITE).expect("bare token"),
    ])
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}")).expect("header")
}

/// Loopback in every spelling is served in protected mode; anything else, and a request
/// whose peer is unknown, is refused.
#[test]
fn protected_mode_serves_loopback_only() {
    let access = Access::Protected;
    for peer in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        assert_eq!(
            decide(&access, &Method::POST, "/v1/jobs", ip(peer), None),
            Ok(()),
            "{peer}"
        );
    }
    for peer in [
        "10.0.0.2",
        "192.168.1.5",
        "::ffff:10.0.0.2",
        "2001:db8::1",
        "0.0.0.0",
    ] {
        assert_eq!(
            decide(&access, &Method::GET, "/v1/jobs", ip(peer), None),
            Err(Refusal::NotLoopback),
            "{peer}"
        );
    }
    assert_eq!(
        decide(&access, &Method::GET, "/v1/jobs", None, None),
        Err(Refusal::NotLoopback),
        "no peer address: fail closed"
    );
    // A token is no way around protected mode: none is configured.
    assert_eq!(
        decide(
            &access,
            &Method::GET,
            "/v1",
            ip("10.0.0.2"),
            Some(&bearer(WRITE))
        ),
        Err(Refusal::NotLoopback)
    );
}

#[test]
fn loopback_spellings() {
    assert!(is_loopback("::ffff:127.9.9.9".parse().expect("ip")));
    assert!(!is_loopback("::ffff:10.0.0.1".parse().expect("ip")));
    assert!(!is_loopback("::".parse().expect("ip")));
}

/// Open mode serves everyone, known peer or not.
#[test]
fn open_mode_serves_everyone() {
    for peer in [ip("10.0.0.2"), ip("2001:db8::1"), None] {
        assert_eq!(
            decide(&Access::Open, &Method::DELETE, "/v1/jobs/a", peer, None),
            Ok(())
        );
    }
}

/// With tokens: none or a wrong one is 401, from loopback too; a read token reads and may not
/// write; a write token does both.
#[test]
fn tokens_and_roles() {
    let access = tokens();
    let local = ip("127.0.0.1");
    let far = ip("10.0.0.2");
    assert_eq!(
        decide(&access, &Method::GET, "/v1/jobs", local, None),
        Err(Refusal::MissingToken)
    );
    for wrong in [
        bearer("read-secret-012345678"),
        bearer("read-secret-01234567890"),
        bearer(&format!("read:{READ}")),
        bearer(""),
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
        HeaderValue::from_str(READ).expect("header"),
    ] {
        let refused = decide(&access, &Method::GET, "/v1/jobs", far, Some(&wrong));
        assert!(
            matches!(refused, Err(Refusal::MissingToken | Refusal::UnknownToken)),
            "{wrong:?}: {refused:?}"
        );
    }
    for method in [Method::GET, Method::HEAD] {
        assert_eq!(
            decide(&access, &method, "/v1/jobs", far, Some(&bearer(READ))),
            Ok(())
        );
    }
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        assert_eq!(
            decide(&access, &method, "/v1/jobs", local, Some(&bearer(READ))),
            Err(Refusal::ReadOnly),
            "{method}"
        );
        assert_eq!(
            decide(&access, &method, "/v1/jobs", far, Some(&bearer(WRITE))),
            Ok(()),
            "{method}"
        );
    }
    // The scheme is case-insensitive; space around the token is not part of it.
    let lower = HeaderValue::from_str(&format!("bearer  {WRITE} ")).expect("header");
    assert_eq!(
        decide(&access, &Method::POST, "/v1/jobs", None, Some(&lower)),
        Ok(())
    );
}

/// `/health` (and its trailing-slash twin) answers in every mode without a token.
#[test]
fn health_is_open() {
    for access in [Access::Protected, tokens(), Access::Open] {
        for path in ["/health", "/health/"] {
            assert_eq!(
                decide(&access, &Method::GET, path, ip("10.0.0.2"), None),
                Ok(()),
                "{access:?} {path}"
            );
        }
        let other = decide(&access, &Method::GET, "/healthz", ip("10.0.0.2"), None);
        assert_eq!(other.is_ok(), access == Access::Open, "{access:?}");
    }
}

/// Token syntax: `read:`/`write:`/bare; too short, bad characters and unknown roles are
/// refused with messages that do not repeat the token.
#[test]
fn token_syntax() {
    assert_eq!(
        ApiToken::parse(&format!("read:{READ}")).map(|t| t.role()),
        Ok(Role::Read)
    );
    assert_eq!(
        ApiToken::parse(&format!(" write:{READ}\n")).map(|t| t.role()),
        Ok(Role::Write)
    );
    assert_eq!(
        ApiToken::parse("c2VjcmV0LXNlY3JldC0xMjM0NQ==").map(|t| t.role()),
        Ok(Role::Write)
    );
    let cases = [
        ("short-secret-15", TokenError::TooShort { len: 15 }),
        ("read:short-secret-15", TokenError::TooShort { len: 15 }),
        ("", TokenError::BadCharacter),
        ("write:", TokenError::BadCharacter),
        ("with space in the middle", TokenError::BadCharacter),
        ("quote\"quote\"quote\"quote", TokenError::BadCharacter),
        ("=================", TokenError::BadCharacter),
        ("admin:secret-secret-secret", TokenError::UnknownRole),
        ("raed:secret-secret-secret", TokenError::UnknownRole),
    ];
    for (text, expected) in cases {
        let error = ApiToken::parse(text).expect_err(text);
        assert_eq!(error, expected, "{text:?}");
        let secret = text.rsplit(':').next().unwrap_or_default();
        if !secret.is_empty() {
            assert!(!error.to_string().contains(secret), "{error}");
        }
    }
}

/// Neither `Debug` of a token nor of the options shows the secret.
#[test]
fn debug_redacts_tokens() {
    let options = crate::ApiOptions::default().with_access(tokens());
    let shown = format!("{options:?} {:#?}", tokens());
    assert!(!shown.contains(READ) && !shown.contains(WRITE), "{shown}");
    assert!(
        shown.contains("Read") && shown.contains("<redacted>"),
        "{shown}"
    );
}

#[test]
fn modes_and_counts() {
    assert_eq!(Access::with_tokens(Vec::new()), Access::Protected);
    assert_eq!(tokens().token_counts(), (1, 1));
    assert_eq!(Access::Open.token_counts(), (0, 0));
    assert_eq!(Access::default(), Access::Protected);
    // Equal tokens compare equal (config reloads), different secrets or roles do not.
    let a = ApiToken::parse(WRITE).expect("token");
    assert_eq!(
        a,
        ApiToken::parse(&format!("write:{WRITE}")).expect("token")
    );
    assert_ne!(a, ApiToken::parse(&format!("read:{WRITE}")).expect("token"));
    assert_ne!(a, ApiToken::parse(READ).expect("token"));
}

/// The UI's token cookie is found among other cookies and `Cookie` headers; an empty one is
/// none.
#[test]
fn ui_cookie_is_read_from_the_cookie_headers() {
    let mut headers = axum::http::HeaderMap::new();
    assert_eq!(cookie_token(&headers), None);
    headers.append("cookie", HeaderValue::from_static("a=1; dkron_token_x=no"));
    assert_eq!(cookie_token(&headers), None);
    headers.append(
        "cookie",
        HeaderValue::from_static("b=2;  dkron_token=abc ; c=3"),
    );
    assert_eq!(cookie_token(&headers), Some(&b"abc"[..]));
    let mut empty = axum::http::HeaderMap::new();
    empty.append("cookie", HeaderValue::from_static("dkron_token="));
    assert_eq!(cookie_token(&empty), None);
}

/// Token mode: the UI's login, logout and assets are open (with the role of a token, if one
/// comes), every other UI path needs a token; the roles granted are what the UI shows.
#[test]
fn ui_public_paths_and_granted_roles() {
    let access = tokens();
    let far = ip("10.0.0.2");
    for path in ["/ui/login", "/ui/logout", "/ui/assets/app.css"] {
        assert_eq!(
            admit(&access, &Method::POST, path, far, None),
            Ok(None),
            "{path}"
        );
    }
    assert_eq!(
        admit(
            &access,
            &Method::GET,
            "/ui/login",
            far,
            Some(READ.as_bytes())
        ),
        Ok(Some(Role::Read))
    );
    for path in ["/ui/", "/ui", "/ui/jobs", "/ui/assets", "/ui/loginx"] {
        assert_eq!(
            admit(&access, &Method::GET, path, far, None),
            Err(Refusal::MissingToken),
            "{path}"
        );
    }
    assert_eq!(
        admit(
            &access,
            &Method::GET,
            "/ui/jobs",
            far,
            Some(WRITE.as_bytes())
        ),
        Ok(Some(Role::Write))
    );
    // Protected mode grants loopback everything and opens nothing to others.
    assert_eq!(
        admit(
            &Access::Protected,
            &Method::POST,
            "/ui/jobs/new",
            ip("127.0.0.1"),
            None
        ),
        Ok(Some(Role::Write))
    );
    assert_eq!(
        admit(&Access::Protected, &Method::GET, "/ui/login", far, None),
        Err(Refusal::NotLoopback)
    );
    assert_eq!(access.role_of_token(&format!(" {READ} ")), Some(Role::Read));
    assert_eq!(access.role_of_token("nope"), None);
    assert_eq!(Access::Open.role_of_token(WRITE), None);
    assert!(access.needs_token() && !Access::Protected.needs_token());
}
