//! `dkron-benches` holds the project's criterion benchmarks (see `benches/benchmark.rs`).
//!
//! The library is empty on purpose: the package exists so that criterion and the peer crates
//! never enter a library crate's dependencies.

#[cfg(any(feature = "store", feature = "api", feature = "ui"))]
pub mod workload;
