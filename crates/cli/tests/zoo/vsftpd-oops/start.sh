# vsftpd standalone in the foreground (background=NO), misconfigured as happens in the field:
# its secure_chroot_dir does not exist, so each connection gets "500 OOPS: vsftpd: not found:
# directory given in 'secure_chroot_dir':..." and is closed.
cat >"$ZOO_DIR/vsftpd.conf" <<CFG
listen=YES
listen_address=127.0.0.1
listen_port=21
background=NO
secure_chroot_dir=$ZOO_DIR/missing
CFG
exec /usr/sbin/vsftpd "$ZOO_DIR/vsftpd.conf"
