//! Tests of the http config: headers, timeout, expectations, TLS key pairing.

use std::time::Duration;

use crate::http::{HttpConfig, parse_headers};

fn parse(pairs: &[(&str, &str)]) -> Result<HttpConfig, crate::Error> {
    let mut config: crate::ExecutorConfig = [("method", "GET"), ("url", "http://127.0.0.1:1/")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (key, value) in pairs {
        config.insert((*key).to_owned(), (*value).to_owned());
    }
    HttpConfig::parse(&config)
}

fn bad_key(pairs: &[(&str, &str)]) -> &'static str {
    match parse(pairs) {
        Err(crate::Error::InvalidConfig { key, .. }) => key,
        other => panic!("expected an invalid config, got {other:?}"),
    }
}

/// Only the first `:` separates name and value, so values such as URLs and times survive
/// (dkron truncates them); blank entries are skipped; later entries replace earlier ones.
#[test]
fn headers_split_at_the_first_colon() {
    let headers = parse_headers(
        r#"["Content-Type: application/json", "", "X-Url: http://a:8080/x", "X-Time:12:30", "x-time: 13:45"]"#,
    )
    .expect("valid");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-url"], "http://a:8080/x");
    assert_eq!(headers["x-time"], "13:45");
    assert_eq!(headers.len(), 3);
    assert!(parse_headers("").expect("empty is fine").is_empty());
    assert!(
        parse_headers("null")
            .expect("null is no headers")
            .is_empty()
    );
}

/// Headers that are not a JSON array of `Name: value` strings are rejected.
#[test]
fn bad_headers_are_rejected() {
    for text in [
        r#"{"a": "b"}"#,
        "Content-Type: text/plain",
        r#"["NoColon"]"#,
        r#"["Bad Name: x"]"#,
        r#"["X: a\nb"]"#,
    ] {
        assert_eq!(bad_key(&[("headers", text)]), "headers", "{text}");
    }
}

/// `timeout`: dkron's whole seconds, a Go duration, `0` for none, 30 s by default.
#[test]
fn timeout_values() {
    assert_eq!(
        parse(&[]).expect("valid").timeout,
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse(&[("timeout", "5")]).expect("valid").timeout,
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        parse(&[("timeout", "1500ms")]).expect("valid").timeout,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(parse(&[("timeout", "0")]).expect("valid").timeout, None);
    assert_eq!(bad_key(&[("timeout", "-3")]), "timeout");
    assert_eq!(bad_key(&[("timeout", "soon")]), "timeout");
}

/// `expectCode` is an exact list of codes; `expectBody` a regex; both checked early.
#[test]
fn expectations() {
    let config = parse(&[("expectCode", "200, 201,,204")]).expect("valid");
    assert_eq!(config.expect_codes, Some(vec![200, 201, 204]));
    assert_eq!(parse(&[]).expect("valid").expect_codes, None);
    assert_eq!(bad_key(&[("expectCode", "2xx")]), "expectCode");
    assert_eq!(bad_key(&[("expectCode", "99")]), "expectCode");
    assert_eq!(bad_key(&[("expectCode", ",")]), "expectCode");
    assert!(
        parse(&[("expectBody", "^ok.*$")])
            .expect("valid")
            .expect_body
            .is_some()
    );
    assert_eq!(bad_key(&[("expectBody", "(unclosed")]), "expectBody");
}

/// `method` and `url` are required and must be well-formed; `debug` is any non-empty value.
#[test]
fn method_url_debug() {
    assert_eq!(bad_key(&[("method", "")]), "method");
    assert_eq!(bad_key(&[("method", "GE T")]), "method");
    assert_eq!(bad_key(&[("url", "")]), "url");
    assert_eq!(bad_key(&[("url", "not a url")]), "url");
    assert_eq!(bad_key(&[("url", "ftp://127.0.0.1/")]), "url");
    assert!(parse(&[("debug", "x")]).expect("valid").debug);
    assert!(!parse(&[]).expect("valid").debug);
    assert_eq!(
        parse(&[("method", "PATCH")]).expect("valid").method,
        reqwest::Method::PATCH
    );
}

/// A client certificate needs its key and the reverse; `tlsNoVerifyPeer` is a Go boolean.
#[test]
fn tls_options() {
    assert_eq!(
        bad_key(&[("tlsCertificateFile", "/c.pem")]),
        "tlsCertificateKeyFile"
    );
    assert_eq!(
        bad_key(&[("tlsCertificateKeyFile", "/k.pem")]),
        "tlsCertificateFile"
    );
    assert_eq!(bad_key(&[("tlsNoVerifyPeer", "yes")]), "tlsNoVerifyPeer");
    let config =
        parse(&[("tlsNoVerifyPeer", "true"), ("tlsRootCAsFile", "/ca.pem")]).expect("valid");
    assert!(config.tls.no_verify_peer);
    assert_eq!(
        config.tls.root_cas.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
}
