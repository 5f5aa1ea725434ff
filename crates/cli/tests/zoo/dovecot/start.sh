# dovecot in the foreground (-F) with a config of its own: IMAP and POP3, plain and over TLS
# with a self-signed certificate made here; base_dir and state under $ZOO_DIR.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=zoo.test" \
    -keyout "$ZOO_DIR/key.pem" -out "$ZOO_DIR/cert.pem" 2>/dev/null
cat >"$ZOO_DIR/dovecot.conf" <<CFG
protocols = imap pop3
listen = 127.0.0.1
base_dir = $ZOO_DIR/run
state_dir = $ZOO_DIR/state
log_path = $ZOO_DIR/dovecot.log
ssl = yes
ssl_cert = <$ZOO_DIR/cert.pem
ssl_key = <$ZOO_DIR/key.pem
mail_location = maildir:$ZOO_DIR/mail/%u
passdb {
  driver = static
  args = password=zoo
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$ZOO_DIR/mail/%u
}
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
CFG
mkdir -p "$ZOO_DIR/run" "$ZOO_DIR/state"
exec /usr/sbin/dovecot -F -c "$ZOO_DIR/dovecot.conf"
