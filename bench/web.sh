#!/usr/bin/env bash
# `portent serve` under load (issue 7): the port page /ports/{random port} and the JSON API
# /api/ports/{random port}, loaded with wrk on loopback for a bounded time each, with the
# server's resident memory sampled before, during and after. Goal on the 2-core machine:
# >= 20,000 requests/s for the port page with p99 < 5 ms, and memory flat.
#
# Traffic goes only to 127.0.0.1. Bounded: DURATION seconds per run, CONNS connections.
# The server is started by this script and stopped by its pid.
#
# Needs: wrk (Debian: apt-get install -y wrk).
# Usage: bench/web.sh [RESULTS_DIR]   (env: DURATION=10 CONNS=32 THREADS=1 PORT=17971)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
PORT=${PORT:-17971}
OUT=${1:-target/bench-web}
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "missing: wrk (apt-get install -y wrk)" >&2; exit 2; }

cargo build --release -q -p portent
BIN=$PWD/target/release/portent
DATA=$(mktemp -d)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$DATA"
}
trap cleanup EXIT

PORTENT_DATA_DIR=$DATA "$BIN" serve --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
PID=$!
for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/ports/797" 2>/dev/null && break
    sleep 0.1
done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }

# A random port per request (math.random is seeded per wrk thread).
cat >"$OUT/page.lua" <<'LUA'
math.randomseed(os.time())
request = function() return wrk.format("GET", "/ports/" .. math.random(0, 65535)) end
LUA
sed 's#"/ports/"#"/api/ports/"#' "$OUT/page.lua" >"$OUT/api.lua"

echo "rss_kb start $(rss)" | tee "$OUT/memory.txt"
# Warm-up, then the measured runs; memory sampled once a second during each.
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$OUT/page.lua" "http://127.0.0.1:$PORT" >/dev/null
echo "rss_kb after_warmup $(rss)" | tee -a "$OUT/memory.txt"
for kind in page api; do
    ( for _ in $(seq "$DURATION"); do sleep 1; echo "rss_kb during_$kind $(rss)"; done ) >>"$OUT/memory.txt" &
    sampler=$!
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$OUT/$kind.lua" \
        "http://127.0.0.1:$PORT" | tee "$OUT/$kind.txt"
    wait "$sampler"
done
echo "rss_kb end $(rss)" | tee -a "$OUT/memory.txt"
awk '$1 == "rss_kb" {print $3}' "$OUT/memory.txt" | sort -n | sed -n '1p;$p' | paste -sd' ' | \
    awk '{print "rss_kb min/max over the run: " $1 " / " $2}' | tee -a "$OUT/memory.txt"
