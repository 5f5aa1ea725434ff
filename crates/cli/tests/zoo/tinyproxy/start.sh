# tinyproxy in the foreground (-d), as its own user, loopback only, no log file.
cat >"$ZOO_DIR/tinyproxy.conf" <<CFG
User tinyproxy
Group tinyproxy
Port 8888
Listen 127.0.0.1
Timeout 60
MaxClients 10
Allow 127.0.0.1
CFG
exec /usr/bin/tinyproxy -d -c "$ZOO_DIR/tinyproxy.conf"
