//! Key encodings sort like the values they encode.

use jiff::{Timestamp, civil::date};

use super::*;

/// Execution keys of one job sort by start time, including before 1970, and stay inside the
/// job's prefix range.
#[test]
fn execution_keys_sort_by_start_time() {
    let times = [-5_000_000_000i64, -1, 0, 1, 1_650_914_821_024_805_435];
    let mut keys: Vec<Vec<u8>> = times
        .iter()
        .map(|&s| {
            execution_key(
                "job",
                &execution_suffix(Timestamp::from_nanosecond(i128::from(s)).unwrap(), "n1"),
            )
        })
        .collect();
    let sorted = keys.clone();
    keys.sort();
    assert_eq!(keys, sorted);
    for key in &keys {
        assert!(
            key.as_slice() >= job_prefix("job").as_slice()
                && key.as_slice() < job_prefix_end("job").as_slice()
        );
        let (job, suffix) = split_job_key(key).unwrap();
        assert_eq!(job, b"job");
        assert_eq!(parse_execution_suffix(suffix).unwrap().1, b"n1");
    }
    // A job whose name extends another's sorts outside the shorter one's range.
    assert!(job_prefix("jobx").as_slice() > job_prefix_end("job").as_slice());
}

/// Stats keys sort chronologically; group keys of one group share its prefix.
#[test]
fn stats_and_group_keys() {
    let days = [
        date(1999, 12, 31),
        date(2000, 1, 1),
        date(2026, 2, 28),
        date(2026, 3, 1),
    ];
    let keys: Vec<[u8; 4]> = days.iter().map(|&d| stats_key(d)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let key = group_key("job", -7, b"suffix");
    assert!(key.starts_with(&group_prefix("job", -7)));
    assert!(group_prefix("job", -7) < group_prefix("job", 3));
}

/// Names that would break the key layout are refused.
#[test]
fn names_with_nul_are_refused() {
    assert!(check_name("ok-name_1").is_ok());
    assert!(matches!(check_name(""), Err(Error::InvalidName { .. })));
    assert!(matches!(check_name("a\0b"), Err(Error::InvalidName { .. })));
}

/// Execution meta round-trips and rejects malformed bytes.
#[test]
fn exec_meta_round_trip() {
    let meta = ExecMeta {
        group: -3,
        attempt: 7,
        finished: true,
        success: false,
    };
    assert_eq!(ExecMeta::decode(b"k", &meta.encode()).unwrap(), meta);
    assert!(matches!(
        ExecMeta::decode(b"k", &[1, 2, 3]),
        Err(Error::Corrupt { .. })
    ));
}
