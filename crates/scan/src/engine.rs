//! The scan engine: a driver task that keeps a window of connection attempts in flight over
//! tokio, in a pseudo-random order across hosts and ports, and turns their outcomes into
//! [`Event`]s. It never prints.
//!
//! Per attempt the work is one task: a non-blocking `connect()`, a look at the socket (on
//! loopback and veth the answer is usually already there), and only if not, a reactor
//! registration with a deadline from the host's round-trip estimate. Silence is retried with a
//! doubled timeout; a retry that gets an answer is a loss, and losses halve the window (at most
//! once per round trip), as in TCP congestion control. A local shortage (EMFILE, no free source
//! port, no buffers) puts the attempt back and lowers the window's ceiling: never an abort.
//!
//! Memory is bounded: attempts in flight (at most the window), retries waiting (at most one per
//! attempt in flight) and per-host state for one group of hosts at a time.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::checkpoint::{WalkPoint, Watermark, strided_start};
use crate::error::ConfigError;
use crate::limits;
use crate::model::{Counts, Event, HostStatus, PortResult, Reason, State, Stats};
use crate::net::{Attempt, Network, SystemNetwork};
use crate::order::Permutation;
use crate::ports::PortSet;
use crate::shard::{Partition, Shard};
use crate::targets::Targets;
use crate::timing::{Pacer, RttEstimator, Window};
use crate::wait::{Deadline, Waiting};

/// Ports tried during host discovery: a SYN-ACK or a reset on any says the host is there.
pub const DISCOVERY_PORTS: [u16; 4] = [80, 443, 22, 445];
/// Hosts scanned together (their ports interleaved); more are done group after group.
pub const HOST_GROUP: usize = 1024;
/// Outcomes known at once settled together: the window, the retries and the results move in
/// batches of this many between two looks at the attempts under way.
const READY_BATCH: usize = 64;

/// Self-connects tolerated on one port before calling it closed.
const SELF_CONNECT_TRIES: u8 = 3;

/// Whether to look for live hosts before scanning their ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Probe [`DISCOVERY_PORTS`] first (except on loopback addresses); skip silent hosts.
    Auto,
    /// Scan every address (`--no-ping`).
    Off,
}

/// The most threads a scan drives attempts from (`ScannerBuilder::threads`).
pub const MAX_THREADS: usize = 64;

/// Timing options; `None` means derived from measurements.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// A fixed timeout per attempt instead of the RTT-derived one (`--timeout`).
    pub timeout: Option<Duration>,
    /// Attempts after the first for a silent port (`--retries`).
    pub retries: u8,
    /// At most this many attempts per second (`--rate`).
    pub rate: Option<u32>,
    /// The timeout before a host's first answer.
    pub initial_timeout: Duration,
    /// Bounds of the derived timeout.
    pub min_timeout: Duration,
    pub max_timeout: Duration,
    /// Window at start, and its ceiling (also bounded by descriptors).
    pub initial_window: usize,
    pub max_window: usize,
    /// Threads driving attempts, each with its share of the window (1: on the caller's
    /// runtime).
    pub threads: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            timeout: None,
            retries: 1,
            rate: None,
            initial_timeout: Duration::from_secs(1),
            min_timeout: Duration::from_millis(100),
            max_timeout: Duration::from_secs(3),
            initial_window: 512,
            max_window: 8192,
            threads: 1,
        }
    }
}

/// Builds a [`Scanner`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use portent_scan::{PortSet, Scanner, Targets, Event};
/// let targets = Targets::from_addrs(["127.0.0.1".parse()?]);
/// let scanner = Scanner::builder(targets, PortSet::from_ports([22, 80, 797]))
///     .retries(2)
///     .build()?;
/// let stats = scanner
///     .run(|event| {
///         if let Event::Port(r) = event {
///             println!("{}:{} {} ({})", r.addr, r.port, r.state, r.reason);
///         }
///     })
///     .await;
/// # let _ = stats; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ScannerBuilder<N = SystemNetwork> {
    targets: Targets,
    ports: PortSet,
    timing: Timing,
    discovery: Discovery,
    seed: Option<u64>,
    shard: Option<(Shard, u64)>,
    checkpoints: bool,
    resume: Option<WalkPoint>,
    network: N,
}

