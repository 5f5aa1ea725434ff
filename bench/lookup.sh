#!/usr/bin/env bash
# Port lookup, whole-process time: `portent port 797` against `grep -w 797 /etc/services`
# and `whatportis 797` (PyPI), side by side in one hyperfine run. No network: whatportis's
# database is built from our local copy of the registry CSV (its own import would download
# it from iana.org).
#
# Usage: bench/lookup.sh [RUNS]     (needs: hyperfine, pip; installs whatportis if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine
command -v whatportis >/dev/null || pip install -q whatportis
cargo build --release -q -p portent
bin=$PWD/target/release/portent

# whatportis keeps its database in $HOME/.whatportis_db.json; give it a private HOME.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
HOME=$home python3 - "$PWD/crates/registry/data/iana/service-names-port-numbers.csv" <<'PY'
import sys, types
import whatportis.cli as cli
body = open(sys.argv[1], encoding="utf-8").read()
# Feed the local file to whatportis's own import instead of letting it download.
cli.requests.get = lambda url: types.SimpleNamespace(content=body.encode("utf-8"))
cli.populate_db()
PY

export HOME=$home
# -i: grep exits 1 when /etc/services has no line for 797 (Debian's has none); that is its
# answer, not a failure.
hyperfine -N -i --warmup 20 --runs "$runs" --export-json "$home/result.json" \
    "grep -w 797 /etc/services" \
    "$bin port 797" \
    "$bin port 797 --json" \
    "$bin --version" \
    "whatportis 797"
python3 "$PWD/bench/medians.py" "$home/result.json"
