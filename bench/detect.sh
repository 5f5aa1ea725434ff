#!/usr/bin/env bash
# Service detection benchmark: `nmap -sV` and `portent scan --detect` side by side on the same
# loopback services, inside a network namespace of its own (ptd-lo: an empty 127.0.0.1, so the
# services can use their usual ports and nothing else on this machine is touched).
#
#   bench/detect.sh [RUNS]        # default 5 timed runs per tool (hyperfine), then one
#                                 # identification run each, the overlap measurement, then
#                                 # the hostile set
#   ONLY=overlap bench/detect.sh [RUNS]   # only the overlap measurement
#
# Well-behaved set (14): OpenSSH sshd 22, redis-server 6379, memcached 11211 (Debian
# packages), python3 http.server 8000, and bench/detect_fixtures.py: HTTPS (python http.server
# in TLS, self-signed) 443, SMTP 25, FTP 21, POP3 110, IMAP 143, MySQL greeting 3306, VNC 5900,
# telnet 23, NetInfo RPC 797, HTTP "Server: elasticsearch" 9200.
# Hostile set: 31001-31007 (tarpit, endless stream, drip, garbage to TLS, reset, 10 MB line,
# terminal escapes). nmap on the hostile set runs once, capped by NMAP_HOSTILE_CAP seconds
# (default 300; 0 skips it).
# Every process started here is killed by its PID on exit. Needs root (namespace, sshd).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-5}
PORTENT=${PORTENT:-$PWD/target/release/portent}
NMAP=${NMAP:-nmap}
NS=${NS:-ptd-lo}
OUT=${OUT:-/tmp/portent-bench-detect}
NMAP_HOSTILE_CAP=${NMAP_HOSTILE_CAP:-300}
WELL=22,21,23,25,110,143,443,797,3306,5900,6379,8000,9200,11211
HOSTILE=31001-31007
[ "$(id -u)" -eq 0 ] || { echo "bench/detect.sh needs root (namespace, sshd)" >&2; exit 2; }
# Always build: a stale release binary would measure old code (or lack --detect).
[ -n "${PORTENT_PREBUILT:-}" ] || cargo build --release -q -p portent
for b in /usr/sbin/sshd /usr/bin/redis-server /usr/bin/memcached hyperfine "$NMAP" openssl python3; do
    command -v "$b" >/dev/null || { echo "missing: $b" >&2; exit 2; }
done
rm -rf "$OUT"; mkdir -p "$OUT"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }
# `ip netns exec` execs the command, so $! is the server's own PID.
start() { in_ns "$@" >"$OUT/server-$#-$RANDOM.log" 2>&1 & pids+=($!); }
wait_port() {
    for _ in $(seq 100); do
        in_ns bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2; exit 1
}

# --- servers -------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N "" -f "$OUT/host_ed25519"
mkdir -p /run/sshd
printf 'Port 22\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\nStrictModes no\n' \
    "$OUT/host_ed25519" "$OUT/sshd.pid" >"$OUT/sshd_config"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bench.test" \
    -addext "subjectAltName=DNS:bench.test,IP:127.0.0.1" \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
