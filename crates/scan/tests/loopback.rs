//! The real network on loopback, IPv4 and IPv6: listeners this test binds are open, ports it
//! bound and released are closed. Only ports this test owns are scanned (the machine's own
//! loopback has services that are not ours; wide scans happen in namespaces, see netns.rs).

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::net::{IpAddr, TcpListener};

use portent_scan::{Event, PortSet, Reason, Scanner, State, Targets};

/// Ports that are free now: bound to an ephemeral port and released.
fn free_ports(ip: &str, n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind((ip, 0)).unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

async fn scan(addr: IpAddr, ports: &[u16]) -> Vec<(u16, State, Reason)> {
    let scanner = Scanner::builder(
        Targets::from_addrs([addr]),
        PortSet::from_ports(ports.iter().copied()),
    )
    .build()
    .unwrap();
    let mut out = Vec::new();
    scanner
        .run(|e| {
            if let Event::Port(r) = e {
                assert_eq!(r.addr, addr);
                out.push((r.port, r.state, r.reason));
            }
        })
        .await;
    out.sort();
    out
}

async fn open_and_closed(ip: &str) {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind((ip, 0)).unwrap())
        .collect();
    let open: BTreeSet<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let closed = free_ports(ip, 5);
    let mut ports: Vec<u16> = open.iter().copied().chain(closed.iter().copied()).collect();
    ports.sort();
    let got = scan(ip.parse().unwrap(), &ports).await;
    assert_eq!(got.len(), ports.len(), "{got:?}");
    for (port, state, reason) in got {
        if open.contains(&port) {
            assert_eq!(
                (state, reason),
                (State::Open, Reason::SynAck),
                "port {port}"
            );
        } else {
            assert_eq!(
                (state, reason),
                (State::Closed, Reason::Reset),
                "port {port}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_v4_open_and_closed() {
    open_and_closed("127.0.0.1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_v6_open_and_closed() {
    open_and_closed("::1").await;
}

#[tokio::test]
async fn check_reports_source_and_interface_on_loopback() {
    let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let addrs =
        portent_scan::check::resolve_one("127.0.0.1", &portent_scan::SystemResolver).unwrap();
    let r = portent_scan::check::check(
        &portent_scan::SystemNetwork::default(),
        "127.0.0.1",
        addrs,
        port,
        std::time::Duration::from_secs(2),
        1,
    )
    .await;
    assert!(r.open());
    let a = &r.results[0];
    assert_eq!(a.source, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(a.interface.as_deref(), Some("lo"));
    assert!(a.rtt_ms.is_some());
}

/// A socket whose connection was refused is used again for the next attempt (Linux), and
/// carries nothing over: closed, open and closed again in turns, each read right, on both
/// families, with one socket made per family for all the refusals.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn refused_sockets_are_reused_and_carry_nothing_over() {
    use portent_scan::{Attempt, Network, SystemNetwork};
    use std::time::Duration;
    for ip in ["127.0.0.1", "::1"] {
        let net = SystemNetwork::default();
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let open = listener.local_addr().unwrap();
        let closed = free_ports(ip, 3);
        let mut opened_before_open = 0;
        for round in 0..3 {
            for &p in &closed {
                for _ in 0..10 {
                    let a = net
                        .connect((open.ip(), p).into(), Duration::from_secs(2))
                        .await;
                    assert!(matches!(a, Attempt::Refused { .. }), "{ip} {p}: {a:?}");
                }
            }
            if round == 0 {
                opened_before_open = net.sockets_opened();
                assert_eq!(opened_before_open, 1, "{ip}: 30 refusals, one socket");
            }
            // An open port: connected (its socket is closed, not kept).
            let a = net.connect(open, Duration::from_secs(2)).await;
            assert!(matches!(a, Attempt::Open { .. }), "{ip}: {a:?}");
        }
        // The spare socket served every refusal after each open port too.
        assert!(
            net.sockets_opened() <= opened_before_open + 3,
            "{ip}: {} sockets",
            net.sockets_opened()
        );
    }
}
