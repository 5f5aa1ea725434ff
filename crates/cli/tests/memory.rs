//! End-to-end tests of portent's memory with scans: real listeners in a network namespace
//! (its own empty loopback) that change between runs, scanned by the real binary, then
//! `diff`, `history` and `show` read back. Needs root (ip netns) and python3.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

#[path = "../../store/tests/common/pg.rs"]
mod pg;

static COUNTER: AtomicU32 = AtomicU32::new(0);

struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let out = Command::new("id").arg("-u").output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0",
            "these tests need root for ip netns (CI runs as root)"
        );
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("ptm-{}-{n}", std::process::id());
        assert!(
            Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .unwrap()
                .success()
        );
        let ns = Netns { name };
        assert!(
            Command::new("ip")
                .args(["-n", &ns.name, "link", "set", "lo", "up"])
                .status()
                .unwrap()
                .success()
        );
        ns
    }

    /// A TCP server on 127.0.0.1:`port` in the namespace that sends `banner` to each client
    /// and closes. Killed when dropped.
    fn serve(&self, port: u16, banner: &str) -> Server {
        self.python(&format!(
            "import socket,sys\n\
             s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('127.0.0.1', {port})); s.listen(64)\n\
             print('ready', flush=True)\n\
             while True:\n\
             \x20   c,_=s.accept()\n\
             \x20   try: c.sendall({banner:?}.encode())\n\
             \x20   except OSError: pass\n\
             \x20   c.close()\n"
        ))
    }

    /// A UDP echo responder (RFC 862) on 127.0.0.1:`echo`, and a socket on `silent` that
    /// never answers. Killed when dropped.
    fn serve_udp(&self, echo: u16, silent: u16) -> Server {
        self.python(&format!(
            "import socket\n\
             e=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); e.bind(('127.0.0.1', {echo}))\n\
             s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', {silent}))\n\
             print('ready', flush=True)\n\
             while True:\n\
             \x20   d,a=e.recvfrom(65535); e.sendto(d, a)\n"
        ))
    }

    /// Runs `script` in the namespace and waits for its `ready` line.
    fn python(&self, script: &str) -> Server {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        Server(child)
    }

    fn portent(&self, data: &std::path::Path, args: &[&str]) -> Output {
        self.portent_with(data, None, args)
    }

    /// As `portent`, with the store at `store` (`PORTENT_STORE`) when given.
    fn portent_with(&self, data: &std::path::Path, store: Option<&str>, args: &[&str]) -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_portent")])
            .args(args)
            .env("PORTENT_DATA_DIR", data);
        match store {
            Some(s) => c.env("PORTENT_STORE", s),
            None => c.env_remove("PORTENT_STORE"),
        };
        c.output().unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

const PORTS: &str = "20-30,790-800";

fn changes(ns: &Netns, data: &std::path::Path, args: &[&str]) -> (i32, Vec<(u64, String, Value)>) {
    changes_in(ns, data, None, args)
}

fn changes_in(
    ns: &Netns,
    data: &std::path::Path,
    store: Option<&str>,
    args: &[&str],
) -> (i32, Vec<(u64, String, Value)>) {
    let mut a = vec!["diff", "--json"];
    a.extend_from_slice(args);
    let o = ns.portent_with(data, store, &a);
    let code = o.status.code().unwrap();
    let v = json(&o);
    let list = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["port"].as_u64().unwrap(),
                c["change"].as_str().unwrap().to_owned(),
                c["what"].clone(),
            )
        })
        .collect();
    (code, list)
}

#[test]
fn scans_are_remembered_and_diffs_and_timelines_are_exact() {
    // The same scenario on the default SQLite store and on a real PostgreSQL server.
    scans_scenario(None);
    let server = pg::TestPg::start();
    let url = server.database("portent_cli");
    scans_scenario(Some(&url));
}

