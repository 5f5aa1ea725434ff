//! `portent scan --detect` and `portent check` against fixture servers on loopback ports the
//! test opens itself (the probe crate's fixtures, reused): exact identifications in JSON, the
//! nmap XML read by `ndiff`, a tarpit settled within its budget, and peer escapes kept off
//! the terminal. NetInfo answers on 797: CI runs as root, and failing to bind fails the test.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../../probe/tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn portent(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", dir.path())
        .output()
        .expect("run portent")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The fixtures: NetInfo on 797, an SSH banner, an HTTP server, a tarpit, and a banner full of
/// terminal escapes. The runtime keeps serving them while the tests run the binary; one lab
/// is shared by every test (797 can be bound once).
struct Lab {
    _rt: tokio::runtime::Runtime,
    netinfo: SocketAddr,
    ssh: SocketAddr,
    http: SocketAddr,
    tarpit: SocketAddr,
    evil: SocketAddr,
}

fn lab() -> &'static Lab {
    static LAB: std::sync::OnceLock<Lab> = std::sync::OnceLock::new();
    LAB.get_or_init(start_lab)
}

fn start_lab() -> Lab {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (netinfo, ssh, http, tarpit, evil) = rt.block_on(async {
        let netinfo = rpc_on(
            "127.0.0.1:797",
            RpcFixture {
                programs: vec![(200_100_000, 2, 2)],
                domains: vec![],
                dump: vec![],
            },
        )
        .await;
        let ssh = banner(b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n").await;
        let http = common::http(
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Type: text/html\r\nContent-Length: 44\r\n\r\n<html><title>Fixture page</title></html>\n\n\n\n",
        )
        .await;
        let tarpit = serve(|s| async move {
            pause(60_000).await;
            drop(s);
        })
        .await;
        let evil = banner(b"\x1b]0;owned\x07\x1b[2J220 \x1b[31mhello\x9b\r\n").await;
        (netinfo, ssh, http, tarpit, evil)
    });
    assert_eq!(netinfo.port(), 797);
    Lab {
        _rt: rt,
        netinfo,
        ssh,
        http,
        tarpit,
        evil,
    }
}

fn port_obj(doc: &Value, port: u16) -> &Value {
    doc["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == port)
        .unwrap_or_else(|| panic!("port {port} missing: {doc}"))
}

#[test]
fn scan_detect_json_names_each_fixture_and_settles_the_tarpit() {
    let lab = lab();
    let ports = [lab.netinfo, lab.ssh, lab.http, lab.tarpit]
        .map(|a| a.port().to_string())
        .join(",");
    let t0 = Instant::now();
    let o = portent(&[
        "scan",
        "127.0.0.1",
        "-p",
        &ports,
        "--detect",
        "--detect-timeout",
        "3s",
        "--json",
    ]);
    let wall = t0.elapsed();
    assert_eq!(o.status.code(), Some(0));
    let doc = json(&o);

    let d = &port_obj(&doc, 797)["detection"];
    assert_eq!(d["service"], "netinfo");
    assert_eq!(d["product"], "NetInfo netinfod");
    assert_eq!(d["version"], "2");
    assert_eq!(d["rpc"]["programs"][0]["program"], 200_100_000);
    assert_eq!(d["verdict"]["matches"], false);
    assert_eq!(d["verdict"]["registry_status"], "unassigned");
    assert_eq!(
        d["verdict"]["sentence"],
        "797/tcp is unassigned; it speaks NetInfo (netinfod v2): a custom service on a ghost port"
    );

    let d = &port_obj(&doc, lab.ssh.port())["detection"];
    assert_eq!(d["service"], "ssh");
    assert_eq!(d["product"], "OpenSSH");
    assert_eq!(d["version"], "9.6p1 Debian 3");
    assert_eq!(d["cpe"], "cpe:/a:openbsd:openssh:9.6p1");
    assert_eq!(d["evidence"], "SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n");

    let d = &port_obj(&doc, lab.http.port())["detection"];
    assert_eq!(d["service"], "http");
    assert_eq!(d["product"], "nginx");
    assert_eq!(d["version"], "1.24.0");
    assert_eq!(d["http"]["status"], 200);
    assert_eq!(d["http"]["title"], "Fixture page");

    let d = &port_obj(&doc, lab.tarpit.port())["detection"];
    assert_eq!(d["service"], "unknown");
    assert_eq!(d["confidence"], 0.0);
    assert_eq!(d["verdict"]["matches"], serde_json::Value::Null);
    assert!(d["elapsed_ms"].as_u64().unwrap() <= 3_300, "{d}");
    // Ports are detected concurrently: the whole run costs about one tarpit budget.
    assert!(wall < Duration::from_secs(8), "{wall:?}");
    assert!(doc["detect_ms"].as_f64().unwrap() <= 4_000.0, "{doc}");
}

#[test]
fn scan_detect_jsonl_csv_and_table() {
    let lab = lab();
    let ports = format!("{},{}", lab.ssh.port(), lab.http.port());
    let o = portent(&["scan", "127.0.0.1", "-p", &ports, "--detect", "--jsonl"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ssh = lines.iter().find(|l| l["port"] == lab.ssh.port()).unwrap();
    assert_eq!(ssh["type"], "port");
    assert_eq!(ssh["detection"]["service"], "ssh");
    assert_eq!(lines.last().unwrap()["type"], "summary");

    let o = portent(&["scan", "127.0.0.1", "-p", &ports, "--detect", "--csv"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let mut rows = text.lines();
    assert!(
        rows.next()
            .unwrap()
            .ends_with(",note,detected_service,product,version,matches")
    );
    let all: Vec<&str> = rows.collect();
    assert!(
        all.iter()
            .any(|r| r.ends_with(",ssh,OpenSSH,9.6p1 Debian 3,false")),
        "{text}"
    );
    assert!(
        all.iter().any(|r| r.ends_with(",http,nginx,1.24.0,false")),
        "{text}"
    );

    let o = portent(&["scan", "127.0.0.1", "-p", &ports, "--detect"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("speaks: ssh OpenSSH 9.6p1 Debian 3"),
        "{text}"
    );
    assert!(text.contains("speaks: http nginx 1.24.0"), "{text}");
    assert!(text.contains("Detected 2 open ports in"), "{text}");
}

/// Terminal escapes from a peer never reach the terminal raw, in the table or in `check`.
#[test]
fn peer_escapes_stay_escaped() {
    let lab = lab();
    let port = lab.evil.port().to_string();
    for args in [
        vec!["scan", "127.0.0.1", "-p", &port, "--detect"],
        vec!["check", "127.0.0.1", &port],
    ] {
        let o = portent(&args);
        assert!(
            !o.stdout.iter().any(|&b| b == 0x1b || b == 0x07),
            "{:?}",
            String::from_utf8_lossy(&o.stdout)
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("\\x1b"), "{text}");
    }
}

#[test]
fn check_detects_netinfo_and_ssh() {
    let lab = lab();
    let o = portent(&["check", "127.0.0.1", "797", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc = json(&o);
    assert_eq!(doc["open"], true);
    let d = &doc["detection"];
    assert_eq!(d["service"], "netinfo");
    assert_eq!(d["product"], "NetInfo netinfod");
    assert_eq!(d["version"], "2");
    assert_eq!(d["verdict"]["matches"], false);

    let port = lab.ssh.port().to_string();
    let o = portent(&["check", "127.0.0.1", &port]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("Service    ssh OpenSSH 9.6p1 Debian 3"),
        "{text}"
    );
    assert!(
        text.contains("CPE        cpe:/a:openbsd:openssh:9.6p1"),
        "{text}"
    );
    assert!(
        text.contains("it speaks SSH (OpenSSH 9.6p1 Debian 3)"),
        "{text}"
    );

    let o = portent(&["check", "127.0.0.1", &port, "--json", "--no-detect"]);
    let doc = json(&o);
    assert_eq!(doc["open"], true);
    assert!(doc.get("detection").is_none(), "{doc}");
}

/// A closed port: nothing to detect, and no detection object.
#[test]
fn check_closed_port_has_no_detection() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let o = portent(&["check", "127.0.0.1", &port, "--json", "--retries", "0"]);
    assert_eq!(o.status.code(), Some(1));
    let doc = json(&o);
    assert_eq!(doc["open"], false);
    assert!(doc.get("detection").is_none(), "{doc}");
}

#[test]
fn bad_signature_file_fails_before_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "[[signature]]\nthis is not toml = = =\n").unwrap();
    let o = portent(&[
        "scan",
        "127.0.0.1",
        "-p",
        "1",
        "--detect",
        "--signatures",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml"), "{err}");
}

/// The nmap XML with detection is read by ndiff: against the same scan without detection it
/// reports the products found.
#[test]
fn xml_with_detection_is_read_by_ndiff() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.xml");
    let detected = dir.path().join("detected.xml");
    let ports = format!("{},{}", lab.ssh.port(), lab.http.port());
    let o = portent(&[
        "scan",
        "127.0.0.1",
        "-p",
        &ports,
        "-q",
        "-oX",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = portent(&[
        "scan",
        "127.0.0.1",
        "-p",
        &ports,
        "-q",
        "--detect",
        "-oX",
        detected.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let xml = std::fs::read_to_string(&detected).unwrap();
    assert!(
        xml.contains(
            r#"<service name="ssh" product="OpenSSH" version="9.6p1 Debian 3" extrainfo="protocol 2.0" method="probed" conf="10">"#
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<cpe>cpe:/a:openbsd:openssh:9.6p1</cpe></service>"),
        "{xml}"
    );
    let o = Command::new("ndiff")
        .arg(&plain)
        .arg(&detected)
        .output()
        .expect("ndiff is missing: run scripts/test, which installs it");
    let text = String::from_utf8_lossy(&o.stdout);
    // ndiff: 1 means "differences found", 2 means it could not read a file.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("OpenSSH 9.6p1 Debian 3"), "{text}");
    assert!(text.contains("nginx 1.24.0"), "{text}");
}

/// Fixtures for one interrupted run: an SSH banner that says (on `done`) when a client read
/// its banner and closed cleanly, which only detection does (the scan resets its connections),
/// and a tarpit that says (on `probed`) when a client sent it bytes, which only detection
/// does, then never answers.
struct Interruptible {
    _rt: tokio::runtime::Runtime,
    ssh: SocketAddr,
    tarpit: SocketAddr,
    done: std::sync::mpsc::Receiver<()>,
    probed: std::sync::mpsc::Receiver<()>,
}

fn interruptible() -> Interruptible {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (done_tx, done) = std::sync::mpsc::channel();
    let (probed_tx, probed) = std::sync::mpsc::channel();
    let (ssh, tarpit) = rt.block_on(async {
        let ssh = serve(move |mut s| {
            let done = done_tx.clone();
            async move {
                if s.write_all(b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut buf = [0u8; 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) => {
                            let _ = done.send(());
                            return;
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            }
        })
        .await;
        let tarpit = serve(move |mut s| {
            let probed = probed_tx.clone();
            async move {
                let mut buf = [0u8; 1024];
                if let Ok(n) = s.read(&mut buf).await
                    && n > 0
                {
                    let _ = probed.send(());
                }
                pause(60_000).await;
                drop(s);
            }
        })
        .await;
        (ssh, tarpit)
    });
    Interruptible {
        _rt: rt,
        ssh,
        tarpit,
        done,
        probed,
    }
}

/// Runs portent with `args`, waits for `evidence` (detection is under way, or done with the
/// quick port), then sends SIGINT to portent by its PID and returns what it printed.
fn interrupt(args: &[&str], evidence: &std::sync::mpsc::Receiver<()>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run portent");
    if evidence.recv_timeout(Duration::from_secs(20)).is_err() {
        let _ = child.kill();
        let o = child.wait_with_output().unwrap();
        panic!(
            "no sign of detection: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Ctrl-C while detection runs: the SSH port identified before it is kept, the tarpit still
/// being detected is marked interrupted (not `unknown`), in every output form; exit 130.
#[test]
fn ctrl_c_during_detection_keeps_what_was_detected() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("scan.xml");
    for form in ["--json", "--jsonl", "--csv", "table"] {
        let fx = interruptible();
        let ports = format!("{},{}", fx.ssh.port(), fx.tarpit.port());
        let mut args = vec![
            "scan",
            "127.0.0.1",
            "-p",
            &ports,
            "-q",
            "--detect",
            // Far longer than the test: the tarpit's detection ends only by Ctrl-C.
            "--detect-timeout",
            "30s",
        ];
        if form == "--json" {
            args.extend(["--json", "-oX", xml.to_str().unwrap()]);
        } else if form != "table" {
            args.push(form);
        }
        let t0 = Instant::now();
        let o = interrupt(&args, &fx.done);
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        let text = String::from_utf8(o.stdout.clone()).unwrap();
        let (ssh, tarpit) = (fx.ssh.port(), fx.tarpit.port());
        match form {
            "--json" => {
                let doc = json(&o);
                assert_eq!(doc["interrupted"], true, "{doc}");
                assert_eq!(
                    doc["hosts"][0]["complete"], true,
                    "the scan finished: {doc}"
                );
                let p = port_obj(&doc, ssh);
                assert_eq!(p["detection"]["service"], "ssh", "{doc}");
                assert_eq!(p["detection"]["product"], "OpenSSH", "{doc}");
                assert!(p.get("detection_interrupted").is_none(), "{doc}");
                let p = port_obj(&doc, tarpit);
                assert_eq!(p["state"], "open", "{doc}");
                assert!(p.get("detection").is_none(), "{doc}");
                assert_eq!(p["detection_interrupted"], true, "{doc}");
                assert!(doc["detect_ms"].as_f64().is_some(), "{doc}");

                let xml = std::fs::read_to_string(&xml).unwrap();
                assert!(
                    xml.contains(&format!(
                        r#"<port protocol="tcp" portid="{ssh}"><state state="open" reason="syn-ack" reason_ttl="0"/><service name="ssh" product="OpenSSH" version="9.6p1 Debian 3""#
                    )),
                    "{xml}"
                );
                // The registry's name for an ephemeral port varies: look at the attributes after it.
                let el = xml
                    .split_once(&format!(r#"<port protocol="tcp" portid="{tarpit}">"#))
                    .unwrap_or_else(|| panic!("port {tarpit} missing: {xml}"))
                    .1
                    .split_once("</port>")
                    .unwrap()
                    .0;
                assert!(
                    el.contains(r#"" extrainfo="detection interrupted" method="table" conf="3"/>"#),
                    "{xml}"
                );
                assert!(
                    xml.contains(
                        r#"exit="error" errormsg="interrupted by Ctrl-C during service detection: every port was probed, some detections are missing"/>"#
                    ),
                    "{xml}"
                );
            }
            "--jsonl" => {
                let lines: Vec<Value> = text
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                let port = |n: u16| {
                    lines
                        .iter()
                        .find(|l| l["type"] == "port" && l["port"] == n)
                        .unwrap_or_else(|| panic!("port {n} missing: {text}"))
                };
                assert_eq!(port(ssh)["detection"]["service"], "ssh", "{text}");
                assert!(port(ssh).get("detection_interrupted").is_none(), "{text}");
                assert!(port(tarpit).get("detection").is_none(), "{text}");
                assert_eq!(port(tarpit)["detection_interrupted"], true, "{text}");
                let summary = lines.last().unwrap();
                assert_eq!(summary["type"], "summary", "{text}");
                assert_eq!(summary["interrupted"], true, "{text}");
            }
            "--csv" => {
                let row = |n: u16| {
                    text.lines()
                        .find(|r| r.starts_with(&format!("127.0.0.1,,{n},tcp,open,")))
                        .unwrap_or_else(|| panic!("port {n} missing: {text}"))
                };
                assert!(
                    row(ssh).ends_with(",ssh,OpenSSH,9.6p1 Debian 3,false"),
                    "{text}"
                );
                assert!(row(tarpit).ends_with(",,,,interrupted"), "{text}");
            }
            _ => {
                assert!(
                    text.contains("speaks: ssh OpenSSH 9.6p1 Debian 3"),
                    "{text}"
                );
                let after_tarpit = text
                    .split_once(&format!("{tarpit}/tcp"))
                    .unwrap_or_else(|| panic!("port {tarpit} missing: {text}"))
                    .1;
                let next = after_tarpit.lines().nth(1).unwrap_or_default();
                assert_eq!(next.trim(), "speaks: ? (detection interrupted)", "{text}");
                assert!(
                    text.contains("Interrupted during detection after "),
                    "{text}"
                );
                assert!(text.contains(": detected 1 of 2 open ports."), "{text}");
                assert!(!text.contains("port results so far"), "{text}");
            }
        }
    }
}

/// `check`: Ctrl-C while the one port is being detected prints the connection result, marks
/// the detection interrupted, and exits 130 (not 0 as if detection had been skipped).
#[test]
fn ctrl_c_during_check_detection_is_marked() {
    for json_out in [true, false] {
        let fx = interruptible();
        let port = fx.tarpit.port().to_string();
        let mut args = vec!["check", "127.0.0.1", &port, "--detect-timeout", "30s"];
        if json_out {
            args.push("--json");
        }
        let o = interrupt(&args, &fx.probed);
        if json_out {
            let doc = json(&o);
            assert_eq!(doc["open"], true, "{doc}");
            assert!(doc.get("detection").is_none(), "{doc}");
            assert_eq!(doc["detection_interrupted"], true, "{doc}");
        } else {
            let text = String::from_utf8(o.stdout).unwrap();
            assert!(
                text.contains("Service    ? (detection interrupted)"),
                "{text}"
            );
            assert!(text.contains("TCP test succeeded"), "{text}");
        }
    }
}
