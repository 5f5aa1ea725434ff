# vsftpd standalone in the foreground (background=NO), anonymous off, no PAM-dependent chroot.
mkdir -p /var/run/vsftpd/empty # vsftpd's secure_chroot_dir (a fixed path)
cat >"$ZOO_DIR/vsftpd.conf" <<CFG
listen=YES
listen_address=127.0.0.1
listen_port=21
background=NO
anonymous_enable=NO
local_enable=YES
secure_chroot_dir=/var/run/vsftpd/empty
pam_service_name=vsftpd
xferlog_enable=NO
CFG
exec /usr/sbin/vsftpd "$ZOO_DIR/vsftpd.conf"
