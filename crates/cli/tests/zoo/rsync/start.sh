# The rsync daemon with one read-only module, in the foreground (--no-detach).
mkdir -p "$ZOO_DIR/share"
cat >"$ZOO_DIR/rsyncd.conf" <<CFG
pid file = $ZOO_DIR/rsyncd.pid
use chroot = no
[share]
path = $ZOO_DIR/share
read only = yes
CFG
exec /usr/bin/rsync --daemon --no-detach --config="$ZOO_DIR/rsyncd.conf" --address=127.0.0.1 --port=873
