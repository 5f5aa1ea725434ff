# OpenSSH's sshd with a host key of its own, no PAM, in the foreground (-D), logging to stderr (-e).
ssh-keygen -q -t ed25519 -N "" -f "$ZOO_DIR/host_ed25519"
mkdir -p /run/sshd # sshd's privilege separation directory (a fixed path)
cat >"$ZOO_DIR/sshd_config" <<CFG
Port 22
ListenAddress 127.0.0.1
HostKey $ZOO_DIR/host_ed25519
UsePAM no
PidFile none
CFG
exec /usr/sbin/sshd -D -e -f "$ZOO_DIR/sshd_config"
