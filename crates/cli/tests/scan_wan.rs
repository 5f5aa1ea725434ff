//! `portent scan` over a simulated wide-area path: two namespaces joined by TUN devices and the
//! user-space delay line of `portent-netsim` (this kernel has no netem). The target is a real
//! TCP stack with listeners and nftables rules; the path adds a 20 ms round trip and, in one
//! test, random loss. Checks timing behaviour: the RTT estimate, retries and back-off under
//! loss, and exact results regardless. Needs root; fails without it.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portent_netsim::{DelayLine, PathConfig, PortRule, open_tun};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

const OPEN: [u16; 4] = [22, 770, 797, 8080];
const DROP: [u16; 2] = [23, 771];

fn sh(cmd: &[&str]) {
    let o = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e} (needs iproute2, nftables)", cmd[0]));
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

struct Wan {
    scanner: Netns,
    _target: Netns,
    _line: DelayLine,
}

fn wan(loss: f64, ports: Vec<PortRule>) -> Wan {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the simulated-network tests need root (CI runs as root); they fail rather than skip"
    );
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let s = format!("ptw-{}-{n}-s", std::process::id());
    let t = format!("ptw-{}-{n}-t", std::process::id());
    sh(&["ip", "netns", "add", &s]);
    let scanner = Netns(s.clone());
    sh(&["ip", "netns", "add", &t]);
    let target = Netns(t.clone());
    for (ns, addr) in [(&s, "198.19.0.1/24"), (&t, "198.19.0.2/24")] {
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        sh(&[
            "ip", "-n", ns, "tuntap", "add", "dev", "ptw0", "mode", "tun",
        ]);
        sh(&["ip", "-n", ns, "link", "set", "ptw0", "txqueuelen", "10000"]);
        sh(&["ip", "-n", ns, "addr", "add", addr, "dev", "ptw0"]);
        sh(&["ip", "-n", ns, "link", "set", "ptw0", "up"]);
    }
    let line = DelayLine::start(
        open_tun(&s, "ptw0").unwrap(),
        open_tun(&t, "ptw0").unwrap(),
        PathConfig {
            one_way: Duration::from_millis(10),
            loss,
            ports,
            ..PathConfig::default()
        },
    );
    // Listeners in the target, through the helper binary's logic: a thread in the namespace.
    let file = std::fs::File::open(format!("/run/netns/{t}")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let ls: Vec<std::net::TcpListener> = OPEN
            .iter()
            .map(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).unwrap())
            .collect();
        tx.send(()).unwrap();
        for l in ls {
            std::thread::spawn(move || {
                for c in l.incoming() {
                    drop(c);
                }
            });
        }
    });
    rx.recv().unwrap();
    let rules = format!(
        "table inet portent_wan {{\n chain input {{\n type filter hook input priority 0;\n tcp dport {{ {} }} drop\n }}\n }}\n",
        DROP.map(|p| p.to_string()).join(", ")
    );
    let mut child = Command::new("ip")
        .args(["netns", "exec", &t, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("run nft");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(rules.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    Wan {
        scanner,
        _target: target,
        _line: line,
    }
}

fn scan(w: &Wan, args: &[&str]) -> (Output, serde_json::Value) {
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &w.scanner.0,
            env!("CARGO_BIN_EXE_portent"),
            "scan",
        ])
        .args(args)
        // These tests are about scanning: nothing is remembered (crates/cli/tests/memory.rs
        // tests saving).
        .arg("--no-save")
        .output()
        .unwrap();
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = serde_json::from_slice(&o.stdout).unwrap();
    (o, v)
}

fn states(v: &serde_json::Value, state: &str) -> BTreeSet<u64> {
    v["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == state)
        .map(|p| p["port"].as_u64().unwrap())
        .collect()
}

/// The scan of `scanned` ports (all those of OPEN and DROP among them) found exactly OPEN
/// open, DROP filtered and every other port closed.
fn assert_exact(v: &serde_json::Value, scanned: u64) {
    assert_eq!(
        states(v, "open"),
        OPEN.iter().map(|&p| u64::from(p)).collect()
    );
    assert_eq!(
        states(v, "filtered"),
        DROP.iter().map(|&p| u64::from(p)).collect()
    );
    let closed = scanned - (OPEN.len() + DROP.len()) as u64;
    assert_eq!(v["hosts"][0]["counts"]["closed"], closed, "{}", v["stats"]);
}

#[test]
fn rtt_is_estimated_from_the_path() {
    let w = wan(0.0, Vec::new());
    let (_, v) = scan(&w, &["198.19.0.2", "-p", "1-2000,8080", "--json", "--all"]);
    let srtt = v["hosts"][0]["srtt_ms"].as_f64().unwrap();
    assert!(
        (19.0..60.0).contains(&srtt),
        "srtt {srtt} ms on a 20 ms path"
    );
    assert_exact(&v, 2001);
    // Every answer took at least the path's round trip.
    for p in v["hosts"][0]["ports"].as_array().unwrap() {
        if let Some(rtt) = p["rtt_ms"].as_f64() {
            assert!(rtt >= 19.0, "{p}");
        }
    }
}

#[test]
fn loss_is_retried_and_backed_off_without_false_filtered() {
    // 3% loss each way, and one port whose packets are all lost (silent, like a DROP rule).
    let w = wan(
        0.03,
        vec![PortRule {
            port: 5555,
            loss: 1.0,
            extra_delay: Duration::ZERO,
        }],
    );
    let (_, v) = scan(&w, &["198.19.0.2", "-p", "1-6000,8080", "--json", "--all"]);
    let stats = &v["stats"];
    assert!(stats["losses"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["retries"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["backoffs"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        states(&v, "open"),
        OPEN.iter().map(|&p| u64::from(p)).collect()
    );
    let mut filtered: BTreeSet<u64> = DROP.iter().map(|&p| u64::from(p)).collect();
    filtered.insert(5555);
    assert_eq!(states(&v, "filtered"), filtered, "{stats}");
}

#[test]
fn connect_scan_of_the_full_range_over_the_20ms_path_is_exact() {
    // Two driver threads: each keeps its attempts under way in an epoll set of its own
    // (src/pollset.rs in portent-scan), reusing refused sockets still registered; the dropped
    // ports time out there.
    let w = wan(0.0, Vec::new());
    let (_, v) = scan(
        &w,
        &["198.19.0.2", "-p-", "--threads", "2", "--json", "--all"],
    );
    assert_exact(&v, 65_535);
    for p in v["hosts"][0]["ports"].as_array().unwrap() {
        if p["state"] != "filtered" {
            assert!(p["rtt_ms"].as_f64().unwrap() >= 19.0, "{p}");
        }
    }
}

#[test]
fn syn_scan_over_the_20ms_path_is_exact() {
    let w = wan(0.0, Vec::new());
    let (_, v) = scan(&w, &["198.19.0.2", "-sS", "-p-", "--json", "--all"]);
    assert_exact(&v, 65_535);
    // Round trips come from the timestamp echo of the SYN-ACKs: at least the path's 20 ms.
    let srtt = v["hosts"][0]["srtt_ms"].as_f64().unwrap();
    assert!(
        (19.0..200.0).contains(&srtt),
        "srtt {srtt} ms on a 20 ms path"
    );
    for p in v["hosts"][0]["ports"].as_array().unwrap() {
        if p["state"] == "open" {
            assert!(p["rtt_ms"].as_f64().unwrap() >= 19.0, "{p}");
        }
    }
}
