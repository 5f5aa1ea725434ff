//! The fleet view end to end: network namespaces stand in for hosts, each with its own
//! listeners and its own `--host-id`; the real binary saves each one's listening snapshot
//! (`portent listening --netns NS --host-id ID --store ...`) into one store, a throwaway
//! PostgreSQL server (as the store's tests start it) and a SQLite file. After a second round,
//! in which one host gained a listener and lost another, the fleet page (`/api/fleet` and the
//! HTML `/fleet`, from `portent serve`), the per-host page and `diff --listening --host H` must
//! say exactly what each host has and what changed. Needs root (ip netns), python3 and the
//! PostgreSQL server binaries; fails loudly without them (CI runs as root).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

#[path = "../../local/tests/common/mod.rs"]
mod common;
#[path = "../../store/tests/common/pg.rs"]
mod pg;

use common::{Holder, Netns};

const BIN: &str = env!("CARGO_BIN_EXE_portent");

fn portent(data: &std::path::Path, store: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--store", store])
        .env("PORTENT_DATA_DIR", data)
        .env("PORTENT_CONFIG", "/dev/null")
        .env("PORTENT_CONFIG_SYSTEM", "/dev/null")
        .env_remove("PORTENT_STORE")
        .env_remove("PORTENT_HOST_ID")
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}: {}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `portent serve --store STORE` on 127.0.0.1:0; the server (killed on drop) and its address.
fn serve(data: &std::path::Path, store: &str) -> (Server, String) {
    let child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--store", store])
        .env("PORTENT_DATA_DIR", data)
        .env("PORTENT_CONFIG", "/dev/null")
        .env("PORTENT_CONFIG_SYSTEM", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Server(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim()
        .to_owned();
    (child, addr)
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // Chunked bodies: the JSON and HTML checks below look inside, so join the chunks.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    (status, body)
}

/// `(port, address)` of a list of sockets, sorted.
fn ports(list: &Value) -> Vec<(u64, String)> {
    let mut v: Vec<(u64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["port"].as_u64().unwrap(),
                s["address"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `(action, port, address)` of a list of changes, sorted.
fn changes(list: &Value) -> Vec<(String, u64, String)> {
    let mut v: Vec<(String, u64, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            // diff's changes nest the socket; the fleet's carry its fields beside the action.
            let so = if c["socket"].is_object() {
                &c["socket"]
            } else {
                c
            };
            (
                c["action"].as_str().unwrap().to_owned(),
                so["port"].as_u64().unwrap(),
                so["address"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn s(x: &str) -> String {
    x.to_owned()
}

/// Three hosts, two rounds, one store; then every view of it.
fn fleet_in(store: &str) {
    let data = tempfile::tempdir().unwrap();
    let hosts = ["web-1", "web-2", "db-1"];
    let ns: Vec<Netns> = hosts.iter().map(|_| Netns::new()).collect();
    // web-1: ssh on loopback, a ghost (797, registered to nothing) on every address.
    let _h1 = Holder::start(Some(&ns[0]), &["tcp4/127.0.0.1/22", "tcp4/0.0.0.0/797"]);
    // web-2: http on every address, http-alt on loopback (closed in round two).
    let mut h2 = Holder::start(Some(&ns[1]), &["tcp4/0.0.0.0/80", "tcp4/127.0.0.1/8080"]);
    // db-1: PostgreSQL's port on loopback only.
    let _h3 = Holder::start(Some(&ns[2]), &["tcp4/127.0.0.1/5432"]);
    let round = || {
        for (n, id) in ns.iter().zip(hosts) {
            ok(portent(
                data.path(),
                store,
                &["listening", "--netns", &n.name, "--host-id", id, "--json"],
            ));
        }
    };
    round();
    // Round two: web-2 gains a ghost on every address and loses 8080.
    let _h2b = Holder::start(Some(&ns[1]), &["tcp4/0.0.0.0/797"]);
    h2.close(1);
    round();

    // diff --listening --host: the newest two snapshots of that host, exactly.
    let o = ok_or_differences(portent(
        data.path(),
        store,
        &["diff", "--listening", "--host", "web-2", "--json"],
    ));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        changes(&d["changes"]),
        vec![
            (s("added"), 797, s("0.0.0.0")),
            (s("removed"), 8080, s("127.0.0.1"))
        ],
        "{d}"
    );
    let o = portent(data.path(), store, &["diff", "--host", "web-2"]);
    assert_eq!(o.status.code(), Some(1), "changes found: exit 1");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("+ added") && text.contains("0.0.0.0:797"),
        "{text}"
    );
    assert!(
        text.contains("- removed") && text.contains("127.0.0.1:8080"),
        "{text}"
    );
    // An unchanged host: no changes, exit 0; run references count that host's snapshots.
    let o = ok(portent(
        data.path(),
        store,
        &["diff", "--host", "web-1", "last~1", "last", "--json"],
    ));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["changes"], serde_json::json!([]), "{d}");
    // A prefix shared by two hosts is ambiguous; an unknown host is named as such.
    let o = portent(data.path(), store, &["diff", "--host", "web"]);
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("several hosts") && err.contains("web-1"),
        "{err}"
    );
    let o = portent(data.path(), store, &["diff", "--host", "mail-9"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("no host \"mail-9\""),
        "{err}"
    );
    // history --machine: that host's snapshots only.
    let o = ok(portent(
        data.path(),
        store,
        &["history", "--machine", "db-1", "--json"],
    ));
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = h["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{h}");
    assert!(runs.iter().all(|r| r["host_id"] == "db-1"), "{h}");

    // The fleet page, as JSON.
    let (_server, addr) = serve(data.path(), store);
    let (status, body) = get(&addr, "/api/fleet");
    assert_eq!(status, 200, "{body}");
    let f: Value = serde_json::from_str(&body).unwrap();
    let list = f["hosts"].as_array().unwrap();
    let ids: Vec<&str> = list
        .iter()
        .map(|h| h["host_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["db-1", "web-1", "web-2"], "{f}");
    let want = [
        // (listeners, ghosts, exposed, added, removed)
        (1, vec![], vec![], vec![]),
        (
            2,
            vec![(797, s("0.0.0.0"))],
            vec![(797, s("0.0.0.0"))],
            vec![],
        ),
        (
            2,
            vec![(797, s("0.0.0.0"))],
            vec![(80, s("0.0.0.0")), (797, s("0.0.0.0"))],
            vec![
                (s("added"), 797, s("0.0.0.0")),
                (s("removed"), 8080, s("127.0.0.1")),
            ],
        ),
    ];
    for (h, (listeners, ghosts, exposed, changed)) in list.iter().zip(want) {
        assert_eq!(h["listeners"], listeners, "{h}");
        assert_eq!(ports(&h["ghost_sockets"]), ghosts, "{h}");
        assert_eq!(ports(&h["exposed_sockets"]), exposed, "{h}");
        assert_eq!(changes(&h["changes"]), changed, "{h}");
        assert_eq!(h["ghosts"], ghosts.len(), "{h}");
        assert_eq!(h["exposed"], exposed.len(), "{h}");
        assert!(h["previous"].is_string(), "{h}");
        assert!(h["target"].as_str().unwrap().starts_with("netns:"), "{h}");
    }
    // What each port means, from the registry: 80 is http, 797 a ghost.
    let web2 = &list[2];
    let http = web2["exposed_sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["port"] == 80)
        .unwrap();
    assert_eq!(http["registry"]["services"][0], "http", "{http}");
    assert_eq!(http["flags"], serde_json::json!(["exposed"]), "{http}");
    assert_eq!(
        web2["ghost_sockets"][0]["flags"],
        serde_json::json!(["ghost", "exposed"])
    );
    assert_eq!(
        f["totals"],
        serde_json::json!({"hosts": 3, "listeners": 5, "ghosts": 2, "exposed": 3,
            "hosts_with_ghosts": 2, "hosts_with_exposed": 2, "hosts_changed": 1}),
        "{f}"
    );

    // `portent fleet --json` is the same document; its table says the same.
    let o = ok(portent(data.path(), store, &["fleet", "--json"]));
    let cli: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(cli, f);
    let o = ok(portent(data.path(), store, &["fleet"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("  ghosts   797/tcp (unassigned)"), "{text}");
    assert!(text.contains("+ added    tcp 0.0.0.0:797"), "{text}");
    assert!(
        text.contains("- removed  tcp 127.0.0.1:8080 (http-alt)"),
        "{text}"
    );
    assert!(
        text.contains(
            "3 hosts, 5 listeners; 2 ghosts on 2 hosts, 3 exposed on 2 hosts; 1 hosts changed"
        ),
        "{text}"
    );

    // One host, every socket.
    let (status, body) = get(&addr, "/api/fleet/web-2");
    assert_eq!(status, 200, "{body}");
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        ports(&d["sockets"]),
        vec![(80, s("0.0.0.0")), (797, s("0.0.0.0"))]
    );
    assert_eq!(get(&addr, "/api/fleet/nosuch").0, 404);

    // The HTML pages say the same.
    let (status, page) = get(&addr, "/fleet");
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "3 hosts, 5 listeners; 2 ghosts on 2 hosts, 3 exposed on 2 hosts; 1 hosts \
             changed since their snapshot before"
        ),
        "{page}"
    );
    for id in hosts {
        assert!(page.contains(&format!("<tr data-host=\"{id}\">")), "{id}");
        assert!(page.contains(&format!("href=\"/fleet/{id}\"")), "{id}");
    }
    let row = page.split("<tr data-host=\"web-2\">").nth(1).unwrap();
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains("+ added</span> 0.0.0.0"), "{row}");
    assert!(row.contains("- removed</span> 127.0.0.1"), "{row}");
    assert!(row.contains(">8080/tcp</a>"), "{row}");
    let row1 = page.split("<tr data-host=\"web-1\">").nth(1).unwrap();
    let row1 = row1.split("</tr>").next().unwrap();
    assert!(
        !row1.contains("added") && !row1.contains("removed"),
        "{row1}"
    );
    let (status, page) = get(&addr, "/fleet/web-2");
    assert_eq!(status, 200);
    assert!(page.contains("2 listeners, 1 ghosts, 2 exposed"), "{page}");
    assert!(page.contains("flag flag-ghost strong"), "{page}");
    assert_eq!(get(&addr, "/fleet/nosuch").0, 404);
}

/// `diff` exits 1 when it found changes: both mean it ran.
fn ok_or_differences(o: Output) -> Output {
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn fleet_in_postgres() {
    common::require_root("it creates network namespaces");
    let server = pg::TestPg::start();
    let url = server.database("fleet");
    fleet_in(&url);
}

#[test]
fn fleet_in_sqlite() {
    common::require_root("it creates network namespaces");
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("fleet.sqlite").display());
    fleet_in(&store);
}

/// Without --host-id: the host name and the start of the app-specific machine id; PORTENT_HOST_ID
/// wins.
#[test]
fn default_and_environment_host_ids() {
    common::require_root("it creates a network namespace");
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", data.path().join("s.sqlite").display());
    // Nothing listens in the new namespace: exit 1, and the empty snapshot is saved.
    ok_or_differences(portent(
        data.path(),
        &store,
        &["listening", "--netns", &ns.name, "--json"],
    ));
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    // The app-specific machine id, as systemd computes it (an implementation apart from ours):
    // /etc/machine-id itself must not be stored or shown (machine-id(5)).
    let raw = std::fs::read_to_string("/etc/machine-id")
        .expect("this test needs /etc/machine-id (systemd's, 32 hex digits)");
    let app = Command::new("systemd-id128")
        .args([
            "machine-id",
            "--app-specific=8f2c1d5e3a7b4c9d0e6f1a2b3c4d5e6f",
        ])
        .output()
        .expect("systemd-id128 (Debian: systemd) computes the app-specific id this test expects");
    assert!(app.status.success(), "systemd-id128 failed: {app:?}");
    let app = String::from_utf8(app.stdout).unwrap().trim().to_owned();
    assert_eq!(app.len(), 32, "{app}");
    assert!(
        !app.starts_with(&raw.trim()[..12]),
        "the raw machine id is not used"
    );
    let want = format!("{hostname}@{}", &app[..12]);
    let o = ok(portent(
        data.path(),
        &store,
        &["history", "--kind", "listening", "--json"],
    ));
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(h["runs"][0]["host_id"], want.as_str(), "{h}");
    assert_eq!(h["runs"][0]["host_identifier"], hostname.as_str(), "{h}");
    let o = Command::new(BIN)
        .args([
            "listening",
            "--netns",
            &ns.name,
            "--json",
            "--store",
            &store,
        ])
        .env("PORTENT_DATA_DIR", data.path())
        .env("PORTENT_CONFIG", "/dev/null")
        .env("PORTENT_CONFIG_SYSTEM", "/dev/null")
        .env("PORTENT_HOST_ID", "from-env")
        .output()
        .unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 1));
    let o = ok(portent(
        data.path(),
        &store,
        &["history", "--machine", "from-env", "--json"],
    ));
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(h["runs"].as_array().unwrap().len(), 1, "{h}");
    // A bad --host-id is a usage error before anything runs.
    let o = portent(
        data.path(),
        &store,
        &["listening", "--host-id", "a b", "--json"],
    );
    assert_eq!(o.status.code(), Some(2));
}