impl ScannerBuilder<SystemNetwork> {
    pub fn new(targets: Targets, ports: PortSet) -> Self {
        ScannerBuilder {
            targets,
            ports,
            timing: Timing::default(),
            discovery: Discovery::Auto,
            seed: None,
            shard: None,
            checkpoints: false,
            resume: None,
            network: SystemNetwork::default(),
        }
    }
}

impl<N: Network> ScannerBuilder<N> {
    /// Uses another network (a simulated one in tests).
    pub fn network<M: Network>(self, network: M) -> ScannerBuilder<M> {
        ScannerBuilder {
            targets: self.targets,
            ports: self.ports,
            timing: self.timing,
            discovery: self.discovery,
            seed: self.seed,
            shard: self.shard,
            checkpoints: self.checkpoints,
            resume: self.resume,
            network,
        }
    }

    /// A fixed timeout per attempt (instead of one derived from round trips).
    pub fn timeout(mut self, t: Option<Duration>) -> Self {
        self.timing.timeout = t;
        self
    }

    pub fn retries(mut self, n: u8) -> Self {
        self.timing.retries = n;
        self
    }

    /// Threads driving attempts (each with its own single-threaded runtime and a share of the
    /// window); 1 runs on the caller's runtime. 1 to [`MAX_THREADS`]; `build` refuses others.
    pub fn threads(mut self, n: usize) -> Self {
        self.timing.threads = n;
        self
    }

    /// At most `rate` attempts per second.
    pub fn rate(mut self, rate: Option<u32>) -> Self {
        self.timing.rate = rate;
        self
    }

    pub fn discovery(mut self, d: Discovery) -> Self {
        self.discovery = d;
        self
    }

    /// All timing knobs at once.
    pub fn timing(mut self, t: Timing) -> Self {
        self.timing = t;
        self
    }

    /// A fixed order (for reproducible tests); random by default.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Scans only `shard`'s pairs of the (address x port) space, partitioned with
    /// `partition_seed` ([`crate::shard`]): every shard of one scan must get the same targets,
    /// ports and partition seed.
    pub fn shard(mut self, shard: Shard, partition_seed: u64) -> Self {
        self.shard = Some((shard, partition_seed));
        self
    }

    /// Delivers port results in walk order, each batch followed by an
    /// [`Event::Checkpoint`] ([`crate::checkpoint`]), so that a caller can record how far the
    /// scan got. Results are held back behind the oldest unfinished pair (a silent port being
    /// retried), at most the window's span.
    pub fn checkpoints(mut self, on: bool) -> Self {
        self.checkpoints = on;
        self
    }

    /// Starts the walk at `point`, a checkpoint of an earlier scan with the same targets,
    /// ports, seed and shard: the host groups before it are skipped (no discovery, no events),
    /// and its group's port phase starts at its position, unless the group's discovery finds
    /// another number of live hosts than `point.live`: the group then starts over (its
    /// checkpoints say so by their `live`). Turns checkpoints on.
    pub fn resume_from(mut self, point: WalkPoint) -> Self {
        self.resume = Some(point);
        self.checkpoints = true;
        self
    }

    pub fn build(self) -> Result<Scanner<N>, ConfigError> {
        let t = &self.timing;
        if let Some(d) = t.timeout
            && (d.is_zero() || d > Duration::from_secs(60))
        {
            return Err(ConfigError::OutOfBounds {
                what: "the timeout",
                limit: "between 1ms and 60s",
                value: format!("{d:?}"),
            });
        }
        if t.retries > 10 {
            return Err(ConfigError::OutOfBounds {
                what: "retries",
                limit: "at most 10",
                value: t.retries.to_string(),
            });
        }
        if !(1..=MAX_THREADS).contains(&t.threads) {
            return Err(ConfigError::OutOfBounds {
                what: "threads",
                limit: "between 1 and 64",
                value: t.threads.to_string(),
            });
        }
        if t.rate == Some(0) {
            return Err(ConfigError::OutOfBounds {
                what: "the rate",
                limit: "at least 1 attempt per second",
                value: "0".into(),
            });
        }
        let seed = self.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ u64::from(std::process::id()).rotate_left(32)
        });
        let ports = self.ports.to_vec();
        let partition = self.shard.map(|(shard, pseed)| {
            Arc::new(Partition::new(
                shard,
                self.targets.len(),
                ports.len() as u64,
                pseed,
            ))
        });
        Ok(Scanner {
            targets: self.targets,
            ports,
            timing: self.timing,
            discovery: self.discovery,
            seed,
            partition,
            checkpoints: self.checkpoints,
            resume: self.resume,
            network: Arc::new(self.network),
        })
    }
}

