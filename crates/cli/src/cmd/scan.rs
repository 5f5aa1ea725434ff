//! `portent scan`: flags to a validated [`RunConfig`], the run's events and record to a table,
//! JSON, JSON Lines, CSV or nmap XML, with a progress bar on stderr. All input is validated
//! (targets resolved, ports parsed, the XML file created) before the first packet. The scan and
//! detection themselves are `portent-run`'s: this module only wires flags in and renders out.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portent_probe::Detection;
use portent_registry::Registry;
use portent_run::{
    DetectionConfig, HostRecord, RunConfig, RunEvent, RunRecord, ScanOptions, ShardOptions,
};
use portent_scan::{
    Counts, Discovery, Explanation, HostStatus, PortResult, Protocol, Shard, ShardSource, State,
    Stats, SystemResolver, TargetsBuilder, explain_on,
};
use serde::Serialize;

use crate::Outcome;
use crate::args::ScanArgs;
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean};

/// At most this many ports per host: closed and filtered ones are listed too (as nmap does).
pub const LIST_ALL_UP_TO: usize = 25;

/// Rewrites nmap's multi-letter short options after `scan` (and `show`, `watch`) to their long
/// forms: `-iL F` to `--input-list F`, `-oX F`, `-oN F`, `-oG F`, `-oA B` to the output options
/// (also joined: `-oXscan.xml`), `-Pn` to `--no-ping`, `-sV` to `--detect`, `-sU` to `--udp`,
/// `-sT` to `--tcp`, `-sS` to `--syn`, and any other `-sX` scan type to `--nmap-scan-type X`, which `scan`
/// answers with a sentence. clap cannot take these itself: a short option is one letter.
pub fn nmap_spellings(argv: Vec<OsString>) -> Vec<OsString> {
    const JOINED: [(&str, &str); 5] = [
        ("-iL", "--input-list"),
        ("-oX", "--xml-out"),
        ("-oN", "--normal-out"),
        ("-oG", "--grepable-out"),
        ("-oA", "--all-out"),
    ];
    let mut in_scan = false;
    // `show` writes the XML and grepable forms of a stored scan, not the others.
    let mut show = false;
    let mut out = Vec::with_capacity(argv.len());
    for a in argv {
        if !in_scan {
            // `show` writes nmap XML too, and `watch` takes scan's options.
            in_scan = a == "scan" || a == "show" || a == "watch";
            show = a == "show";
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if let Some((short, long)) = JOINED
            .iter()
            .find(|(short, _)| s.starts_with(short))
            .filter(|(short, _)| !(show && matches!(*short, "-oN" | "-oA")))
        {
            let rest = &s[short.len()..];
            out.push(if rest.is_empty() {
                (*long).into()
            } else {
                format!("{long}={rest}").into()
            });
            continue;
        }
        match s {
            "-Pn" => out.push("--no-ping".into()),
            "-sV" => out.push("--detect".into()),
            "-sU" => out.push("--udp".into()),
            "-sT" => out.push("--tcp".into()),
            "-sS" => out.push("--syn".into()),
            _ if s.len() == 3 && s.starts_with("-s") && s.as_bytes()[2].is_ascii_alphabetic() => {
                out.push("--nmap-scan-type".into());
                out.push(s[2..].to_owned().into());
            }
            _ => out.push(a),
        }
    }
    out
}

/// nmap's scan types portent does not have, and what to say about each.
fn scan_type_sentence(t: &str) -> String {
    let what = match t {
        "A" | "W" | "M" | "N" | "F" | "X" => {
            "this scan reads firewall and TCP stack quirks from raw packets, which portent does not send"
        }
        "Y" | "Z" => "portent does not scan SCTP",
        "O" => "portent does not scan IP protocols",
        "I" => "portent does not do idle scans",
        "L" => "portent has no list scan",
        "n" => "host discovery alone is not built; portent always scans ports",
        "C" => "portent runs no scripts",
        _ => "portent does not know this nmap scan type",
    };
    format!(
        "-s{t}: {what}. portent scans with TCP connect (-sT, the default), SYN (-sS, privileged) and UDP (-sU); --detect (-sV) identifies services."
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// The validated command: everything checked, nothing sent yet.
struct Plan {
    config: RunConfig,
    format: Format,
    outputs: Outputs,
    progress: bool,
    quiet: bool,
    args_line: String,
    /// Where the shard came from, when the run is one shard of a split scan.
    shard_source: Option<ShardSource>,
}

/// What nmap's habits change, after the flags portent does not take are refused: the timing
/// template's pacing and retries, under the explicit flags.
struct Habits {
    rate: Option<u32>,
    retries: u8,
    threads: Option<usize>,
}

fn habits(args: &ScanArgs) -> Result<Habits> {
    if let Some(t) = &args.nmap_scan_type {
        anyhow::bail!("{}", scan_type_sentence(t));
    }
    if args.reverse_dns {
        anyhow::bail!(
            "-R: portent does no reverse DNS lookups; a host is shown with the name you gave it"
        );
    }
    if args.host_timeout.is_some() {
        anyhow::bail!(
            "--host-timeout is not built yet: --timeout bounds each attempt, and Ctrl-C stops \
             a scan and prints what it found so far"
        );
    }
    let (rate, threads, retries) = match args.timing {
        Some(t @ (0 | 1)) => anyhow::bail!(
            "-T{t}: nmap waits {} between probes to slip past intrusion detection; portent's \
             slowest pace is --rate 1 (one attempt a second)",
            if t == 0 { "five minutes" } else { "15 seconds" }
        ),
        // nmap's polite template sends one probe every 0.4 s.
        Some(2) => (Some(2), Some(1), None),
        // insane: no second chance for a silent port.
        Some(5) => (None, None, Some(0)),
        _ => (None, None, None),
    };
    Ok(Habits {
        rate: args.rate.or(rate),
        retries: args.retries.or(retries).unwrap_or(1),
        threads: args.threads.or(threads),
    })
}

/// `--top-ports N` and `-F` as a port list for `select_spec`: portent's ranking for each
/// protocol scanned (`T:...,U:...`).
fn top_ports_list(args: &ScanArgs, reg: &Registry) -> Option<String> {
    let n = args.top_ports.or(args.fast.then_some(100))?;
    let list = |p: Protocol| {
        let v: Vec<String> = portent_scan::ports::top_ports(reg, p, n)
            .iter()
            .map(u16::to_string)
            .collect();
        v.join(",")
    };
    let mut parts = Vec::new();
    if args.tcp || !args.udp {
        parts.push(format!("T:{}", list(Protocol::Tcp)));
    }
    if args.udp {
        parts.push(format!("U:{}", list(Protocol::Udp)));
    }
    Some(parts.join(","))
}

fn plan(args: &ScanArgs, reg: &Registry) -> Result<Plan> {
    let habits = habits(args)?;
    let mut tb = TargetsBuilder::new();
    for t in &args.targets {
        tb.target(t);
    }
    for f in &args.input_list {
        tb.target_file(f)?;
    }
    for x in &args.exclude {
        tb.exclude(x);
    }
    for f in &args.exclude_file {
        tb.exclude_file(f)?;
    }
    tb.confirmed(args.yes);
    let targets = tb.build(&SystemResolver)?;
    let udp_options = portent_run::UdpOptions {
        closed_wait: args.udp_closed,
        ..portent_run::UdpOptions::default()
    };
    let top = top_ports_list(args, reg);
    let selection = portent_scan::ports::select_spec(
        top.as_deref().or(args.port.as_deref()),
        args.ports.as_deref(),
        args.exclude_ports.as_deref(),
        reg,
        portent_scan::Wanted {
            tcp: args.tcp,
            udp: args.udp,
        },
        &portent_scan::PortSet::from_ports(udp_options.catalogue.ports()),
    )?;
    let ports = selection.tcp;
    let format = if args.json {
        Format::Json
    } else if args.jsonl {
        Format::Jsonl
    } else if args.csv {
        Format::Csv
    } else {
        Format::Table
    };
    let outputs = Outputs::open(args, format)?;
    let detection = if args.detect {
        Some(DetectionConfig::new(
            super::detect::detector(&args.detection, reg)?,
            args.detect_concurrency,
        ))
    } else {
        None
    };
    let args_line = std::iter::once("portent".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let timeout = args
        .timeout
        .as_deref()
        .map(portent_scan::parse_duration)
        .transpose()?;
    let shard = shard_of(args)?;
    anyhow::ensure!(
        args.scan_name.is_none() || selection.udp.is_empty(),
        "--scan-name saves TCP scans only: a named run is merged from shards, and UDP scans are \
         not split yet (docs/scale.md)"
    );
    // A named scan without a shard is the only shard of its run.
    let partition = match (&shard, &args.scan_name) {
        (Some((s, _)), _) => Some(*s),
        (None, Some(_)) => Some(Shard::new(0, 1)?),
        (None, None) => None,
    };
    let scan = ScanOptions {
        timeout,
        retries: habits.retries,
        rate: habits.rate,
        threads: habits.threads.unwrap_or_else(|| {
            // A thread and a runtime per driver pay off only with enough attempts to share;
            // a small scan runs on this thread, and its results all arrive at once, before
            // the first detection has had time to finish.
            let results = targets.len().saturating_mul(ports.len().max(1) as u64);
            let per_1024 = usize::try_from(results.div_ceil(1024)).unwrap_or(usize::MAX);
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().min(4))
                .min(per_1024.max(1))
        }),
        discovery: if args.no_ping {
            Discovery::Off
        } else {
            Discovery::Auto
        },
        seed: args.seed,
        shard: partition.map(|s| ShardOptions {
            shard: s,
            partition_seed: args.seed.unwrap_or(portent_scan::shard::DEFAULT_SEED),
        }),
        syn: args.syn,
        // Set by `run` for a named scan, which records checkpoints.
        checkpoints: None,
        resume: None,
    };
    let list_all = args.all || (!args.open && ports.len() + selection.udp.len() <= LIST_ALL_UP_TO);
    let mut config = RunConfig::new(targets, ports, reg.clone());
    config.udp_ports = selection.udp;
    config.udp = udp_options;
    config.scan = scan;
    config.list_all = list_all;
    // The streamed formats need no per-port memory unless something renders at the end.
    // The store needs the listed results too, when the run is saved.
    config.keep_listed =
        !matches!(format, Format::Jsonl | Format::Csv) || outputs.any() || !args.save.no_save;
    config.detection = detection;
    config.validate()?;
    Ok(Plan {
        config,
        format,
        outputs,
        progress: !args.quiet && io::stderr().is_terminal(),
        quiet: args.quiet,
        args_line,
        shard_source: shard.map(|(_, src)| src),
    })
}

/// The named run this scan saves into (`--scan-name`): its shard and the plan digest every
/// shard of the scan shares.
fn shard_claim(args: &ScanArgs, plan: &Plan) -> Option<portent_store::ShardClaim> {
    let name = args.scan_name.clone()?;
    let s = plan.config.scan.shard?;
    Some(portent_store::ShardClaim {
        name,
        index: s.shard.index() + 1,
        count: s.shard.count(),
        plan: portent_scan::shard::plan_digest(
            s.partition_seed,
            plan.config.targets.iter(),
            &plan.config.ports.to_vec(),
            plan.config.scan.syn,
        ),
    })
}

/// The shard to scan: `--shard K/N`, else the scheduler's environment (Slurm job array,
/// Kubernetes Indexed Job). `--shards` alone, with no index in the environment, is an error:
/// it would otherwise scan everything while the user thinks it scans a part.
fn shard_of(args: &ScanArgs) -> Result<Option<(Shard, ShardSource)>> {
    if let Some(text) = &args.shard {
        return Ok(Some((Shard::parse(text)?, ShardSource::Flag)));
    }
    let found = portent_scan::shard::from_env(|k| std::env::var(k).ok(), args.shards)?;
    if found.is_none()
        && let Some(n) = args.shards
    {
        anyhow::bail!(
            "--shards {n} needs a shard index: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) \
             is not set; give --shard K/N to pick one by hand"
        );
    }
    Ok(found)
}

pub fn run(args: &ScanArgs) -> Result<Outcome> {
    let reg = out::registry();
    let mut plan = plan(args, &reg)?;

    if !plan.quiet && args.min_rate.is_some() {
        let _ = writeln!(
            anstream::stderr(),
            "{DIM}--min-rate has no effect: portent's pacing follows the replies and has no \
             floor to raise (--rate sets a ceiling){DIM:#}"
        );
    }
    if !plan.quiet
        && let Some(d) = plan.config.udp_closed_wait_estimate()
    {
        // Said before it starts, so nobody takes a minutes-long wait for a hang.
        let _ = writeln!(
            anstream::stderr(),
            "{DIM}--udp-closed: up to {} more, if every silent UDP port is closed on hosts that \
             limit ICMP errors (Linux sends one a second){DIM:#}",
            human_duration(d)
        );
    }
    if !plan.quiet
        && let (Some(src), Some(s)) = (&plan.shard_source, plan.config.scan.shard)
    {
        // Said first, on stderr, in every format: which part of the scan this process does.
        let _ = writeln!(
            anstream::stderr(),
            "{DIM}shard {} (from {src}): {} of {} address x port pairs, partition seed {}{DIM:#}",
            s.shard,
            portent_scan::Partition::new(
                s.shard,
                plan.config.targets.len(),
                plan.config.ports.len() as u64,
                s.partition_seed
            )
            .len(),
            plan.config.targets.len() * plan.config.ports.len() as u64,
            s.partition_seed
        );
    }
    if !plan.quiet && plan.format == Format::Table {
        for r in plan.config.targets.resolutions() {
            let list: Vec<String> = r.addresses.iter().map(IpAddr::to_string).collect();
            let _ = writeln!(
                anstream::stderr(),
                "{DIM}{} resolved to {}{DIM:#}",
                clean(&r.name, false),
                list.join(", ")
            );
        }
    }

    // One thread: the work per attempt is a few system calls, and handing completions between
    // worker threads cost more (futex wake-ups, two per attempt) than it gained.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let detect_rt = detection_runtime(&mut plan)?;
    let mut stream = Stream::new(&plan);
    // A named scan records checkpoints as it goes, so that it can be resumed (--resume); its
    // walk then needs a seed that a resumed run can reuse (the checkpoint keeps it).
    let claim = shard_claim(args, &plan);
    if claim.is_some() {
        plan.config.scan.checkpoints = Some(portent_scan::parse_duration(&args.checkpoint_every)?);
        plan.config.scan.seed.get_or_insert_with(random_seed);
    }
    // Saved as it runs: a scan killed outright still leaves a partial run with what it found.
    let (mut saver, resumed) = super::save::ScanSaver::start(
        &args.save,
        scan_targets(args),
        ports_summary(&plan.config.ports, &plan.config.udp_ports),
        scan_options(args),
        claim,
        super::save::Resume {
            wanted: args.resume,
            seed: plan.config.scan.seed.unwrap_or_default(),
        },
    )?;
    let resumed = match resumed {
        super::save::Resumed::Fresh => None,
        super::save::Resumed::Complete { name, shard } => {
            // Nothing to resume: scanned again from the start, a retry that changes no
            // stored row, so the outputs asked for are whole (they were created already).
            if !plan.quiet {
                let _ = writeln!(
                    anstream::stderr(),
                    "{DIM}shard {shard} of {} is complete: nothing to resume; scanning it \
                     again (its stored rows do not change){DIM:#}",
                    clean(&name, false)
                );
            }
            None
        }
        super::save::Resumed::From(r) => {
            plan.config.scan.seed = Some(r.seed);
            plan.config.scan.resume = Some(r.point);
            if !plan.quiet {
                let _ = writeln!(
                    anstream::stderr(),
                    "{DIM}resuming {} from its checkpoint of {}: {} port results were done \
                     before ({} listed, in the store); the output below has the rest, and \
                     portent show {} the whole run{DIM:#}",
                    clean(&r.record.run, false),
                    portent_store::utc_readable(r.record.checkpoint_ms),
                    group(r.record.done),
                    group(r.record.listed),
                    clean(&r.record.run, false)
                );
            }
            Some(r.record)
        }
    };
    let mut sink = |e: &RunEvent<'_>| {
        saver.event(e);
        portent_run::Sink::event(&mut stream, e)
    };
    let mut record = rt.block_on(portent_run::run(plan.config.clone(), &mut sink, async {
        // Polled first by the run, so the Ctrl-C listener is set before anything is sent.
        let _ = tokio::signal::ctrl_c().await;
    }))?;
    record.resumed = resumed;
    // Attempts and detections still in flight are aborted with the runtimes.
    drop(rt);
    drop(detect_rt);
    stream.clear_progress();
    let shown = show_record(&record, &reg, &mut stream, &plan.outputs, &plan.args_line);
    // After the output, whether it worked or not: saving never changes or fails what was
    // printed, and output that failed (a closed pipe) is no reason to lose the run.
    let doc = serde_json::to_string_pretty(&document(&record, &reg)).ok();
    saver.finish(&record, doc, &plan.args_line);
    shown?;
    // A completed scan is a success whatever it found, as for nmap: scripts run with `set -e`.
    Ok(if record.interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Found
    })
}

/// A seed for a walk's order that nobody chose: random per process (the standard library's
/// hasher keys are drawn from the system's random source).
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(std::process::id())
}

