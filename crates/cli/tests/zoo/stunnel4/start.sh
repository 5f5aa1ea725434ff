# stunnel4 in the foreground (foreground = yes) wrapping a plain HTTP server (Python's
# http.server on 127.0.0.1:8000, started here and stopped with this process group) in TLS on 443,
# with a self-signed certificate made here.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=zoo.test" \
    -keyout "$ZOO_DIR/key.pem" -out "$ZOO_DIR/cert.pem" 2>/dev/null
mkdir -p "$ZOO_DIR/www"
echo "zoo" >"$ZOO_DIR/www/index.html"
python3 -m http.server 8000 --bind 127.0.0.1 --directory "$ZOO_DIR/www" >/dev/null 2>&1 &
# stunnel listens at once, but what it forwards to must be up first: otherwise an early TLS
# session finds nothing behind it (a lab race, not stunnel's behaviour). At most 10 s.
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null && break
    sleep 0.1
done
cat >"$ZOO_DIR/stunnel.conf" <<CFG
foreground = yes
pid =
[https]
accept = 127.0.0.1:443
connect = 127.0.0.1:8000
cert = $ZOO_DIR/cert.pem
key = $ZOO_DIR/key.pem
CFG
exec /usr/bin/stunnel4 "$ZOO_DIR/stunnel.conf"
