#!/usr/bin/env bash
# Builds portent's Debian package with cargo-deb (crates/cli/Cargo.toml,
# [package.metadata.deb]). cargo-deb copies files only, so the manual pages and completion
# scripts are generated first, by the binary itself, into target/deb-assets (at the root of
# the workspace, whatever CARGO_TARGET_DIR says).
#
#   scripts/deb.sh                  release build, then the .deb (target/debian/)
#   scripts/deb.sh --profile dev    the debug binary already built (`cargo build`): no new build
#
# Prints the .deb's path last. Needs cargo-deb (cargo install --locked cargo-deb).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
if [ "${1:-}" = "--profile" ]; then
    profile=${2:?--profile needs a name}
fi
case "$profile" in
    dev) dir=debug ;;
    *) dir=$profile ;;
esac
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
if [ "$profile" = dev ]; then
    cargo build --locked -p portent
else
    cargo build --locked -p portent --profile "$profile"
fi
bin=$target/$dir/portent

# Always here (not under CARGO_TARGET_DIR): the manifest names these files by a path relative to
# crates/cli, as cargo-deb resolves every asset but the binary.
assets=$PWD/target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --dir "$assets/man"
gzip -9n "$assets"/man/*.1
"$bin" completions bash >"$assets/completions/portent.bash"
"$bin" completions zsh >"$assets/completions/_portent"
"$bin" completions fish >"$assets/completions/portent.fish"

out=$target/debian
mkdir -p "$out"
CARGO_TARGET_DIR=$target cargo deb -p portent --locked --no-build --profile "$profile" --output "$out" >"$assets/cargo-deb.out"
tail -n 1 "$assets/cargo-deb.out"
