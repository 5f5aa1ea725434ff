#!/usr/bin/env bash
# Where a full-range connect scan's time goes (issue 17): runs `portent scan` RUNS times against
# one target of the namespace lab (bench/lab.sh) and prints, per run, the wall time, the
# scan's own counters from `--json` (attempts, retries, losses, backoffs, deferred, peak in
# flight), CPU time and context switches (/usr/bin/time -v), and whether the open set was exact.
# With STRACE=1, also one run under `strace -f -c` (system calls per port); with PERF=1, one
# run under `perf stat` (task clock, context switches, migrations).
# Needs root; traffic stays inside the lab's namespaces.
#
#   bench/lab.sh up && bench/connect_profile.sh veth 10 && bench/lab.sh down
#
# Extra scan flags go in ARGS (e.g. ARGS="--threads 1").
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=${1:-veth}
RUNS=${2:-10}
PORTENT=${PORTENT:-target/release/portent}
OPEN=${OPEN:-22,25,53,80,111,139,443,445,770,797,985,1033,2049,3306,5432,6379,8000,8080,27017,40000,50000,60000}
ARGS=${ARGS:-}
OUT=${OUT:-/tmp/portent-profile}
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench/connect_profile.sh needs root (namespaces)" >&2; exit 2; }
case $TARGET in
    loopback) ns=ptb-lo; addr=127.0.0.1 ;;
    veth) ns=ptb-vs; addr=198.18.1.2 ;;
    wan) ns=ptb-ws; addr=198.19.1.2 ;;
    *) echo "target: loopback, veth or wan" >&2; exit 2 ;;
esac
expected=$(echo "$OPEN" | tr ',' '\n' | sort -n | tr '\n' ' ')

stat() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["stats"]; print(d["elapsed_ms"], s["attempts"], s["retries"], s["losses"], s["backoffs"], s["deferred"], s["peak_in_flight"])' "$1"; }
opens() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(str(p) for p in sorted(p["port"] for h in d["hosts"] for p in h.get("ports", []) if p["state"] == "open")))' "$1"; }
tv() { awk -F': ' -v k="$2" '$1 ~ k { print $2 }' "$1"; }

uptime
echo "| run | wall s | scan ms | attempts | retries | losses | backoffs | deferred | peak in flight | user s | sys s | vol. cs | invol. cs | exact |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for i in $(seq "$RUNS"); do
    f="$OUT/$TARGET-$i"
    # shellcheck disable=SC2086
    ip netns exec "$ns" /usr/bin/time -v -o "$f.time" "$PORTENT" scan "$addr" --json -q $ARGS >"$f.json" 2>"$f.err" || true
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' "$f.time")
    read -r ms att ret los bo def peak < <(stat "$f.json")
    got=$(opens "$f.json")
    ok=exact; [ "$got " = "$expected" ] || ok="WRONG: $got"
    echo "| $i | $wall | $ms | $att | $ret | $los | $bo | $def | $peak | $(tv "$f.time" 'User time') | $(tv "$f.time" 'System time') | $(tv "$f.time" 'Voluntary context') | $(tv "$f.time" 'Involuntary context') | $ok |"
    sleep 0.5
done
if [ "${STRACE:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    ip netns exec "$ns" strace -f -c -o "$OUT/$TARGET-strace.txt" "$PORTENT" scan "$addr" --json -q $ARGS >"$OUT/$TARGET-strace.json"
    echo "strace -f -c (one run; calls per port = calls / 65,535):"
    awk 'NR <= 2 || /^-/ || $4 ~ /^[0-9]+$/ || /total/' "$OUT/$TARGET-strace.txt" | head -30
    stat "$OUT/$TARGET-strace.json"
fi
if [ "${PERF:-0}" = 1 ]; then
    # shellcheck disable=SC2086
    ip netns exec "$ns" perf stat -e task-clock,context-switches,cpu-migrations,page-faults \
        "$PORTENT" scan "$addr" --json -q $ARGS 2>"$OUT/$TARGET-perf.txt" >"$OUT/$TARGET-perf.json"
    grep -E 'task-clock|context-switches|cpu-migrations|page-faults|elapsed|user|sys' "$OUT/$TARGET-perf.txt"
fi
