//! End-to-end tests of the real `portent` binary: each runs it with its own empty data
//! directory, so no test sees another's (or the user's) updated registry.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../registry/data/iana/service-names-port-numbers.csv"
);

fn portent_in(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", data)
        .env_remove("NO_COLOR")
        .output()
        .expect("run portent")
}

fn portent(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    portent_in(dir.path(), args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn port_797_json_has_the_documented_fields() {
    let o = portent(&["port", "797", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["port"], 797);
    assert_eq!(v["range"], "system");
    assert!(v["privileged"].is_boolean());
    let reg = v["registry"].as_array().unwrap();
    assert_eq!(reg.len(), 4);
    for (e, p) in reg.iter().zip(["tcp", "udp", "sctp", "dccp"]) {
        assert_eq!(e["protocol"], p);
        assert_eq!(e["status"], "unassigned");
        assert_eq!(e["services"].as_array().unwrap().len(), 0);
        assert_eq!(e["other_rows"][0]["ports"], "788-799");
        assert_eq!(
            e["other_rows"][0]["unauthorized_use"],
            "Unauthorized Use Known on port 796"
        );
    }
    assert_eq!(v["assessment"]["ghost"], true);
    let notes = v["notes"].as_array().unwrap();
    assert!(!notes.is_empty());
    for n in notes {
        assert!(!n["summary"].as_str().unwrap().is_empty());
        assert!(!n["sources"].as_array().unwrap().is_empty());
    }
    assert!(
        v["check"]["linux"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("797"))
    );
}

#[test]
fn shortcut_and_names() {
    let a = portent(&["797", "--json"]);
    let b = portent(&["port", "797", "--json"]);
    assert_eq!(json(&a), json(&b));
    let v = json(&portent(&["port", "ldap", "--json"]));
    assert_eq!(v["port"], 389);
    assert_eq!(v["registry"][0]["services"][0]["name"], "ldap");
    assert_eq!(v["registry"][0]["services"][0]["assignee"], "[Tim_Howes]");
    let v = json(&portent(&["770", "--json"]));
    assert_eq!(v["registry"][0]["status"], "assigned");
    assert_eq!(v["registry"][0]["services"][0]["name"], "cadlock");
    assert_eq!(v["assessment"]["ghost"], false);
}

#[test]
fn human_page_is_plain_when_piped() {
    let o = portent(&["797"]);
    let s = stdout(&o);
    assert!(!s.contains('\x1b'), "no colour when not a terminal");
    assert!(s.starts_with("Port 797"));
    for needle in [
        "ghost",
        "788-799",
        "Unauthorized Use Known on port 796",
        "sudo lsof -nP -i :797",
        "Test-NetConnection -ComputerName HOST -Port 797",
        "NetInfo",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
    let o = portent(&["--color", "always", "797"]);
    assert!(stdout(&o).contains('\x1b'));
}

#[test]
fn bad_input_is_a_clear_error() {
    for (arg, needle) in [
        ("70000", "\"70000\" is not a port number"),
        ("-1", "\"-1\" is not a port number"),
        ("", "no port given"),
        ("abc", "no port or service is named \"abc\""),
        ("sshh", "did you mean ssh"),
        ("80/icmp", "not a transport protocol"),
    ] {
        let o = portent(&["port", arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}");
        assert!(stderr(&o).contains(needle), "{arg}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
        assert!(o.stdout.is_empty());
    }
    let o = portent(&["70000"]);
    assert_eq!(o.status.code(), Some(2));
    // A registered name without a port is an answer, not an error: exit 1, "nothing found".
    let o = portent(&["port", "argus"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("without a port"), "{}", stderr(&o));
}

#[test]
fn search_ranks_and_reports_nothing() {
    let o = portent(&["search", "netinfo", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v = json(&o);
    let hits = v["hits"].as_array().unwrap();
    let has = |port: u64, kind: &str| {
        hits.iter().any(|h| {
            h["kind"] == kind
                && h["ports"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["first"] == port)
        })
    };
    assert!(has(1033, "service"));
    assert!(has(797, "note"));
    let scores: Vec<u64> = hits.iter().map(|h| h["score"].as_u64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let o = portent(&["search", "ssh"]);
    let first = stdout(&o).lines().nth(1).unwrap().to_owned();
    assert!(first.starts_with("22 "), "{first}");
    let o = portent(&["search", "zzqqxxnothing"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn export_covers_every_port_and_protocol() {
    let o = portent(&["registry", "export"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 65536 * 4);
    let line = |port: usize, proto: usize| -> Value {
        serde_json::from_str(lines[port * 4 + proto]).unwrap()
    };
    let ssh = line(22, 0);
    assert_eq!(ssh["port"], 22);
    assert_eq!(ssh["protocol"], "tcp");
    assert_eq!(ssh["status"], "assigned");
    assert_eq!(ssh["services"][0], "ssh");
    assert_eq!(line(797, 1)["status"], "unassigned");
    assert_eq!(line(0, 0)["status"], "reserved");
    assert_eq!(line(65535, 3)["range"], "dynamic");
}

#[test]
fn update_validates_and_reset_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let info = |d: &Path| json(&portent_in(d, &["registry", "info", "--json"]));
    assert_eq!(info(&data)["source"], "embedded");

    // A bad file is rejected with the reason, and nothing changes.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "not,a,registry\n1,2,3\n").unwrap();
    let o = portent_in(
        &data,
        &["registry", "update", "--file", bad.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("header does not match"),
        "{}",
        stderr(&o)
    );
    assert_eq!(info(&data)["source"], "embedded");
    let o = portent_in(&data, &["registry", "update", "--file", "/nonexistent.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the registry file /nonexistent.csv"),
        "{}",
        stderr(&o)
    );

    // A newer registry: the real file with one more assignment on 797.
    let mut text = std::fs::read_to_string(CSV).unwrap();
    text.push_str("portent-test,797,tcp,A test assignment,,,2026-11-01,,,,,\n");
    let newer = dir.path().join("newer.csv");
    std::fs::write(&newer, text).unwrap();
    let o = portent_in(
        &data,
        &["registry", "update", "--file", newer.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let i = info(&data);
    assert_eq!(i["source"], "updated");
    assert_eq!(i["data_date"], "2026-11-01");
    let v = json(&portent_in(&data, &["797", "--json"]));
    assert_eq!(v["registry"][0]["services"][0]["name"], "portent-test");
    assert_eq!(v["registry"][1]["status"], "unassigned");

    // A damaged snapshot is reported and the built-in data used.
    std::fs::write(data.join("registry.bin"), b"garbage").unwrap();
    let o = portent_in(&data, &["797", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    assert_eq!(json(&o)["registry"][0]["status"], "unassigned");

    let o = portent_in(&data, &["registry", "reset"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(info(&data)["source"], "embedded");
}

#[test]
fn help_completions_and_man_page() {
    let o = portent(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    for needle in ["port", "search", "registry", "completions", "Exit status"] {
        assert!(h.contains(needle), "{needle}");
    }
    let o = portent(&["completions", "bash"]);
    assert!(stdout(&o).contains("_portent()"));
    let o = portent(&["completions", "zsh"]);
    assert!(stdout(&o).contains("#compdef portent"));
    let o = portent(&["man"]);
    let man = stdout(&o);
    assert!(man.contains(".TH portent"), "{man}");
    assert!(man.contains("registry"));
    // Every page the top page refers to can be had: one by name, or all into a directory.
    let o = portent(&["man", "scan"]);
    let scan = stdout(&o);
    assert!(scan.contains(".TH portent-scan"), "{scan}");
    assert!(scan.contains("detect\\-timeout"), "{scan}");
    let o = portent(&["man", "registry", "update"]);
    assert!(stdout(&o).contains(".TH portent-registry-update"));
    let o = portent(&["man", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("one of port, search"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let o = portent(&["man", "--dir", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    for page in [
        "portent.1",
        "portent-scan.1",
        "portent-listening.1",
        "portent-registry-update.1",
    ] {
        assert!(out.join(page).is_file(), "{page}");
    }
    let o = portent(&["completions", "nosuchshell"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn closed_pipe_is_not_an_error() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(["registry", "export"])
        .env("PORTENT_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn update_refuses_endless_input_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = portent_in(&data, &["registry", "update", "--file", CSV]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let start = std::time::Instant::now();
    let o = portent_in(&data, &["registry", "update", "--file", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/dev/zero is a character device, not a regular file"),
        "{}",
        stderr(&o)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    let v = json(&portent_in(&data, &["registry", "info", "--json"]));
    assert_eq!(v["source"], "updated");
}

#[test]
fn error_causes_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "not,a,registry\n1,2,3\n").unwrap();
    let bad = bad.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["registry", "update", "--file", "/nonexistent.csv"],
            "No such file or directory",
        ),
        (
            vec!["registry", "update", "--file", bad],
            "header does not match",
        ),
        (
            vec!["scan", "-iL", "/nonexistent.txt"],
            "No such file or directory",
        ),
        (
            vec![
                "check",
                "127.0.0.1",
                "1",
                "--signatures",
                "/nonexistent.toml",
            ],
            "No such file or directory",
        ),
    ] {
        let o = portent(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert_eq!(e.matches(needle).count(), 1, "{args:?}: {e}");
    }
}

/// Runs portent with stdout a pipe whose reading end is already closed: every write fails
/// with EPIPE, as for `portent ... | head -c 10` when head has gone.
fn portent_into_closed_pipe(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", dir.path())
        .stdout(writer)
        .output()
        .expect("run portent")
}

#[test]
fn generated_text_into_a_closed_pipe_is_not_an_error() {
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["man"],
        &["registry", "export"],
        &["search", "ssh"],
        &["797"],
    ] {
        let o = portent_into_closed_pipe(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn implied_port_takes_options_first_and_a_double_dash() {
    let want = json(&portent(&["port", "797", "--json"]));
    for args in [
        &["--json", "797"][..],
        &["--color", "never", "--json", "797"],
        &["--json", "--", "797"],
    ] {
        let o = portent(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(json(&o), want, "{args:?}");
    }
    let o = portent(&["--", "797"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("Port 797"));
    let o = portent(&["--", "-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("\"-1\" is not a port number"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn search_lists_separate_ports_and_ranges_only_for_runs() {
    for (query, want) in [
        ("anydesk", "6568, 7070 "),
        ("x11", "6000-6063 "),
        ("netinfo", "1033 "),
    ] {
        let o = portent(&["search", query]);
        assert_eq!(o.status.code(), Some(0), "{query}");
        let s = stdout(&o);
        assert!(s.lines().any(|l| l.starts_with(want)), "{query}:\n{s}");
        assert!(!s.contains(".."), "{query}:\n{s}");
    }
}

#[test]
fn port_0_page_says_nothing_can_listen_there() {
    let o = portent(&["0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.lines().next().unwrap().trim_end() == "Port 0  reserved  system range",
        "{s}"
    );
    for needle in [
        "nothing can listen on port 0",
        "any free ephemeral port",
        "Can it be open?  no",
        "scan or OS fingerprinting",
        "How to see traffic sent to it",
        "tcpdump",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
    for wrong in [
        "ghost",
        "started by root",
        "concern: high",
        "findstr :0",
        "portent check HOST 0",
        "lsof",
        "Test-NetConnection",
    ] {
        assert!(!s.contains(wrong), "{wrong:?} in:\n{s}");
    }
    let v = json(&portent(&["0", "--json"]));
    assert_eq!(v["privileged"], Value::Null);
    assert_eq!(v["assessment"]["listenable"], false);
    assert_eq!(v["assessment"]["ghost"], false);
    assert_eq!(v["assessment"]["concern"], "low");
    assert_eq!(v["check"]["remote"].as_array().unwrap().len(), 0);
    assert_eq!(v["check"]["windows"].as_array().unwrap().len(), 0);
    let v = json(&portent(&["797", "--json"]));
    assert_eq!(v["assessment"]["listenable"], true);
}

#[test]
fn name_on_another_protocol_lists_what_it_has() {
    let o = portent(&["ssh/dccp"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim_end(),
        "\"ssh\" is assigned 22/tcp, 22/udp, 22/sctp; none on dccp"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn host_port_blocks_and_protocols_get_the_right_advice() {
    for (args, want) in [
        (
            &["check", "127.0.0.1:22", "22"][..],
            "give the port separately: portent check 127.0.0.1 22",
        ),
        (
            &["check", "[::1]:22", "22"],
            "give the port separately: portent check ::1 22",
        ),
        (&["scan", "127.0.0.1:22"], "use -p 22"),
        (
            &["check", "127.0.0.1/24", "22"],
            "check tests one host: use portent scan 127.0.0.1/24",
        ),
        (
            &["scan", "127.0.0.1", "-p", "797/sctp"],
            "portent scans TCP and UDP, not sctp",
        ),
        (
            &["check", "127.0.0.1", "S:22"],
            "portent scans TCP and UDP, not sctp",
        ),
        (
            &["check", "127.0.0.1", "22,53/udp"],
            "names both TCP and UDP ports",
        ),
        (
            &["scan", "127.0.0.1", "-sU", "-p", "T:22"],
            "UDP was asked for (-sU), but -p names no UDP ports",
        ),
        (
            &["scan", "127.0.0.1", "-p", "U:70000"],
            "port '70000' is out of range",
        ),
        (
            &["scan", "127.0.0.1", "-p", "U:nosuchservice"],
            "not in the registry for udp",
        ),
    ] {
        let o = portent(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(!e.contains("IPv6"), "{args:?}: {e}");
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    // Real IPv6 literals are still addresses; /tcp suffixes are accepted.
    let o = portent(&["check", "::1", "ssh/tcp", "--no-detect", "--json"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(json(&o)["port"], 22);
}

#[test]
fn counts_of_one_are_singular() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("scan.xml");
    // Port 1 on loopback: closed (nothing listens there in a test environment), or open.
    let o = portent(&[
        "scan",
        "127.0.0.1",
        "-p",
        "1",
        "-q",
        "-oX",
        xml.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("1 IP address (1 host up), 1 port each, scanned in"),
        "{s}"
    );
    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(
        x.contains("portent done: 1 IP address (1 host up) scanned"),
        "{x}"
    );
    let o = portent(&["scan", "127.0.0.1", "-p", "1-2", "-q"]);
    assert!(stdout(&o).contains("1 IP address (1 host up), 2 ports each, scanned in"));
}

/// Run as another user whose data directory sits where that user cannot look (`sudo -u`
/// keeping root's HOME): no warning on every command. A snapshot that is there but
/// unreadable is still reported.
#[test]
fn unsearchable_data_dir_is_quiet_but_an_unreadable_snapshot_is_not() {
    use std::os::unix::fs::PermissionsExt;
    let pub_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(pub_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = pub_dir.path().join("portent");
    std::fs::copy(env!("CARGO_BIN_EXE_portent"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = |data: &Path| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&bin)
            .arg("797")
            .env("PORTENT_DATA_DIR", data)
            .output()
            .unwrap()
    };
    // Root's private directory: nobody cannot even tell whether a snapshot is inside.
    let private = tempfile::tempdir().unwrap();
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let o = as_nobody(&private.path().join("portent"));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("Port 797"), "{o:?}");
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));

    // A snapshot nobody can see but not read: said once, and the built-in data is used.
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let snap = open.path().join("registry.bin");
    std::fs::write(&snap, b"not readable by nobody").unwrap();
    std::fs::set_permissions(&snap, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = as_nobody(open.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        stderr(&o).contains("warning") && stderr(&o).contains("registry.bin"),
        "{}",
        stderr(&o)
    );
}

/// Runs portent with `COLUMNS=width` and stdout piped (so the width comes from COLUMNS).
fn portent_at(width: usize, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", dir.path())
        .env("COLUMNS", width.to_string())
        .env_remove("NO_COLOR")
        .output()
        .expect("run portent")
}

/// Display width: East Asian wide characters take two columns, combining marks none. Kept
/// apart from the binary's own measure (unicode-width) so that a wrong measure there fails.
fn columns(line: &str) -> usize {
    line.chars()
        .map(|c| match c as u32 {
            0x0300..=0x036f | 0x200b..=0x200f => 0,
            0x1100..=0x115f
            | 0x2e80..=0x303e
            | 0x3041..=0x33ff
            | 0x3400..=0x4dbf
            | 0x4e00..=0x9fff
            | 0xac00..=0xd7a3
            | 0xf900..=0xfaff
            | 0xfe30..=0xfe4f
            | 0xff00..=0xff60
            | 0xffe0..=0xffe6 => 2,
            _ => 1,
        })
        .sum()
}

/// Every line of `o`'s stdout, colour codes taken out, fits in `width` columns.
fn assert_fits(o: &Output, width: usize, what: &str) {
    let s = stdout(o);
    assert!(!s.is_empty(), "{what}: no output; {}", stderr(o));
    for line in s.lines() {
        let plain = strip_ansi(line);
        assert!(
            columns(&plain) <= width,
            "{what} at {width}: {} columns: {plain:?}",
            columns(&plain)
        );
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn port_pages_fit_the_width() {
    for width in [80, 120] {
        for args in [
            &["797"][..],
            &["80"][..],
            &["3389"][..],
            &["0"][..],
            &["--color", "always", "797"][..],
            &["20-40"][..],
            &["6000-6010/tcp"][..],
        ] {
            let o = portent_at(width, args);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
            assert_fits(&o, width, &format!("{args:?}"));
        }
    }
    // The Binding line used to be 125 columns on one line; now it wraps under its label.
    let s = stdout(&portent_at(80, &["797"]));
    let lines: Vec<&str> = s.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("  Binding    "))
        .unwrap_or_else(|| panic!("no Binding line:\n{s}"));
    assert!(
        lines[at + 1].starts_with(&" ".repeat(13)) && !lines[at + 1].trim().is_empty(),
        "{s}"
    );
    // Wider terminals get longer lines: the width is used, not just a ceiling.
    let wide = stdout(&portent_at(120, &["797"]));
    let longest = |s: &str| s.lines().map(columns).max().unwrap_or(0);
    assert!(longest(&wide) > 100, "{wide}");
    assert!(longest(&s) > 70, "{s}");
}

#[test]
fn search_tables_fit_the_width() {
    for width in [80, 120] {
        for q in [
            "rdp",
            "netinfo",
            "remote desktop",
            "x11",
            "kubernetes",
            "http",
        ] {
            let o = portent_at(width, &["search", q, "-n", "40"]);
            assert_eq!(o.status.code(), Some(0), "{q}: {}", stderr(&o));
            assert_fits(&o, width, q);
            // Columns line up: every row's NAME starts where the header's does.
            let s = stdout(&o);
            let mut lines = s.lines();
            let head = lines.next().unwrap();
            let name_at = columns(&head[..head.find("NAME").unwrap()]);
            for l in lines {
                // The characters of the row that come before the header's NAME column.
                let mut used = 0;
                let cut: String = l
                    .chars()
                    .take_while(|c| {
                        used += columns(&c.to_string());
                        used <= name_at
                    })
                    .collect();
                assert_eq!(columns(&cut), name_at, "{q}: {l:?}");
                assert!(
                    cut.ends_with(' '),
                    "{q}: NAME column does not start after a space: {l:?}"
                );
            }
        }
    }
}

#[test]
fn search_ranks_whole_words_first_and_says_when_a_name_has_no_port() {
    let o = portent(&["search", "rdp", "-n", "60", "--json"]);
    let v = json(&o);
    let hits = v["hits"].as_array().unwrap();
    let at = |name: &str| {
        hits.iter()
            .position(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {v:#}"))
    };
    for inside in ["boardplus", "easyengine", "brdptc"] {
        assert!(at("Remote Desktop Protocol (RDP)") < at(inside), "{inside}");
        assert!(at("vmrdp") < at(inside), "{inside}");
    }
    // rdp is an IANA name with no port: the table says so.
    let s = stdout(&portent(&["search", "rdp"]));
    let row = s
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "rdp"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(row.starts_with("no port"), "{row}");
    assert!(row.contains("name only"), "{row}");
    // Bad input is an error (exit 2), not "nothing matches".
    for args in [
        &["search", ""][..],
        &["search", " "][..],
        &["search", "-n", "0", "x"][..],
    ] {
        let o = portent(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).contains("nothing matches"), "{}", stderr(&o));
        assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    }
}

#[test]
fn port_ranges_and_protocol_spellings() {
    let o = portent(&["20-25"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let ports: Vec<&str> = rows
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(ports, ["20", "21", "22", "23", "24", "25"], "{s}");
    assert!(rows[2].contains("ssh (tcp, udp, sctp)"), "{s}");
    assert!(rows[3].contains("telnet"), "{s}");
    let v = json(&portent(&["20-25/udp", "--json"]));
    assert_eq!(
        (v["first"].as_u64(), v["last"].as_u64()),
        (Some(20), Some(25))
    );
    assert_eq!(v["protocol"], "udp");
    let p = v["ports"].as_array().unwrap();
    assert_eq!(p.len(), 6);
    assert_eq!(p[2]["registry"][0]["protocol"], "udp");
    assert_eq!(p[2]["registry"][0]["names"][0], "ssh");
    assert_eq!(p[2]["registry"].as_array().unwrap().len(), 1);
    for (arg, needle) in [
        ("1-2000", "at most 1024"),
        ("25-20", "runs backwards"),
        ("20-70000", "not a port number"),
    ] {
        let o = portent(&[arg]);
        assert_eq!(o.status.code(), Some(2), "{arg}");
        assert!(stderr(&o).contains(needle), "{arg}: {}", stderr(&o));
    }
    // tcp/80, 80:tcp and tcp:80 are 80/tcp: only TCP rows in the registry section.
    let want = stdout(&portent(&["80/tcp"]));
    assert!(want.contains("  tcp   assigned"), "{want}");
    assert!(!want.contains("udp   assigned"), "{want}");
    for q in ["tcp/80", "80:tcp", "TCP:80"] {
        let o = portent(&[q]);
        assert_eq!(o.status.code(), Some(0), "{q}: {}", stderr(&o));
        assert_eq!(stdout(&o), want, "{q}");
    }
}

#[test]
fn scan_table_notes_fit_the_width() {
    // A loopback listener in the Kubernetes NodePort range, whose note is a long sentence,
    // and 797 (closed here: a ghost with a long note).
    let listener = (30000..32767)
        .find_map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok())
        .expect("a free port in 30000-32767 on loopback");
    let port = listener.local_addr().unwrap().port().to_string();
    let ports = format!("797,{port}");
    for width in [80, 120] {
        let o = portent_at(width, &["scan", "127.0.0.1", "-p", &ports]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_fits(&o, width, "scan");
        let s = stdout(&o);
        let row = s
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{port}/tcp")))
            .unwrap_or_else(|| panic!("no row for {port}:\n{s}"));
        assert!(row.contains("open"), "{s}");
        // The note is cut to one line (not wrapped over three; the port page has it all).
        assert!(s.contains("Default range from which Kubernetes"), "{s}");
        assert!(s.contains('\u{2026}'), "{s}");
        assert!(s.lines().count() < 10, "{s}");
    }
}

/// A watch saves each round as a run of its own: the named-run flags it shares with `scan`
/// are refused before anything is sent, not ignored.
#[test]
fn watch_refuses_the_named_run_flags() {
    for extra in [
        &["--scan-name", "nightly"][..],
        &["--scan-name", "nightly", "--resume"][..],
    ] {
        let mut args = vec!["watch", "127.0.0.1", "-p", "1", "--count", "1"];
        args.extend_from_slice(extra);
        let o = portent(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--scan-name and --resume are for scan"),
            "{extra:?}: {}",
            stderr(&o)
        );
    }
}
