#!/usr/bin/env bash
# `portent listening` side by side with ss, netstat and lsof (issue 4), in three scenarios:
#   1. this machine as it is (portent's own network namespace);
#   2. 10,000 listening TCP sockets held by one helper process;
#   3. those plus 10,000 established loopback connections (both ends held: 30,000 sockets).
# Scenarios 2 and 3 run in a network namespace this script creates and deletes: the helper
# binds 127.0.0.1 only, connects only to itself, and every tool is run inside that namespace.
# Bounded: N sockets (default 10000), RUNS runs per command, the helper under `timeout`.
#
# Needs root (namespaces; ss -p/lsof see every process), hyperfine, ss (iproute2), netstat
# (net-tools), lsof, python3, GNU time:
#   apt-get install -y hyperfine net-tools lsof iproute2 python3 time
# Usage: bench/listening.sh [RESULTS_DIR]    (env: N=10000 RUNS=20 WARMUP=3 SCENARIOS="1 2 3")
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
SCENARIOS=${SCENARIOS:-"1 2 3"}
OUT=${1:-target/bench-listening}
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench/listening.sh needs root" >&2; exit 2; }
for t in hyperfine ss netstat lsof python3 ip /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "missing: $t (see the header of this script)" >&2; exit 2; }
done

cargo build --release -q -p portent
BIN=$(pwd)/target/release/portent
HOLDER=$(pwd)/crates/local/tests/fixtures/holder.py
NS="portent-bench-$$"
TMP=$(mktemp -d)
HOLDER_PID=""

cleanup() {
    exec 3>&- 2>/dev/null || true
    if [ -n "$HOLDER_PID" ]; then kill "$HOLDER_PID" 2>/dev/null || true; wait "$HOLDER_PID" 2>/dev/null || true; fi
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# Runs hyperfine on the five commands; $1 = scenario name, rest = prefix (ip netns exec NS).
measure() {
    local name=$1; shift
    echo "== scenario: $name"
    "$@" hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --ignore-failure \
        --export-json "$OUT/$name.json" \
        -n "portent listening" "$BIN listening" \
        -n "ss -tulpn" "ss -tulpn" \
        -n "ss -tlnp" "ss -tlnp" \
        -n "netstat -tulpn" "netstat -tulpn" \
        -n "lsof -nP -iTCP -sTCP:LISTEN" "lsof -nP -iTCP -sTCP:LISTEN" >"$OUT/$name.txt" 2>&1
    # Peak memory (max RSS) of portent, and how many sockets it listed.
    local rss lines
    rss=$("$@" /usr/bin/time -f %M "$BIN" listening 2>&1 >/dev/null | tail -1)
    lines=$("$@" "$BIN" listening --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sockets"]))')
    python3 - "$OUT/$name.json" "$rss" "$lines" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: r["median"] * 1000 for r in data}
base = med["portent listening"]
print(f"  portent listed {sys.argv[3]} sockets; max RSS {int(sys.argv[2]) / 1024:.1f} MiB")
for cmd, ms in med.items():
    ratio = "" if cmd == "portent listening" else f"  ({ms / base:.1f}x portent)"
    print(f"  {cmd:<30} median {ms:8.1f} ms{ratio}")
EOF
}

# Starts the helper in the namespace and waits until it holds everything.
start_holder() {
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    mkfifo "$TMP/in"
    timeout 1800 ip netns exec "$NS" python3 "$HOLDER" --many "$N" --base 20000 "$@" \
        <"$TMP/in" >"$TMP/out" &
    HOLDER_PID=$!
    exec 3>"$TMP/in"
    for _ in $(seq 600); do
        grep -q '^ready' "$TMP/out" 2>/dev/null && return 0
        kill -0 "$HOLDER_PID" 2>/dev/null || { echo "helper failed" >&2; exit 1; }
        sleep 0.1
    done
    echo "helper not ready after 60 s" >&2
    exit 1
}

stop_holder() {
    exec 3>&-
    wait "$HOLDER_PID" || true
    HOLDER_PID=""
    ip netns del "$NS"
    rm -f "$TMP/in" "$TMP/out"
}

echo "host: $(uname -sr), $(nproc) cores; processes: $(ls /proc | grep -c '^[0-9]')"
echo "portent $("$BIN" --version | cut -d' ' -f2); $(ss -V); hyperfine $(hyperfine --version | cut -d' ' -f2)"
for s in $SCENARIOS; do
    case $s in
        1) measure as-is ;;
        2) start_holder; measure "listeners-$N" ip netns exec "$NS"; stop_holder ;;
        3) start_holder --connections; measure "listeners-$N-connections-$N" ip netns exec "$NS"; stop_holder ;;
    esac
done
echo "hyperfine output and JSON: $OUT/"
