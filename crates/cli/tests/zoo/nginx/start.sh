# nginx in the foreground (daemon off), one worker, everything under $ZOO_DIR.
mkdir -p "$ZOO_DIR/www" "$ZOO_DIR/tmp"
echo "zoo" >"$ZOO_DIR/www/index.html"
cat >"$ZOO_DIR/nginx.conf" <<CFG
daemon off;
worker_processes 1;
pid $ZOO_DIR/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $ZOO_DIR/tmp;
    proxy_temp_path $ZOO_DIR/tmp;
    fastcgi_temp_path $ZOO_DIR/tmp;
    uwsgi_temp_path $ZOO_DIR/tmp;
    scgi_temp_path $ZOO_DIR/tmp;
    server {
        listen 127.0.0.1:80;
        root $ZOO_DIR/www;
    }
}
CFG
exec /usr/sbin/nginx -c "$ZOO_DIR/nginx.conf" -p "$ZOO_DIR"