/// Where one of nmap's output forms goes: a file, or stdout in place of the table.
enum Dest {
    Stdout,
    File(PathBuf, File),
}

impl Dest {
    fn open(path: &std::path::Path, what: &str) -> Result<Dest> {
        if path.as_os_str() == "-" {
            return Ok(Dest::Stdout);
        }
        let file = File::create(path)
            .with_context(|| format!("cannot create the {what} file {}", path.display()))?;
        Ok(Dest::File(path.to_owned(), file))
    }

    /// Writes the whole form with `f`, buffered; errors name the file.
    fn write(&self, what: &str, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
        match self {
            Dest::Stdout => {
                let mut w = io::BufWriter::new(io::stdout().lock());
                f(&mut w).and_then(|()| w.flush())?;
            }
            Dest::File(path, file) => {
                let mut w = io::BufWriter::new(file);
                f(&mut w)
                    .and_then(|()| w.flush())
                    .with_context(|| format!("cannot write the {what} file {}", path.display()))?;
            }
        }
        Ok(())
    }
}

/// nmap's output options: -oX, -oN, -oG, -oA. At most one of them, or the chosen format, has
/// stdout; a form written to stdout replaces the table there, as in nmap.
#[derive(Default)]
struct Outputs {
    xml: Option<Dest>,
    normal: Option<Dest>,
    grepable: Option<Dest>,
}

