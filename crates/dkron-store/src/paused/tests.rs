use crate::{
    Apply, Options, RaftApplied, Store,
    keys::{Cf, MetaKey, PausedKey},
};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Options::default()).expect("store opens")
}

fn export(store: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    store.export_snapshot(&mut out).expect("export");
    out
}

/// Set and read back, through a reopen: the flag is stored state, not memory.
#[test]
fn paused_flag_is_set_read_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    assert!(!store.paused().expect("read"), "never set means not paused");
    let apply = Apply::raft(
        RaftApplied {
            index: 7,
            bytes: b"pos".to_vec(),
        },
        true,
    );
    store.set_paused(true, &apply).expect("pause");
    assert!(store.paused().expect("read"));
    assert_eq!(
        store.applied().expect("applied").map(|a| a.index),
        Some(7),
        "the position is written with the flag"
    );
    drop(store);
    let store = open(dir.path());
    assert!(store.paused().expect("read after reopen"));
    store.set_paused(false, &Apply::local()).expect("unpause");
    assert!(!store.paused().expect("read"));
}

/// A snapshot carries the flag both ways: a paused state installs as paused, and an unpaused
/// (or never paused) state clears a paused replica.
#[test]
fn snapshots_carry_the_paused_flag() {
    let dirs = [(); 3].map(|()| tempfile::tempdir().expect("temp dir"));
    let [paused, fresh, replica] = dirs.each_ref().map(|d| open(d.path()));
    paused.set_paused(true, &Apply::local()).expect("pause");

    replica
        .import_snapshot(&mut export(&paused).as_slice())
        .expect("import paused state");
    assert!(replica.paused().expect("read"));

    replica
        .import_snapshot(&mut export(&fresh).as_slice())
        .expect("import never-paused state");
    assert!(!replica.paused().expect("read"));
}

/// A stored flag that is not one byte 0 or 1 reads as corrupt, never as a guess or a panic.
#[test]
fn a_corrupt_flag_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    for bad in [&[2u8][..], &[], &[1, 1]] {
        store
            .db()
            .put_cf(store.cf(Cf::Meta), PausedKey::KEY, bad)
            .expect("raw write");
        assert!(
            matches!(store.paused(), Err(crate::Error::Corrupt { .. })),
            "{bad:?} must be refused"
        );
    }
}
