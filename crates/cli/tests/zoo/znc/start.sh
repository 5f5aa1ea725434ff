# ZNC, an IRC bouncer, with one user and a plain IRC listener on 6667 (its namespace's loopback; ZNC fails to bind "Host = 127.0.0.1" there), in the foreground.
mkdir -p "$ZOO_DIR/configs"
cat >"$ZOO_DIR/configs/znc.conf" <<CFG
Version = 1.8.2
<Listener l>
  Port = 6667
  IPv4 = true
  IPv6 = false
  SSL = false
</Listener>
<User zoo>
  Admin = true
  <Pass password>
    Method = sha256
    Hash = 6c1f2a7a3c6b2f7d0b1a1c9f3f2e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e
    Salt = zoozoozoozoozoozooz
  </Pass>
</User>
CFG
# As nobody: run as root, ZNC waits 30 seconds before it starts.
chmod o+x "$(dirname "$ZOO_DIR")" # the harness's private temporary directory: let nobody through
chown -R nobody: "$ZOO_DIR"
exec runuser -u nobody -- /usr/bin/znc --foreground --no-color --datadir "$ZOO_DIR"
