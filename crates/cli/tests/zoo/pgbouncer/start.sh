# PgBouncer in front of nothing (a database entry to a closed port), as the postgres user, in the foreground.
chmod o+x "$(dirname "$ZOO_DIR")" # the harness's private temporary directory: let postgres through
chown postgres: "$ZOO_DIR"
cat >"$ZOO_DIR/pgbouncer.ini" <<CFG
[databases]
zoo = host=127.0.0.1 port=5432 dbname=zoo
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = 6432
unix_socket_dir = $ZOO_DIR
auth_type = trust
auth_file = $ZOO_DIR/users.txt
logfile = $ZOO_DIR/pgbouncer.log
pidfile = $ZOO_DIR/pgbouncer.pid
CFG
echo '"zoo" ""' >"$ZOO_DIR/users.txt"
chown postgres: "$ZOO_DIR"/*
exec runuser -u postgres -- /usr/sbin/pgbouncer "$ZOO_DIR/pgbouncer.ini"
