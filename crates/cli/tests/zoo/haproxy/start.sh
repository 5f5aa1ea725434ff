# haproxy in the foreground (-db), one HTTP frontend on 8080 that answers itself
# (http-request return) and a stats page under /stats.
cat >"$ZOO_DIR/haproxy.cfg" <<CFG
global
    pidfile $ZOO_DIR/haproxy.pid
defaults
    mode http
    timeout client 10s
    timeout connect 5s
    timeout server 10s
frontend zoo
    bind 127.0.0.1:8080
    stats enable
    stats uri /stats
    http-request return status 200 content-type text/plain string "zoo" unless { path_beg /stats }
CFG
exec /usr/sbin/haproxy -db -f "$ZOO_DIR/haproxy.cfg"
