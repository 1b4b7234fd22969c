#!/usr/bin/env bash
# A three-server dkron-rs cluster on 127.0.0.1, started with one command:
#
#   bash examples/three-node-cluster/run.sh        (or: just cluster)
#
# Servers s1, s2, s3: REST API on 127.0.0.1:8081/8082/8083, peer RPC on 127.0.0.1:6871/6872/6873,
# data in ./cluster.data/<name> (kept across runs; delete it to start afresh). They form the
# cluster with --bootstrap-expect 3 and --join, as on three machines. Ctrl-C stops all three.
#
# Try, from another terminal:
#   curl -s localhost:8082/v1/members | jq '.[] | {Name, statusText}'
#   curl -s localhost:8083/v1/leader | jq .Name
#   curl -s -X POST localhost:8083/v1/jobs -d '{"name":"hello","schedule":"@every 2s","executor":"shell","executor_config":{"command":"echo hello"}}'
#   curl -s localhost:8081/v1/jobs/hello/executions | jq '.[0]'
# then kill the leader's process (its pid is printed) and watch another server take over.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -p dkrond
bin=target/release/dkrond
[ -n "${CARGO_TARGET_DIR:-}" ] && bin="$CARGO_TARGET_DIR/release/dkrond"
mkdir -p cluster.data
# Servers forming a cluster share one cluster key (peer RPC refuses any request without it):
# made once, kept with the data (delete cluster.data to start afresh).
[ -s cluster.data/cluster.key ] || "$bin" keygen >cluster.data/cluster.key
key=$(cat cluster.data/cluster.key)

pids=()
stop() {
  echo "stopping the cluster"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop EXIT INT TERM

# --retry-join: the servers start in any order and keep trying until all three answer.
join=(--retry-join 127.0.0.1:6871 --retry-join 127.0.0.1:6872 --retry-join 127.0.0.1:6873)
for i in 1 2 3; do
  "$bin" agent --server --node-name "s$i" --bootstrap-expect 3 "${join[@]}" \
    --retry-interval 2s --data-dir "cluster.data/s$i" --encrypt "$key" \
    --http-addr "127.0.0.1:808$i" --rpc-port "687$i" \
    >"cluster.data/s$i.log" 2>&1 &
  pids+=("$!")
  echo "s$i: pid $!, API http://127.0.0.1:808$i, log cluster.data/s$i.log"
done

for _ in $(seq 1 120); do
  if curl -sf 127.0.0.1:8081/v1/leader >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a server exited; its log:" >&2
      tail -n 5 cluster.data/s*.log >&2
      exit 1
    fi
  done
  sleep 0.5
done
echo "members:"
curl -s 127.0.0.1:8081/v1/members | tr ',' '\n' | grep -E '"Name"|"statusText"' | paste - - || true
echo "leader: $(curl -s 127.0.0.1:8081/v1/leader | tr ',' '\n' | grep '"Name"' || echo none)"
echo "running; Ctrl-C stops the cluster"
wait
