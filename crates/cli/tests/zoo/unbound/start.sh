# unbound in the foreground (-d), logging to stderr, as root (username: ""), no chroot,
# loopback only, answering for one local zone; version.bind answered as Debian ships it.
cat >"$ZOO_DIR/unbound.conf" <<CFG
server:
    interface: 127.0.0.1
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    directory: "$ZOO_DIR"
    pidfile: "$ZOO_DIR/unbound.pid"
    use-syslog: no
    logfile: ""
    access-control: 127.0.0.0/8 allow
    local-zone: "zoo.test." static
    local-data: "ns.zoo.test. A 127.0.0.1"
remote-control:
    control-enable: no
CFG
exec /usr/sbin/unbound -d -c "$ZOO_DIR/unbound.conf"
