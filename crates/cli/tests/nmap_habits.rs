//! nmap's flags as its users type them, row by row: each is either taken (and does what nmap
//! users expect) or refused with a sentence that says why and what to use instead, never
//! clap's generic "unexpected argument". Scans here touch only ports of 127.0.0.1 that the
//! test itself opened (and one closed port it just released); wider selections (-F,
//! --top-ports) are tested in scan_netns.rs, inside a namespace.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Command, Output};

fn portent(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", dir)
        .env("PORTENT_STORE", dir.join("store.sqlite"))
        .current_dir(dir)
        .output()
        .expect("run portent")
}

/// A listening port and a closed one (bound, then released), both on 127.0.0.1.
fn ports() -> (TcpListener, u16, u16) {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let p = open.local_addr().unwrap().port();
    (open, p, closed_port)
}

#[test]
fn refused_flags_say_why() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["-sA"], "raw packets"),
        (vec!["-sn"], "host discovery alone"),
        (vec!["-sY"], "SCTP"),
        (vec!["-T0"], "five minutes"),
        (vec!["-T1"], "15 seconds"),
        (vec!["-T", "sneaky"], "15 seconds"),
        (vec!["-T9"], "0-5"),
        (vec!["-R"], "no reverse DNS"),
        (vec!["--host-timeout", "30"], "--host-timeout is not built"),
        (
            vec!["-oX", "-", "--json"],
            "only one output form can go to stdout",
        ),
        (
            vec!["-oG", "-", "-oN", "-"],
            "only one output form can go to stdout",
        ),
        (vec!["-oA", "-"], "base name"),
        (vec!["--timeout", "90000"], "up to 24h"),
        (vec!["--open", "--all"], "cannot be used with"),
        (vec!["-F", "-p", "22"], "cannot be used with"),
    ] {
        let mut argv = vec!["scan", "127.0.0.1", "--no-save"];
        argv.extend(&args);
        let o = portent(&argv, dir.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
        assert!(o.stdout.is_empty(), "{args:?} printed results");
    }
}

