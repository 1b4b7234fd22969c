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
    assert_eq!(config.dispatch_lead, Duration::from_millis(500));
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
        "flag --join: \"10.0.0.1\" is not a host:port address",
        "an agent (no --server) needs the servers to join",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    assert_eq!(text.lines().count(), 1, "one line: {text}");
}

/// dkron settings without an effect in dkron-rs (statsd, Serf tuning) only warn; a bad
/// cluster key is refused from any source, naming the source but never the key.
#[test]
fn inert_dkron_keys_warn_and_bad_keys_are_refused() {
    let file = RawConfig::from_file_text(
        "retry-join: ['10.0.0.1:6868']\nstatsd-addr: 127.0.0.1:8125\nprofile: wan\n",
        "yaml",
        "c.yml",
    );
    assert!(file.problems.is_empty(), "{:?}", file.problems);
    assert_eq!(file.warnings.len(), 2, "{:?}", file.warnings);
    assert!(file.warnings[0].contains("statsd-addr"));
    let error = resolve(
        server(),
        env(&[("DKRON_ENCRYPT", "not-a-secret-key")]),
        RawConfig::default(),
    )
    .expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("environment variable DKRON_ENCRYPT"),
        "{text}"
    );
    assert!(text.contains("dkrond keygen"), "{text}");
    assert!(
        !text.contains("not-a-secret-key"),
        "the key is not echoed: {text}"
    );
}

/// Cluster settings map to the config: join and retry-join addresses (retry-join appended and
/// turning retries on), retry interval and max, the key, bind-addr and advertise-rpc-port;
/// bootstrap-expect above 1 is accepted.
#[test]
fn cluster_settings_are_read() {
    let key = crate::keygen().expect("a key");
    let mut raw = flags(&[
        ("server", "true"),
        ("bootstrap-expect", "3"),
        ("retry-interval", "1m30s"),
        ("retry-max", "5"),
        ("encrypt", &key),
        ("bind-addr", "0.0.0.0"),
        ("advertise-rpc-port", "7000"),
    ]);
    raw.set(
        "join",
        Value::List(vec!["10.0.0.1:6868".to_owned(), "node-b:6868".to_owned()]),
        "flag --join",
    );
    raw.set(
        "retry-join",
        Value::List(vec!["[fd00::3]:6868".to_owned()]),
        "flag --retry-join",
    );
    let config = resolve(raw, RawConfig::default(), RawConfig::default()).expect("valid");
    assert_eq!(config.bootstrap_expect, 3);
    assert_eq!(
        config.join,
        ["10.0.0.1:6868", "node-b:6868", "[fd00::3]:6868"]
    );
    assert!(config.retry_join);
    assert_eq!(config.retry_interval, Duration::from_secs(90));
    assert_eq!(config.retry_max, 5);
    assert_eq!(config.cluster_key.as_deref(), Some(key.as_str()));
    assert_eq!(config.rpc_bind_ip, Some("0.0.0.0".parse().expect("ip")));
    assert_eq!(
        config.rpc_port, 6868,
        "bind-addr without a port keeps rpc-port"
    );
    assert_eq!(config.advertise_rpc_port, Some(7000));

    let defaults = resolve(server(), RawConfig::default(), RawConfig::default()).expect("valid");
    assert!(defaults.join.is_empty() && !defaults.retry_join);
    assert_eq!(defaults.retry_interval, Duration::from_secs(30));
    assert_eq!(defaults.retry_max, 0);
    assert_eq!(defaults.cluster_key, None);
    assert_eq!(
        defaults.rpc_bind_ip, None,
        "peer RPC stays on loopback by default"
    );

    let joined_only = resolve(
        flags(&[("server", "true"), ("join", "10.0.0.1:6868,10.0.0.2:6868")]),
        env(&[("DKRON_RETRY_JOIN", "")]),
        RawConfig::default(),
    )
    .expect("valid");
    assert_eq!(joined_only.join.len(), 2, "comma-separated text is a list");
    assert!(
        !joined_only.retry_join,
        "an empty DKRON_RETRY_JOIN names nobody to retry"
    );
}

