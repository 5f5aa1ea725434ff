#!/usr/bin/env bash
# How much of the port space people meet has a note: distinct ports with notes, and the share
# of the ports nmap tries first (--top-ports 100 for TCP, 50 for UDP) that carry one.
#
# nmap's lists are read from nmap's own XML output (<scaninfo services=...>), with nmap run as
# a peer against 127.0.0.1 inside a throwaway network namespace that holds nothing: no packet
# leaves it, and portent never reads nmap's data files. Needs root (ip netns), nmap, python3.
#
#   bench/coverage.sh [path/to/portent]     (default: target/release/portent, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/portent}
[ -x "$BIN" ] || cargo build --release --locked -q
command -v nmap >/dev/null || { echo "nmap is missing (Debian package nmap)" >&2; exit 2; }

NS="portent-cov-$$"
ip netns add "$NS"
trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
ip netns exec "$NS" ip link set lo up

top() { # protocol flag, count
    ip netns exec "$NS" timeout 120 nmap "$1" -Pn -n --top-ports "$2" -oX - 127.0.0.1 2>/dev/null |
        python3 -c 'import re,sys
m = re.search(r"<scaninfo[^>]*services=\"([^\"]*)\"", sys.stdin.read())
out = []
for part in m.group(1).split(","):
    a, _, b = part.partition("-")
    out += range(int(a), int(b or a) + 1)
print(" ".join(map(str, out)))'
}
TCP=$(top -sT 100)
UDP=$(top -sU 50)

python3 - "$BIN" "$TCP" "$UDP" <<'PY'
import json, subprocess, sys
binary, tcp, udp = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

def noted(port, proto):
    doc = json.loads(subprocess.run([binary, f"{port}/{proto}", "--json"], capture_output=True,
                                    check=True, text=True).stdout)
    return [n["title"] for n in doc["notes"] if not n["protocols"] or proto in n["protocols"]]

for proto, ports in (("tcp", tcp), ("udp", udp)):
    missing = [p for p in ports if not noted(p, proto)]
    have = len(ports) - len(missing)
    print(f"nmap top {len(ports)} {proto.upper()}: {have}/{len(ports)} have a note"
          f" ({100 * have / len(ports):.0f}%); without: {' '.join(missing) or 'none'}")
PY
python3 scripts/notes-check.py --stats | tail -1
