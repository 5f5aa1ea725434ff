# MariaDB: a fresh data directory (mariadb-install-db) in $ZOO_DIR, the server in the foreground as root.
/usr/bin/mariadb-install-db --user=root --datadir="$ZOO_DIR/data" --auth-root-authentication-method=normal >/dev/null
exec /usr/sbin/mariadbd --no-defaults --user=root --datadir="$ZOO_DIR/data" --socket="$ZOO_DIR/mysqld.sock" \
  --pid-file="$ZOO_DIR/mysqld.pid" --bind-address=127.0.0.1 --port=3306 --skip-log-bin
