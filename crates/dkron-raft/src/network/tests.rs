use super::*;

#[test]
fn key_matches_only_itself() {
    let key = ClusterKey::new("s3cret");
    assert!(key.matches(b"s3cret"));
    assert!(!key.matches(b"s3creT"));
    assert!(!key.matches(b"s3cre"));
    assert!(!key.matches(b""));
    assert_eq!(format!("{key:?}"), "ClusterKey(..)");
}

#[test]
fn snapshot_body_round_trips() {
    let body = join_snapshot_body(b"{\"a\":1}", &[0, 1, 2, 255]).expect("small header");
    let (header, data) = split_snapshot_body(&body).expect("well-formed body");
    assert_eq!(header, b"{\"a\":1}");
    assert_eq!(data, &[0, 1, 2, 255]);
}

#[test]
fn truncated_snapshot_body_is_rejected() {
    assert_eq!(split_snapshot_body(&[0, 0]), None);
    assert_eq!(split_snapshot_body(&[0, 0, 0, 9, b'{']), None);
    let empty = join_snapshot_body(b"", b"").expect("empty header");
    assert_eq!(split_snapshot_body(&empty), Some((&b""[..], &b""[..])));
}
