//! Configuration layering and parsing: precedence, file formats, every problem at once.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use crate::config::{Config, ConfigError, LogFormat, LogLevel, RawConfig, Value};

fn host() -> Option<String> {
    Some("box".to_owned())
}

fn flags(pairs: &[(&str, &str)]) -> RawConfig {
    let mut raw = RawConfig::default();
    for (key, value) in pairs {
        raw.set(
            key,
            Value::Text((*value).to_owned()),
            &format!("flag --{key}"),
        );
    }
    raw
}

fn env(pairs: &[(&str, &str)]) -> RawConfig {
    RawConfig::from_env(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

fn resolve(flags: RawConfig, env: RawConfig, file: RawConfig) -> Result<Config, ConfigError> {
    Config::resolve(flags, env, file, &host)
}

fn server() -> RawConfig {
    flags(&[("server", "true"), ("bootstrap-expect", "1")])
}

/// With only `--server --bootstrap-expect 1`, every other key has dkron's default.
#[test]
fn defaults_are_dkrons() {
    let config = resolve(server(), RawConfig::default(), RawConfig::default()).expect("valid");
    assert_eq!(config.node_name, "box");
    assert_eq!(config.data_dir, PathBuf::from("dkron.data"));
    assert_eq!(config.http_addr, SocketAddr::from(([0, 0, 0, 0], 8080)));
    assert_eq!(config.rpc_port, 6868);
    assert_eq!(config.advertise_addr, None);
    assert_eq!(config.log_level, LogLevel::Info);
    assert_eq!(config.log_format, LogFormat::Text);
    assert!(config.ui);
    assert_eq!(
        (config.datacenter.as_str(), config.region.as_str()),
        ("dc1", "global")
    );
    assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
    assert!(config.tags.is_empty());
}

/// Flag beats environment beats file, key by key.
#[test]
fn precedence_is_flag_env_file_default() {
    let file = RawConfig::from_file_text(
        "node-name: from-file\nrpc-port: 1111\nhttp-addr: ':1000'\nlog-level: debug\n",
        "yaml",
        "dkron.yml",
    );
    let env = env(&[("DKRON_RPC_PORT", "2222"), ("DKRON_HTTP_ADDR", ":2000")]);
    let mut flags = server();
    flags.set(
        "http-addr",
        Value::Text("127.0.0.1:3000".to_owned()),
        "flag --http-addr",
    );
    let config = resolve(flags, env, file).expect("valid");
    assert_eq!(config.http_addr, "127.0.0.1:3000".parse().expect("addr"));
    assert_eq!(config.rpc_port, 2222);
    assert_eq!(config.node_name, "from-file");
    assert_eq!(config.log_level, LogLevel::Debug);
}

/// The same settings read the same from YAML, TOML and JSON files, with dkron's key names.
#[test]
fn yaml_toml_and_json_files_agree() {
    let yaml = "server: true\nbootstrap-expect: 1\ndata-dir: /var/lib/dkron\ntags:\n  rack: r1\n  zone: a\nui: false\n";
    let toml = "server = true\nbootstrap-expect = 1\ndata-dir = \"/var/lib/dkron\"\nui = false\n[tags]\nrack = \"r1\"\nzone = \"a\"\n";
    let json = r#"{"server": true, "bootstrap-expect": 1, "data-dir": "/var/lib/dkron", "tags": {"rack": "r1", "zone": "a"}, "ui": false}"#;
    let configs: Vec<Config> = [(yaml, "yml"), (toml, "toml"), (json, "json")]
        .into_iter()
        .map(|(text, format)| {
            let file = RawConfig::from_file_text(text, format, "f");
            resolve(RawConfig::default(), RawConfig::default(), file).expect("valid")
        })
        .collect();
    let tags = BTreeMap::from([
        ("rack".to_owned(), "r1".to_owned()),
        ("zone".to_owned(), "a".to_owned()),
    ]);
    for config in &configs {
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/dkron"));
        assert_eq!(config.tags, tags);
        assert!(!config.ui);
    }
}

/// Every problem of every source is reported at once, each naming where it came from.
#[test]
fn every_problem_is_reported_at_once() {
    let file = RawConfig::from_file_text("http_adr: ':1'\nlog-level: loud\n", "yml", "c.yml");
    let env = env(&[("DKRON_RPC_PORT", "70000")]);
    let flags = flags(&[("bootstrap-expect", "two"), ("join", "10.0.0.1")]);
    let error = resolve(flags, env, file).expect_err("invalid");
    let text = error.to_string();
    for expected in [
        "config file c.yml key http_adr: unknown setting",
        "config file c.yml key log-level: \"loud\" is not a log level",
        "environment variable DKRON_RPC_PORT: 70000 is out of range",
        "flag --bootstrap-expect: \"two\" is not a whole number",
        "flag --join: multi-node clusters are not supported yet",
        "agent-only nodes are not supported yet",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    assert_eq!(text.lines().count(), 1, "one line: {text}");
}

/// Cluster settings are refused from any source; dkron's other settings only warn.
#[test]
fn cluster_keys_refused_other_dkron_keys_warn() {
    let file = RawConfig::from_file_text(
        "retry-join: ['a', 'b']\nmail-host: smtp.example.com\n",
        "yaml",
        "c.yml",
    );
    assert_eq!(file.problems.len(), 1, "{:?}", file.problems);
    assert!(file.problems[0].contains("retry-join"));
    assert_eq!(file.warnings.len(), 1, "{:?}", file.warnings);
    assert!(file.warnings[0].contains("mail-host"));
    let error = resolve(
        server(),
        env(&[("DKRON_ENCRYPT", "k")]),
        RawConfig::default(),
    )
    .expect_err("refused");
    assert!(error.to_string().contains("DKRON_ENCRYPT"), "{error}");
}

/// Values are read as dkron reads them: `:8080`, Go booleans, tags as k=v lists.
#[test]
fn values_parse_like_dkron() {
    let mut raw = flags(&[
        ("server", "T"),
        ("bootstrap-expect", "1"),
        ("http-addr", ":9090"),
        ("ui", "0"),
    ]);
    raw.set(
        "tags",
        Value::List(vec!["a=1".to_owned(), "b=x=y".to_owned()]),
        "flag --tag",
    );
    raw.set(
        "advertise-addr",
        Value::Text("10.1.2.3:8946".to_owned()),
        "flag --advertise-addr",
    );
    raw.set(
        "shutdown-timeout",
        Value::Text("2m".to_owned()),
        "flag --shutdown-timeout",
    );
    raw.set(
        "log-level",
        Value::Text("fatal".to_owned()),
        "flag --log-level",
    );
    let config = resolve(
        raw,
        env(&[("DKRON_TAGS", "c=3, d=4")]),
        RawConfig::default(),
    )
    .expect("valid");
    assert_eq!(config.http_addr, SocketAddr::from(([0, 0, 0, 0], 9090)));
    assert!(!config.ui);
    assert_eq!(config.tags.get("b").map(String::as_str), Some("x=y"));
    assert!(
        !config.tags.contains_key("c"),
        "flags replace env tags, they do not merge"
    );
    assert_eq!(config.advertise_addr.as_deref(), Some("10.1.2.3"));
    assert_eq!(
        config.warnings.len(),
        1,
        "the advertise port is dropped with a warning"
    );
    assert_eq!(config.shutdown_timeout, Duration::from_secs(120));
    assert_eq!(config.log_level, LogLevel::Error);
}

/// Bad values of each kind are refused with a reason.
#[test]
fn bad_values_are_refused() {
    let cases = [
        ("http-addr", "8080"),
        ("http-addr", "nohost:80"),
        ("rpc-port", "-1"),
        ("server", "yes"),
        ("node-name", "has space"),
        ("tags", "novalue"),
        ("tags", "role=x"),
        ("shutdown-timeout", "30"),
        ("log-format", "xml"),
        ("data-dir", ""),
    ];
    for (key, value) in cases {
        let raw = flags(&[(key, value)]);
        assert_eq!(
            raw.problems.len(),
            1,
            "{key}={value:?} should be refused: {raw:?}"
        );
    }
}

/// Unknown `DKRON_*` variables are ignored with a warning; `DKRON_CONFIG` is not a setting.
#[test]
fn unknown_environment_variables_warn() {
    let raw = env(&[
        ("DKRON_SOMETHING", "1"),
        ("DKRON_CONFIG", "x.yml"),
        ("PATH", "/bin"),
    ]);
    assert!(raw.problems.is_empty());
    assert_eq!(raw.warnings.len(), 1, "{:?}", raw.warnings);
}

/// Unparseable and oddly shaped files are problems, with one line each.
#[test]
fn broken_files_are_problems() {
    for (text, format) in [
        ("a: [", "yaml"),
        ("= 1", "toml"),
        ("{", "json"),
        ("- 1\n- 2\n", "yaml"),
        ("x", "ini"),
    ] {
        let raw = RawConfig::from_file_text(text, format, "f");
        assert_eq!(raw.problems.len(), 1, "{text:?} as {format}: {raw:?}");
        assert_eq!(raw.problems[0].lines().count(), 1);
    }
    assert!(
        RawConfig::from_file_text("", "yaml", "f")
            .problems
            .is_empty(),
        "an empty file is fine"
    );
}
