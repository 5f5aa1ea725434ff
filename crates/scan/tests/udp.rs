//! The UDP engine against real kernels: a scanner namespace and a target namespace joined by a
//! veth pair (IPv4 and IPv6), UDP echo responders in the target, and nftables rules that drop
//! some ports (open|filtered) and reject some with ICMP administratively prohibited
//! (filtered); the rest have nobody listening (closed, port unreachable). Run with the
//! target's ICMP rate limit off (every port exact in the default mode) and at the kernel's
//! default (exact with closed-wait; honest without). Plus loopback, which the kernel does not
//! rate-limit.
//!
//! The namespace tests need root. Without it they FAIL, loudly. Nothing here sends a packet
//! outside loopback and the namespaces these tests create.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]
// The lab's constants and helpers are used by the Linux-only namespace tests.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portent_scan::udp::{IcmpBudget, UdpPayloads, UdpProbe, UdpScanner};
use portent_scan::{Event, PortSet, Reason, State, Stats, Targets};

/// Echo responders: open, reason udp-response.
const OPEN: [u16; 3] = [7, 53, 40000];
/// A responder that answers with bytes no probe accepts: open|filtered (not validated).
const GARBLE: [u16; 1] = [1900];
/// Dropped: open|filtered, no-response.
const DROP: [u16; 3] = [9, 161, 61000];
/// Rejected with ICMP administratively prohibited: filtered.
const ADMIN: [u16; 2] = [69, 123];
/// Nobody there: closed, port-unreach.
const CLOSED: [u16; 12] = [
    1000, 1001, 1002, 1003, 2000, 2001, 3000, 3001, 4000, 5000, 6000, 7000,
];

const SCAN_V4: &str = "198.19.0.1";
const TARGET_V4: &str = "198.19.0.2";
const SCAN_V6: &str = "fd00:5ca8::1";
const TARGET_V6: &str = "fd00:5ca8::2";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What the echo test payloads send to a port: two datagrams, each with a per-round nonce.
#[derive(Debug, Default)]
struct Echo {
    nonce: AtomicUsize,
}

impl UdpPayloads for Echo {
    fn probes(&self, port: u16) -> Vec<UdpProbe> {
        let n = self.nonce.fetch_add(1, Ordering::Relaxed);
        (0..2)
            .map(|id| UdpProbe {
                id,
                bytes: format!("portent probe {id} to {port} #{n}").into_bytes(),
            })
            .collect()
    }
    /// An echo: the reply is exactly what was sent.
    fn accepts(&self, _port: u16, probe: &UdpProbe, reply: &[u8]) -> bool {
        reply == probe.bytes
    }
}

struct Outcome {
    events: Vec<Event>,
    stats: Stats,
    elapsed: Duration,
    estimate: Duration,
}

/// port -> (state, reason, rounds), each port once; checks the event order on the way.
fn results(o: &Outcome) -> BTreeMap<u16, (State, Reason, u8)> {
    let ev = &o.events;
    assert!(matches!(ev.first(), Some(Event::Started { .. })), "{ev:?}");
    assert!(matches!(ev.last(), Some(Event::Finished { .. })));
    assert!(matches!(ev[ev.len() - 2], Event::HostDone { .. }));
    let m = port_map(ev);
    if let Some(Event::HostDone { counts, .. }) = ev.iter().rev().nth(1) {
        assert_eq!(counts.total(), m.len() as u64);
        assert_eq!(
            counts.open_filtered,
            m.values().filter(|v| v.0 == State::OpenFiltered).count() as u64
        );
    }
    m
}

/// The results in `ev` (of one host), checking that each open port's replies come before it.
fn port_map(ev: &[Event]) -> BTreeMap<u16, (State, Reason, u8)> {
    let mut m = BTreeMap::new();
    let mut replies: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for e in ev {
        match e {
            Event::UdpReply {
                port,
                probe_id,
                sent,
                reply,
                rtt,
                ..
            } => {
                assert!(!m.contains_key(port), "reply after the port's result");
                assert_eq!(sent, reply, "only echoes are accepted");
                assert!(*rtt < Duration::from_secs(3));
                replies.entry(*port).or_default().push(*probe_id);
            }
            Event::Port(r) => {
                assert_eq!(r.protocol, portent_scan::Protocol::Udp);
                assert_eq!(r.state, r.reason.state());
                assert!(
                    m.insert(r.port, (r.state, r.reason, r.attempts)).is_none(),
                    "port {} twice",
                    r.port
                );
                if r.state == State::Open {
                    let mut ids = replies.remove(&r.port).unwrap_or_default();
                    ids.sort_unstable();
                    assert_eq!(ids, vec![0, 1], "both payloads answered, once each");
                }
            }
            _ => {}
        }
    }
    assert!(
        replies.is_empty(),
        "replies for ports not open: {replies:?}"
    );
    m
}