fn scans_scenario(store: Option<&str>) {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let scan = |ns: &Netns| {
        let o = ns.portent_with(
            data.path(),
            store,
            &["scan", "127.0.0.1", "-p", PORTS, "--detect", "--json"],
        );
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };

    let ssh = ns.serve(22, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    let ghost = ns.serve(797, "hello\r\n");
    scan(&ns);
    // The SSH server is upgraded, 797 goes away, 795 appears.
    drop(ssh);
    drop(ghost);
    let _ssh = ns.serve(22, "SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n");
    let s795 = ns.serve(795, "hi\r\n");
    scan(&ns);
    let (code, got) = changes_in(&ns, data.path(), store, &[]);
    assert_eq!(code, 1);
    let kinds: Vec<(u64, &str)> = got.iter().map(|(p, c, _)| (*p, c.as_str())).collect();
    assert_eq!(
        kinds,
        [(22, "changed"), (795, "new"), (797, "closed")],
        "{got:?}"
    );
    let what = got[0].2.as_array().unwrap();
    assert!(
        what.iter()
            .any(|w| w.as_str().unwrap().starts_with("version 9.2p1")),
        "{what:?}"
    );

    // 797 comes back: reopened. The scan's JSON is kept as printed.
    drop(s795);
    let _ghost = ns.serve(797, "hello again\r\n");
    let last = scan(&ns);
    let (_, got) = changes_in(&ns, data.path(), store, &[]);
    let kinds: Vec<(u64, &str)> = got.iter().map(|(p, c, _)| (*p, c.as_str())).collect();
    assert_eq!(kinds, [(795, "closed"), (797, "reopened")], "{got:?}");
    let shown = ns.portent_with(data.path(), store, &["show", "last", "--json"]);
    assert!(shown.status.success());
    assert_eq!(
        String::from_utf8(shown.stdout).unwrap(),
        String::from_utf8(last.stdout).unwrap(),
        "show --json is the scan's own document"
    );

    // The timeline of 797: opened, closed, reopened.
    let o = ns.portent_with(
        data.path(),
        store,
        &["history", "127.0.0.1", "797", "--json"],
    );
    let v = json(&o);
    let events: Vec<&str> = v["ports"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["opened", "closed", "reopened"]);
    assert_eq!(v["ports"][0]["open_now"], true);

    // Explicit runs, oldest first: the first and the last differ only in 22's version.
    let o = ns.portent_with(data.path(), store, &["history", "--json"]);
    let runs = json(&o)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 3);
    assert!(
        runs.iter()
            .all(|r| r["kind"] == "scan" && r["complete"] == true)
    );
    assert_eq!(runs[0]["ports"], PORTS);
    let (first, newest) = (
        runs[2]["id"].as_str().unwrap().to_owned(),
        runs[0]["id"].as_str().unwrap().to_owned(),
    );
    let (_, got) = changes_in(&ns, data.path(), store, &[&first, &newest]);
    let kinds: Vec<(u64, &str)> = got.iter().map(|(p, c, _)| (*p, c.as_str())).collect();
    assert_eq!(kinds, [(22, "changed")], "{got:?}");
    // --no-save leaves no run behind.
    let o = ns.portent_with(
        data.path(),
        store,
        &["scan", "127.0.0.1", "-p", PORTS, "--no-save"],
    );
    assert!(o.status.success());
    let o = ns.portent_with(data.path(), store, &["history", "--json"]);
    let v = json(&o);
    assert_eq!(v["runs"].as_array().unwrap().len(), 3);
    // The runs went where they were sent.
    let local = data.path().join("store.sqlite").exists();
    match store {
        Some(url) => {
            assert!(!local, "PORTENT_STORE is used, not the data directory");
            assert!(v["store"].as_str().unwrap().starts_with(&url[..12]), "{v}");
        }
        None => assert!(local),
    }
    // Every other form of a scan, rendered again from the store, is what scan printed.
    let xml = data.path().join("scan.xml");
    let xml_arg = xml.to_str().unwrap();
    for form in [&["--csv"][..], &["--jsonl"], &["-oX", "-"]] {
        let mut args = vec!["scan", "127.0.0.1", "-p", PORTS, "--detect"];
        if form[0] == "-oX" {
            args.extend(["-oX", xml_arg]);
        } else {
            args.extend(form);
        }
        let o = ns.portent_with(data.path(), store, &args);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let printed = if form[0] == "-oX" {
            std::fs::read_to_string(&xml).unwrap()
        } else {
            String::from_utf8(o.stdout).unwrap()
        };
        let mut show = vec!["show", "last"];
        show.extend(form);
        let shown = ns.portent_with(data.path(), store, &show);
        assert!(shown.status.success(), "{shown:?}");
        let shown = String::from_utf8(shown.stdout).unwrap();
        assert!(shown.contains("797"), "{shown}");
        assert_eq!(shown, printed, "show {form:?}");
    }
}

