//! Real Debian servers (openssh-server, redis-server, memcached, inetutils-telnetd), started by
//! the test on a loopback port with a temporary configuration and killed by PID when the test
//! ends.
//! `scripts/test` installs them; a missing server fails the test with that hint.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portent_probe::Detector;

/// A server process we started; killed (by its PID, via the handle) and reaped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(bin: &str) {
    assert!(
        std::path::Path::new(bin).exists(),
        "{bin} is missing: run scripts/test, which installs the test servers"
    );
}

fn start(cmd: &mut Command, port: u16) -> (Server, SocketAddr) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let t0 = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "server on {addr} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, addr)
}

fn output(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn detect(addr: SocketAddr, expected: Option<&str>) -> portent_probe::Detection {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let d = Detector::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let out = rt.block_on(d.detect(addr, expected));
    eprintln!("{}", serde_json::to_string(&out).unwrap());
    out
}

#[test]
fn real_openssh() {
    need("/usr/sbin/sshd");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("host_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::create_dir_all("/run/sshd").unwrap();
    let port = free_port();
    let cfg = dir.path().join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\nStrictModes no\n",
            key.display(),
            dir.path().join("pid").display()
        ),
    )
    .unwrap();
    let (_server, addr) = start(
        Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&cfg),
        port,
    );
    // Debian's package version "1:9.2p1-2+deb12u3" is upstream "9.2p1" and Debian's revision
    // "2+deb12u3"; the version reads "9.2p1 Debian 2+deb12u3", as nmap -sV writes it.
    let pkg = output("dpkg-query", &["-W", "-f=${Version}", "openssh-server"]);
    let (upstream, revision) = pkg.split(':').next_back().unwrap().split_once('-').unwrap();
    let d = detect(addr, None);
    assert_eq!(d.service, "ssh");
    assert_eq!(d.product.as_deref(), Some("OpenSSH"));
    assert_eq!(
        d.version.as_deref(),
        Some(format!("{upstream} Debian {revision}").as_str())
    );
    assert_eq!(d.cpe, Some(format!("cpe:/a:openbsd:openssh:{upstream}")));
    assert_eq!(d.probes, ["banner"]);
}

#[test]
fn real_redis() {
    need("/usr/bin/redis-server");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_server, addr) = start(
        Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir.path()),
        port,
    );
    // "Redis server v=7.0.15 sha=..."
    let v = output("redis-server", &["--version"]);
    let version = v
        .split("v=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let d = detect(addr, None);
    assert_eq!(d.service, "redis");
    assert_eq!(d.version.as_deref(), Some(version.as_str()));
}

#[test]
fn real_memcached() {
    need("/usr/bin/memcached");
    let port = free_port();
    let (_server, addr) = start(
        Command::new("memcached").args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-u",
            "nobody",
        ]),
        port,
    );
    // "memcached 1.6.18"
    let v = output("memcached", &["-V"]);
    let version = v.split_whitespace().nth(1).unwrap().to_string();
    let d = detect(addr, Some("memcache"));
    assert_eq!(d.service, "memcache");
    assert_eq!(d.version.as_deref(), Some(version.as_str()));
    assert_eq!(d.verdict.matches, portent_probe::Matches::True);
}

/// telnetd runs under inetd: the test plays inetd, accepting one connection on a loopback port
/// and starting telnetd with the accepted socket as its stdin and stdout.
#[test]
fn real_inetutils_telnetd() {
    use std::os::fd::OwnedFd;
    need("/usr/sbin/telnetd");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let inetd = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let fd: OwnedFd = sock.into();
        let child = Command::new("/usr/sbin/telnetd")
            .args(["-E", "/bin/false"])
            .stdin(Stdio::from(fd.try_clone().unwrap()))
            .stdout(Stdio::from(fd))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server(child)
    });
    let d = detect(addr, Some("telnet"));
    drop(inetd.join().unwrap());
    assert_eq!(d.service, "telnet");
    assert_eq!(d.product.as_deref(), Some("GNU inetutils telnetd"));
}
