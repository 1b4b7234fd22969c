//! Tests of the executor registry.

use std::collections::BTreeMap;

use crate::{Error, ExecutorRegistry};

/// The defaults are `http` and `shell`; an unknown name is an error at lookup and validation.
#[test]
fn registry_knows_its_executors() {
    let registry = ExecutorRegistry::with_defaults();
    assert_eq!(registry.names().collect::<Vec<_>>(), ["http", "shell"]);
    assert_eq!(registry.get("shell").expect("shell").name(), "shell");
    let config = BTreeMap::new();
    match registry.validate("docker", &config) {
        Err(Error::UnknownExecutor { name }) => assert_eq!(name, "docker"),
        other => panic!("expected UnknownExecutor, got {other:?}"),
    }
    assert_eq!(
        Error::UnknownExecutor {
            name: "docker".to_owned()
        }
        .to_string(),
        "unknown executor `docker`"
    );
}

/// Validation reaches the executor's own rules.
#[test]
fn registry_validates_configs() {
    let registry = ExecutorRegistry::with_defaults();
    let mut config = BTreeMap::new();
    assert!(matches!(
        registry.validate("shell", &config),
        Err(Error::InvalidConfig { key: "command", .. })
    ));
    config.insert("command".to_owned(), "echo hi".to_owned());
    registry
        .validate("shell", &config)
        .expect("valid shell config");
    assert!(matches!(
        registry.validate("http", &config),
        Err(Error::InvalidConfig { key: "method", .. })
    ));
}

/// A node bounds processes apart from requests: the built-in executors say which they are.
#[test]
fn shell_runs_processes_and_http_does_not() {
    let registry = ExecutorRegistry::with_defaults();
    assert!(registry.get("shell").expect("shell").runs_processes());
    assert!(!registry.get("http").expect("http").runs_processes());
}