impl Outputs {
    fn open(args: &ScanArgs, format: Format) -> Result<Outputs> {
        let with_ext = |base: &std::path::Path, ext: &str| {
            let mut p = base.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        };
        let (xml, normal, grepable) = match &args.all_out {
            Some(base) if base.as_os_str() == "-" => {
                anyhow::bail!("-oA takes a base name for three files, not -")
            }
            Some(base) => (
                Some(with_ext(base, ".xml")),
                Some(with_ext(base, ".nmap")),
                Some(with_ext(base, ".gnmap")),
            ),
            None => (
                args.xml_out.clone(),
                args.normal_out.clone(),
                args.grepable_out.clone(),
            ),
        };
        let to_stdout = [&xml, &normal, &grepable]
            .iter()
            .filter(|p| p.as_deref().is_some_and(|p| p.as_os_str() == "-"))
            .count();
        if to_stdout > 1 || (to_stdout == 1 && format != Format::Table) {
            anyhow::bail!("only one output form can go to stdout (-): give the others a file name");
        }
        Ok(Outputs {
            xml: xml.map(|p| Dest::open(&p, "XML")).transpose()?,
            normal: normal
                .map(|p| Dest::open(&p, "normal output"))
                .transpose()?,
            grepable: grepable
                .map(|p| Dest::open(&p, "grepable output"))
                .transpose()?,
        })
    }