/// bind-addr's port is where peer RPC listens; a different rpc-port loses, with a warning;
/// every interface without advertise-addr is warned about (peers would be told loopback).
#[test]
fn bind_addr_port_wins_over_rpc_port() {
    let config = resolve(
        flags(&[
            ("server", "true"),
            ("bind-addr", "10.1.2.3:8946"),
            ("rpc-port", "6868"),
        ]),
        RawConfig::default(),
        RawConfig::default(),
    )
    .expect("valid");
    assert_eq!(config.rpc_bind_ip, Some("10.1.2.3".parse().expect("ip")));
    assert_eq!(config.rpc_port, 8946);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].contains("8946"));
    let all = resolve(
        flags(&[("server", "true"), ("bind-addr", ":7000")]),
        RawConfig::default(),
        RawConfig::default(),
    )
    .expect("valid");
    assert_eq!(all.rpc_bind_ip, Some("0.0.0.0".parse().expect("ip")));
    assert_eq!(all.rpc_port, 7000);
    assert_eq!(all.warnings.len(), 1, "{:?}", all.warnings);
    assert!(
        all.warnings[0].contains("--advertise-addr"),
        "every interface without an advertised address: {:?}",
        all.warnings
    );
    let advertised = resolve(
        flags(&[
            ("server", "true"),
            ("bind-addr", "0.0.0.0"),
            ("advertise-addr", "10.0.0.5"),
        ]),
        RawConfig::default(),
        RawConfig::default(),
    )
    .expect("valid");
    assert!(advertised.warnings.is_empty(), "{:?}", advertised.warnings);
}

