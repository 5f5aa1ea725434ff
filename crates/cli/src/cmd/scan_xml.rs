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

/// A time as nmap's `startstr` and comment lines write it (C's `ctime`: `Sat Dec  5 16:02:44
/// 2026`), in UTC and marked so: the local zone cannot be read safely once threads run.
pub(crate) fn ctime(t: SystemTime) -> String {
    let d = time::OffsetDateTime::from(t);
    let month = d.month().to_string();
    let day = d.weekday().to_string();
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {} UTC",
        &day[..3],
        &month[..3],
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.year()
    )
}

/// nmap's count of what was scanned: "2 IP addresses (1 host up)" (a host scanned without
/// discovery counts as up, as with nmap's -Pn).
pub(crate) fn addresses_up(c: &RunRecord) -> String {
    let addresses = match c.addresses {
        1 => "1 IP address".to_owned(),
        n => format!("{} IP addresses", group(n)),
    };
    format!("{addresses} ({} up)", plural(c.hosts.len() as u64, "host"))
}

/// nmap's closing words: "2 IP addresses (1 host up) scanned in 0.52 seconds".
pub(crate) fn done_summary(c: &RunRecord) -> String {
    format!(
        "{} scanned in {:.2} seconds",
        addresses_up(c),
        elapsed(c).as_secs_f64()
    )
}

/// The whole run: scan and detection.
fn elapsed(c: &RunRecord) -> std::time::Duration {
    c.ended_at.duration_since(c.started_at).unwrap_or_default()
}

/// Whether nmap would write the service as TLS-wrapped (`tunnel="ssl"`, `ssl/` in the
/// other forms): TLS from the first byte. A STARTTLS upgrade (IMAP on 143) keeps the plain
/// service's name and no tunnel, as nmap writes it.
pub(crate) fn tunnelled(d: &Detection) -> bool {
    d.tls.is_some() && !d.probes.iter().any(|p| p == "starttls")
}

/// The service name nmap gives a TLS-wrapped service (`tunnel="ssl"`): the protocol inside.
pub(crate) fn inner_of_tls(service: &str) -> &str {
    match service {
        "https" => "http",
        "imaps" => "imap",
        "pop3s" => "pop3",
        "smtps" | "submissions" => "smtp",
        "ldaps" => "ldap",
        "ftps" => "ftp",
        "ircs" | "ircs-u" => "irc",
        "nntps" => "nntp",
        "telnets" => "telnet",
        other => other,
    }
}

/// A detected service as nmap's `-sV` writes it: `method="probed"`, `conf` 0..10, TLS as
/// `tunnel="ssl"`, and the CPE as a child element. The strings are already escaped by the
/// probe crate (printable ASCII only), and XML-escaped here.
fn service(w: &mut impl Write, d: &Detection) -> io::Result<()> {
    let tunnel = tunnelled(d);
    let name = if tunnel {
        inner_of_tls(&d.service)
    } else {
        &d.service
    };
    write!(w, r#"<service name="{}""#, escape(name))?;
    for (k, v) in [
        ("product", &d.product),
        ("version", &d.version),
        ("extrainfo", &d.extra),
    ] {
        if let Some(v) = v {
            write!(w, r#" {k}="{}""#, escape(v))?;
        }
    }
    if tunnel {
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
    // nmap's own stylesheet where Debian's nmap-common installs it: browsers render the file
    // as nmap's report when nmap is installed, and ignore the line otherwise.
    writeln!(
        w,
        r#"<?xml-stylesheet href="file:///usr/share/nmap/nmap.xsl" type="text/xsl"?>"#
    )?;
    writeln!(
        w,
        r#"<nmaprun scanner="portent" args="{}" start="{start}" startstr="{}" version="{}" xmloutputversion="1.05">"#,
        escape(args),
        ctime(c.started_at),
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
        // A host whose ports were not all probed (Ctrl-C) is marked as nmap marks a host it
        // gave up on, so that importers do not take the unprobed ports for closed ones.
        if h.complete {
            writeln!(w, r#"<host starttime="{start}" endtime="{end}">"#)?;
        } else {
            writeln!(
                w,
                r#"<host starttime="{start}" endtime="{end}" timedout="true" comment="partial: interrupted before every port was probed; ports neither listed nor counted were not probed">"#
            )?;
        }
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
                            r.word()
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
                r.reason.word(),
            )?;
            // nmap's importers key on `unknown` for a port with no name; the registry's view
            // (unassigned, reserved) goes in a comment.
            let (table_name, comment) = if e.status == portent_registry::Status::Assigned {
                (escape(e.service), String::new())
            } else {
                (
                    "unknown".into(),
                    format!(
                        "<!-- registry: {} -->",
                        escape(e.service).replace("--", "- -")
                    ),
                )
            };
            match h.detection_of(r.protocol, r.port) {
                Some(d) if d.service != "unknown" => service(w, d)?,
                // Ctrl-C stopped detection before it finished.
                None if h.interrupted_on(r.protocol, r.port) => write!(
                    w,
                    r#"<service name="{table_name}" extrainfo="detection interrupted" method="table" conf="3"/>{comment}"#
                )?,
                _ => write!(
                    w,
                    r#"<service name="{table_name}" method="table" conf="3"/>{comment}"#
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
    let summary = format!("portent done: {}", done_summary(c));
    // nmap's `errormsg` says why the run ended early.
    let exit = match (c.interrupted, c.detect_elapsed.is_some()) {
        (false, _) => r#"exit="success""#,
        (true, false) => {
            r#"exit="error" errormsg="interrupted by Ctrl-C: partial results; ports neither listed nor counted were not probed""#
        }
        (true, true) => {
            r#"exit="error" errormsg="interrupted by Ctrl-C during service detection: every port was probed, some detections are missing""#
        }
    };
    writeln!(w, "<runstats>")?;
    writeln!(
        w,
        r#"<finished time="{end}" timestr="{}" summary="{}" elapsed="{:.2}" {exit}/>"#,
        ctime(c.ended_at),
        escape(&summary),
        elapsed(c).as_secs_f64()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn imap(probes: &[&str]) -> Detection {
        Detection {
            addr: "127.0.0.1:143".parse().unwrap(),
            service: "imap".into(),
            product: Some("Dovecot imapd".into()),
            version: None,
            extra: Some("STARTTLS".into()),
            tls: Some(portent_probe::TlsInfo::default()),
            http: None,
            rpc: None,
            cpe: None,
            confidence: 0.95,
            evidence: String::new(),
            verdict: portent_probe::Verdict {
                expected: None,
                registry_status: "assigned".into(),
                matches: portent_probe::Matches::True,
                sentence: String::new(),
            },
            bytes_read: 0,
            elapsed_ms: 0,
            probes: probes.iter().map(|p| p.to_string()).collect(),
            error: None,
        }
    }

    /// A STARTTLS upgrade is not a tunnel: nmap writes IMAP on 143 as `imap`, and only TLS
    /// from the first byte as `tunnel="ssl"`.
    #[test]
    fn starttls_is_not_a_tunnel() {
        let mut out = Vec::new();
        service(&mut out, &imap(&["banner", "starttls"])).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.contains(r#"name="imap""#), "{xml}");
        assert!(!xml.contains("tunnel"), "{xml}");

        let mut imaps = imap(&["banner", "tls"]);
        imaps.service = "imaps".into();
        let mut out = Vec::new();
        service(&mut out, &imaps).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.contains(r#"name="imap""#), "{xml}");
        assert!(xml.contains(r#"tunnel="ssl""#), "{xml}");
    }
}
