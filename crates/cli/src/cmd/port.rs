//! `portent port`: the port page in a terminal, or as JSON.

use std::io::Write;

use anyhow::Result;
use portent_local::listening::{Listing, Query};
use portent_local::meaning::{Filter, Report};
use portent_registry::report::{Concern, PortReport, ProtocolEntry, ServiceRow, notes_for_page};
use portent_registry::{Protocol, QueryError, Status};
use serde::Serialize;

use crate::Outcome;
use crate::args::PortArgs;
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean, hang, text_width, wrap};

pub fn run(args: &PortArgs) -> Result<Outcome> {
    let reg = out::registry();
    let resolved = match reg.resolve(&args.query) {
        Ok(r) => r,
        // A real registry name that has no port (on the protocol asked for): an answer, but no
        // port page to show.
        Err(e @ (QueryError::NameWithoutPort { .. } | QueryError::NotOnProtocol { .. })) => {
            writeln!(anstream::stderr(), "{}", clean(&e.to_string(), false))?;
            return Ok(Outcome::Nothing);
        }
        Err(e) => return Err(e.into()),
    };
    if resolved.range {
        return range_page(&reg, &resolved.ports, resolved.protocol, args.json);
    }
    let host = portent_local::host::facts();
    let port = resolved.ports[0];
    let report = PortReport::build(&reg, port, &host);
    let listing = live_listing(port, resolved.protocol);
    let live = match &listing {
        Ok(l) => Live::Report(Report::build(l, &reg, &host, &Filter::default())),
        Err(error) => Live::Error {
            error: error.clone(),
        },
    };
    if args.json {
        out::json(&PortJson {
            report: &report,
            listening: &live,
        })?;
        return Ok(Outcome::Found);
    }
    let mut w = anstream::stdout().lock();
    if let Some(name) = &resolved.name {
        let others: Vec<String> = resolved.ports[1..].iter().map(u16::to_string).collect();
        let mut line = format!("{name} is registered on port {port}");
        if !others.is_empty() {
            let shown = others
                .iter()
                .take(12)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            let more = if others.len() > 12 { ", ..." } else { "" };
            line.push_str(&format!(" (also {shown}{more})"));
        }
        writeln!(w, "{DIM}{}{DIM:#}\n", wrap(&line, 0))?;
    }
    render(&mut w, &report, resolved.protocol, &live)?;
    w.flush()?;
    Ok(Outcome::Found)
}

/// One port of a range page: the registry's names per protocol, and the titles of the notes.
#[derive(Serialize)]
struct RangeRow {
    port: u16,
    registry: Vec<RangeEntry>,
    notes: Vec<&'static str>,
}

#[derive(Serialize)]
struct RangeEntry {
    protocol: Protocol,
    status: Status,
    names: Vec<&'static str>,
}

#[derive(Serialize)]
struct RangeJson {
    first: u16,
    last: u16,
    protocol: Option<Protocol>,
    ports: Vec<RangeRow>,
}

/// `portent 20-25`: a compact list of the ports, one line each (`--json`: the same rows).
fn range_page(
    reg: &portent_registry::Registry,
    ports: &[u16],
    only: Option<Protocol>,
    json: bool,
) -> Result<Outcome> {
    let rows: Vec<RangeRow> = ports
        .iter()
        .map(|&port| RangeRow {
            port,
            registry: Protocol::ALL
                .iter()
                .filter(|p| only.is_none_or(|o| o == **p))
                .map(|&p| {
                    let e = reg.lookup(port, p);
                    RangeEntry {
                        protocol: p,
                        status: e.status,
                        names: e.service_names(),
                    }
                })
                .collect(),
            notes: portent_registry::notes_for(port, only)
                .map(|n| n.title)
                .collect(),
        })
        .collect();
    let (first, last) = (ports[0], ports[ports.len() - 1]);
    if json {
        out::json(&RangeJson {
            first,
            last,
            protocol: only,
            ports: rows,
        })?;
        return Ok(Outcome::Found);
    }
    let mut w = out::buffered_stdout();
    range_table(&mut w, &rows, only, out::width())?;
    w.flush()?;
    Ok(Outcome::Found)
}

