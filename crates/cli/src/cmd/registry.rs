//! `portent registry`: what data is in use, exporting it, and loading a newer copy.

use std::io::{BufWriter, Write};

use anyhow::{Context, Result};
use portent_registry::{DataSource, PortRange, Protocol, Registry, snapshot};
use serde::Serialize;

use crate::Outcome;
use crate::args::RegistryCommand;
use crate::out::{self, DIM, GOOD, HEAD};

pub fn run(cmd: RegistryCommand) -> Result<Outcome> {
    match cmd {
        RegistryCommand::Info { json } => info(json),
        RegistryCommand::Export => export(),
        RegistryCommand::Update { file } => {
            let dir = out::data_dir()?;
            let done = snapshot::install(&file, &dir)?;
            let old = Registry::embedded();
            writeln!(
                anstream::stdout(),
                "{GOOD}updated:{GOOD:#} {} records, data as of {} (built-in data is of {}), stored in {}",
                done.records,
                done.date,
                old.date(),
                done.path.display()
            )?;
            Ok(Outcome::Found)
        }
        RegistryCommand::Reset => {
            let dir = out::data_dir()?;
            let removed = snapshot::remove(&dir)?;
            let msg = if removed {
                "removed the updated registry; using the data built into portent"
            } else {
                "no updated registry was installed; using the data built into portent"
            };
            writeln!(anstream::stdout(), "{msg}")?;
            Ok(Outcome::Found)
        }
    }
}

#[derive(Serialize)]
struct Info {
    source: &'static str,
    path: Option<String>,
    data_date: &'static str,
    built_in_date: &'static str,
    counts: portent_registry::Counts,
    notes: usize,
}

fn info(json: bool) -> Result<Outcome> {
    let reg = out::registry();
    let (source, path) = match reg.source() {
        DataSource::Embedded => ("embedded", None),
        DataSource::Snapshot(p) => ("updated", Some(p.display().to_string())),
    };
    let info = Info {
        source,
        path,
        data_date: reg.date(),
        built_in_date: Registry::embedded().date(),
        counts: reg.counts(),
        notes: portent_registry::notes().len(),
    };
    if json {
        out::json(&info)?;
        return Ok(Outcome::Found);
    }
    let c = &info.counts;
    let mut w = anstream::stdout().lock();
    writeln!(
        w,
        "{HEAD}IANA Service Name and Transport Protocol Port Number Registry{HEAD:#}"
    )?;
    match &info.path {
        None => writeln!(
            w,
            "  data      built into portent, as of {}",
            info.data_date
        )?,
        Some(p) => writeln!(
            w,
            "  data      updated copy as of {} ({p}); built-in data is of {}",
            info.data_date, info.built_in_date
        )?,
    }
    writeln!(
        w,
        "  records   {} ({} with ports, {} of them ranges; {} names without a port)",
        c.records, c.with_port, c.ranges, c.names_only
    )?;
    writeln!(w, "  names     {} distinct service names", c.service_names)?;
    writeln!(
        w,
        "  {DIM}protocol  assigned ports  reserved ports  private-use ports{DIM:#}"
    )?;
    for p in Protocol::ALL {
        writeln!(
            w,
            "  {:<9} {:>14}  {:>14}  {:>17}",
            p.as_str(),
            c.assigned_ports[p.index()],
            c.reserved_ports[p.index()],
            c.private_use_ports[p.index()]
        )?;
    }
    writeln!(w, "  notes     {} curated notes", info.notes)?;
    w.flush()?;
    Ok(Outcome::Found)
}

#[derive(Serialize)]
struct ExportLine<'a> {
    port: u16,
    protocol: Protocol,
    status: portent_registry::Status,
    range: PortRange,
    services: Vec<&'a str>,
}

/// One JSON object per line, 262,144 lines: written through one buffer, no pretty-printing.
fn export() -> Result<Outcome> {
    let reg = out::registry();
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    for port in 0..=u16::MAX {
        let range = PortRange::of(port);
        for protocol in Protocol::ALL {
            let e = reg.lookup(port, protocol);
            let line = ExportLine {
                port,
                protocol,
                status: e.status,
                range,
                services: e.service_names(),
            };
            serde_json::to_writer(&mut w, &line).context("writing JSON")?;
            w.write_all(b"\n")?;
        }
    }
    w.flush()?;
    Ok(Outcome::Found)
}
