#!/usr/bin/env bash
# Issue 18's numbers, measured (docs/benchmarks.md "Sharded scans", docs/scale.md):
#  1. Sharding overhead: a full-range scan of 16 hosts (addresses of one target namespace, a
#     veth pair away) unsharded, and the same as 4 shards run one after the other; total CPU
#     (user + system, from /usr/bin/time) and wall time of each, RUNS times.
#  2. The 4 shards written into one named run of a throwaway PostgreSQL (--scan-name), then
#     read back merged: `portent show NAME --json`, timed.
#  3. PostgreSQL ingest from one writer through the store's API (store_bench): 2 runs x 16
#     hosts x 65,535 port rows in batches, rows per second; the ports table's bytes per row.
# Needs root (ip netns, the postgres user), PostgreSQL's server binaries, python3. Nothing
# leaves the namespaces this script creates; everything it starts is stopped by PID.
#
#   bench/shard.sh [RUNS]        (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
HOSTS=16
[ "$(id -u)" -eq 0 ] || { echo "bench/shard.sh needs root" >&2; exit 2; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pg_bin/initdb" ] || { echo "bench/shard.sh: PostgreSQL's server binaries are missing" >&2; exit 2; }
cargo build --release --locked -q -p portent
cargo build --release --locked -q -p portent-store --example store_bench
BIN=$PWD/target/release/portent
tmp=$(mktemp -d /tmp/portent-shard-bench.XXXXXX)
chmod 711 "$tmp"
tag="pshb$$"
s="$tag-s" t="$tag-t"
pids=()
pg_up=""
pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$pg_bin/$1" "${@:2}"; }
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -z "$pg_up" ] || pg pg_ctl -D "$tmp/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    ip netns del "$s" 2>/dev/null || true
    ip netns del "$t" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the lab: 16 target addresses behind a veth pair, 4 listening ports on each ----------
ip netns add "$s"
ip netns add "$t"
ip -n "$s" link set lo up
ip -n "$t" link set lo up
ip -n "$s" link add "$tag-a" type veth peer name "$tag-b" netns "$t"
ip -n "$s" addr add 198.18.9.1/24 dev "$tag-a"
ip -n "$s" link set "$tag-a" up
targets=()
for i in $(seq 2 $((HOSTS + 1))); do
    ip -n "$t" addr add "198.18.9.$i/24" dev "$tag-b"
    targets+=("198.18.9.$i")
done
ip -n "$t" link set "$tag-b" up
ip netns exec "$t" python3 -c '
import socket, threading, time
for p in (22, 80, 443, 5432):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); s.listen(512)
    def serve(s=s):
        while True:
            c, _ = s.accept(); c.close()
    threading.Thread(target=serve, daemon=True).start()
time.sleep(3600)' &
pids+=($!)
sleep 0.5

# ---- PostgreSQL: throwaway, Unix socket, trust ---------------------------------------------
mkdir -m 700 "$tmp/pg"
chown postgres:postgres "$tmp/pg"
pg initdb -D "$tmp/pg/data" -A trust -U portent -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1
pg pg_ctl -D "$tmp/pg/data" -l "$tmp/pg/log" -o "-k $tmp/pg -c listen_addresses=''" -w start >/dev/null
pg_up=yes
store="postgresql://portent@$(printf %s "$tmp/pg" | sed 's/%/%25/g; s,/,%2F,g')/postgres"

cpu() { # cpu LABEL CMD...: runs CMD, appends "LABEL user sys wall" to $tmp/cpu
    local label=$1; shift
    /usr/bin/time -f "$label %U %S %e" -a -o "$tmp/cpu" "$@" >/dev/null
}
echo "== 1. ${HOSTS} hosts x 65,535 ports: unsharded vs 4 shards one after the other ($RUNS runs each)"
for r in $(seq "$RUNS"); do
    cpu unsharded ip netns exec "$s" env PORTENT_DATA_DIR="$tmp/data" "$BIN" scan "${targets[@]}" -p- --seed 7 --no-save --json
    for k in 1 2 3 4; do
        cpu "shard$k" ip netns exec "$s" env PORTENT_DATA_DIR="$tmp/data" "$BIN" scan "${targets[@]}" -p- --seed 7 --shard "$k/4" --no-save --json
    done
