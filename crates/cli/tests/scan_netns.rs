//! `portent scan` and `portent check` end to end, against test hosts in network namespaces
//! these tests create: a scanner namespace and a target namespace joined by a veth pair, with
//! listeners in the target and nftables rules that DROP some ports, REJECT some with a TCP
//! reset and some with ICMP administratively prohibited. Every expected set is exact.
//!
//! These tests need root (to create namespaces). Without it they FAIL, loudly: a CI that
//! cannot run them must not look green. Nothing here sends a packet outside the namespaces.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs::File;
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Ports with a listener in the target namespace and no rule in front.
const OPEN: [u16; 6] = [22, 770, 797, 8080, 40000, 65535];
/// Dropped silently: filtered, reason timeout.
const DROP: [u16; 3] = [23, 771, 61000];
/// Rejected with a TCP reset (a listener is behind two of them): closed, reason reset.
const RESET: [u16; 3] = [24, 772, 8081];
/// Rejected with ICMP administratively prohibited: filtered, reason icmp-*.
const ICMP: [u16; 3] = [25, 773, 8082];
/// Listeners hidden behind the reset rule.
const HIDDEN: [u16; 2] = [772, 8081];

const SCAN_V4: &str = "198.18.0.1";
const TARGET_V4: &str = "198.18.0.2";
const SCAN_V6: &str = "fd00:5ca7::1";
const TARGET_V6: &str = "fd00:5ca7::2";
/// In the target's subnet, but nobody has it: for host discovery.
const NOBODY_V4: &str = "198.18.0.3";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

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

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the network namespace tests need root (CI runs as root); they fail rather than skip"
    );
}

/// A network namespace, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("pt-{}-{n}-{tag}", std::process::id());
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

    fn exec(&self, args: &[&str]) -> Output {
        self.exec_env(args, &[])
    }

    /// `exec` with more environment variables (a scheduler's, for shards).
    fn exec_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        // Runs remembered by these scans go to a store of their own, not the user's.
        let data = tempfile::tempdir().unwrap();
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .envs(env.iter().copied())
            .env("PORTENT_DATA_DIR", data.path())
            .output()
            .unwrap()
    }

    /// Binds listeners inside the namespace (from a thread that joins it) and accepts and
    /// drops connections until the process ends.
    fn listen(&self, ports: &[u16]) {
        let file = File::open(format!("/run/netns/{}", self.name)).unwrap();
        let ports = ports.to_vec();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut ls = Vec::new();
            for p in ports {
                ls.push(TcpListener::bind(("0.0.0.0", p)).unwrap());
                let v6 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)
                    .unwrap();
                v6.set_only_v6(true).unwrap();
                v6.set_reuse_address(true).unwrap();
                v6.bind(&std::net::SocketAddr::from(([0u16; 8], p)).into())
                    .unwrap();
                v6.listen(1024).unwrap();
                ls.push(v6.into());
            }
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
    }

    /// UDP sockets inside the namespace: `echo` ports reflect every datagram (RFC 862), `silent`
    /// ports are bound and never answer (so the kernel sends no port unreachable either).
    fn udp(&self, echo: &[u16], silent: &[u16]) {
        let file = File::open(format!("/run/netns/{}", self.name)).unwrap();
        let (echo, silent) = (echo.to_vec(), silent.to_vec());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut keep = Vec::new();
            for p in silent {
                keep.push(std::net::UdpSocket::bind(("0.0.0.0", p)).unwrap());
            }
            let mut echoes = Vec::new();
            for p in echo {
                echoes.push(std::net::UdpSocket::bind(("0.0.0.0", p)).unwrap());
            }
            tx.send(()).unwrap();
            for s in echoes {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    while let Ok((n, from)) = s.recv_from(&mut buf) {
                        let _ = s.send_to(&buf[..n], from);
                    }
                });
            }
            // The silent sockets live as long as the test process.
            std::mem::forget(keep);
        });
        rx.recv().unwrap();
    }

    fn nft(&self, rules: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run nft (Debian package nftables; scripts/test installs it)");
        use std::io::Write;
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

/// A scanner namespace and a target namespace on a veth pair, the target with listeners and
/// firewall rules.
struct Lab {
    scanner: Netns,
    target: Netns,
}

fn lab() -> Lab {
    require_root();
    let scanner = Netns::new("s");
    let target = Netns::new("t");
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let (a, b) = (
        format!("pts{}x{n}", std::process::id() % 100_000),
        format!("ptt{}x{n}", std::process::id() % 100_000),
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
    let mut listeners: Vec<u16> = OPEN.to_vec();
    listeners.extend_from_slice(&HIDDEN);
    target.listen(&listeners);
    target.nft(&format!(
        "table inet portent_test {{
           chain input {{
             type filter hook input priority 0;
             tcp dport {{ {} }} drop
             tcp dport {{ {} }} reject with tcp reset
             tcp dport {{ {} }} reject with icmpx type admin-prohibited
           }}
         }}",
        list(&DROP),
        list(&RESET),
        list(&ICMP)
    ));
    Lab { scanner, target }
}

