# ngIRCd on 127.0.0.1:6667, in the foreground (-n), configuration in $ZOO_DIR.
cat >"$ZOO_DIR/ngircd.conf" <<CFG
[Global]
Name = irc.zoo.test
Info = zoo
Ports = 6667
Listen = 127.0.0.1
PidFile = $ZOO_DIR/ngircd.pid
MotdPhrase = zoo
[Options]
PAM = no
Ident = no
DNS = no
CFG
exec /usr/sbin/ngircd -n -f "$ZOO_DIR/ngircd.conf"
