#!/usr/bin/env bash
# Tests the Debian package for real: builds it from the debug binary (scripts/deb.sh --profile
# dev: no release build), installs it with dpkg, checks what it installed, removes and purges
# it. Root only (scripts/test runs it as root). The package is removed even when a check fails.
# Refuses to run when a portent package it did not install is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "scripts/deb-test.sh: $*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs and removes the package)"
if dpkg-query -W -f='${Status}' portent 2>/dev/null | grep -q "installed"; then
    fail "a portent package is already installed; not touching it (dpkg -r portent first)"
fi

installed=""
cleanup() {
    rc=$?
    if [ -n "$installed" ]; then
        dpkg -P portent >/dev/null 2>&1 || echo "scripts/deb-test.sh: could not purge portent" >&2
    fi
    [ "$rc" -eq 0 ] || echo "scripts/deb-test.sh: FAILED (exit $rc)" >&2
    exit "$rc"
}
trap cleanup EXIT

deb=$(./scripts/deb.sh --profile dev | tail -n 1)
[ -f "$deb" ] || fail "scripts/deb.sh printed no .deb ($deb)"
echo "scripts/deb-test.sh: installing $deb"
installed=yes
dpkg -i "$deb"

# The binary: the port page, exit 0.
[ -x /usr/bin/portent ] || fail "/usr/bin/portent is not installed"
page=$(/usr/bin/portent 797) || fail "portent 797 exited $?"
grep -q "797" <<<"$page" || fail "portent 797 printed no port page: $page"

# The manual pages, through man-db.
man -P cat portent 2>/dev/null | grep -q "EXIT STATUS" || fail "man portent has no EXIT STATUS"
man -P cat portent-scan 2>/dev/null | grep -q "EXAMPLES" || fail "man portent-scan has no EXAMPLES"

# Completions.
bash -c 'source /usr/share/bash-completion/completions/portent && complete -p portent' >/dev/null ||
    fail "the bash completion does not define a completion for portent"
[ -s /usr/share/zsh/vendor-completions/_portent ] || fail "no zsh completion"
[ -s /usr/share/fish/vendor_completions.d/portent.fish ] || fail "no fish completion"
for f in LICENSE-MIT LICENSE-APACHE README.Debian; do
    [ -s "/usr/share/doc/portent/$f" ] || fail "no /usr/share/doc/portent/$f"
done

# The example config file: shipped, valid as it is (every key commented out), and no file in
# /etc (portent needs none; docs/config.md).
example=/usr/share/doc/portent/examples/config.toml
[ -s "$example" ] || fail "no $example"
PORTENT_CONFIG_SYSTEM=$example PORTENT_CONFIG=/dev/null portent config --check >/dev/null ||
    fail "$example is not a valid config file"
if dpkg -L portent | grep -q '^/etc/portent'; then
    fail "the package installs a file in /etc/portent"
fi

# The service: installed, valid, the user made, and not enabled (systemd is usually not running
# in a CI container, so it is not started here either).
unit=/usr/lib/systemd/system/portent.service
[ -f "$unit" ] || fail "$unit is not installed"
getent passwd portent >/dev/null || fail "the postinst made no portent user"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit failed"
fi
if compgen -G "/etc/systemd/system/*.wants/portent.service" >/dev/null; then
    fail "portent.service was enabled on install"
fi

echo "scripts/deb-test.sh: removing"
dpkg -r portent
[ ! -e /usr/bin/portent ] || fail "/usr/bin/portent is still there after dpkg -r"
dpkg -P portent
installed=""
dpkg-query -W -f='${Status}' portent 2>/dev/null | grep -q "installed" && fail "portent still installed after purge"
[ ! -e "$unit" ] || fail "$unit is still there after purge"
echo "scripts/deb-test.sh: ok"
