//! The UDP payload catalogue and the UDP scan against real Debian servers: dnsmasq, chrony,
//! snmpd, rpcbind, tftpd-hpa and memcached, started by the test in a network namespace of its
//! own (joined to ours by a veth pair), with a NetInfo `nibindd` stand-in (an ONC RPC server
//! of program 200100001 on 797, written here: no Debian package has one) and nftables rules
//! that drop one port and reject another with ICMP administratively prohibited. First each
//! server is sent its catalogue payloads from an ordinary UDP socket and each reply read by
//! `portent_probe::udp::identify`; then `portent_run::run` scans them all, as `scan -sU`
//! does, and every state, reason and identification is checked exactly.
//!
//! Lives in `portent-run` because it drives the pipeline; the catalogue's own unit tests stay
//! with `portent-probe`.
//!
//! These tests need root (namespaces) and the servers (`scripts/test` installs them); without
//! either they FAIL, loudly. Nothing is sent outside the namespace.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portent_probe::udp::{Catalogue, Identity, Reply, identify};
use portent_run::{RunConfig, RunEvent};
use portent_scan::{PortSet, State, Targets};

/// A server we started (through `ip netns exec`, which execs it: the PID is the server's);
/// killed by that PID and reaped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sh(cmd: &[&str]) {
    let o = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {:?}: {e} (scripts/test installs iproute2)",
                cmd[0]
            )
        });
    assert!(
        o.status.success(),
        "{cmd:?} failed (these tests need root): {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The target namespace and the veth pair to it, removed on drop.
struct Target {
    ns: String,
    veth: String,
    addr: String,
}

impl Target {
    fn new() -> Target {
        let pid = std::process::id();
        let ns = format!("pt-udp-{pid}");
        let veth = format!("ptu{}", pid % 100_000);
        // A /30 of 10.0.0.0/8 picked by PID, so parallel runs do not collide.
        let (a, b) = (200 + (pid % 50), (pid / 50) % 250);
        let (ours, addr) = (format!("10.{a}.{b}.1"), format!("10.{a}.{b}.2"));
        sh(&["ip", "netns", "add", &ns]);
        let t = Target {
            ns: ns.clone(),
            veth: veth.clone(),
            addr: addr.clone(),
        };
        let peer = format!("{veth}p");
        sh(&[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", &peer,
        ]);
        sh(&["ip", "link", "set", &peer, "netns", &ns]);
        sh(&["ip", "addr", "add", &format!("{ours}/30"), "dev", &veth]);
        sh(&["ip", "link", "set", &veth, "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/30"),
            "dev",
            &peer,
        ]);
        sh(&["ip", "-n", &ns, "link", "set", &peer, "up"]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        t
    }

    /// Runs a command in the namespace and waits for it to succeed.
    fn exec(&self, args: &[&str]) {
        let mut v = vec!["ip", "netns", "exec", &self.ns];
        v.extend_from_slice(args);
        sh(&v);
    }

    /// Loads nftables rules in the namespace.
    fn nft(&self, rules: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.ns));
        std::fs::write(&path, rules).unwrap();
        self.exec(&["nft", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(path);
    }

    fn start(&self, args: &[&str]) -> Server {
        assert!(
            std::path::Path::new(args[0]).exists(),
            "{} is missing: run scripts/test, which installs the test servers",
            args[0]
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(args)
            .env("SNMP_PERSISTENT_DIR", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server(child)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// A small xorshift, seeded from the clock: ids differ from run to run.
fn rng() -> impl FnMut() -> u8 {
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0x9e37_79b9, |d| d.subsec_nanos() | 1);
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x.to_le_bytes()[0]
    }
}

/// Sends payload `name` to `addr` until a reply comes (servers take a moment to start) and
/// returns what it identifies. Replies may come from another port (TFTP), so the socket is
/// not connected; only replies from the target's address count.
fn ask(addr: &str, port: u16, name: &str) -> Identity {
    let payload = Catalogue::embedded()
        .get(name)
        .unwrap_or_else(|| panic!("no payload {name}"));
    let target: SocketAddr = format!("{addr}:{port}").parse().unwrap();
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut rng = rng();
    let t0 = Instant::now();
    let mut buf = vec![0u8; 65536];
    while t0.elapsed() < Duration::from_secs(15) {
        let sent = payload.build(&mut rng);
        sock.send_to(&sent, target).unwrap();
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if from.ip() != target.ip() {
                continue;
            }
            match identify(payload, &sent, &buf[..n]) {
                Reply::Answer(i) => return i,
                Reply::NotOurs => panic!("{name}: reply not recognised: {:02x?}", &buf[..n]),
            }
        }
    }
    panic!("{name}: no reply from {target} in 15 s");
}

#[test]
fn real_servers_answer_the_catalogue() {
    let t = Target::new();
    let dir = tempfile::tempdir().unwrap();
    let path = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let tftp_root = path("tftp");
    std::fs::create_dir(&tftp_root).unwrap();
    // tftpd-hpa drops to nobody and chroots into its directory; chrony drops to _chrony.
    for p in [dir.path().to_str().unwrap(), &tftp_root] {
        sh(&["chmod", "755", p]);
    }
    std::fs::write(
        path("chrony.conf"),
        format!(
            "bindaddress {}\nallow all\ncmdport 0\nbindcmdaddress /\nlocal stratum 8\npidfile {}\n",
            t.addr,
            path("chronyd.pid")
        ),
    )
    .unwrap();
    std::fs::write(
        path("snmpd.conf"),
        format!("agentaddress udp:{}:161\nrocommunity public\n", t.addr),
    )
    .unwrap();
    let listen = format!("--listen-address={}", t.addr);
    let dnsmasq_pid = format!("--pid-file={}", path("dnsmasq.pid"));
    let chrony_conf = path("chrony.conf");
    let snmpd_conf = path("snmpd.conf");
    let snmpd_pid = path("snmpd.pid");
    let tftp_addr = format!("{}:69", t.addr);
    let _servers = [
        t.start(&[
            "/usr/sbin/dnsmasq",
            "--keep-in-foreground",
            &listen,
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            &dnsmasq_pid,
        ]),
        t.start(&["/usr/sbin/chronyd", "-x", "-d", "-f", &chrony_conf]),
        t.start(&[
            "/usr/sbin/snmpd",
            "-f",
            "-Lo",
            "-C",
            "-c",
            &snmpd_conf,
            "-p",
            &snmpd_pid,
        ]),
        t.start(&["/usr/sbin/rpcbind", "-f"]),
        t.start(&[
            "/usr/sbin/in.tftpd",
            "--foreground",
            "--ipv4",
            "--address",
            &tftp_addr,
            "--secure",
            &tftp_root,
        ]),
        t.start(&[
            "/usr/bin/memcached",
            "-U",
            "11211",
            "-p",
            "0",
            "-l",
            &t.addr,
            "-u",
            "nobody",
        ]),
    ];
    let a = t.addr.as_str();

    let i = ask(a, 53, "dns-version-bind");
    assert_eq!(
        (i.service.as_str(), i.product.as_deref()),
        ("domain", Some("dnsmasq"))
    );
    assert!(
        i.version.as_deref().is_some_and(|v| v.starts_with("2.")),
        "{i:?}"
    );
    assert_eq!(ask(a, 53, "dns-root-ns").service, "domain");

    let i = ask(a, 123, "ntp-client");
    assert_eq!(i.service, "ntp");
    assert!(
        i.extra.as_deref().is_some_and(|e| e.contains("stratum 8")),
        "{i:?}"
    );

    let i = ask(a, 161, "snmp-v2c-sysdescr");
    assert!(
        i.extra
            .as_deref()
            .is_some_and(|e| e.contains("sysDescr: Linux")),
        "{i:?}"
    );
    assert_eq!(ask(a, 161, "snmp-v1-sysdescr").service, "snmp");
    let i = ask(a, 161, "snmp-v3-discovery");
    assert_eq!(i.product.as_deref(), Some("Net-SNMP"), "{i:?}");

    let i = ask(a, 111, "rpc-portmap-dump");
    assert_eq!(i.service, "rpcbind");
    let rpc = i.rpc.expect("rpc info");
    assert!(
        rpc.mappings
            .iter()
            .any(|m| m.program == 100_000 && m.protocol == "udp" && m.port == 111),
        "{rpc:?}"
    );
    assert_eq!(ask(a, 111, "rpc-portmap-getport").service, "rpcbind");
    // rpcbind has no NFS: it says so, which still names ONC RPC.
    assert_eq!(ask(a, 111, "rpc-null-nfs").service, "rpc");

    let i = ask(a, 69, "tftp-rrq");
    assert_eq!(i.service, "tftp");
    assert!(
        i.extra.as_deref().is_some_and(|e| e.starts_with("ERROR 1")),
        "{i:?}"
    );

    let i = ask(a, 11211, "memcached-version");
    assert_eq!(i.product.as_deref(), Some("memcached"));
    assert!(i.version.is_some(), "{i:?}");

    // The generic payload finds dnsmasq too.
    assert_eq!(
        ask(a, 53, "generic-dns-version").product.as_deref(),
        Some("dnsmasq")
    );

    // NetInfo's binder, as a Mac answered it: an ONC RPC server of program 200100001 on a
    // port of its own (797 here), PROG_UNAVAIL to every other program.
    let _nibindd = t.start(&["/usr/bin/python3", "-c", NIBINDD, &t.addr, "797"]);
    // STUN and CoAP from their reference servers: coturn on 3478, libcoap on 5683.
    let listening_ip = format!("--listening-ip={}", t.addr);
    let _coturn = t.start(&["/usr/bin/turnserver", "-n", &listening_ip, "--no-cli"]);
    let _libcoap = t.start(&["/usr/bin/coap-server-openssl", "-A", &t.addr]);
    t.nft(
        "table inet portent_udp_real {
           chain input {
             type filter hook input priority 0;
             udp dport 5000 drop
             udp dport 5001 reject with icmpx type admin-prohibited
           }
         }",
    );
    // ICMP port unreachable at full rate, so every closed port is told apart.
    t.exec(&["sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0"]);
    // Each fixture answers its payload before the scan starts (ask waits up to 15 s).
    assert_eq!(ask(a, 797, "rpc-null-nibindd").service, "nibind");
    assert_eq!(
        ask(a, 3478, "stun-binding").product.as_deref(),
        Some("Coturn")
    );
    assert_eq!(ask(a, 5683, "coap-well-known-core").service, "coap");

    // The scan, through the pipeline `scan -sU` uses.
    let ports = [
        53u16, 69, 111, 123, 161, 797, 3478, 5000, 5001, 5002, 5683, 11211,
    ];
    let mut config = RunConfig::new(
        Targets::from_addrs([a.parse().unwrap()]),
        PortSet::empty(),
        portent_registry::Registry::embedded(),
    );
    config.udp_ports = PortSet::from_ports(ports);
    config.list_all = true;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut events = 0;
    let mut sink = |e: &RunEvent<'_>| {
        if let RunEvent::Port { detection, .. } = e {
            events += usize::from(detection.is_some());
        }
        std::ops::ControlFlow::Continue(())
    };
    let record = rt
        .block_on(portent_run::run(config, &mut sink, std::future::pending()))
        .unwrap();
    assert!(record.scan_complete);
    let h = &record.hosts[0];
    let state = |port: u16| {
        let r = h.listed.iter().find(|r| r.port == port).unwrap();
        (r.state, r.reason.as_str())
    };
    let found = |port: u16| {
        let d = h
            .udp_detections
            .get(&port)
            .unwrap_or_else(|| panic!("{port}/udp not identified: {:?}", state(port)));
        (d.service.as_str(), d.product.as_deref())
    };
    for port in [53, 69, 111, 123, 161, 797, 3478, 5683, 11211] {
        assert_eq!(state(port), (State::Open, "udp-response"), "{port}");
    }
    assert_eq!(found(53), ("domain", Some("dnsmasq")));
    assert_eq!(found(111).0, "rpcbind");
    assert_eq!(found(123).0, "ntp");
    assert_eq!(found(161).0, "snmp");
    assert_eq!(found(797).0, "nibind");
    assert_eq!(found(11211), ("memcache", Some("memcached")));
    assert_eq!(found(3478), ("stun", Some("Coturn")));
    assert_eq!(found(5683).0, "coap");
    assert!(
        h.udp_detections[&5683]
            .extra
            .as_deref()
            .is_some_and(|e| e.contains("</time>")),
        "{:?}",
        h.udp_detections[&5683]
    );
    let snmp = &h.udp_detections[&161];
    assert!(
        snmp.extra
            .as_deref()
            .is_some_and(|e| e.contains("sysDescr: Linux"))
            || snmp.product.as_deref() == Some("Net-SNMP"),
        "{snmp:?}"
    );
    // Every identification is judged against the registry's UDP assignment.
    assert!(
        h.udp_detections[&53]
            .verdict
            .sentence
            .starts_with("53/udp is assigned to domain"),
        "{}",
        h.udp_detections[&53].verdict.sentence
    );
    assert_eq!(events, 9, "open ports reported with their identification");
    // tftpd-hpa answers from a new port (RFC 1350's transfer id): found all the same.
    assert_eq!(state(69), (State::Open, "udp-response"));
    assert_eq!(found(69).0, "tftp");
    assert_eq!(state(5000), (State::OpenFiltered, "no-response"));
    assert_eq!(state(5001), (State::Filtered, "icmp-admin-prohibited"));
    assert_eq!(state(5002), (State::Closed, "port-unreach"));
    assert_eq!(record.totals.open, 9);
    assert_eq!(record.totals.open_filtered, 1);
}

/// A NetInfo nibindd stand-in (RFC 5531 message layout): replies MSG_ACCEPTED/SUCCESS to a
/// CALL of program 200100001, MSG_ACCEPTED/PROG_UNAVAIL to any other program, nothing to what
/// is not a CALL. Arguments: address, port. Exits after 120 s.
const NIBINDD: &str = r#"
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(1.0)
end = time.time() + 120
while time.time() < end:
    try:
        d, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    if len(d) < 24 or struct.unpack(">I", d[4:8])[0] != 0:
        continue
    xid, prog = d[0:4], struct.unpack(">I", d[12:16])[0]
    stat = 0 if prog == 200100001 else 1
    s.sendto(xid + struct.pack(">IIIII", 1, 0, 0, 0, stat), peer)
"#;
