//! nmap-compatible XML (`-oX`), written from the scan's results. The element and attribute
//! names follow nmap's DTD (nmaprun, scaninfo, host, status, address, hostnames, ports,
//! extraports, port, state, service, times, runstats), so ndiff and importers of nmap XML read
//! it. `scanner` says "portent"; reasons use nmap's names (`conn-refused`, `no-response`).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use portent_probe::Detection;
use portent_registry::Registry;
use portent_run::RunRecord;
use portent_scan::{HostStatus, State, explain_on};
use quick_xml::escape::escape;

use super::scan::{group, plural};

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A detected service as nmap's `-sV` writes it: `method="probed"`, `conf` 0..10, TLS as
/// `tunnel="ssl"`, and the CPE as a child element. The strings are already escaped by the
/// probe crate (printable ASCII only), and XML-escaped here.
fn service(w: &mut impl Write, d: &Detection) -> io::Result<()> {
    write!(w, r#"<service name="{}""#, escape(&d.service))?;
    for (k, v) in [
        ("product", &d.product),
        ("version", &d.version),
        ("extrainfo", &d.extra),
    ] {
        if let Some(v) = v {
            write!(w, r#" {k}="{}""#, escape(v))?;
        }
    }
    if d.tls.is_some() {
        write!(w, r#" tunnel="ssl""#)?;
    }
    write!(
        w,
        r#" method="probed" conf="{}""#,
        super::detect::nmap_conf(d)
    )?;
    match &d.cpe {
        Some(cpe) => write!(w, "><cpe>{}</cpe></service>", escape(cpe)),
        None => write!(w, "/>"),
    }
}

/// The whole document for a finished (or interrupted) run; `args` is the command line.
pub(crate) fn write(
    w: &mut impl Write,
    c: &RunRecord,
    reg: &Registry,
    args: &str,
) -> io::Result<()> {
    let (start, end) = (unix(c.started_at), unix(c.ended_at));
    writeln!(w, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(w, "<!DOCTYPE nmaprun>")?;
    writeln!(
        w,
        r#"<nmaprun scanner="portent" args="{}" start="{start}" version="{}" xmloutputversion="1.05">"#,
        escape(args),
        env!("CARGO_PKG_VERSION")
    )?;
    if c.port_count > 0 {
        writeln!(
            w,
            r#"<scaninfo type="connect" protocol="tcp" numservices="{}" services="{}"/>"#,
            c.port_count, c.port_list
        )?;
    }
    if c.udp_port_count > 0 {
        writeln!(
            w,
            r#"<scaninfo type="udp" protocol="udp" numservices="{}" services="{}"/>"#,
            c.udp_port_count, c.udp_port_list
        )?;
    }
    writeln!(w, r#"<verbose level="0"/>"#)?;
    writeln!(w, r#"<debugging level="0"/>"#)?;
    let mut up = 0u64;
    for h in &c.hosts {
        up += 1;
        let reason = match h.status {
            HostStatus::Up => "syn-ack",
            _ => "user-set",
        };
        writeln!(w, r#"<host starttime="{start}" endtime="{end}">"#)?;
        writeln!(
            w,
            r#"<status state="up" reason="{reason}" reason_ttl="0"/>"#
        )?;
        let kind = if h.addr.is_ipv4() { "ipv4" } else { "ipv6" };
        writeln!(w, r#"<address addr="{}" addrtype="{kind}"/>"#, h.addr)?;
        match &h.hostname {
            Some(n) => writeln!(
                w,
                r#"<hostnames><hostname name="{}" type="user"/></hostnames>"#,
                escape(n)
            )?,
            None => writeln!(w, "<hostnames/>")?,
        }
        writeln!(w, "<ports>")?;
        let listed = h.listed_by_port();
        for s in [State::Closed, State::Filtered, State::OpenFiltered] {
            let shown = listed.iter().filter(|r| r.state == s).count() as u64;
            let n = h.counts.get(s).saturating_sub(shown);
            if n == 0 {
                continue;
            }
            writeln!(w, r#"<extraports state="{s}" count="{n}">"#)?;
            for (proto, reasons) in [("tcp", &h.reasons), ("udp", &h.udp_reasons)] {
                for ((st, r), k) in reasons {
                    if *st == s {
                        writeln!(
                            w,
                            r#"<extrareasons reason="{}" count="{k}" proto="{proto}"/>"#,
                            r.nmap_name()
                        )?;
                    }
                }
            }
            writeln!(w, "</extraports>")?;
        }
        for r in listed {
            let e = explain_on(reg, r.port, r.protocol);
            write!(
                w,
                r#"<port protocol="{}" portid="{}"><state state="{}" reason="{}" reason_ttl="0"/>"#,
                r.protocol.as_str(),
                r.port,
                r.state,
                r.reason.nmap_name(),
            )?;
            match h.detection_of(r.protocol, r.port) {
                Some(d) if d.service != "unknown" => service(w, d)?,
                // The registry's name, marked: Ctrl-C stopped detection before it finished.
                None if h.interrupted_on(r.protocol, r.port) => write!(
                    w,
                    r#"<service name="{}" extrainfo="detection interrupted" method="table" conf="3"/>"#,
                    escape(e.service)
                )?,
                _ => write!(
                    w,
                    r#"<service name="{}" method="table" conf="3"/>"#,
                    escape(e.service)
                )?,
            }
            writeln!(w, "</port>")?;
        }
        writeln!(w, "</ports>")?;
        if let Some(s) = h.srtt {
            let us = s.as_micros();
            writeln!(w, r#"<times srtt="{us}" rttvar="{us}" to="{}"/>"#, us * 5)?;
        }
        writeln!(w, "</host>")?;
    }
    let elapsed = end.saturating_sub(start);
    // nmap's wording: "1 IP address (1 host up)", "2 IP addresses (0 hosts up)".
    let addresses = match c.addresses {
        1 => "1 IP address".to_owned(),
        n => format!("{} IP addresses", group(n)),
    };
    let summary = format!(
        "portent done: {addresses} ({} up) scanned in {elapsed} seconds",
        plural(up, "host")
    );
    // nmap's `errormsg` says why the run ended early.
    let exit = match (c.interrupted, c.detect_elapsed.is_some()) {
        (false, _) => r#"exit="success""#,
        (true, false) => r#"exit="error" errormsg="interrupted by Ctrl-C""#,
        (true, true) => r#"exit="error" errormsg="interrupted by Ctrl-C during service detection""#,
    };
    writeln!(w, "<runstats>")?;
    writeln!(
        w,
        r#"<finished time="{end}" summary="{}" elapsed="{elapsed}" {exit}/>"#,
        escape(&summary)
    )?;
    writeln!(
        w,
        r#"<hosts up="{up}" down="{}" total="{}"/>"#,
        c.hosts_down,
        up + c.hosts_down
    )?;
    writeln!(w, "</runstats>")?;
    writeln!(w, "</nmaprun>")?;
    Ok(())
}
