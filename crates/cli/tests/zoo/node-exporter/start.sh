# Prometheus' node exporter on 127.0.0.1:9100 (it runs in the foreground).
exec /usr/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:9100
