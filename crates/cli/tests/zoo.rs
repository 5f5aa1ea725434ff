//! The zoo: real servers from Debian's packages, each started in a network namespace of its own
//! (an empty loopback, so it takes its usual port) and identified by `portent scan --detect` on
//! that port and on a random high port redirected to it (where the registry cannot help).
//! Product and version are asserted where the server reveals them before authentication.
//!
//! The servers are described in `tests/zoo/<name>/` (README.md there says how); scripts/test
//! installs their packages. Needs root (ip netns, nft) and the packages: without them every
//! server fails loudly, it is never skipped. `PORTENT_ZOO=a,b` runs only the named servers
//! (for writing a new one); CI runs them all.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerToml {
    package: Option<String>,
    packages: Option<Vec<String>>,
    binary: String,
    #[serde(default = "default_ready")]
    ready_secs: u64,
    port: Vec<PortToml>,
}

fn default_ready() -> u64 {
    20
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct PortToml {
    port: u16,
    service: String,
    /// The service on the random port, where the usual port's registry name is what tells
    /// it (SMB is netbios-ssn on 139, microsoft-ds elsewhere).
    service_elsewhere: Option<String>,
    product: Option<String>,
    version: Option<String>,
    #[serde(default)]
    tls: bool,
}

struct Server {
    name: String,
    dir: PathBuf,
    toml: ServerToml,
}

fn zoo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zoo")
}

/// Every server of the zoo (or those PORTENT_ZOO names), sorted by name.
fn servers() -> Vec<Server> {
    let only: Option<Vec<String>> = std::env::var("PORTENT_ZOO")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_string).collect());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(zoo_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("server.toml"))
            .unwrap_or_else(|e| panic!("{name}/server.toml: {e}"));
        let toml: ServerToml =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/server.toml: {e}"));
        assert!(dir.join("start.sh").is_file(), "{name}/start.sh is missing");
        out.push(Server { name, dir, toml });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(o) = &only {
        for n in o {
            assert!(
                out.iter().any(|s| &s.name == n),
                "PORTENT_ZOO: no server {n}"
            );
        }
    }
    out
}

/// `{upstream}`, `{base}`, `{revision}` and `{full}` from the package's Debian version.
fn expand_version(template: &str, package: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .expect("dpkg-query");
    assert!(
        out.status.success(),
        "{package} is not installed (scripts/test installs it)"
    );
    let full = String::from_utf8(out.stdout).unwrap();
    let no_epoch = full.split_once(':').map_or(full.as_str(), |(_, v)| v);
    let (upstream, revision) = no_epoch.rsplit_once('-').unwrap_or((no_epoch, ""));
    let base = upstream.split(['+', '~']).next().unwrap();
    let xy = base.split('.').take(2).collect::<Vec<_>>().join(".");
    template
        .replace("{x.y}", &xy)
        .replace("{upstream}", upstream)
        .replace("{base}", base)
        .replace("{revision}", revision)
        .replace("{full}", &full)
}

/// One running server: its namespace, its process group, its working directory.
struct Running {
    ns: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
    log: PathBuf,
}

