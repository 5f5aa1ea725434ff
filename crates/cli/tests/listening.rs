//! End-to-end tests of `portent listening` and the port page's live section: the real binary,
//! real sockets held by `holder.py` (a child with a known pid) in a network namespace made
//! for each test, and a run as an unprivileged user.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../../local/tests/common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use common::{Holder, LONG_NAME, Netns};
use serde_json::Value;

/// Runs portent with `prefix` (e.g. `ip netns exec NAME`) before it, and an empty data dir.
fn run(prefix: &[&str], args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_portent");
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(args)
        .env("PORTENT_DATA_DIR", data.path())
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
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

fn text(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const SPECS: &[&str] = &["tcp4/0.0.0.0/797", "udp4/127.0.0.1/0", "tcp6/::1/0"];

#[test]
fn json_lists_every_socket_with_owner_registry_and_flags() {
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), SPECS);
    let o = run(&[], &["listening", "--netns", &ns.name, "--json"]);
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    let socks = v["sockets"].as_array().unwrap();
    assert_eq!(socks.len(), 3, "{v:#}");
    // `complete` may be false even as root here: sandboxes refuse /proc/1/fd. The holder
    // must not be among the hidden processes, and every socket has its owner.
    assert!(
        !v["hidden"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == h.pid)
    );
    assert!(socks.iter().all(|s| s["owner_status"] == "found"), "{v:#}");
    assert_eq!(v["root"], true);
    assert_eq!(v["netns"], format!("/run/netns/{}", ns.name));

    let s797 = &socks[0];
    assert_eq!(s797["protocol"], "tcp");
    assert_eq!(s797["address"], "0.0.0.0");
    assert_eq!(s797["port"], 797);
    assert_eq!(s797["pid"], h.pid);
    assert_eq!(s797["process"], LONG_NAME);
    assert_eq!(s797["user"], "root");
    assert_eq!(s797["uid"], 0);
    assert_eq!(s797["inode"], h.socks[0].inode);
    assert_eq!(s797["owner_status"], "found");
    assert_eq!(s797["registry"]["status"], "unassigned");
    assert_eq!(s797["registry"]["services"], serde_json::json!([]));
    assert_eq!(s797["registry"]["range"], "system");
    assert_eq!(s797["flags"], serde_json::json!(["ghost", "exposed"]));
    let owner = &s797["owners"][0];
    assert_eq!(owner["pid"], h.pid);
    assert_eq!(owner["fds"], serde_json::json!([h.socks[0].fd]));
    assert_eq!(owner["process"]["name"], LONG_NAME);
    assert_eq!(owner["process"]["user"], "root");
    assert_eq!(owner["process"]["cmdline"][0], h.exe_link.to_str().unwrap());

    let udp = socks.iter().find(|s| s["protocol"] == "udp").unwrap();
    assert_eq!(udp["address"], "127.0.0.1");
    assert_eq!(udp["port"], h.socks[1].port);
    assert_eq!(udp["pid"], h.pid);
    assert!(!udp["flags"].as_array().unwrap().contains(&"exposed".into()));
    let v6 = socks.iter().find(|s| s["address"] == "::1").unwrap();
    assert_eq!(v6["v6only"], true);
    assert_eq!(v6["port"], h.socks[2].port);
}

