//! `portent serve`: the port encyclopedia in a browser (crates/web).

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, Result, bail};

use crate::Outcome;
use crate::args::ServeArgs;
use crate::out::{self, WARN};

/// Whether `addr` can only be reached from this machine.
fn loopback_only(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

pub fn run(args: &ServeArgs) -> Result<Outcome> {
    if !loopback_only(&args.listen) {
        if !args.public {
            bail!(
                "{} is reachable from other machines; the pages show this machine's processes and \
                 their command lines. Add --public to serve it anyway, or listen on 127.0.0.1",
                args.listen
            );
        }
        writeln!(
            anstream::stderr(),
            "{WARN}warning:{WARN:#} serving on {}: anyone who can reach it sees this machine's \
             listening sockets, processes and command lines",
            args.listen
        )?;
    }
    let dir = out::data_dir()?;
    let mut config = portent_web::Config::new(dir);
    config.allowed_hosts.clone_from(&args.allow_host);
    if let Some(spec) = args
        .store
        .store
        .clone()
        .or_else(|| std::env::var("PORTENT_STORE").ok())
        .filter(|s| !s.trim().is_empty())
    {
        config.store = portent_store::Location::parse(&spec)?;
    }
    let state = portent_web::AppState::new(
        out::registry(),
        portent_local::host::facts(),
        portent_web::live::system_source(),
        &config,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(portent_web::serve(state, args.listen, |addr| {
        let _ = writeln!(
            anstream::stdout(),
            "portent serve: http://{addr}/ports  (Ctrl-C to stop)"
        );
    }))?;
    Ok(Outcome::Found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        assert!(loopback_only(
            &"127.0.0.1:7970".parse().unwrap_or_else(|_| unreachable!())
        ));
        assert!(loopback_only(
            &"[::1]:7970".parse().unwrap_or_else(|_| unreachable!())
        ));
        assert!(!loopback_only(
            &"0.0.0.0:7970".parse().unwrap_or_else(|_| unreachable!())
        ));
        assert!(!loopback_only(
            &"192.168.1.2:80".parse().unwrap_or_else(|_| unreachable!())
        ));
    }
}
