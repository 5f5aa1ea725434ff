# Monit with its web interface on 127.0.0.1:2812, in the foreground (-I); state in $ZOO_DIR.
cat >"$ZOO_DIR/monitrc" <<CFG
set daemon 60
set idfile $ZOO_DIR/monit.id
set statefile $ZOO_DIR/monit.state
set pidfile $ZOO_DIR/monit.pid
set httpd port 2812 and use address 127.0.0.1
  allow localhost
  allow admin:monit
CFG
chmod 600 "$ZOO_DIR/monitrc"
exec /usr/bin/monit -I -c "$ZOO_DIR/monitrc"
