#!/usr/bin/env bash
# Builds portent as one static executable for x86_64 Linux (x86_64-unknown-linux-musl): no
# glibc, no loader, no data files; it runs on any x86_64 Linux kernel, containers and old
# distributions included. The registry and the notes are compiled into it as in every build.
#
#   scripts/static.sh                  release profile (stripped, LTO): the binary users get
#   scripts/static.sh --profile dev    unoptimised, in about a minute: what CI smoke-tests
#
# Needs musl's C toolchain (Debian: musl-tools; ring and SQLite are compiled from C) and the
# target's standard library from rustup (`rustup target add x86_64-unknown-linux-musl`); both
# are installed here when missing. Prints the binary's path last.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
profile=release
if [ "${1:-}" = "--profile" ]; then
    profile=${2:?--profile needs a name}
fi
case "$profile" in
    dev) dir=debug ;;
    *) dir=$profile ;;
esac

if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "scripts/static.sh: installing musl-tools (musl-gcc)" >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq musl-tools >&2
fi
if ! rustup target list --installed | grep -qx "$target"; then
    echo "scripts/static.sh: adding the $target standard library (rustup)" >&2
    timeout 600 rustup target add "$target" >&2 || {
        echo "scripts/static.sh: rustup could not add $target (is static.rust-lang.org reachable?)" >&2
        exit 1
    }
fi

# cc-rs picks musl-gcc for this target by itself; said here so a machine with another
# x86_64-linux-musl-gcc on its PATH builds the same way.
CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --locked -p portent --target "$target" --profile "$profile" >&2
echo "$(realpath -m "${CARGO_TARGET_DIR:-target}")/$target/$dir/portent"
