//! Integration tests of `dkron-api`: the router over an in-memory [`support::FakeCluster`],
//! driven with tower's `oneshot`, plus real sockets on 127.0.0.1 with a real HTTP client.

mod access;
mod contract;
mod executions;
mod jobs;
mod node;
mod parents;
mod policies;
mod socket;
mod support;
