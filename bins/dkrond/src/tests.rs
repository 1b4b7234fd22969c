//! `load_config`: which config file is read when none is named.

use std::path::PathBuf;

use crate::{cli::AgentArgs, load_config};

fn args() -> AgentArgs {
    AgentArgs {
        server: Some("true".to_owned()),
        bootstrap_expect: Some("1".to_owned()),
        ..AgentArgs::default()
    }
}

fn host() -> Option<String> {
    Some("box".to_owned())
}

/// Without `--config` or `DKRON_CONFIG`, the first `dkron.*` of the search dirs is read; a
/// named file wins over the search, and `--config` over `DKRON_CONFIG`.
#[test]
fn config_file_lookup_order() {
    let root = tempfile::tempdir().expect("temp dir");
    let dirs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|d| root.path().join(d))
        .collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(dirs[1].join("dkron.toml"), "datacenter = \"from-b\"\n").expect("write");
    std::fs::write(dirs[2].join("dkron.yml"), "datacenter: from-c\n").expect("write");
    let named = root.path().join("named.json");
    std::fs::write(&named, r#"{"datacenter": "from-named"}"#).expect("write");
    let env_file = root.path().join("env.yaml");
    std::fs::write(&env_file, "datacenter: from-env\n").expect("write");

    let found = load_config(&args(), Vec::new(), &dirs, &host).expect("valid");
    assert_eq!(found.datacenter, "from-b");

    let vars = vec![("DKRON_CONFIG".to_owned(), env_file.display().to_string())];
    let from_env = load_config(&args(), vars.clone(), &dirs, &host).expect("valid");
    assert_eq!(from_env.datacenter, "from-env");

    let mut with_flag = args();
    with_flag.config = Some(named);
    let from_flag = load_config(&with_flag, vars, &dirs, &host).expect("valid");
    assert_eq!(from_flag.datacenter, "from-named");

    let none = load_config(&args(), Vec::new(), &dirs[..1], &host).expect("valid");
    assert_eq!(none.datacenter, "dc1", "no file found: defaults");
}
