//! A `portent serve` for the tests in `crates/web/tests/` that need the server in a process of
//! its own: with a lowered descriptor limit (`--nofile 1024`, set on itself before serving),
//! short timeouts and small feedback budgets. Not installed or documented for users; the
//! real command is `portent serve` (crates/cli).
//!
//! `portent-web-fixture DATA_DIR [--nofile N] [--header-ms N] [--request-ms N] [--idle-ms N]
//! [--max-connections N] [--per-address N] [--per-network N] [--global N] [--window-ms N]`
//! listens on 127.0.0.1 (a free port), prints `listening on ADDR`, serves an empty listing of
//! sockets, and stops when its standard input closes (so it never outlives the test).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portent_local::listening::Listing;
use portent_registry::Registry;
use portent_registry::report::HostFacts;
use portent_web::{AppState, Config};

fn fail(msg: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "portent-web-fixture: {msg}");
    std::process::exit(2)
}

/// Lowers the descriptor limit, soft and hard, to `n`.
#[cfg(unix)]
fn set_nofile(n: u64) {
    if let Err(e) = rlimit::setrlimit(rlimit::Resource::NOFILE, n, n) {
        fail(&format!("cannot set the descriptor limit to {n}: {e}"));
    }
}

#[cfg(not(unix))]
fn set_nofile(_: u64) {
    fail("--nofile needs a Unix system")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| fail("give a data directory")));
    let mut config = Config::new(dir);
    let mut nofile = None;
    while let Some(flag) = args.next() {
        let value: u64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| fail(&format!("{flag} needs a number")));
        let ms = Duration::from_millis(value);
        let n32 = u32::try_from(value).unwrap_or(u32::MAX);
        match flag.as_str() {
            "--nofile" => nofile = Some(value),
            "--header-ms" => config.limits.header_timeout = ms,
            "--request-ms" => config.limits.request_timeout = ms,
            "--idle-ms" => config.limits.idle_timeout = ms,
            "--max-connections" => {
                config.limits.max_connections = usize::try_from(value).unwrap_or(usize::MAX);
            }
            "--per-address" => config.feedback_per_window = n32,
            "--per-network" => config.feedback_per_network = n32,
            "--global" => config.feedback_global = n32,
            "--window-ms" => config.feedback_window = ms,
            other => fail(&format!("unknown option {other}")),
        }
    }
    if let Some(n) = nofile {
        set_nofile(n);
    }
    let source: portent_web::live::Source = Arc::new(|| {
        Ok(Listing {
            listeners: vec![],
            hidden: vec![],
            root: false,
            netns: None,
            limits: vec![],
            netns_facts: None,
        })
    });
    let host = HostFacts {
        os: "linux",
        unprivileged_port_start: Some(1024),
        ephemeral_range: Some((32768, 60999)),
    };
    let state = AppState::new(Registry::embedded(), host, source, &config)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&e.to_string()));
    let stdin_closed = async {
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
    };
    let served = rt.block_on(portent_web::serve_until(
        state,
        ([127, 0, 0, 1], 0).into(),
        |addr| {
            let mut out = std::io::stdout();
            let _ = writeln!(out, "listening on {addr}");
            let _ = out.flush();
        },
        stdin_closed,
    ));
    if let Err(e) = served {
        fail(&e.to_string());
    }
}
