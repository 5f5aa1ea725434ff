# squid in the foreground (-N: no daemon), no cache dir, logs and pid under $ZOO_DIR.
cat >"$ZOO_DIR/squid.conf" <<CFG
http_port 127.0.0.1:3128
pid_filename $ZOO_DIR/squid.pid
cache_log $ZOO_DIR/cache.log
access_log none
cache deny all
coredump_dir $ZOO_DIR
cache_effective_user proxy
http_access deny all
CFG
chown proxy "$ZOO_DIR"
exec /usr/sbin/squid -N -f "$ZOO_DIR/squid.conf"
