//! `portent check HOST PORT`: the `Test-NetConnection` answer, as text or JSON. Exit 0 when
//! some address is open, 1 when none is, 130 when Ctrl-C stopped detection (the connection
//! results are printed, the service is marked interrupted).
//!
//! `PORT/udp` (or `U:PORT`) checks UDP instead: the run pipeline's UDP scan of that one port on
//! every address (every payload portent has for the port, the reply identified by the
//! catalogue), so `check` and `scan -sU` can never disagree about a port.

use std::io::Write;

use anyhow::{Context, Result};
use portent_probe::Detection;
use portent_scan::check::{AddressCheck, interface_of, route_source};
use portent_scan::check::{CheckReport, check, resolve_one};
use portent_scan::{PortSet, Protocol, State, SystemNetwork, SystemResolver, Targets, explain_on};
use serde::{Deserialize, Serialize};

use crate::Outcome;
use crate::args::CheckArgs;
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean};

#[derive(Debug, Serialize)]
struct CheckDoc<'a> {
    #[serde(flatten)]
    report: &'a CheckReport,
    port: u16,
    protocol: Protocol,
    service: &'static str,
    ghost: bool,
    note: &'static str,
    open: bool,
    /// What speaks there (the first open address), unless `--no-detect` or nothing is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    detection: Option<&'a Detection>,
    /// Ctrl-C stopped detection before it finished (no `detection` then; exit 130).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    detection_interrupted: bool,
}

/// The host and the port as given: `HOST PORT`, or one `HOST:PORT` / `[v6]:PORT` word as
/// Test-NetConnection's and nc's users write it.
fn host_and_port(args: &CheckArgs) -> Result<(String, String)> {
    if let Some(port) = &args.port {
        return Ok((args.host.clone(), port.clone()));
    }
    match portent_scan::targets::parse_spec(&args.host) {
        Err(portent_scan::error::TargetError::HostWithPort { host, port, .. }) => Ok((host, port)),
        Err(e) => Err(e.into()),
        Ok(_) => anyhow::bail!(
            "which port? portent check {host} 22, or {host}:22 ([2001:db8::1]:22 for IPv6)",
            host = args.host.trim()
        ),
    }
}

pub fn run(args: &CheckArgs) -> Result<Outcome> {
    let reg = out::registry();
    let (host, port_arg) = host_and_port(args)?;
    let spec = portent_scan::ports::parse_spec(&port_arg, &reg, &[Protocol::Tcp])?;
    let (protocol, ports) = match (spec.tcp.is_empty(), spec.udp.is_empty()) {
        (false, true) => (Protocol::Tcp, spec.tcp),
        (true, false) => (Protocol::Udp, spec.udp),
        _ => anyhow::bail!(
            "'{}' names both TCP and UDP ports: check one port over one protocol (22, 53/udp)",
            port_arg
        ),
    };
    let port = ports
        .iter()
        .next()
        .context("the port list is empty: give one port")?;
    let timeout = portent_scan::parse_duration(&args.timeout)?;
    if timeout.is_zero() {
        anyhow::bail!("the timeout must be more than 0");
    }
    let detector = if args.no_detect || protocol == Protocol::Udp {
        None
    } else {
        Some(super::detect::detector(&args.detection, &reg)?)
    };
    let addresses = resolve_one(&host, &SystemResolver)?;
    let started_ms = portent_store::now_ms();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (report, udp_detection) = match protocol {
        Protocol::Tcp => (
            rt.block_on(check(
                &SystemNetwork::default(),
                &host,
                addresses,
                port,
                timeout,
                args.retries,
            )),
            None,
        ),
        Protocol::Udp => rt.block_on(check_udp(&host, addresses, port, args, &reg))?,
    };
    let e = explain_on(&reg, port, protocol);
    let open = report.open();
    let first_open = report
        .results
        .iter()
        .find(|r| r.state == State::Open)
        .map(|r| std::net::SocketAddr::new(r.address, r.port));
    let detection = match (&detector, first_open) {
        (Some(d), Some(addr)) => rt.block_on(async {
            tokio::select! {
                // Polled first, so the Ctrl-C listener is set before detection starts.
                biased;
                _ = tokio::signal::ctrl_c() => None,
                d = d.detect(addr, None) => Some(d),
            }
        }),
        _ => udp_detection.filter(|_| !args.no_detect),
    };
    let interrupted = detector.is_some() && first_open.is_some() && detection.is_none();
    let stored = StoredCheck {
        port,
        protocol,
        port_arg: port_arg.clone(),
        ports_count: ports.len(),
        report,
        detection,
        interrupted,
    };
    let doc = CheckDoc {
        report: &stored.report,
        port,
        protocol,
        service: e.service,
        ghost: e.ghost,
        note: e.note,
        open,
        detection: stored.detection.as_ref(),
        detection_interrupted: interrupted,
    };
    let shown = if args.json {
        out::json(&doc)
    } else {
        render_table(&stored, &reg)
    };
    // Saved after the output, whether it worked or not (a closed pipe loses nothing).
    if !args.save.no_save {
        super::save::save_check(
            &args.save,
            &stored,
            started_ms,
            serde_json::to_string_pretty(&doc).ok(),
        );
    }
    shown?;
    Ok(if interrupted {
        Outcome::Interrupted
    } else if open {
        Outcome::Found
    } else {
        Outcome::Nothing
    })
}

