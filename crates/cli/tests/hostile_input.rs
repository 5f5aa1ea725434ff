//! Regression tests for issue 13, findings 1, 5 and 7 (the parts outside the web server),
//! through the real binary. Every run has a deadline: a command that blocks (a FIFO with no
//! writer, an endless stream) fails its test instead of hanging CI. Nothing here reaches the
//! network: each command is refused while its input is checked, and the only target named
//! is 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../registry/data/iana/service-names-port-numbers.csv"
);

/// The longest any of these commands may take (a debug build reads 64 MiB of stdin in well
/// under a second).
const DEADLINE: Duration = Duration::from_secs(30);

struct Ran {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs `cmd` to completion or kills it at the deadline and fails the test.
fn finish(mut cmd: Command, what: &str) -> Ran {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {DEADLINE:?}: it blocked");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code: status.code(),
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    }
}

/// A scratch data directory and store for one test.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str], stdin: Stdio) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portent"));
        cmd.args(args)
            .env("PORTENT_DATA_DIR", self.path("data"))
            .env("PORTENT_STORE", self.path("store.db"))
            .stdin(stdin);
        cmd
    }

    fn run(&self, args: &[&str]) -> Ran {
        finish(self.command(args, Stdio::null()), &format!("{args:?}"))
    }

    fn fifo(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        let made = Command::new("mkfifo")
            .arg(&p)
            .status()
            .expect("mkfifo (coreutils) is needed");
        assert!(made.success());
        p
    }
}

/// Every command line that takes a file from the user, with `FILE` where it goes.
const FILE_ARGUMENTS: &[&[&str]] = &[
    &["scan", "-iL", "FILE", "-p", "1", "--no-save"],
    &[
        "scan",
        "127.0.0.1",
        "-p",
        "1",
        "--exclude-file",
        "FILE",
        "--no-save",
    ],
    &[
        "scan",
        "127.0.0.1",
        "-p",
        "1",
        "--detect",
        "--signatures",
        "FILE",
        "--no-save",
    ],
    &[
        "check",
        "127.0.0.1",
        "1",
        "--signatures",
        "FILE",
        "--no-save",
    ],
    &["registry", "update", "--file", "FILE"],
    &["listening", "--netns", "FILE", "--no-save"],
    &["diff", "--baseline", "FILE"],
    &["watch", "--listening", "--baseline", "FILE", "--count", "1"],
    &[
        "watch",
        "127.0.0.1",
        "-p",
        "1",
        "--baseline",
        "FILE",
        "--count",
        "1",
    ],
    &["watch", "-iL", "FILE", "-p", "1", "--count", "1"],
    &["history", "--store", "FILE"],
];

fn with_file<'a>(args: &[&'a str], file: &'a str) -> Vec<&'a str> {
    args.iter()
        .map(|a| if *a == "FILE" { file } else { a })
        .collect()
}

fn refused_everywhere(env: &Env, file: &Path, kind: &str) {
    let file = file.to_str().unwrap();
    for args in FILE_ARGUMENTS {
        let args = with_file(args, file);
        let r = env.run(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("{file} is {kind}, not a regular file")),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?} printed results");
    }
}

/// Finding 1: `-iL /dev/zero`, `--signatures /dev/zero` and the rest grew until the OOM killer
/// acted. Now every file argument refuses a device before reading a byte.
#[test]
fn finding_1_dev_zero_is_refused_for_every_file_argument() {
    let env = Env::new();
    refused_everywhere(&env, Path::new("/dev/zero"), "a character device");
}

/// Finding 1: a FIFO with no writer blocked forever in open(2) for `-iL`, `--signatures`,
/// `registry update --file` and `listening --netns`.
#[test]
fn finding_1_fifo_without_a_writer_is_refused_for_every_file_argument() {
    let env = Env::new();
    let fifo = env.fifo("fifo");
    refused_everywhere(&env, &fifo, "a FIFO (named pipe)");
    // Also a directory.
    let dir = env.path("a-directory");
    std::fs::create_dir(&dir).unwrap();
    refused_everywhere(&env, &dir, "a directory");
}