/// A configured scan; [`run`](Scanner::run) performs it.
#[derive(Debug)]
pub struct Scanner<N = SystemNetwork> {
    targets: Targets,
    ports: Vec<u16>,
    timing: Timing,
    discovery: Discovery,
    seed: u64,
    /// The shard's pairs only, when sharded.
    partition: Option<Arc<Partition>>,
    /// Port results in walk order with [`Event::Checkpoint`]s.
    checkpoints: bool,
    /// Where the walk starts, when resumed.
    resume: Option<WalkPoint>,
    network: Arc<N>,
}

impl Scanner<SystemNetwork> {
    pub fn builder(targets: Targets, ports: PortSet) -> ScannerBuilder<SystemNetwork> {
        ScannerBuilder::new(targets, ports)
    }
}

/// A host as a driver sees it: timing state, private to the driver (each thread learns the
/// host's round trip from its own answers).
#[derive(Debug, Clone)]
struct HostTiming {
    addr: IpAddr,
    rtt: RttEstimator,
    /// The current timeout in microseconds, read by attempts in flight.
    live_timeout: Arc<AtomicU64>,
    /// Answered discovery (no more discovery attempts needed).
    answered: bool,
    /// Answers received, and answers that came only on a retry (losses).
    answers: u64,
    losses: u64,
}

/// Most retries for one port, however lossy the path.
const MAX_RETRIES: u8 = 10;

impl HostTiming {
    fn new(addr: IpAddr, t: &Timing) -> HostTiming {
        HostTiming {
            addr,
            rtt: RttEstimator::new(t.initial_timeout, t.min_timeout, t.max_timeout),
            live_timeout: Arc::new(AtomicU64::new(t.initial_timeout.as_micros() as u64)),
            answered: false,
            answers: 0,
            losses: 0,
        }
    }

    /// Retries allowed for a silent port: the configured number, or more on a host where
    /// retries have revealed loss, so that a lossy path is not mistaken for filtering. With a
    /// loss rate p per attempt and n ports, k attempts leave about n * p^k ports wrongly
    /// silent; k is chosen so that this is below 1 in 10,000.
    fn retries(&self, configured: u8, ports: usize) -> u8 {
        retries_for_loss(self.losses, self.answers, configured, ports)
    }
}

/// [`HostTiming::retries`]' rule, shared with the UDP engine: with `losses` answers that came
/// only on a retry out of `answers`, enough retries that fewer than 1 in 10,000 of `ports`
/// ports stay wrongly silent.
pub(crate) fn retries_for_loss(losses: u64, answers: u64, configured: u8, ports: usize) -> u8 {
    if losses == 0 {
        return configured;
    }
    let p = ((losses + 1) as f64 / (answers + 2) as f64).clamp(1e-6, 0.9);
    let k = ((1e-4 / ports.max(1) as f64).ln() / p.ln()).ceil();
    let retries = (k as i64 - 1).clamp(0, i64::from(MAX_RETRIES)) as u8;
    retries.max(configured)
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The pair's index in the phase's permutation (its place in walk order).
    index: u64,
    host: u32,
    port: u16,
    attempt: u8,
    self_connects: u8,
    /// An earlier attempt went unanswered (so an answer now means a loss).
    silent_before: bool,
}

struct Done {
    probe: Probe,
    outcome: Attempt,
}

/// Which phase a driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Discovery,
    Ports,
}

/// One driver: a window of attempts over one share of the permutation. With one thread there
/// is one driver on the caller's runtime; with more, each runs on its own thread and
/// single-threaded runtime (no hand-offs between threads per attempt), and they share nothing
/// but the result channel.
#[derive(Debug)]
struct Driver<N> {
    net: Arc<N>,
    timing: Timing,
    hosts: Vec<HostTiming>,
    window: Window,
    stats: Stats,
    stop: Arc<AtomicBool>,
}

