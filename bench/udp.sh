#!/usr/bin/env bash
# UDP scan benchmark: portent -sU against nmap -sU (as root), side by side, on targets in
# network namespaces this script creates.
#
#   bench/udp.sh 3                   # RUNS per cell; SECTIONS="host full net" by default
#
# host: one target over a veth pair running six real UDP services from Debian's packages
#       (dnsmasq 53, tftpd-hpa 69, rpcbind 111, chrony 123, snmpd 161, memcached 11211) and an
#       RFC 862 echo responder on 7. Ports: the 100 UDP ports nmap scans with --top-ports 100
#       (read from nmap's own XML output, scaninfo/services, never from its data files) plus
#       11211. Once with the target's ICMP rate limit at Linux's default
#       (net.ipv4.icmp_ratelimit = 1000 ms, burst 6) and once with it off (0).
#       Tools: portent -sU, portent -sU --udp-closed, nmap -sU -T4.
# full: the same host, all 65,535 UDP ports, portent -sU only (nmap documents its full UDP
#       range as taking more than 18 hours at the default limit).
# net:  the 14 hosts of a /28 (198.18.10.1-14), each its own namespace behind a bridge in the
#       scanner's namespace (which sits at .30 of the /27), each with the echo responder on 7
#       and the default ICMP limit; the same 100 ports. portent -sU, with --udp-closed, nmap.
#
# The table gives the median wall time, the ratio to nmap's median in the same cell, and what
# each run reported (open/closed/open|filtered/filtered counts and the open ports). Nothing
# leaves the namespaces; the script removes them and kills the daemons it started (by PID)
# on exit. Tools: PORTENT (default target/release/portent), NMAP (nmap).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-3}
PORTENT=${PORTENT:-target/release/portent}
NMAP=${NMAP:-nmap}
SECTIONS=${SECTIONS:-host full net}
OUT=${OUT:-/tmp/portent-bench-udp}
SCAN=198.18.9.1
TARGET=198.18.9.2
NET=198.18.10
HOSTS=14
mkdir -p "$OUT"
[ "$(id -u)" -eq 0 ] || { echo "bench/udp.sh needs root (namespaces, nmap -sU)" >&2; exit 2; }
[ -x "$PORTENT" ] || cargo build --release -p portent
for b in dnsmasq in.tftpd rpcbind chronyd snmpd memcached; do
    command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || { echo "missing $b (scripts/test installs it)" >&2; exit 2; }
done

pids=()
namespaces=(ptu-s ptu-t)
for i in $(seq 1 "$HOSTS"); do namespaces+=("ptu-h$i"); done
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup
pids=()

ip netns add ptu-s
ip netns add ptu-t
ip -n ptu-s link set lo up
ip -n ptu-t link set lo up
ip -n ptu-s link add ptu-a type veth peer name ptu-b netns ptu-t
ip -n ptu-s addr add "$SCAN/24" dev ptu-a
ip -n ptu-t addr add "$TARGET/24" dev ptu-b
ip -n ptu-s link set ptu-a up
ip -n ptu-t link set ptu-b up

# An echo responder (RFC 862) on 7 in namespace $1, for at most an hour.
echo_in() {
    ip netns exec "$1" timeout 3600 python3 -c '
import socket
e = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); e.bind(("0.0.0.0", 7))
while True:
    d, a = e.recvfrom(65535)
    e.sendto(d, a)
' &
    pids+=($!)
}

# The six services, as crates/run/tests/udp_real.rs starts them.
conf=$(mktemp -d)
chmod 755 "$conf"
mkdir -m 755 "$conf/tftp"
printf 'bindaddress %s\nallow all\ncmdport 0\nbindcmdaddress /\nlocal stratum 8\npidfile %s/chronyd.pid\n' "$TARGET" "$conf" >"$conf/chrony.conf"
printf 'agentaddress udp:%s:161\nrocommunity public\n' "$TARGET" >"$conf/snmpd.conf"
start() {
    ip netns exec ptu-t "$@" </dev/null >>"$OUT/daemons.log" 2>&1 &
    pids+=($!)
}
start /usr/sbin/dnsmasq --keep-in-foreground --listen-address="$TARGET" --bind-interfaces \
    --no-resolv --no-hosts --conf-file=/dev/null --pid-file="$conf/dnsmasq.pid"
start /usr/sbin/chronyd -x -d -f "$conf/chrony.conf"
start env SNMP_PERSISTENT_DIR="$conf" /usr/sbin/snmpd -f -Lo -C -c "$conf/snmpd.conf" -p "$conf/snmpd.pid"
start /usr/sbin/rpcbind -f
start /usr/sbin/in.tftpd --foreground --ipv4 --address "$TARGET:69" --secure "$conf/tftp"
start /usr/bin/memcached -U 11211 -p 0 -l "$TARGET" -u nobody
echo_in ptu-t
sleep 2

# nmap's 100 UDP ports, from its XML output (a 1 s scan of the target that probes nothing for
# long: --max-retries 0, --host-timeout 1s).
top=$(ip netns exec ptu-s "$NMAP" -sU --top-ports 100 -n -Pn --max-retries 0 --host-timeout 1s -oX - "$TARGET" 2>/dev/null \
    | grep -o ' services="[^"]*"' | head -1 | cut -d'"' -f2)
