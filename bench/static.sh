#!/usr/bin/env bash
# The static (musl) build beside the glibc build: size, `portent listening` max RSS, and a
# full-range TCP scan of 127.0.0.1 in a network namespace made here (its own empty loopback),
# the two binaries alternating run by run. Prints a Markdown table of medians (docs/shipping.md
# has the results). Bounded: RUNS runs of each (default 10), each scan 65,535 ports of a
# loopback with nothing listening, under `timeout 60`.
#
# Needs root (the namespace), python3 and GNU time (apt-get install -y time). Builds both
# binaries with the release profile first (scripts/static.sh for the static one).
# Usage: bench/static.sh            (env: RUNS=10)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
[ "$(id -u)" -eq 0 ] || { echo "bench/static.sh needs root" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "missing: /usr/bin/time (apt-get install -y time)" >&2; exit 2; }

cargo build --release --locked -q -p portent
gnu=$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/portent
musl=$(./scripts/static.sh | tail -n 1)

ns=portent-bench-static-$$
out=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$out"' EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

for _ in $(seq "$RUNS"); do
    for b in gnu musl; do
        bin=${!b}
        /usr/bin/time -f "$b scan %e %M" -a -o "$out/times" \
            timeout 60 ip netns exec "$ns" "$bin" scan 127.0.0.1 -p- >/dev/null
        /usr/bin/time -f "$b listening %e %M" -a -o "$out/times" "$bin" listening >/dev/null
    done
done
python3 - "$out/times" "$gnu" "$musl" <<'PY'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    b, what, secs, kb = line.split()
    rows.setdefault((b, what), []).append((float(secs), int(kb)))
print(f"load average during the run: {os.getloadavg()[0]:.1f}")
print("| build | size (MiB) | scan median (s) | scan min-max (s) | scan max RSS (MiB) | listening max RSS (MiB) |")
print("|---|---:|---:|---:|---:|---:|")
for b, path in (("gnu", sys.argv[2]), ("musl", sys.argv[3])):
    scan = rows[(b, "scan")]
    t = [s for s, _ in scan]
    rss = statistics.median(k for _, k in scan) / 1024
    lrss = statistics.median(k for _, k in rows[(b, "listening")]) / 1024
    size = os.path.getsize(path) / 2**20
    print(f"| {b} | {size:.1f} | {statistics.median(t):.2f} | {min(t):.2f}-{max(t):.2f} | {rss:.1f} | {lrss:.1f} |")
PY