fn portent_in(ns: &Netns, args: &[&str]) -> Output {
    let mut v = vec![env!("CARGO_BIN_EXE_portent")];
    v.extend_from_slice(args);
    let o = ns.exec(&v);
    assert!(
        o.status.code() != Some(2),
        "portent {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// (address, port, state, reason) from `--csv --all`.
fn csv_rows(o: &Output) -> Vec<(String, u16, String, String)> {
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "address,hostname,port,protocol,state,reason,rtt_ms,attempts,service,registry_status,range,ghost,note"
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.splitn(7, ',').collect();
            assert_eq!(f[3], "tcp");
            (
                f[0].to_owned(),
                f[2].parse().unwrap(),
                f[4].to_owned(),
                f[5].to_owned(),
            )
        })
        .collect()
}

fn set(ports: &[u16]) -> BTreeSet<u16> {
    ports.iter().copied().collect()
}

/// Checks a full-range result against the lab's exact sets.
fn assert_lab_result(rows: &[(String, u16, String, String)], icmp_reason: &str) {
    let by = |state: &str| -> BTreeSet<u16> {
        rows.iter().filter(|r| r.2 == state).map(|r| r.1).collect()
    };
    assert_eq!(by("open"), set(&OPEN), "open");
    let filtered: BTreeSet<u16> = DROP.iter().chain(ICMP.iter()).copied().collect();
    assert_eq!(by("filtered"), filtered, "filtered");
    for r in rows {
        let want = if OPEN.contains(&r.1) {
            "syn-ack"
        } else if DROP.contains(&r.1) {
            "no-response"
        } else if ICMP.contains(&r.1) {
            icmp_reason
        } else {
            "conn-refused"
        };
        assert_eq!(r.3, want, "port {}", r.1);
    }
}

