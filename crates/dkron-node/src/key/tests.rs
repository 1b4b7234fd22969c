//! Cluster key resolution against a real data dir.

use std::os::unix::fs::PermissionsExt;

use super::{CLUSTER_KEY_FILE, read_cluster_key, resolve};
use crate::{Error, NodeConfig};

fn single(dir: &std::path::Path) -> NodeConfig {
    NodeConfig::new("n1", dir)
}

#[test]
fn a_single_server_generates_a_key_once_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = resolve(&single(dir.path())).unwrap();
    let path = dir.path().join(CLUSTER_KEY_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        read_cluster_key(dir.path()).unwrap().as_deref(),
        Some(first.as_str())
    );
    // 16 random bytes in base64.
    assert_eq!(first.len(), 24, "{first}");
    assert_eq!(
        resolve(&single(dir.path())).unwrap(),
        first,
        "a restart reuses it"
    );
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left behind");
}

#[test]
fn a_given_key_wins_and_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let generated = resolve(&single(dir.path())).unwrap();
    let mut config = single(dir.path());
    config.cluster_key = Some("given-key".to_owned());
    assert_eq!(resolve(&config).unwrap(), "given-key");
    assert_ne!(generated, "given-key");
    assert_eq!(
        read_cluster_key(dir.path()).unwrap().as_deref(),
        Some("given-key")
    );
    // Later starts without the flag use it.
    assert_eq!(resolve(&single(dir.path())).unwrap(), "given-key");
}

#[test]
fn joining_servers_and_agents_without_a_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut joining = single(dir.path());
    joining.join = vec!["127.0.0.1:6868".to_owned()];
    let mut forming = single(dir.path());
    forming.bootstrap_expect = 3;
    let mut agent = single(dir.path());
    agent.server = false;
    agent.join = joining.join.clone();
    for config in [joining, forming, agent] {
        let error = resolve(&config).expect_err("refused");
        assert!(matches!(error, Error::NoClusterKey { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("--encrypt"), "{message}");
        assert!(message.contains("dkrond keygen"), "{message}");
        assert!(message.contains(CLUSTER_KEY_FILE), "{message}");
    }
    assert!(
        !dir.path().join(CLUSTER_KEY_FILE).exists(),
        "nothing generated for a node that must share a key"
    );
}

#[test]
fn an_empty_key_file_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(CLUSTER_KEY_FILE), "\n").unwrap();
    let error = resolve(&single(dir.path())).expect_err("refused");
    assert!(error.to_string().contains("is empty"), "{error}");
}
