//! portent's memory on the command line: `history`, `diff`, `show` and `watch` over what was
//! saved (saving itself is in `save`).

use std::collections::HashSet;
use std::io::Write;

use anyhow::{Context, Result};
use portent_local::listening::Query;
use portent_store::{
    Change, ChangeKind, Location, PortTimeline, Run, RunKind, SocketChange, SocketRow, Store,
    utc_readable,
};
use serde::Serialize;

use super::save::{
    host_identity, listing_target, ms_of, save_listening, save_scan, scan_data, socket_rows, warn,
};
use crate::Outcome;
use crate::args::{DiffArgs, HistoryArgs, ShowArgs, StoreArgs};
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean};

/// Where the store is: `--store`, else `PORTENT_STORE`, else `store.sqlite` in the data
/// directory.
pub(crate) fn location(args: &StoreArgs) -> Result<Location> {
    if let Some(s) = args
        .store
        .clone()
        .or_else(|| std::env::var("PORTENT_STORE").ok())
        .filter(|s| !s.trim().is_empty())
    {
        return Ok(Location::parse(&s)?);
    }
    Ok(Location::Sqlite(
        out::data_dir()?.join(portent_store::DEFAULT_FILE),
    ))
}

/// Opens the store for reading commands (history, diff, show): failures are errors.
fn open(args: &StoreArgs) -> Result<Store> {
    Ok(Store::open_location(&location(args)?)?)
}

/// One change as osquery's differential log writes it, so a fleet pipeline that ingests
/// osquery results takes these unchanged.
#[derive(Serialize)]
struct DifferentialLine<'a> {
    name: &'static str,
    #[serde(rename = "hostIdentifier")]
    host_identifier: &'a str,
    #[serde(rename = "unixTime")]
    unix_time: i64,
    action: &'static str,
    columns: &'a SocketRow,
}

