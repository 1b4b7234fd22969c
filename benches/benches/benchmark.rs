//! Entry point of the criterion benchmarks; each area is a module.

fn main() {}
