# CUPS' cupsd in the foreground (-f) with its configuration, spool and logs in $ZOO_DIR.
mkdir -p "$ZOO_DIR/spool" "$ZOO_DIR/cache" "$ZOO_DIR/state" "$ZOO_DIR/log" "$ZOO_DIR/ssl"
cat >"$ZOO_DIR/cupsd.conf" <<CFG
Listen 127.0.0.1:631
WebInterface Yes
<Location />
  Order allow,deny
  Allow all
</Location>
CFG
cat >"$ZOO_DIR/cups-files.conf" <<CFG
ServerRoot $ZOO_DIR
RequestRoot $ZOO_DIR/spool
CacheDir $ZOO_DIR/cache
StateDir $ZOO_DIR/state
AccessLog $ZOO_DIR/log/access_log
ErrorLog $ZOO_DIR/log/error_log
PageLog $ZOO_DIR/log/page_log
ServerKeychain $ZOO_DIR/ssl
CFG
exec /usr/sbin/cupsd -f -c "$ZOO_DIR/cupsd.conf" -s "$ZOO_DIR/cups-files.conf"
