//! `portent check HOST PORT`: the `Test-NetConnection` answer, as text or JSON. Exit 0 when
//! some address is open, 1 when none is.

use std::io::Write;

use anyhow::{Context, Result};
use portent_scan::check::{CheckReport, check, resolve_one};
use portent_scan::{State, SystemNetwork, SystemResolver, explain};
use serde::Serialize;

use crate::Outcome;
use crate::args::CheckArgs;
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean};

#[derive(Debug, Serialize)]
struct CheckDoc<'a> {
    #[serde(flatten)]
    report: &'a CheckReport,
    port: u16,
    service: &'static str,
    ghost: bool,
    note: &'static str,
    open: bool,
}

pub fn run(args: &CheckArgs) -> Result<Outcome> {
    let reg = out::registry();
    let ports = portent_scan::ports::parse_ports(&args.port, &reg)?;
    let port = ports
        .iter()
        .next()
        .context("the port list is empty: give one port")?;
    let timeout = portent_scan::parse_duration(&args.timeout)?;
    if timeout.is_zero() {
        anyhow::bail!("the timeout must be more than 0");
    }
    let addresses = resolve_one(&args.host, &SystemResolver)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = rt.block_on(check(
        &SystemNetwork::default(),
        &args.host,
        addresses,
        port,
        timeout,
        args.retries,
    ));
    let e = explain(&reg, port);
    let open = report.open();
    if args.json {
        out::json(&CheckDoc {
            report: &report,
            port,
            service: e.service,
            ghost: e.ghost,
            note: e.note,
            open,
        })?;
    } else {
        let mut w = anstream::stdout().lock();
        let addrs: Vec<String> = report.addresses.iter().map(ToString::to_string).collect();
        writeln!(w, "{HEAD}Host{HEAD:#}       {}", clean(&report.host, false))?;
        writeln!(w, "{HEAD}Addresses{HEAD:#}  {}", addrs.join(", "))?;
        write!(
            w,
            "{HEAD}Port{HEAD:#}       {port}/tcp  {NAME}{}{NAME:#}",
            e.service
        )?;
        if e.ghost {
            write!(w, "  {BAD}ghost{BAD:#}")?;
        }
        writeln!(w)?;
        if ports.len() > 1 {
            writeln!(
                w,
                "           {DIM}{} names {} ports; checked the first{DIM:#}",
                clean(&args.port, false),
                ports.len()
            )?;
        }
        if !e.note.is_empty() {
            writeln!(w, "           {DIM}{}{DIM:#}", clean(e.note, false))?;
        }
        writeln!(w)?;
        for r in &report.results {
            let st = match r.state {
                State::Open => GOOD,
                State::Closed => BAD,
                State::Filtered => WARN,
            };
            let dest = std::net::SocketAddr::new(r.address, r.port);
            write!(
                w,
                "  {dest:<24} {st}{:<9}{st:#} {:<22}",
                r.state.as_str(),
                r.reason.as_str()
            )?;
            if let Some(ms) = r.rtt_ms {
                write!(w, " {ms:.2} ms")?;
            }
            writeln!(w)?;
            let via = match (&r.source, &r.interface) {
                (Some(s), Some(i)) => format!("from {s} via {}", clean(i, false)),
                (Some(s), None) => format!("from {s}"),
                _ => "no route from this host".to_owned(),
            };
            write!(w, "  {DIM}{:<24} {via}, {} attempt", "", r.attempts)?;
            if r.attempts != 1 {
                write!(w, "s")?;
            }
            writeln!(w, "{DIM:#}")?;
            if let Some(err) = &r.error {
                writeln!(w, "  {:<24} {BAD}{}{BAD:#}", "", clean(err, false))?;
            }
        }
        writeln!(w)?;
        if open {
            writeln!(w, "{GOOD}TCP test succeeded{GOOD:#}")?;
        } else {
            writeln!(w, "{BAD}TCP test failed{BAD:#}")?;
        }
        w.flush()?;
    }
    Ok(if open {
        Outcome::Found
    } else {
        Outcome::Nothing
    })
}
