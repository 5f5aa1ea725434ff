//! The run itself: the scan engine's events in, detection started per open port, events out
//! to a sink, a record at the end.
//!
//! Why it is shaped this way:
//!
//! - **Overlap.** Detection of an open port needs only that port, so waiting for the whole
//!   scan (minutes for a large one) before the first banner is read wastes that time. Each open
//!   port becomes a task in a `JoinSet` the moment the engine reports it; a semaphore bounds
//!   how many detect at once, so tasks beyond the bound wait for a slot, cheaply.
//! - **One loop, one owner.** The engine calls back synchronously from inside its future, so
//!   its events go through a channel into one `select!` loop that also joins finished
//!   detections and watches the stop future. Only that loop touches the run's state and the
//!   sink: no locks, and events reach the sink in a single order.
//! - **Stopping.** The stop future is polled first on every turn (so its listener, a Ctrl-C
//!   handler for instance, is in place before the first packet). When it fires, the scan
//!   future is dropped (its attempts are aborted), detections already finished are kept,
//!   the rest are aborted and their ports marked `detection_interrupted`. A stop that comes
//!   after the last port result, while the engine only closes its books (final counts, round
//!   trips, threads joining), waits for that: the scan is complete and the stop lands in
//!   detection. With overlap a fast detection can end before the scan's closing events, and a
//!   run whose every port answered should not be reported as an incomplete scan.
//! - **TCP, then UDP.** A run of both protocols chains the two engines in one scan future
//!   feeding the same channel, so the loop above is unchanged: TCP first (with host
//!   discovery), then UDP on the hosts not found down. UDP replies are identified as they come
//!   (`crate::udp`), with no task: the payload's parser is a pure function of bytes in hand.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use portent_probe::{Detection, Detector};
use portent_scan::{
    Counts, Event, HostStatus, Network, Protocol, ScannerBuilder, State, Stats, SystemNetwork,
    Targets, Timing, UdpScanner, UdpScannerBuilder, explain_on,
};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::RunError;
use crate::config::RunConfig;
use crate::event::{Progress, RunEvent, Sink};
use crate::record::{HostRecord, RunRecord};

/// Runs `config` on real sockets. See [`run_on`].
pub async fn run<S: Sink + ?Sized>(
    config: RunConfig,
    sink: &mut S,
    stop: impl Future<Output = ()>,
) -> Result<RunRecord, RunError> {
    run_on(config, SystemNetwork::default(), sink, stop).await
}

