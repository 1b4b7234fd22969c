//! The bounds settings: defaults, layering, and the values refused.

use dkron_model::Ceilings;
use dkron_node::{ExecutionSlots, Overflow};

use crate::config::{Bounds, Config, ConfigError, RawConfig, Value};

fn source(pairs: &[(&str, &str)], origin: &str) -> RawConfig {
    let mut raw = RawConfig::default();
    raw.set("server", Value::Bool(true), origin);
    for (key, value) in pairs {
        raw.set(key, Value::Text((*value).to_owned()), origin);
    }
    raw
}

fn resolve(flags: RawConfig, env: RawConfig, file: RawConfig) -> Result<Config, ConfigError> {
    Config::resolve(flags, env, file, &|| Some("box".to_owned()))
}

#[test]
fn defaults_are_safe_and_documented_values() {
    let config = resolve(
        source(&[], "flag"),
        RawConfig::default(),
        RawConfig::default(),
    )
    .expect("valid");
    assert_eq!(config.bounds, Bounds::default());
    assert_eq!(config.bounds.ceilings, Ceilings::DEFAULT);
    assert_eq!(config.bounds.max_request_bytes, 1 << 20);
    assert_eq!(config.bounds.max_restore_bytes, 64 << 20);
    assert_eq!(config.bounds.max_backfill_fires, 1000);
    assert_eq!(
        config.bounds.execution_slots,
        ExecutionSlots {
            max_concurrent: 1024,
            max_processes: 64,
            queue: 1024,
            overflow: Overflow::Queue
        }
    );
    assert_eq!(config.bounds.max_output_streams, 64);
}

#[test]
fn every_key_is_read_and_flags_win_over_env_and_file() {
    let file = RawConfig::from_file_text(
        "max-history-limit: 500\nmax-retries: 7\nexecution-overflow: fail\nmax-request-bytes: 4096\n",
        "yaml",
        "dkron.yml",
    );
    let env = RawConfig::from_env(
        [
            ("DKRON_MAX_RETRIES", "9"),
            ("DKRON_MAX_OUTPUT_LIMIT", "300000"),
            ("DKRON_EXECUTION_QUEUE", "0"),
            ("DKRON_MAX_OUTPUT_STREAMS", "3"),
            ("DKRON_MAX_BACKFILL_FIRES", "50"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let flags = source(
        &[
            ("max-history-limit", "200"),
            ("max-job-name-length", "64"),
            ("max-restore-bytes", "2048"),
            ("max-concurrent-executions", "1"),
            ("max-concurrent-processes", "2"),
        ],
        "flag",
    );
    let config = resolve(flags, env, file).expect("valid");
    assert_eq!(
        config.bounds,
        Bounds {
            ceilings: Ceilings {
                history_limit: 200,
                output_limit: 300_000,
                retries: 9,
                name_length: 64,
            },
            max_request_bytes: 4096,
            max_restore_bytes: 2048,
            max_backfill_fires: 50,
            execution_slots: ExecutionSlots {
                max_concurrent: 1,
                max_processes: 2,
                queue: 0,
                overflow: Overflow::Fail,
            },
            max_output_streams: 3,
        }
    );
}

#[test]
fn bad_values_are_refused_naming_the_setting() {
    let cases = [
        ("max-concurrent-executions", "0"),
        ("max-concurrent-processes", "0"),
        ("max-output-streams", "0"),
        ("max-history-limit", "0"),
        ("max-request-bytes", "10"),
        ("execution-overflow", "drop"),
        ("max-retries", "-1"),
        ("max-job-name-length", "many"),
        ("max-backfill-fires", "0"),
        ("max-backfill-fires", "1001"),
    ];
    for (key, value) in cases {
        let error = resolve(
            source(&[(key, value)], &format!("flag --{key}")),
            RawConfig::default(),
            RawConfig::default(),
        )
        .expect_err(key);
        assert!(
            error.problems.iter().any(|p| p.contains(key)),
            "{key}: {error}"
        );
    }
}

/// A job without its own limits uses the node defaults, which must not exceed the ceilings.
#[test]
fn ceilings_below_the_per_job_defaults_are_refused() {
    let error = resolve(
        source(
            &[("max-history-limit", "50"), ("max-output-limit", "1000")],
            "flag",
        ),
        RawConfig::default(),
        RawConfig::default(),
    )
    .expect_err("below the defaults");
    assert_eq!(error.problems.len(), 2, "{error}");
    assert!(
        error.problems[0]
            .contains("max-history-limit 50 is below the default history limit of 100")
    );
    assert!(
        error.problems[1]
            .contains("max-output-limit 1000 is below the default output limit of 256000")
    );
}