/// `portent watch --listening`: snapshot, save, print what changed since the previous
/// snapshot (the newest stored one over the same namespace when there is one), sleep, again.
pub fn watch_listening(args: &crate::args::WatchArgs) -> Result<Outcome> {
    let every = match args.every.as_deref() {
        Some(t) => portent_scan::parse_duration(t)?,
        None => std::time::Duration::from_secs(30),
    };
    let args_save = &args.scan.save;
    anyhow::ensure!(
        every >= std::time::Duration::from_millis(100),
        "--every must be at least 100ms"
    );
    let query = Query {
        // Both flags, or neither: both protocols.
        tcp: args.scan.tcp || !args.scan.udp,
        udp: args.scan.udp || !args.scan.tcp,
        port: None,
        netns: args.netns.as_deref().map(super::listening::netns_path),
    };
    let target = listing_target(&query);
    // The host identity: the differential lines' hostIdentifier, and whose snapshots to
    // continue from in a store many hosts share.
    let me = host_identity(args_save)?.id;
    let baseline = args.baseline.as_deref().map(read_baseline).transpose()?;
    // Continue from this host's newest stored snapshot of the same namespace, when the store
    // has one.
    let mut prev: Option<Vec<SocketRow>> = if args_save.no_save {
        None
    } else {
        (|| -> Result<Option<Vec<SocketRow>>> {
            let mut store = Store::open_location(&location(&args_save.store)?)?;
            let last = store
                .host_runs(&me, Some(RunKind::Listening), 50)?
                .into_iter()
                .find(|r| r.complete && r.targets == [target.clone()] && r.ports.is_empty());
            Ok(match last {
                Some(r) => Some(store.data(r)?.sockets),
                None => None,
            })
        })()
        .unwrap_or_else(|e| {
            warn("the last stored snapshot could not be read", &e);
            None
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut round = 0u64;
    loop {
        round += 1;
        let started_ms = portent_store::now_ms();
        let listing =
            portent_local::listening::listening(&query).context("cannot list listening sockets")?;
        let rows = socket_rows(&listing);
        let mut w = out::buffered_stdout();
        let mut changes = prev
            .as_ref()
            .map(|p| portent_store::diff_sockets(p, &rows))
            .unwrap_or_default();
        // Outside the baseline: reported in the first round (a socket that appears later is
        // reported as added anyway).
        if round == 1
            && let Some(b) = &baseline
        {
            let extra = unexpected_sockets(&rows, &changes, b);
            changes.extend(extra);
        }
        if prev.is_none() && !args.scan.jsonl {
            let _ = writeln!(
                anstream::stderr(),
                "{DIM}watching {} sockets; changes are printed as they are seen{DIM:#}",
                rows.len()
            );
        }
        for c in changes {
            if args.scan.jsonl {
                serde_json::to_writer(
                    &mut w,
                    &DifferentialLine {
                        name: "listening",
                        host_identifier: &me,
                        unix_time: started_ms / 1000,
                        action: c.action,
                        columns: &c.socket,
                    },
                )?;
                writeln!(w)?;
            } else {
                let (mark, st) = match c.action {
                    "added" => ("+", BAD),
                    "unexpected" => ("!", BAD),
                    _ => ("-", GOOD),
                };
                let s = &c.socket;
                let pid = s.pid.map(|p| format!(" pid {p}")).unwrap_or_default();
                writeln!(
                    w,
                    "{} {st}{mark} {:<10}{st:#} {} {}:{} {} {DIM}({}){pid}{DIM:#}",
                    utc_readable(started_ms),
                    c.action,
                    s.protocol,
                    s.address,
                    s.port,
                    clean(&s.executable, false),
                    clean(&s.user, false)
                )?;
            }
        }
        w.flush()?;
        save_listening(args_save, &listing, &query, started_ms);
        prev = Some(rows);
        if args.count.is_some_and(|n| round >= n) {
            return Ok(Outcome::Found);
        }
        let stop = rt.block_on(async {
            tokio::select! {
                () = tokio::time::sleep(every) => false,
                _ = tokio::signal::ctrl_c() => true,
            }
        });
        if stop {
            return Ok(Outcome::Found);
        }
    }
}

/// A scan change as a differential-log row.
#[derive(Serialize)]
struct ScanColumns<'a> {
    host: &'a str,
    port: u16,
    protocol: &'a str,
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct ScanLine<'a> {
    name: &'static str,
    #[serde(rename = "hostIdentifier")]
    host_identifier: &'a str,
    #[serde(rename = "unixTime")]
    unix_time: i64,
    action: &'static str,
    columns: ScanColumns<'a>,
}

/// `portent watch TARGET...`: scan, save, print what changed since the previous round (the
/// newest stored complete scan over the same targets and ports, for the first), sleep, again.
pub fn watch_scan(args: &crate::args::WatchArgs) -> Result<Outcome> {
    anyhow::ensure!(
        !args.scan.targets.is_empty() || !args.scan.input_list.is_empty(),
        "give the targets to watch (as for scan), or --listening"
    );
    // Each round of a watch is a run of its own, compared with the one before: it joins no
    // named run and resumes none (those flags come with the scan's and would be ignored).
    anyhow::ensure!(
        args.scan.scan_name.is_none() && !args.scan.resume,
        "watch saves each round as a run of its own: --scan-name and --resume are for scan"
    );
    let every = match args.every.as_deref() {
        Some(t) => portent_scan::parse_duration(t)?,
        None => std::time::Duration::from_secs(600),
    };
    anyhow::ensure!(
        every >= std::time::Duration::from_millis(100),
        "--every must be at least 100ms"
    );
    let reg = out::registry();
    let baseline = args.baseline.as_deref().map(read_baseline).transpose()?;
    let save = &args.scan.save;
    let me = host_identity(save)?.id;
    let mut prev: Option<portent_store::RunData> = None;
    let mut earlier: HashSet<(String, String, u16)> = HashSet::new();
    let sleeper = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut round = 0u64;
    loop {
        round += 1;
        let super::scan::QuietRun {
            record,
            document: doc,
            targets,
            options,
            args_line,
        } = super::scan::run_quiet(&args.scan, &reg)?;
        let cur = scan_data(&record, &targets, &options);
        if round == 1 && !save.no_save {
            let stored = (|| -> Result<Option<(portent_store::RunData, HashSet<_>)>> {
                let mut store = Store::open_location(&location(&save.store)?)?;
                let last = store.runs(Some(RunKind::Scan), 50)?.into_iter().find(|r| {
                    r.complete && r.targets == cur.run.targets && r.ports == cur.run.ports
                });
                Ok(match last {
                    Some(r) => {
                        let data = store.data(r)?;
                        let hosts: Vec<String> =
                            data.hosts.iter().map(|h| h.host.clone()).collect();
                        let before = store.open_before(data.run.started_ms, &hosts)?;
                        Some((data, before))
                    }
                    None => None,
                })
            })();
            match stored {
                Ok(Some((data, before))) => {
                    earlier = before;
                    prev = Some(data);
                }
                Ok(None) => {}
                Err(e) => warn("the last stored scan could not be read", &e),
            }
        }
        let mut changes = match &prev {
            Some(p) => portent_store::diff(p, &cur, &earlier),
            None => Vec::new(),
        };
        if round == 1
            && let Some(b) = &baseline
        {
            let extra = portent_store::diff::unexpected(&cur, &changes, b);
            changes.extend(extra);
        }
        if prev.is_none() && !args.scan.jsonl {
            let _ = writeln!(
                anstream::stderr(),
                "{DIM}watching {} open ports; changes are printed as they are seen{DIM:#}",
                record.totals.open
            );
        }
        shown_reasons(&mut changes);
        print_scan_changes(&changes, &me, ms_of(record.started_at), args.scan.jsonl)?;
        if !save.no_save {
            save_scan(save, &record, &targets, options, doc, &args_line);
        }
        if record.interrupted {
            return Ok(Outcome::Found);
        }
        // An incomplete round (stopped) is not a baseline for the next.
        if cur.run.complete {
            if let Some(p) = &prev {
                earlier.extend(
                    p.ports
                        .iter()
                        .filter(|x| x.state == "open")
                        .map(|x| (x.host.clone(), x.protocol.clone(), x.port)),
                );
            }
            prev = Some(cur);
        }
        if args.count.is_some_and(|n| round >= n) {
            return Ok(Outcome::Found);
        }
        let stop = sleeper.block_on(async {
            tokio::select! {
                () = tokio::time::sleep(every) => false,
                _ = tokio::signal::ctrl_c() => true,
            }
        });
        if stop {
            return Ok(Outcome::Found);
        }
    }
}

/// The store keeps reasons by their stable names; changes show them in the words every
/// output uses (`conn-refused`, not `reset`).
/// Stored rows carry the store's reason names ([`portent_scan::Reason::as_str`]); every output
/// shows the word the scan itself printed (`conn-refused`, not `reset`).
fn shown_row_reasons(data: &mut portent_store::RunData) {
    for p in &mut data.ports {
        p.reason = portent_scan::Reason::word_of(&p.reason).to_owned();
    }
    for e in &mut data.extra {
        e.reason = portent_scan::Reason::word_of(&e.reason).to_owned();
    }
}

fn shown_reasons(changes: &mut [Change]) {
    for c in changes {
        for side in c.before.iter_mut().chain(c.after.iter_mut()) {
            side.reason = portent_scan::Reason::word_of(&side.reason).to_owned();
        }
    }
}

fn print_scan_changes(changes: &[Change], me: &str, at_ms: i64, jsonl: bool) -> Result<()> {
    let mut w = out::buffered_stdout();
    for c in changes {
        if jsonl {
            // osquery's words: a row that changed is the old row removed and the new added.
            let mut rows: Vec<(&'static str, &portent_store::Side)> = Vec::new();
            match c.change {
                ChangeKind::New | ChangeKind::Reopened => {
                    rows.extend(c.after.iter().map(|s| ("added", s)))
                }
                ChangeKind::Closed => rows.extend(c.before.iter().map(|s| ("removed", s))),
                ChangeKind::Changed => {
                    rows.extend(c.before.iter().map(|s| ("removed", s)));
                    rows.extend(c.after.iter().map(|s| ("added", s)));
                }
                ChangeKind::Unexpected => rows.extend(c.after.iter().map(|s| ("unexpected", s))),
            }
            for (action, side) in rows {
                serde_json::to_writer(
                    &mut w,
                    &ScanLine {
                        name: "scan",
                        host_identifier: me,
                        unix_time: at_ms / 1000,
                        action,
                        columns: ScanColumns {
                            host: &c.host,
                            port: c.port,
                            protocol: &c.protocol,
                            state: if action == "removed" && c.change == ChangeKind::Closed {
                                c.after.as_ref().map_or("closed", |a| a.state.as_str())
                            } else {
                                side.state.as_str()
                            },
                            service: side.service.as_deref(),
                            product: side.product.as_deref(),
                            version: side.version.as_deref(),
                        },
                    },
                )?;
                writeln!(w)?;
            }
        } else {
            write!(w, "{} ", utc_readable(at_ms))?;
            change_line(&mut w, c)?;
        }
    }
    Ok(w.flush()?)
}

/// A run as `history` and `--json` show it.
#[derive(Serialize)]
struct RunOut<'a> {
    #[serde(flatten)]
    run: &'a Run,
    started: String,
    /// A named (sharded) scan's shards: which are done, which are missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    shards: Option<portent_store::Shards>,
}

pub fn history(args: &HistoryArgs) -> Result<Outcome> {
    let mut store = open(&args.store)?;
    match &args.host {
        None => {
            let kind = args.kind.as_deref().map(parse_kind).transpose()?;
            let runs = match &args.machine {
                Some(m) => {
                    let host = store.resolve_host(m, kind.unwrap_or(RunKind::Listening))?;
                    store.host_runs(&host.host_id, kind, args.limit)?
                }
                None => store.runs(kind, args.limit)?,
            };
            let shards = runs
                .iter()
                .map(|r| store.shards(&r.id))
                .collect::<Result<Vec<_>, _>>()?;
            if args.json {
                let list: Vec<RunOut> = runs
                    .iter()
                    .zip(shards)
                    .map(|(r, shards)| RunOut {
                        run: r,
                        started: utc_readable(r.started_ms),
                        shards,
                    })
                    .collect();
                out::json(&serde_json::json!({ "store": store.location(), "runs": list }))?;
            } else {
                runs_table(&runs, &shards)?;
            }
            Ok(if runs.is_empty() {
                Outcome::Nothing
            } else {
                Outcome::Found
            })
        }
        Some(host) => {
            let lines = store.timeline(host, args.port)?;
            if args.json {
                out::json(&serde_json::json!({ "host": host, "ports": lines }))?;
            } else {
                timeline_text(host, &lines)?;
            }
            Ok(if lines.is_empty() {
                Outcome::Nothing
            } else {
                Outcome::Found
            })
        }
    }
}

fn parse_kind(k: &str) -> Result<RunKind> {
    RunKind::parse(k).with_context(|| format!("unknown kind {k:?}: use scan, check or listening"))
}

fn runs_table(runs: &[Run], shards: &[Option<portent_store::Shards>]) -> Result<()> {
    let mut w = out::buffered_stdout();
    if runs.is_empty() {
        writeln!(w, "no runs stored yet")?;
        return Ok(w.flush()?);
    }
    writeln!(
        w,
        "{HEAD}{:<20} {:<20} {:<9} {:>5} {:>6} {:>8}  {:<8} TARGETS{HEAD:#}",
        "RUN", "STARTED", "KIND", "OPEN", "CLOSED", "FILTERED", "COMPLETE"
    )?;
    for (r, shards) in runs.iter().zip(shards) {
        let (cs, done) = if r.complete {
            (GOOD, "yes".to_owned())
        } else if let Some(s) = shards {
            // A named scan with shards missing: how many are done.
            (WARN, format!("{}/{}", s.done, s.count))
        } else if r.finished_ms.is_some() {
            (WARN, "partial".to_owned())
        } else {
            (BAD, "no".to_owned())
        };
        let mut targets = r.targets.join(" ");
        if let Some(s) = shards {
            targets = format!("{} ({}): {targets}", s.name, s.summary());
        }
        if !r.ports.is_empty() && r.kind != RunKind::Listening {
            targets.push_str(&format!(" -p {}", r.ports));
        }
        writeln!(
            w,
            "{NAME}{:<20}{NAME:#} {:<20} {:<9} {:>5} {:>6} {:>8}  {cs}{:<8}{cs:#} {}",
            r.id,
            utc_readable(r.started_ms),
            r.kind.as_str(),
            r.counts.open,
            r.counts.closed,
            r.counts.filtered,
            done,
            // The targets take what the columns before them leave.
            out::fit(
                &clean(&targets, false),
                out::width().saturating_sub(85).max(16)
            )
        )?;
    }
    Ok(w.flush()?)
}

fn timeline_text(host: &str, lines: &[PortTimeline]) -> Result<()> {
    let mut w = out::buffered_stdout();
    if lines.is_empty() {
        writeln!(w, "no open port of {} is stored", clean(host, false))?;
        return Ok(w.flush()?);
    }
    writeln!(w, "{HEAD}{}{HEAD:#}", clean(host, false))?;
    for t in lines {
        let (st, now) = if t.open_now {
            (GOOD, "open")
        } else {
            (DIM, "closed")
        };
        writeln!(
            w,
            "  {NAME}{}/{}{NAME:#}  {st}{now}{st:#}  {DIM}first seen open {}, last {}{DIM:#}",
            t.port,
            t.protocol,
            utc_readable(t.first_seen_open_ms),
            utc_readable(t.last_seen_open_ms)
        )?;
        for e in &t.events {
            let detail = e
                .detail
                .as_deref()
                .map(|d| format!(": {}", clean(d, false)))
                .unwrap_or_default();
            let lead = format!(
                "    {} {:<8} {DIM}run {}{DIM:#}",
                utc_readable(e.at_ms),
                e.event,
                e.run
            );
            let room = out::width().saturating_sub(out::text_width(
                &anstream::adapter::strip_str(&lead).to_string(),
            ));
            writeln!(w, "{lead}{}", out::fit(&detail, room))?;
        }
    }
    Ok(w.flush()?)
}

/// The largest `--baseline` file read.
const BASELINE: portent_input::Input = portent_input::Input::new("baseline", 1 << 20);

/// Reads a `--baseline` file through the shared bounded reader: a regular file of at most
/// 1 MiB (a FIFO or /dev/zero is refused, not waited on or read forever).
fn read_baseline(path: &std::path::Path) -> Result<portent_store::Baseline> {
    let text = BASELINE.read_text(path)?;
    portent_store::Baseline::parse(&text).with_context(|| format!("in {}", path.display()))
}

/// Sockets of a snapshot outside the baseline (host `local`), as `unexpected` changes.
fn unexpected_sockets(
    rows: &[SocketRow],
    already: &[SocketChange],
    baseline: &portent_store::Baseline,
) -> Vec<SocketChange> {
    rows.iter()
        .filter(|s| !already.iter().any(|c| c.socket.identity() == s.identity()))
        .filter(|s| !baseline.allows("local", &s.protocol, s.port, None))
        .map(|s| SocketChange {
            action: "unexpected",
            socket: s.clone(),
        })
        .collect()
}

/// `portent diff --json`.
#[derive(Serialize)]
struct DiffOut<'a, C: Serialize> {
    from: &'a str,
    to: &'a str,
    /// The shards of a named (sharded) run on either side.
    #[serde(skip_serializing_if = "Option::is_none")]
    from_shards: Option<portent_store::Shards>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_shards: Option<portent_store::Shards>,
    changes: &'a [C],
}

/// On stderr, for a named run whose shards are not all done: the diff compares a part.
fn warn_missing_shards(run: &Run, shards: Option<&portent_store::Shards>) {
    if let Some(s) = shards.filter(|s| !s.all_done()) {
        let _ = writeln!(
            anstream::stderr(),
            "{WARN}run {} ({}): {}{WARN:#}",
            run.id,
            clean(&s.name, false),
            s.summary()
        );
    }
}

pub fn diff(args: &DiffArgs) -> Result<Outcome> {
    // Input first: a bad baseline is reported before the store is opened.
    let baseline = args.baseline.as_deref().map(read_baseline).transpose()?;
    let mut store = open(&args.store)?;
    let listening = args.listening || args.host.is_some();
    let kind = if listening {
        RunKind::Listening
    } else {
        RunKind::Scan
    };
    let host = match &args.host {
        Some(h) => Some(store.resolve_host(h, RunKind::Listening)?.host_id),
        None => None,
    };
    let (a, b) = match (&host, &args.runs[..]) {
        (Some(h), []) => match store.host_pair(h)? {
            (Some(a), Some(b)) => (a, b),
            _ => anyhow::bail!(
                "host {h} has fewer than two whole listening snapshots of one namespace stored"
            ),
        },
        (Some(h), [a, b]) => (store.resolve_in_host(h, a)?, store.resolve_in_host(h, b)?),
        (None, runs) => match runs {
            [] => store.last_pair(kind)?.with_context(|| {
                format!(
                    "no two complete {} runs over the same targets are stored yet",
                    kind.as_str()
                )
            })?,
            [a, b] => (store.resolve(a)?, store.resolve(b)?),
            _ => anyhow::bail!("give two runs to compare, or none for the last two"),
        },
        (Some(_), _) => anyhow::bail!("give two runs to compare, or none for the last two"),
    };
    let (sa, sb) = (store.shards(&a.id)?, store.shards(&b.id)?);
    if args.json {
        // The text form says it in its notes.
        warn_missing_shards(&a, sa.as_ref());
        warn_missing_shards(&b, sb.as_ref());
    }
    if listening || a.kind == RunKind::Listening {
        let (da, db) = (store.data(a)?, store.data(b)?);
        let mut changes = portent_store::diff_sockets(&da.sockets, &db.sockets);
        if let Some(b) = &baseline {
            let extra = unexpected_sockets(&db.sockets, &changes, b);
            changes.extend(extra);
        }
        if args.json {
            out::json(&DiffOut {
                from: &da.run.id,
                to: &db.run.id,
                from_shards: sa,
                to_shards: sb,
                changes: &changes,
            })?;
        } else {
            warn_missing_shards(&da.run, sa.as_ref());
            warn_missing_shards(&db.run, sb.as_ref());
            socket_changes_text(&da.run, &db.run, &changes)?;
        }
        return Ok(if changes.is_empty() {
            Outcome::Found
        } else {
            Outcome::Differences
        });
    }
    let hosts: Vec<String> = {
        let mut h: HashSet<String> = HashSet::new();
        for r in [&a, &b] {
            let d = store.data(r.clone())?;
            h.extend(d.hosts.into_iter().map(|x| x.host));
        }
        h.into_iter().collect()
    };
    let earlier = store.open_before(a.started_ms, &hosts)?;
    let (da, db) = (store.data(a)?, store.data(b)?);
    let mut changes = portent_store::diff(&da, &db, &earlier);
    if let Some(b) = &baseline {
        let extra = portent_store::diff::unexpected(&db, &changes, b);
        changes.extend(extra);
    }
    shown_reasons(&mut changes);
    if args.json {
        out::json(&DiffOut {
            from: &da.run.id,
            to: &db.run.id,
            from_shards: sa,
            to_shards: sb,
            changes: &changes,
        })?;
    } else {
        changes_text(&da.run, &db.run, [sa.as_ref(), sb.as_ref()], &changes)?;
    }
    Ok(if changes.is_empty() {
        Outcome::Found
    } else {
        Outcome::Differences
    })
}

fn diff_header(w: &mut impl Write, a: &Run, b: &Run) -> std::io::Result<()> {
    writeln!(
        w,
        "{DIM}from {} ({}) to {} ({}){DIM:#}",
        a.id,
        utc_readable(a.started_ms),
        b.id,
        utc_readable(b.started_ms)
    )
}

fn changes_text(
    a: &Run,
    b: &Run,
    shards: [Option<&portent_store::Shards>; 2],
    changes: &[Change],
) -> Result<()> {
    let mut w = out::buffered_stdout();
    diff_header(&mut w, a, b)?;
    for (r, s) in [a, b].into_iter().zip(shards) {
        if let Some(s) = s.filter(|s| !s.all_done()) {
            writeln!(
                w,
                "{WARN}note:{WARN:#} {} ({}) is part of its scan: {}{}",
                r.id,
                clean(&s.name, false),
                s.summary(),
                if r.id == b.id {
                    "; ports it may not have probed are not called closed"
                } else {
                    ""
                }
            )?;
        }
    }
    if !b.complete && shards[1].is_none_or(portent_store::Shards::all_done) {
        writeln!(
            w,
            "{WARN}note:{WARN:#} {} was interrupted: ports it may not have probed are not called closed",
            b.id
        )?;
    }
    if changes.is_empty() {
        writeln!(w, "no changes")?;
    }
    for c in changes {
        change_line(&mut w, c)?;
    }
    Ok(w.flush()?)
}

/// One change as a line of text.
fn change_line(w: &mut impl Write, c: &Change) -> std::io::Result<()> {
    {
        let (mark, st) = match c.change {
            ChangeKind::New => ("+", BAD),
            ChangeKind::Reopened => ("+", WARN),
            ChangeKind::Closed => ("-", GOOD),
            ChangeKind::Changed => ("~", WARN),
            ChangeKind::Unexpected => ("!", BAD),
        };
        let what = match c.change {
            ChangeKind::Changed | ChangeKind::Unexpected => c.what.join("; "),
            ChangeKind::Closed => c.after.as_ref().map_or(String::new(), |s| s.state.clone()),
            _ => c
                .after
                .as_ref()
                .map(|s| {
                    [&s.service, &s.product, &s.version]
                        .into_iter()
                        .filter_map(|x| x.as_deref())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
        };
        writeln!(
            w,
            "{st}{mark} {:<8}{st:#} {}:{}/{} {}",
            c.change.as_str(),
            clean(&c.host, false),
            c.port,
            c.protocol,
            clean(&what, false)
        )?;
    }
    Ok(())
}

fn socket_changes_text(a: &Run, b: &Run, changes: &[SocketChange]) -> Result<()> {
    let mut w = out::buffered_stdout();
    diff_header(&mut w, a, b)?;
    if changes.is_empty() {
        writeln!(w, "no changes")?;
    }
    for c in changes {
        let (mark, st) = match c.action {
            "added" => ("+", BAD),
            "unexpected" => ("!", BAD),
            _ => ("-", GOOD),
        };
        let s = &c.socket;
        writeln!(
            w,
            "{st}{mark} {:<10}{st:#} {} {}:{} {} {DIM}({}){DIM:#}",
            c.action,
            s.protocol,
            s.address,
            s.port,
            clean(&s.executable, false),
            clean(&s.user, false)
        )?;
    }
    Ok(w.flush()?)
}

/// One line naming a run: kind, id, start, how it ended, the machine.
fn run_line(r: &Run) -> String {
    let done = match (r.complete, r.finished_ms) {
        (true, _) => "complete",
        (false, Some(_)) => "partial",
        (false, None) => "unfinished (killed, or still running)",
    };
    format!(
        "{HEAD}{} run {}{HEAD:#}  {}  {done}  {DIM}on {}{DIM:#}",
        r.kind.as_str(),
        r.id,
        utc_readable(r.started_ms),
        clean(&r.host_identifier, false)
    )
}

/// Before a run shown in its command's own form: which run it is, on stderr, so stdout is
/// what the command printed.
fn show_header(r: &Run) -> Result<()> {
    writeln!(anstream::stderr(), "{}", run_line(r))?;
    Ok(())
}

/// `portent show --json` of a named scan: the stored rows and its shards.
#[derive(Serialize)]
struct ShowOut<'a> {
    #[serde(flatten)]
    data: &'a portent_store::RunData,
    shards: Option<portent_store::Shards>,
}

pub fn show(args: &ShowArgs) -> Result<Outcome> {
    use super::scan::StoredForm;
    let mut store = open(&args.store)?;
    let run = store.resolve(&args.run)?;
    let shards = store.shards(&run.id)?;
    if args.json {
        if shards.is_some() {
            // A named scan merged from its shards: the rows, and which shards are in.
            let mut data = store.data(run)?;
            shown_row_reasons(&mut data);
            out::json(&ShowOut {
                data: &data,
                shards,
            })?;
            return Ok(Outcome::Found);
        }
        match store.document(&run.id)? {
            // The document the original command printed, as it printed it.
            Some(doc) => {
                let mut w = out::buffered_stdout();
                writeln!(w, "{doc}")?;
                w.flush()?;
            }
            None => {
                let mut data = store.data(run)?;
                shown_row_reasons(&mut data);
                out::json(&data)?;
            }
        }
        return Ok(Outcome::Found);
    }
    let dash = |p: &Option<std::path::PathBuf>| p.as_deref() == Some(std::path::Path::new("-"));
    let to_stdout = usize::from(dash(&args.xml_out)) + usize::from(dash(&args.grepable_out));
    anyhow::ensure!(
        to_stdout == 0 || (to_stdout == 1 && !(args.jsonl || args.csv)),
        "only one form can go to stdout: -oX - and -oG - cannot share it with each other, \
         --jsonl or --csv"
    );
    let nmap_forms = args.xml_out.is_some() || args.grepable_out.is_some();
    let form = if args.jsonl {
        StoredForm::Jsonl
    } else if args.csv {
        StoredForm::Csv
    } else if to_stdout == 1 {
        StoredForm::XmlOnly
    } else {
        StoredForm::Table
    };
    let record = store.record(&run.id)?;
    let unreadable = || format!("the stored record of run {} cannot be read", run.id);
    match (run.kind, record) {
        (RunKind::Scan, Some(r)) => {
            let s: super::save::StoredScan = serde_json::from_str(&r).with_context(unreadable)?;
            if form == StoredForm::Table {
                show_header(&run)?;
            }
            super::scan::render_stored(
                &s.record,
                form,
                args.xml_out.as_deref(),
                args.grepable_out.as_deref(),
                &s.args,
            )?;
            return Ok(Outcome::Found);
        }
        (RunKind::Check, Some(r)) if form == StoredForm::Table && !nmap_forms => {
            let c: super::check::StoredCheck = serde_json::from_str(&r).with_context(unreadable)?;
            show_header(&run)?;
            super::check::render_table(&c, &out::registry())?;
            return Ok(Outcome::Found);
        }
        _ if form != StoredForm::Table || nmap_forms => anyhow::bail!(
            "run {} is {}: it is shown as a table or with --json only (JSON Lines, CSV and \
             nmap XML are the forms of a finished scan)",
            run.id,
            match (run.kind, run.finished_ms) {
                (RunKind::Listening, _) => "a listening snapshot",
                (RunKind::Check, _) => "a check",
                _ if shards.is_some() => "a scan merged from its shards",
                (_, None) => "a scan that never finished (killed)",
                _ => "a scan saved without its record",
            }
        ),
        _ => {}
    }
    let data = store.data(run)?;
    let mut w = out::buffered_stdout();
    let r = &data.run;
    writeln!(w, "{}", run_line(r))?;
    writeln!(w, "{}", out::hang("  targets ", &r.targets.join(" "), 10))?;
    if !r.ports.is_empty() {
        writeln!(w, "{}", out::hang("  ports   ", &r.ports, 10))?;
    }
    if let Some(s) = &shards {
        let c = if s.all_done() { GOOD } else { WARN };
        writeln!(
            w,
            "  name    {}\n  shards  {c}{}{c:#}  {DIM}plan {}{DIM:#}",
            clean(&s.name, false),
            s.summary(),
            s.plan
        )?;
    }
    for h in &data.hosts {
        let name = h
            .hostname
            .as_deref()
            .map(|n| format!(" ({})", clean(n, false)))
            .unwrap_or_default();
        writeln!(
            w,
            "{HEAD}{}{name}{HEAD:#}  {DIM}{}{DIM:#}",
            h.host, h.status
        )?;
        for p in data.ports.iter().filter(|p| p.host == h.host) {
            let what = [&p.service, &p.product, &p.version]
                .into_iter()
                .filter_map(|x| x.as_deref())
                .collect::<Vec<_>>()
                .join(" ");
            writeln!(
                w,
                "  {:>5}/{:<4} {:<9} {:<12} {}",
                p.port,
                p.protocol,
                p.state,
                portent_scan::Reason::word_of(&p.reason),
                clean(&what, false)
            )?;
        }
        for e in data.extra.iter().filter(|e| e.host == h.host) {
            writeln!(
                w,
                "  {DIM}not shown: {} {} ports ({}){DIM:#}",
                e.count,
                e.state,
                portent_scan::Reason::word_of(&e.reason)
            )?;
        }
    }
    if !data.sockets.is_empty() {
        writeln!(
            w,
            "{HEAD}PROTO ADDRESS          PORT  USER     EXECUTABLE{HEAD:#}"
        )?;
        for s in &data.sockets {
            writeln!(
                w,
                "{:<5} {:<16} {:>5}  {:<8} {}",
                s.protocol,
                s.address,
                s.port,
                clean(&s.user, false),
                clean(&s.executable, false)
            )?;
        }
    }
    w.flush()?;
    Ok(Outcome::Found)
}

/// `portent fleet`: the fleet page's data on the terminal.
pub fn fleet(args: &crate::args::FleetArgs) -> Result<Outcome> {
    let mut store = open(&args.store)?;
    let f = portent_web::fleet::fleet(&mut store, &out::registry())?;
    let outcome = if f.hosts.is_empty() {
        Outcome::Nothing
    } else {
        Outcome::Found
    };
    if args.json {
        out::json(&f)?;
        return Ok(outcome);
    }
    let mut w = out::buffered_stdout();
    if f.hosts.is_empty() {
        writeln!(w, "no listening snapshot is stored yet")?;
        w.flush()?;
        return Ok(outcome);
    }
    let ports = |list: &[portent_web::fleet::FleetSocket]| -> String {
        let v: Vec<String> = list
            .iter()
            .map(|s| format!("{}/{} ({})", s.socket.port, s.socket.protocol, s.service()))
            .collect();
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(" ")
        }
    };
    writeln!(
        w,
        "{HEAD}{:<24} {:<20} {:>9}  GHOSTS / EXPOSED / CHANGES{HEAD:#}",
        "HOST", "LAST SNAPSHOT", "LISTENERS"
    )?;
    for h in &f.hosts {
        writeln!(
            w,
            "{NAME}{:<24}{NAME:#} {:<20} {:>9}  {DIM}{}{DIM:#}",
            clean(&h.host_id, false),
            h.started,
            h.listeners,
            clean(&h.hostname, false)
        )?;
        let st = if h.ghosts > 0 { BAD } else { DIM };
        writeln!(
            w,
            "  {st}ghosts{st:#}   {}",
            clean(&ports(&h.ghost_sockets), false)
        )?;
        let st = if h.exposed > 0 { WARN } else { DIM };
        writeln!(
            w,
            "  {st}exposed{st:#}  {}",
            clean(&ports(&h.exposed_sockets), false)
        )?;
        if h.previous.is_none() {
            writeln!(w, "  {DIM}changes  first snapshot{DIM:#}")?;
        } else if h.changes.is_empty() {
            writeln!(w, "  {DIM}changes  none{DIM:#}")?;
        }
        for c in &h.changes {
            let (mark, st) = if c.action == "added" {
                ("+", BAD)
            } else {
                ("-", GOOD)
            };
            let s = &c.socket.socket;
            writeln!(
                w,
                "  {st}{mark} {:<8}{st:#} {} {}:{} ({}) {}",
                c.action,
                s.protocol,
                s.address,
                s.port,
                c.socket.service(),
                clean(&s.executable, false)
            )?;
        }
    }
    let n = f.totals;
    writeln!(
        w,
        "{DIM}{} hosts, {} listeners; {} ghosts on {} hosts, {} exposed on {} hosts; {} hosts changed{DIM:#}",
        n.hosts,
        n.listeners,
        n.ghosts,
        n.hosts_with_ghosts,
        n.exposed,
        n.hosts_with_exposed,
        n.hosts_changed
    )?;
    w.flush()?;
    Ok(outcome)
}