/// Runs `config` over `network` (a simulated one in tests): scans, detects each open port as
/// soon as it is found (when detection is configured), hands every step to `sink`, and returns
/// the finished run. Must be called within a tokio runtime (the scan runs on it; detection on
/// it too unless [`DetectionConfig::runtime`](crate::DetectionConfig::runtime) names another).
///
/// `stop` ends the run early when it completes (Ctrl-C): the record is returned with
/// `interrupted` set. A sink that returns `Break` ends it too, with `stopped` set.
pub async fn run_on<N: Network, S: Sink + ?Sized>(
    config: RunConfig,
    network: N,
    sink: &mut S,
    stop: impl Future<Output = ()>,
) -> Result<RunRecord, RunError> {
    #[cfg(target_os = "linux")]
    let syn = if config.scan.syn && !config.ports.is_empty() {
        Some(Arc::new(syn_builder(&config).build()?))
    } else {
        None
    };
    #[cfg(not(target_os = "linux"))]
    if config.scan.syn {
        return Err(portent_scan::ConfigError::SynUnsupported {
            why: "raw-socket SYN probes are built for Linux only".into(),
        }
        .into());
    }
    let tcp = if config.ports.is_empty() || config.scan.syn {
        None
    } else {
        Some(scanner_builder(&config).network(network).build()?)
    };
    let udp = if config.udp_ports.is_empty() {
        None
    } else {
        // Built now so bad options fail before anything is sent; built again below, without
        // the hosts TCP found down, when there are any.
        udp_builder(&config, config.targets.clone()).build()?;
        Some(config.clone())
    };

    let mut p = Pipeline::new(&config);
    let mut tasks: JoinSet<(SocketAddr, Detection)> = JoinSet::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let end = {
        let scan = async move {
            // Hosts TCP's discovery found down: UDP skips them, as nmap does.
            let down: Arc<Mutex<Vec<std::net::IpAddr>>> = Arc::default();
            #[cfg(target_os = "linux")]
            if let Some(syn) = syn {
                let tx = tx.clone();
                syn.run(move |e| {
                    let _ = tx.send(e);
                })
                .await;
            }
            if let Some(tcp) = tcp {
                let (tx, down) = (tx.clone(), Arc::clone(&down));
                tcp.run(move |e| {
                    if let Event::Host {
                        addr,
                        status: HostStatus::Down,
                        ..
                    } = e
                    {
                        down.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(addr);
                    }
                    // The receiver lives as long as this future: a send cannot fail here.
                    let _ = tx.send(e);
                })
                .await;
            }
            if let Some(cfg) = udp {
                let down: HashSet<std::net::IpAddr> =
                    std::mem::take(&mut *down.lock().unwrap_or_else(PoisonError::into_inner))
                        .into_iter()
                        .collect();
                let targets = if down.is_empty() {
                    cfg.targets.clone()
                } else {
                    Targets::from_addrs(cfg.targets.iter().filter(|a| !down.contains(a)))
                };
                if !targets.is_empty() {
                    // Validated above with the same options: this build cannot fail.
                    if let Ok(udp) = udp_builder(&cfg, targets).build() {
                        udp.run(|e| {
                            let _ = tx.send(e);
                        })
                        .await;
                    }
                }
            }
        };
        tokio::pin!(scan);
        tokio::pin!(stop);
        let mut scanning = true;
        // Stopped after the last port result but before the engine's closing events.
        let mut stopping = false;
        loop {
            if stopping && !scanning {
                break End::Interrupted;
            }
            if !scanning && tasks.is_empty() {
                break End::Done;
            }
            let flow = tokio::select! {
                biased;
                () = &mut stop, if !stopping => {
                    // Every port has its result: what is left of the scan is bookkeeping (the
                    // hosts' final counts and round trips, threads joining), which sends
                    // nothing. Let it finish so the stop lands in detection, not in the scan.
                    // (A resumed scan's expected count is a guess: never taken for the end.)
                    if scanning
                        && p.cfg.scan.resume.is_none()
                        && p.expected > 0
                        && p.totals.total() >= p.expected
                    {
                        stopping = true;
                        ControlFlow::Continue(())
                    } else {
                        break End::Interrupted;
                    }
                }
                Some(e) = rx.recv(), if scanning => p.on_scan_event(e, sink, Some(&mut tasks)),
                Some(res) = tasks.join_next(), if !tasks.is_empty() && !stopping => match res {
                    Ok((addr, d)) => p.on_detection(addr, d, sink),
                    // A detection that panicked stays pending: reported as not identified.
                    Err(_) => ControlFlow::Continue(()),
                },
                _ = &mut scan, if scanning => {
                    scanning = false;
                    let mut flow = ControlFlow::Continue(());
                    while let Ok(e) = rx.try_recv() {
                        flow = p.on_scan_event(e, sink, Some(&mut tasks));
                        if flow.is_break() {
                            break;
                        }
                    }
                    flow
                }
            };
            if flow.is_break() {
                break End::Stopped;
            }
        }
        // The scan future is dropped here: attempts still in flight are aborted.
    };
    let ended = Instant::now();
    // Results the engine delivered before the stop stand; their open ports get no detection.
    while let Ok(e) = rx.try_recv() {
        let _ = p.on_scan_event(e, sink, None);
    }
    // Detections that complete before the abort takes effect are kept (a task in the middle of
    // a poll on another runtime finishes that poll first); the rest end as cancelled.
    tasks.abort_all();
    while let Some(res) = tasks.join_next().await {
        if let Ok((addr, d)) = res {
            let _ = p.on_detection(addr, d, sink);
        }
    }
    let interrupted = matches!(end, End::Interrupted);
    let _ = sink.event(&RunEvent::Finished { interrupted });
    Ok(p.finish(end, ended))
}

impl RunConfig {
    /// Checks the scan options (timeout, retries, rate) as [`run`] will, so a caller can
    /// refuse bad input before printing anything.
    pub fn validate(&self) -> Result<(), RunError> {
        let o = &self.scan;
        if o.checkpoints.is_some() || o.resume.is_some() {
            let why = if !self.udp_ports.is_empty() {
                Some("with UDP ports: checkpoints are kept by TCP scans only")
            } else if o.checkpoints.is_none() {
                Some("without checkpoints")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(portent_scan::ConfigError::NotResumable { why }.into());
            }
        }
        if !self.ports.is_empty() {
            scanner_builder(self).build()?;
        }
        if !self.udp_ports.is_empty() {
            if let Some(s) = self.scan.shard {
                return Err(portent_scan::ConfigError::BadShard {
                    text: s.shard.to_string(),
                    why: "sharding splits TCP scans only; scan UDP without --shard",
                }
                .into());
            }
            udp_builder(self, self.targets.clone()).build()?;
        }
        if let Some(d) = &self.detection
            && d.concurrency == 0
        {
            return Err(portent_scan::ConfigError::OutOfBounds {
                what: "detection concurrency",
                limit: "at least 1",
                value: "0".into(),
            }
            .into());
        }
        Ok(())
    }

