#!/usr/bin/env bash
# Smoke-tests the static build for real: builds it (scripts/static.sh --profile dev: the same
# target and linking as the release binary, unoptimised so CI pays about a minute), then checks
# that it is static (no program interpreter, no shared library needed), that it answers
# `portent 797` inside an empty chroot (nothing but the binary: no libc, no data files, no
# /proc), and that `portent listening` finds a listener it did not start itself: a Python
# server on 127.0.0.1 in a network namespace made here, named with its PID. Root only (chroot
# and namespaces); scripts/test runs it as root.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "scripts/static-test.sh: $*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "must run as root (chroot and a network namespace)"

ns=portent-static-$$
root=$(mktemp -d)
pid=""
cleanup() {
    rc=$?
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$root"
    [ "$rc" -eq 0 ] || echo "scripts/static-test.sh: FAILED (exit $rc)" >&2
    exit "$rc"
}
trap cleanup EXIT

bin=$(./scripts/static.sh --profile dev | tail -n 1)
[ -x "$bin" ] || fail "scripts/static.sh printed no binary ($bin)"

# Static: no PT_INTERP program header, no DT_NEEDED entry.
if readelf -lW "$bin" | grep -q "INTERP"; then fail "$bin asks for a program interpreter"; fi
if readelf -dW "$bin" | grep -q "(NEEDED)"; then
    fail "$bin needs shared libraries: $(readelf -dW "$bin" | grep NEEDED)"
fi

# An empty root: the binary alone.
cp "$bin" "$root/portent"
page=$(chroot "$root" /portent 797) || fail "portent 797 in an empty chroot exited $?"
grep -q "^Port 797 " <<<"$page" || fail "portent 797 in an empty chroot printed no port page: $page"
json=$(chroot "$root" /portent 22 --json) || fail "portent 22 --json in an empty chroot exited $?"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["port"]==22, d' "$json" \
    || fail "portent 22 --json is not the page of port 22: $json"

# A listener in a namespace of our own: the static binary must see it and its owner.
ip netns add "$ns"
ip -n "$ns" link set lo up
ip netns exec "$ns" python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 47797)); s.listen(); time.sleep(60)' &
pid=$!
for _ in $(seq 50); do
    ip netns exec "$ns" "$bin" listening --json >"$root/l.json" 2>/dev/null || true
    grep -q 47797 "$root/l.json" && break
    sleep 0.1
done
python3 - "$root/l.json" "$pid" <<'PY' || fail "portent listening did not report the Python listener: $(cat "$root/l.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["sockets"] if isinstance(doc, dict) else doc
hit = [r for r in rows if r.get("port") == 47797]
assert hit, "no socket on 47797"
assert any(r.get("pid") == int(sys.argv[2]) for r in hit), hit
PY
echo "scripts/static-test.sh: ok ($(du -h "$bin" | cut -f1) unoptimised static binary)"
