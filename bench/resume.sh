#!/usr/bin/env bash
# What checkpoints cost a scan through the command line (issue 18, `--resume`, docs/scale.md):
# a full-range scan of 127.0.0.1 inside a network namespace of its own (six listeners),
# saved to a SQLite store, as a plain run (no checkpoints), as a named run (checkpoints every
# 2 s, the default) and as a named run checkpointed every 50 ms, in turn, RUNS rounds; wall
# time medians and ratios. Needs root (ip netns) and python3. Nothing leaves the namespace;
# the listener is stopped by PID.
#
#   bench/resume.sh [RUNS]        (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
[ "$(id -u)" -eq 0 ] || { echo "bench/resume.sh needs root" >&2; exit 2; }
cargo build --release --locked -q -p portent
BIN=$PWD/target/release/portent
tmp=$(mktemp -d /tmp/portent-resume-bench.XXXXXX)
ns="presb$$"
pid=""
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" python3 -c '
import socket, select
ls = []
for p in (21, 795, 8080, 31337, 50000, 65535):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", p)); s.listen(64); ls.append(s)
while True:
    r, _, _ = select.select(ls, [], [])
    for s in r:
        c, _ = s.accept(); c.close()
' &
pid=$!
sleep 0.5
run="ip netns exec $ns env PORTENT_DATA_DIR=$tmp/data $BIN scan 127.0.0.1 -p- -q --store sqlite:$tmp/s.sqlite"
# The three forms in turn, RUNS rounds: machine noise falls on all of them alike. A named run
# run again rescans and rewrites its rows (a retry), so every round does the same work.
python3 - "$RUNS" "$run" <<'PY'
import statistics, subprocess, sys, time
runs, base = int(sys.argv[1]), sys.argv[2].split()
forms = [("plain run", []),
         ("named run, checkpoints every 2 s", ["--scan-name", "bench-2s"]),
         ("named run, checkpoints every 50 ms", ["--scan-name", "bench-50ms", "--checkpoint-every", "50ms"])]
times = {name: [] for name, _ in forms}
for _ in range(runs):
    for name, extra in forms:
        t = time.monotonic()
        subprocess.run(base + extra, check=True, stdout=subprocess.DEVNULL)
        times[name].append(time.monotonic() - t)
first = statistics.median(times[forms[0][0]])
print("| form | median (ms) | min (ms) | max (ms) | runs | ratio to plain |")
print("|---|---:|---:|---:|---:|---:|")
for name, _ in forms:
    v = times[name]
    m = statistics.median(v)
    print(f"| {name} | {m*1000:.0f} | {min(v)*1000:.0f} | {max(v)*1000:.0f} | {len(v)} | {m/first:.2f}x |")
PY
