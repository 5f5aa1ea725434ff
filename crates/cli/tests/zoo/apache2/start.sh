# apache2 in the foreground (-DFOREGROUND) with a minimal config of its own (mpm_event, no
# Debian site config), everything under $ZOO_DIR; Debian's default ServerTokens (Full).
mkdir -p "$ZOO_DIR/www" "$ZOO_DIR/lock"
echo "zoo" >"$ZOO_DIR/www/index.html"
cat >"$ZOO_DIR/apache2.conf" <<CFG
ServerRoot /etc/apache2
ServerName zoo.test
Mutex file:$ZOO_DIR/lock default
PidFile $ZOO_DIR/apache2.pid
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
User www-data
Group www-data
Listen 127.0.0.1:80
ErrorLog $ZOO_DIR/error.log
DocumentRoot $ZOO_DIR/www
<Directory $ZOO_DIR/www>
    Require all granted
</Directory>
CFG
chmod 755 "$ZOO_DIR" "$ZOO_DIR/www"
exec /usr/sbin/apache2 -f "$ZOO_DIR/apache2.conf" -DFOREGROUND
