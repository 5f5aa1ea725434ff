//! `portent search`: ranked matches over names, descriptions and notes.

use std::io::Write;

use anyhow::Result;
use portent_registry::{Hit, HitKind};
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
        if hits.is_empty() {
            writeln!(
                anstream::stderr(),
                "nothing matches \"{}\"",
                clean(&query, false)
            )?;
        } else {
            writeln!(
                w,
                "{HEAD}{:<11} {:<14} {:<22} DESCRIPTION{HEAD:#}",
                "PORT", "PROTOCOLS", "NAME"
            )?;
        }
        for h in &hits {
            let ports = match h.ports.as_slice() {
                [] => "-".to_owned(),
                [one] => one.to_string(),
                [first, .., last] => format!("{first}..{last}"),
            };
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
                "{ports:<11} {DIM}{protos:<14}{DIM:#} {NAME}{:<22}{NAME:#} {text}",
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
