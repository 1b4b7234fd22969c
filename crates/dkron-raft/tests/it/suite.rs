//! openraft's own storage conformance suite (`openraft::testing::Suite`) against [`LogStore`]
//! and [`StateMachine`] on a real store in a temp dir.

use dkron_raft::{LogStore, NodeId, StateMachine, TypeConfig};
use dkron_store::{Options, Store};
use openraft::{
    ErrorSubject, ErrorVerb, StorageError,
    testing::{StoreBuilder, Suite},
};
use tempfile::TempDir;

struct Builder;

fn setup_error(error: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageError::from_io_error(
        ErrorSubject::Store,
        ErrorVerb::Write,
        std::io::Error::other(error.to_string()),
    )
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().map_err(setup_error)?;
        let store =
            Store::open(&dir.path().join("store"), Options::default()).map_err(setup_error)?;
        let log = LogStore::new(store.clone()).map_err(setup_error)?;
        let state_machine =
            StateMachine::open(store, &dir.path().join("snapshots")).map_err(setup_error)?;
        Ok((dir, log, state_machine))
    }
}

/// Every case of openraft's storage suite passes against our log store and state machine.
#[test]
fn openraft_storage_suite_passes() {
    Suite::test_all(Builder).expect("every test of openraft's storage suite passes");
}