    /// The longest `UdpOptions::closed_wait` can add to the run: every silent UDP port of
    /// every host closed, each waiting for its ICMP error at the rate hosts send them (Linux:
    /// one a second over IPv4). `None` when the run has no UDP or does not wait.
    pub fn udp_closed_wait_estimate(&self) -> Option<std::time::Duration> {
        if self.udp_ports.is_empty() || !self.udp.closed_wait {
            return None;
        }
        let scanner = udp_builder(self, self.targets.clone()).build().ok()?;
        Some(scanner.closed_wait_estimate())
    }
}

fn scanner_builder(config: &RunConfig) -> ScannerBuilder<SystemNetwork> {
    let o = config.scan;
    let builder = ScannerBuilder::new(config.targets.clone(), config.ports.clone())
        .timeout(o.timeout)
        .retries(o.retries)
        .rate(o.rate)
        .threads(o.threads)
        .discovery(o.discovery)
        .checkpoints(o.checkpoints.is_some());
    let builder = match o.resume {
        Some(point) => builder.resume_from(point),
        None => builder,
    };
    let builder = match o.shard {
        Some(s) => builder.shard(s.shard, s.partition_seed),
        None => builder,
    };
    match o.seed {
        Some(seed) => builder.seed(seed),
        None => builder,
    }
}

#[cfg(target_os = "linux")]
fn syn_builder(config: &RunConfig) -> portent_scan::SynScannerBuilder {
    let o = config.scan;
    // --timeout, --retries and --rate mean the same as for the connect scan.
    let timing = Timing {
        timeout: o.timeout,
        retries: o.retries,
        rate: o.rate,
        ..Timing::default()
    };
    let builder = portent_scan::SynScanner::builder(config.targets.clone(), config.ports.clone())
        .timing(timing)
        .checkpoints(o.checkpoints.is_some());
    let builder = match o.resume {
        Some(point) => builder.resume_from(point),
        None => builder,
    };
    let builder = match o.shard {
        Some(s) => builder.shard(s.shard, s.partition_seed),
        None => builder,
    };
    match o.seed {
        Some(seed) => builder.seed(seed),
        None => builder,
    }
}

fn udp_builder(config: &RunConfig, targets: Targets) -> UdpScannerBuilder {
    let o = config.scan;
    let payloads = Arc::new(crate::udp::CataloguePayloads::new(Arc::clone(
        &config.udp.catalogue,
    )));
    // --timeout, --retries and --rate mean the same for both protocols.
    let builder = UdpScanner::builder(targets, config.udp_ports.clone(), payloads)
        .timing(Timing {
            timeout: o.timeout,
            retries: o.retries,
            rate: o.rate,
            ..Timing::default()
        })
        .closed_wait(config.udp.closed_wait);
    match o.seed {
        Some(seed) => builder.seed(seed),
        None => builder,
    }
}

#[derive(Debug, Clone, Copy)]
enum End {
    Done,
    Interrupted,
    Stopped,
}

/// The run's state while it goes.
struct Pipeline<'c> {
    cfg: &'c RunConfig,
    detector: Option<(Arc<Detector>, Arc<Semaphore>, tokio::runtime::Handle)>,
    hosts: BTreeMap<IpAddr, HostRecord>,
    hosts_down: u64,
    totals: Counts,
    expected: u64,
    stats: Stats,
    started: Instant,
    started_at: SystemTime,
    scan_elapsed: Option<std::time::Duration>,
    /// When the first open port was handed to detection.
    first_detection: Option<Instant>,
    /// Open ports handed to detection (or held back from it by the stop), not finished.
    pending: HashSet<SocketAddr>,
    detected: usize,
    /// Engines in this run (TCP, UDP or both) and how many have started and finished.
    phases: usize,
    phases_started: usize,
    phases_finished: usize,
    /// Wall time of the engines already finished.
    engine_elapsed: std::time::Duration,
    /// The best identification of each UDP port's replies, until its result comes.
    udp_found: HashMap<SocketAddr, Detection>,
    /// Checkpoints for the sink (`ScanOptions::checkpoints`).
    marks: Marks,
}

