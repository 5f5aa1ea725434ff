#!/usr/bin/env bash
# UDP scan benchmark: portent -sU against nmap -sU, side by side, on a target in a network
# namespace reached over a veth pair. The target runs real UDP services (dnsmasq on 53,
# memcached on 11211, an RFC 862 echo responder on 7) and one bound socket that never answers
# (9999); every other port is closed. Both tools scan the same 101 ports (1-100 and 11211),
# with the target's ICMP rate limit at Linux's default (net.ipv4.icmp_ratelimit = 1000 ms,
# burst 6) and switched off (0). Each cell is RUNS runs; the table gives the median wall time,
# the ratio to nmap's median, and what each tool reported (open / closed / open|filtered /
# filtered counts; open must be exactly 7,53,11211).
#
#   bench/udp.sh 3
#
# Needs root (namespaces); nothing leaves the two namespaces this script creates, and it
# removes them (and the daemons it started, by PID) on exit. Tools: PORTENT (default
# target/release/portent), NMAP (nmap). Modes: MODES="default off" (the ICMP limit).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-3}
PORTENT=${PORTENT:-target/release/portent}
NMAP=${NMAP:-nmap}
MODES=${MODES:-default off}
TOOLS=${TOOLS:-portent portent-closed nmap}
PORTS=${PORTS:-1-100,11211}
OPEN="7 53 11211"
OUT=${OUT:-/tmp/portent-bench-udp}
SNS=ptu-s
TNS=ptu-t
SCAN=198.18.9.1
TARGET=198.18.9.2
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench/udp.sh needs root (namespaces)" >&2; exit 2; }
[ -x "$PORTENT" ] || cargo build --release -p portent

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    ip netns del "$SNS" 2>/dev/null || true
    ip netns del "$TNS" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
ip netns add "$SNS"
ip netns add "$TNS"
ip -n "$SNS" link set lo up
ip -n "$TNS" link set lo up
ip -n "$SNS" link add ptu-a type veth peer name ptu-b netns "$TNS"
ip -n "$SNS" addr add "$SCAN/24" dev ptu-a
ip -n "$TNS" addr add "$TARGET/24" dev ptu-b
ip -n "$SNS" link set ptu-a up
ip -n "$TNS" link set ptu-b up

# The services. Each is bounded in time (timeout) and killed by PID on exit.
ip netns exec "$TNS" timeout 3600 dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --listen-address="$TARGET" --bind-interfaces --port=53 --pid-file= \
    --address=/bench.test/198.18.9.2 >"$OUT/dnsmasq.log" 2>&1 &
pids+=($!)
ip netns exec "$TNS" timeout 3600 memcached -u nobody -l "$TARGET" -p 0 -U 11211 \
    >"$OUT/memcached.log" 2>&1 &
pids+=($!)
ip netns exec "$TNS" timeout 3600 python3 -c '
import socket
e = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); e.bind(("0.0.0.0", 7))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 9999))
while True:
    d, a = e.recvfrom(65535)
    e.sendto(d, a)
' &
pids+=($!)
sleep 1

cmd() {
    case $1 in
        portent) echo "$PORTENT scan $TARGET -sU -p $PORTS --csv --all -q --no-save" ;;
        portent-closed) echo "$PORTENT scan $TARGET -sU --udp-closed -p $PORTS --csv --all -q --no-save" ;;
        nmap) echo "$NMAP -sU -T4 -n -Pn -p $PORTS $TARGET -oG -" ;;
    esac
}

# "open closed open|filtered filtered" counts and the open list, from a tool's output.
summary() {
    case $1 in
        portent*) awk -F, 'NR > 1 { n[$5]++; if ($5 == "open") o = o " " $3 }
                  END { printf "%d/%d/%d/%d%s\n", n["open"], n["closed"], n["open|filtered"], n["filtered"], o }' "$2" ;;
        nmap) { grep -o '[0-9]*/[a-z|]*/udp' "$2" | awk -F/ '{ print $2, 1, $1 }'
                grep -o 'Ignored State: [a-z|]* ([0-9]*)' "$2" | sed -E 's/Ignored State: ([a-z|]*) \(([0-9]*)\)/\1 \2 -/'
              } | awk '{ n[$1] += $2; if ($1 == "open") o = o " " $3 }
                  END { printf "%d/%d/%d/%d%s\n", n["open"], n["closed"], n["open|filtered"], n["filtered"], o }' ;;
    esac
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "| ICMP limit | tool | median s | runs (s) | vs nmap | open/closed/open\|filtered/filtered, open ports |"
echo "|---|---|---|---|---|---|"
for mode in $MODES; do
    case $mode in
        default) ip netns exec "$TNS" sysctl -q -w net.ipv4.icmp_ratelimit=1000 ;;
        off) ip netns exec "$TNS" sysctl -q -w net.ipv4.icmp_ratelimit=0 ;;
    esac
    declare -A med=()
    rows=()
    for tool in $TOOLS; do
        times=(); seen=""
        for i in $(seq "$RUNS"); do
            f="$OUT/$mode-$tool-$i"
            # Let the target's ICMP bucket refill between runs (6 tokens at 1/s).
            sleep 7
            s=$(date +%s.%N)
            # shellcheck disable=SC2046
            ip netns exec "$SNS" timeout 900 $(cmd "$tool") >"$f.out" 2>"$f.err" || true
            e=$(date +%s.%N)
            times+=("$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')")
            got=$(summary "$tool" "$f.out")
            case " $seen " in *" $got "*) ;; *) seen="${seen:+$seen; }$got" ;; esac
        done
        med[$tool]=$(printf '%s\n' "${times[@]}" | median)
        rows+=("$tool|${times[*]}|$seen")
    done
    for r in "${rows[@]}"; do
        IFS='|' read -r tool runs seen <<<"$r"
        ratio=$(awk -v a="${med[$tool]}" -v b="${med[nmap]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
        echo "| $mode | $tool | ${med[$tool]} | $runs | $ratio | $seen |"
    done
    unset med
done
echo
echo "expected open: $OPEN (101 ports: 1-100 and 11211)"
