//! `portent listening`: what listens on this machine, who owns it, and what the registry says
//! about each port. Also renders the live section of the port page.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{Context, Result};
use portent_local::listening::{Listener, Owner, OwnerStatus, Query};
use portent_local::meaning::{Filter, Flag, Report, Row};
use portent_registry::{Protocol, Status};

use crate::Outcome;
use crate::args::ListeningArgs;
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean, fit, pad, pad_left, text_width};

/// The fewest columns of a command line shown at the end of a row; with less room left, the
/// command goes on a line of its own under the row.
const MIN_COMMAND: usize = 16;

pub fn run(args: &ListeningArgs) -> Result<Outcome> {
    let reg = out::registry();
    let positional = ss_port(&args.port_arg)?;
    let wanted = match positional.as_deref().or(args.port.as_deref()) {
        Some(text) => Some(ports_of(&reg, text)?),
        None => None,
    };
    // Neither flag or both: both protocols (`-tu` as in ss).
    let only_udp = args.udp && !args.tcp;
    let only_tcp = args.tcp && !args.udp;
    let (tcp, udp) = match wanted.as_ref().and_then(|w| w.protocol) {
        Some(Protocol::Tcp) => (!only_udp, false),
        Some(Protocol::Udp) => (false, !only_tcp),
        _ => (!only_udp, !only_tcp),
    };
    let ports = wanted.map(|w| w.ports).unwrap_or_default();
    let query = Query {
        tcp,
        udp,
        port: match ports[..] {
            [one] => Some(one),
            _ => None,
        },
        netns: args.netns.as_deref().map(existing_netns).transpose()?,
    };
    let filter = Filter {
        ghosts: args.ghosts,
        dynamic: args.dynamic,
        exposed: args.exposed,
        pid: args.pid,
        process: args.process.clone(),
        ports: if ports.len() > 1 {
            ports.clone()
        } else {
            Vec::new()
        },
    };
    let started_ms = portent_store::now_ms();
    let listing =
        portent_local::listening::listening(&query).context("cannot list listening sockets")?;
    // Inside another namespace, its own ephemeral range decides the flag.
    let host = listing
        .netns_facts
        .clone()
        .unwrap_or_else(portent_local::host::facts);
    let mut report = Report::build(&listing, &reg, &host, &filter);
    // -4 or -6 alone keeps one address family (both or neither: every socket).
    if args.ipv4 != args.ipv6 {
        report
            .sockets
            .retain(|r| r.socket.address.is_ipv4() == args.ipv4);
        report.hidden_owners = report
            .sockets
            .iter()
            .filter(|r| r.socket.owner_status == OwnerStatus::Hidden)
            .count();
    }
    let outcome = if report.sockets.is_empty() {
        Outcome::Nothing
    } else {
        Outcome::Found
    };
    if args.json {
        out::json(&report)?;
        super::save::save_listening(&args.save, &listing, &query, started_ms);
        return Ok(outcome);
    }
    let mut w = out::buffered_stdout();
    if report.sockets.is_empty() {
        let what = match &ports[..] {
            [] => "nothing listens".to_owned(),
            [p] => format!("nothing listens on port {p}"),
            [a, .., b] if usize::from(b - a) + 1 == ports.len() => {
                format!("nothing listens on ports {a}-{b}")
            }
            many => format!(
                "nothing listens on ports {}",
                many.iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let only = match (query.tcp, query.udp) {
            (true, false) => " over tcp",
            (false, true) => " over udp",
            _ => "",
        };
        let family = match (args.ipv4, args.ipv6) {
            (true, false) => " over IPv4",
            (false, true) => " over IPv6",
            _ => "",
        };
        let filtered = filter.ghosts
            || filter.dynamic
            || filter.exposed
            || filter.pid.is_some()
            || filter.process.is_some();
        let tail = if filtered {
            " (with these filters)"
        } else {
            ""
        };
        writeln!(w, "{what}{only}{family}{tail} here")?;
    } else {
        table(&mut w, &report.sockets, args.wide, 0, out::width())?;
        let (tcp, udp, ghosts, exposed) = report.counts();
        writeln!(
            w,
            "{DIM}{}: {tcp} tcp, {udp} udp; {}, {exposed} exposed{DIM:#}",
            out::plural(report.sockets.len(), "socket"),
            out::plural(ghosts, "ghost"),
        )?;
    }
    notes(&mut w, &report)?;
    w.flush()?;
    super::save::save_listening(&args.save, &listing, &query, started_ms);
    Ok(outcome)
}

/// What a PORT|NAME argument asks for: its ports, and the protocol given after a slash.
struct Wanted {
    ports: Vec<u16>,
    protocol: Option<Protocol>,
}

/// Resolves `797`, `53/udp` or `ssh` through the registry, as the port page does.
fn ports_of(reg: &portent_registry::Registry, text: &str) -> Result<Wanted> {
    let r = reg.resolve(text)?;
    if let Some(p @ (Protocol::Sctp | Protocol::Dccp)) = r.protocol {
        anyhow::bail!(
            "portent listening lists TCP and UDP sockets; {} sockets are not looked for",
            p.as_str().to_uppercase()
        );
    }
    Ok(Wanted {
        ports: r.ports,
        protocol: r.protocol,
    })
}

/// The port in ss's ways of writing it: `22`, `:22`, `sport :22`, `sport = :22`,
/// `sport == :22`, `sport eq :22`, in parentheses or not, as one argument or several; `None`
/// when no words were given.
fn ss_port(words: &[String]) -> Result<Option<String>> {
    let joined = words.join(" ").replace(['(', ')'], " ");
    let text = joined.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let port = if let Some(rest) = text.strip_prefix("sport") {
        let rest = rest.trim_start();
        let rest = ["==", "=", "eq "]
            .iter()
            .find_map(|op| rest.strip_prefix(op))
            .unwrap_or(rest);
        rest.trim()
    } else if text.starts_with("dport") || text.starts_with("dst") || text.starts_with("src") {
        anyhow::bail!(
            "\"{}\": portent listening filters by its own port only: use sport = :PORT or :PORT",
            clean(text, false)
        );
    } else {
        text
    };
    let port = port.strip_prefix(':').unwrap_or(port);
    if port.is_empty() || port.contains(char::is_whitespace) {
        anyhow::bail!(
            "\"{}\" is not a port filter: expected a port or name (22, ssh, 53/udp), :22 or sport = :22",
            clean(text, false)
        );
    }
    Ok(Some(port.to_owned()))
}

/// A `--netns` argument as a path; a name that is not in /run/netns is an error that lists the
/// names that are.
fn existing_netns(s: &str) -> Result<PathBuf> {
    let path = netns_path(s);
    if s.contains('/') || path.exists() {
        return Ok(path);
    }
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let have = if names.is_empty() {
        "there are none in /run/netns (`ip netns add NAME` makes one)".to_owned()
    } else {
        format!("the ones there are: {}", clean(&names.join(", "), false))
    };
    anyhow::bail!(
        "no network namespace is named \"{}\" ({} does not exist); {have}",
        clean(s, false),
        path.display()
    )
}

/// `ip netns` names live in /run/netns; anything with a slash is a path.
pub(crate) fn netns_path(s: &str) -> PathBuf {
    if s.contains('/') {
        PathBuf::from(s)
    } else {
        PathBuf::from("/run/netns").join(s)
    }
}

/// Warnings about what could not be seen, one per line.
pub fn notes(w: &mut impl Write, report: &Report) -> std::io::Result<()> {
    for n in &report.notes {
        writeln!(w, "{}", out::hang(&format!("{WARN}note:{WARN:#} "), n, 6))?;
    }
    if let Some(ns) = &report.netns {
        let line = out::hang(&format!("{DIM}network namespace: "), ns, 4);
        writeln!(w, "{line}{DIM:#}")?;
    }
    Ok(())
}

/// The address as a table shows it: `[::]` style brackets are left out, a bound device is
/// added as `%dev`.
fn address(l: &Listener) -> String {
    match &l.interface {
        Some(dev) => format!("{}%{}", l.address, clean(dev, false)),
        None => l.address.to_string(),
    }
}

fn service(row: &Row) -> String {
    match row.registry.services.first() {
        Some(name) if row.registry.status == Status::Assigned => (*name).to_owned(),
        _ => row.registry.status.as_str().to_owned(),
    }
}

/// A table line's owner cells: pid, process, user, command, each cleaned for the terminal.
type Cells = Rc<[String; 4]>;

/// One line per owner. Cells are made once per process and shared: one server holding
/// 10,000 sockets costs one set of strings, not 10,000.
fn owner_cells(row: &Row, cache: &mut HashMap<u32, Cells>) -> Vec<Cells> {
    let l = &row.socket;
    let socket_user = l.user_label();
    if l.owners.is_empty() {
        let what = match l.owner_status {
            OwnerStatus::Hidden => "(hidden)",
            OwnerStatus::Exited => "(exited)",
            OwnerStatus::Found | OwnerStatus::None => "(none)",
        };
        return vec![Rc::new([
            "-".into(),
            what.into(),
            clean(&socket_user, false).into_owned(),
            String::new(),
        ])];
    }
    l.owners
        .iter()
        .map(|o| {
            if let Some(c) = cache.get(&o.pid) {
                return Rc::clone(c);
            }
            let c = Rc::new(cells_of(o, &socket_user));
            cache.insert(o.pid, Rc::clone(&c));
            c
        })
        .collect()
}

fn cells_of(o: &Owner, socket_user: &str) -> [String; 4] {
    match &o.process {
        Some(p) => {
            let user = p
                .user
                .clone()
                .or_else(|| p.uid.map(|u| u.to_string()))
                .unwrap_or_else(|| socket_user.to_owned());
            // Titles padded with spaces (redis-server) lose the padding.
            let mut cmd = out::squeeze(&p.cmdline.join(" "));
            if cmd.is_empty() {
                cmd = format!("[{}]", p.name);
            }
            if let Some(exe) = p.unexplained_exe() {
                cmd = format!("{cmd}  [exe {exe}]");
            }
            for place in [&p.unit, &p.container].into_iter().flatten() {
                cmd = format!("{cmd}  ({place})");
            }
            let cmd = clean(&cmd, false);
            [
                o.pid.to_string(),
                clean(&p.name, false).into_owned(),
                clean(&user, false).into_owned(),
                cmd.into_owned(),
            ]
        }
        None => [
            o.pid.to_string(),
            "unknown".into(),
            clean(socket_user, false).into_owned(),
            "(exited)".into(),
        ],
    }
}

/// Renders rows as a table, every untrusted string cleaned, indented by `indent` spaces, and
/// fitted to `width` columns: the command line takes what the other columns leave (all of it
/// with `wide`), or a line of its own under the row when that is too little.
/// Two passes over `rows` (widths, then lines) instead of a table of strings in memory: the
/// owner cells are cached per process, the rest is cheap to make twice.
pub fn table(
    w: &mut impl Write,
    rows: &[Row],
    wide: bool,
    indent: usize,
    width: usize,
) -> std::io::Result<()> {
    let pad_s = " ".repeat(indent);
    let mut cache = HashMap::new();
    let (mut wa, mut ws, mut wpid, mut wproc, mut wuser, mut wf) = (7, 7, 3, 7, 4, 5);
    for row in rows {
        wa = wa.max(text_width(&address(row.socket)));
        ws = ws.max(text_width(&service(row)));
        let n: usize = row.flags.iter().map(|f| f.as_str().len() + 1).sum();
        wf = wf.max(n.saturating_sub(1));
        for c in owner_cells(row, &mut cache) {
            wpid = wpid.max(text_width(&c[0]));
            wproc = wproc.max(text_width(&c[1]));
            wuser = wuser.max(text_width(&c[2]));
        }
    }
    // Long process and user names are cut rather than pushing every command off the line
    // (a process name from /proc/PID/comm is at most 15 characters anyway).
    wproc = wproc.min(16);
    wuser = wuser.min(16);
    let fixed = indent + 5 + 1 + wa + 1 + 5 + 1 + ws + 1 + wpid + 1 + wproc + 1 + wuser + 1 + wf;
    let room = width.saturating_sub(fixed + 1);
    let own_line = !wide && room < MIN_COMMAND;
    let below = indent + 4;
    if own_line {
        writeln!(
            w,
            "{pad_s}{HEAD}{:<5} {} {:>5} {} {} {} {} FLAGS{HEAD:#}",
            "PROTO",
            pad("ADDRESS", wa),
            "PORT",
            pad("SERVICE", ws),
            pad_left("PID", wpid),
            pad("PROCESS", wproc),
            pad("USER", wuser),
        )?;
        writeln!(w, "{}{HEAD}COMMAND{HEAD:#}", " ".repeat(below))?;
    } else {
        writeln!(
            w,
            "{pad_s}{HEAD}{:<5} {} {:>5} {} {} {} {} {} COMMAND{HEAD:#}",
            "PROTO",
            pad("ADDRESS", wa),
            "PORT",
            pad("SERVICE", ws),
            pad_left("PID", wpid),
            pad("PROCESS", wproc),
            pad("USER", wuser),
            pad("FLAGS", wf),
        )?;
    }
    for row in rows {
        let l = &row.socket;
        let svc_style = if row.registry.status == Status::Assigned {
            GOOD
        } else {
            DIM
        };
        let pstyle = if l.owners.is_empty() { WARN } else { NAME };
        for (i, cells) in owner_cells(row, &mut cache).iter().enumerate() {
            let [pid, process, user, cmd] = &**cells;
            if i == 0 {
                write!(
                    w,
                    "{pad_s}{:<5} {} {:>5} {svc_style}{}{svc_style:#} ",
                    l.protocol.as_str(),
                    pad(&address(l), wa),
                    l.port,
                    pad(&service(row), ws),
                )?;
            } else {
                write!(w, "{pad_s}{:<5} {:<wa$} {:>5} {:<ws$} ", "", "", "", "")?;
            }
            write!(
                w,
                "{} {pstyle}{}{pstyle:#} {} ",
                pad_left(pid, wpid),
                pad(&fit(process, wproc), wproc),
                pad(&fit(user, wuser), wuser),
            )?;
            let last = if cmd.is_empty() || own_line { 0 } else { wf };
            if i == 0 {
                flags(w, row, last)?;
            } else {
                write!(w, "{:<last$}", "")?;
            }
            if cmd.is_empty() {
                writeln!(w)?;
            } else if wide {
                writeln!(w, " {DIM}{cmd}{DIM:#}")?;
            } else if own_line {
                let cmd = fit(cmd, width.saturating_sub(below));
                writeln!(w, "\n{}{DIM}{cmd}{DIM:#}", " ".repeat(below))?;
            } else {
                writeln!(w, " {DIM}{}{DIM:#}", fit(cmd, room))?;
            }
        }
    }
    Ok(())
}

fn flags(w: &mut impl Write, row: &Row, width: usize) -> std::io::Result<()> {
    let mut used = 0;
    for (i, f) in row.flags.iter().enumerate() {
        let style = match f {
            Flag::Ghost if row.strong_ghost() => BAD,
            Flag::Ghost | Flag::Exposed => WARN,
            Flag::Ephemeral | Flag::DualStack | Flag::Dynamic => DIM,
        };
        if i > 0 {
            write!(w, ",")?;
            used += 1;
        }
        write!(w, "{style}{}{style:#}", f.as_str())?;
        used += f.as_str().len();
    }
    write!(w, "{:<n$}", "", n = width.saturating_sub(used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ss_port_filters() {
        let words = |s: &[&str]| s.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        for (given, port) in [
            (&["22"][..], "22"),
            (&[":22"][..], "22"),
            (&[":ssh"][..], "ssh"),
            (&["53/udp"][..], "53/udp"),
            (&["sport", "=", ":22"][..], "22"),
            (&["sport", "==", ":22"][..], "22"),
            (&["sport", "eq", ":22"][..], "22"),
            (&["sport", ":22"][..], "22"),
            (&["sport = :22"][..], "22"),
            (&["sport==:22"][..], "22"),
            (&["( sport = :22 )"][..], "22"),
            (&["(", "sport", "=", ":22", ")"][..], "22"),
        ] {
            assert_eq!(
                ss_port(&words(given)).unwrap().as_deref(),
                Some(port),
                "{given:?}"
            );
        }
        assert_eq!(ss_port(&[]).unwrap(), None);
        for bad in [
            &["dport", "=", ":22"][..],
            &["sport", "="][..],
            &["22", "23"][..],
        ] {
            let err = ss_port(&words(bad)).unwrap_err().to_string();
            assert!(err.contains("sport = :"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn cuts_and_namespaces() {
        assert_eq!(netns_path("blue"), PathBuf::from("/run/netns/blue"));
        assert_eq!(
            netns_path("/proc/1/ns/net"),
            PathBuf::from("/proc/1/ns/net")
        );
    }
}