    fn any(&self) -> bool {
        self.xml.is_some() || self.normal.is_some() || self.grepable.is_some()
    }

    fn has_stdout(&self) -> bool {
        [&self.xml, &self.normal, &self.grepable]
            .iter()
            .any(|d| matches!(d, Some(Dest::Stdout)))
    }
}

/// Everything printed at the end of a run: the held-back rows of detected ports, nmap's output
/// forms, and the document of the chosen format.
fn show_record(
    record: &RunRecord,
    reg: &Registry,
    stream: &mut Stream,
    outputs: &Outputs,
    args_line: &str,
) -> Result<()> {
    if let Some(e) = stream.error.take() {
        return Err(e.into());
    }
    if record.detection {
        stream.stream_detected(record, reg);
        if let Some(e) = stream.error.take() {
            return Err(e.into());
        }
    }
    if let Some(d) = &outputs.xml {
        d.write("XML", |mut w| {
            super::scan_xml::write(&mut w, record, reg, args_line)
        })?;
    }
    if let Some(d) = &outputs.grepable {
        d.write("grepable output", |w| {
            super::scan_grep::write(w, record, reg, args_line)
        })?;
    }
    if let Some(d) = &outputs.normal {
        d.write("normal output", |w| {
            render_normal(w, record, reg, args_line)
        })?;
    }
    match stream.format {
        Format::Table if outputs.has_stdout() => {}
        Format::Table => render_table(record, reg)?,
        Format::Json => out::json(&document(record, reg))?,
        Format::Jsonl => stream.finish_jsonl(record, reg)?,
        Format::Csv => stream.finish_csv()?,
    }
    Ok(())
}

/// How `portent show` renders a stored scan: the forms `scan` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoredForm {
    Table,
    Jsonl,
    Csv,
    /// nmap's forms only (XML or grepable, one of them on stdout).
    XmlOnly,
}

/// Renders a stored scan again: the table, JSON Lines or CSV and, when asked, the nmap XML file, as `scan` printed them. The registry's words are
/// today's (a port's note may have improved since the scan).
pub(crate) fn render_stored(
    record: &RunRecord,
    form: StoredForm,
    xml: Option<&std::path::Path>,
    grepable: Option<&std::path::Path>,
    args_line: &str,
) -> Result<()> {
    let reg = out::registry();
    if let Some(path) = xml {
        Dest::open(path, "XML")?.write("XML", |mut w| {
            super::scan_xml::write(&mut w, record, &reg, args_line)
        })?;
    }
    if let Some(path) = grepable {
        Dest::open(path, "grepable output")?.write("grepable output", |w| {
            super::scan_grep::write(w, record, &reg, args_line)
        })?;
    }
    let format = match form {
        StoredForm::XmlOnly => return Ok(()),
        StoredForm::Table => return render_table(record, &reg),
        StoredForm::Jsonl => Format::Jsonl,
        StoredForm::Csv => Format::Csv,
    };
    // The order `scan` streamed in: listed results as they arrived (host by host: the
    // interleaving of hosts is not kept), then the open ports held back for detection.
    let mut stream = Stream::plain(format, record.detection);
    for h in &record.hosts {
        for r in &h.listed {
            if !held_back(record.detection, r) {
                stream.stream_now(&PortView::in_host(
                    h,
                    r,
                    explain_on(&reg, r.port, r.protocol),
                ));
            }
        }
    }
    stream.stream_detected(record, &reg);
    if let Some(e) = stream.error.take() {
        return Err(e.into());
    }
    match format {
        Format::Jsonl => stream.finish_jsonl(record, &reg),
        _ => Ok(stream.out.flush()?),
    }
}

/// Whether a port's streamed row waits for its detection: an open TCP port with `--detect`
/// (a UDP port is identified with its result).
fn held_back(detecting: bool, r: &PortResult) -> bool {
    detecting && r.state == State::Open && r.protocol == Protocol::Tcp
}

/// One port result as JSON, JSON Lines and CSV give it (docs/json.md).
#[derive(Debug, Serialize)]
pub(crate) struct PortOut<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub address: IpAddr,
    pub hostname: Option<&'a str>,
    pub port: u16,
    pub protocol: &'static str,
    pub state: State,
    /// nmap's word where it has one (`conn-refused`), as the table and the XML say it.
    #[serde(serialize_with = "portent_scan::model::serialize_reason_word")]
    pub reason: portent_scan::Reason,
    pub rtt_ms: Option<f64>,
    pub attempts: u8,
    pub service: &'static str,
    pub registry_status: &'static str,
    pub range: &'static str,
    pub ghost: bool,
    pub note: &'static str,
    /// What speaks there (`--detect`, open ports only): `portent_probe::Detection`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<&'a Detection>,
    /// Ctrl-C stopped this port's detection before it finished (no `detection` then).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub detection_interrupted: bool,
}

/// A port result with what is known about it, for the row and line renderers.
struct PortView<'a> {
    r: &'a PortResult,
    hostname: Option<&'a str>,
    e: Explanation,
    detection: Option<&'a Detection>,
    detection_interrupted: bool,
}

impl<'a> PortView<'a> {
    fn in_host(h: &'a HostRecord, r: &'a PortResult, e: Explanation) -> PortView<'a> {
        PortView {
            r,
            hostname: h.hostname.as_deref(),
            e,
            detection: h.detection_of(r.protocol, r.port),
            detection_interrupted: h.interrupted_on(r.protocol, r.port),
        }
    }

    fn out(&self, kind: Option<&'static str>) -> PortOut<'a> {
        let (r, e) = (self.r, &self.e);
        PortOut {
            kind,
            address: r.addr,
            hostname: self.hostname,
            port: r.port,
            protocol: r.protocol.as_str(),
            state: r.state,
            reason: r.reason,
            rtt_ms: r.rtt.map(ms),
            attempts: r.attempts,
            service: e.service,
            registry_status: e.status.as_str(),
            range: e.range,
            ghost: e.ghost,
            note: e.note,
            detection: self.detection,
            detection_interrupted: self.detection_interrupted,
        }
    }
}

fn ms(d: Duration) -> f64 {
    portent_scan::millis(d)
}