#[test]
fn killed_saves_leave_a_sound_store_and_no_false_changes() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _a = ns.serve(22, "SSH-2.0-OpenSSH_9.6p1\r\n");
    let _b = ns.serve(797, "x\r\n");
    // A reference run, then scans of the whole range killed at staggered moments: before,
    // during or after their save. The killed scans are held to 20,000 ports a second (3.3 s
    // for the range) so that every kill lands mid-scan: unpaced, a namespace's loopback is
    // scanned whole in a few hundred milliseconds, even by a debug build.
    let o = ns.portent(
        data.path(),
        &["scan", "127.0.0.1", "-p", "1-65535", "--json"],
    );
    assert!(o.status.success(), "{o:?}");
    for i in 0..8u64 {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_portent")])
            .args([
                "scan",
                "127.0.0.1",
                "-p",
                "1-65535",
                "--rate",
                "20000",
                "--json",
            ])
            .env("PORTENT_DATA_DIR", data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150 + 60 * i));
        // SIGKILL to the process tree: ip netns exec execs portent, so the pid is portent's.
        let _ = Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    // A second reference run after the kills.
    let o = ns.portent(
        data.path(),
        &["scan", "127.0.0.1", "-p", "1-65535", "--json"],
    );
    assert!(o.status.success(), "{o:?}");
    let store = data.path().join("store.sqlite");
    let c = integrity_check(&store);
    assert_eq!(c, "ok", "integrity_check");
    // A scan is saved as it runs, so a killed one is a run marked unfinished (incomplete, no
    // end time), never a silent gap. The kills land mid-scan (see above), so there are some.
    let o = ns.portent(data.path(), &["history", "--json", "--limit", "100"]);
    let runs = json(&o)["runs"].as_array().unwrap().clone();
    let complete: Vec<&Value> = runs.iter().filter(|r| r["complete"] == true).collect();
    let unfinished: Vec<&Value> = runs
        .iter()
        .filter(|r| r["complete"] == false && r["finished_ms"].is_null())
        .collect();
    assert_eq!(complete.len(), 2, "{runs:?}");
    assert!(!unfinished.is_empty(), "{runs:?}");
    assert_eq!(complete.len() + unfinished.len(), runs.len(), "{runs:?}");
    // The diff of the last two complete runs reports nothing, since nothing changed.
    let (code, got) = changes(&ns, data.path(), &[]);
    assert_eq!((code, got.len()), (0, 0), "{got:?}");
    // A diff from the first reference to any unfinished run calls nothing closed.
    let oldest = runs.last().unwrap()["id"].as_str().unwrap().to_owned();
    for r in &unfinished {
        let id = r["id"].as_str().unwrap();
        let (_, got) = changes(&ns, data.path(), &[&oldest, id]);
        assert!(got.iter().all(|(_, c, _)| c != "closed"), "{got:?}");
        // `show` says what it is, and refuses the forms only a finished scan has.
        let o = ns.portent(data.path(), &["show", id]);
        assert!(o.status.success(), "{o:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("unfinished"),
            "{o:?}"
        );
        let o = ns.portent(data.path(), &["show", id, "--csv"]);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("never finished"),
            "{o:?}"
        );
    }
}