/// Turns the engine's checkpoints (one per result, nearly) into a few for the sink: at most
/// one per interval, each held back until the detections of the open ports before it have
/// finished, so a store that writes one never passes an open port it has not identified.
#[derive(Debug, Default)]
struct Marks {
    every: Option<std::time::Duration>,
    last: Option<Instant>,
    /// Detections in the order they started; a checkpoint waits for those started before it.
    next_seq: u64,
    seq_of: HashMap<SocketAddr, u64>,
    running: std::collections::BTreeSet<u64>,
    /// Checkpoints taken and the detection sequence number each waits for.
    held: std::collections::VecDeque<(u64, crate::Checkpoint)>,
    /// Listed results by host, protocol, state and reason (the record may not keep them).
    listed: HashMap<(IpAddr, Protocol, State, portent_scan::Reason), u64>,
}

impl<'c> Pipeline<'c> {
    fn new(cfg: &'c RunConfig) -> Pipeline<'c> {
        let detector = cfg.detection.as_ref().map(|d| {
            (
                Arc::new(d.detector.clone()),
                Arc::new(Semaphore::new(d.concurrency.max(1))),
                d.runtime
                    .clone()
                    .unwrap_or_else(tokio::runtime::Handle::current),
            )
        });
        Pipeline {
            cfg,
            detector,
            hosts: BTreeMap::new(),
            hosts_down: 0,
            totals: Counts::default(),
            expected: 0,
            stats: Stats::default(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            scan_elapsed: None,
            first_detection: None,
            pending: HashSet::new(),
            detected: 0,
            phases: usize::from(!cfg.ports.is_empty()) + usize::from(!cfg.udp_ports.is_empty()),
            phases_started: 0,
            phases_finished: 0,
            engine_elapsed: std::time::Duration::ZERO,
            udp_found: HashMap::new(),
            marks: Marks {
                every: cfg.scan.checkpoints,
                ..Marks::default()
            },
        }
    }

    /// A checkpoint of this run's results at `point` (the engine has handed over every
    /// result before it).
    fn snapshot(&self, point: portent_scan::checkpoint::WalkPoint) -> crate::Checkpoint {
        let mut counts = Vec::new();
        for h in self.hosts.values() {
            let all = h
                .reasons
                .iter()
                .map(|r| (Protocol::Tcp, r))
                .chain(h.udp_reasons.iter().map(|r| (Protocol::Udp, r)));
            for (protocol, (&(state, reason), &n)) in all {
                let listed = self
                    .marks
                    .listed
                    .get(&(h.addr, protocol, state, reason))
                    .copied()
                    .unwrap_or(0)
                    .min(n);
                counts.push(crate::PrefixCount {
                    addr: h.addr,
                    protocol,
                    state,
                    reason,
                    listed,
                    unlisted: n - listed,
                });
            }
        }
        crate::Checkpoint { point, counts }
    }

    /// Hands the sink the newest held checkpoint whose detections have all finished.
    fn release<S: Sink + ?Sized>(&mut self, sink: &mut S) -> ControlFlow<()> {
        let floor = self.marks.running.first().copied().unwrap_or(u64::MAX);
        let mut ready = None;
        while self
            .marks
            .held
            .front()
            .is_some_and(|(wait, _)| *wait <= floor)
        {
            ready = self.marks.held.pop_front().map(|(_, c)| c);
        }
        match ready {
            Some(c) => sink.event(&RunEvent::Checkpoint(&c)),
            None => ControlFlow::Continue(()),
        }
    }

    /// Ports per host over every protocol of the run.
    fn ports_per_host(&self) -> u64 {
        (self.cfg.ports.len() + self.cfg.udp_ports.len()) as u64
    }

    fn host(&mut self, addr: IpAddr) -> &mut HostRecord {
        let targets = &self.cfg.targets;
        self.hosts
            .entry(addr)
            .or_insert_with(|| HostRecord::new(addr, targets.name_of(addr).map(str::to_owned)))
    }

    fn progress(&self) -> RunEvent<'static> {
        RunEvent::Progress(Progress {
            scanned: self.totals.total(),
            expected: self.expected,
            open: self.totals.open,
            detected: self.detected,
            detecting: self.pending.len(),
        })
    }

    /// One engine event. `tasks` is where detections start; `None` after a stop (the port is
    /// then marked as not detected because interrupted).
    fn on_scan_event<S: Sink + ?Sized>(
        &mut self,
        e: Event,
        sink: &mut S,
        tasks: Option<&mut JoinSet<(SocketAddr, Detection)>>,
    ) -> ControlFlow<()> {
        match e {
            Event::Started {
                hosts,
                total,
                max_in_flight,
                fd_limit,
                ..
            } => {
                self.phases_started += 1;
                if self.phases_started > 1 {
                    // The UDP engine after TCP: its hosts and ports are already expected.
                    return ControlFlow::Continue(());
                }
                let ports = self.ports_per_host();
                self.expected = if self.phases > 1 {
                    hosts.saturating_mul(ports)
                } else {
                    total
                };
                self.started = Instant::now();
                sink.event(&RunEvent::Started {
                    hosts,
                    ports: ports as usize,
                    expected: self.expected,
                    max_in_flight,
                    fd_limit,
                })
            }
            Event::Host {
                addr,
                status,
                ports,
            } => {
                if status == HostStatus::Down {
                    // With UDP after TCP, the host's UDP ports go too (sharding is TCP only).
                    let udp = self.cfg.udp_ports.len() as u64;
                    self.expected = self.expected.saturating_sub(ports + udp);
                } else {
                    self.host(addr).status = status;
                }
                sink.event(&RunEvent::HostStarted { addr, status })?;
                if status == HostStatus::Down {
                    sink.event(&self.progress())?;
                }
                ControlFlow::Continue(())
            }
            Event::UdpReply {
                addr,
                port,
                probe_id,
                sent,
                reply,
                rtt,
            } => {
                let at = SocketAddr::new(addr, port);
                if let Some(d) = crate::udp::identify_reply(
                    &self.cfg.udp.catalogue,
                    &self.cfg.registry,
                    at,
                    probe_id,
                    &sent,
                    &reply,
                    rtt,
                ) {
                    let old = self.udp_found.remove(&at);
                    self.udp_found.insert(at, crate::udp::better(old, d));
                }
                ControlFlow::Continue(())
            }
            Event::Port(r) => {
                self.totals.add(r.state);
                let udp = r.protocol == Protocol::Udp;
                let open = r.state == State::Open;
                let listed = open || self.cfg.list_all;
                let detecting = open && !udp && self.detector.is_some();
                // A UDP port's identification came with its replies; kept with the host's
                // record whenever the port is (an open port is always listed).
                let found = self.udp_found.remove(&SocketAddr::new(r.addr, r.port));
                let keep = listed && (self.cfg.keep_listed || detecting || found.is_some());
                {
                    let h = self.host(r.addr);
                    h.counts.add(r.state);
                    let reasons = if udp {
                        &mut h.udp_reasons
                    } else {
                        &mut h.reasons
                    };
                    *reasons.entry((r.state, r.reason)).or_default() += 1;
                    if keep {
                        h.listed.push(r);
                    }
                    if let (true, Some(d)) = (open && udp, found) {
                        h.udp_detections.insert(r.port, d);
                    }
                }
                if listed && self.marks.every.is_some() {
                    *self
                        .marks
                        .listed
                        .entry((r.addr, r.protocol, r.state, r.reason))
                        .or_default() += 1;
                }
                if detecting {
                    let addr = SocketAddr::new(r.addr, r.port);
                    self.pending.insert(addr);
                    if self.marks.every.is_some() {
                        let seq = self.marks.next_seq;
                        self.marks.next_seq += 1;
                        self.marks.seq_of.insert(addr, seq);
                        self.marks.running.insert(seq);
                    }
                    if let (Some((det, permits, rt)), Some(tasks)) = (&self.detector, tasks) {
                        self.first_detection.get_or_insert_with(Instant::now);
                        let (det, permits) = (Arc::clone(det), Arc::clone(permits));
                        tasks.spawn_on(
                            async move {
                                // The semaphore is never closed: a permit always comes.
                                let _permit = permits.acquire_owned().await;
                                (addr, det.detect(addr, None).await)
                            },
                            rt,
                        );
                    }
                }
                let explanation =
                    listed.then(|| explain_on(&self.cfg.registry, r.port, r.protocol));
                let detection = if udp {
                    self.hosts
                        .get(&r.addr)
                        .and_then(|h| h.udp_detections.get(&r.port))
                } else {
                    None
                };
                sink.event(&RunEvent::Port {
                    result: r,
                    hostname: self.cfg.targets.name_of(r.addr),
                    explanation: explanation.as_ref(),
                    listed,
                    detecting,
                    detection,
                })?;
                sink.event(&self.progress())
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
                    sink.event(&RunEvent::HostDone {
                        addr,
                        status,
                        counts,
                        srtt,
                    })
                } else {
                    let last = self.phases_started >= self.phases;
                    let single = self.phases == 1;
                    let h = self.host(addr);
                    // UDP has no discovery: a host TCP found up stays up.
                    if h.status != HostStatus::Up {
                        h.status = status;
                    }
                    if single {
                        h.counts = counts;
                    }
                    // TCP's round trip stands; UDP's estimate is coarser.
                    h.srtt = h.srtt.or(srtt);
                    if !last {
                        return ControlFlow::Continue(());
                    }
                    h.complete = true;
                    let (status, counts, srtt) = (h.status, h.counts, h.srtt);
                    sink.event(&RunEvent::HostDone {
                        addr,
                        status,
                        counts,
                        srtt,
                    })
                }
            }
            Event::Checkpoint(point) => {
                let Some(every) = self.marks.every else {
                    return ControlFlow::Continue(());
                };
                if self.marks.last.is_some_and(|t| t.elapsed() < every) {
                    return ControlFlow::Continue(());
                }
                self.marks.last = Some(Instant::now());
                let c = self.snapshot(point);
                self.marks.held.push_back((self.marks.next_seq, c));
                self.release(sink)
            }
            Event::Finished { elapsed, stats } => {
                self.phases_finished += 1;
                self.stats.absorb(&stats);
                if self.phases_finished < self.phases {
                    self.engine_elapsed += elapsed;
                    return ControlFlow::Continue(());
                }
                // The engines' own clocks: events may be handled in a burst after they end.
                let elapsed = self.engine_elapsed + elapsed;
                self.scan_elapsed = Some(elapsed);
                sink.event(&RunEvent::ScanFinished {
                    elapsed,
                    stats: self.stats,
                    detections_pending: self.pending.len(),
                })
            }
        }
    }