/// What a phase's driver needs to know besides its own state.
#[derive(Debug, Clone)]
struct Share {
    live: Arc<[u32]>,
    ports: Arc<[u16]>,
    perm: Permutation,
    /// This driver takes permutation indexes `k, k + n, k + 2n, ...`.
    k: u64,
    n: u64,
    /// The first index of the walk (a resumed group's position; else 0).
    start: u64,
    /// The driver runs on a thread and runtime of its own (more than one driver).
    own_thread: bool,
    phase: Phase,
    /// A sharded scan's partition, and each group host's position in the whole target list
    /// (the partition's host index). Discovery ignores it: it asks about hosts, not pairs.
    partition: Option<(Arc<Partition>, Arc<[u64]>)>,
}

impl Share {
    /// Whether the pair (group host `host`, port at `port` in `ports`) is this scan's.
    fn owns(&self, host: u32, port: u64) -> bool {
        match &self.partition {
            Some((p, global)) if self.phase == Phase::Ports => {
                p.contains(global[host as usize], port)
            }
            _ => true,
        }
    }
}

/// Where a driver puts its final results: `result(host index, result, permutation index)`
/// for each, and `flush` after each batch of outcomes it has booked.
trait Sink {
    fn result(&mut self, host: u32, result: PortResult, index: u64);
    fn flush(&mut self) {}
}

/// A driver on the caller's runtime hands each result over at once (no wakeup to pay for).
struct Direct<F>(F);

impl<F: FnMut(u32, PortResult, u64)> Sink for Direct<F> {
    fn result(&mut self, host: u32, result: PortResult, index: u64) {
        (self.0)(host, result, index);
    }
}

/// A driver on its own thread sends its results to the caller's runtime a batch at a time:
/// one message per result woke the caller's thread for each (an eventfd write and two context
/// switches per port, measured in docs/benchmarks.md, issue 17).
struct Batches<N> {
    tx: tokio::sync::mpsc::UnboundedSender<Msg<N>>,
    buf: Vec<(u32, PortResult, u64)>,
}

impl<N> Sink for Batches<N> {
    fn result(&mut self, host: u32, result: PortResult, index: u64) {
        self.buf.push((host, result, index));
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            // The receiver outlives the drivers unless the scan was dropped: then the
            // results have nowhere to go.
            let _ = self.tx.send(Msg::Results(std::mem::take(&mut self.buf)));
        }
    }
}

