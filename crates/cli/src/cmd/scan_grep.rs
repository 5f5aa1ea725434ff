//! nmap's grepable format (`-oG`), written from the scan's results: one `Host:` line with the
//! host's status and one with its ports, each port as nmap's seven slash-separated fields
//! (`22/open/tcp//ssh//OpenSSH 9.2p1/`), tab-separated sections, and `#` comment lines around
//! them. nmap deprecates the format but scripts still `grep` and `cut` it, so the layout is
//! kept field for field (tests compare it with nmap's own output for the same host).
//!
//! Where portent and nmap differ in what they know, portent's knowledge goes in the fields:
//! the service is the registry's name (nmap's comes from its own services file), `unknown`
//! where the registry has none, as nmap writes it.

use std::io::{self, Write};

use portent_probe::Detection;
use portent_registry::{Registry, Status};
use portent_run::RunRecord;
use portent_scan::{State, explain_on};

use super::scan_xml::{ctime, done_summary, inner_of_tls, tunnelled};

/// A value inside a port's fields: nmap replaces the separators `/` and `,` so that the line
/// still splits, and control characters never reach a terminal that shows the file.
fn field(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '/' => '|',
            ',' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The service and version fields of a detected port: `ssl|http` for TLS, and product,
/// version and extra information in one field, as nmap's -sV fills it.
fn detected(d: &Detection) -> (String, String) {
    let service = if tunnelled(d) {
        format!("ssl|{}", field(inner_of_tls(&d.service)))
    } else {
        field(&d.service)
    };
    let mut version: Vec<String> = [&d.product, &d.version]
        .into_iter()
        .flatten()
        .map(|s| field(s))
        .collect();
    if let Some(x) = &d.extra {
        version.push(format!("({})", field(x)));
    }
    (service, version.join(" "))
}

/// The whole file for a finished (or interrupted) run; `args` is the command line.
pub(crate) fn write(
    w: &mut dyn Write,
    c: &RunRecord,
    reg: &Registry,
    args: &str,
) -> io::Result<()> {
    writeln!(
        w,
        "# portent {} scan initiated {} as: {}",
        env!("CARGO_PKG_VERSION"),
        ctime(c.started_at),
        args.replace(|c: char| c.is_control(), " ")
    )?;
    for h in &c.hosts {
        let name = h.hostname.as_deref().map(field).unwrap_or_default();
        writeln!(w, "Host: {} ({name})\tStatus: Up", h.addr)?;
        let listed = h.listed_by_port();
        let ports: Vec<String> = listed
            .iter()
            .map(|r| {
                let (service, version) = match h.detection_of(r.protocol, r.port) {
                    Some(d) if d.service != "unknown" => detected(d),
                    _ => {
                        let e = explain_on(reg, r.port, r.protocol);
                        let name = if e.status == Status::Assigned {
                            field(e.service)
                        } else {
                            "unknown".to_owned()
                        };
                        (name, String::new())
                    }
                };
                format!(
                    "{}/{}/{}//{service}//{version}/",
                    r.port,
                    r.state,
                    r.protocol.as_str()
                )
            })
            .collect();
        // nmap names one ignored state: the one holding the most ports.
        let ignored = [State::Closed, State::Filtered, State::OpenFiltered]
            .into_iter()
            .map(|s| {
                let shown = listed.iter().filter(|r| r.state == s).count() as u64;
                (h.counts.get(s).saturating_sub(shown), s)
            })
            .filter(|(n, _)| *n > 0)
            .max_by_key(|(n, _)| *n);
        if ports.is_empty() && ignored.is_none() {
            continue;
        }
        write!(w, "Host: {} ({name})\tPorts: {}", h.addr, ports.join(", "))?;
        if let Some((n, s)) = ignored {
            write!(w, "\tIgnored State: {s} ({n})")?;
        }
        writeln!(w)?;
    }
    writeln!(
        w,
        "# portent done at {} -- {}",
        ctime(c.ended_at),
        done_summary(c)
    )
}
