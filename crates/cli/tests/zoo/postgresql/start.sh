# PostgreSQL 15: a throwaway cluster (initdb) in $ZOO_DIR as the postgres user, in the foreground.
chmod o+x "$(dirname "$ZOO_DIR")" # the harness's private temporary directory: let postgres through
chown postgres: "$ZOO_DIR"
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$ZOO_DIR/data" -A trust -U postgres >/dev/null
exec runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D "$ZOO_DIR/data" \
  -c listen_addresses=127.0.0.1 -c port=5432 -c unix_socket_directories="$ZOO_DIR"
