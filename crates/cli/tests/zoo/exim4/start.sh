# exim4 as a listening daemon in the foreground (-bdf), on loopback port 25, with a minimal
# config of its own (spool and logs under $ZOO_DIR; exim runs as root here).
cat >"$ZOO_DIR/exim.conf" <<CFG
primary_hostname = zoo.test
daemon_smtp_ports = 25
local_interfaces = 127.0.0.1
spool_directory = $ZOO_DIR/spool
log_file_path = $ZOO_DIR/%slog
exim_user = root
exim_group = root
never_users =
begin acl
begin routers
begin transports
CFG
mkdir -p "$ZOO_DIR/spool"
exec /usr/sbin/exim4 -C "$ZOO_DIR/exim.conf" -bdf -q30m
