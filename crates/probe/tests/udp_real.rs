//! The UDP payload catalogue against real Debian servers: dnsmasq, chrony, snmpd, rpcbind,
//! tftpd-hpa and memcached, started by the test in a network namespace of its own (joined to
//! ours by a veth pair), each sent its catalogue payloads from an ordinary UDP socket, each
//! reply read by `portent_probe::udp::identify`. Every expectation is exact about what the
//! server reveals.
//!
//! These tests need root (namespaces) and the servers (`scripts/test` installs them); without
//! either they FAIL, loudly. Nothing is sent outside the namespace.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portent_probe::udp::{Catalogue, Identity, Reply, identify};

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
}