/// SQLite's `pragma integrity_check` on the store, through python3's sqlite3 module (the
/// CLI's tests do not link a SQLite of their own).
fn integrity_check(path: &std::path::Path) -> String {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn watch_prints_exactly_the_changes_between_scan_rounds() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let ssh = ns.serve(22, "SSH-2.0-OpenSSH_9.6p1\r\n");
    // Rounds at about 0 s, 2 s and 4 s; 797 opens at 1 s and 22 closes at 3 s.
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_portent")])
        .args([
            "watch",
            "127.0.0.1",
            "-p",
            PORTS,
            "--every",
            "2s",
            "--count",
            "3",
            "--jsonl",
        ])
        .env("PORTENT_DATA_DIR", data.path())
        .env_remove("PORTENT_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let ghost = ns.serve(797, "x\r\n");
    std::thread::sleep(std::time::Duration::from_millis(2000));
    drop(ssh);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, u64)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["name"], "scan");
            (
                l["action"].as_str().unwrap(),
                l["columns"]["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("added", 797), ("removed", 22)], "{lines:#?}");
    assert_eq!(lines[1]["columns"]["state"], "closed");
    // Each round was saved, and a later watch continues from the stored scan: nothing new.
    let o = ns.portent(data.path(), &["history", "--json"]);
    assert_eq!(json(&o)["runs"].as_array().unwrap().len(), 3);
    let o = ns.portent(
        data.path(),
        &["watch", "127.0.0.1", "-p", PORTS, "--count", "1", "--jsonl"],
    );
    assert!(o.status.success(), "{o:?}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    drop(ghost);
}

/// A scan of TCP and UDP is stored per protocol: `show` gives back every form as printed,
/// the run's totals count open|filtered, and a UDP port that goes away is a change of that
/// protocol (the store keys ports by host, protocol and port).
#[test]
fn udp_scans_are_remembered_per_protocol() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _tcp = ns.serve(22, "SSH-2.0-OpenSSH_9.6p1\r\n");
    let udp = ns.serve_udp(7, 9);
    let xml = data.path().join("udp.xml");
    let xml_arg = xml.to_str().unwrap();
    let scan = ["scan", "127.0.0.1", "-sU", "-sT", "-p", "T:22,U:7,9,53"];
    for form in [
        &["--json"][..],
        &["--csv"],
        &["--jsonl"],
        &["-oX", "-"],
        &["-oG", "-"],
    ] {
        let mut args = scan.to_vec();
        if form[0].starts_with("-o") {
            args.extend([form[0], xml_arg]);
        } else {
            args.extend(form);
        }
        let o = ns.portent(data.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let printed = if form[0].starts_with("-o") {
            std::fs::read_to_string(&xml).unwrap()
        } else {
            String::from_utf8(o.stdout).unwrap()
        };
        assert!(printed.contains("udp"), "{printed}");
        let mut show = vec!["show", "last"];
        show.extend(form);
        let shown = ns.portent(data.path(), &show);
        assert!(shown.status.success(), "{shown:?}");
        assert_eq!(
            String::from_utf8(shown.stdout).unwrap(),
            printed,
            "show {form:?}"
        );
    }
    let o = ns.portent(data.path(), &["history", "--json"]);
    let v = json(&o);
    let last = &v["runs"][0];
    assert_eq!(last["ports"], "T:22,U:7,9,53", "{last}");
    assert_eq!(last["counts"]["open"], 2, "{last}");
    assert_eq!(last["counts"]["closed"], 1, "{last}");
    assert_eq!(last["counts"]["open_filtered"], 1, "{last}");

    // The echo goes away: 7/udp closed, and only that.
    drop(udp);
    let o = ns.portent(data.path(), &scan);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = ns.portent(data.path(), &["diff", "--json"]);
    let v = json(&o);
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v}");
    assert_eq!(changes[0]["port"], 7);
    assert_eq!(changes[0]["protocol"], "udp");
    assert_eq!(changes[0]["change"], "closed");
}