impl<N: Network> Driver<N> {
    /// Scans this driver's share, handing each final result to `out`, and flushing it after
    /// each batch of outcomes.
    async fn run(&mut self, share: &Share, out: &mut impl Sink) {
        let live = &share.live;
        let ports = &share.ports;
        if live.is_empty() || ports.is_empty() {
            return;
        }
        let n_hosts = live.len() as u64;
        let perm = &share.perm;
        let mut next: u64 = share.k + share.n * strided_start(share.start, share.k, share.n);
        let mut retry: std::collections::VecDeque<Probe> = std::collections::VecDeque::new();
        // Attempts under way, and their probes by the key the waiting set knows them by.
        let mut waiting = self.net.waiting(share.own_thread);
        let mut probes: Slab<Probe> = Slab::new();
        let mut over: Vec<(usize, Attempt)> = Vec::new();
        // Outcomes known as soon as their attempt began, to settle.
        let mut ready: Vec<Done> = Vec::with_capacity(READY_BATCH);
        let mut pacer = self.timing.rate.map(|r| {
            // Each driver paces its share of the rate.
            let share_rate = (f64::from(r) / share.n as f64).ceil().max(1.0) as u32;
            Pacer::new(share_rate, Instant::now())
        });
        // Congestion pacing: the window spread over a round trip (1 ms of burst, the timer's
        // resolution). On loopback the spacing is nanoseconds: no effect.
        let mut spacing =
            Pacer::with_interval(Duration::ZERO, Duration::from_millis(1), Instant::now());
        // After a shortage with nothing in flight, wait a little before trying again.
        let mut pause_until: Option<Instant> = None;
        let discovery = share.phase == Phase::Discovery;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let mut wake: Option<Instant> = pause_until;
            if pause_until.is_some_and(|t| t <= Instant::now()) {
                pause_until = None;
                wake = None;
            }
            while pause_until.is_none() && waiting.len() < self.window.allowed() {
                let probe = match retry.pop_front() {
                    Some(p) => p,
                    None if next < perm.len() => {
                        let index = next;
                        let i = perm.get(next);
                        next += share.n;
                        let (host, port) = (live[(i % n_hosts) as usize], i / n_hosts);
                        if !share.owns(host, port) {
                            continue;
                        }
                        Probe {
                            index,
                            host,
                            port: ports[port as usize],
                            attempt: 0,
                            self_connects: 0,
                            silent_before: false,
                        }
                    }
                    None => break,
                };
                let host = &self.hosts[probe.host as usize];
                if discovery && host.answered {
                    continue;
                }
                // Both pacers must allow it; a token is taken only when it is sent.
                let now = Instant::now();
                let due = [
                    pacer.as_ref().map(|p| p.ready(now)),
                    Some(spacing.ready(now)),
                ]
                .into_iter()
                .flatten()
                .filter_map(Result::err)
                .max();
                if let Some(at) = due {
                    retry.push_front(probe);
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    break;
                }
                if let Some(p) = pacer.as_mut() {
                    let _ = p.take(now);
                }
                let _ = spacing.take(now);
                let addr = SocketAddr::new(host.addr, probe.port);
                self.stats.attempts += 1;
                let deadline = match self.timing.timeout {
                    Some(cap) => Deadline {
                        cap,
                        live: None,
                        retry: false,
                    },
                    None => Deadline {
                        cap: self.timing.max_timeout.max(self.timing.initial_timeout) * 2,
                        live: Some(Arc::clone(&host.live_timeout)),
                        retry: probe.attempt > 0,
                    },
                };
                match waiting.begin(addr, deadline, probes.vacant_key()) {
                    // Answered at once: settled below, never waited for.
                    Some(outcome) => {
                        ready.push(Done { probe, outcome });
                        if ready.len() >= READY_BATCH {
                            break;
                        }
                    }
                    None => {
                        probes.insert(probe);
                    }
                }
                self.stats.peak_in_flight = self.stats.peak_in_flight.max(waiting.len() as u64);
            }
            if waiting.is_empty() && ready.is_empty() && retry.is_empty() && next >= perm.len() {
                break;
            }
            let mut batch = std::mem::take(&mut ready);
            if batch.is_empty() {
                // Waits for an attempt to end, or for the pacer or a pause.
                waiting.next(wake, &mut over).await;
            } else {
                // Answers that came at once never make this task wait: let the runtime run
                // the attempts still under way (their timers included) and, when the driver
                // shares the caller's runtime, the caller's own tasks (detection, Ctrl-C).
                tokio::task::yield_now().await;
                waiting.ready(&mut over);
            }
            batch.extend(over.drain(..).filter_map(|(key, outcome)| {
                probes.try_remove(key).map(|probe| Done { probe, outcome })
            }));
            let settled_any = !batch.is_empty();
            for d in batch {
                let in_flight = waiting.len();
                let index = d.probe.index;
                if let Some((host, result)) = self.settle(
                    d,
                    share.phase,
                    &mut retry,
                    &mut pause_until,
                    in_flight,
                    ports.len(),
                ) {
                    out.result(host, result, index);
                }
            }
            out.flush();
            if settled_any && let Some(iv) = self.window.pacing_interval() {
                spacing.set_interval(iv);
            }
        }
    }

    /// Books one outcome: timing, window, retries. Returns the final result, if this was the
    /// last attempt for the port.
    fn settle(
        &mut self,
        d: Done,
        phase: Phase,
        retry: &mut std::collections::VecDeque<Probe>,
        pause_until: &mut Option<Instant>,
        in_flight: usize,
        n_ports: usize,
    ) -> Option<(u32, PortResult)> {
        let mut p = d.probe;
        let host = &mut self.hosts[p.host as usize];
        let window = &mut self.window;
        let stats = &mut self.stats;
        let answered = |host: &mut HostTiming,
                        window: &mut Window,
                        stats: &mut Stats,
                        rtt: Duration,
                        silent_before: bool| {
            host.rtt.sample(rtt);
            host.live_timeout
                .store(host.rtt.timeout().as_micros() as u64, Ordering::Relaxed);
            window.on_answer(rtt);
            host.answers += 1;
            if silent_before {
                host.losses += 1;
                stats.losses += 1;
                let srtt = host.rtt.srtt().unwrap_or(rtt);
                if window.on_loss(Instant::now(), srtt) {
                    stats.backoffs += 1;
                }
            }
        };
        let (reason, rtt) = match d.outcome {
            Attempt::Open { rtt } => {
                answered(host, window, stats, rtt, p.silent_before);
                (Reason::SynAck, Some(rtt))
            }
            Attempt::Refused { rtt } => {
                answered(host, window, stats, rtt, p.silent_before);
                (Reason::Reset, Some(rtt))
            }
            Attempt::Unreachable { reason, rtt } => {
                if reason != Reason::NoRoute && reason != Reason::LocalDenied {
                    answered(host, window, stats, rtt, p.silent_before);
                }
                (reason, Some(rtt))
            }
            Attempt::SelfConnect => {
                stats.self_connects += 1;
                p.self_connects += 1;
                if p.self_connects < SELF_CONNECT_TRIES {
                    retry.push_front(p);
                    return None;
                }
                (Reason::SelfConnect, None)
            }
            Attempt::Timeout | Attempt::Failed(_)
                if p.attempt < host.retries(self.timing.retries, n_ports) =>
            {
                let failed = matches!(d.outcome, Attempt::Failed(_));
                p.attempt += 1;
                p.silent_before |= !failed;
                stats.retries += 1;
                retry.push_back(p);
                return None;
            }
            Attempt::Timeout => (Reason::Timeout, None),
            Attempt::Failed(_) => (Reason::Error, None),
            Attempt::Busy(_) => {
                stats.deferred += 1;
                window.on_shortage(in_flight.max(1));
                if in_flight == 0 {
                    *pause_until = Some(Instant::now() + Duration::from_millis(10));
                }
                retry.push_front(p);
                return None;
            }
        };
        let state = reason.state();
        if phase == Phase::Discovery && state != State::Filtered {
            host.answered = true;
        }
        Some((
            p.host,
            PortResult {
                addr: host.addr,
                port: p.port,
                protocol: crate::model::Protocol::Tcp,
                state,
                reason,
                rtt,
                attempts: p.attempt + 1 + p.self_connects,
            },
        ))
    }
}

