# redis-server in the foreground, no persistence, data in $ZOO_DIR.
exec /usr/bin/redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "$ZOO_DIR" --daemonize no