#[test]
fn accepted_flags_scan_and_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, open, closed) = ports();
    let list = format!("{open},{closed}");
    std::fs::write(dir.path().join("excl.txt"), "127.0.0.2\n").unwrap();
    for extra in [
        vec!["-sT"],
        vec!["-n"],
        vec!["-v"],
        vec!["-vv"],
        vec!["--reason"],
        vec!["-T2"],
        vec!["-T3"],
        vec!["-T", "aggressive"],
        vec!["-T5"],
        vec!["--min-rate", "1000"],
        vec!["--max-rate", "100"],
        vec!["--max-retries", "0"],
        vec!["--excludefile", "excl.txt"],
        vec!["--timeout", "2"],
        vec!["-Pn"],
    ] {
        let mut argv = vec!["scan", "127.0.0.1", "-p", &list, "--no-save", "--csv"];
        argv.extend(&extra);
        let o = portent(&argv, dir.path());
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {err}");
        assert!(
            out.contains(&format!("127.0.0.1,,{open},tcp,open,")),
            "{extra:?}: {out}"
        );
        assert!(
            out.contains(&format!("127.0.0.1,,{closed},tcp,closed,")),
            "{extra:?}: {out}"
        );
        if extra[0] == "--min-rate" {
            assert!(err.contains("--min-rate has no effect"), "{err}");
        }
    }
    // Nothing open is still a completed scan: 0, as nmap (`check` is the yes/no command).
    let o = portent(
        &["scan", "127.0.0.1", "-p", &closed.to_string(), "--no-save"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    // An octet pattern is a target.
    let o = portent(
        &["scan", "127.0.0-0.1", "-p", &list, "--no-save", "--csv"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("127.0.0.1,,{open},tcp,open,")));
}

#[test]
fn open_lists_only_open_ports_in_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, open, closed) = ports();
    let list = format!("{open},{closed}");
    let o = portent(
        &[
            "scan",
            "127.0.0.1",
            "-p",
            &list,
            "--no-save",
            "--open",
            "--csv",
        ],
        dir.path(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!(",{open},tcp,open,")), "{out}");
    assert!(!out.contains(&format!(",{closed},")), "{out}");
    let o = portent(
        &[
            "scan",
            "127.0.0.1",
            "-p",
            &list,
            "--no-save",
            "--open",
            "-oX",
            "-",
        ],
        dir.path(),
    );
    let xml = String::from_utf8_lossy(&o.stdout);
    assert!(xml.contains(&format!(r#"portid="{open}""#)), "{xml}");
    assert!(!xml.contains(&format!(r#"portid="{closed}""#)), "{xml}");
    assert!(
        xml.contains(r#"<extraports state="closed" count="1">"#),
        "{xml}"
    );
}

#[test]
fn output_forms_go_to_files_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, open, closed) = ports();
    let list = format!("{open},{closed}");
    // -oX - puts the XML where the table was: stdout holds nothing else.
    let o = portent(
        &["scan", "127.0.0.1", "-p", &list, "--no-save", "-oX", "-"],
        dir.path(),
    );
    let xml = String::from_utf8_lossy(&o.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.trim_end().ends_with("</nmaprun>"), "{xml}");
    assert!(!std::path::Path::new("-").exists() && !dir.path().join("-").exists());
    // -oA writes the three files, and the table still goes to stdout.
    let o = portent(
        &["scan", "127.0.0.1", "-p", &list, "--no-save", "-oA", "out"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PORT"));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let normal = read("out.nmap");
    let grep = read("out.gnmap");
    let xml = read("out.xml");
    assert!(normal.starts_with("# portent "), "{normal}");
    assert!(normal.contains(&format!("{open}/tcp")), "{normal}");
    assert!(
        !normal.contains('\u{1b}'),
        "colours in the file: {normal:?}"
    );
    assert!(
        normal
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("# portent done at ")
    );
    assert!(grep.contains("Host: 127.0.0.1 ()\tPorts: "), "{grep}");
    assert!(grep.contains(&format!(" {open}/open/tcp//")), "{grep}");
    assert!(grep.contains(&format!(" {closed}/closed/tcp//")), "{grep}");
    assert!(grep.contains("Host: 127.0.0.1 ()\tStatus: Up"), "{grep}");
    assert!(
        grep.contains("-- 1 IP address (1 host up) scanned in "),
        "{grep}"
    );
    assert!(
        xml.contains("startstr=") && xml.contains("timestr="),
        "{xml}"
    );
    // Joined spellings, as nmap's users type them.
    let o = portent(
        &[
            "scan",
            "127.0.0.1",
            "-p",
            &list,
            "--no-save",
            "-oGjoined.gnmap",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(read("joined.gnmap").contains("Status: Up"));
}

/// `check HOST:PORT` and `check [::1]:PORT` as Test-NetConnection's and nc's users type them.
#[test]
fn check_takes_host_colon_port() {
    let dir = tempfile::tempdir().unwrap();
    let (_l, open, closed) = ports();
    let v6 = TcpListener::bind("[::1]:0").unwrap();
    let v6_port = v6.local_addr().unwrap().port();
    for (args, code) in [
        (vec![format!("127.0.0.1:{open}")], 0),
        (vec![format!("127.0.0.1:{closed}")], 1),
        (vec![format!("[::1]:{v6_port}")], 0),
        (vec!["127.0.0.1".to_owned(), open.to_string()], 0),
    ] {
        let mut argv = vec!["check", "--no-detect", "--no-save"];
        argv.extend(args.iter().map(String::as_str));
        let o = portent(&argv, dir.path());
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = portent(&["check", "127.0.0.1", "--no-save"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("which port?"));
    let o = portent(
        &["check", &format!("127.0.0.1:{open}"), "22", "--no-save"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has a port in it"));
}
