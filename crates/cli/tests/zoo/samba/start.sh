# Samba's smbd with a minimal smb.conf (one share), state under $ZOO_DIR, in the foreground.
mkdir -p "$ZOO_DIR/share" "$ZOO_DIR/state" "$ZOO_DIR/cache" "$ZOO_DIR/private" "$ZOO_DIR/locks" "$ZOO_DIR/pid"
cat >"$ZOO_DIR/smb.conf" <<CFG
[global]
  workgroup = ZOO
  server role = standalone server
  interfaces = lo
  bind interfaces only = yes
  smb ports = 445 139
  state directory = $ZOO_DIR/state
  cache directory = $ZOO_DIR/cache
  private dir = $ZOO_DIR/private
  lock directory = $ZOO_DIR/locks
  pid directory = $ZOO_DIR/pid
  ncalrpc dir = $ZOO_DIR/ncalrpc
  log file = $ZOO_DIR/log.%m
  disable spoolss = yes
  load printers = no
[share]
  path = $ZOO_DIR/share
  read only = yes
CFG
exec /usr/sbin/smbd --foreground --no-process-group --debug-stdout -s "$ZOO_DIR/smb.conf"