    fn on_detection<S: Sink + ?Sized>(
        &mut self,
        addr: SocketAddr,
        d: Detection,
        sink: &mut S,
    ) -> ControlFlow<()> {
        self.pending.remove(&addr);
        self.detected += 1;
        let h = self.host(addr.ip());
        h.detections.insert(addr.port(), d);
        if let Some(detection) = h.detections.get(&addr.port()) {
            sink.event(&RunEvent::Detected { addr, detection })?;
        }
        if let Some(seq) = self.marks.seq_of.remove(&addr) {
            self.marks.running.remove(&seq);
            self.release(sink)?;
        }
        sink.event(&self.progress())
    }

    fn finish(mut self, end: End, ended: Instant) -> RunRecord {
        for a in std::mem::take(&mut self.pending) {
            self.host(a.ip()).detection_interrupted.insert(a.port());
        }
        let scan_complete = self.scan_elapsed.is_some();
        let cfg = self.cfg;
        RunRecord {
            addresses: cfg.targets.len(),
            resolutions: cfg.targets.resolutions().to_vec(),
            port_count: cfg.ports.len(),
            port_list: cfg.ports.summary(),
            udp_port_count: cfg.udp_ports.len(),
            udp_port_list: cfg.udp_ports.summary(),
            list_all: cfg.list_all,
            detection: cfg.detection.is_some(),
            hosts: self.hosts.into_values().collect(),
            hosts_down: self.hosts_down,
            totals: self.totals,
            expected: self.expected,
            stats: self.stats,
            scan_elapsed: self
                .scan_elapsed
                .unwrap_or_else(|| ended.duration_since(self.started)),
            scan_complete,
            detect_elapsed: self
                .first_detection
                .filter(|_| scan_complete)
                .map(|t| ended.duration_since(t)),
            interrupted: matches!(end, End::Interrupted),
            stopped: matches!(end, End::Stopped),
            started_at: self.started_at,
            ended_at: SystemTime::now(),
            shard: cfg.scan.shard.map(|s| crate::ShardRecord {
                shard: s.shard,
                partition_seed: s.partition_seed,
                plan: portent_scan::shard::plan_digest(
                    s.partition_seed,
                    cfg.targets.iter(),
                    &cfg.ports.to_vec(),
                    cfg.scan.syn,
                ),
            }),
            resumed: None,
        }
    }
}
