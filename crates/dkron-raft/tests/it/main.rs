//! Integration tests of dkron-raft: openraft's storage conformance suite against our log store
//! and state machine, and clusters on 127.0.0.1 with real sockets and real RocksDB dirs.

mod cluster;
mod harness;
mod suite;