/// `check HOST PORT/udp`: the UDP scan of one port on each address, through the same pipeline
/// as `scan -sU`, and what answered on the first open address.
async fn check_udp(
    host: &str,
    addresses: Vec<std::net::IpAddr>,
    port: u16,
    args: &CheckArgs,
    reg: &portent_registry::Registry,
) -> Result<(CheckReport, Option<Detection>)> {
    let mut config = portent_run::RunConfig::new(
        Targets::from_addrs(addresses.iter().copied()),
        PortSet::empty(),
        reg.clone(),
    );
    config.udp_ports = PortSet::from_ports([port]);
    config.scan.retries = args.retries;
    config.list_all = true;
    config.validate()?;
    let mut ignore = |_: &portent_run::RunEvent<'_>| std::ops::ControlFlow::Continue(());
    let record = portent_run::run(config, &mut ignore, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    if record.interrupted {
        anyhow::bail!("interrupted before the UDP check finished");
    }
    let mut detection = None;
    let mut results = Vec::new();
    for &address in &addresses {
        let Some(r) = record
            .host(address)
            .and_then(|h| h.listed.iter().find(|r| r.port == port))
        else {
            continue;
        };
        if detection.is_none() {
            detection = record
                .host(address)
                .and_then(|h| h.udp_detections.get(&port))
                .cloned();
        }
        let dest = std::net::SocketAddr::new(address, port);
        let source = route_source(dest);
        results.push(AddressCheck {
            address,
            port,
            source,
            interface: source.and_then(interface_of),
            state: r.state,
            reason: r.reason,
            rtt_ms: r.rtt.map(portent_scan::millis),
            attempts: r.attempts,
            error: None,
        });
    }
    Ok((
        CheckReport {
            host: host.to_owned(),
            addresses,
            results,
        },
        detection,
    ))
}

/// A check as the store keeps it, so `portent show` prints it again.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredCheck {
    pub port: u16,
    /// TCP for checks stored before UDP checks existed.
    #[serde(default)]
    pub protocol: Protocol,
    /// The port as typed (a name may stand for several ports; the first was checked).
    pub port_arg: String,
    pub ports_count: usize,
    pub report: CheckReport,
    pub detection: Option<Detection>,
    pub interrupted: bool,
}