#[test]
fn filters_and_exit_status() {
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), SPECS);
    let ports = |args: &[&str]| -> Vec<u64> {
        let mut a = vec!["listening", "--netns", &ns.name, "--json"];
        a.extend_from_slice(args);
        let o = run(&[], &a);
        json(&o)["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["port"].as_u64().unwrap())
            .collect()
    };
    let (udp, v6) = (u64::from(h.socks[1].port), u64::from(h.socks[2].port));
    let mut all = vec![797, udp, v6];
    all.sort_unstable();
    assert_eq!(ports(&[]), all);
    assert_eq!(ports(&["797"]), [797]);
    assert_eq!(ports(&["--port", "797"]), [797]);
    assert_eq!(ports(&["--udp"]), [udp]);
    assert_eq!(ports(&["--tcp"]).len(), 2);
    assert_eq!(ports(&["--exposed"]), [797]);
    assert_eq!(ports(&["--pid", &h.pid.to_string()]), all);
    assert!(ports(&["--pid", "1"]).is_empty());
    assert_eq!(ports(&["--process", "LISTENER-LONG"]), all);
    assert!(ports(&["--process", "no-such-program"]).is_empty());
    // Every one of these ports is a ghost unless the registry assigns it.
    assert!(ports(&["--ghosts"]).contains(&797));

    // Nothing found: exit 1 and a sentence.
    let o = run(&[], &["listening", "--netns", &ns.name, "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("nothing listens on port 1"),
        "{}",
        text(&o)
    );
    // Bad namespace: exit 2 with the path.
    let o = run(&[], &["listening", "--netns", "portent-no-such-netns"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/run/netns/portent-no-such-netns"));
}

/// A port given as a name or with a protocol, a socket tied to the loopback device, and the
/// namespace's own ephemeral range (a per-namespace sysctl) deciding the ephemeral flag.
#[test]
fn names_protocols_devices_and_the_namespace_settings() {
    let ns = Netns::new();
    let set = Command::new("ip")
        .args(["netns", "exec", &ns.name, "sysctl", "-qw"])
        .arg("net.ipv4.ip_local_port_range=40000 45000")
        .status()
        .unwrap();
    assert!(set.success());
    let _h = Holder::start(
        Some(&ns),
        &[
            "tcp4/0.0.0.0/41000",
            "tcp4/0.0.0.0/33000",
            "tcp4/0.0.0.0/7002/dev=lo",
            "tcp4/127.0.0.1/22",
            "udp4/127.0.0.1/22",
        ],
    );
    let listing = |args: &[&str]| -> Output {
        let mut a = vec!["listening", "--netns", &ns.name];
        a.extend_from_slice(args);
        run(&[], &a)
    };
    let v = json(&listing(&["--json"]));
    assert_eq!(v["ephemeral_range"], serde_json::json!([40000, 45000]));
    let sock = |port: u64| -> Value {
        v["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["port"] == port)
            .cloned()
            .unwrap_or_else(|| panic!("no socket on {port}: {v}"))
    };
    let flags = |port: u64| -> Vec<String> {
        sock(port)["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        flags(41000).contains(&"ephemeral".to_owned()),
        "{:?}",
        flags(41000)
    );
    // Inside the host's default range, outside the namespace's.
    assert!(
        !flags(33000).contains(&"ephemeral".to_owned()),
        "{:?}",
        flags(33000)
    );
    assert_eq!(sock(7002)["interface"], "lo");
    assert!(
        !flags(7002).contains(&"exposed".to_owned()),
        "{:?}",
        flags(7002)
    );
    assert!(listing(&["--exposed", "7002"]).status.code() == Some(1));

    let protocols = |args: &[&str]| -> Vec<(String, u64)> {
        let mut a = args.to_vec();
        a.push("--json");
        json(&listing(&a))["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["protocol"].as_str().unwrap().to_owned(),
                    s["port"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let both = [("tcp".to_owned(), 22), ("udp".to_owned(), 22)];
    assert_eq!(protocols(&["ssh"]), both);
    assert_eq!(protocols(&["--port", "ssh"]), both);
    assert_eq!(protocols(&["22/udp"]), [("udp".to_owned(), 22)]);
    assert_eq!(protocols(&["ssh/tcp"]), [("tcp".to_owned(), 22)]);
    let o = listing(&["22/udp"]);
    assert!(
        text(&o).contains("1 socket: 0 tcp, 1 udp; 0 ghosts"),
        "{}",
        text(&o)
    );
    let o = listing(&["ssh/sctp"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("SCTP sockets are not looked for"),
        "{o:?}"
    );
    let o = listing(&["no-such-service-name"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn table_is_plain_escaped_and_flags_the_ghost() {
    let ns = Netns::new();
    let mut args = vec!["--tag", "evil\x1b[31mred"];
    args.extend_from_slice(SPECS);
    let h = Holder::start(Some(&ns), &args);
    let o = run(&[], &["listening", "--netns", &ns.name, "--wide"]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(!t.contains('\x1b'), "piped output has no escapes: {t:?}");
    assert!(t.contains("evil\\u{1b}[31mred"), "{t}");
    let header = t.lines().next().unwrap();
    for col in [
        "PROTO", "ADDRESS", "PORT", "SERVICE", "PID", "PROCESS", "USER", "FLAGS", "COMMAND",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = t.lines().find(|l| l.contains(" 797 ")).unwrap();
    assert!(
        row.contains("unassigned") && row.contains("ghost,exposed"),
        "{row}"
    );
    assert!(
        row.contains(&h.pid.to_string()) && row.contains(LONG_NAME),
        "{row}"
    );
    assert!(t.contains("3 sockets: 2 tcp, 1 udp"), "{t}");
    // Colour when asked: the system-range ghost is bold red.
    let o = run(
        &[],
        &["--color", "always", "listening", "--netns", &ns.name],
    );
    assert!(text(&o).contains("\x1b[1m\x1b[31mghost"), "{:?}", text(&o));
}

#[test]
fn port_page_has_a_live_section() {
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), SPECS);
    let inside = ["ip", "netns", "exec", ns.name.as_str()];
    let o = run(&inside, &["797", "--json"]);
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["port"], 797);
    let live = &v["listening"]["sockets"];
    assert_eq!(live.as_array().unwrap().len(), 1, "{v:#}");
    assert_eq!(live[0]["pid"], h.pid);
    assert_eq!(live[0]["flags"][0], "ghost");
    let t = text(&run(&inside, &["797"]));
    let section = t.split("Listening here now").nth(1).unwrap();
    assert!(
        section.contains(&h.pid.to_string()) && section.contains("ghost"),
        "{t}"
    );
    // /udp narrows the live section too; nothing listens on 797/udp.
    let v = json(&run(&inside, &["797/udp", "--json"]));
    assert_eq!(v["listening"]["sockets"], serde_json::json!([]));
    let t = text(&run(&inside, &["798"]));
    assert!(t.contains("nothing listens on 798 here"), "{t}");
}

/// A copy of the binary that any user can run, wherever the build directory is.
fn public_binary() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("portent");
    std::fs::copy(env!("CARGO_BIN_EXE_portent"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, bin)
}

#[test]
fn unprivileged_user_sees_every_socket_and_is_told_why_owners_are_missing() {
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), SPECS);
    let (_dir, bin) = public_binary();
    let as_nobody = |args: &[&str]| {
        let data = tempfile::tempdir().unwrap();
        std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .args([
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ])
            .arg(&bin)
            .args(args)
            .env("PORTENT_DATA_DIR", data.path())
            .output()
            .unwrap()
    };
    let o = as_nobody(&["listening", "--json"]);
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["root"], false);
    assert_eq!(v["complete"], false);
    let socks = v["sockets"].as_array().unwrap();
    assert_eq!(socks.len(), 3, "no socket is dropped: {v:#}");
    for s in socks {
        assert_eq!(s["owner_status"], "hidden", "{s:#}");
        assert_eq!(s["pid"], Value::Null);
        assert_eq!(s["uid"], 0);
        assert_eq!(s["user"], "root");
    }
    assert_eq!(v["hidden_owners"], 3);
    assert!(
        v["hidden"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == h.pid && p["reason"] == "permission denied"),
        "{v:#}"
    );
    let note = v["notes"][0].as_str().unwrap();
    assert!(
        note.contains("the owners of 3 sockets are unknown"),
        "{note}"
    );
    assert!(
        note.contains("run as root to see owners of other users' sockets"),
        "{note}"
    );

    let o = as_nobody(&["listening"]);
    // Notes wrap to the width: compare with the line breaks taken out.
    let t = text(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(t.contains("(hidden)"), "{t}");
    assert!(
        t.contains("run as root to see owners of other users' sockets"),
        "{t}"
    );
}

/// Runs portent with a given data directory (the store lives there).
fn run_in(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", data)
        .env_remove("PORTENT_STORE")
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

#[test]
fn snapshots_are_remembered_and_diffed_by_socket_identity() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let snap = |data: &std::path::Path| {
        let o = run_in(data, &["listening", "--netns", &ns.name, "--json"]);
        assert!(o.status.success(), "{o:?}");
        // Saving leaves stdout exactly the listing, and says nothing on stderr.
        assert!(json(&o)["sockets"].is_array());
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let h = Holder::start(Some(&ns), &["tcp4/0.0.0.0/797"]);
    let first_pid = h.pid;
    snap(data.path());
    // The same program restarted: a new pid, the same socket identity.
    drop(h);
    let h = Holder::start(Some(&ns), &["tcp4/0.0.0.0/797"]);
    assert_ne!(h.pid, first_pid);
    snap(data.path());
    let o = run_in(data.path(), &["diff", "--listening", "--json"]);
    assert_eq!(o.status.code(), Some(0), "no changes: {}", text(&o));
    assert_eq!(json(&o)["changes"], serde_json::json!([]));

    // A new listener on 770 appears: one change, exit status 1 as ndiff.
    let h2 = Holder::start(Some(&ns), &["tcp4/0.0.0.0/770"]);
    snap(data.path());
    let o = run_in(data.path(), &["diff", "--listening", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v:#}");
    assert_eq!(changes[0]["action"], "added");
    assert_eq!(changes[0]["socket"]["port"], 770);
    assert_eq!(changes[0]["socket"]["pid"], h2.pid);
    let o = run_in(data.path(), &["diff", "--listening"]);
    assert!(text(&o).contains("+ added"), "{}", text(&o));
    // A baseline that expects only 797: nothing more to say. One that expects nothing: 797,
    // unchanged since last time, is reported as unexpected too.
    let only797 = data.path().join("only797.toml");
    std::fs::write(&only797, "[hosts.local]\nports = [\"797/tcp\"]\n").unwrap();
    let none = data.path().join("none.toml");
    std::fs::write(&none, "[hosts.\"*\"]\nports = []\n").unwrap();
    let actions = |file: &std::path::Path| -> Vec<(String, u64)> {
        let o = run_in(
            data.path(),
            &[
                "diff",
                "--listening",
                "--json",
                "--baseline",
                &file.to_string_lossy(),
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        json(&o)["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["action"].as_str().unwrap().to_owned(),
                    c["socket"]["port"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(actions(&only797), [("added".to_owned(), 770)]);
    assert_eq!(
        actions(&none),
        [("added".to_owned(), 770), ("unexpected".to_owned(), 797)]
    );
    let bad = data.path().join("bad.toml");
    std::fs::write(&bad, "[hosts.local]\nports = [\"99999\"]\n").unwrap();
    let o = run_in(
        data.path(),
        &["diff", "--listening", "--baseline", &bad.to_string_lossy()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"99999\" is not a port"));

    // --no-save leaves no trace; history lists the three snapshots, newest first.
    let o = run_in(
        data.path(),
        &["listening", "--netns", &ns.name, "--no-save", "--json"],
    );
    assert!(o.status.success());
    let o = run_in(data.path(), &["history", "--json"]);
    assert!(o.status.success(), "{o:?}");
    let runs = json(&o)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 3);
    assert!(
        runs.iter()
            .all(|r| r["kind"] == "listening" && r["complete"] == true)
    );
    assert_eq!(runs[0]["counts"]["open"], 2);
    // show: the newest snapshot's sockets.
    let o = run_in(data.path(), &["show", "last"]);
    assert!(o.status.success(), "{o:?}");
    let t = text(&o);
    assert!(t.contains(" 770 ") && t.contains(" 797 "), "{t}");
    let o = run_in(data.path(), &["show", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no stored run matches \"nope\""));
    drop(h);
    drop(h2);
}

#[test]
fn a_store_that_cannot_be_written_is_a_warning_not_a_failure() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let _h = Holder::start(Some(&ns), &["tcp4/0.0.0.0/797"]);
    let ok = run_in(
        data.path(),
        &["listening", "--netns", &ns.name, "--no-save"],
    );
    // A store where a directory cannot be created (below a file).
    let blocker = data.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let bad = format!("sqlite:{}/sub/store.sqlite", blocker.display());
    let o = run_in(
        data.path(),
        &["listening", "--netns", &ns.name, "--store", &bad],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        text(&o),
        text(&ok),
        "stdout is the same with a broken store"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: this snapshot was not saved: cannot open the store sqlite:"),
        "{err}"
    );
}

#[test]
fn watch_prints_exactly_the_changes_between_rounds() {
    let ns = Netns::new();
    let data = tempfile::tempdir().unwrap();
    let h797 = Holder::start(Some(&ns), &["tcp4/0.0.0.0/797"]);
    // Rounds at about 0 s, 2 s and 4 s; the namespace changes at 1 s and 3 s.
    let child = Command::new(env!("CARGO_BIN_EXE_portent"))
        .args([
            "watch",
            "--listening",
            "--netns",
            &ns.name,
            "--every",
            "2s",
            "--count",
            "3",
            "--jsonl",
        ])
        .env("PORTENT_DATA_DIR", data.path())
        .env_remove("PORTENT_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let h770 = Holder::start(Some(&ns), &["tcp4/0.0.0.0/770"]);
    std::thread::sleep(std::time::Duration::from_millis(2000));
    drop(h797);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(String, u64)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["name"], "listening");
            assert!(l["hostIdentifier"].is_string() && l["unixTime"].is_i64());
            (
                l["action"].as_str().unwrap().to_owned(),
                l["columns"]["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("added".to_owned(), 770), ("removed".to_owned(), 797)],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["columns"]["pid"], h770.pid);
    // Every round was saved.
    let o = run_in(data.path(), &["history", "--json", "--kind", "listening"]);
    assert_eq!(json(&o)["runs"].as_array().unwrap().len(), 3);
}

/// `portent listening` in `ns` with `COLUMNS=width` and stdout piped.
fn listening_at(ns: &Netns, width: usize, args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(["listening", "--netns", &ns.name])
        .args(args)
        .env("PORTENT_DATA_DIR", data.path())
        .env("COLUMNS", width.to_string())
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

/// Columns a line takes: CJK characters two (the tag below uses only those and ASCII).
fn columns(line: &str) -> usize {
    line.chars()
        .map(|c| {
            if ('\u{3000}'..='\u{9fff}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn the_table_fits_the_width_with_cjk_and_padded_titles() {
    let ns = Netns::new();
    // A title padded with runs of spaces (as redis-server pads its own), CJK text and a long
    // tail on the holder's command line.
    let tag = "東京都のサーバー    padded      title      with a long tail that goes on past any \
               line width so it must be cut";
    let h = Holder::start(Some(&ns), &["--tag", tag, "tcp4/0.0.0.0/797", "tcp6/::1/0"]);
    // 80 and 120, then widths that cut the command at every point of the CJK text.
    for width in [80, 120].into_iter().chain((120..=260).step_by(3)) {
        let o = listening_at(&ns, width, &[]);
        assert!(o.status.success(), "{o:?}");
        let s = text(&o);
        for line in s.lines() {
            assert!(
                columns(line) <= width,
                "{width}: {} columns: {line:?}\n{s}",
                columns(line)
            );
        }
        assert!(s.contains(&h.pid.to_string()), "{s}");
        assert!(
            s.contains('\u{2026}'),
            "the command is cut to fit at {width}: {s}"
        );
    }
    // Somewhere between, the CJK text is in view, and runs of spaces are squeezed.
    let s = text(&listening_at(&ns, 260, &[]));
    assert!(s.contains("東京都のサーバー padded title with"), "{s}");
    // --wide shows all of it, squeezed.
    let s = text(&listening_at(&ns, 80, &["--wide"]));
    assert!(s.contains("so it must be cut"), "{s}");
    assert!(s.contains("東京都のサーバー padded title with"), "{s}");
}

#[test]
fn ss_habits_flags_and_port_filters() {
    let ns = Netns::new();
    let _h = Holder::start(Some(&ns), SPECS);
    let count = |args: &[&str]| -> usize {
        let mut all = args.to_vec();
        all.push("--json");
        let o = listening_at(&ns, 100, &all);
        if o.status.code() == Some(1) {
            return 0;
        }
        assert!(o.status.success(), "{args:?}: {o:?}");
        json(&o)["sockets"].as_array().unwrap().len()
    };
    // SPECS: tcp4 0.0.0.0:797, udp4 127.0.0.1, tcp6 ::1.
    assert_eq!(count(&[]), 3);
    for both in [
        &["-tulpn"][..],
        &["-tu"][..],
        &["--tcp", "--udp"][..],
        &["-t", "-u", "-l", "-n", "-p"][..],
    ] {
        assert_eq!(count(both), 3, "{both:?}");
    }
    assert_eq!(count(&["-tlnp"]), 2);
    assert_eq!(count(&["-t"]), 2);
    assert_eq!(count(&["-u"]), 1);
    assert_eq!(count(&["--udp"]), 1);
    assert_eq!(count(&["-4"]), 2);
    assert_eq!(count(&["-6"]), 1);
    assert_eq!(count(&["-4", "-6"]), 3);
    assert_eq!(count(&["-t4"]), 1);
    assert_eq!(count(&["-u6"]), 0);
    for filter in [
        &[":797"][..],
        &["797"][..],
        &["sport", "=", ":797"][..],
        &["sport", "==", ":797"][..],
        &["sport", "eq", ":797"][..],
        &["sport", ":797"][..],
        &["( sport = :797 )"][..],
        &["-tlnp", "sport = :797"][..],
    ] {
        assert_eq!(count(filter), 1, "{filter:?}");
    }
    let o = listening_at(&ns, 100, &["dport", "=", ":797"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sport = :PORT"),
        "{o:?}"
    );
    // A namespace that does not exist: the error names the ones that do.
    let data = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(["listening", "--netns", "portent-no-such-ns"])
        .env("PORTENT_DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no network namespace is named \"portent-no-such-ns\""),
        "{err}"
    );
    assert!(err.contains(&ns.name), "{err}");
}
