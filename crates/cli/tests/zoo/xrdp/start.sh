# xrdp in the foreground (--nodaemon) with its own ini and a self-signed key pair in $ZOO_DIR.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=zoo -keyout "$ZOO_DIR/key.pem" -out "$ZOO_DIR/cert.pem" 2>/dev/null
sed -e 's/^port=.*/port=tcp:\/\/127.0.0.1:3389/' \
  -e "s|^certificate=.*|certificate=$ZOO_DIR/cert.pem|" -e "s|^key_file=.*|key_file=$ZOO_DIR/key.pem|" \
  -e "s|^LogFile=.*|LogFile=$ZOO_DIR/xrdp.log|" /etc/xrdp/xrdp.ini >"$ZOO_DIR/xrdp.ini"
mkdir -p /run/xrdp # xrdp's pid file (a fixed path)
exec /usr/sbin/xrdp --nodaemon --config "$ZOO_DIR/xrdp.ini"
