# Mosquitto, an MQTT broker on 127.0.0.1:1883 with anonymous clients, no persistence, in the foreground.
cat >"$ZOO_DIR/mosquitto.conf" <<CFG
listener 1883 127.0.0.1
allow_anonymous true
persistence false
user root
CFG
exec /usr/sbin/mosquitto -c "$ZOO_DIR/mosquitto.conf"