done
python3 - "$tmp/cpu" "$HOSTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
hosts = int(sys.argv[2])
un = [(float(u) + float(s), float(w)) for l, u, s, w in rows if l == "unsharded"]
sh = {}
for l, u, s, w in rows:
    if l.startswith("shard"):
        sh.setdefault(l, []).append((float(u) + float(s), float(w)))
runs = len(un)
sums = [sum(sh[k][i][0] for k in sh) for i in range(runs)]
walls = [sum(sh[k][i][1] for k in sh) for i in range(runs)]
med = statistics.median
print(f"unsharded: CPU median {med(c for c, _ in un):.2f} s (min {min(c for c, _ in un):.2f}, max {max(c for c, _ in un):.2f}), wall median {med(w for _, w in un):.2f} s")
print(f"4 shards:  CPU median {med(sums):.2f} s (min {min(sums):.2f}, max {max(sums):.2f}), wall of the four median {med(walls):.2f} s")
for k in sorted(sh):
    print(f"  {k}: CPU median {med(c for c, _ in sh[k]):.2f} s, wall median {med(w for _, w in sh[k]):.2f} s")
print(f"CPU ratio 4 shards / unsharded (medians): {med(sums) / med(c for c, _ in un):.3f}")
print(f"one worker's probe rate: {hosts * 65535 / med(w for _, w in un):,.0f} probes/s (unsharded, wall median)")
PY

echo "== 2. the 4 shards into one PostgreSQL run, read back merged ($RUNS reads)"
for k in 1 2 3 4; do
    ip netns exec "$s" env PORTENT_DATA_DIR="$tmp/data" "$BIN" scan "${targets[@]}" -p- --seed 7 --shard "$k/4" \
        --scan-name bench --store "$store" --json >/dev/null
done
ip netns exec "$s" env PORTENT_DATA_DIR="$tmp/data" "$BIN" scan "${targets[@]}" -p- --seed 8 --all \
    --scan-name bench-all --store "$store" --json >/dev/null
for name in bench bench-all; do
    : >"$tmp/read"
    for r in $(seq "$RUNS"); do
        /usr/bin/time -f "%e" -a -o "$tmp/read" env PORTENT_DATA_DIR="$tmp/data" "$BIN" show "$name" --json --store "$store" >"$tmp/show.json"
    done
    python3 - "$tmp/read" "$tmp/show.json" "$name" <<'PY'
import json, statistics, sys
t = [float(l) for l in open(sys.argv[1]) if l.strip()]
d = json.load(open(sys.argv[2]))
print(f"show {sys.argv[3]} --json: {len(d['ports'])} port rows, shards {d['shards']['done']}/{d['shards']['count']} done; "
      f"read back median {statistics.median(t):.3f} s (min {min(t):.3f}, max {max(t):.3f})")
PY
done
psql() { pg psql -h "$tmp/pg" -U portent -d postgres -Atc "$1"; }
echo "ports table: $(psql "select count(*) from ports") rows, $(psql "select pg_total_relation_size('ports')") bytes with its indexes"

echo "== 3. PostgreSQL ingest from one writer (store_bench: 2 runs x $HOSTS hosts x 65,535 rows)"
pg createdb -h "$tmp/pg" -U portent ingest
target/release/examples/store_bench "${store%/postgres}/ingest" "$HOSTS" 65535 65535 1 | tee "$tmp/ingest"
python3 - "$tmp/ingest" "$HOSTS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
secs = float(re.search(r"save 2 runs x \d+ hosts x \d+ open of \d+: ([\d.]+) s", text).group(1))
rows = 2 * int(sys.argv[2]) * 65535
print(f"ingest: {rows:,} rows in {secs:.2f} s = {rows / secs:,.0f} rows/s from one writer")
PY
