# etcd, one member, data in $ZOO_DIR, clients on 2379 (plain HTTP), peers on 2380.
exec /usr/bin/etcd --name zoo --data-dir "$ZOO_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster zoo=http://127.0.0.1:2380
