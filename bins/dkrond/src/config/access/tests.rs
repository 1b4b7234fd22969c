//! API access settings: tokens from every source, the token file, the open switch, and
//! messages that never repeat a token.

use std::{os::unix::fs::PermissionsExt as _, path::Path};

use dkron_api::Access;

use crate::config::{Config, ConfigError, RawConfig, Value};

const READ: &str = "read-secret-0123456789";
const WRITE: &str = "write-secret-0123456789";

fn host() -> Option<String> {
    Some("box".to_owned())
}

fn server() -> RawConfig {
    let mut raw = RawConfig::default();
    raw.set("server", Value::Text("true".to_owned()), "flag --server");
    raw
}

fn resolve(flags: RawConfig, env: RawConfig, file: RawConfig) -> Result<Config, ConfigError> {
    Config::resolve(flags, env, file, &host)
}

fn env(pairs: &[(&str, &str)]) -> RawConfig {
    RawConfig::from_env(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

fn write_token_file(dir: &Path, text: &str, mode: u32) -> String {
    let path = dir.join("tokens");
    std::fs::write(&path, text).expect("write token file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path.display().to_string()
}

/// No token and no switch: protected mode; `insecure-open-api` alone: open.
#[test]
fn default_is_protected() {
    let config = resolve(server(), env(&[]), RawConfig::default()).expect("valid");
    assert_eq!(config.access, Access::Protected);
    let open = env(&[("DKRON_INSECURE_OPEN_API", "true")]);
    let config = resolve(server(), open, RawConfig::default()).expect("valid");
    assert_eq!(config.access, Access::Open);
}

/// Tokens from the flag (repeatable), `DKRON_API_TOKEN` (comma-separated) and the file key
/// `api-tokens` (a list); the first source that sets them wins, as for every key.
#[test]
fn tokens_from_every_source() {
    let mut flags = server();
    flags.set(
        "api-tokens",
        Value::List(vec![format!("read:{READ}"), WRITE.to_owned()]),
        "flag --api-token",
    );
    let config = resolve(flags, env(&[]), RawConfig::default()).expect("valid");
    assert_eq!(config.access.token_counts(), (1, 1));

    let from_env = env(&[("DKRON_API_TOKEN", &format!("read:{READ},write:{WRITE}"))]);
    let config = resolve(server(), from_env, RawConfig::default()).expect("valid");
    assert_eq!(config.access.token_counts(), (1, 1));

    let file = RawConfig::from_file_text(
        &format!("api-tokens:\n  - read:{READ}\n  - read:{WRITE}\n"),
        "yaml",
        "dkron.yml",
    );
    let from_env = env(&[("DKRON_API_TOKEN", WRITE)]);
    let config = resolve(server(), from_env, file.clone()).expect("valid");
    assert_eq!(config.access.token_counts(), (0, 1), "env wins over file");
    let config = resolve(server(), env(&[]), file).expect("valid");
    assert_eq!(config.access.token_counts(), (2, 0));
}

/// A token file: one per line, comments and blank lines ignored, added to `api-tokens`.
#[test]
fn token_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_token_file(
        dir.path(),
        &format!("# ops team\nread:{READ}\n\n  # deploys\nwrite:{WRITE}\n"),
        0o600,
    );
    let mut flags = server();
    flags.set("api-token-file", Value::Text(path), "flag --api-token-file");
    flags.set(
        "api-token",
        Value::List(vec![format!("write:{READ}")]),
        "flag --api-token",
    );
    let config = resolve(flags, env(&[]), RawConfig::default()).expect("valid");
    assert_eq!(config.access.token_counts(), (1, 2));
}

/// A token file others can read, one without tokens, a bad line, a missing file: refused,
/// naming the file and line but never a token.
#[test]
fn bad_token_files_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (format!("write:{WRITE}\n"), 0o644, "chmod 600"),
        (format!("write:{WRITE}\n"), 0o640, "chmod 600"),
        ("# nothing yet\n".to_owned(), 0o600, "holds no API token"),
        (format!("read:{READ}\nwrite:too-short\n"), 0o600, "line 2"),
    ];
    for (text, mode, expected) in cases {
        let path = write_token_file(dir.path(), &text, mode);
        let mut raw = RawConfig::default();
        raw.set("api-token-file", Value::Text(path), "flag --api-token-file");
        let problems = raw.problems.join("\n");
        assert!(problems.contains(expected), "{mode:o} {text:?}: {problems}");
        assert!(!problems.contains(READ) && !problems.contains("too-short"));
    }
    let mut raw = RawConfig::default();
    raw.set(
        "api-token-file",
        Value::Text(dir.path().join("absent").display().to_string()),
        "flag --api-token-file",
    );
    assert_eq!(raw.problems.len(), 1, "{:?}", raw.problems);
}

/// Short, malformed or unknown-role tokens are refused at configuration time, by position.
#[test]
fn bad_tokens_are_refused() {
    for bad in [
        "short-secret",
        "admin:secret-secret-secret",
        "has space secret-secret",
    ] {
        let mut raw = RawConfig::default();
        raw.set(
            "api-tokens",
            Value::List(vec![WRITE.to_owned(), bad.to_owned()]),
            "flag --api-token",
        );
        assert_eq!(raw.problems.len(), 1, "{bad}: {:?}", raw.problems);
        let problem = &raw.problems[0];
        assert!(problem.contains("API token 2"), "{problem}");
        assert!(
            !problem.contains("secret-secret") && !problem.contains(WRITE),
            "{problem}"
        );
    }
}

/// Tokens and `insecure-open-api` together are a contradiction, reported as such.
#[test]
fn tokens_and_open_contradict() {
    let mut flags = server();
    flags.set(
        "api-token",
        Value::List(vec![WRITE.to_owned()]),
        "flag --api-token",
    );
    let open = env(&[("DKRON_INSECURE_OPEN_API", "1")]);
    let error = resolve(flags, open, RawConfig::default()).expect_err("contradiction");
    assert!(error.to_string().contains("insecure-open-api"), "{error}");
}

/// The resolved configuration's `Debug` (what a bug report might paste) shows no token.
#[test]
fn debug_shows_no_token() {
    let mut flags = server();
    flags.set(
        "api-token",
        Value::List(vec![format!("read:{READ}")]),
        "flag --api-token",
    );
    let config = resolve(flags, env(&[]), RawConfig::default()).expect("valid");
    let shown = format!("{config:?}");
    assert!(!shown.contains(READ), "{shown}");
}
