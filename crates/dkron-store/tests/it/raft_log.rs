//! The raw Raft log and meta API, and the replicated member list.

use dkron_store::RAFT_LAST_PURGED;

use crate::support::*;

fn entries(range: std::ops::Range<u64>) -> Vec<(u64, Vec<u8>)> {
    range
        .map(|i| (i, format!("entry-{i}").into_bytes()))
        .collect()
}

/// Append, read ranges, last index, truncate a suffix, purge a prefix with its marker.
#[test]
fn append_read_truncate_purge() {
    let (_dir, store) = temp_store();
    assert_eq!(store.raft_last_index().unwrap(), None);
    store.raft_append(&entries(1..11), true).unwrap();
    assert_eq!(store.raft_last_index().unwrap(), Some(10));
    assert_eq!(store.raft_entries(3..6).unwrap(), entries(3..6));
    assert_eq!(store.raft_entries(8..).unwrap(), entries(8..11));
    assert_eq!(store.raft_entries(..=2).unwrap(), entries(1..3));
    assert!(store.raft_entries(6..6).unwrap().is_empty());

    store.raft_truncate_from(7, true).unwrap();
    assert_eq!(
        store.raft_last_entry().unwrap(),
        Some((6, b"entry-6".to_vec()))
    );
    // Overwrite after truncation (a new leader's entries).
    store.raft_append(&[(7, b"new-7".to_vec())], false).unwrap();
    store.sync_wal().unwrap();
    assert_eq!(
        store.raft_entries(7..).unwrap(),
        vec![(7, b"new-7".to_vec())]
    );

    store.raft_purge_to(4, b"log-id-4", true).unwrap();
    assert_eq!(
        store.raft_meta_get(RAFT_LAST_PURGED).unwrap(),
        Some(b"log-id-4".to_vec())
    );
    assert_eq!(
        store.raft_entries(..).unwrap().first().map(|(i, _)| *i),
        Some(5)
    );
    // Purging everything leaves the marker and an empty log.
    store.raft_purge_to(u64::MAX, b"all", false).unwrap();
    assert_eq!(store.raft_last_index().unwrap(), None);
}

/// Meta values round-trip, are replaced and deleted; they survive reopening.
#[test]
fn meta_values() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        assert_eq!(store.raft_meta_get("vote").unwrap(), None);
        store.raft_meta_put("vote", b"term-1", true).unwrap();
        store.raft_meta_put("vote", b"term-2", true).unwrap();
        store.raft_meta_put("committed", b"c", true).unwrap();
        store.raft_meta_delete("committed", true).unwrap();
        store.raft_append(&entries(1..4), true).unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store.raft_meta_get("vote").unwrap(),
        Some(b"term-2".to_vec())
    );
    assert_eq!(store.raft_meta_get("committed").unwrap(), None);
    assert_eq!(store.raft_entries(..).unwrap(), entries(1..4));
}

/// Members are replicated state: set, replace, remove (idempotent), list in name order.
#[test]
fn members_round_trip() {
    use dkron_model::{Member, MemberStatus};
    use dkron_store::Apply;
    let (_dir, store) = temp_store();
    let member = |name: &str, status| Member {
        name: name.into(),
        status,
        server: true,
        ..Member::default()
    };
    store
        .set_member(&member("b", MemberStatus::Alive), &Apply::local())
        .unwrap();
    store
        .set_member(&member("a", MemberStatus::Alive), &Apply::local())
        .unwrap();
    store
        .set_member(&member("b", MemberStatus::Failed), &Apply::durable())
        .unwrap();
    assert_eq!(
        store.members().unwrap(),
        vec![
            member("a", MemberStatus::Alive),
            member("b", MemberStatus::Failed)
        ]
    );
    assert_eq!(
        store.remove_member("a", &Apply::local()).unwrap(),
        Some(member("a", MemberStatus::Alive))
    );
    assert_eq!(store.remove_member("a", &Apply::local()).unwrap(), None);
    assert_eq!(
        store.member("b").unwrap().map(|m| m.status),
        Some(MemberStatus::Failed)
    );
}