/// What the registry says of one port in a few words: `ssh (tcp, udp, sctp)`, or the
/// strongest status when nothing is assigned.
fn registry_cell(row: &RangeRow) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for e in row.registry.iter().filter(|e| !e.names.is_empty()) {
        let names = e.names.join("/");
        match groups.iter_mut().find(|(n, _)| *n == names) {
            Some((_, protos)) => protos.push(e.protocol.as_str()),
            None => groups.push((names, vec![e.protocol.as_str()])),
        }
    }
    if groups.is_empty() {
        let status = row
            .registry
            .iter()
            .map(|e| e.status)
            .max()
            .unwrap_or(Status::Unassigned);
        return status.as_str().to_owned();
    }
    groups
        .iter()
        .map(|(names, protos)| format!("{names} ({})", protos.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn range_table(
    w: &mut impl Write,
    rows: &[RangeRow],
    only: Option<Protocol>,
    width: usize,
) -> std::io::Result<()> {
    let (first, last) = (rows[0].port, rows[rows.len() - 1].port);
    let on = only.map(|p| format!(" on {p}")).unwrap_or_default();
    writeln!(
        w,
        "{HEAD}Ports {first}-{last}{HEAD:#}{on}  {DIM}{}; portent PORT for a port's page{DIM:#}\n",
        out::plural(rows.len(), "port")
    )?;
    let cells: Vec<String> = rows
        .iter()
        .map(|r| clean(&registry_cell(r), false).into_owned())
        .collect();
    let left = width.saturating_sub(5 + 2 + 2);
    let wreg = cells
        .iter()
        .map(|c| text_width(c))
        .max()
        .unwrap_or(0)
        .max(8)
        .min((left / 2).max(20));
    let wnote = left.saturating_sub(wreg).max(12);
    writeln!(
        w,
        "{HEAD}{:>5}  {}  NOTES{HEAD:#}",
        "PORT",
        out::pad("REGISTRY", wreg)
    )?;
    for (r, cell) in rows.iter().zip(&cells) {
        let assigned = r.registry.iter().any(|e| e.status == Status::Assigned);
        let st = if assigned { NAME } else { DIM };
        let notes = clean(&r.notes.join("; "), false).into_owned();
        let cell = out::pad(&out::fit(cell, wreg), wreg);
        if notes.is_empty() {
            writeln!(w, "{:>5}  {st}{}{st:#}", r.port, cell.trim_end())?;
        } else {
            writeln!(
                w,
                "{:>5}  {st}{cell}{st:#}  {}",
                r.port,
                out::fit(&notes, wnote)
            )?;
        }
    }
    Ok(())
}

/// The port page as JSON: the report plus what listens on the port here now.
#[derive(Serialize)]
struct PortJson<'a> {
    #[serde(flatten)]
    report: &'a PortReport,
    listening: &'a Live<'a>,
}

/// The live section: the `listening` report for this port, or why it could not be made
/// (another OS, no netlink). The port page never fails because of it.
#[derive(Serialize)]
#[serde(untagged)]
enum Live<'a> {
    Report(Report<'a>),
    Error { error: String },
}

fn live_listing(port: u16, only: Option<Protocol>) -> Result<Listing, String> {
    // Only TCP and UDP sockets are listed: for SCTP or DCCP, "nothing listens" would be a
    // claim portent cannot make.
    if let Some(p @ (Protocol::Sctp | Protocol::Dccp)) = only {
        return Err(format!(
            "portent lists TCP and UDP sockets only; {} listeners are not looked for",
            p.as_str().to_uppercase()
        ));
    }
    let query = Query {
        tcp: only.is_none_or(|p| p == Protocol::Tcp),
        udp: only.is_none_or(|p| p == Protocol::Udp),
        port: Some(port),
        netns: None,
    };
    portent_local::listening::listening(&query).map_err(|e| e.to_string())
}

fn render_live(w: &mut impl Write, port: u16, live: &Live) -> std::io::Result<()> {
    writeln!(w, "{HEAD}Listening here now{HEAD:#}")?;
    match live {
        Live::Report(r) if r.sockets.is_empty() && port == 0 => {
            writeln!(w, "  nothing can listen on port 0")?;
        }
        Live::Report(r) if r.sockets.is_empty() => {
            writeln!(
                w,
                "  nothing listens on {port} here {DIM}(this network namespace){DIM:#}"
            )?;
            for n in &r.notes {
                writeln!(w, "{}", hang(&format!("  {WARN}note:{WARN:#} "), n, 8))?;
            }
        }
        Live::Report(r) => {
            super::listening::table(w, &r.sockets, false, 2, out::width())?;
            for n in &r.notes {
                writeln!(w, "{}", hang(&format!("  {WARN}note:{WARN:#} "), n, 8))?;
            }
        }
        Live::Error { error } => {
            writeln!(w, "{}{DIM:#}", hang(&format!("  {DIM}unknown: "), error, 4))?
        }
    }
    writeln!(w)
}

fn status_style(s: Status) -> anstyle::Style {
    match s {
        Status::Assigned => GOOD,
        Status::Reserved => WARN,
        Status::PrivateUse => GOOD,
        Status::Unassigned => DIM,
    }
}

fn render(
    w: &mut impl Write,
    r: &PortReport,
    only: Option<Protocol>,
    live: &Live,
) -> std::io::Result<()> {
    // Headline: port, what it is (name, or status with what is known of it), range, ghost.
    write!(w, "{HEAD}Port {}{HEAD:#}", r.port)?;
    match r.primary_name() {
        Some(n) => write!(w, "  {NAME}{}{NAME:#}", clean(n, false))?,
        None => {
            let s = r
                .entry(Protocol::Tcp)
                .status
                .max(r.entry(Protocol::Udp).status);
            write!(
                w,
                "  {}{}{:#}",
                status_style(s),
                clean(&r.headline, false),
                status_style(s)
            )?;
        }
    }
    write!(w, "  {DIM}{} range{DIM:#}", r.range)?;
    if r.assessment.ghost {
        write!(w, "  {BAD}ghost{BAD:#}")?;
    }
    writeln!(w)?;
    writeln!(w)?;

    let (lo, hi) = r.range_bounds;
    writeln!(w, "  {HEAD}Range{HEAD:#}      {} ({lo}-{hi})", r.range)?;
    writeln!(w, "{DIM}{}{DIM:#}", wrap(r.range_meaning, 13))?;
    match r.privileged {
        Some(p) => {
            let word = if p { "privileged" } else { "unprivileged" };
            let text = format!("{word}: {}", r.privilege_detail);
            writeln!(
                w,
                "{}",
                hang(&format!("  {HEAD}Binding{HEAD:#}    "), &text, 13)
            )?;
        }
        None if !r.privilege_detail.is_empty() => {
            let label = format!("  {HEAD}Binding{HEAD:#}    ");
            writeln!(w, "{}", hang(&label, &r.privilege_detail, 13))?;
        }
        None => {}
    }
    let ephemeral = format!("  {HEAD}Ephemeral{HEAD:#}  ");
    match (r.ephemeral, r.ephemeral_range) {
        (_, Some((a, b))) if !r.assessment.listenable => writeln!(
            w,
            "{}",
            hang(
                &ephemeral,
                &format!(
                    "binding port 0 gets a free port from this host's ephemeral range {a}-{b}"
                ),
                13
            )
        )?,
        (Some(true), Some((a, b))) => writeln!(
            w,
            "{}",
            hang(
                &format!("{ephemeral}{WARN}yes{WARN:#}: "),
                &format!("inside this host's ephemeral range {a}-{b}"),
                13
            )
        )?,
        (Some(false), Some((a, b))) => writeln!(
            w,
            "{}",
            hang(
                &ephemeral,
                &format!("no: this host's ephemeral range is {a}-{b}"),
                13
            )
        )?,
        _ => {}
    }
    writeln!(w)?;

    render_live(w, r.port, live)?;

    writeln!(
        w,
        "{HEAD}IANA registry{HEAD:#} {DIM}(data as of {}){DIM:#}",
        r.data_date
    )?;
    for (protocols, e) in r.folded_registry() {
        let protocols: Vec<Protocol> = protocols
            .into_iter()
            .filter(|p| only.is_none_or(|o| o == *p))
            .collect();
        if !protocols.is_empty() {
            registry_entry(w, &protocols, e)?;
        }
    }
    writeln!(w)?;

    if !r.notes.is_empty() {
        writeln!(w, "{HEAD}Known uses and history{HEAD:#}")?;
        for n in &r.notes {
            let title = clean(n.title, false);
            if 2 + text_width(&title) + 3 + n.kind.as_str().len() <= out::width() {
                writeln!(
                    w,
                    "  {NAME}{title}{NAME:#} {DIM}[{}]{DIM:#}",
                    n.kind.as_str()
                )?;
            } else {
                let text = format!("{title} [{}]", n.kind.as_str());
                writeln!(w, "{NAME}{}{NAME:#}", hang("  ", &text, 4))?;
            }
            writeln!(w, "{}", wrap(n.summary, 4))?;
            if !n.detail.is_empty() {
                writeln!(w, "{}", wrap(n.detail, 4))?;
            }
            if !n.registry.is_empty() {
                writeln!(
                    w,
                    "{}",
                    wrap(&format!("Registry vs. folklore: {}", n.registry), 4)
                )?;
            }
            for s in n.sources {
                let text = format!("{} <{}>", s.title, s.url);
                writeln!(
                    w,
                    "{}",
                    hang(&format!("    {DIM}source:{DIM:#} "), &text, 6)
                )?;
            }
        }
        writeln!(w)?;
    }

    let (cs, label) = match r.assessment.concern {
        Concern::High => (BAD, "high"),
        Concern::Medium => (WARN, "medium"),
        Concern::Low => (GOOD, "low"),
    };
    if r.assessment.listenable {
        writeln!(
            w,
            "{HEAD}If it is open{HEAD:#}  {DIM}concern:{DIM:#} {cs}{label}{cs:#} {DIM}(set by the first reason){DIM:#}"
        )?;
    } else {
        writeln!(w, "{HEAD}Can it be open?{HEAD:#}  no")?;
    }
    // The reason that set the concern first, then the others in their order.
    let first = r
        .assessment
        .reasons
        .iter()
        .find(|x| **x == r.assessment.concern_reason);
    let rest = r.assessment.reasons.iter().filter(|x| Some(*x) != first);
    for reason in first.into_iter().chain(rest) {
        writeln!(w, "{}", hang("  - ", reason, 4))?;
    }
    writeln!(w)?;

    if !r.related.is_empty() {
        writeln!(w, "{HEAD}Related ports{HEAD:#}")?;
        for rel in r.related.iter().take(12) {
            let name = clean(rel.name.unwrap_or("-"), false);
            let lead = format!(
                "  {:>5}  {NAME}{}{NAME:#} {DIM}",
                rel.port,
                out::pad(&name, 16)
            );
            writeln!(w, "{}{DIM:#}", hang(&lead, &rel.why, 26))?;
        }
        writeln!(w)?;
    }

    if r.assessment.listenable {
        writeln!(w, "{HEAD}How to check what is listening{HEAD:#}")?;
    } else {
        writeln!(w, "{HEAD}How to see traffic sent to it{HEAD:#}")?;
    }
    for (os, cmds) in [
        ("Linux", &r.check.linux),
        ("macOS", &r.check.macos),
        ("Windows", &r.check.windows),
        ("Remote", &r.check.remote),
    ] {
        for (i, c) in cmds.iter().enumerate() {
            let label = if i == 0 { os } else { "" };
            writeln!(w, "{}", hang(&format!("  {DIM}{label:<8}{DIM:#} "), c, 11))?;
        }
    }
    Ok(())
}

/// One registry answer, for every protocol that has it ("tcp, udp, sctp, dccp" when the four
/// are the same): the protocols on a line of their own when several, then the rows.
fn registry_entry(
    w: &mut impl Write,
    protocols: &[Protocol],
    e: &ProtocolEntry,
) -> std::io::Result<()> {
    let st = status_style(e.status);
    let label = protocols
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut lead = if protocols.len() > 1 {
        writeln!(w, "  {label}: {st}{}{st:#}", e.status.as_str())?;
        " ".repeat(18)
    } else {
        format!("  {label:<5} {st}{:<10}{st:#} ", e.status.as_str())
    };
    if e.services.is_empty() && e.other_rows.is_empty() {
        writeln!(w, "{lead}{DIM}no entry{DIM:#}")?;
        return Ok(());
    }
    for row in e.services.iter().chain(&e.other_rows) {
        service_row(w, &lead, row)?;
        lead = " ".repeat(18);
    }
    Ok(())
}

/// One registry row after `lead` (the protocol and status, or spaces): its name and
/// description wrapped under column 18, then its facts.
fn service_row(w: &mut impl Write, lead: &str, s: &ServiceRow) -> std::io::Result<()> {
    if s.name.is_empty() {
        let text = format!("{} (ports {})", s.description, s.ports);
        writeln!(w, "{}{DIM:#}", hang(&format!("{lead}{DIM}"), &text, 18))?;
    } else {
        let name = clean(s.name, false);
        let mut text = first_line(s.description).to_owned();
        if s.ports.contains('-') {
            text = format!("{text} (range {})", s.ports);
        }
        let text = text.trim();
        if text.is_empty() {
            writeln!(w, "{lead}{NAME}{name}{NAME:#}")?;
        } else {
            writeln!(
                w,
                "{}",
                hang(&format!("{lead}{NAME}{name}{NAME:#}  "), text, 18)
            )?;
        }
    }
    let mut facts: Vec<String> = Vec::new();
    if !s.assignee.is_empty() {
        facts.push(format!("assignee {}", s.assignee));
    }
    if !s.registered.is_empty() {
        facts.push(format!("registered {}", s.registered));
    }
    if !s.modified.is_empty() {
        facts.push(format!("modified {}", s.modified));
    }
    if !s.reference.is_empty() {
        facts.push(format!("ref {}", s.reference));
    }
    if !facts.is_empty() {
        writeln!(w, "{DIM}{}{DIM:#}", wrap(&facts.join("; "), 20))?;
    }
    if let Some(was) = &s.history {
        writeln!(w, "{WARN}{}{WARN:#}", wrap(&format!("history: {was}"), 20))?;
    }
    if !s.unauthorized_use.is_empty() {
        writeln!(
            w,
            "{DIM}{}{DIM:#}",
            wrap(&unauthorized_line(s.unauthorized_use), 20)
        )?;
    }
    if let Some(keys) = &s.dns_sd_txt_keys {
        writeln!(
            w,
            "{DIM}{}{DIM:#}",
            wrap(&format!("DNS-SD TXT record keys: {keys}"), 20)
        )?;
    }
    let (notes, cut) = notes_for_page(s, 160);
    if !notes.is_empty() {
        let more = if cut { " (whole text: --json)" } else { "" };
        writeln!(w, "{DIM}{}{DIM:#}", wrap(&format!("{notes}{more}"), 20))?;
    }
    Ok(())
}

/// IANA's "Unauthorized Use Reported" column as a line of the page; a bare "yes" (8010) is
/// said in words instead of shown as if quoted.
pub(crate) fn unauthorized_line(text: &str) -> String {
    if text.trim().eq_ignore_ascii_case("yes") {
        "IANA: use without an assignment reported (no details given)".to_owned()
    } else {
        format!("IANA: {text}")
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}
