//! Integration tests of `dkron-store` against a real RocksDB in temporary directories.

mod bad_input;
mod durability;
mod executions;
mod jobs;
mod launches;
mod listing;
mod parents;
mod policies;
mod raft_log;
mod snapshot;
mod support;