#[test]
fn full_range_over_veth_v4_exact_sets() {
    let lab = lab();
    let o = portent_in(&lab.scanner, &["scan", TARGET_V4, "-p-", "--csv", "--all"]);
    let rows = csv_rows(&o);
    assert_eq!(rows.len(), 65535);
    let ports: BTreeSet<u16> = rows.iter().map(|r| r.1).collect();
    assert_eq!(ports.len(), 65535, "every port exactly once");
    assert!(rows.iter().all(|r| r.0 == TARGET_V4));
    // On IPv4 the kernel reports ICMP admin-prohibited as EHOSTUNREACH.
    assert_lab_result(&rows, "host-unreach");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn full_range_of_a_namespace_loopback_has_no_self_connects() {
    // The target's own loopback: an empty 127.0.0.1 apart from our listeners. Destination
    // ports inside the ephemeral range make the kernel pick the same source port now and then
    // (TCP self-connect); none may show up as open.
    let lab = lab();
    let o = portent_in(&lab.target, &["scan", "127.0.0.1", "--csv", "--all"]);
    let rows = csv_rows(&o);
    assert_eq!(rows.len(), 65535);
    assert_lab_result(&rows, "host-unreach");
}

#[test]
fn ipv6_over_veth_and_icmpv6_admin_prohibited() {
    let lab = lab();
    let ports = "20-30,765-800,8079-8083,40000,61000,65535";
    let o = portent_in(
        &lab.scanner,
        &["scan", TARGET_V6, "-p", ports, "--jsonl", "--all"],
    );
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "port" {
            for k in ["address", "port", "protocol", "state", "reason"] {
                assert!(!v[k].is_null(), "{k} missing in {line}");
            }
            rows.push((
                v["address"].as_str().unwrap().to_owned(),
                v["port"].as_u64().unwrap() as u16,
                v["state"].as_str().unwrap().to_owned(),
                v["reason"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(rows.len(), 11 + 36 + 5 + 3);
    let open: BTreeSet<u16> = rows.iter().filter(|r| r.2 == "open").map(|r| r.1).collect();
    assert_eq!(open, set(&[22, 770, 797, 8080, 40000, 65535]));
    for r in &rows {
        let want = match r.1 {
            23 | 771 | 61000 => ("filtered", "no-response"),
            25 | 773 | 8082 => ("filtered", "admin-prohibited"),
            p if OPEN.contains(&p) => ("open", "syn-ack"),
            _ => ("closed", "conn-refused"),
        };
        assert_eq!((r.2.as_str(), r.3.as_str()), want, "port {}", r.1);
    }
}

#[test]
fn json_table_and_xml_agree_and_explain_open_ports() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("scan.xml");
    let xml_s = xml.to_str().unwrap();
    let o = portent_in(
        &lab.scanner,
        &["scan", TARGET_V4, "-p", "1-1024", "--json", "-oX", xml_s],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let host = &v["hosts"][0];
    assert_eq!(host["address"], TARGET_V4);
    assert_eq!(host["counts"]["open"], 3);
    assert_eq!(host["counts"]["filtered"], 4);
    assert_eq!(host["counts"]["closed"], 1024 - 7);
    let ports = host["ports"].as_array().unwrap();
    let p797 = ports.iter().find(|p| p["port"] == 797).unwrap();
    assert_eq!(p797["state"], "open");
    assert_eq!(p797["reason"], "syn-ack");
    assert_eq!(p797["protocol"], "tcp");
    assert_eq!(p797["service"], "unassigned");
    assert_eq!(p797["ghost"], true);
    assert!(!p797["note"].as_str().unwrap().is_empty());
    assert!(p797["rtt_ms"].as_f64().unwrap() >= 0.0);
    let p770 = ports.iter().find(|p| p["port"] == 770).unwrap();
    assert_eq!(p770["service"], "cadlock");
    assert_eq!(p770["ghost"], false);

    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(
        x.contains(r#"<port protocol="tcp" portid="797"><state state="open" reason="syn-ack""#)
    );
    assert!(
        x.contains(r#"<extraports state="filtered" count="4">"#),
        "{x}"
    );
    // ndiff (nmap's own XML reader) accepts it, and sees no difference from itself.
    let nd = Command::new("ndiff")
        .args([xml_s, xml_s])
        .output()
        .expect("run ndiff (Debian package ndiff; scripts/test installs it)");
    assert!(
        nd.status.code() == Some(0),
        "ndiff rejected our XML: {}{}",
        String::from_utf8_lossy(&nd.stdout),
        String::from_utf8_lossy(&nd.stderr)
    );

    let o = portent_in(
        &lab.scanner,
        &[
            "scan",
            TARGET_V4,
            "-p",
            "ssh,797,770,23",
            "--color",
            "never",
        ],
    );
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("797/tcp") && t.contains("ghost"), "{t}");
    assert!(t.contains("770/tcp") && t.contains("cadlock"), "{t}");
    assert!(t.contains("23/tcp") && t.contains("filtered"), "{t}");
}

#[test]
fn discovery_skips_absent_hosts_and_no_ping_scans_them() {
    let lab = lab();
    let o = portent_in(
        &lab.scanner,
        &[
            "scan",
            TARGET_V4,
            NOBODY_V4,
            "-p",
            "797,8080",
            "--json",
            "--timeout",
            "300ms",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["hosts_down"], 1);
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0]["address"], TARGET_V4);
    assert_eq!(hosts[0]["status"], "up");
    assert_eq!(hosts[0]["counts"]["open"], 2);

    let o = portent_in(
        &lab.scanner,
        &[
            "scan",
            TARGET_V4,
            NOBODY_V4,
            "-p",
            "797",
            "--json",
            "--no-ping",
            "--timeout",
            "300ms",
            "--retries",
            "0",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 2);
    let nobody = &hosts[1];
    assert_eq!(nobody["address"], NOBODY_V4);
    assert_eq!(nobody["ports"][0]["state"], "filtered");
}

#[test]
fn check_reports_source_interface_and_exit_status() {
    let lab = lab();
    let o = portent_in(&lab.scanner, &["check", TARGET_V4, "797", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["open"], true);
    let r = &v["results"][0];
    assert_eq!(r["address"], TARGET_V4);
    assert_eq!(r["source"], SCAN_V4);
    assert!(r["interface"].as_str().unwrap().starts_with("pts"));
    assert_eq!(r["reason"], "syn-ack");
    assert_eq!(v["service"], "unassigned");

    let o = portent_in(&lab.scanner, &["check", TARGET_V6, "ssh"]);
    assert_eq!(o.status.code(), Some(0));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(
        t.contains("TCP test succeeded") && t.contains(SCAN_V6),
        "{t}"
    );

    let o = portent_in(
        &lab.scanner,
        &["check", TARGET_V4, "23", "--timeout", "200ms", "--json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"][0]["state"], "filtered");
    assert_eq!(v["results"][0]["reason"], "no-response");
    assert_eq!(v["results"][0]["attempts"], 2);

    let o = portent_in(&lab.scanner, &["check", TARGET_V4, "24"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("conn-refused")
    );
}

#[test]
fn ctrl_c_prints_the_results_so_far() {
    let lab = lab();
    // Dropped ports with a long timeout keep the scan going; the open ones answer at once.
    let data = tempfile::tempdir().unwrap();
    let child = Command::new("ip")
        .env("PORTENT_DATA_DIR", data.path())
        .args([
            "netns",
            "exec",
            &lab.scanner.name,
            env!("CARGO_BIN_EXE_portent"),
        ])
        .args([
            "scan",
            TARGET_V4,
            "-p",
            "1-1000",
            "--json",
            "--timeout",
            "20s",
            "--retries",
            "0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // `ip netns exec` execs the binary: the child's PID is portent's.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["interrupted"], true);
    let host = &v["hosts"][0];
    assert_eq!(host["complete"], false);
    let open: BTreeSet<u64> = host["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "open")
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert_eq!(open, [22, 770, 797].into_iter().collect());
    assert_eq!(
        v["totals"]["filtered"], 2,
        "the ICMP-rejected 25 and 773 are in"
    );
}

/// A scan of both protocols: exact states and nmap's reasons on each, UDP identification in
/// JSON, `protocol="udp"` in the XML, and `check PORT/udp` with its three answers.
#[test]
fn udp_and_tcp_in_one_scan_and_udp_checks() {
    let lab = lab();
    lab.target.udp(&[7], &[771, 40001]);
    lab.target.nft(
        "table inet portent_udp {
           chain input {
             type filter hook input priority 0;
             udp dport 771 drop
             udp dport 773 reject with icmpx type admin-prohibited
           }
         }",
    );
    // The target's ICMP rate limit off, so every closed port answers (the limit itself is
    // the engine's tests' subject: crates/scan/tests/udp.rs).
    let o = lab
        .target
        .exec(&["sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("scan.xml");
    let o = portent_in(
        &lab.scanner,
        &[
            "scan",
            TARGET_V4,
            "-sU",
            "-sT",
            "-p",
            "T:22,23,U:7,53,69,771,773,40001",
            "--json",
            "-oX",
            xml.to_str().unwrap(),
            "--no-save",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ports"]["list"], "22-23");
    assert_eq!(v["ports"]["udp"]["list"], "7,53,69,771,773,40001");
    let ports = v["hosts"][0]["ports"].as_array().unwrap();
    let got: Vec<(String, u64, String, String)> = ports
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap().to_owned(),
                p["port"].as_u64().unwrap(),
                p["state"].as_str().unwrap().to_owned(),
                p["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, u64, String, String)> = [
        ("tcp", 22, "open", "syn-ack"),
        ("tcp", 23, "filtered", "no-response"),
        ("udp", 7, "open", "udp-response"),
        ("udp", 53, "closed", "port-unreach"),
        // TFTP's payload is sent from an unconnected socket (replies come from another
        // port); its port unreachable is read from the ICMP error queue.
        ("udp", 69, "closed", "port-unreach"),
        ("udp", 771, "open|filtered", "no-response"),
        ("udp", 773, "filtered", "admin-prohibited"),
        ("udp", 40001, "open|filtered", "no-response"),
    ]
    .iter()
    .map(|(a, b, c, d)| ((*a).to_owned(), *b, (*c).to_owned(), (*d).to_owned()))
    .collect();
    assert_eq!(got, want);
    let echo = &ports[2]["detection"];
    assert_eq!(echo["service"], "echo", "{echo}");
    assert_eq!(echo["verdict"]["matches"], true, "{echo}");
    assert_eq!(v["totals"]["open_filtered"], 2, "{}", v["totals"]);

    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(
        x.contains(r#"<scaninfo type="connect" protocol="tcp" numservices="2""#),
        "{x}"
    );
    assert!(
        x.contains(r#"<scaninfo type="udp" protocol="udp" numservices="6""#),
        "{x}"
    );
    assert!(
        x.contains(r#"<port protocol="udp" portid="7"><state state="open" reason="udp-response""#),
        "{x}"
    );
    assert!(
        x.contains(
            r#"<port protocol="udp" portid="771"><state state="open|filtered" reason="no-response""#
        ),
        "{x}"
    );

    // The table names the protocol of every row and counts open|filtered.
    let o = portent_in(
        &lab.scanner,
        &["scan", TARGET_V4, "-p", "U:7,53,771", "--no-save"],
    );
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("7/udp") && t.contains("speaks: echo"), "{t}");
    assert!(t.contains("3 UDP ports each"), "{t}");
    assert!(t.contains("1 open|filtered"), "{t}");

    // check PORT/udp: open (exit 0), closed (1), silent (1, inconclusive).
    let o = portent_in(&lab.scanner, &["check", TARGET_V4, "7/udp", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["protocol"], "udp");
    assert_eq!(v["results"][0]["reason"], "udp-response");
    assert_eq!(v["detection"]["service"], "echo");
    let o = portent_in(&lab.scanner, &["check", TARGET_V4, "U:53"]);
    assert_eq!(o.status.code(), Some(1));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(
        t.contains("port-unreach") && t.contains("UDP test failed"),
        "{t}"
    );
    let o = portent_in(&lab.scanner, &["check", TARGET_V4, "771/udp"]);
    assert_eq!(o.status.code(), Some(1));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("UDP test inconclusive"), "{t}");
}

/// The (port, state, protocol) fields of every `Ports:` line in grepable output, and the
/// `Ignored State` sections, with the line shapes reduced to their prefixes.
type GrepableFacts = (Vec<String>, Vec<(u16, String, String)>, Vec<String>);

fn grepable_facts(text: &str) -> GrepableFacts {
    let mut shapes = Vec::new();
    let mut ports = Vec::new();
    let mut ignored = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let sections: Vec<&str> = line.split('\t').collect();
        let kind = sections[1].split(':').next().unwrap();
        shapes.push(format!("{}\t{kind}", sections[0]));
        for s in &sections[1..] {
            if let Some(list) = s.strip_prefix("Ports: ") {
                for p in list.split(", ") {
                    let f: Vec<&str> = p.split('/').collect();
                    assert_eq!(f.len(), 8, "seven fields and a closing slash: {p}");
                    ports.push((f[0].parse().unwrap(), f[1].to_owned(), f[2].to_owned()));
                }
            } else if let Some(i) = s.strip_prefix("Ignored State: ") {
                ignored.push(i.to_owned());
            }
        }
    }
    (shapes, ports, ignored)
}

/// `-oG` line for line against nmap's own grepable output for the same host and ports: the
/// same lines, sections and port fields (the service names come from each tool's own
/// knowledge: portent's registry, nmap's services file). Run with nmap as a peer only.
#[test]
fn grepable_output_matches_nmaps_line_for_line() {
    let lab = lab();
    let mut all: Vec<u16> = OPEN
        .iter()
        .chain(&DROP)
        .chain(&RESET)
        .chain(&ICMP)
        .copied()
        .collect();
    all.sort_unstable();
    let ports = all.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    let nmap = lab.scanner.exec(&[
        "nmap",
        "-sT",
        "-Pn",
        "-n",
        "-p",
        &ports,
        "--max-retries",
        "1",
        "-oG",
        "-",
        TARGET_V4,
    ]);
    assert!(
        nmap.status.success(),
        "nmap (Debian package nmap; scripts/test installs it): {}",
        String::from_utf8_lossy(&nmap.stderr)
    );
    let ours = portent_in(
        &lab.scanner,
        &["scan", TARGET_V4, "-p", &ports, "-Pn", "-oG", "-"],
    );
    let (theirs, mine) = (
        String::from_utf8(nmap.stdout).unwrap(),
        String::from_utf8(ours.stdout).unwrap(),
    );
    let (t, m) = (grepable_facts(&theirs), grepable_facts(&mine));
    assert_eq!(m.0, t.0, "line shapes\nnmap:\n{theirs}\nportent:\n{mine}");
    assert_eq!(m.1, t.1, "port fields\nnmap:\n{theirs}\nportent:\n{mine}");
    assert_eq!(
        m.2, t.2,
        "ignored states\nnmap:\n{theirs}\nportent:\n{mine}"
    );
    assert_eq!(m.1.len(), all.len());
    // The comment lines frame the file as nmap's do.
    assert!(mine.starts_with("# portent ") && mine.contains(" scan initiated "));
    assert!(
        mine.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("-- 1 IP address (1 host up) scanned in "),
        "{mine}"
    );
}

/// The XML is valid under nmap's DTD (with the scanner name swapped in: the DTD allows only
/// "nmap"), for a scan with listed, ignored and detected ports; ndiff reads it.
#[test]
fn xml_is_valid_under_nmaps_dtd() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("plain.xml", vec!["-p", "1-1024"]),
        ("few.xml", vec!["-p", "22,23,24,25,797"]),
        (
            "detect.xml",
            vec!["-p", "22,797,8080", "-sV", "--detect-timeout", "2s"],
        ),
    ] {
        let path = dir.path().join(name);
        let mut args = vec!["scan", TARGET_V4, "-oX", path.to_str().unwrap(), "-q"];
        args.extend(&extra);
        portent_in(&lab.scanner, &args);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#"startstr=""#) && text.contains(r#"timestr=""#));
        let swapped = dir.path().join(format!("nmap-{name}"));
        std::fs::write(
            &swapped,
            text.replace(r#"scanner="portent""#, r#"scanner="nmap""#),
        )
        .unwrap();
        let v = Command::new("xmllint")
            .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
            .arg(&swapped)
            .output()
            .expect("xmllint (Debian package libxml2-utils; scripts/test installs it)");
        assert!(
            v.status.success(),
            "{name} is not valid under nmap.dtd: {}\n{text}",
            String::from_utf8_lossy(&v.stderr)
        );
    }
}

/// --top-ports and -F take portent's ranking (crates/registry/data/knowledge/top-ports.toml), per protocol.
#[test]
fn top_ports_follow_portents_ranking() {
    let lab = lab();
    let o = portent_in(
        &lab.scanner,
        &["scan", TARGET_V4, "--top-ports", "5", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ports"]["count"], 5, "{v}");
    let o = portent_in(&lab.scanner, &["scan", TARGET_V4, "-F", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ports"]["count"], 100, "{v}");
    // 22 is in the first 100, 797 (no common use today) is not.
    let open: Vec<u64> = v["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "open")
        .map(|p| p["port"].as_u64().unwrap())
        .collect();
    assert!(open.contains(&22) && open.contains(&8080), "{open:?}");
    assert!(!open.contains(&797), "{open:?}");
}

/// The table, the JSON, the CSV and the XML give each port the same reason, in nmap's words
/// (`conn-refused`, `no-response`, `host-unreach`).
#[test]
fn every_form_gives_the_same_reason() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("r.xml");
    let o = portent_in(
        &lab.scanner,
        &[
            "scan",
            TARGET_V4,
            "-p",
            "22,23,24,25",
            "--json",
            "-oX",
            xml.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let x = std::fs::read_to_string(&xml).unwrap();
    let table = String::from_utf8(
        portent_in(
            &lab.scanner,
            &["scan", TARGET_V4, "-p", "22,23,24,25", "--color", "never"],
        )
        .stdout,
    )
    .unwrap();
    let csv = String::from_utf8(
        portent_in(
            &lab.scanner,
            &["scan", TARGET_V4, "-p", "22,23,24,25", "--csv"],
        )
        .stdout,
    )
    .unwrap();
    for (port, want) in [
        (22, "syn-ack"),
        (23, "no-response"),
        (24, "conn-refused"),
        (25, "host-unreach"),
    ] {
        let p = v["hosts"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["port"] == port)
            .unwrap();
        assert_eq!(p["reason"], want, "JSON {port}");
        assert!(
            x.contains(&format!(
                r#"portid="{port}"><state state="{}" reason="{want}""#,
                p["state"].as_str().unwrap()
            )),
            "XML {port}: {x}"
        );
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{port}/tcp")))
            .unwrap();
        assert!(
            row.split_whitespace().nth(2) == Some(want),
            "table {port}: {row}"
        );
        assert!(
            csv.contains(&format!(
                ",{port},tcp,{},{want},",
                p["state"].as_str().unwrap()
            )),
            "CSV {port}: {csv}"
        );
    }
}

/// `--shard K/N` (and the same shard named by Slurm's or Kubernetes' environment): the shards
/// of a two-host scan are disjoint, each is non-empty, and together they are exactly the
/// unsharded scan, states and reasons included. N larger than the number of pairs leaves
/// some shards empty, and the union is still the whole.
#[test]
fn shards_are_disjoint_and_their_union_is_the_whole_scan() {
    let lab = lab();
    let ports = "1-300,8080-8082,40000,61000,65535";
    let base = ["scan", TARGET_V4, TARGET_V6, "-p", ports, "--csv", "--all"];
    let rows = |o: &Output| -> BTreeSet<(String, u16, String, String)> {
        csv_rows(o).into_iter().collect()
    };
    let whole = rows(&portent_in(&lab.scanner, &base));
    assert_eq!(whole.len(), 2 * 306, "every pair of the unsharded scan");

    for n in [4usize, 7] {
        let mut union = BTreeSet::new();
        for k in 1..=n {
            let shard = format!("{k}/{n}");
            let mut args = base.to_vec();
            args.extend(["--shard", &shard, "--seed", "42"]);
            let o = portent_in(&lab.scanner, &args);
            let part = rows(&o);
            assert!(!part.is_empty(), "shard {shard} is empty");
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(
                stderr.contains(&format!("shard {shard} (from --shard)")),
                "{stderr}"
            );
            for r in part {
                assert!(union.insert(r.clone()), "{r:?} in two shards of {n}");
            }
        }
        assert_eq!(union, whole, "the {n} shards together are the scan");
    }

    // The scheduler's environment names the same shards as the flag.
    let by_flag = {
        let mut args = base.to_vec();
        args.extend(["--shard", "3/4"]);
        rows(&portent_in(&lab.scanner, &args))
    };
    let with_env = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![env!("CARGO_BIN_EXE_portent")];
        args.extend_from_slice(&base);
        args.extend_from_slice(extra);
        let o = lab.scanner.exec_env(&args, env);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        (rows(&o), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (slurm, said) = with_env(
        &[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ],
        &[],
    );
    assert_eq!(slurm, by_flag, "Slurm task 3 of 1-4 is shard 3/4");
    assert!(
        said.contains("shard 3/4 (from SLURM_ARRAY_TASK_ID"),
        "{said}"
    );
    let (k8s, said) = with_env(&[("JOB_COMPLETION_INDEX", "2")], &["--shards", "4"]);
    assert_eq!(k8s, by_flag, "Kubernetes index 2 of 4 is shard 3/4");
    assert!(
        said.contains("shard 3/4 (from JOB_COMPLETION_INDEX"),
        "{said}"
    );
    let (k8s, _) = with_env(
        &[("JOB_COMPLETION_INDEX", "2"), ("PORTENT_SHARDS", "4")],
        &[],
    );
    assert_eq!(k8s, by_flag, "PORTENT_SHARDS gives the count");

    // More shards than pairs: one port on one host, three shards; exactly one has it.
    let mut seen = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let o = portent_in(
            &lab.scanner,
            &[
                "scan", TARGET_V4, "-p", "797", "--csv", "--all", "--shard", &shard,
            ],
        );
        seen += csv_rows(&o).len();
    }
    assert_eq!(seen, 1, "the one pair is in exactly one of three shards");

    // Mistakes are errors, never a silent full scan.
    for (args, env, want) in [
        (vec!["--shard", "5/4"], vec![], "invalid shard '5/4'"),
        (vec!["--shards", "4"], vec![], "needs a shard index"),
        (vec!["--shard", "1/2", "-sU"], vec![], "TCP scans only"),
        (
            vec![],
            vec![("JOB_COMPLETION_INDEX", "1")],
            "shard count is unknown",
        ),
    ] {
        let mut argv = vec![
            env!("CARGO_BIN_EXE_portent"),
            "scan",
            TARGET_V4,
            "-p",
            "797",
        ];
        argv.extend_from_slice(&args);
        let o = lab.scanner.exec_env(&argv, &env);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

// ---- SYN mode (-sS): raw sockets, the same lab, the same sets ----

/// Runs a scan with `--csv --all` and returns its rows by port.
fn csv_by_port(ns: &Netns, args: &[&str]) -> std::collections::BTreeMap<u16, (String, String)> {
    let mut v = vec!["scan"];
    v.extend_from_slice(args);
    v.extend_from_slice(&["--csv", "--all", "--no-save"]);
    let o = portent_in(ns, &v);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    csv_rows(&o)
        .into_iter()
        .map(|(_, port, state, reason)| (port, (state, reason)))
        .collect()
}

#[test]
fn syn_full_range_over_veth_matches_the_connect_scan() {
    let lab = lab();
    let connect = csv_by_port(&lab.scanner, &[TARGET_V4, "-p-"]);
    let syn = csv_by_port(&lab.scanner, &[TARGET_V4, "-p-", "-sS"]);
    assert_eq!(syn.len(), 65535);
    for (port, (state, reason)) in &connect {
        let (s, r) = &syn[port];
        assert_eq!(s, state, "state of port {port}");
        // The SYN scan reads the ICMP error itself and names its code; the connect scan gets
        // it from the kernel as EHOSTUNREACH (host-unreach).
        let want = if ICMP.contains(port) {
            "admin-prohibited"
        } else {
            reason.as_str()
        };
        assert_eq!(r, want, "reason of port {port}");
    }
    let rows: Vec<(String, u16, String, String)> = syn
        .iter()
        .map(|(p, (s, r))| (TARGET_V4.to_owned(), *p, s.clone(), r.clone()))
        .collect();
    assert_lab_result(&rows, "admin-prohibited");
}

#[test]
fn syn_ipv6_over_veth_matches_the_connect_scan() {
    let lab = lab();
    let connect = csv_by_port(&lab.scanner, &[TARGET_V6, "-p-"]);
    let syn = csv_by_port(&lab.scanner, &[TARGET_V6, "-p-", "-sS"]);
    assert_eq!(syn.len(), 65535);
    // Over IPv6 both name the ICMPv6 error alike (admin-prohibited): the same table.
    assert_eq!(syn, connect);
    let rows: Vec<(String, u16, String, String)> = syn
        .iter()
        .map(|(p, (s, r))| (TARGET_V6.to_owned(), *p, s.clone(), r.clone()))
        .collect();
    assert_lab_result(&rows, "admin-prohibited");
    // Both families in one run: each target gets its own family's probes.
    let both = portent_in(
        &lab.scanner,
        &[
            "scan",
            TARGET_V4,
            TARGET_V6,
            "-sS",
            "-p",
            "20-30",
            "--csv",
            "--all",
            "--no-save",
        ],
    );
    let rows = csv_rows(&both);
    assert_eq!(rows.len(), 22);
    for addr in [TARGET_V4, TARGET_V6] {
        let open: Vec<u16> = rows
            .iter()
            .filter(|r| r.0 == addr && r.2 == "open")
            .map(|r| r.1)
            .collect();
        assert_eq!(open, [22], "{addr}");
    }
}

#[test]
fn syn_full_range_of_a_namespace_loopback() {
    let lab = lab();
    let syn = csv_by_port(&lab.target, &["127.0.0.1", "-sS", "-p-"]);
    let rows: Vec<(String, u16, String, String)> = syn
        .iter()
        .map(|(p, (s, r))| ("127.0.0.1".to_owned(), *p, s.clone(), r.clone()))
        .collect();
    assert_eq!(rows.len(), 65535);
    assert_lab_result(&rows, "admin-prohibited");
}

/// Nine loopback addresses at every port: 589,815 probes, more than one chunk of the SYN
/// scan's walk (524,288), so results stream out chunk by chunk and each host's count is still
/// exact.
#[test]
fn syn_scan_larger_than_one_chunk_is_exact() {
    let lab = lab();
    let o = portent_in(
        &lab.target,
        &[
            "scan",
            "127.0.0.1-9",
            "-sS",
            "-p-",
            "--csv",
            "--all",
            "--no-save",
            "--seed",
            "3",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = csv_rows(&o);
    assert_eq!(rows.len(), 9 * 65535);
    for i in 1..=9 {
        let addr = format!("127.0.0.{i}");
        let mine: Vec<(String, u16, String, String)> =
            rows.iter().filter(|r| r.0 == addr).cloned().collect();
        assert_eq!(mine.len(), 65535, "{addr}");
        let ports: BTreeSet<u16> = mine.iter().map(|r| r.1).collect();
        assert_eq!(ports.len(), 65535, "{addr}: every port once");
        assert_lab_result(&mine, "admin-prohibited");
    }
}

#[test]
fn syn_without_privilege_is_a_clear_error() {
    let lab = lab();
    // As nobody, with no capabilities: the raw socket is refused before anything is sent.
    let o = lab.scanner.exec(&[
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        env!("CARGO_BIN_EXE_portent"),
        "scan",
        TARGET_V4,
        "-sS",
        "-p",
        "22",
        "--no-save",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("CAP_NET_RAW") && err.contains("-sT"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty() || !String::from_utf8_lossy(&o.stdout).contains("open"));
}

/// The TCP checksum over the IPv4 pseudo-header (the fixture's own, independent of portent's).
fn tcp_sum(src: [u8; 4], dst: [u8; 4], seg: &[u8]) -> u16 {
    let mut b = Vec::new();
    b.extend_from_slice(&src);
    b.extend_from_slice(&dst);
    b.extend_from_slice(&[0, 6]);
    b.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    b.extend_from_slice(seg);
    if b.len() % 2 == 1 {
        b.push(0);
    }
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 packet (header written by us: IP_HDRINCL) carrying a TCP segment with `flags`.
fn forged(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, ack: u32, flags: u8) -> Vec<u8> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&1024u16.to_be_bytes());
    let sum = tcp_sum(src, dst, &tcp);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(&tcp);
    ip
}

/// An IPv4 ICMP destination unreachable (`code`) from `src` to `dst`, quoting a SYN from
/// `dst`:`sport` to `target`:`dport` with sequence number `seq` (the header and 8 bytes).
#[allow(clippy::too_many_arguments)]
fn forged_icmp(
    src: [u8; 4],
    dst: [u8; 4],
    target: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    code: u8,
) -> Vec<u8> {
    let mut icmp = vec![3, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&[0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    icmp.extend_from_slice(&dst);
    icmp.extend_from_slice(&target);
    icmp.extend_from_slice(&sport.to_be_bytes());
    icmp.extend_from_slice(&dport.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    let mut sum: u32 = icmp
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    icmp[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut ip = vec![
        0x45,
        0,
        0,
        20 + icmp.len() as u8,
        0,
        0,
        0x40,
        0,
        64,
        1,
        0,
        0,
    ];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(&icmp);
    ip
}

/// Starts a thread in `ns` that watches SYNs on the wire (AF_PACKET, before the firewall) and
/// answers each with forged replies from `forge(dport, seq)`; stops after `for_how_long`.
fn injector(
    ns: &Netns,
    for_how_long: std::time::Duration,
    forge: impl Fn(u16, u16, u32) -> Vec<Vec<u8>> + Send + 'static,
) -> std::thread::JoinHandle<u64> {
    let file = File::open(format!("/run/netns/{}", ns.name)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        // ETH_P_IP in network byte order; SOCK_DGRAM: the IP packet without the link header.
        let sniff = Socket::new(
            Domain::PACKET,
            Type::DGRAM,
            Some(Protocol::from(i32::from(0x0800u16.to_be()))),
        )
        .unwrap();
        sniff
            .set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let send = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255))).unwrap();
        send.set_header_included_v4(true).unwrap();
        tx.send(()).unwrap();
        let until = std::time::Instant::now() + for_how_long;
        let mut sent = 0u64;
        let mut buf = [0u8; 2048];
        while std::time::Instant::now() < until {
            let n = match std::io::Read::read(&mut &sniff, &mut buf) {
                Ok(n) => n,
                Err(_) => continue,
            };
            let p = &buf[..n];
            if n < 40 || p[0] >> 4 != 4 || p[9] != 6 {
                continue;
            }
            let ihl = usize::from(p[0] & 15) * 4;
            let t = &p[ihl..];
            if t[13] != 0x02 || p[12..16] != [198, 18, 0, 1] {
                continue;
            }
            let sport = u16::from_be_bytes([t[0], t[1]]);
            let dport = u16::from_be_bytes([t[2], t[3]]);
            let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
            for pkt in forge(sport, dport, seq) {
                let to = SockAddr::from(std::net::SocketAddrV4::new(
                    std::net::Ipv4Addr::new(198, 18, 0, 1),
                    0,
                ));
                send.send_to(&pkt, &to).unwrap();
                sent += 1;
            }
        }
        sent
    });
    rx.recv().unwrap();
    h
}

#[test]
fn syn_ignores_forged_stale_and_non_target_replies() {
    let lab = lab();
    // NOBODY_V4 answers from inside the target namespace: a host that is not a target.
    lab.target
        .ip(&["addr", "add", &format!("{NOBODY_V4}/32"), "dev", "lo"]);
    const T: [u8; 4] = [198, 18, 0, 2];
    const N: [u8; 4] = [198, 18, 0, 3];
    const S: [u8; 4] = [198, 18, 0, 1];
    const SYNACK: u8 = 0x12;
    const RST_ACK: u8 = 0x14;
    // Only DROP ports are forged for (nothing real ever answers them), so any accepted
    // forgery shows as a state change. 61000 gets one correct reply: the control that proves
    // injected packets reach the scanner and pass when valid.
    let seq_of_23 = std::sync::Arc::new(std::sync::Mutex::new(None::<u32>));
    let remembered = std::sync::Arc::clone(&seq_of_23);
    let inj = injector(
        &lab.target,
        std::time::Duration::from_secs(6),
        move |sport, dport, seq| {
            match dport {
                23 => {
                    *remembered.lock().unwrap() = Some(seq);
                    vec![
                        // Wrong acknowledgement (cookie + 2), a SYN-ACK and a reset.
                        forged(T, S, 23, sport, seq.wrapping_add(2), SYNACK),
                        forged(T, S, 23, sport, seq.wrapping_add(2), RST_ACK),
                        // Right cookie, wrong source: a host that is not a target.
                        forged(N, S, 23, sport, seq.wrapping_add(1), SYNACK),
                        // Right cookie, from a port not in the plan.
                        forged(T, S, 31, sport, seq.wrapping_add(1), SYNACK),
                        // An ICMP error quoting a SYN with the wrong sequence number.
                        forged_icmp(N, S, T, sport, 23, seq.wrapping_add(1), 13),
                    ]
                }
                // A stale cookie: the one for port 23, replayed for port 771; then a valid
                // ICMP error from a router (not a target: routers send them), which is the
                // control for ICMP: 771 turns admin-prohibited.
                771 => match *remembered.lock().unwrap() {
                    Some(s23) => vec![
                        forged(T, S, 771, sport, s23.wrapping_add(1), SYNACK),
                        forged_icmp(N, S, T, sport, 771, seq, 13),
                    ],
                    None => Vec::new(),
                },
                61000 => vec![forged(T, S, 61000, sport, seq.wrapping_add(1), SYNACK)],
                _ => Vec::new(),
            }
        },
    );
    let mut v = vec![env!("CARGO_BIN_EXE_portent")];
    v.extend_from_slice(&[
        "scan",
        TARGET_V4,
        "-sS",
        "-p",
        "20-30,771,61000",
        "--json",
        "--all",
        "--no-save",
        "--seed",
        "7",
    ]);
    let o = lab.scanner.exec(&v);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sent = inj.join().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ports = doc["hosts"][0]["ports"].as_array().unwrap();
    let state = |p: u64| {
        ports.iter().find(|x| x["port"] == p).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let reason = |p: u64| {
        ports.iter().find(|x| x["port"] == p).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(state(61000), "open", "the control forgery must be accepted");
    assert_eq!(state(23), "filtered");
    assert_eq!(
        reason(23),
        "no-response",
        "an ICMP error with a wrong cookie"
    );
    assert_eq!(state(771), "filtered");
    assert_eq!(
        reason(771),
        "admin-prohibited",
        "the valid ICMP error must be accepted"
    );
    assert_eq!(state(22), "open");
    assert_eq!(state(24), "closed");
    // Only the target was reported on, and 31 (not in the plan) not at all.
    assert_eq!(doc["hosts"].as_array().unwrap().len(), 1);
    assert!(ports.iter().all(|x| x["port"] != 31));
    assert!(seq_of_23.lock().unwrap().is_some());
    // Every bad forgery was seen and ignored: 4 per SYN to 23 (two rounds) + 1 per SYN to
    // 771 after 23's.
    let ignored = doc["stats"]["unmatched_replies"].as_u64().unwrap_or(0);
    assert!(sent >= 6, "injector sent {sent}");
    assert!(ignored >= 4, "ignored {ignored} of {sent} forged");
}
