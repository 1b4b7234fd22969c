//! Bad bytes on disk give clear errors, never panics: corrupt values, unknown value versions,
//! an unknown format version, data without a version.

use std::path::Path;

use dkron_store::{Error, FORMAT_VERSION, Options, Store};

use crate::support::*;

/// Opens the store's RocksDB directly (this crate is the one allowed to name rocksdb) and puts
/// one raw value.
fn poke(dir: &Path, family: &str, key: &[u8], value: &[u8]) {
    let path = dir.join("rocksdb");
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, families).unwrap();
    let cf = db.cf_handle(family).unwrap();
    db.put_cf(cf, key, value).unwrap();
}

/// A job value that is not JSON makes `open` fail with `Corrupt` naming family and key.
#[test]
fn corrupt_job_value_fails_open_clearly() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    poke(dir.path(), "jobs", b"broken", b"\x01{not json");
    let error = Store::open(dir.path(), Options::default()).unwrap_err();
    let Error::Corrupt { cf, key, .. } = &error else {
        panic!("expected Corrupt, got {error:?}")
    };
    assert_eq!((*cf, key.as_str()), ("jobs", "broken"));
    assert!(
        error
            .to_string()
            .starts_with("corrupt entry in column family `jobs` at key `broken`"),
        "{error}"
    );
}

/// A value with an unknown version byte, or empty, is reported as such.
#[test]
fn unknown_value_version_and_empty_value() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    poke(dir.path(), "jobs", b"future", b"\x07{}");
    let error = Store::open(dir.path(), Options::default()).unwrap_err();
    assert!(
        error.to_string().contains("unknown value version 7"),
        "{error}"
    );
    poke(dir.path(), "jobs", b"future", b"");
    let error = Store::open(dir.path(), Options::default()).unwrap_err();
    assert!(error.to_string().contains("empty value"), "{error}");
}

/// A corrupt execution does not stop the store from opening; reading it is an error.
#[test]
fn corrupt_execution_is_an_error_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = open(dir.path());
        put(&store, job("a"));
        let run = finished(started("a", "n1", 5, 5), 1, true);
        done(&store, run.clone());
        run.id()
    };
    let mut key = b"a\0".to_vec();
    key.extend_from_slice(&((5_000_000_000i128 as u128) ^ (1u128 << 127)).to_be_bytes());
    key.extend_from_slice(b"n1");
    poke(dir.path(), "executions", &key, b"\x01[1,2");
    let store = open(dir.path());
    assert!(matches!(
        store.execution("a", &id),
        Err(Error::Corrupt {
            cf: "executions",
            ..
        })
    ));
    assert!(matches!(
        store.executions("a", None),
        Err(Error::Corrupt { .. })
    ));
    // Other reads still work.
    assert_eq!(store.job("a").unwrap().unwrap().success_count, 1);
}

/// A database of another format version is refused at open with both versions named.
#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    poke(dir.path(), "meta", b"format_version", &99u32.to_be_bytes());
    let error = Store::open(dir.path(), Options::default()).unwrap_err();
    assert!(
        matches!(
            error,
            Error::FormatVersion {
                found: 99,
                expected: FORMAT_VERSION
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("unsupported store format version 99 (this build reads version {FORMAT_VERSION})")
    );
    poke(dir.path(), "meta", b"format_version", b"xx");
    assert!(matches!(
        Store::open(dir.path(), Options::default()),
        Err(Error::Corrupt { cf: "meta", .. })
    ));
}

/// Data without a format version is not guessed at.
#[test]
fn data_without_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rocksdb");
    {
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&options, &path, ["jobs"]).unwrap();
        db.put_cf(db.cf_handle("jobs").unwrap(), b"a", b"\x01{}")
            .unwrap();
    }
    let error = Store::open(dir.path(), Options::default()).unwrap_err();
    assert!(
        matches!(error, Error::FormatVersion { found: 0, .. }),
        "{error:?}"
    );
}