/// The namespace tests (Linux only: network namespaces and veth pairs).
#[cfg(target_os = "linux")]
mod netns {
    use super::*;

    fn sh(cmd: &[&str]) {
        let o = Command::new(cmd[0]).args(&cmd[1..]).output().unwrap_or_else(|e| {
            panic!(
                "cannot run {:?}: {e}. These tests need iproute2 and nftables (scripts/test installs them)",
                cmd[0]
            )
        });
        assert!(
            o.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// A network namespace, deleted on drop.
    struct Netns {
        name: String,
    }

    impl Netns {
        fn new(tag: &str) -> Netns {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let name = format!("ptu-{}-{n}-{tag}", std::process::id());
            sh(&["ip", "netns", "add", &name]);
            let ns = Netns { name };
            ns.ip(&["link", "set", "lo", "up"]);
            ns
        }

        fn ip(&self, args: &[&str]) {
            let mut v = vec!["ip", "-n", &self.name];
            v.extend_from_slice(args);
            sh(&v);
        }

        fn exec(&self, args: &[&str]) {
            let mut v = vec!["ip", "netns", "exec", &self.name];
            v.extend_from_slice(args);
            sh(&v);
        }

        fn file(&self) -> File {
            File::open(format!("/run/netns/{}", self.name)).unwrap()
        }

        /// UDP responders in the namespace on IPv4 and IPv6, on threads that live as long as
        /// the test process: `echo` sends back what came in, otherwise a fixed wrong answer.
        fn respond(&self, ports: &[u16], echo: bool) {
            let file = self.file();
            let ports = ports.to_vec();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                let mut socks = Vec::new();
                for p in ports {
                    socks.push(UdpSocket::bind(("0.0.0.0", p)).unwrap());
                    let v6 =
                        socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::DGRAM, None)
                            .unwrap();
                    v6.set_only_v6(true).unwrap();
                    v6.bind(&SocketAddr::from(([0u16; 8], p)).into()).unwrap();
                    socks.push(v6.into());
                }
                tx.send(()).unwrap();
                for s in socks {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 2048];
                        while let Ok((n, from)) = s.recv_from(&mut buf) {
                            let answer: &[u8] = if echo { &buf[..n] } else { b"not an echo" };
                            let _ = s.send_to(answer, from);
                        }
                    });
                }
            });
            rx.recv().unwrap();
        }

        fn nft(&self, rules: &str) {
            use std::io::Write;
            let mut child = Command::new("ip")
                .args(["netns", "exec", &self.name, "nft", "-f", "-"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run nft (Debian package nftables; scripts/test installs it)");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(rules.as_bytes())
                .unwrap();
            let o = child.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "nft failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }

    fn list(ports: &[u16]) -> String {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    struct Lab {
        scanner: Netns,
        _target: Netns,
    }

    /// `icmp_ratelimit_off`: the target's per-destination ICMP rate limit set to 0 (IPv4 and
    /// IPv6); otherwise left at the namespace's default, which is checked.
    fn lab(icmp_ratelimit_off: bool) -> Lab {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the network namespace tests need root (CI runs as root); they fail rather than skip"
        );
        let scanner = Netns::new("s");
        let target = Netns::new("t");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let (a, b) = (
            format!("pus{}x{n}", std::process::id() % 100_000),
            format!("put{}x{n}", std::process::id() % 100_000),
        );
        scanner.ip(&[
            "link",
            "add",
            &a,
            "type",
            "veth",
            "peer",
            "name",
            &b,
            "netns",
            &target.name,
        ]);
        scanner.ip(&["addr", "add", &format!("{SCAN_V4}/24"), "dev", &a]);
        scanner.ip(&["addr", "add", &format!("{SCAN_V6}/64"), "dev", &a, "nodad"]);
        scanner.ip(&["link", "set", &a, "up"]);
        target.ip(&["addr", "add", &format!("{TARGET_V4}/24"), "dev", &b]);
        target.ip(&[
            "addr",
            "add",
            &format!("{TARGET_V6}/64"),
            "dev",
            &b,
            "nodad",
        ]);
        target.ip(&["link", "set", &b, "up"]);
        if icmp_ratelimit_off {
            target.exec(&["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]);
            target.exec(&["sysctl", "-qw", "net.ipv6.icmp.ratelimit=0"]);
        } else {
            let v = std::fs::read_to_string("/proc/sys/net/ipv4/icmp_ratelimit").ok();
            let o = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &target.name,
                    "sysctl",
                    "-n",
                    "net.ipv4.icmp_ratelimit",
                ])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).trim(),
                "1000",
                "a new namespace starts with the kernel default (host: {v:?})"
            );
        }
        target.respond(&OPEN, true);
        target.respond(&GARBLE, false);
        target.nft(&format!(
            "table inet portent_udp_test {{
               chain input {{
                 type filter hook input priority 0;
                 udp dport {{ {} }} drop
                 udp dport {{ {} }} reject with icmpx type admin-prohibited
               }}
             }}",
            list(&DROP),
            list(&ADMIN)
        ));
        settle(&scanner);
        Lab {
            scanner,
            _target: target,
        }
    }

    /// Waits (at most 5 s) until the new link carries traffic both ways on IPv4 and IPv6.
    /// For about a second after a veth pair comes up, the first datagram to the IPv6 target
    /// draws no answer (seen with a plain socket, no portent involved): a scan started at once
    /// would measure the lab, not the engine. A TCP connect to a closed port is the probe: the
    /// RST it draws is not ICMP, so it spends none of the target's ICMP budget.
    fn settle(scanner: &Netns) {
        let file = scanner.file();
        std::thread::spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            for target in [TARGET_V4, TARGET_V6] {
                let addr = SocketAddr::new(target.parse().unwrap(), 9);
                let t0 = Instant::now();
                loop {
                    match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
                        r => assert!(
                            t0.elapsed() < Duration::from_secs(5),
                            "{addr} not reachable: {r:?}"
                        ),
                    }
                }
            }
        })
        .join()
        .unwrap();
    }

    fn all_ports() -> Vec<u16> {
        let mut v: Vec<u16> = OPEN
            .iter()
            .chain(&GARBLE)
            .chain(&DROP)
            .chain(&ADMIN)
            .chain(&CLOSED)
            .copied()
            .collect();
        v.sort_unstable();
        v
    }

    /// Runs a UDP scan from inside namespace `ns` (a thread that joins it and runs its own
    /// runtime; the sockets are created there).
    fn scan_in(
        ns: Option<&Netns>,
        target: &str,
        ports: &[u16],
        configure: impl FnOnce(
            portent_scan::udp::UdpScannerBuilder,
        ) -> portent_scan::udp::UdpScannerBuilder
        + Send
        + 'static,
    ) -> Outcome {
        scan_many(ns, &[target], ports, configure)
    }

    fn scan_many(
        ns: Option<&Netns>,
        targets: &[&str],
        ports: &[u16],
        configure: impl FnOnce(
            portent_scan::udp::UdpScannerBuilder,
        ) -> portent_scan::udp::UdpScannerBuilder
        + Send
        + 'static,
    ) -> Outcome {
        let file = ns.map(Netns::file);
        let addrs: Vec<IpAddr> = targets.iter().map(|t| t.parse().unwrap()).collect();
        let ports = ports.to_vec();
        std::thread::spawn(move || {
            if let Some(f) = file {
                nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let scanner = configure(UdpScanner::builder(
                Targets::from_addrs(addrs),
                PortSet::from_ports(ports),
                Arc::new(Echo::default()),
            ))
            .seed(11)
            .build()
            .unwrap();
            let estimate = scanner.closed_wait_estimate();
            let mut events = Vec::new();
            let t0 = Instant::now();
            let stats = rt.block_on(scanner.run(|e| events.push(e)));
            Outcome {
                events,
                stats,
                elapsed: t0.elapsed(),
                estimate,
            }
        })
        .join()
        .unwrap()
    }

    fn assert_exact(o: &Outcome, retries: u8) {
        assert_exact_map(&results(o), retries);
        assert!(
            o.stats.unmatched_replies >= 1,
            "the garbling responder was heard"
        );
        assert!(o.stats.icmp_errors >= (ADMIN.len() + CLOSED.len()) as u64);
    }

    fn assert_exact_map(r: &BTreeMap<u16, (State, Reason, u8)>, retries: u8) {
        assert_eq!(r.keys().copied().collect::<Vec<_>>(), all_ports());
        for (port, (state, reason, rounds)) in r {
            let want = if OPEN.contains(port) {
                (State::Open, Reason::UdpResponse)
            } else if DROP.contains(port) || GARBLE.contains(port) {
                (State::OpenFiltered, Reason::NoResponse)
            } else if ADMIN.contains(port) {
                (State::Filtered, Reason::IcmpAdminProhibited)
            } else {
                (State::Closed, Reason::PortUnreach)
            };
            assert_eq!((*state, *reason), want, "port {port}: {r:?}");
            if DROP.contains(port) {
                assert!(*rounds > retries, "port {port}: silence is retried");
            }
        }
    }

    #[test]
    fn icmp_ratelimit_off_every_port_exact_v4_and_v6() {
        let lab = lab(true);
        for target in [TARGET_V4, TARGET_V6] {
            let o = scan_in(Some(&lab.scanner), target, &all_ports(), |b| b);
            assert_exact(&o, 1);
            // Nothing waits for the ICMP budget: every ICMP error answers the port's first
            // probe. (Counted in rounds, not seconds: wall time belongs to bench/udp.sh.)
            assert_first_round_icmp(&results(&o), target);
        }
    }

    #[test]
    fn two_hosts_in_one_scan_interleaved_each_exact() {
        let lab = lab(true);
        let o = scan_many(
            Some(&lab.scanner),
            &[TARGET_V4, TARGET_V6],
            &all_ports(),
            |b| b,
        );
        let mut per_host: BTreeMap<IpAddr, Vec<Event>> = BTreeMap::new();
        let mut done = Vec::new();
        for e in &o.events {
            match e {
                Event::Port(r) => per_host.entry(r.addr).or_default().push(Event::Port(*r)),
                Event::UdpReply { addr, .. } => per_host.entry(*addr).or_default().push(e.clone()),
                Event::HostDone { addr, counts, .. } => {
                    assert_eq!(counts.total(), all_ports().len() as u64);
                    done.push(*addr);
                }
                _ => {}
            }
        }
        done.sort();
        assert_eq!(
            done,
            vec![
                TARGET_V4.parse::<IpAddr>().unwrap(),
                TARGET_V6.parse().unwrap()
            ]
        );
        assert_eq!(per_host.len(), 2);
        for (addr, events) in &per_host {
            let m = port_map(events);
            assert_exact_map(&m, 1);
            assert_first_round_icmp(&m, &addr.to_string());
        }
        // Scanned side by side, not one after the other: each host has a result before the
        // other host is done. (An order of events, not a wall-clock bound: a loaded machine
        // that delays a reply makes the engine retry and back off, which takes seconds.)
        let first_result = |a: IpAddr| {
            o.events
                .iter()
                .position(|e| matches!(e, Event::Port(r) if r.addr == a))
                .unwrap()
        };
        let host_done = |a: IpAddr| {
            o.events
                .iter()
                .position(|e| matches!(e, Event::HostDone { addr, .. } if *addr == a))
                .unwrap()
        };
        let (v4, v6) = (done[0], done[1]);
        assert!(first_result(v4) < host_done(v6), "{:?}", o.events);
        assert!(first_result(v6) < host_done(v4), "{:?}", o.events);
    }

    /// Every ICMP error (closed, admin-prohibited) came back for the port's first probe.
    fn assert_first_round_icmp(r: &BTreeMap<u16, (State, Reason, u8)>, target: &str) {
        for (port, (state, _, rounds)) in r {
            if matches!(state, State::Closed | State::Filtered) {
                assert_eq!(*rounds, 1, "{target} port {port}: {r:?}");
            }
        }
    }

    #[test]
    fn default_icmp_ratelimit_closed_wait_is_exact_and_within_its_estimate() {
        let lab = lab(false);
        for target in [TARGET_V4, TARGET_V6] {
            let o = scan_in(Some(&lab.scanner), target, &all_ports(), |b| {
                b.closed_wait(true)
            });
            assert_exact(&o, 1);
            // Worst case: every port an ICMP error at the assumed rate; plus the first pass.
            assert!(
                o.elapsed < o.estimate + Duration::from_secs(5),
                "{target}: {:?} > {:?}",
                o.elapsed,
                o.estimate
            );
        }
    }

    #[test]
    fn default_icmp_ratelimit_fast_mode_is_honest() {
        let lab = lab(false);
        let o = scan_in(Some(&lab.scanner), TARGET_V4, &all_ports(), |b| b);
        let r = results(&o);
        assert_eq!(r.keys().copied().collect::<Vec<_>>(), all_ports());
        let mut told = 0;
        for (port, (state, reason, _)) in &r {
            if OPEN.contains(port) {
                assert_eq!((*state, *reason), (State::Open, Reason::UdpResponse));
                continue;
            }
            assert_ne!(
                *state,
                State::Open,
                "port {port}: only validated replies are open"
            );
            if DROP.contains(port) || GARBLE.contains(port) {
                assert_eq!((*state, *reason), (State::OpenFiltered, Reason::NoResponse));
            } else if *state != State::OpenFiltered {
                told += 1;
                let want = if ADMIN.contains(port) {
                    Reason::IcmpAdminProhibited
                } else {
                    Reason::PortUnreach
                };
                assert_eq!(*reason, want, "port {port}");
            }
        }
        // Linux's burst for a new destination is 6 errors, then one a second: the first pass
        // gets the burst, and not all 14 in the time it takes.
        let icmp_ports = ADMIN.len() + CLOSED.len();
        // Fewer than all: the fast mode did not wait for the one-a-second budget.
        assert!(
            (6..icmp_ports).contains(&told),
            "{told} of {icmp_ports}: {r:?}"
        );
    }

    #[test]
    fn deadline_stops_closed_wait_and_leaves_only_honest_results() {
        let lab = lab(false);
        let o = scan_in(Some(&lab.scanner), TARGET_V4, &all_ports(), |b| {
            b.closed_wait(true)
                .deadline(Some(Duration::from_millis(2500)))
        });
        assert!(o.elapsed < Duration::from_millis(3500), "{:?}", o.elapsed);
        let r = results(&o);
        assert_eq!(
            r.len() as u64 + o.stats.cut_by_deadline,
            all_ports().len() as u64
        );
        for (port, (state, _, _)) in &r {
            assert_eq!(*state == State::Open, OPEN.contains(port), "port {port}");
        }
        // Not enough time for every closed port at one ICMP error a second.
        let closed = r.values().filter(|v| v.0 == State::Closed).count();
        assert!(closed < CLOSED.len(), "{r:?}");
    }

    #[test]
    fn closed_wait_with_an_assumed_budget_of_the_real_rate() {
        // A caller who knows the target's rate (here: off, so anything works) can say so; the
        // estimate follows it.
        let lab = lab(true);
        let budget = IcmpBudget {
            burst: 6,
            interval: Duration::from_millis(20),
        };
        let o = scan_in(Some(&lab.scanner), TARGET_V4, &all_ports(), move |b| {
            b.closed_wait(true).icmp_budget(Some(budget))
        });
        assert_exact(&o, 1);
        assert!(o.estimate < Duration::from_secs(1), "{:?}", o.estimate);
    }
}

async fn loopback(ip: &str) {
    let echo = UdpSocket::bind((ip, 0)).unwrap();
    let open = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let closed = {
        let s = UdpSocket::bind((ip, 0)).unwrap();
        s.local_addr().unwrap().port()
    };
    let scanner = UdpScanner::builder(
        Targets::from_addrs([ip.parse().unwrap()]),
        PortSet::from_ports([open, closed]),
        Arc::new(Echo::default()),
    )
    .build()
    .unwrap();
    let mut events = Vec::new();
    let stats = scanner.run(|e| events.push(e)).await;
    let o = Outcome {
        events,
        stats,
        elapsed: Duration::ZERO,
        estimate: Duration::ZERO,
    };
    let r = results(&o);
    assert_eq!(r[&open], (State::Open, Reason::UdpResponse, 1));
    assert_eq!(r[&closed], (State::Closed, Reason::PortUnreach, 1));
}

#[tokio::test]
async fn loopback_v4_open_and_closed() {
    loopback("127.0.0.1").await;
}

#[tokio::test]
async fn loopback_v6_open_and_closed() {
    loopback("::1").await;
}