/// Sets the stop flag when the scan's future is dropped (Ctrl-C): driver threads notice at
/// their next step and drop their runtimes, which aborts their attempts.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What a phase hands its caller: a final result, or (in walk order, with checkpoints on) the
/// permutation index below which every result has been handed over.
enum Out {
    Result(u32, PortResult),
    Mark(u64),
}

enum Msg<N> {
    Results(Vec<(u32, PortResult, u64)>),
    Finished(usize, Box<Driver<N>>),
}

impl<N: Network> Scanner<N> {
    /// The targets this scanner was built with.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Runs the scan, calling `on_event` for each event in order. Must be called within a
    /// tokio runtime. Dropping the future stops the scan (attempts in flight are aborted);
    /// the events already delivered stand.
    pub async fn run(&self, mut on_event: impl FnMut(Event)) -> Stats {
        let started = Instant::now();
        let fd_limit = self.network.descriptor_budget();
        let mut max_window = self.timing.max_window.max(1);
        if let Some(limit) = fd_limit {
            let kept = self.network.kept_descriptors();
            max_window = max_window.min(limits::budget(limit.saturating_sub(kept)) as usize);
        }
        let hosts = self.targets.len();
        on_event(Event::Started {
            hosts,
            ports: self.ports.len(),
            total: match &self.partition {
                Some(p) => p.len(),
                None => hosts * self.ports.len() as u64,
            },
            max_in_flight: max_window,
            fd_limit,
        });
        let threads = self.timing.threads.clamp(1, MAX_THREADS);
        let stop = Arc::new(AtomicBool::new(false));
        let _guard = StopOnDrop(Arc::clone(&stop));
        let mut drivers: Vec<Driver<N>> = (0..threads)
            .map(|_| Driver {
                net: Arc::clone(&self.network),
                timing: self.timing,
                hosts: Vec::new(),
                window: Window::new(
                    (self.timing.initial_window / threads).max(1),
                    8,
                    (max_window / threads).max(1),
                ),
                stats: Stats::default(),
                stop: Arc::clone(&stop),
            })
            .collect();
        let discover = self.discovery == Discovery::Auto;
        let ports: Arc<[u16]> = self.ports.clone().into();
        let mut addrs = self.targets.iter().zip(0u64..);
        let mut group_no = 0u64;
        loop {
            // A sharded scan leaves out the hosts that have no pair in its shard: no
            // discovery, no events for them.
            let (group, global): (Vec<IpAddr>, Vec<u64>) = addrs
                .by_ref()
                .filter(|&(_, g)| self.partition.as_ref().is_none_or(|p| p.has_host(g)))
                .take(HOST_GROUP)
                .unzip();
            if group.is_empty() {
                break;
            }
            let global: Arc<[u64]> = global.into();
            group_no += 1;
            // A resumed walk: the groups before its point are final already.
            if self.resume.is_some_and(|r| group_no < r.group) {
                continue;
            }
            for d in &mut drivers {
                d.hosts = group
                    .iter()
                    .map(|&a| HostTiming::new(a, &self.timing))
                    .collect();
            }
            // Loopback is up by definition: no need to knock on its common ports.
            let mut status: Vec<HostStatus> = group
                .iter()
                .map(|a| {
                    if discover && !a.is_loopback() {
                        HostStatus::Down
                    } else {
                        HostStatus::Assumed
                    }
                })
                .collect();
            let mut counts = vec![Counts::default(); group.len()];
            let unknown: Vec<u32> = (0..group.len() as u32)
                .filter(|&i| status[i as usize] == HostStatus::Down)
                .collect();
            if !unknown.is_empty() {
                let ports: Arc<[u16]> = DISCOVERY_PORTS.to_vec().into();
                self.phase(
                    &mut drivers,
                    unknown.into(),
                    ports,
                    Phase::Discovery,
                    (group_no, &global, 0, false),
                    &mut |o| {
                        if let Out::Result(h, r) = o
                            && r.state != State::Filtered
                        {
                            status[h as usize] = HostStatus::Up;
                        }
                    },
                )
                .await;
                for ((addr, st), g) in group.iter().zip(&status).zip(global.iter()) {
                    let ports = match &self.partition {
                        Some(p) => p.pairs_of(*g),
                        None => self.ports.len() as u64,
                    };
                    on_event(Event::Host {
                        addr: *addr,
                        status: *st,
                        ports,
                    });
                }
            }
            let live: Vec<u32> = (0..group.len() as u32)
                .filter(|&i| status[i as usize] != HostStatus::Down)
                .collect();
            let n_live = live.len() as u64;
            // The permutation of a group depends on how many of its hosts are live: a resumed
            // group whose discovery found another number than the checkpoint's starts over
            // (the checkpoint's `live` is the caller's cue to drop that group's prefix).
            let start = match self.resume {
                Some(r) if r.group == group_no && r.live == n_live => r.position,
                _ => 0,
            };
            // Where a resumed walk picks up, said first: a caller learns from its `live`
            // whether the group starts over.
            if self.resume.is_some_and(|r| r.group == group_no) {
                on_event(Event::Checkpoint(WalkPoint {
                    group: group_no,
                    position: start,
                    live: n_live,
                }));
            }
            self.phase(
                &mut drivers,
                live.into(),
                Arc::clone(&ports),
                Phase::Ports,
                (group_no, &global, start, self.checkpoints),
                &mut |o| match o {
                    Out::Result(h, r) => {
                        counts[h as usize].add(r.state);
                        on_event(Event::Port(r));
                    }
                    Out::Mark(position) => on_event(Event::Checkpoint(WalkPoint {
                        group: group_no,
                        position,
                        live: n_live,
                    })),
                },
            )
            .await;
            for (i, addr) in group.iter().enumerate() {
                // The estimate from the driver that heard most from this host.
                let srtt = drivers
                    .iter()
                    .map(|d| &d.hosts[i])
                    .max_by_key(|h| h.answers)
                    .and_then(|h| h.rtt.srtt());
                on_event(Event::HostDone {
                    addr: *addr,
                    status: status[i],
                    counts: counts[i],
                    srtt,
                });
            }
            // The phase returns only when its walk is done (a stop drops this future).
            if self.checkpoints {
                on_event(Event::Checkpoint(WalkPoint {
                    group: group_no + 1,
                    position: 0,
                    live: 0,
                }));
            }
        }
        let mut stats = Stats::default();
        for d in &drivers {
            let s = d.stats;
            stats.attempts += s.attempts;
            stats.retries += s.retries;
            stats.losses += s.losses;
            stats.backoffs += s.backoffs;
            stats.deferred += s.deferred;
            stats.self_connects += s.self_connects;
            stats.peak_in_flight += s.peak_in_flight;
        }
        on_event(Event::Finished {
            elapsed: started.elapsed(),
            stats,
        });
        stats
    }