mkdir -p "$OUT/www" "$OUT/redis"
start /usr/sbin/sshd -D -e -f "$OUT/sshd_config"
start redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$OUT/redis"
start memcached -l 127.0.0.1 -p 11211 -U 0 -u nobody
start python3 -m http.server 8000 --bind 127.0.0.1 --directory "$OUT/www"
start python3 bench/detect_fixtures.py well "$OUT"
start python3 bench/detect_fixtures.py hostile
for p in ${WELL//,/ } 31001 31002 31003 31004 31005 31006 31007; do wait_port "$p"; done

# NMAP_PER_PORT=1: time nmap -sV on each port alone (capped at 30 s), to see where its time goes.
if [ "${NMAP_PER_PORT:-0}" = 1 ]; then
    echo "| port | nmap -sV alone (s) |"; echo "|---|---|"
    for p in ${WELL//,/ }; do
        s=$(date +%s.%N)
        in_ns timeout 30 "$NMAP" -sV -n -Pn -p "$p" 127.0.0.1 >/dev/null || true
        e=$(date +%s.%N)
        echo "| $p | $(echo "$e - $s" | bc) |"
    done
fi

# --- overlap: detection of 14 services against the slowest one alone ------------------------
# Detection starts on each port as the scan finds it open (portent-run), concurrently. The
# whole --detect run should end within 10% of the slowest single detection: for each run,
# each port alone (its detection's elapsed_ms), then all 14 together (detect_ms: from the
# first open port handed to detection to the last detection; the 14-port scan itself takes
# about a millisecond here). ONLY=overlap runs just this part.
overlap() {
    echo; echo "overlap: $PORTENT scan 127.0.0.1 -p PORT --detect --json --no-save (each port),"
    echo "         $PORTENT scan 127.0.0.1 -p $WELL --detect --json --no-save (all 14)"
    for i in $(seq "$RUNS"); do
        for p in ${WELL//,/ }; do
            in_ns "$PORTENT" scan 127.0.0.1 -p "$p" --detect --json --no-save >"$OUT/alone-$i-$p.json"
        done
        in_ns "$PORTENT" scan 127.0.0.1 -p "$WELL" --detect --json --no-save >"$OUT/together-$i.json"
    done
    python3 - "$OUT" "$RUNS" "$WELL" <<'PY'
import json, statistics, sys
out, runs, ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3].split(",")]
def det(doc):
    return {p["port"]: p["detection"]["elapsed_ms"] for p in doc["hosts"][0]["ports"] if p.get("detection")}
print("\n| run | slowest alone (port, ms) | all 14: detect_ms | all 14: scan ms | ratio |\n|---|---|---|---|---|")
ratios = []
for i in range(1, runs + 1):
    alone = {p: det(json.load(open(f"{out}/alone-{i}-{p}.json")))[p] for p in ports}
    slow = max(alone, key=alone.get)
    t = json.load(open(f"{out}/together-{i}.json"))
    ratio = t["detect_ms"] / alone[slow]
    ratios.append(ratio)
    print(f"| {i} | {slow}, {alone[slow]} | {t['detect_ms']:.1f} | {t['elapsed_ms']:.1f} | {ratio:.3f} |")
print(f"\nmedian ratio (all 14 detect_ms / slowest single detection): {statistics.median(ratios):.3f}")
PY
}
if [ "${ONLY:-}" = overlap ]; then overlap; exit 0; fi

# --- well-behaved: time ----------------------------------------------------------------------
# Twice: all 14 ports, and the 13 without 9200 (where nmap's soft "wap-wsp" match makes it run
# every probe it has, ~100 s, so the first set measures that one port).
time_set() { # NAME PORTS
    local nmap_cmd="$NMAP -sV -n -Pn -p $2 127.0.0.1 -oX $OUT/nmap-$1.xml"
    local portent_cmd="$PORTENT scan 127.0.0.1 -p $2 --detect -q --json -oX $OUT/portent-$1.xml"
    echo; echo "set $1"; echo "nmap:    $nmap_cmd"; echo "portent: $portent_cmd"
    in_ns hyperfine -N --runs "$RUNS" --export-json "$OUT/hyperfine-$1.json" \
        --command-name "nmap -sV" "$nmap_cmd" \
        --command-name "portent --detect" "$portent_cmd" >"$OUT/hyperfine-$1.txt" 2>&1 || {
        cat "$OUT/hyperfine-$1.txt"; exit 1; }
    python3 - "$OUT/hyperfine-$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("\n| tool | median s | runs (s) |\n|---|---|---|")
for x in r:
    print(f"| {x['command']} | {x['median']:.3f} | {' '.join(f'{t:.3f}' for t in x['times'])} |")
print(f"\nspeed-up (median): {r[0]['median'] / r[1]['median']:.1f}x")
PY
}
time_set all "$WELL"
time_set no9200 "${WELL/,9200/}"
overlap

# --- well-behaved: identifications (from the last timed run's XML) ---------------------------
python3 - "$OUT/nmap-all.xml" "$OUT/portent-all.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
def read(path):
    out = {}
    for p in ET.parse(path).iter("port"):
        s = p.find("service")
        if s is None:
            out[int(p.get("portid"))] = "-"
            continue
        words = [s.get("name", "")]
        if s.get("tunnel"):
            words[0] = s.get("tunnel") + "/" + words[0]
        words += [s.get(k) for k in ("product", "version") if s.get(k)]
        if s.get("method") == "table":
            words.append("(port table only)")
        out[int(p.get("portid"))] = " ".join(words)
    return out
n, p = read(sys.argv[1]), read(sys.argv[2])
print("\n| port | nmap -sV | portent --detect |\n|---|---|---|")
for port in sorted(set(n) | set(p)):
    print(f"| {port} | {n.get(port, '-')} | {p.get(port, '-')} |")
PY

# --- hostile set -----------------------------------------------------------------------------
echo
echo "portent: $PORTENT scan 127.0.0.1 -p $HOSTILE --detect --json"
s=$(date +%s.%N)
in_ns "$PORTENT" scan 127.0.0.1 -p "$HOSTILE" --detect --json >"$OUT/hostile.json"
e=$(date +%s.%N)
python3 - "$OUT/hostile.json" "$(echo "$e - $s" | bc)" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
names = {31001: "tarpit", 31002: "endless stream", 31003: "drip 1 B/s", 31004: "garbage to TLS",
         31005: "reset after accept", 31006: "10 MB line", 31007: "escapes, bad UTF-8"}
print(f"\nportent wall time: {float(sys.argv[2]):.2f} s\n")
print("| port | peer | service | elapsed ms | bytes read | error / evidence |\n|---|---|---|---|---|---|")
for p in doc["hosts"][0]["ports"]:
    d = p.get("detection")
    if not d:
        print(f"| {p['port']} | {names.get(p['port'])} | ({p['state']}) | | | |")
        continue
    what = d["error"] or d["evidence"][:40]
    print(f"| {p['port']} | {names.get(p['port'])} | {d['service']} | {d['elapsed_ms']} | {d['bytes_read']} | `{what}` |")
PY
if [ "$NMAP_HOSTILE_CAP" != 0 ]; then
    echo
    echo "nmap: timeout $NMAP_HOSTILE_CAP $NMAP -sV -n -Pn -p $HOSTILE 127.0.0.1"
    s=$(date +%s.%N)
    in_ns timeout "$NMAP_HOSTILE_CAP" "$NMAP" -sV -n -Pn -p "$HOSTILE" 127.0.0.1 -oX "$OUT/nmap-hostile.xml" >/dev/null || echo "nmap: stopped at the cap"
    e=$(date +%s.%N)
    echo "nmap wall time: $(echo "$e - $s" | bc) s"
fi