/// Finding 1: a FIFO where the updated registry snapshot lives would block every command at
/// start. It is a damaged snapshot now: a warning, and the built-in data.
#[test]
fn finding_1_fifo_as_the_registry_snapshot_is_a_warning() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("data")).unwrap();
    env.fifo("data/registry.bin");
    let r = env.run(&["22"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("is a FIFO (named pipe)")
            && r.stderr.contains("using the registry built into portent"),
        "{}",
        r.stderr
    );
    assert!(String::from_utf8_lossy(&r.stdout).contains("ssh"));
}

/// Finding 1: `-iL - < /dev/zero` read standard input without end. It is read through the same
/// 64 MiB cap as a file, for targets and exclusions alike.
#[test]
fn finding_1_endless_standard_input_is_capped() {
    let env = Env::new();
    for args in [
        &["scan", "-iL", "-", "-p", "1", "--no-save"][..],
        &[
            "scan",
            "127.0.0.1",
            "-p",
            "1",
            "--exclude-file",
            "-",
            "--no-save",
        ],
    ] {
        let zero = std::fs::File::open("/dev/zero").unwrap();
        let r = finish(env.command(args, Stdio::from(zero)), &format!("{args:?}"));
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(
                "the target list from standard input is larger than 64 MiB, the most portent reads"
            ),
            "{args:?}: {}",
            r.stderr
        );
    }
    // Standard input within the cap is a list like any other.
    let mut cmd = env.command(
        &["scan", "-iL", "-", "-p", "1", "--no-save"],
        Stdio::piped(),
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"# one bad line\n127.0.0.300\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 2") && err.contains("'127.0.0.300'"),
        "{err}"
    );
}