/// Keys of dkron's format (keygen's 16 bytes, and 24 or 32) are accepted; other lengths and
/// text that is not base64 are refused.
#[test]
fn cluster_keys_must_be_base64_of_16_24_or_32_bytes() {
    use base64::Engine as _;
    let encode = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
    for n in [16, 24, 32] {
        assert!(
            crate::config::check_cluster_key(&encode(n)).is_ok(),
            "{n} bytes"
        );
    }
    let keygen = crate::keygen().expect("a key");
    assert!(crate::config::check_cluster_key(&keygen).is_ok());
    for bad in [
        encode(8),
        encode(31),
        "not base64!".to_owned(),
        String::new(),
    ] {
        let reason = crate::config::check_cluster_key(&bad).expect_err("refused");
        assert!(reason.contains("dkrond keygen"), "{reason}");
    }
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
    raw.set(
        "failure-timeout",
        Value::Text("12s".to_owned()),
        "flag --failure-timeout",
    );
    raw.set(
        "misfire-threshold",
        Value::Text("1500ms".to_owned()),
        "flag --misfire-threshold",
    );
    raw.set(
        "dispatch-lead",
        Value::Text("0s".to_owned()),
        "flag --dispatch-lead",
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
    assert_eq!(config.failure_timeout, Duration::from_secs(12));
    assert_eq!(config.misfire_threshold, Duration::from_millis(1500));
    assert_eq!(config.dispatch_lead, Duration::ZERO);
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
        ("failure-timeout", "1s"),
        ("cors-origins", "ui.example.com"),
        ("cors-origins", "https://ui.example.com/path"),
        ("failure-timeout", "soon"),
        ("misfire-threshold", "0s"),
        ("misfire-threshold", "5"),
        ("dispatch-lead", "6s"),
        ("dispatch-lead", "-1s"),
        ("log-format", "xml"),
        ("data-dir", ""),
        ("join", "10.0.0.1"),
        ("join", "provider=aws tag_key=dkron"),
        ("join", "10.0.0.1:0"),
        ("retry-join", ":6868"),
        ("retry-join", "fd00::3:6868"),
        ("retry-interval", "30"),
        ("retry-interval", "0s"),
        ("retry-max", "-1"),
        ("encrypt", "short"),
        ("bind-addr", "eth0"),
        ("bind-addr", "10.0.0.1:port"),
        ("advertise-rpc-port", "0"),
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

/// `cors-origins` takes web origins, as a list or comma-separated.
#[test]
fn cors_origins_are_web_origins() {
    let flags = flags(&[
        ("server", "true"),
        (
            "cors-origins",
            "https://ui.example.com, http://10.0.0.5:8080",
        ),
    ]);
    let config = resolve(flags, env(&[]), RawConfig::default()).expect("valid");
    assert_eq!(
        config.cors_origins,
        ["https://ui.example.com", "http://10.0.0.5:8080"]
    );
}

/// `raft-multiplier` (dkron's 1..=10, default 1) from any source; out of range or not a number
/// is a problem naming the source, and a file value loses to a flag.
#[test]
fn raft_multiplier_is_read_and_bounded() {
    let defaults = resolve(server(), RawConfig::default(), RawConfig::default()).expect("valid");
    assert_eq!(defaults.raft_multiplier, 1);
    let file = RawConfig::from_file_text("raft-multiplier: 5\n", "yaml", "c.yml");
    assert!(
        file.warnings.is_empty(),
        "no longer inert: {:?}",
        file.warnings
    );
    let from_file = resolve(server(), RawConfig::default(), file.clone()).expect("valid");
    assert_eq!(from_file.raft_multiplier, 5);
    let mut flagged = server();
    flagged.set(
        "raft-multiplier",
        Value::Text("10".to_owned()),
        "--raft-multiplier",
    );
    let from_env = env(&[("DKRON_RAFT_MULTIPLIER", "3")]);
    assert_eq!(
        resolve(flagged, from_env.clone(), file.clone())
            .expect("valid")
            .raft_multiplier,
        10
    );
    assert_eq!(
        resolve(server(), from_env, file)
            .expect("valid")
            .raft_multiplier,
        3
    );
    for bad in ["0", "11", "-1", "two"] {
        let raw = flags(&[("raft-multiplier", bad)]);
        assert_eq!(raw.problems.len(), 1, "{bad}: {:?}", raw.problems);
        assert!(
            raw.problems[0].contains("raft-multiplier"),
            "{:?}",
            raw.problems
        );
        assert_eq!(raw.raft_multiplier, None, "{bad}");
    }
    let mut too_big = server();
    too_big.set("raft-multiplier", Value::Int(11), "flag --raft-multiplier");
    let error = resolve(too_big, env(&[]), RawConfig::default()).expect_err("refused");
    assert!(error.to_string().contains("1..=10"), "{error}");
}

/// Connection bounds and TLS files: defaults, values from any source, and the TLS files that
/// must come together.
#[test]
fn serving_bounds_and_tls_files_are_read() {
    let defaults = resolve(server(), RawConfig::default(), RawConfig::default()).expect("valid");
    assert_eq!(defaults.max_connections, 1024);
    assert_eq!(defaults.http_header_timeout, Duration::from_secs(10));
    assert_eq!(defaults.http_request_timeout, Duration::from_secs(60));
    assert_eq!(
        (defaults.api_tls.clone(), defaults.rpc_tls.clone()),
        (None, None)
    );

    let config = resolve(
        flags(&[
            ("server", "true"),
            ("max-connections", "2"),
            ("http-request-timeout", "2m"),
            ("api-tls-cert", "/etc/dkron/api.pem"),
            ("api-tls-key", "/etc/dkron/api-key.pem"),
        ]),
        env(&[
            ("DKRON_HTTP_HEADER_TIMEOUT", "500ms"),
            ("DKRON_RPC_TLS_CERT", "rpc.pem"),
            ("DKRON_RPC_TLS_KEY", "rpc-key.pem"),
            ("DKRON_RPC_TLS_CA", "ca.pem"),
        ]),
        RawConfig::default(),
    )
    .expect("valid");
    assert_eq!(config.max_connections, 2);
    assert_eq!(config.http_header_timeout, Duration::from_millis(500));
    assert_eq!(config.http_request_timeout, Duration::from_secs(120));
    let api = config.api_tls.expect("api tls");
    assert_eq!(api.cert, PathBuf::from("/etc/dkron/api.pem"));
    assert_eq!(api.ca, None);
    let rpc = config.rpc_tls.expect("rpc tls");
    assert_eq!(rpc.ca, Some(PathBuf::from("ca.pem")));

    for bad in [
        ("max-connections", "0"),
        ("http-header-timeout", "0s"),
        ("http-request-timeout", "soon"),
    ] {
        assert_eq!(flags(&[bad]).problems.len(), 1, "{bad:?}");
    }
    let halves = [
        vec![("api-tls-cert", "a.pem")],
        vec![("rpc-tls-cert", "a.pem"), ("rpc-tls-key", "k.pem")],
        vec![("rpc-tls-ca", "ca.pem")],
    ];
    for half in halves {
        let mut pairs = vec![("server", "true")];
        pairs.extend(half.iter().copied());
        let error = resolve(flags(&pairs), RawConfig::default(), RawConfig::default())
            .expect_err("refused");
        assert!(error.to_string().contains("go together"), "{error}");
    }
}