/// The run's sink: streams JSON Lines and CSV rows as results arrive and draws the progress
/// bar; the documents rendered at the end come from the run's record.
struct Stream {
    format: Format,
    out: io::BufWriter<io::Stdout>,
    pb: Option<ProgressBar>,
    detect_pb: Option<ProgressBar>,
    progress: bool,
    csv_header: bool,
    /// Whether open ports are detected: their streamed rows wait for the detection.
    detecting: bool,
    started: std::time::Instant,
    last_open: u64,
    error: Option<io::Error>,
}

impl Stream {
    fn new(plan: &Plan) -> Stream {
        let pb = plan.progress.then(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed} [{bar:20}] {human_pos}/{human_len} ports  {msg}  ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            pb.set_message("0 open");
            pb
        });
        Stream {
            format: plan.format,
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            pb,
            detect_pb: None,
            progress: plan.progress,
            csv_header: false,
            detecting: plan.config.detection.is_some(),
            started: std::time::Instant::now(),
            last_open: 0,
            error: None,
        }
    }

    /// A sink with no progress display, for rendering a stored run.
    fn plain(format: Format, detecting: bool) -> Stream {
        Stream {
            format,
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            pb: None,
            detect_pb: None,
            progress: false,
            csv_header: false,
            detecting,
            started: std::time::Instant::now(),
            last_open: 0,
            error: None,
        }
    }

    fn clear_progress(&mut self) {
        for pb in [self.pb.take(), self.detect_pb.take()]
            .into_iter()
            .flatten()
        {
            pb.finish_and_clear();
        }
    }

    /// JSON Lines and CSV: the open ports held back for detection, by address and port.
    fn stream_detected(&mut self, record: &RunRecord, reg: &Registry) {
        if !matches!(self.format, Format::Jsonl | Format::Csv) {
            return;
        }
        for h in &record.hosts {
            for r in h.listed_by_port() {
                if !held_back(self.detecting, r) {
                    continue;
                }
                let e = explain_on(reg, r.port, r.protocol);
                self.stream_now(&PortView::in_host(h, r, e));
            }
        }
    }

    fn stream_now(&mut self, v: &PortView<'_>) {
        if self.error.is_some() {
            return;
        }
        let res = match self.format {
            Format::Jsonl => {
                let line = serde_json::to_vec(&v.out(Some("port")));
                line.map_err(io::Error::from).and_then(|l| {
                    self.out.write_all(&l)?;
                    writeln!(self.out)
                })
            }
            Format::Csv => self.csv_row(v),
            _ => return,
        };
        let res = res.and_then(|()| {
            if v.r.state == State::Open {
                match &self.pb {
                    Some(pb) => pb.suspend(|| self.out.flush()),
                    None => self.out.flush(),
                }
            } else {
                Ok(())
            }
        });
        if let Err(e) = res {
            self.error = Some(e);
        }
    }

    /// The CSV header, the first time it is asked for.
    fn take_csv_header(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.csv_header {
            return Ok(None);
        }
        self.csv_header = true;
        let mut head: Vec<&str> = CSV_HEADER.to_vec();
        if self.detecting {
            head.extend(CSV_DETECT_HEADER);
        }
        let mut w = csv::Writer::from_writer(Vec::with_capacity(256));
        w.write_record(head)?;
        w.into_inner()
            .map(Some)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// The header even when no row came (nothing open, an empty shard): a CSV reader then
    /// sees an empty table, not an empty file.
    fn finish_csv(&mut self) -> io::Result<()> {
        if let Some(head) = self.take_csv_header()? {
            self.out.write_all(&head)?;
        }
        self.out.flush()
    }

    fn csv_row(&mut self, v: &PortView<'_>) -> io::Result<()> {
        if let Some(head) = self.take_csv_header()? {
            self.out.write_all(&head)?;
        }
        let row = csv_record(v, self.detecting);
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::with_capacity(128));
        w.write_record(row)?;
        let bytes = w
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.out.write_all(&bytes)
    }

    fn finish_jsonl(&mut self, record: &RunRecord, reg: &Registry) -> Result<()> {
        let doc = document(record, reg);
        let mut lines: Vec<String> = Vec::new();
        for h in &doc.hosts {
            lines.push(serde_json::to_string(&HostLine {
                kind: "host",
                address: h.address,
                hostname: h.hostname,
                status: h.status,
                srtt_ms: h.srtt_ms,
                counts: h.counts,
                complete: h.complete,
            })?);
        }
        lines.push(serde_json::to_string(&SummaryLine {
            kind: "summary",
            interrupted: doc.interrupted,
            elapsed_ms: doc.elapsed_ms,
            detect_ms: doc.detect_ms,
            addresses: doc.targets.addresses,
            hosts_down: doc.hosts_down,
            ports: &doc.ports,
            totals: doc.totals,
            stats: doc.stats,
        })?);
        for l in lines {
            writeln!(self.out, "{l}")?;
        }
        self.out.flush()?;
        Ok(())
    }
}

