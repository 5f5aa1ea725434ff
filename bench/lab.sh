#!/usr/bin/env bash
# Test hosts for the scan benchmark, in network namespaces this script creates (needs root).
# Nothing here reaches outside the namespaces.
#
#   bench/lab.sh up     create the three targets below
#   bench/lab.sh down   remove them (and stop the helpers)
#
# Targets (each with the same 22 open TCP ports, $OPEN, and nothing else listening):
#   loopback  namespace ptb-lo: scanners run inside it against its own 127.0.0.1
#   veth      ptb-vs (scanner, 198.18.1.1) -- veth -- ptb-vt (target, 198.18.1.2)
#   wan       ptb-ws (scanner, 198.19.1.1) -- TUN | portent-netsim delay line, RTT $RTT | TUN -- ptb-wt (target, 198.19.1.2)
set -euo pipefail
cd "$(dirname "$0")/.."

OPEN=${OPEN:-22,25,53,80,111,139,443,445,770,797,985,1033,2049,3306,5432,6379,8000,8080,27017,40000,50000,60000}
RTT=${RTT:-20ms}
SECONDS_UP=${SECONDS_UP:-3600}
NETSIM=${NETSIM:-target/release/portent-netsim}
RUN=/tmp/portent-bench-lab
[ "$(id -u)" -eq 0 ] || { echo "bench/lab.sh needs root (network namespaces)" >&2; exit 2; }

up() {
    [ -x "$NETSIM" ] || cargo build --release -p portent-netsim
    mkdir -p "$RUN"
    for ns in ptb-lo ptb-vs ptb-vt ptb-ws ptb-wt; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    # veth pair
    ip -n ptb-vs link add ptbv0 type veth peer name ptbv1 netns ptb-vt
    ip -n ptb-vs addr add 198.18.1.1/24 dev ptbv0
    ip -n ptb-vt addr add 198.18.1.2/24 dev ptbv1
    ip -n ptb-vs link set ptbv0 up
    ip -n ptb-vt link set ptbv1 up
    # TUN devices with a router-sized queue, joined by the delay line
    for ns in ptb-ws ptb-wt; do
        ip -n "$ns" tuntap add dev ptbt0 mode tun
        ip -n "$ns" link set ptbt0 txqueuelen 10000
    done
    ip -n ptb-ws addr add 198.19.1.1/24 dev ptbt0
    ip -n ptb-wt addr add 198.19.1.2/24 dev ptbt0
    ip -n ptb-ws link set ptbt0 up
    ip -n ptb-wt link set ptbt0 up
    "$NETSIM" delay-line --a ptb-ws:ptbt0 --b ptb-wt:ptbt0 --rtt "$RTT" --seconds "$SECONDS_UP" \
        2>"$RUN/netsim.log" & echo $! >"$RUN/netsim.pid"
    # listeners
    for ns in ptb-lo ptb-vt ptb-wt; do
        ip netns exec "$ns" "$NETSIM" listen --ports "$OPEN" --seconds "$SECONDS_UP" \
            2>"$RUN/listen-$ns.log" & echo $! >"$RUN/listen-$ns.pid"
    done
    sleep 1
    echo "lab up: loopback (ptb-lo 127.0.0.1), veth (ptb-vs -> 198.18.1.2), wan (ptb-ws -> 198.19.1.2, rtt $RTT)"
}

down() {
    for f in "$RUN"/*.pid; do
        [ -e "$f" ] || continue
        kill "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
    for ns in ptb-lo ptb-vs ptb-vt ptb-ws ptb-wt; do
        ip netns del "$ns" 2>/dev/null || true
    done
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) echo "usage: bench/lab.sh up|down" >&2; exit 2 ;;
esac
