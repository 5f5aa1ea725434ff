# lighttpd in the foreground (-D), serving a directory under $ZOO_DIR.
mkdir -p "$ZOO_DIR/www"
echo "zoo" >"$ZOO_DIR/www/index.html"
cat >"$ZOO_DIR/lighttpd.conf" <<CFG
server.document-root = "$ZOO_DIR/www"
server.bind = "127.0.0.1"
server.port = 80
server.errorlog = "$ZOO_DIR/error.log"
index-file.names = ( "index.html" )
CFG
exec /usr/sbin/lighttpd -D -f "$ZOO_DIR/lighttpd.conf"
