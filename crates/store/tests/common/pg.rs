//! A throwaway PostgreSQL server for tests: Debian's server binaries (`initdb`, `pg_ctl`),
//! run as the `postgres` user when the tests run as root (PostgreSQL refuses root), a cluster
//! in a temporary directory listening only on a unix socket there, stopped when dropped.
//! Shared by the store's tests and the CLI's (`#[path]`).

#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway PostgreSQL server on a unix socket in a temporary directory.
pub struct TestPg {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) are missing: install Debian's \
             postgresql package (scripts/test does)"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command for a server binary: as the `postgres` user when we are root (PostgreSQL
/// refuses to run as root).
fn as_server_user(exe: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(exe);
        c
    } else {
        Command::new(exe)
    }
}

impl TestPg {
    /// Runs a server binary, as the `postgres` user when we are root (PostgreSQL refuses to
    /// run as root).
    fn run(&self, prog: &str, args: &[&str]) {
        let exe = self.bin.join(prog);
        let mut cmd = as_server_user(&exe);
        let out = cmd
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{prog} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn start() -> TestPg {
        let bin = pg_bin();
        let dir = tempfile::Builder::new()
            .prefix("portent-pg")
            .tempdir()
            .unwrap();
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(st.success(), "chown of the test cluster directory failed");
        }
        let pg = TestPg { dir, bin };
        let data = pg.path().join("data");
        let sock = pg.path().to_string_lossy().into_owned();
        pg.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "portent",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let opts = format!("-k {sock} -c listen_addresses='' -F");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &pg.path().join("log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "start",
            ],
        );
        pg
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A URL for a fresh database named `name` on this server.
    pub fn database(&self, name: &str) -> String {
        let host: String = self
            .path()
            .to_string_lossy()
            .replace('%', "%25")
            .replace('/', "%2F");
        let admin = format!("postgresql://portent@{host}/postgres");
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        format!("postgresql://portent@{host}/{name}")
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let data = self.path().join("data").to_string_lossy().into_owned();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = as_server_user(&exe);
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
