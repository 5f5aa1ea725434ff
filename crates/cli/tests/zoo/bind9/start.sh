# named in the foreground (-g: logs to stderr), as root (-u root), loopback only, IPv4 only,
# one authoritative zone, working directory under $ZOO_DIR.
cat >"$ZOO_DIR/zoo.test.zone" <<ZONE
\$TTL 300
@ IN SOA ns.zoo.test. hostmaster.zoo.test. 1 3600 600 86400 300
@ IN NS ns.zoo.test.
ns IN A 127.0.0.1
ZONE
cat >"$ZOO_DIR/named.conf" <<CFG
options {
    directory "$ZOO_DIR";
    pid-file "$ZOO_DIR/named.pid";
    listen-on port 53 { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
};
zone "zoo.test" { type master; file "$ZOO_DIR/zoo.test.zone"; };
CFG
exec /usr/sbin/named -g -4 -u root -c "$ZOO_DIR/named.conf"
