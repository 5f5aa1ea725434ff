//! `portent scan`: flags to a validated plan, the engine's events to a table, JSON, JSON Lines,
//! CSV or nmap XML, with a progress bar on stderr. All input is validated (targets resolved,
//! ports parsed, the XML file created) before the first packet.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portent_probe::{Detection, Detector};
use portent_registry::Registry;
use portent_scan::{
    Counts, Discovery, Event, HostStatus, PortResult, PortSet, Reason, Scanner, State, Stats,
    SystemResolver, Targets, TargetsBuilder, explain,
};
use serde::Serialize;

use crate::Outcome;
use crate::args::ScanArgs;
use crate::out::{self, BAD, DIM, GOOD, HEAD, NAME, WARN, clean};

/// At most this many ports per host: closed and filtered ones are listed too (as nmap does).
pub const LIST_ALL_UP_TO: usize = 25;

/// Rewrites nmap's multi-letter short options after `scan` to their long forms: `-iL F` to
/// `--input-list F`, `-oX F` to `--xml-out F`, `-Pn` to `--no-ping`,
/// `-sV` to `--detect`.
pub fn nmap_spellings(argv: Vec<OsString>) -> Vec<OsString> {
    let mut in_scan = false;
    argv.into_iter()
        .map(|a| {
            if !in_scan {
                in_scan = a == "scan";
                return a;
            }
            match a.to_str() {
                Some("-iL") => "--input-list".into(),
                Some("-oX") => "--xml-out".into(),
                Some("-Pn") => "--no-ping".into(),
                Some("-sV") => "--detect".into(),
                Some(s) if s.starts_with("-iL") && s.len() > 3 => {
                    format!("--input-list={}", &s[3..]).into()
                }
                Some(s) if s.starts_with("-oX") && s.len() > 3 => {
                    format!("--xml-out={}", &s[3..]).into()
                }
                _ => a,
            }
        })
        .collect()
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
    targets: Targets,
    ports: PortSet,
    format: Format,
    xml: Option<(PathBuf, File)>,
    list_all: bool,
    progress: bool,
    quiet: bool,
    args_line: String,
    /// Service detection on open ports (`--detect`), with its concurrency.
    detect: Option<(Detector, usize)>,
}

fn plan(args: &ScanArgs, reg: &Registry) -> Result<Plan> {
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
    let ports = portent_scan::ports::select(
        args.port.as_deref(),
        args.ports.as_deref(),
        args.exclude_ports.as_deref(),
        reg,
    )?;
    let format = if args.json {
        Format::Json
    } else if args.jsonl {
        Format::Jsonl
    } else if args.csv {
        Format::Csv
    } else {
        Format::Table
    };
    let xml = match &args.xml_out {
        Some(p) => Some((
            p.clone(),
            File::create(p)
                .with_context(|| format!("cannot create the XML file {}", p.display()))?,
        )),
        None => None,
    };
    let detect = if args.detect {
        Some((
            super::detect::detector(&args.detection, reg)?,
            args.detect_concurrency.max(1),
        ))
    } else {
        None
    };
    let args_line = std::iter::once("portent".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Plan {
        list_all: args.all || ports.len() <= LIST_ALL_UP_TO,
        targets,
        ports,
        format,
        xml,
        progress: !args.quiet && io::stderr().is_terminal(),
        quiet: args.quiet,
        args_line,
        detect,
    })
}