[ -n "$top" ] || { echo "could not read nmap's --top-ports 100 list" >&2; exit 2; }
PORTS="$top,11211"

summary() {
    case $1 in
        portent*) awk -F, 'NR > 1 { n[$5]++; if ($5 == "open") o = o " " $1 ":" $3 }
                  END { printf "%d/%d/%d/%d%s\n", n["open"], n["closed"], n["open|filtered"], n["filtered"], o }' "$2" ;;
        # nmap's XML: listed ports and the extraports counts (its grepable form drops the
        # ignored states when there are more than one).
        nmap) python3 -c '
import sys, xml.etree.ElementTree as ET
n = {"open": 0, "closed": 0, "open|filtered": 0, "filtered": 0}
opened = []
for h in ET.parse(sys.argv[1]).getroot().iter("host"):
    addr = h.find("address").get("addr")
    for e in h.iter("extraports"):
        n[e.get("state")] = n.get(e.get("state"), 0) + int(e.get("count"))
    for p in h.iter("port"):
        s = p.find("state").get("state")
        n[s] = n.get(s, 0) + 1
        if s == "open":
            opened.append(addr + ":" + p.get("portid"))
print("%d/%d/%d/%d %s" % (n["open"], n["closed"], n["open|filtered"], n["filtered"], " ".join(opened)))
' "$2" ;;
    esac
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

cmd() {
    case $1 in
        portent) echo "$PORTENT scan $2 -sU -p $3 --csv --all -q --no-save" ;;
        portent-closed) echo "$PORTENT scan $2 -sU --udp-closed -p $3 --csv --all -q --no-save" ;;
        nmap) echo "$NMAP -sU -T4 -n -Pn -p $3 $2 -oX -" ;;
    esac
}

# cell LABEL TARGETS PORTS TOOLS...: RUNS runs of each tool, one table row each.
cell() {
    local label=$1 targets=$2 ports=$3
    shift 3
    local -A med=()
    local rows=()
    for tool in "$@"; do
        local times=() seen=""
        for i in $(seq "$RUNS"); do
            local f
            f="$OUT/$(echo "$label-$tool-$i" | tr -c 'a-zA-Z0-9-' _)"
            # Let the targets' ICMP buckets refill between runs (6 tokens at 1/s).
            sleep 7
            local s e got
            s=$(date +%s.%N)
            # shellcheck disable=SC2046
            ip netns exec ptu-s timeout 1800 $(cmd "$tool" "$targets" "$ports") >"$f.out" 2>"$f.err" || true
            e=$(date +%s.%N)
            times+=("$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')")
            got=$(summary "$tool" "$f.out")
            case "; $seen; " in *"; $got; "*) ;; *) seen="${seen:+$seen; }$got" ;; esac
        done
        med[$tool]=$(printf '%s\n' "${times[@]}" | median)
        rows+=("$tool|${times[*]}|$seen")
    done
    for r in "${rows[@]}"; do
        IFS='|' read -r tool runs seen <<<"$r"
        local ratio
        ratio=$(awk -v a="${med[$tool]}" -v b="${med[nmap]:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
        echo "| $label | $tool | ${med[$tool]} | $runs | $ratio | $seen |"
    done
}

echo "| case | tool | median s | runs (s) | vs nmap | open/closed/open\|filtered/filtered: open ports |"
echo "|---|---|---|---|---|---|"
for section in $SECTIONS; do
    case $section in
        host)
            ip netns exec ptu-t sysctl -q -w net.ipv4.icmp_ratelimit=1000
            cell "1 host, 101 ports, ICMP limit default" "$TARGET" "$PORTS" portent portent-closed nmap
            ip netns exec ptu-t sysctl -q -w net.ipv4.icmp_ratelimit=0
            cell "1 host, 101 ports, ICMP limit off" "$TARGET" "$PORTS" portent portent-closed nmap
            ip netns exec ptu-t sysctl -q -w net.ipv4.icmp_ratelimit=1000
            ;;
        full)
            ip netns exec ptu-t sysctl -q -w net.ipv4.icmp_ratelimit=1000
            cell "1 host, 65,535 ports, ICMP limit default" "$TARGET" 1-65535 portent
            ;;
        net)
            # The /28: a bridge in the scanner's namespace, one namespace per host.
            ip -n ptu-s link add ptu-br type bridge
            ip -n ptu-s addr add "$NET.30/27" dev ptu-br
            ip -n ptu-s link set ptu-br up
            for i in $(seq 1 "$HOSTS"); do
                ip netns add "ptu-h$i"
                ip -n "ptu-h$i" link set lo up
                ip -n ptu-s link add "ptu-h$i" type veth peer name eth0 netns "ptu-h$i"
                ip -n ptu-s link set "ptu-h$i" master ptu-br up
                ip -n "ptu-h$i" addr add "$NET.$i/27" dev eth0
                ip -n "ptu-h$i" link set eth0 up
                echo_in "ptu-h$i"
            done
            sleep 1
            cell "/28 (14 hosts), 100 ports, ICMP limit default" "$NET.1-$HOSTS" "$top" portent portent-closed nmap
            ;;
    esac
done
echo
echo "Ports: nmap's --top-ports 100 for UDP ($top) and 11211 for memcached."
echo "Expected open on the host: 7, 53, 69, 111, 123, 161, 11211; on the /28: 7 on each host."
