# A thin menu over cargo. `just --list` shows the recipes.

# Run a single server on the embedded default (REST API on :8080, data in ./dkron.data).
run:
    cargo run --release -p dkrond -- agent --server --bootstrap-expect 1

# Run the tests exactly as CI does (the README's test command).
test:
    cargo test

# Formatting, lints and docs, as CI checks them.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Benchmarks of one area (cron, executor, store, scheduler, api, ui, ui-browser, ...); results go to docs/benchmarks.md.
bench AREA="cron" *ARGS:
    cargo bench -p dkron-benches --features {{AREA}} --bench {{AREA}} -- {{ARGS}}

# Three servers on 127.0.0.1 (APIs on :8081-:8083) forming one cluster; Ctrl-C stops them.
cluster:
    bash examples/three-node-cluster/run.sh

# Fuzz one target (schedule, job_json, raft_rpc, node_rpc) for SECONDS (0: until Ctrl-C or a
# crash), growing a corpus kept in the fuzz target dir; see fuzz/README.md.
fuzz TARGET SECONDS="0":
    DKRON_FUZZ_KEEP=1 bash .ci/fuzz {{SECONDS}} {{TARGET}}

# Everything CI runs, from a clean state of mind.
ci:
    bash .ci/run
