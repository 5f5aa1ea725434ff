//! `portent search`: ranked matches over names, descriptions and notes.

use std::io::Write;

use anyhow::Result;
use portent_registry::{Hit, HitKind};
use serde::Serialize;

use crate::Outcome;
use crate::args::SearchArgs;
use crate::out::{self, DIM, HEAD, NAME, clean, fit, pad, text_width};

#[derive(Serialize)]
struct SearchJson<'a> {
    query: &'a str,
    hits: &'a [Hit],
}

pub fn run(args: &SearchArgs) -> Result<Outcome> {
    let query = args.text.join(" ");
    if query.trim().is_empty() {
        anyhow::bail!("nothing to search for: give a word, such as portent search netinfo");
    }
    if args.limit == 0 {
        anyhow::bail!("-n 0 would show no results: give a limit of 1 or more");
    }
    let reg = out::registry();
    let hits = reg.search(&query, args.limit);
    if args.json {
        out::json(&SearchJson {
            query: &query,
            hits: &hits,
        })?;
    } else if hits.is_empty() {
        writeln!(
            anstream::stderr(),
            "nothing matches \"{}\"",
            clean(&query, false)
        )?;
    } else {
        let mut w = anstream::stdout().lock();
        table(&mut w, &hits, out::width())?;
        w.flush()?;
    }
    Ok(if hits.is_empty() {
        Outcome::Nothing
    } else {
        Outcome::Found
    })
}

/// The widest a port list gets before it is cut (the port page has them all).
const MAX_PORTS: usize = 20;

/// The hits as a table fitted to `width` columns, measured in display width: the name column
/// as wide as the longest name up to half of what the port and protocol columns leave, the
/// description cut to what remains.
fn table(w: &mut impl Write, hits: &[Hit], width: usize) -> std::io::Result<()> {
    let rows: Vec<[String; 4]> = hits
        .iter()
        .map(|h| {
            let no_port = h.kind == HitKind::Service && h.ports.is_empty();
            let ports = if no_port {
                "no port".to_owned()
            } else {
                out::fit(&portent_registry::port_list(&h.ports), MAX_PORTS).into_owned()
            };
            let protos = match h.kind {
                HitKind::Note => "note".to_owned(),
                // IANA names for service discovery only: a name, no port on any protocol.
                HitKind::Service if no_port => "name only".to_owned(),
                HitKind::Service if h.protocols.len() == 4 => "all".to_owned(),
                HitKind::Service => h
                    .protocols
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let text = clean(h.text.lines().next().unwrap_or(""), false).into_owned();
            [ports, protos, clean(h.name, false).into_owned(), text]
        })
        .collect();
    let widest = |i: usize, min: usize| {
        rows.iter()
            .map(|r| text_width(&r[i]))
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let wport = widest(0, 4);
    let wproto = widest(1, 9);
    let left = width.saturating_sub(wport + wproto + 3);
    let wname = widest(2, 4).min((left / 2).max(16));
    let wtext = left.saturating_sub(wname + 1).max(12);
    writeln!(
        w,
        "{HEAD}{} {} {} DESCRIPTION{HEAD:#}",
        pad("PORT", wport),
        pad("PROTOCOLS", wproto),
        pad("NAME", wname)
    )?;
    for [ports, protos, name, text] in &rows {
        let name = pad(&fit(name, wname), wname);
        writeln!(
            w,
            "{} {DIM}{}{DIM:#} {NAME}{name}{NAME:#} {}",
            pad(ports, wport),
            pad(protos, wproto),
            fit(text, wtext)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portent_registry::PortSpan;

    fn lines_fit(s: &str, width: usize) {
        for l in s.lines() {
            assert!(text_width(l) <= width, "wider than {width}: {l:?}");
        }
    }

    #[test]
    fn the_table_fits_the_width_with_long_and_wide_names() {
        let note = Hit {
            kind: HitKind::Note,
            score: 1,
            name: "東京都のとても長いサービス名 (a note title much longer than any column)",
            ports: vec![PortSpan {
                first: 797,
                last: 797,
            }],
            protocols: Vec::new(),
            text: "A long summary that goes on and on, far past the end of any terminal line, \
                   so that it has to be cut to fit the columns that are left for it.",
            note: None,
        };
        let plain = Hit {
            kind: HitKind::Service,
            score: 1,
            name: "ssh",
            ports: (1..60)
                .map(|p| PortSpan {
                    first: p * 3,
                    last: p * 3,
                })
                .collect(),
            protocols: vec![portent_registry::Protocol::Tcp],
            text: "The Secure Shell (SSH) Protocol",
            note: None,
        };
        let nameless = Hit {
            ports: Vec::new(),
            protocols: portent_registry::Protocol::ALL.to_vec(),
            name: "rdp",
            ..plain.clone()
        };
        for width in [80, 120] {
            let mut v = Vec::new();
            table(
                &mut v,
                &[note.clone(), plain.clone(), nameless.clone()],
                width,
            )
            .unwrap();
            let s = anstream::adapter::strip_str(&String::from_utf8(v).unwrap()).to_string();
            lines_fit(&s, width);
            // Every column starts where its header does: NAME and the name line up.
            let lines: Vec<&str> = s.lines().collect();
            let col = |l: &str, needle: &str| {
                text_width(&l[..l.find(needle).unwrap_or_else(|| panic!("{needle} in {l}"))])
            };
            assert_eq!(col(lines[0], "NAME"), col(lines[1], "東京"));
            assert_eq!(col(lines[0], "NAME"), col(lines[2], "ssh"));
            assert_eq!(col(lines[0], "DESCRIPTION"), col(lines[2], "The Secure"));
            assert!(lines[3].starts_with("no port"), "{}", lines[3]);
            assert!(lines[3].contains("name only"), "{}", lines[3]);
            assert!(s.contains('\u{2026}'), "the long texts are cut: {s}");
        }
    }
}