impl Running {
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The server was started with setsid: its process group is its pid, and holds
            // only what start.sh started.
            let pgid = nix::unistd::Pid::from_raw(-(child.id() as i32));
            let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = nix::sys::signal::kill(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn connects(ns: &str, port: u16) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "bash", "-c"])
        .arg(format!("exec 3<>/dev/tcp/127.0.0.1/{port}"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `server` in namespace `ns` with `high[i]` redirected to its i-th port.
fn start(server: &Server, ns: &str, high: &[u16]) -> Result<Running, String> {
    run(Command::new("ip").args(["netns", "add", ns]));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut running = Running {
        ns: ns.to_string(),
        child: None,
        _dir: dir,
        log: log.clone(),
    };
    run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
    let mut rules = String::from(
        "table ip zoo {\n chain out {\n  type nat hook output priority -100; policy accept;\n",
    );
    for (p, h) in server.toml.port.iter().zip(high) {
        rules.push_str(&format!(
            "  ip daddr 127.0.0.1 tcp dport {h} redirect to :{}\n",
            p.port
        ));
    }
    rules.push_str(" }\n}\n");
    let rules_path = running._dir.path().join("zoo.nft");
    std::fs::write(&rules_path, rules).unwrap();
    run(Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f"])
        .arg(&rules_path));
    if !Path::new(&server.toml.binary).exists() {
        return Err(format!(
            "{} is not installed (scripts/test installs it)",
            server.toml.binary
        ));
    }
    let work = running._dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let logf = std::fs::File::create(&log).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "setsid", "bash", "-eu"])
        .arg(server.dir.join("start.sh"))
        .current_dir(&work)
        .env("ZOO_DIR", &work)
        .env("ZOO_SRC", &server.dir)
        .stdin(Stdio::null())
        .stdout(logf.try_clone().unwrap())
        .stderr(logf)
        .spawn()
        .unwrap();
    running.child = Some(child);
    let deadline = Instant::now() + Duration::from_secs(server.toml.ready_secs);
    for p in &server.toml.port {
        while !connects(ns, p.port) {
            let exited = running
                .child
                .as_mut()
                .unwrap()
                .try_wait()
                .unwrap()
                .is_some();
            if exited || Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on {} ({}): {}",
                    server.name,
                    p.port,
                    if exited { "it exited" } else { "timed out" },
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(running)
}

/// What portent said about one port: service, product, version, TLS or not.
fn said(port: &Value) -> (String, Option<String>, Option<String>, bool) {
    let d = &port["detection"];
    let s = |k: &str| d[k].as_str().map(str::to_string);
    (
        s("service").unwrap_or_else(|| format!("(no detection; state {})", port["state"])),
        s("product"),
        s("version"),
        !d["tls"].is_null(),
    )
}

struct Row {
    server: String,
    port: String,
    expected: String,
    got: String,
    ok: bool,
}

fn describe(service: &str, product: Option<&str>, version: Option<&str>, tls: bool) -> String {
    let mut s = service.to_string();
    for p in [product, version].into_iter().flatten() {
        s.push(' ');
        s.push_str(p);
    }
    if tls {
        s.push_str(" [tls]");
    }
    s
}

fn check_server(server: &Server, index: usize) -> Vec<Row> {
    let ns = format!("pz{index}-{}", std::process::id());
    // Random high ports (30000-59999), distinct from each other and from the usual ones.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize
        + index * 7919;
    let high: Vec<u16> = (0..server.toml.port.len())
        .map(|i| 30000 + ((seed + i * 101) % 30000) as u16)
        .collect();
    let fail = |why: String| {
        vec![Row {
            server: server.name.clone(),
            port: "-".into(),
            expected: "a running server".into(),
            got: why,
            ok: false,
        }]
    };
    let running = match start(server, &ns, &high) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mut list: Vec<String> = server
        .toml
        .port
        .iter()
        .map(|p| p.port.to_string())
        .collect();
    list.extend(high.iter().map(u16::to_string));
    let out = Command::new("ip")
        .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_portent")])
        .args([
            "scan",
            "127.0.0.1",
            "-p",
            &list.join(","),
            "--detect",
            "--json",
            "--no-save",
        ])
        .env("PORTENT_DATA_DIR", running._dir.path())
        .output()
        .unwrap();
    let doc: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => {
            return fail(format!(
                "portent's JSON: {e}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    };
    let ports: BTreeMap<u64, Value> = doc["hosts"][0]["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| (p["port"].as_u64().unwrap(), p.clone()))
                .collect()
        })
        .unwrap_or_default();
    let package = server
        .toml
        .package
        .clone()
        .or_else(|| {
            server
                .toml
                .packages
                .as_ref()
                .and_then(|p| p.first().cloned())
        })
        .expect("package or packages");
    let mut rows = Vec::new();
    for (p, h) in server.toml.port.iter().zip(&high) {
        let version = p.version.as_deref().map(|v| expand_version(v, &package));
        for (label, port, want_service) in [
            (p.port.to_string(), p.port, &p.service),
            (
                format!("{h} (-> {})", p.port),
                *h,
                p.service_elsewhere.as_ref().unwrap_or(&p.service),
            ),
        ] {
            let expected = describe(
                want_service,
                p.product.as_deref(),
                version.as_deref(),
                p.tls,
            );
            let (service, product, got_version, tls) = ports
                .get(&u64::from(port))
                .map(said)
                .unwrap_or_else(|| ("(not in the scan)".into(), None, None, false));
            let ok = service == *want_service
                && (p.product.is_none() || product == p.product)
                && (version.is_none() || got_version == version)
                && (!p.tls || tls);
            rows.push(Row {
                server: server.name.clone(),
                port: label,
                expected: expected.clone(),
                got: describe(&service, product.as_deref(), got_version.as_deref(), tls),
                ok,
            });
        }
    }
    if rows.iter().any(|r| !r.ok) {
        eprintln!(
            "--- {} log ---\n{}",
            server.name,
            std::fs::read_to_string(&running.log).unwrap_or_default()
        );
    }
    drop(running);
    rows
}

#[test]
fn every_server_of_the_zoo_is_named_on_its_port_and_on_a_random_one() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the zoo needs root for ip netns and nft (CI runs as root)"
    );
    let servers = servers();
    assert!(!servers.is_empty());
    // Four servers at a time: they start in parallel (some take seconds), and each scan is
    // short.
    let mut rows = Vec::new();
    for (chunk_no, chunk) in servers.chunks(4).enumerate() {
        let got: Vec<Vec<Row>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .enumerate()
                .map(|(i, server)| s.spawn(move || check_server(server, chunk_no * 4 + i)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        rows.extend(got.into_iter().flatten());
    }
    let mut table = String::from("server | port | expected | portent said\n");
    for r in &rows {
        table.push_str(&format!(
            "{} {} | {} | {} | {}\n",
            if r.ok { " " } else { "x" },
            r.server,
            r.port,
            r.expected,
            r.got
        ));
    }
    eprintln!("{table}");
    let bad = rows.iter().filter(|r| !r.ok).count();
    assert_eq!(bad, 0, "{bad} of {} rows wrong:\n{table}", rows.len());
}
