//! Bad input to `portent scan` and `portent check`: every target and port syntax error is
//! reported with the bad token, exit status 2, and nothing is scanned (each case fails during
//! validation, before any socket is opened).

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::process::{Command, Output};

fn portent(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", dir.path())
        .output()
        .expect("run portent")
}

fn fails_naming(args: &[&str], needle: &str) {
    let o = portent(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
    assert!(o.stdout.is_empty(), "{args:?} printed results");
}

#[test]
fn bad_targets_are_named() {
    for (args, needle) in [
        (
            vec!["scan", "999.1.1.1"],
            "invalid IPv4 address '999.1.1.1'",
        ),
        (vec!["scan", "1.2.3"], "'1.2.3'"),
        (
            vec!["scan", "10.0.0.0/33"],
            "invalid CIDR block '10.0.0.0/33'",
        ),
        (vec!["scan", "::/129"], "invalid CIDR block '::/129'"),
        (
            vec!["scan", "10.0.0.1-300"],
            "invalid address range '10.0.0.1-300'",
        ),
        (vec!["scan", "10.0.0.9-10.0.0.1"], "'10.0.0.9-10.0.0.1'"),
        (
            vec!["scan", "2001:db8:::1"],
            "invalid IPv6 address '2001:db8:::1'",
        ),
        (vec!["scan", "fe80::1%eth0"], "zone"),
        (vec!["scan", "bad_$host"], "'bad_$host'"),
        // A bad token anywhere spoils the whole input: the good loopback target is not scanned.
        (
            vec!["scan", "127.0.0.1", "127.0.0.1,300.0.0.1"],
            "'300.0.0.1'",
        ),
        (
            vec!["scan", "127.0.0.1", "--exclude", "10.0.0.0/99"],
            "'10.0.0.0/99'",
        ),
        (vec!["scan", "10.0.0.0/8"], "--yes"),
        (
            vec!["scan", "127.0.0.1", "--exclude", "127.0.0.0/8"],
            "excluded",
        ),
        (vec!["scan", "0.0.0.0/0", "--yes"], "at most"),
        (vec!["scan", "--port", "22"], "no targets"),
        (vec!["check", "999.1.1.1", "22"], "'999.1.1.1'"),
        (vec!["check", "127.0.0.0/24", "22"], "'127.0.0.0/24'"),
    ] {
        fails_naming(&args, needle);
    }
}

#[test]
fn bad_ports_are_named() {
    for (args, needle) in [
        (vec!["scan", "127.0.0.1", "-p", "70000"], "'70000'"),
        (vec!["scan", "127.0.0.1", "-p", "0"], "'0'"),
        (vec!["scan", "127.0.0.1", "-p", "0-100"], "port 0"),
        (vec!["scan", "127.0.0.1", "-p", "100-10"], "'100-10'"),
        (vec!["scan", "127.0.0.1", "-p", "22,,23"], "empty item"),
        (vec!["scan", "127.0.0.1", "-p", "1-2-3"], "'1-2-3'"),
        (
            vec!["scan", "127.0.0.1", "-p", "sshh"],
            "unknown service name 'sshh'",
        ),
        (
            vec!["scan", "127.0.0.1", "--ports", "system,bogus"],
            "'bogus'",
        ),
        (
            vec!["scan", "127.0.0.1", "-p", "22", "--ports", "unassigned"],
            "empty",
        ),
        (
            vec!["scan", "127.0.0.1", "--exclude-ports", "99999"],
            "'99999'",
        ),
        (
            vec!["scan", "127.0.0.1", "-p", "22", "--timeout", "5x"],
            "'5x'",
        ),
        (vec!["scan", "127.0.0.1", "-p", "22", "--rate", "0"], "rate"),
        (
            vec!["scan", "127.0.0.1", "-p", "22", "--retries", "11"],
            "retries",
        ),
        (vec!["check", "127.0.0.1", "99999"], "'99999'"),
        (
            vec!["check", "127.0.0.1", "nosuchservicename"],
            "'nosuchservicename'",
        ),
    ] {
        fails_naming(&args, needle);
    }
}

#[test]
fn target_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.txt");
    std::fs::write(&f, "# lab hosts\n127.0.0.1\n127.0.0.300\n").unwrap();
    let p = f.to_str().unwrap();
    fails_naming(&["scan", "-iL", p, "-p", "22"], "line 3");
    fails_naming(&["scan", "-iL", p, "-p", "22"], "'127.0.0.300'");
    let missing = dir.path().join("missing.txt");
    fails_naming(
        &["scan", "-iL", missing.to_str().unwrap()],
        "cannot read the target list",
    );
    fails_naming(
        &["scan", "127.0.0.1", "-oX", "/nonexistent-dir/x.xml"],
        "cannot create the XML file",
    );
}

#[test]
fn help_shows_the_syntax() {
    let o = portent(&["scan", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let t = String::from_utf8(o.stdout).unwrap();
    for w in [
        "-iL",
        "-oX",
        "--ports",
        "--jsonl",
        "--csv",
        "--no-ping",
        "--rate",
    ] {
        assert!(t.contains(w), "{w} missing from help");
    }
}
