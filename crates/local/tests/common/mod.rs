//! Fixtures shared by the listening tests of `portent-local` and of the CLI (which includes
//! this file by path): network namespaces made for one test, and `holder.py`, a child process
//! that holds the sockets a test asks for and reports their ports, inodes and its pid.
//!
//! These tests need root (network namespaces, port 797). CI runs as root; without it they
//! fail with a message saying so, never skip.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Fails the test loudly unless it runs as root.
pub fn require_root(why: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    assert_eq!(
        euid, "0",
        "this test needs root ({why}); CI runs the tests as root: run them as root, e.g. `sudo -E cargo test`"
    );
}

/// A network namespace created for one test with `ip netns add`, loopback up, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        require_root("it creates a network namespace");
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "portent-t{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        run(Command::new("ip").args(["-n", &name, "link", "set", "lo", "up"]));
        Netns { name }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One socket the holder reported.
#[derive(Debug, Clone)]
pub struct Held {
    pub kind: String,
    pub address: String,
    pub port: u16,
    pub inode: u64,
    pub fd: u32,
}

/// The long program name the holder runs under (through a symlink to Python), longer than
/// the 15 characters `/proc/PID/comm` keeps.
pub const LONG_NAME: &str = "portent-test-listener-long";

/// A running `holder.py`; killed (by its pid) on drop.
pub struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid: u32,
    pub fork_pid: Option<u32>,
    pub socks: Vec<Held>,
    pub exe_link: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn holder_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../local/tests/fixtures/holder.py")
        .canonicalize()
        .unwrap()
}

fn python() -> PathBuf {
    for p in ["/usr/bin/python3", "/usr/local/bin/python3"] {
        if let Ok(real) = std::fs::canonicalize(p) {
            return real;
        }
    }
    panic!("python3 is needed by the listening tests (scripts/test installs it)");
}

impl Holder {
    /// Starts the holder with `args` inside `netns` (or here when `None`) and waits until it
    /// has bound everything.
    pub fn start(netns: Option<&Netns>, args: &[&str]) -> Holder {
        let dir = tempfile::tempdir().unwrap();
        let exe_link = dir.path().join(LONG_NAME);
        std::os::unix::fs::symlink(python(), &exe_link).unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns.name]).arg(&exe_link);
                c
            }
            None => Command::new(&exe_link),
        };
        cmd.arg(holder_script())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut h = Holder {
            pid: 0,
            fork_pid: None,
            socks: Vec::new(),
            child,
            stdin,
            stdout,
            exe_link,
            _dir: dir,
        };
        loop {
            let line = h.line();
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["sock", _, kind, addr, port, inode, fd] => h.socks.push(Held {
                    kind: (*kind).to_owned(),
                    address: (*addr).to_owned(),
                    port: port.parse().unwrap(),
                    inode: inode.parse().unwrap(),
                    fd: fd.parse().unwrap(),
                }),
                ["child", pid] => h.fork_pid = Some(pid.parse().unwrap()),
                ["ready", pid] => {
                    h.pid = pid.parse().unwrap();
                    break;
                }
                _ => panic!("unexpected line from holder: {line:?}"),
            }
        }
        // `ip netns exec` and the symlink exec in place: the pid we started is the holder.
        assert_eq!(
            h.pid,
            h.child.id(),
            "the holder runs with the pid we started"
        );
        h
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).unwrap();
        assert!(n > 0, "holder exited early (see its stderr above)");
        line.trim_end().to_owned()
    }

    /// Closes socket `i` and waits until it is closed.
    pub fn close(&mut self, i: usize) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "close {i}").unwrap();
        stdin.flush().unwrap();
        assert_eq!(self.line(), format!("closed {i}"));
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
