//! `portent serve` end to end: the real binary on 127.0.0.1:0, its JSON API compared with
//! `portent port --json`, the refusal to listen on a public address without --public, and
//! the Host check with --allow-host.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_portent");

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    get_as(addr, path, addr)
}

/// GET `path` from the server at `addr` with `Host: host`.
fn get_as(addr: &str, path: &str, host: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

#[test]
fn public_address_needs_public_flag() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env("PORTENT_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--public"), "{err}");
}

/// `portent serve --listen 127.0.0.1:0 EXTRA...`: the server (killed on drop) and its address.
fn start(data: &std::path::Path, extra: &[&str]) -> (Guard, String) {
    start_on(data, "127.0.0.1:0", extra)
}

/// `portent serve --listen LISTEN EXTRA...` on a loopback address.
fn start_on(data: &std::path::Path, listen: &str, extra: &[&str]) -> (Guard, String) {
    let child = Command::new(BIN)
        .args(["serve", "--listen", listen])
        .args(extra)
        .env("PORTENT_DATA_DIR", data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Guard(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    (child, addr)
}

/// `--listen 7972` and `--listen localhost:7972` as people type them: both on 127.0.0.1.
#[test]
fn listen_takes_a_port_alone_and_localhost() {
    let data = tempfile::tempdir().unwrap();
    for listen in ["0", "localhost:0"] {
        let (_child, addr) = start_on(data.path(), listen, &[]);
        let (status, _) = get(&addr, "/api/ports/22");
        assert_eq!(status, 200, "{listen}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--listen", "localhost:http"])
        .env("PORTENT_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a port number"));
}

#[test]
fn serves_the_cli_json_on_loopback() {
    let data = tempfile::tempdir().unwrap();
    let (_child, addr) = start(data.path(), &[]);

    let (status, body) = get(&addr, "/api/ports/797");
    assert_eq!(status, 200);
    let web: Value = serde_json::from_str(&body).unwrap();
    let cli = Command::new(BIN)
        .args(["port", "797", "--json"])
        .env("PORTENT_DATA_DIR", data.path())
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&web), keys(&cli));
    for k in keys(&cli) {
        if k != "listening" {
            assert_eq!(web[&k], cli[&k], "field {k}");
        }
    }
    assert_eq!(
        keys(&web["listening"]),
        keys(&cli["listening"]),
        "the live part has the same schema"
    );
    let (status, body) = get(&addr, "/ports/797");
    assert_eq!(status, 200);
    assert!(body.contains("<h1>Port 797"));
    let (status, _) = get(&addr, "/ports/70000");
    assert_eq!(status, 400);
}

#[test]
fn foreign_hosts_are_refused_unless_allowed() {
    let data = tempfile::tempdir().unwrap();
    let (_child, addr) = start(data.path(), &["--allow-host", "portent.lan"]);
    let port = addr.rsplit(':').next().unwrap();
    // DNS rebinding: attacker.example re-pointed at 127.0.0.1.
    let (status, body) = get_as(&addr, "/api/listening", &format!("attacker.example:{port}"));
    assert_eq!(status, 421, "{body}");
    assert!(body.contains("--allow-host"), "{body}");
    for host in [
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("portent.lan:{port}"),
    ] {
        let (status, _) = get_as(&addr, "/api/feedback", &host);
        assert_eq!(status, 200, "{host}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--allow-host", "http://portent.lan:80"])
        .env("PORTENT_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a host name"), "{err}");
}
