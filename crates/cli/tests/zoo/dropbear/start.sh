# dropbear in the foreground (-F), logging to stderr (-E), with an ed25519 host key of its own,
# listening on loopback only, no password logins.
/usr/bin/dropbearkey -t ed25519 -f "$ZOO_DIR/host_ed25519" >/dev/null
exec /usr/sbin/dropbear -F -E -s -p 127.0.0.1:22 -r "$ZOO_DIR/host_ed25519" -P "$ZOO_DIR/dropbear.pid"