impl portent_run::Sink for Stream {
    fn event(&mut self, e: &RunEvent<'_>) -> ControlFlow<()> {
        match e {
            RunEvent::Started { expected, .. } => {
                self.started = std::time::Instant::now();
                if let Some(pb) = &self.pb {
                    pb.set_length(*expected);
                }
            }
            RunEvent::Port {
                result,
                hostname,
                explanation,
                listed,
                detecting,
                detection,
            } => {
                // With --detect an open port's row waits for its detection (`stream_detected`).
                if let (true, false, Some(e)) = (*listed, *detecting, explanation) {
                    self.stream_now(&PortView {
                        r: result,
                        hostname: *hostname,
                        e: (*e).clone(),
                        detection: *detection,
                        detection_interrupted: false,
                    });
                }
            }
            RunEvent::Progress(p) => {
                if let Some(pb) = &self.pb {
                    if pb.length() != Some(p.expected) {
                        pb.set_length(p.expected);
                    }
                    pb.set_position(p.scanned);
                    if p.open != self.last_open || p.scanned.is_multiple_of(1024) {
                        self.last_open = p.open;
                        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
                        pb.set_message(format!(
                            "{} open  {}/s",
                            p.open,
                            group((p.scanned as f64 / secs) as u64)
                        ));
                    }
                }
            }
            RunEvent::ScanFinished {
                detections_pending, ..
            } => {
                if let Some(pb) = self.pb.take() {
                    pb.finish_and_clear();
                }
                if self.progress && *detections_pending > 0 {
                    let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                    pb.set_style(
                        ProgressStyle::with_template("{spinner} {elapsed} detecting {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    pb.set_message(plural(*detections_pending as u64, "open port"));
                    pb.enable_steady_tick(Duration::from_millis(120));
                    self.detect_pb = Some(pb);
                }
            }
            RunEvent::HostStarted { .. }
            | RunEvent::Checkpoint(_)
            | RunEvent::Detected { .. }
            | RunEvent::HostDone { .. }
            | RunEvent::Finished { .. } => {}
        }
        if self.error.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn csv_record(v: &PortView<'_>, detecting: bool) -> Vec<String> {
    let o = v.out(None);
    let mut row = vec![
        o.address.to_string(),
        o.hostname.unwrap_or("").to_owned(),
        o.port.to_string(),
        o.protocol.to_owned(),
        o.state.as_str().to_owned(),
        o.reason.word().to_owned(),
        o.rtt_ms.map(|v| v.to_string()).unwrap_or_default(),
        o.attempts.to_string(),
        o.service.to_owned(),
        o.registry_status.to_owned(),
        o.range.to_owned(),
        o.ghost.to_string(),
        o.note.to_owned(),
    ];
    if detecting {
        let d = o.detection;
        row.extend([
            d.map(|d| d.service.clone()).unwrap_or_default(),
            d.and_then(|d| d.product.clone()).unwrap_or_default(),
            d.and_then(|d| d.version.clone()).unwrap_or_default(),
            match d {
                Some(d) => matches_str(d.verdict.matches).to_owned(),
                None if o.detection_interrupted => "interrupted".to_owned(),
                None => String::new(),
            },
        ]);
    }
    row
}

/// Detection waits on peers, not on the CPU: a small multi-threaded runtime of its own lets
/// TLS handshakes and parsing of many ports overlap, without taking the scan's thread. `None`
/// without detection.
fn detection_runtime(plan: &mut Plan) -> Result<Option<tokio::runtime::Runtime>> {
    let Some(d) = &mut plan.config.detection else {
        return Ok(None);
    };
    let drt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    d.runtime = Some(drt.handle().clone());
    Ok(Some(drt))
}

/// A scan run by `portent watch`, with what the store keeps of it.
pub(crate) struct QuietRun {
    /// Interrupted when Ctrl-C stopped it.
    pub record: RunRecord,
    /// The `--json` document.
    pub document: Option<String>,
    pub targets: Vec<String>,
    pub options: serde_json::Value,
    pub args_line: String,
}

/// One scan for `portent watch`: the same pipeline and runtimes as `scan`, nothing printed.
pub(crate) fn run_quiet(args: &ScanArgs, reg: &Registry) -> Result<QuietRun> {
    let mut plan = plan(args, reg)?;
    plan.config.keep_listed = true;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let detect_rt = detection_runtime(&mut plan)?;
    let mut ignore = |_: &portent_run::RunEvent<'_>| std::ops::ControlFlow::Continue(());
    let record = rt.block_on(portent_run::run(plan.config.clone(), &mut ignore, async {
        let _ = tokio::signal::ctrl_c().await;
    }))?;
    drop(rt);
    drop(detect_rt);
    let doc = serde_json::to_string_pretty(&document(&record, reg)).ok();
    Ok(QuietRun {
        record,
        document: doc,
        targets: scan_targets(args),
        options: scan_options(args),
        args_line: plan.args_line,
    })
}

/// The ports of a run in short form, nmap's way when UDP is in it: `22,80` (TCP only),
/// `U:53,161` (UDP only), `T:22,80,U:53`.
pub(crate) fn ports_summary(tcp: &portent_scan::PortSet, udp: &portent_scan::PortSet) -> String {
    match (tcp.is_empty(), udp.is_empty()) {
        (_, true) => tcp.summary(),
        (true, false) => format!("U:{}", udp.summary()),
        (false, false) => format!("T:{},U:{}", tcp.summary(), udp.summary()),
    }
}

/// The targets as the command line gave them, for the store.
fn scan_targets(args: &ScanArgs) -> Vec<String> {
    let mut t = args.targets.clone();
    for f in &args.input_list {
        t.push(format!("-iL {}", f.display()));
    }
    t
}

/// The options that shape a scan's results, for the store.
fn scan_options(args: &ScanArgs) -> serde_json::Value {
    serde_json::json!({
        "timeout": args.timeout,
        "retries": habits(args).map_or(1, |h| h.retries),
        "rate": habits(args).ok().and_then(|h| h.rate),
        "detect": args.detect,
        "udp": args.udp,
        "udp_closed": args.udp_closed,
        "no_ping": args.no_ping,
        "all": args.all,
        "open": args.open,
    })
}

fn document<'r>(record: &'r RunRecord, reg: &Registry) -> ScanDocument<'r> {
    let hosts = record
        .hosts
        .iter()
        .map(|h| HostDoc {
            address: h.addr,
            hostname: h.hostname.as_deref(),
            status: h.status,
            srtt_ms: h.srtt.map(ms),
            counts: h.counts,
            complete: h.complete,
            ports: h
                .listed_by_port()
                .into_iter()
                .map(|r| PortView::in_host(h, r, explain_on(reg, r.port, r.protocol)).out(None))
                .collect(),
        })
        .collect();
    ScanDocument {
        scanner: "portent",
        version: env!("CARGO_PKG_VERSION"),
        interrupted: record.interrupted,
        elapsed_ms: ms(record.scan_elapsed),
        detect_ms: record.detect_elapsed.map(ms),
        targets: TargetsDoc {
            addresses: record.addresses,
            resolved: &record.resolutions,
        },
        ports: PortsDoc {
            count: record.port_count,
            list: record.port_list.clone(),
            udp: (record.udp_port_count > 0).then(|| UdpPortsDoc {
                count: record.udp_port_count,
                list: record.udp_port_list.clone(),
            }),
        },
        listing: if record.list_all { "all" } else { "open" },
        hosts_down: record.hosts_down,
        totals: record.totals,
        stats: record.stats,
        shard: record.shard.as_ref(),
        resumed: record.resumed.as_ref(),
        hosts,
    }
}

fn render_table(record: &RunRecord, reg: &Registry) -> Result<()> {
    let mut out = anstream::stdout().lock();
    table_to(&mut out, record, reg)
}

/// nmap's -oN: the table without colours, between nmap's comment lines (the command line and
/// start time, then the summary and end time), so that tools that skip `#` lines read it.
fn render_normal(
    w: &mut dyn Write,
    record: &RunRecord,
    reg: &Registry,
    args_line: &str,
) -> io::Result<()> {
    writeln!(
        w,
        "# portent {} scan initiated {} as: {}",
        env!("CARGO_PKG_VERSION"),
        super::scan_xml::ctime(record.started_at),
        clean(args_line, false)
    )?;
    let mut plain = anstream::StripStream::new(Vec::new());
    table_to(&mut plain, record, reg).map_err(io::Error::other)?;
    w.write_all(&plain.into_inner())?;
    writeln!(
        w,
        "# portent done at {} -- {}",
        super::scan_xml::ctime(record.ended_at),
        super::scan_xml::done_summary(record)
    )
}

fn table_to<W: Write + ?Sized>(mut w: &mut W, record: &RunRecord, reg: &Registry) -> Result<()> {
    let width = out::width();
    for h in &record.hosts {
        write!(w, "{HEAD}{}{HEAD:#}", h.addr)?;
        if let Some(n) = &h.hostname {
            write!(w, " ({})", clean(n, false))?;
        }
        let status = match h.status {
            HostStatus::Up => "up",
            HostStatus::Assumed => "scanned",
            HostStatus::Down => "down",
        };
        write!(w, "  {DIM}{status}")?;
        if let Some(s) = h.srtt {
            write!(w, ", srtt {}", fmt_ms(s))?;
        }
        if !h.complete {
            write!(w, ", incomplete")?;
        }
        writeln!(w, "{DIM:#}")?;
        let listed = h.listed_by_port();
        if !listed.is_empty() {
            writeln!(
                w,
                "  {HEAD}{:<11} {:<9} {:<22} {:>9}  {:<16} NOTE{HEAD:#}",
                "PORT", "STATE", "REASON", "RTT", "SERVICE"
            )?;
        }
        for r in &listed {
            let e = explain_on(reg, r.port, r.protocol);
            let st = match r.state {
                State::Open => GOOD,
                State::Closed => DIM,
                State::Filtered | State::OpenFiltered => WARN,
            };
            let rtt = r.rtt.map(fmt_ms).unwrap_or_else(|| "-".into());
            let port = format!("{}/{}", r.port, r.protocol.as_str());
            let state = r.state.as_str();
            let reason = r.reason.word();
            write!(
                w,
                "  {port:<11} {st}{state:<9}{st:#} {reason:<22} {rtt:>9}  "
            )?;
            let svc = clean(e.service, false);
            let used = 2 + 11 + 1 + 9 + 1 + 22 + 1 + 9 + 2 + out::text_width(&svc).max(16);
            let note = clean(e.note, false);
            let room = width.saturating_sub(used + 1 + if e.ghost { 6 } else { 0 });
            let svc = if e.ghost || (!note.is_empty() && room >= 24) {
                out::pad(&svc, 16)
            } else {
                svc.into_owned()
            };
            if e.status == portent_registry::Status::Assigned {
                write!(w, "{NAME}{svc}{NAME:#}")?;
            } else {
                write!(w, "{DIM}{svc}{DIM:#}")?;
            }
            if e.ghost {
                write!(w, " {BAD}ghost{BAD:#}")?;
            }
            // The note cut to what is left of the line (the port page has all of it); with
            // little left, on a line of its own under the row.
            if note.is_empty() {
                writeln!(w)?;
            } else if room >= 24 {
                writeln!(w, " {}", out::fit(&note, room))?;
            } else {
                let below = width.saturating_sub(14);
                writeln!(w, "\n{}{}", " ".repeat(14), out::fit(&note, below))?;
            }
            if let Some(d) = h.detection_of(r.protocol, r.port) {
                render_detection(&mut w, d)?;
            } else if h.interrupted_on(r.protocol, r.port) {
                writeln!(
                    w,
                    "{}{WARN}speaks: ? (detection interrupted){WARN:#}",
                    " ".repeat(14)
                )?;
            }
        }
        let mut hidden: Vec<String> = Vec::new();
        for s in [State::Closed, State::Filtered, State::OpenFiltered] {
            let shown = listed.iter().filter(|r| r.state == s).count() as u64;
            let n = h.counts.get(s).saturating_sub(shown);
            if n > 0 {
                // One count per reason over both protocols (admin-prohibited can be either).
                let mut by_reason: std::collections::BTreeMap<portent_scan::Reason, u64> =
                    std::collections::BTreeMap::new();
                for ((st, r), c) in h.reasons.iter().chain(&h.udp_reasons) {
                    if *st == s {
                        *by_reason.entry(*r).or_default() += c;
                    }
                }
                let why: Vec<String> = by_reason
                    .iter()
                    .map(|(r, c)| format!("{r} {}", group(*c)))
                    .collect();
                hidden.push(format!("{} {s} ({})", group(n), why.join(", ")));
            }
        }
        if listed.is_empty() && h.counts.open == 0 {
            writeln!(w, "  no open ports")?;
        }
        if !hidden.is_empty() {
            let line = out::hang(&format!("  {DIM}not shown: "), &hidden.join(", "), 4);
            writeln!(w, "{line}{DIM:#}")?;
        }
        writeln!(w)?;
    }
    let elapsed = record.scan_elapsed.as_secs_f64();
    // Interrupted during detection, the scan itself was complete (said below).
    if record.interrupted && record.detect_elapsed.is_none() {
        writeln!(
            w,
            "{WARN}Interrupted{WARN:#} after {elapsed:.2} s: {} of {} so far.",
            group(record.totals.total()),
            plural(record.expected, "port result")
        )?;
    }
    let up = record.hosts.len();
    let each = match (record.port_count, record.udp_port_count) {
        (t, 0) => plural(t as u64, "port"),
        (0, u) => plural(u as u64, "UDP port"),
        (t, u) => format!("{} TCP + {} UDP ports", group(t as u64), group(u as u64)),
    };
    let shard = match &record.shard {
        Some(s) => {
            let total = record.addresses * record.port_count as u64;
            let mine = portent_scan::Partition::new(
                s.shard,
                record.addresses,
                record.port_count as u64,
                s.partition_seed,
            )
            .len();
            format!(
                " (shard {}: {} of {} pairs)",
                s.shard,
                group(mine),
                group(total)
            )
        }
        None => String::new(),
    };
    let head = format!(
        "{}, {each} each{shard}, scanned in {elapsed:.2} s:",
        super::scan_xml::addresses_up(record),
    );
    let mut rest = format!(
        ", {} closed, {} filtered",
        group(record.totals.closed),
        group(record.totals.filtered)
    );
    if record.udp_port_count > 0 {
        rest.push_str(&format!(
            ", {} open|filtered",
            group(record.totals.open_filtered)
        ));
    }
    let open = format!("{} open", group(record.totals.open));
    // The counts go on a line of their own when the whole would not fit the terminal.
    let whole = out::text_width(&head) + 1 + open.len() + rest.len() + 1;
    let gap = if whole > width { "\n  " } else { " " };
    writeln!(w, "{head}{gap}{GOOD}{open}{GOOD:#}{rest}.")?;
    if let Some(d) = record.detect_elapsed {
        let detected = record.detected();
        if record.interrupted {
            writeln!(
                w,
                "{WARN}Interrupted{WARN:#} during detection after {:.2} s: detected {} of {}.",
                d.as_secs_f64(),
                group(detected as u64),
                plural(
                    (detected + record.detections_interrupted()) as u64,
                    "open port"
                )
            )?;
        } else {
            writeln!(
                w,
                "Detected {} in {:.2} s.",
                plural(detected as u64, "open port"),
                d.as_secs_f64()
            )?;
        }
    }
    if record.hosts_down > 0 && up == 0 {
        writeln!(
            w,
            "{DIM}No host answered discovery on ports {:?}; --no-ping scans them anyway.{DIM:#}",
            portent_scan::DISCOVERY_PORTS
        )?;
    }
    w.flush()?;
    Ok(())
}

/// Columns added with `--detect` (empty for ports not open).
pub(crate) const CSV_DETECT_HEADER: [&str; 4] =
    ["detected_service", "product", "version", "matches"];

fn matches_str(m: portent_probe::Matches) -> &'static str {
    match m {
        portent_probe::Matches::True => "true",
        portent_probe::Matches::Conventional => "conventional",
        portent_probe::Matches::False => "false",
        portent_probe::Matches::Unknown => "unknown",
    }
}

pub(crate) const CSV_HEADER: [&str; 13] = [
    "address",
    "hostname",
    "port",
    "protocol",
    "state",
    "reason",
    "rtt_ms",
    "attempts",
    "service",
    "registry_status",
    "range",
    "ghost",
    "note",
];

/// The lines under an open port in the table: what speaks there, TLS, and the verdict when
/// it is worth reading (a mismatch or a ghost port).
fn render_detection(w: &mut impl Write, d: &Detection) -> io::Result<()> {
    use super::detect::{notable, summary, tls_line};
    // Every line wrapped under column 14 to the terminal's width; evidence (bytes a peer
    // sent) is cut to one line.
    let pad = " ".repeat(14);
    if d.service == "unknown" {
        let mut text = String::new();
        if let Some(e) = &d.error {
            text = format!("({})", clean(e, false));
        } else if !d.evidence.is_empty() {
            let ev: String = d.evidence.chars().take(60).collect();
            let room = out::width().saturating_sub(14 + 18);
            text = format!("\"{}\"", out::fit(&clean(&ev, false), room));
        }
        let lead = format!("{pad}{DIM}speaks: unknown ");
        writeln!(w, "{}{DIM:#}", out::hang(&lead, &text, 16))?;
    } else {
        let lead = format!("{pad}speaks: {NAME}");
        writeln!(w, "{}{NAME:#}", out::hang(&lead, &summary(d), 16))?;
    }
    if let Some(t) = tls_line(d) {
        writeln!(
            w,
            "{}{DIM:#}",
            out::hang(&format!("{pad}{DIM}tls: "), &t, 16)
        )?;
    }
    if notable(d) {
        let line = out::hang(&format!("{pad}{WARN}"), &d.verdict.sentence, 14);
        writeln!(w, "{line}{WARN:#}")?;
    }
    Ok(())
}

/// "45 s", "12 min 5 s", "3 h 20 min".
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn fmt_ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1000.0;
    if m < 10.0 {
        format!("{m:.2} ms")
    } else {
        format!("{m:.1} ms")
    }
}

