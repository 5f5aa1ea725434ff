//! Issue 13, finding 6: `portent listening` as a non-root user when `/proc` does not show
//! other users' processes. The real binary runs as nobody (`setpriv`) inside a private mount
//! namespace (`unshare -m`) with a fresh `/proc` mounted `hidepid=`, in a network namespace
//! made for the test where a root-owned listener holds a loopback port. Listing sockets is
//! local: nothing is sent anywhere.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../../local/tests/common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::{Holder, Netns};
use serde_json::Value;

/// A copy of the binary that nobody can run, wherever the build directory is.
fn public_binary() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("portent");
    std::fs::copy(env!("CARGO_BIN_EXE_portent"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, bin)
}

/// Runs `portent ARGS` in `ns` as nobody, after `setup` (a shell command run as root inside a
/// private mount namespace made with `unshare`, e.g. mounting a proc with hidepid).
fn as_nobody(ns: &Netns, unshare: &[&str], setup: &str, args: &[&str]) -> Output {
    let (_dir, bin) = public_binary();
    let data = tempfile::tempdir().unwrap();
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let script = format!(
        "{setup} && exec setpriv --reuid=65534 --regid=65534 --clear-groups -- \"$0\" \"$@\""
    );
    let run = || {
        std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name, "unshare"])
            .args(unshare)
            .args(["--", "sh", "-c", &script])
            .arg(&bin)
            .args(args)
            .env("PORTENT_DATA_DIR", data.path())
            .env_remove("NO_COLOR")
            .output()
            .unwrap_or_else(|e| panic!("ip/unshare/setpriv are needed (util-linux, iproute2): {e}"))
    };
    // The copy was written while other test threads fork: a child forked in that window holds
    // the write descriptor until it execs, and exec of the copy fails with ETXTBSY meanwhile.
    let mut o = run();
    for _ in 0..20 {
        if !String::from_utf8_lossy(&o.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        o = run();
    }
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stdout));
    })
}

/// The root-owned socket in `v`: listed, owner hidden (not "none"), no pid.
fn assert_hidden_root_socket(v: &Value, port: u16) {
    let socks = v["sockets"].as_array().unwrap();
    let s = socks
        .iter()
        .find(|s| s["port"] == port)
        .unwrap_or_else(|| panic!("port {port} is listed: {v:#}"));
    assert_eq!(s["owner_status"], "hidden", "{s:#}");
    assert_eq!(s["uid"], 0);
    assert_eq!(s["pid"], Value::Null);
    assert_eq!(v["root"], false);
    assert_eq!(v["complete"], false, "{v:#}");
    assert_eq!(v["hidden_owners"], 1, "{v:#}");
}

#[test]
fn finding_6_hidepid_invisible_marks_the_listing_incomplete_and_says_why() {
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), &["tcp4/127.0.0.1/0"]);
    let port = h.socks[0].port;
    // Both spellings: the number (older kernels show it) and the name.
    for option in ["hidepid=2", "hidepid=invisible"] {
        let mount = format!("mount -t proc -o {option} proc /proc");
        let v = json(&as_nobody(&ns, &["-m"], &mount, &["listening", "--json"]));
        assert_hidden_root_socket(&v, port);
        // Nothing was unreadable: the processes were not there to read.
        assert_eq!(v["hidden"], serde_json::json!([]), "{v:#}");
        let notes: Vec<&str> = v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(
            notes,
            [
                "the owner of 1 socket is unknown; /proc is mounted with hidepid=invisible, \
                 which hides other users' processes from a non-root user: run as root to see \
                 owners of other users' sockets"
            ],
            "{option}"
        );

        let o = as_nobody(&ns, &["-m"], &mount, &["listening"]);
        let t = String::from_utf8(o.stdout).unwrap();
        let row = t
            .lines()
            .find(|l| l.contains(&format!(" {port} ")))
            .unwrap_or_else(|| panic!("{t}"));
        assert!(row.contains("(hidden)") && !row.contains("(none)"), "{t}");
        assert!(
            t.contains(
                "note: the owner of 1 socket is unknown; /proc is mounted with hidepid=invisible"
            ),
            "{t}"
        );
    }
}

#[test]
fn finding_6_hidepid_noaccess_and_ptraceable_are_named_too() {
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), &["tcp4/127.0.0.1/0"]);
    let port = h.socks[0].port;
    for (option, named) in [("hidepid=1", "noaccess"), ("hidepid=4", "ptraceable")] {
        let mount = format!("mount -t proc -o {option} proc /proc");
        let v = json(&as_nobody(&ns, &["-m"], &mount, &["listening", "--json"]));
        assert_hidden_root_socket(&v, port);
        let notes = v["notes"].to_string();
        assert!(
            notes.contains(&format!("/proc is mounted with hidepid={named}")),
            "{option}: {notes}"
        );
    }
}

#[test]
fn finding_6_hidepid_exempt_group_sees_what_any_user_sees() {
    // gid= names a group hidepid does not apply to; nobody's group (65534) is it here, so
    // the listing is as without hidepid: root's processes listed and unreadable.
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), &["tcp4/127.0.0.1/0"]);
    let mount = "mount -t proc -o hidepid=2,gid=65534 proc /proc";
    let v = json(&as_nobody(&ns, &["-m"], mount, &["listening", "--json"]));
    assert_hidden_root_socket(&v, h.socks[0].port);
    let notes = v["notes"].to_string();
    assert!(!notes.contains("hidepid=invisible"), "{notes}");
    assert!(
        v["hidden"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == h.pid),
        "{v:#}"
    );
}

#[test]
fn finding_6_hidepid_owners_out_of_view_without_hidepid_are_inferred() {
    // A /proc of a new PID namespace (no hidepid option) shows nobody only its own
    // process: root's socket has no owner in view, which must not read as "none".
    let ns = Netns::new();
    let h = Holder::start(Some(&ns), &["tcp4/127.0.0.1/0"]);
    let v = json(&as_nobody(
        &ns,
        &["-m", "-p", "-f", "--mount-proc"],
        "true",
        &["listening", "--json"],
    ));
    assert_hidden_root_socket(&v, h.socks[0].port);
    assert!(
        v["notes"][0].as_str().unwrap().starts_with(
            "the owner of 1 socket is unknown; no process of another user is visible in /proc"
        ),
        "{v:#}"
    );
}
