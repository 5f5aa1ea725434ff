# rpcbind in the foreground (-f); its lock and socket live in /run (fixed paths it insists on).
mkdir -p /run/rpcbind
exec /usr/sbin/rpcbind -f -w
