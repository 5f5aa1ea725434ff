//! The OpenAPI document (`crates/web/assets/openapi.json`) and the server agree: schemathesis
//! (from PyPI, installed into a throwaway venv under `target/tmp`) generates requests from the
//! document against the real server, started here on a loopback port with this machine's
//! sockets, and checks every answer: status codes, content types, headers and bodies as
//! documented, schema-valid requests taken and schema-violating ones refused, 405 with
//! `Allow` for other methods. Bounded: 50 examples per operation, a fixed seed, and a
//! 90-second deadline (it takes about 20 s). The test fails when schemathesis cannot be
//! installed (it needs python3 with venv, and PyPI: `scripts/test` installs python3-venv).
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portent_registry::Registry;
use portent_web::{AppState, Config, live};

/// The schemathesis release the test runs (pinned, so a new release cannot change CI).
const SCHEMATHESIS: &str = "4.32.5";

const DEADLINE: Duration = Duration::from_secs(90);

/// The `st` command of a venv holding schemathesis, made on first use.
fn schemathesis() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{SCHEMATHESIS}"));
    let st = venv.join("bin/st");
    if st.is_file() {
        return st;
    }
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .expect("python3 is needed to install schemathesis (scripts/test installs it)");
    assert!(
        made.success(),
        "python3 -m venv failed: python3-venv is needed (scripts/test installs it)"
    );
    let installed = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("schemathesis=={SCHEMATHESIS}"),
        ])
        .status()
        .expect("the venv's pip runs");
    assert!(
        installed.success() && st.is_file(),
        "pip could not install schemathesis {SCHEMATHESIS} from PyPI"
    );
    st
}

#[test]
fn openapi_document_and_server_agree_under_schemathesis() {
    let st = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_owned());
    // Room for every generated feedback post, so they reach the form checks (429 is
    // documented and seen too, once these are spent).
    config.feedback_per_window = 200;
    config.feedback_per_network = 200;
    config.feedback_global = 200;
    let state = AppState::new(
        Registry::embedded(),
        portent_local::host::facts(),
        live::system_source(),
        &config,
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn(async move {
        portent_web::serve_until(
            state,
            ([127, 0, 0, 1], 0).into(),
            move |a| tx.send(a).unwrap(),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    let addr: std::net::SocketAddr = rx.recv_timeout(Duration::from_secs(10)).unwrap();

    let report = dir.path().join("st-output.txt");
    let mut child = Command::new(&st)
        .args(["run", &format!("http://{addr}/api/openapi.json")])
        .args(["--checks", "all", "--max-examples", "50", "--seed", "13"])
        .args(["--generation-database", "none", "--request-timeout", "10"])
        .args(["--no-color", "--workers", "2"])
        .current_dir(dir.path())
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("schemathesis starts");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    std::fs::File::open(&report)
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let tail: String = {
        let lines: Vec<&str> = out.lines().collect();
        lines[lines.len().saturating_sub(200)..].join("\n")
    };
    let status = status
        .unwrap_or_else(|| panic!("schemathesis did not finish within {DEADLINE:?}:\n{tail}"));
    assert!(
        status.success(),
        "schemathesis found the server and its OpenAPI document disagreeing:\n{tail}"
    );
    // It really tested every operation of the document.
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../assets/openapi.json")).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert!(out.contains(&format!("Tested: {operations}")), "{tail}");
}
