//! `portent search`: ranked matches over names, descriptions and notes.

use std::io::Write;

use anyhow::Result;
use portent_registry::{Hit, HitKind, PortSpan};
use serde::Serialize;

use crate::Outcome;
use crate::args::SearchArgs;
use crate::out::{self, DIM, HEAD, NAME, clean};

#[derive(Serialize)]
struct SearchJson<'a> {
    query: &'a str,
    hits: &'a [Hit],
}

pub fn run(args: &SearchArgs) -> Result<Outcome> {
    let reg = out::registry();
    let query = args.text.join(" ");
    let hits = reg.search(&query, args.limit);
    if args.json {
        out::json(&SearchJson {
            query: &query,
            hits: &hits,
        })?;
    } else {
        let mut w = anstream::stdout().lock();
        let ports: Vec<String> = hits.iter().map(|h| port_list(&h.ports)).collect();
        let width = ports.iter().map(String::len).max().unwrap_or(0).max(11);
        if hits.is_empty() {
            writeln!(
                anstream::stderr(),
                "nothing matches \"{}\"",
                clean(&query, false)
            )?;
        } else {
            writeln!(
                w,
                "{HEAD}{:<width$} {:<14} {:<22} DESCRIPTION{HEAD:#}",
                "PORT", "PROTOCOLS", "NAME"
            )?;
        }
        for (h, ports) in hits.iter().zip(&ports) {
            let protos = match h.kind {
                HitKind::Note => "note".to_owned(),
                HitKind::Service if h.protocols.len() == 4 => "all".to_owned(),
                HitKind::Service => h
                    .protocols
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let text: String = clean(h.text.lines().next().unwrap_or(""), false)
                .chars()
                .take(70)
                .collect();
            writeln!(
                w,
                "{ports:<width$} {DIM}{protos:<14}{DIM:#} {NAME}{:<22}{NAME:#} {text}",
                clean(h.name, false)
            )?;
        }
        w.flush()?;
    }
    Ok(if hits.is_empty() {
        Outcome::Nothing
    } else {
        Outcome::Found
    })
}

/// The ports of a hit as a list: `6568, 7070`; a run of three or more consecutive ports as a
/// range, `6711-6713, 6776`; `-` when there are none.
fn port_list(spans: &[PortSpan]) -> String {
    let mut spans = spans.to_vec();
    spans.sort_unstable();
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for s in spans {
        match runs.last_mut() {
            Some((_, last)) if u32::from(s.first) <= u32::from(*last) + 1 => {
                *last = (*last).max(s.last);
            }
            _ => runs.push((s.first, s.last)),
        }
    }
    if runs.is_empty() {
        return "-".to_owned();
    }
    let mut parts: Vec<String> = Vec::new();
    for (first, last) in runs {
        match last - first {
            0 => parts.push(first.to_string()),
            1 => parts.extend([first.to_string(), last.to_string()]),
            _ => parts.push(format!("{first}-{last}")),
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(v: &[(u16, u16)]) -> Vec<PortSpan> {
        v.iter()
            .map(|&(first, last)| PortSpan { first, last })
            .collect()
    }

    #[test]
    fn separate_ports_are_a_list_and_runs_a_range() {
        assert_eq!(port_list(&[]), "-");
        assert_eq!(port_list(&spans(&[(22, 22)])), "22");
        assert_eq!(
            port_list(&spans(&[(6568, 6568), (7070, 7070)])),
            "6568, 7070"
        );
        assert_eq!(
            port_list(&spans(&[(54320, 54320), (54321, 54321)])),
            "54320, 54321"
        );
        assert_eq!(
            port_list(&spans(&[
                (6711, 6711),
                (6712, 6712),
                (6713, 6713),
                (6776, 6776)
            ])),
            "6711-6713, 6776"
        );
        assert_eq!(port_list(&spans(&[(6000, 6063)])), "6000-6063");
        assert_eq!(
            port_list(&spans(&[(7070, 7070), (6568, 6568)])),
            "6568, 7070"
        );
        assert_eq!(
            port_list(&spans(&[(65534, 65535), (65535, 65535)])),
            "65534, 65535"
        );
    }
}
