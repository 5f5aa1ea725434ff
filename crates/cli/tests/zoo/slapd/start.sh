# OpenLDAP's slapd with a minimal slapd.conf (one mdb database in $ZOO_DIR), in the foreground (-d 0).
mkdir -p "$ZOO_DIR/db"
cat >"$ZOO_DIR/slapd.conf" <<CFG
include /etc/ldap/schema/core.schema
pidfile $ZOO_DIR/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "dc=zoo,dc=test"
rootdn "cn=admin,dc=zoo,dc=test"
directory $ZOO_DIR/db
CFG
exec /usr/sbin/slapd -d 0 -f "$ZOO_DIR/slapd.conf" -h ldap://127.0.0.1:389/