    /// Runs one phase over all drivers: on the caller's runtime with one, on threads with more.
    async fn phase(
        &self,
        drivers: &mut Vec<Driver<N>>,
        live: Arc<[u32]>,
        ports: Arc<[u16]>,
        phase: Phase,
        // The group, its hosts' places in the target list, the walk's first index and
        // whether results come in walk order.
        (group_no, global, start, ordered): (u64, &Arc<[u64]>, u64, bool),
        out: &mut impl FnMut(Out),
    ) {
        if live.is_empty() || ports.is_empty() {
            return;
        }
        let perm = Permutation::new(
            live.len() as u64 * ports.len() as u64,
            self.seed ^ group_no.wrapping_mul(0x9e37_79b9),
        );
        let n = drivers.len() as u64;
        let share = |k: u64| Share {
            live: Arc::clone(&live),
            ports: Arc::clone(&ports),
            perm: perm.clone(),
            k,
            n,
            start,
            own_thread: n > 1,
            phase,
            partition: self
                .partition
                .as_ref()
                .map(|p| (Arc::clone(p), Arc::clone(global))),
        };
        // In walk order: results wait in a watermark until every earlier index is final.
        let mut tracker = ordered.then(|| Watermark::<(u32, PortResult)>::new(start));
        let owner = share(0);
        let n_hosts = live.len() as u64;
        let mut deliver = |h: u32, r: PortResult, index: u64| {
            let Some(t) = tracker.as_mut() else {
                out(Out::Result(h, r));
                return;
            };
            // Indexes up to this one: pending, or final at once when not the shard's.
            while t.issued() <= index {
                let i = perm.get(t.issued());
                if owner.owns(live[(i % n_hosts) as usize], i / n_hosts) {
                    t.issue();
                } else {
                    t.skip();
                }
            }
            // Each index is settled once by the driver that owns it; an error cannot occur,
            // and a result refused here would be one counted twice.
            if t.complete(index, (h, r)).is_err() {
                return;
            }
            let (mark, ready) = t.drain();
            if !ready.is_empty() {
                for (h, r) in ready {
                    out(Out::Result(h, r));
                }
                out(Out::Mark(mark));
            }
        };
        if drivers.len() == 1 {
            drivers[0].run(&share(0), &mut Direct(&mut deliver)).await;
            return;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg<N>>();
        let count = drivers.len();
        for (k, mut d) in drivers.drain(..).enumerate() {
            let tx = tx.clone();
            let sh = share(k as u64);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    let mut sink = Batches {
                        tx: tx.clone(),
                        buf: Vec::new(),
                    };
                    rt.block_on(d.run(&sh, &mut sink));
                    sink.flush();
                }
                let _ = tx.send(Msg::Finished(k, Box::new(d)));
            });
        }
        drop(tx);
        let mut back: Vec<Option<Driver<N>>> = (0..count).map(|_| None).collect();
        while let Some(m) = rx.recv().await {
            match m {
                Msg::Results(batch) => {
                    for (h, r, i) in batch {
                        deliver(h, r, i);
                    }
                }
                Msg::Finished(k, d) => back[k] = Some(*d),
            }
        }
        drivers.extend(back.into_iter().flatten());
    }
}