/// Finding 1: a regular file over a cap is refused by its size, without reading it (sparse
/// files: nothing of the size is written).
#[test]
fn finding_1_oversized_files_are_refused_by_their_size() {
    let env = Env::new();
    for (args, size, cap) in [
        (
            &["scan", "-iL", "FILE", "-p", "1", "--no-save"][..],
            64u64 << 20,
            "64 MiB",
        ),
        (
            &["check", "127.0.0.1", "1", "--signatures", "FILE"],
            4 << 20,
            "4 MiB",
        ),
        (
            &["registry", "update", "--file", "FILE"],
            16 << 20,
            "16 MiB",
        ),
        (&["diff", "--baseline", "FILE"], 1 << 20, "1 MiB"),
    ] {
        let big = env.path("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(size + 1)
            .unwrap();
        let args = with_file(args, big.to_str().unwrap());
        let r = env.run(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("is larger than {cap}")),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// Runs portent on a pseudo-terminal (python3's pty module) and returns every byte the
/// terminal received, stdout and stderr together, and the exit status.
fn on_a_terminal(env: &Env, args: &[&std::ffi::OsStr]) -> (Vec<u8>, i32) {
    const PTY: &str = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(PTY)
        .arg(env!("CARGO_BIN_EXE_portent"))
        .args(args)
        .env("PORTENT_DATA_DIR", env.path("data"))
        .env("PORTENT_STORE", env.path("store.db"))
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    let r = finish(cmd, "python3 pty (python3 is needed)");
    (r.stdout, r.code.unwrap_or(-1))
}

/// `text` without our own colours (SGR sequences `ESC [ digits/; m`).
fn without_colours(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\u{1b}[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let n = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        if after[n..].starts_with('m') {
            rest = &after[n + 1..];
        } else {
            out.push_str("\u{1b}[");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Finding 5: `portent $'\x1b]0;pwned\x07'` and a target file line with U+202E and an OSC
/// sequence printed those bytes raw in the error. Through a real terminal now, every error
/// (clap's included) arrives escaped: no OSC, no BEL, no direction override, no colour change
/// that we did not choose.
#[test]
fn finding_5_errors_reach_a_terminal_escaped() {
    use std::ffi::OsStr;
    let env = Env::new();
    let osc = "\u{1b}]0;pwned\u{7}";
    let evil = env.path("evil.txt");
    std::fs::write(&evil, format!("127.0.0.1\nbad\u{202e}{osc}x\n")).unwrap();
    let osc_arg = OsStr::new(osc);
    let red_flag = "--\u{1b}[31mx";
    let cases: Vec<(Vec<&OsStr>, &str)> = vec![
        // The implied `port` command: "no port or service is named ...".
        (vec![osc_arg], r"\u{1b}]0;pwned\u{7}"),
        // A target file line: "... is not an address ...".
        (
            vec![
                OsStr::new("scan"),
                OsStr::new("-iL"),
                evil.as_os_str(),
                OsStr::new("--no-save"),
            ],
            r"'bad\u{202e}\u{1b}]0;pwned\u{7}x' is not an address",
        ),
        // clap quoting a bad value, and an unknown option.
        (
            vec![OsStr::new("scan"), OsStr::new("--threads"), osc_arg],
            r"invalid value '\u{1b}]0;pwned\u{7}' for '--threads <N>'",
        ),
        (vec![OsStr::new(red_flag)], r"'--\u{1b}[31mx'"),
    ];
    for (args, escaped) in cases {
        let (bytes, code) = on_a_terminal(&env, &args);
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(code, 2, "{args:?}: {text}");
        let plain = without_colours(&text);
        assert!(
            plain.contains(escaped),
            "{args:?}: expected {escaped} in {text:?}"
        );
        assert!(
            !bytes.windows(2).any(|w| w == b"\x1b]"),
            "{args:?}: raw OSC in {text:?}"
        );
        assert!(!bytes.contains(&0x07), "{args:?}: raw BEL in {text:?}");
        assert!(
            !text.contains('\u{202e}'),
            "{args:?}: raw U+202E in {text:?}"
        );
        assert!(
            !text.contains("\u{1b}[31mx"),
            "{args:?}: raw SGR in {text:?}"
        );
    }
}

/// Finding 7: a 10 MB description was accepted (and printed whole); duplicate rows were
/// accepted silently. Both are refused, and the data in use stays.
#[test]
fn finding_7_registry_update_refuses_long_fields_and_duplicates() {
    let env = Env::new();
    let real = std::fs::read_to_string(CSV).unwrap();
    let cases = [
        (
            format!(
                "{real}portent-test,797,tcp,{},,,,,,,,\n",
                "x".repeat(10 << 20)
            ),
            "the Description is 10485760 bytes long; at most 4096 are accepted".to_string(),
        ),
        (
            format!("{real}ssh,22,tcp,The Secure Shell (SSH) Protocol again,,,,,,,,\n"),
            "assigns ssh 22/tcp again (first on line".to_string(),
        ),
        (
            format!("{real}{}", real.lines().nth(5).unwrap()),
            "repeats line 6 exactly".to_string(),
        ),
    ];
    for (text, want) in cases {
        let f = env.path("update.csv");
        std::fs::write(&f, text).unwrap();
        let r = env.run(&["registry", "update", "--file", f.to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(
            r.stderr.contains(&want),
            "expected {want:?} in {}",
            r.stderr
        );
        assert!(
            r.stderr.len() < 2000,
            "the error quoted the field: {}",
            r.stderr.len()
        );
    }
    let info = env.run(&["registry", "info", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["source"], "embedded");
}

/// Finding 7: `.registry.bin.PID.tmp` files of killed updates were left behind. The next update
/// removes those whose process is gone.
#[test]
fn finding_7_killed_update_temp_files_are_removed_by_the_next_update() {
    let env = Env::new();
    let data = env.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let left = data.join(format!(".registry.bin.{dead}.tmp"));
    std::fs::write(&left, vec![0u8; 4096]).unwrap();
    let r = env.run(&["registry", "update", "--file", CSV]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!left.exists(), "the stale temporary file is still there");
    assert!(data.join("registry.bin").exists());
}

/// Finding 7: `--threads 0` and `--detect-concurrency 0` were silently raised to 1 (and more
/// than 64 threads silently lowered to 64).
#[test]
fn finding_7_zero_threads_and_detect_concurrency_are_refused() {
    let env = Env::new();
    for (args, want) in [
        (
            &[
                "scan",
                "127.0.0.1",
                "-p",
                "1",
                "--threads",
                "0",
                "--no-save",
            ][..],
            "invalid value '0' for '--threads <N>': must be at least 1",
        ),
        (
            &[
                "scan",
                "127.0.0.1",
                "-p",
                "1",
                "--detect",
                "--detect-concurrency",
                "0",
                "--no-save",
            ],
            "invalid value '0' for '--detect-concurrency <N>': must be at least 1",
        ),
        (
            &[
                "scan",
                "127.0.0.1",
                "-p",
                "1",
                "--threads",
                "65",
                "--no-save",
            ],
            "threads must be between 1 and 64, not 65",
        ),
    ] {
        let r = env.run(args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?} scanned");
    }
}