/// 65535 as "65,535".
pub(crate) fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 port`, `2 ports`, `1,081 ports`.
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{} {word}s", group(n))
    }
}

#[derive(Debug, Serialize)]
struct ScanDocument<'a> {
    scanner: &'static str,
    version: &'static str,
    interrupted: bool,
    elapsed_ms: f64,
    /// Wall time of detection (`--detect`), after the scan's `elapsed_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    detect_ms: Option<f64>,
    targets: TargetsDoc<'a>,
    ports: PortsDoc,
    /// "open" (closed and filtered are counted only) or "all".
    listing: &'static str,
    hosts_down: u64,
    totals: Counts,
    stats: Stats,
    /// Present when the run was one shard of a split scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<&'a portent_run::ShardRecord>,
    /// Present when the run resumed an interrupted one (`--resume`): the results here are
    /// those after its checkpoint; the stored run has them all.
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed: Option<&'a portent_run::ResumedRecord>,
    hosts: Vec<HostDoc<'a>>,
}

#[derive(Debug, Serialize)]
struct TargetsDoc<'a> {
    addresses: u64,
    resolved: &'a [portent_scan::Resolution],
}

#[derive(Debug, Serialize)]
struct PortsDoc {
    /// TCP ports (0 in a UDP-only scan).
    count: usize,
    list: String,
    /// UDP ports, when UDP was scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<UdpPortsDoc>,
}