/// The `Test-NetConnection`-style answer.
pub(crate) fn render_table(c: &StoredCheck, reg: &portent_registry::Registry) -> Result<()> {
    let (report, detection, interrupted) = (&c.report, &c.detection, c.interrupted);
    let port = c.port;
    let proto = c.protocol;
    let e = explain_on(reg, port, proto);
    let open = report.open();
    let mut w = anstream::stdout().lock();
    let addrs: Vec<String> = report.addresses.iter().map(ToString::to_string).collect();
    writeln!(w, "{HEAD}Host{HEAD:#}       {}", clean(&report.host, false))?;
    writeln!(w, "{HEAD}Addresses{HEAD:#}  {}", addrs.join(", "))?;
    write!(
        w,
        "{HEAD}Port{HEAD:#}       {port}/{}  {NAME}{}{NAME:#}",
        proto.as_str(),
        e.service
    )?;
    if e.ghost {
        write!(w, "  {BAD}ghost{BAD:#}")?;
    }
    writeln!(w)?;
    if c.ports_count > 1 {
        writeln!(
            w,
            "           {DIM}{} names {} ports; checked the first{DIM:#}",
            clean(&c.port_arg, false),
            c.ports_count
        )?;
    }
    if !e.note.is_empty() {
        let note = out::hang(&format!("           {DIM}"), e.note, 11);
        writeln!(w, "{note}{DIM:#}")?;
    }
    writeln!(w)?;
    for r in &report.results {
        let st = match r.state {
            State::Open => GOOD,
            State::Closed => BAD,
            State::Filtered | State::OpenFiltered => WARN,
        };
        let dest = std::net::SocketAddr::new(r.address, r.port);
        write!(
            w,
            "  {dest:<24} {st}{:<9}{st:#} {:<22}",
            r.state.as_str(),
            r.reason.word()
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
    if let Some(d) = &detection {
        render_detection(&mut w, d)?;
        writeln!(w)?;
    } else if interrupted {
        writeln!(
            w,
            "{HEAD}Service{HEAD:#}    {WARN}? (detection interrupted){WARN:#}"
        )?;
        writeln!(w)?;
    }
    let word = if proto == Protocol::Udp { "UDP" } else { "TCP" };
    if open {
        writeln!(w, "{GOOD}{word} test succeeded{GOOD:#}")?;
    } else if report
        .results
        .iter()
        .any(|r| r.state == State::OpenFiltered)
    {
        // Silence is not a verdict over UDP: a service that ignores our payloads looks the
        // same as a firewall that drops them.
        writeln!(
            w,
            "{WARN}UDP test inconclusive{WARN:#}: no answer (open|filtered: a service that ignores our payloads, or a firewall)"
        )?;
    } else {
        writeln!(w, "{BAD}{word} test failed{BAD:#}")?;
    }
    w.flush()?;
    Ok(())
}

/// The detection block: what speaks there, TLS, HTTP, RPC programs and the verdict.
fn render_detection(w: &mut impl Write, d: &Detection) -> std::io::Result<()> {
    use super::detect::{summary, tls_line};
    write!(w, "{HEAD}Service{HEAD:#}    ")?;
    if d.service == "unknown" {
        writeln!(w, "{WARN}unknown{WARN:#}")?;
    } else {
        writeln!(w, "{NAME}{}{NAME:#}", summary(d))?;
    }
    if let Some(t) = tls_line(d) {
        writeln!(w, "{HEAD}TLS{HEAD:#}        {t}")?;
    }
    if let Some(h) = &d.http {
        write!(
            w,
            "{HEAD}HTTP{HEAD:#}       {} {} {}",
            clean(&h.version, false),
            h.status,
            clean(&h.reason, false)
        )?;
        if let Some(t) = &h.title {
            write!(w, ", title \"{}\"", clean(t, false))?;
        }
        if let Some(l) = &h.location {
            write!(w, ", redirects to {}", clean(l, false))?;
        }
        writeln!(w)?;
    }
    if let Some(rpc) = &d.rpc {
        for p in &rpc.programs {
            let name = p.name.as_deref().unwrap_or("?");
            writeln!(
                w,
                "{HEAD}RPC{HEAD:#}        program {} ({}) versions {}-{}",
                p.program,
                clean(name, false),
                p.low_version,
                p.high_version
            )?;
        }
        for m in &rpc.netinfo_domains {
            writeln!(
                w,
                "{HEAD}NetInfo{HEAD:#}    domain {} (tcp {}, udp {})",
                clean(&m.tag, false),
                m.tcp_port,
                m.udp_port
            )?;
        }
    }
    if let Some(c) = &d.cpe {
        writeln!(w, "{HEAD}CPE{HEAD:#}        {}", clean(c, false))?;
    }
    if !d.evidence.is_empty() {
        let ev: String = d.evidence.chars().take(80).collect();
        let room = out::width().saturating_sub(11);
        writeln!(
            w,
            "{HEAD}Evidence{HEAD:#}   {DIM}{}{DIM:#}",
            out::fit(&clean(&ev, false), room)
        )?;
    }
    if let Some(e) = &d.error {
        let line = out::hang(&format!("           {DIM}"), e, 11);
        writeln!(w, "{line}{DIM:#}")?;
    }
    let st = match d.verdict.matches {
        portent_probe::Matches::True | portent_probe::Matches::Conventional => GOOD,
        portent_probe::Matches::False => BAD,
        portent_probe::Matches::Unknown => WARN,
    };
    let lead = format!("{HEAD}Verdict{HEAD:#}    {st}");
    writeln!(w, "{}{st:#}", out::hang(&lead, &d.verdict.sentence, 11))
}
