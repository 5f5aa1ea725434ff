#!/usr/bin/env bash
# portent's memory, measured:
#  1. the cost of saving a full-range scan: `scan` with and without --no-save, side by side,
#     on the loopback of a throwaway network namespace with a few listeners;
#  2. `diff` of two stored runs of 4,096 hosts x 1,000 ports (20 open per host) and
#     `history HOST` with 1,000 runs stored, written through the store's API
#     (crates/store/examples/store_bench.rs), on SQLite.
# Needs root (ip netns), hyperfine and python3. Usage: bench/store.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
cargo build --release --locked -q -p portent
cargo build --release --locked -q -p portent-store --example store_bench
BIN=$PWD/target/release/portent
NS="portent-store-bench-$$"
DATA=$(mktemp -d)
ip netns add "$NS"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$DATA"
}
trap cleanup EXIT
ip netns exec "$NS" ip link set lo up
for port in 22 80 443 797 8080; do
    ip netns exec "$NS" python3 -c "
import socket
s=socket.socket(); s.bind(('127.0.0.1',$port)); s.listen(64)
while True:
    c,_=s.accept(); c.close()" &
    pids+=($!)
done
sleep 0.5
echo "== full-range scan of a namespace loopback, saved vs --no-save ($RUNS runs each)"
PORTENT_DATA_DIR=$DATA hyperfine -N -w 2 -r "$RUNS" \
    "ip netns exec $NS $BIN scan 127.0.0.1 --json" \
    "ip netns exec $NS $BIN scan 127.0.0.1 --json --no-save"
echo "== store API on SQLite: save, diff, history"
rm -f "$DATA"/bench.sqlite*
target/release/examples/store_bench "sqlite:$DATA/bench.sqlite" 4096 1000 20 1000