#[derive(Debug, Serialize)]
struct UdpPortsDoc {
    count: usize,
    list: String,
}

#[derive(Debug, Serialize)]
struct HostDoc<'a> {
    address: IpAddr,
    hostname: Option<&'a str>,
    status: HostStatus,
    srtt_ms: Option<f64>,
    counts: Counts,
    complete: bool,
    ports: Vec<PortOut<'a>>,
}

#[derive(Debug, Serialize)]
struct HostLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    address: IpAddr,
    hostname: Option<&'a str>,
    status: HostStatus,
    srtt_ms: Option<f64>,
    counts: Counts,
    complete: bool,
}

#[derive(Debug, Serialize)]
struct SummaryLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    interrupted: bool,
    elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    detect_ms: Option<f64>,
    addresses: u64,
    hosts_down: u64,
    /// The same object as the JSON document's `ports`.
    ports: &'a PortsDoc,
    totals: Counts,
    stats: Stats,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        nmap_spellings(v.iter().map(Into::into).collect())
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn nmap_spellings_after_scan_only() {
        assert_eq!(
            words(&["portent", "scan", "-iL", "f", "-oX", "o.xml", "-Pn"]),
            [
                "portent",
                "scan",
                "--input-list",
                "f",
                "--xml-out",
                "o.xml",
                "--no-ping"
            ]
        );
        assert_eq!(
            words(&["portent", "scan", "-iLf", "-oXo.xml"]),
            ["portent", "scan", "--input-list=f", "--xml-out=o.xml"]
        );
        assert_eq!(words(&["portent", "-iL"]), ["portent", "-iL"]);
    }

    #[test]
    fn grouping() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(65535), "65,535");
        assert_eq!(group(1234567), "1,234,567");
    }
}