pub fn run(args: &ScanArgs) -> Result<Outcome> {
    let reg = out::registry();
    let plan = plan(args, &reg)?;
    let timeout = args
        .timeout
        .as_deref()
        .map(portent_scan::parse_duration)
        .transpose()?;
    let mut builder =
        Scanner::builder(plan.targets.clone(), plan.ports.clone())
            .timeout(timeout)
            .retries(args.retries)
            .rate(args.rate)
            .threads(args.threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
            }))
            .discovery(if args.no_ping {
                Discovery::Off
            } else {
                Discovery::Auto
            });
    if let Some(seed) = args.seed {
        builder = builder.seed(seed);
    }
    let scanner = builder.build()?;

    if !plan.quiet && plan.format == Format::Table {
        for r in plan.targets.resolutions() {
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
    let start_wall = SystemTime::now();
    let mut c = Collector::new(&reg, &plan);
    let stop = Arc::new(tokio::sync::Notify::new());
    c.stop = Some(Arc::clone(&stop));
    let interrupted = rt.block_on(async {
        tokio::select! {
            _ = scanner.run(|e| c.on_event(e)) => false,
            _ = tokio::signal::ctrl_c() => true,
            () = stop.notified() => false,
        }
    });
    // Attempts still in flight are aborted with the runtime.
    drop(rt);
    if let Some(pb) = &c.pb {
        pb.finish_and_clear();
    }
    if let Some(e) = c.error.take() {
        return Err(e.into());
    }
    c.interrupted = interrupted;
    if let (Some((detector, concurrency)), false) = (&plan.detect, interrupted) {
        c.interrupted = c.detect(detector, *concurrency)?;
        c.stream_detected();
        if let Some(e) = c.error.take() {
            return Err(e.into());
        }
    }
    let interrupted = c.interrupted;
    let end_wall = SystemTime::now();
    if let Some((path, file)) = &plan.xml {
        let mut w = io::BufWriter::new(file);
        super::scan_xml::write(&mut w, &c, &plan.args_line, start_wall, end_wall)
            .and_then(|()| w.flush())
            .with_context(|| format!("cannot write the XML file {}", path.display()))?;
    }
    match plan.format {
        Format::Table => c.render_table()?,
        Format::Json => out::json(&c.document())?,
        Format::Jsonl => c.finish_jsonl()?,
        Format::Csv => c.out.flush()?,
    }
    Ok(if interrupted {
        Outcome::Interrupted
    } else if c.total.open > 0 {
        Outcome::Found
    } else {
        Outcome::Nothing
    })
}

/// What the renderers know about one host.
#[derive(Debug)]
pub(crate) struct HostOut {
    pub addr: IpAddr,
    pub status: HostStatus,
    pub counts: Counts,
    pub srtt: Option<Duration>,
    /// Port results to list (open ones, or all when listing all), in arrival order.
    pub listed: Vec<PortResult>,
    /// Counts by (state, reason), for "not shown" lines and XML `extrareasons`.
    pub reasons: BTreeMap<(State, Reason), u64>,
    pub done: bool,
}

/// Turns events into output as they come, keeping what the final renderers need.
pub(crate) struct Collector<'a> {
    pub reg: &'a Registry,
    pub targets: &'a Targets,
    pub ports: &'a PortSet,
    pub list_all: bool,
    format: Format,
    out: io::BufWriter<io::Stdout>,
    pb: Option<ProgressBar>,
    pub hosts: BTreeMap<IpAddr, HostOut>,
    pub hosts_down: u64,
    pub total: Counts,
    pub elapsed: Option<Duration>,
    pub stats: Stats,
    pub expected: u64,
    pub interrupted: bool,
    started: std::time::Instant,
    csv_header: bool,
    /// Keep listed results for a final renderer (not needed when only streaming).
    keep_listed: bool,
    error: Option<io::Error>,
    stop: Option<Arc<tokio::sync::Notify>>,
    /// Whether open ports are detected: their streamed rows wait for the detection.
    pub detecting: bool,
    pub detections: HashMap<SocketAddr, Detection>,
    /// Open ports whose detection Ctrl-C cut short (or kept from starting): not identified
    /// because interrupted, unlike a detection that found nothing (`unknown`).
    pub cut_short: HashSet<SocketAddr>,
    /// Wall time of the detection phase.
    pub detect_elapsed: Option<Duration>,
    progress: bool,
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
    pub reason: Reason,
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

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl<'a> Collector<'a> {
    fn new(reg: &'a Registry, plan: &'a Plan) -> Collector<'a> {
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
        Collector {
            reg,
            targets: &plan.targets,
            ports: &plan.ports,
            list_all: plan.list_all,
            format: plan.format,
            out: io::BufWriter::with_capacity(64 * 1024, io::stdout()),
            pb,
            hosts: BTreeMap::new(),
            hosts_down: 0,
            total: Counts::default(),
            elapsed: None,
            stats: Stats::default(),
            expected: 0,
            interrupted: false,
            started: std::time::Instant::now(),
            csv_header: false,
            keep_listed: !matches!(plan.format, Format::Jsonl | Format::Csv)
                || plan.xml.is_some()
                || plan.detect.is_some(),
            error: None,
            stop: None,
            detecting: plan.detect.is_some(),
            detections: HashMap::new(),
            cut_short: HashSet::new(),
            detect_elapsed: None,
            progress: plan.progress,
        }
    }

    fn host(&mut self, addr: IpAddr) -> &mut HostOut {
        self.hosts.entry(addr).or_insert_with(|| HostOut {
            addr,
            status: HostStatus::Assumed,
            counts: Counts::default(),
            srtt: None,
            listed: Vec::new(),
            reasons: BTreeMap::new(),
            done: false,
        })
    }

    pub(crate) fn port_out<'s>(&'s self, r: &PortResult, kind: Option<&'static str>) -> PortOut<'s>
    where
        'a: 's,
    {
        let e = explain(self.reg, r.port);
        PortOut {
            kind,
            address: r.addr,
            hostname: self.targets.name_of(r.addr),
            port: r.port,
            protocol: "tcp",
            state: r.state,
            reason: r.reason,
            rtt_ms: r.rtt.map(ms),
            attempts: r.attempts,
            service: e.service,
            registry_status: e.status.as_str(),
            range: e.range,
            ghost: e.ghost,
            note: e.note,
            detection: self.detections.get(&SocketAddr::new(r.addr, r.port)),
            detection_interrupted: self.cut_short.contains(&SocketAddr::new(r.addr, r.port)),
        }
    }

    /// Detects every open port listed, at most `concurrency` at a time, with one shared
    /// detector. Returns whether the user interrupted it: the detections completed by then are
    /// kept, and the ports still being detected go to `cut_short`.
    fn detect(&mut self, detector: &Detector, concurrency: usize) -> Result<bool> {
        let mut targets: Vec<(SocketAddr, Option<String>)> = self
            .hosts
            .values()
            .flat_map(|h| h.listed.iter())
            .filter(|r| r.state == State::Open)
            .map(|r| (SocketAddr::new(r.addr, r.port), None))
            .collect();
        targets.sort();
        if targets.is_empty() {
            return Ok(false);
        }
        let pb = self.progress.then(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} detecting {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_message(plural(targets.len() as u64, "open port"));
            pb.enable_steady_tick(Duration::from_millis(120));
            pb
        });
        // Detection waits on peers, not on the CPU: a small multi-threaded runtime lets TLS
        // handshakes and parsing of many ports overlap.
        let t0 = std::time::Instant::now();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        // Each detection is sent as it completes, so Ctrl-C keeps the ones done by then.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let interrupted = rt.block_on(async {
            tokio::select! {
                // Polled first, so the Ctrl-C listener is set before any detection starts.
                biased;
                _ = tokio::signal::ctrl_c() => true,
                () = detector.detect_each(&targets, concurrency, tx) => false,
            }
        });
        // Detections still running are aborted with the runtime.
        drop(rt);
        self.detect_elapsed = Some(t0.elapsed());
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        while let Ok((_, d)) = rx.try_recv() {
            self.detections.insert(d.addr, d);
        }
        self.cut_short = targets
            .into_iter()
            .map(|(a, _)| a)
            .filter(|a| !self.detections.contains_key(a))
            .collect();
        Ok(interrupted)
    }

    /// JSON Lines and CSV: the open ports held back for detection, by address and port.
    fn stream_detected(&mut self) {
        if !matches!(self.format, Format::Jsonl | Format::Csv) {
            return;
        }
        let mut open: Vec<PortResult> = self
            .hosts
            .values()
            .flat_map(|h| h.listed.iter())
            .filter(|r| r.state == State::Open)
            .copied()
            .collect();
        open.sort_by_key(|r| (r.addr, r.port));
        for r in &open {
            self.stream_now(r);
        }
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Started { total, .. } => {
                self.expected = total;
                self.started = std::time::Instant::now();
                if let Some(pb) = &self.pb {
                    pb.set_length(total);
                }
            }
            Event::Host { addr, status } => {
                if status == HostStatus::Down {
                    self.expected = self.expected.saturating_sub(self.ports.len() as u64);
                    if let Some(pb) = &self.pb {
                        pb.set_length(self.expected);
                    }
                } else {
                    self.host(addr).status = status;
                }
            }
            Event::Port(r) => {
                self.total.add(r.state);
                let listed = r.state == State::Open || self.list_all;
                let keep = listed && self.keep_listed;
                {
                    let h = self.host(r.addr);
                    h.counts.add(r.state);
                    *h.reasons.entry((r.state, r.reason)).or_default() += 1;
                    if keep {
                        h.listed.push(r);
                    }
                }
                if listed {
                    self.stream(&r);
                }
                if let Some(pb) = &self.pb {
                    pb.inc(1);
                    let done = self.total.total();
                    if r.state == State::Open || done.is_multiple_of(1024) {
                        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
                        pb.set_message(format!(
                            "{} open  {}/s",
                            self.total.open,
                            group((done as f64 / secs) as u64)
                        ));
                    }
                }
            }
            Event::HostDone {
                addr,
                status,
                counts,
                srtt,
            } => {
                if status == HostStatus::Down {
                    self.hosts_down += 1;
                    self.hosts.remove(&addr);
                } else {
                    let h = self.host(addr);
                    h.status = status;
                    h.counts = counts;
                    h.srtt = srtt;
                    h.done = true;
                }
            }
            Event::Finished { elapsed, stats } => {
                self.elapsed = Some(elapsed);
                self.stats = stats;
            }
        }
    }

    fn stream(&mut self, r: &PortResult) {
        // With --detect an open port's row waits for its detection (`stream_detected`).
        if self.detecting && r.state == State::Open {
            return;
        }
        self.stream_now(r);
    }

    fn stream_now(&mut self, r: &PortResult) {
        if self.error.is_some() {
            return;
        }
        let res = match self.format {
            Format::Jsonl => {
                let line = serde_json::to_vec(&self.port_out(r, Some("port")));
                line.map_err(io::Error::from).and_then(|l| {
                    self.out.write_all(&l)?;
                    writeln!(self.out)
                })
            }
            Format::Csv => self.csv_row(r),
            _ => return,
        };
        let res = res.and_then(|()| {
            if r.state == State::Open {
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
            if let Some(s) = &self.stop {
                s.notify_one();
            }
        }
    }

    fn csv_record(&self, r: &PortResult) -> Vec<String> {
        let o = self.port_out(r, None);
        let mut row = vec![
            o.address.to_string(),
            o.hostname.unwrap_or("").to_owned(),
            o.port.to_string(),
            o.protocol.to_owned(),
            o.state.as_str().to_owned(),
            o.reason.as_str().to_owned(),
            o.rtt_ms.map(|v| v.to_string()).unwrap_or_default(),
            o.attempts.to_string(),
            o.service.to_owned(),
            o.registry_status.to_owned(),
            o.range.to_owned(),
            o.ghost.to_string(),
            o.note.to_owned(),
        ];
        if self.detecting {
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

    fn csv_row(&mut self, r: &PortResult) -> io::Result<()> {
        let row = self.csv_record(r);
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::with_capacity(128));
        if !self.csv_header {
            self.csv_header = true;
            let mut head: Vec<&str> = CSV_HEADER.to_vec();
            if self.detecting {
                head.extend(CSV_DETECT_HEADER);
            }
            w.write_record(head)?;
        }
        w.write_record(row)?;
        let bytes = w
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.out.write_all(&bytes)
    }

    /// Hosts to report: up or assumed, ascending by address.
    pub(crate) fn live_hosts(&self) -> impl Iterator<Item = &HostOut> {
        self.hosts.values()
    }

    fn elapsed(&self) -> Duration {
        self.elapsed.unwrap_or_else(|| self.started.elapsed())
    }

    fn document(&self) -> ScanDocument<'_> {
        let hosts = self
            .live_hosts()
            .map(|h| {
                let mut ports: Vec<&PortResult> = h.listed.iter().collect();
                ports.sort_by_key(|r| r.port);
                HostDoc {
                    address: h.addr,
                    hostname: self.targets.name_of(h.addr),
                    status: h.status,
                    srtt_ms: h.srtt.map(ms),
                    counts: h.counts,
                    complete: h.done,
                    ports: ports.into_iter().map(|r| self.port_out(r, None)).collect(),
                }
            })
            .collect();
        ScanDocument {
            scanner: "portent",
            version: env!("CARGO_PKG_VERSION"),
            interrupted: self.interrupted,
            elapsed_ms: ms(self.elapsed()),
            detect_ms: self.detect_elapsed.map(ms),
            targets: TargetsDoc {
                addresses: self.targets.len(),
                resolved: self.targets.resolutions(),
            },
            ports: PortsDoc {
                count: self.ports.len(),
                list: self.ports.summary(),
            },
            listing: if self.list_all { "all" } else { "open" },
            hosts_down: self.hosts_down,
            totals: self.total,
            stats: self.stats,
            hosts,
        }
    }

    fn finish_jsonl(&mut self) -> Result<()> {
        let doc = self.document();
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
            ports: doc.ports.count,
            totals: doc.totals,
            stats: doc.stats,
        })?);
        for l in lines {
            writeln!(self.out, "{l}")?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn render_table(&mut self) -> Result<()> {
        let mut w = anstream::stdout().lock();
        let hosts: Vec<&HostOut> = self.live_hosts().collect();
        for h in &hosts {
            write!(w, "{HEAD}{}{HEAD:#}", h.addr)?;
            if let Some(n) = self.targets.name_of(h.addr) {
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
            if !h.done {
                write!(w, ", incomplete")?;
            }
            writeln!(w, "{DIM:#}")?;
            let mut listed: Vec<&PortResult> = h.listed.iter().collect();
            listed.sort_by_key(|r| r.port);
            if !listed.is_empty() {
                writeln!(
                    w,
                    "  {HEAD}{:<11} {:<9} {:<22} {:>9}  {:<16} NOTE{HEAD:#}",
                    "PORT", "STATE", "REASON", "RTT", "SERVICE"
                )?;
            }
            for r in &listed {
                let e = explain(self.reg, r.port);
                let st = match r.state {
                    State::Open => GOOD,
                    State::Closed => DIM,
                    State::Filtered => WARN,
                };
                let rtt = r.rtt.map(fmt_ms).unwrap_or_else(|| "-".into());
                let port = format!("{}/tcp", r.port);
                let state = r.state.as_str();
                let reason = r.reason.as_str();
                write!(
                    w,
                    "  {port:<11} {st}{state:<9}{st:#} {reason:<22} {rtt:>9}  "
                )?;
                let svc = clean(e.service, false);
                if e.status == portent_registry::Status::Assigned {
                    write!(w, "{NAME}{svc:<16}{NAME:#}")?;
                } else {
                    write!(w, "{DIM}{svc:<16}{DIM:#}")?;
                }
                if e.ghost {
                    write!(w, " {BAD}ghost{BAD:#}")?;
                }
                if !e.note.is_empty() {
                    write!(w, " {}", clean(e.note, false))?;
                }
                writeln!(w)?;
                let addr = SocketAddr::new(r.addr, r.port);
                if let Some(d) = self.detections.get(&addr) {
                    render_detection(&mut w, d)?;
                } else if self.cut_short.contains(&addr) {
                    writeln!(
                        w,
                        "{}{WARN}speaks: ? (detection interrupted){WARN:#}",
                        " ".repeat(14)
                    )?;
                }
            }
            let mut hidden: Vec<String> = Vec::new();
            for s in [State::Closed, State::Filtered] {
                let shown = listed.iter().filter(|r| r.state == s).count() as u64;
                let n = h.counts.get(s).saturating_sub(shown);
                if n > 0 {
                    let why: Vec<String> = h
                        .reasons
                        .iter()
                        .filter(|((st, _), _)| *st == s)
                        .map(|((_, r), c)| format!("{r} {}", group(*c)))
                        .collect();
                    hidden.push(format!("{} {s} ({})", group(n), why.join(", ")));
                }
            }
            if listed.is_empty() && h.counts.open == 0 {
                writeln!(w, "  no open ports")?;
            }
            if !hidden.is_empty() {
                writeln!(w, "  {DIM}not shown: {}{DIM:#}", hidden.join(", "))?;
            }
            writeln!(w)?;
        }
        let elapsed = self.elapsed().as_secs_f64();
        // Interrupted during detection, the scan itself was complete (said below).
        if self.interrupted && self.detect_elapsed.is_none() {
            writeln!(
                w,
                "{WARN}Interrupted{WARN:#} after {elapsed:.2} s: {} of {} so far.",
                group(self.total.total()),
                plural(self.expected, "port result")
            )?;
        }
        let up = hosts.len();
        write!(
            w,
            "{} scanned ({} down), {} each, in {elapsed:.2} s: ",
            plural(up as u64, "host"),
            group(self.hosts_down),
            plural(self.ports.len() as u64, "port")
        )?;
        writeln!(
            w,
            "{GOOD}{} open{GOOD:#}, {} closed, {} filtered.",
            group(self.total.open),
            group(self.total.closed),
            group(self.total.filtered)
        )?;
        if let Some(d) = self.detect_elapsed {
            if self.interrupted {
                writeln!(
                    w,
                    "{WARN}Interrupted{WARN:#} during detection after {:.2} s: detected {} of {}.",
                    d.as_secs_f64(),
                    group(self.detections.len() as u64),
                    plural(
                        (self.detections.len() + self.cut_short.len()) as u64,
                        "open port"
                    )
                )?;
            } else {
                writeln!(
                    w,
                    "Detected {} in {:.2} s.",
                    plural(self.detections.len() as u64, "open port"),
                    d.as_secs_f64()
                )?;
            }
        }
        if self.hosts_down > 0 && up == 0 {
            writeln!(
                w,
                "{DIM}No host answered discovery on ports {:?}; --no-ping scans them anyway.{DIM:#}",
                portent_scan::DISCOVERY_PORTS
            )?;
        }
        w.flush()?;
        Ok(())
    }
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
    let pad = " ".repeat(14);
    if d.service == "unknown" {
        write!(w, "{pad}{DIM}speaks: unknown")?;
        if let Some(e) = &d.error {
            write!(w, " ({})", clean(e, false))?;
        } else if !d.evidence.is_empty() {
            let ev: String = d.evidence.chars().take(60).collect();
            write!(w, " \"{}\"", clean(&ev, false))?;
        }
        writeln!(w, "{DIM:#}")?;
    } else {
        writeln!(w, "{pad}speaks: {NAME}{}{NAME:#}", summary(d))?;
    }
    if let Some(t) = tls_line(d) {
        writeln!(w, "{pad}{DIM}tls: {t}{DIM:#}")?;
    }
    if notable(d) {
        writeln!(
            w,
            "{pad}{WARN}{}{WARN:#}",
            clean(&d.verdict.sentence, false)
        )?;
    }
    Ok(())
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
    hosts: Vec<HostDoc<'a>>,
}

#[derive(Debug, Serialize)]
struct TargetsDoc<'a> {
    addresses: u64,
    resolved: &'a [portent_scan::Resolution],
}

#[derive(Debug, Serialize)]
struct PortsDoc {
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
struct SummaryLine {
    #[serde(rename = "type")]
    kind: &'static str,
    interrupted: bool,
    elapsed_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    detect_ms: Option<f64>,
    addresses: u64,
    hosts_down: u64,
    ports: usize,
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
