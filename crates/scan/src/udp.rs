//! The UDP scan engine, unprivileged: one connected UDP socket per probe round of a port, every
//! payload the caller has for the port sent at once, and the answer read from what the kernel
//! reports on that socket. It never prints; it emits the same [`Event`]s as the TCP engine
//! (plus [`Event::UdpReply`] with the bytes of each validated reply).
//!
//! Why connected sockets: `connect()` on a UDP socket makes the kernel deliver only datagrams
//! from the target's address and port (the source check is done for us) and, above all, attach
//! ICMP errors that quote our datagram to this socket. An ICMP port unreachable then surfaces
//! as ECONNREFUSED: `closed`, with no raw socket and no privilege. On Linux, `IP_RECVERR` /
//! `IPV6_RECVERR` also queue the ICMP message itself (type and code in a `sock_extended_err`)
//! on the socket's error queue, read with `recvmsg(MSG_ERRQUEUE)`, so admin-prohibited,
//! host-unreachable, net-unreachable and proto-unreachable become `filtered` with the right
//! reason. Elsewhere only the error number is known (ECONNREFUSED; WSAECONNRESET on Windows).
//!
//! A reply the caller's [`UdpPayloads::accepts`] validates means `open`; silence after the
//! retries means `open|filtered`, never `open`.
//!
//! The ICMP budget: targets limit the ICMP errors they send. Linux allows each destination a
//! burst of 6 and then one per `net.ipv4.icmp_ratelimit` (1000 ms by default; IPv6: 100 ms for
//! a /128 route, less for wider prefixes), so a fast scan of a Linux host learns "closed" for
//! a handful of ports and sees silence from the rest. The default mode spends the budget as it
//! comes: hosts and ports are interleaved in a pseudo-random order (every target's budget runs
//! in parallel), silent ports are retried after an RTT-derived timeout (a retry that draws an
//! ICMP error is the budget, not loss; a retry that draws a reply is loss and raises the
//! retries), and what stays silent is `open|filtered`. With [`UdpScannerBuilder::closed_wait`]
//! the silent ports of every host that sent any ICMP error are probed again at the host's ICMP
//! rate (a token bucket modelled on the sender's), one token per probe, so that closed and
//! open|filtered are told apart on every port; a host that sent no ICMP error at all is not
//! waited for. [`UdpScanner::closed_wait_estimate`] says how long that can take.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

use crate::engine::{HOST_GROUP, Timing, retries_for_loss};
use crate::error::ConfigError;
use crate::limits;
use crate::model::{Counts, Event, HostStatus, PortResult, Protocol, Reason, Stats};
use crate::net::{self, Attempt, code};
use crate::order::Permutation;
use crate::ports::PortSet;
use crate::targets::Targets;
use crate::timing::{Pacer, RttEstimator, Window};

/// The most reply bytes kept per reply (a UDP datagram over IPv4 carries at most 65,507).
pub const MAX_REPLY: usize = 65_536;
/// The probe id of the empty datagram sent when the caller has no payload for a port.
pub const EMPTY_PROBE: usize = usize::MAX;

/// One datagram to send to a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpProbe {
    /// The caller's payload index, handed back in [`Event::UdpReply`].
    pub id: usize,
    pub bytes: Vec<u8>,
}

/// Where the engine gets its payloads, so that this crate does not depend on the catalogue.
pub trait UdpPayloads: Send + Sync {
    /// The datagrams for `port`, all sent at once (called again for every retry, so ids can
    /// be fresh). None: one empty datagram, any reply accepted.
    fn probes(&self, port: u16) -> Vec<UdpProbe>;
    /// Whether `reply` (from the target's address and port) answers `probe`.
    fn accepts(&self, port: u16, probe: &UdpProbe, reply: &[u8]) -> bool;
    /// Whether the service answers from another source port than `port` (TFTP answers from
    /// its transfer id, RFC 1350): the round then uses an unconnected socket and takes
    /// replies from any port of the target's address. On Linux the ICMP error queue still
    /// tells closed ports; elsewhere such a port can only be open or open|filtered.
    fn any_source_port(&self, _port: u16) -> bool {
        false
    }
}

/// No payloads: every port gets one empty datagram, and any reply from it counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyDatagram;

impl UdpPayloads for EmptyDatagram {
    fn probes(&self, _port: u16) -> Vec<UdpProbe> {
        Vec::new()
    }
    fn accepts(&self, _port: u16, _probe: &UdpProbe, _reply: &[u8]) -> bool {
        true
    }
}

/// How many ICMP errors a target sends us: a token bucket of `burst` tokens, one more every
/// `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpBudget {
    pub burst: u32,
    pub interval: Duration,
}

impl IcmpBudget {
    /// Linux's defaults for IPv4: `net.ipv4.icmp_ratelimit` = 1000 ms per destination, with a
    /// burst of 6 intervals' worth (the kernel's XRLIM_BURST_FACTOR).
    pub const LINUX_V4: IcmpBudget = IcmpBudget {
        burst: 6,
        interval: Duration::from_millis(1000),
    };
    /// Linux's defaults for IPv6: `net.ipv6.icmp.ratelimit` = 100 ms, the slowest case (a /128
    /// route back to us; wider routes are given more).
    pub const LINUX_V6: IcmpBudget = IcmpBudget {
        burst: 6,
        interval: Duration::from_millis(100),
    };

    /// The budget assumed for a target: Linux's, the slowest common one (FreeBSD and macOS
    /// limit only the total, at 200 and 250 a second).
    pub fn for_addr(ip: IpAddr) -> IcmpBudget {
        match ip {
            IpAddr::V4(_) => Self::LINUX_V4,
            IpAddr::V6(_) => Self::LINUX_V6,
        }
    }

    /// The spacing the engine keeps: a little more than `interval` (the kernel counts in
    /// jiffies of up to 10 ms).
    fn paced(&self) -> Duration {
        self.interval + self.interval / 20 + Duration::from_millis(5)
    }

    /// The longest `--closed-wait` can take on one host for `ports` ports that stayed silent
    /// in the first pass, if every one of them is closed: one ICMP error each, at this rate,
    /// from an empty bucket.
    pub fn closed_wait_time(&self, ports: u64) -> Duration {
        self.paced() * u32::try_from(ports).unwrap_or(u32::MAX)
    }
}

/// Builds a [`UdpScanner`].
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use portent_scan::udp::{EmptyDatagram, UdpScanner};
/// use portent_scan::{Event, PortSet, Targets};
/// let scanner = UdpScanner::builder(
///     Targets::from_addrs(["127.0.0.1".parse()?]),
///     PortSet::from_ports([53, 123]),
///     Arc::new(EmptyDatagram),
/// )
/// .closed_wait(true)
/// .build()?;
/// scanner
///     .run(|e| {
///         if let Event::Port(r) = e {
///             println!("{}/udp {} ({})", r.port, r.state, r.reason);
///         }
///     })
///     .await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UdpScannerBuilder {
    targets: Targets,
    ports: PortSet,
    payloads: Arc<dyn UdpPayloads>,
    timing: Timing,
    closed_wait: bool,
    icmp_budget: Option<IcmpBudget>,
    deadline: Option<Duration>,
    seed: Option<u64>,
}

impl std::fmt::Debug for UdpScannerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpScannerBuilder")
            .field("ports", &self.ports.len())
            .field("timing", &self.timing)
            .field("closed_wait", &self.closed_wait)
            .field("icmp_budget", &self.icmp_budget)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl UdpScannerBuilder {
    pub fn new(targets: Targets, ports: PortSet, payloads: Arc<dyn UdpPayloads>) -> Self {
        UdpScannerBuilder {
            targets,
            ports,
            payloads,
            timing: Timing::default(),
            closed_wait: false,
            icmp_budget: None,
            deadline: None,
            seed: None,
        }
    }

    /// All timing knobs at once (`threads` is ignored: one driver, on the caller's runtime).
    pub fn timing(mut self, t: Timing) -> Self {
        self.timing = t;
        self
    }

    /// Rounds after the first for a silent port (default 1).
    pub fn retries(mut self, n: u8) -> Self {
        self.timing.retries = n;
        self
    }

    /// At most `rate` probe rounds per second.
    pub fn rate(mut self, rate: Option<u32>) -> Self {
        self.timing.rate = rate;
        self
    }

    /// Probe the silent ports of hosts that send ICMP errors again, at their ICMP rate, until
    /// each is known closed or open|filtered.
    pub fn closed_wait(mut self, on: bool) -> Self {
        self.closed_wait = on;
        self
    }

    /// The targets' ICMP budget, instead of Linux's defaults per address family.
    pub fn icmp_budget(mut self, b: Option<IcmpBudget>) -> Self {
        self.icmp_budget = b;
        self
    }

    /// Stop after this long: ports with a silent round so far are `open|filtered`, ports not
    /// yet probed get no result (counted in [`Stats::cut_by_deadline`]).
    pub fn deadline(mut self, d: Option<Duration>) -> Self {
        self.deadline = d;
        self
    }

    /// A fixed order (reproducible tests); random by default.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub fn build(self) -> Result<UdpScanner, ConfigError> {
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
        if t.rate == Some(0) {
            return Err(ConfigError::OutOfBounds {
                what: "the rate",
                limit: "at least 1 probe per second",
                value: "0".into(),
            });
        }
        if let Some(b) = self.icmp_budget
            && (b.burst == 0 || b.interval.is_zero() || b.interval > Duration::from_secs(60))
        {
            return Err(ConfigError::OutOfBounds {
                what: "the ICMP budget",
                limit: "a burst of at least 1 and an interval between 1ms and 60s",
                value: format!("{} per {:?}", b.burst, b.interval),
            });
        }
        let seed = self.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ u64::from(std::process::id()).rotate_left(32)
        });
        Ok(UdpScanner {
            targets: self.targets,
            ports: self.ports.to_vec(),
            payloads: self.payloads,
            timing: self.timing,
            closed_wait: self.closed_wait,
            icmp_budget: self.icmp_budget,
            deadline: self.deadline,
            seed,
        })
    }
}

/// A configured UDP scan; [`run`](UdpScanner::run) performs it.
pub struct UdpScanner {
    targets: Targets,
    ports: Vec<u16>,
    payloads: Arc<dyn UdpPayloads>,
    timing: Timing,
    closed_wait: bool,
    icmp_budget: Option<IcmpBudget>,
    deadline: Option<Duration>,
    seed: u64,
}

impl std::fmt::Debug for UdpScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpScanner")
            .field("ports", &self.ports.len())
            .field("timing", &self.timing)
            .field("closed_wait", &self.closed_wait)
            .finish_non_exhaustive()
    }
}

/// One host as the driver sees it.
#[derive(Debug)]
struct Host {
    addr: IpAddr,
    rtt: RttEstimator,
    /// The current timeout in microseconds, read by rounds in flight.
    live: Arc<AtomicU64>,
    answers: u64,
    losses: u64,
    icmp: u64,
    counts: Counts,
    budget: IcmpBudget,
    /// `--closed-wait`: ports silent after the first pass, with their rounds so far.
    silent: VecDeque<(u16, u8)>,
    /// The modelled ICMP bucket (tokens, when last refilled) and rounds holding a token.
    tokens: f64,
    refilled: Instant,
    reserved: u32,
}

impl Host {
    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
        let per = self.budget.paced().as_secs_f64();
        self.tokens = (self.tokens + dt / per).min(f64::from(self.budget.burst));
        self.refilled = now;
    }

    /// When one more token than those held will be there.
    fn next_token(&self) -> Instant {
        let missing = (f64::from(self.reserved) + 1.0 - self.tokens).max(0.0);
        self.refilled + self.budget.paced().mul_f64(missing)
    }
}

#[derive(Debug, Clone, Copy)]
struct Probe {
    host: u32,
    port: u16,
    /// Rounds already made for this port.
    attempt: u8,
    silent_before: bool,
    /// A `--closed-wait` round, holding one of the host's ICMP tokens.
    paced: bool,
}

/// What one round saw.
#[derive(Debug)]
enum Outcome {
    /// Validated replies, one per answered probe.
    Answered(Vec<Reply>),
    /// An ICMP error (or its error number).
    Icmp {
        reason: Reason,
        rtt: Duration,
    },
    Silent,
    /// This machine would not send (no route, local firewall): final.
    Local(Reason),
    /// Out of a local resource (descriptors, buffers): try again later.
    Busy,
    /// Another local error.
    Failed,
}

#[derive(Debug)]
struct Reply {
    probe_id: usize,
    sent: Vec<u8>,
    reply: Vec<u8>,
    rtt: Duration,
}

#[derive(Debug)]
struct Done {
    probe: Probe,
    outcome: Outcome,
    unmatched: u64,
    duplicates: u64,
    icmp_seen: u64,
}

/// The per-group state of a run.
struct Run<'a, F: FnMut(Event)> {
    scanner: &'a UdpScanner,
    hosts: Vec<Host>,
    window: Window,
    stats: Stats,
    pacer: Option<Pacer>,
    spacing: Pacer,
    deadline: Option<Instant>,
    /// Rounds in flight, by (host, port): a port has at most one.
    in_flight: HashMap<(u32, u16), Probe>,
    emit: &'a mut F,
}

impl UdpScanner {
    pub fn builder(
        targets: Targets,
        ports: PortSet,
        payloads: Arc<dyn UdpPayloads>,
    ) -> UdpScannerBuilder {
        UdpScannerBuilder::new(targets, ports, payloads)
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The longest `--closed-wait` can add for this scan: every host's silent ports all
    /// closed, each waiting for its ICMP error at the host's rate. Hosts run in parallel (in
    /// groups of [`HOST_GROUP`]), so this is the slowest host's time per group.
    pub fn closed_wait_estimate(&self) -> Duration {
        let mut per_group = Duration::ZERO;
        for fam in [IpAddr::from([0u8; 4]), IpAddr::from([0u16; 8])] {
            let any = self.targets.iter().any(|a| a.is_ipv4() == fam.is_ipv4());
            if any {
                let b = self.icmp_budget.unwrap_or(IcmpBudget::for_addr(fam));
                per_group = per_group.max(b.closed_wait_time(self.ports.len() as u64));
            }
        }
        let groups = self.targets.len().div_ceil(HOST_GROUP as u64).max(1);
        per_group * u32::try_from(groups).unwrap_or(u32::MAX)
    }

    /// Runs the scan, calling `on_event` for each event in order. Must be called within a
    /// tokio runtime. Dropping the future stops the scan.
    pub async fn run(&self, mut on_event: impl FnMut(Event)) -> Stats {
        let started = Instant::now();
        #[cfg(unix)]
        let fd_limit = Some(limits::raise_nofile());
        #[cfg(not(unix))]
        let fd_limit: Option<u64> = None;
        let mut max_window = self.timing.max_window.max(1);
        if let Some(limit) = fd_limit {
            max_window = max_window.min(limits::budget(limit) as usize);
        }
        let hosts = self.targets.len();
        on_event(Event::Started {
            hosts,
            ports: self.ports.len(),
            total: hosts * self.ports.len() as u64,
            max_in_flight: max_window,
            fd_limit,
        });
        let mut run = Run {
            scanner: self,
            hosts: Vec::new(),
            window: Window::new(self.timing.initial_window.max(1), 8, max_window),
            stats: Stats::default(),
            pacer: self.timing.rate.map(|r| Pacer::new(r, Instant::now())),
            spacing: Pacer::with_interval(Duration::ZERO, Duration::from_millis(1), Instant::now()),
            deadline: self.deadline.map(|d| started + d),
            in_flight: HashMap::new(),
            emit: &mut on_event,
        };
        let mut addrs = self.targets.iter();
        let mut group_no = 0u64;
        loop {
            let group: Vec<IpAddr> = addrs.by_ref().take(HOST_GROUP).collect();
            if group.is_empty() {
                break;
            }
            group_no += 1;
            run.group(&group, group_no).await;
        }
        let stats = run.stats;
        on_event(Event::Finished {
            elapsed: started.elapsed(),
            stats,
        });
        stats
    }
}

impl<F: FnMut(Event)> Run<'_, F> {
    async fn group(&mut self, group: &[IpAddr], group_no: u64) {
        let t = &self.scanner.timing;
        let now = Instant::now();
        self.hosts = group
            .iter()
            .map(|&addr| Host {
                addr,
                rtt: RttEstimator::new(t.initial_timeout, t.min_timeout, t.max_timeout),
                live: Arc::new(AtomicU64::new(t.initial_timeout.as_micros() as u64)),
                answers: 0,
                losses: 0,
                icmp: 0,
                counts: Counts::default(),
                budget: self
                    .scanner
                    .icmp_budget
                    .unwrap_or(IcmpBudget::for_addr(addr)),
                silent: VecDeque::new(),
                tokens: 0.0,
                refilled: now,
                reserved: 0,
            })
            .collect();
        let ports = &self.scanner.ports;
        let perm = Permutation::new(
            group.len() as u64 * ports.len() as u64,
            self.scanner.seed ^ group_no.wrapping_mul(0x9e37_79b9),
        );
        self.first_pass(&perm).await;
        if self.scanner.closed_wait {
            self.closed_wait_pass().await;
        }
        for h in &self.hosts {
            (self.emit)(Event::HostDone {
                addr: h.addr,
                status: HostStatus::Assumed,
                counts: h.counts,
                srtt: h.rtt.srtt(),
            });
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Whether the pacers allow a round now; if not, when they will.
    fn pace(&mut self) -> Result<(), Instant> {
        let now = Instant::now();
        let due = [
            self.pacer.as_ref().map(|p| p.ready(now)),
            Some(self.spacing.ready(now)),
        ]
        .into_iter()
        .flatten()
        .filter_map(Result::err)
        .max();
        if let Some(at) = due {
            return Err(at);
        }
        if let Some(p) = self.pacer.as_mut() {
            let _ = p.take(now);
        }
        let _ = self.spacing.take(now);
        Ok(())
    }

    fn launch(&mut self, tasks: &mut JoinSet<Done>, probe: Probe) {
        let host = &self.hosts[probe.host as usize];
        let addr = SocketAddr::new(host.addr, probe.port);
        let t = &self.scanner.timing;
        let wait = match t.timeout {
            Some(d) => Wait::Fixed(d),
            None => Wait::Live {
                live: Arc::clone(&host.live),
                factor: if probe.attempt == 0 && !probe.paced {
                    1
                } else {
                    2
                },
                cap: t.max_timeout.max(t.initial_timeout) * 2,
            },
        };
        let payloads = Arc::clone(&self.scanner.payloads);
        self.stats.attempts += 1;
        self.in_flight.insert((probe.host, probe.port), probe);
        tasks.spawn(round(addr, payloads, wait, probe));
        self.stats.peak_in_flight = self.stats.peak_in_flight.max(tasks.len() as u64);
    }

    /// Waits for the next finished round, or until `wake`. `None`: woken, nothing finished.
    async fn next(tasks: &mut JoinSet<Done>, wake: Option<Instant>) -> Option<Vec<Done>> {
        let done = match (tasks.is_empty(), wake) {
            (true, Some(at)) => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                return None;
            }
            (true, None) => return Some(Vec::new()),
            (false, Some(at)) => tokio::select! {
                d = tasks.join_next() => d,
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => return None,
            },
            (false, None) => tasks.join_next().await,
        };
        let mut batch = Vec::new();
        if let Some(Ok(d)) = done {
            batch.push(d);
        }
        while let Some(Ok(d)) = tasks.try_join_next() {
            batch.push(d);
        }
        Some(batch)
    }

    async fn first_pass(&mut self, perm: &Permutation) {
        let n_hosts = self.hosts.len() as u64;
        let n_ports = self.scanner.ports.len();
        let mut next = 0u64;
        let mut retry: VecDeque<Probe> = VecDeque::new();
        let mut tasks: JoinSet<Done> = JoinSet::new();
        let mut pause_until: Option<Instant> = None;
        loop {
            if self.past_deadline() {
                drop(std::mem::take(&mut tasks));
                let mut left: Vec<Probe> = retry.drain(..).collect();
                left.extend(self.in_flight.drain().map(|(_, p)| p));
                self.cut(left, perm.len() - next);
                return;
            }
            let mut wake = self.deadline;
            if pause_until.is_some_and(|t| t <= Instant::now()) {
                pause_until = None;
            }
            if let Some(p) = pause_until {
                wake = Some(wake.map_or(p, |w| w.min(p)));
            }
            while pause_until.is_none() && tasks.len() < self.window.allowed() {
                let probe = match retry.pop_front() {
                    Some(p) => p,
                    None if next < perm.len() => {
                        let i = perm.get(next);
                        next += 1;
                        Probe {
                            host: (i % n_hosts) as u32,
                            port: self.scanner.ports[(i / n_hosts) as usize],
                            attempt: 0,
                            silent_before: false,
                            paced: false,
                        }
                    }
                    None => break,
                };
                if let Err(at) = self.pace() {
                    retry.push_front(probe);
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    break;
                }
                self.launch(&mut tasks, probe);
            }
            if tasks.is_empty() && retry.is_empty() && next >= perm.len() {
                return;
            }
            let Some(batch) = Self::next(&mut tasks, wake).await else {
                continue;
            };
            let settled = !batch.is_empty();
            for d in batch {
                let in_flight = tasks.len();
                if let Some(p) = self.settle(d, n_ports, in_flight, &mut pause_until) {
                    retry.push_back(p);
                }
            }
            if settled && let Some(iv) = self.window.pacing_interval() {
                self.spacing.set_interval(iv);
            }
        }
    }

    /// `--closed-wait`: the ports still silent, on hosts that do send ICMP errors, probed one
    /// ICMP token at a time.
    async fn closed_wait_pass(&mut self) {
        let now = Instant::now();
        let n_ports = self.scanner.ports.len();
        for h in &mut self.hosts {
            h.refilled = now;
            h.tokens = 0.0;
            h.reserved = 0;
        }
        // Hosts that never sent an ICMP error will not start now: their silent ports are final.
        for i in 0..self.hosts.len() {
            if self.hosts[i].icmp == 0 {
                let silent: Vec<(u16, u8)> = self.hosts[i].silent.drain(..).collect();
                for (port, rounds) in silent {
                    self.finish(i as u32, port, Reason::NoResponse, None, rounds);
                }
            }
        }
        let mut tasks: JoinSet<Done> = JoinSet::new();
        let mut retry: VecDeque<Probe> = VecDeque::new();
        let mut pause_until: Option<Instant> = None;
        let mut cursor = 0usize;
        loop {
            if self.past_deadline() {
                drop(std::mem::take(&mut tasks));
                let mut left: Vec<Probe> = retry.drain(..).collect();
                left.extend(self.in_flight.drain().map(|(_, p)| p));
                for (i, h) in self.hosts.iter_mut().enumerate() {
                    left.extend(h.silent.drain(..).map(|(port, attempt)| Probe {
                        host: i as u32,
                        port,
                        attempt,
                        silent_before: true,
                        paced: true,
                    }));
                }
                self.cut(left, 0);
                return;
            }
            let now = Instant::now();
            if pause_until.is_some_and(|t| t <= now) {
                pause_until = None;
            }
            let mut wake = self.deadline;
            if let Some(p) = pause_until {
                wake = Some(wake.map_or(p, |w| w.min(p)));
            }
            // Round-robin over hosts, each as far as its tokens allow.
            let n = self.hosts.len();
            let mut blocked = false;
            for k in 0..n {
                if pause_until.is_some() || tasks.len() >= self.window.allowed() {
                    break;
                }
                let i = (cursor + k) % n;
                loop {
                    if tasks.len() >= self.window.allowed() {
                        break;
                    }
                    let h = &mut self.hosts[i];
                    if h.silent.is_empty() && !retry.iter().any(|p| p.host as usize == i) {
                        break;
                    }
                    h.refill(Instant::now());
                    if h.tokens - f64::from(h.reserved) < 1.0 {
                        let at = h.next_token();
                        wake = Some(wake.map_or(at, |w| w.min(at)));
                        break;
                    }
                    let probe = if let Some(pos) = retry.iter().position(|p| p.host as usize == i) {
                        retry.remove(pos)
                    } else {
                        h.silent.pop_front().map(|(port, attempt)| Probe {
                            host: i as u32,
                            port,
                            attempt,
                            silent_before: true,
                            paced: true,
                        })
                    };
                    let Some(probe) = probe else { break };
                    if let Err(at) = self.pace() {
                        retry.push_front(probe);
                        wake = Some(wake.map_or(at, |w| w.min(at)));
                        blocked = true;
                        break;
                    }
                    self.hosts[i].reserved += 1;
                    self.launch(&mut tasks, probe);
                }
                if blocked {
                    break;
                }
            }
            cursor = cursor.wrapping_add(1);
            let pending = self.hosts.iter().any(|h| !h.silent.is_empty()) || !retry.is_empty();
            if tasks.is_empty() && !pending {
                return;
            }
            let Some(batch) = Self::next(&mut tasks, wake).await else {
                continue;
            };
            for d in batch {
                let h = &mut self.hosts[d.probe.host as usize];
                h.reserved = h.reserved.saturating_sub(1);
                if matches!(d.outcome, Outcome::Icmp { .. }) {
                    h.refill(Instant::now());
                    h.tokens -= 1.0;
                }
                let in_flight = tasks.len();
                if let Some(p) = self.settle(d, n_ports, in_flight, &mut pause_until) {
                    // Only a shortage brings a paced round back.
                    retry.push_back(p);
                }
            }
        }
    }

    /// Ports left when the deadline passed: those with a silent round are `open|filtered`,
    /// the others (and `unsent` never started) get no result.
    fn cut(&mut self, left: Vec<Probe>, unsent: u64) {
        self.stats.cut_by_deadline += unsent;
        for p in left {
            if p.silent_before {
                self.finish(p.host, p.port, Reason::NoResponse, None, p.attempt);
            } else {
                self.stats.cut_by_deadline += 1;
            }
        }
    }

    fn finish(&mut self, host: u32, port: u16, reason: Reason, rtt: Option<Duration>, rounds: u8) {
        let h = &mut self.hosts[host as usize];
        let state = reason.state();
        h.counts.add(state);
        (self.emit)(Event::Port(PortResult {
            addr: h.addr,
            port,
            protocol: Protocol::Udp,
            state,
            reason,
            rtt,
            attempts: rounds,
        }));
    }

    /// Books one round. Returns the probe again if it is to be retried.
    fn settle(
        &mut self,
        d: Done,
        n_ports: usize,
        in_flight: usize,
        pause_until: &mut Option<Instant>,
    ) -> Option<Probe> {
        let mut p = d.probe;
        self.in_flight.remove(&(p.host, p.port));
        self.stats.unmatched_replies += d.unmatched;
        self.stats.duplicate_replies += d.duplicates;
        self.stats.icmp_errors += d.icmp_seen;
        let rounds = p.attempt.saturating_add(1);
        if matches!(d.outcome, Outcome::Silent) {
            self.window.on_quiet();
        }
        let host = &mut self.hosts[p.host as usize];
        match d.outcome {
            Outcome::Answered(replies) => {
                let rtt = replies.iter().map(|r| r.rtt).min().unwrap_or_default();
                host.rtt.sample(rtt);
                host.live
                    .store(host.rtt.timeout().as_micros() as u64, Ordering::Relaxed);
                host.answers += 1;
                self.window.on_answer(rtt);
                // A reply that came only on a retry: the first round (or its reply) was lost.
                if p.silent_before && !p.paced {
                    host.losses += 1;
                    self.stats.losses += 1;
                    let srtt = host.rtt.srtt().unwrap_or(rtt);
                    if self.window.on_loss(Instant::now(), srtt) {
                        self.stats.backoffs += 1;
                    }
                }
                let addr = host.addr;
                for r in replies {
                    (self.emit)(Event::UdpReply {
                        addr,
                        port: p.port,
                        probe_id: r.probe_id,
                        sent: r.sent,
                        reply: r.reply,
                        rtt: r.rtt,
                    });
                }
                self.finish(p.host, p.port, Reason::UdpResponse, Some(rtt), rounds);
                None
            }
            Outcome::Icmp { reason, rtt } => {
                // An ICMP error after silence is the target's ICMP budget, not loss.
                host.rtt.sample(rtt);
                host.live
                    .store(host.rtt.timeout().as_micros() as u64, Ordering::Relaxed);
                host.answers += 1;
                host.icmp += 1;
                self.window.on_answer(rtt);
                self.finish(p.host, p.port, reason, Some(rtt), rounds);
                None
            }
            Outcome::Local(reason) => {
                self.finish(p.host, p.port, reason, None, rounds);
                None
            }
            Outcome::Silent | Outcome::Failed
                if !p.paced
                    && p.attempt
                        < retries_for_loss(
                            host.losses,
                            host.answers,
                            self.scanner.timing.retries,
                            n_ports,
                        ) =>
            {
                p.silent_before |= matches!(d.outcome, Outcome::Silent);
                p.attempt += 1;
                self.stats.retries += 1;
                Some(p)
            }
            Outcome::Silent => {
                if self.scanner.closed_wait && !p.paced {
                    host.silent.push_back((p.port, rounds));
                } else {
                    self.finish(p.host, p.port, Reason::NoResponse, None, rounds);
                }
                None
            }
            Outcome::Failed => {
                self.finish(p.host, p.port, Reason::Error, None, rounds);
                None
            }
            Outcome::Busy => {
                self.stats.deferred += 1;
                self.window.on_shortage(in_flight.max(1));
                if in_flight == 0 {
                    *pause_until = Some(Instant::now() + Duration::from_millis(10));
                }
                Some(p)
            }
        }
    }
}

/// How long a round waits for its first answer.
#[derive(Debug)]
enum Wait {
    Fixed(Duration),
    /// The host's current timeout (read again while waiting: rounds sent before the first
    /// answer start with the initial timeout and should not keep it), times `factor`.
    Live {
        live: Arc<AtomicU64>,
        factor: u32,
        cap: Duration,
    },
}

impl Wait {
    fn current(&self) -> Duration {
        match self {
            Wait::Fixed(d) => *d,
            Wait::Live { live, factor, cap } => {
                (Duration::from_micros(live.load(Ordering::Relaxed)) * *factor).min(*cap)
            }
        }
    }
}

/// What a round has seen so far.
#[derive(Debug)]
struct Seen {
    probes: Vec<UdpProbe>,
    /// Per probe, its reply (the first; repeats are folded).
    replies: Vec<Option<Reply>>,
    icmp: Option<(Reason, Duration)>,
    icmp_seen: u64,
    unmatched: u64,
    duplicates: u64,
    first_reply: Option<Instant>,
}

impl Seen {
    fn all_answered(&self) -> bool {
        self.replies.iter().all(Option::is_some)
    }

    fn any_answered(&self) -> bool {
        self.replies.iter().any(Option::is_some)
    }

    fn reply(&mut self, port: u16, payloads: &dyn UdpPayloads, data: &[u8], start: Instant) {
        let fits = |p: &UdpProbe| p.id == EMPTY_PROBE || payloads.accepts(port, p, data);
        let fresh =
            (0..self.probes.len()).find(|&i| self.replies[i].is_none() && fits(&self.probes[i]));
        match fresh {
            Some(i) => {
                let now = Instant::now();
                self.first_reply.get_or_insert(now);
                let n = data.len().min(MAX_REPLY);
                self.replies[i] = Some(Reply {
                    probe_id: self.probes[i].id,
                    sent: self.probes[i].bytes.clone(),
                    reply: data[..n].to_vec(),
                    rtt: now.duration_since(start),
                });
            }
            None if self.probes.iter().any(fits) => self.duplicates += 1,
            None => self.unmatched += 1,
        }
    }

    fn icmp(&mut self, reason: Reason, start: Instant) {
        self.icmp_seen += 1;
        if self.icmp.is_none() {
            self.icmp = Some((reason, start.elapsed()));
        }
    }
}

/// One round: a connected socket, every probe sent, then replies and errors read until an
/// answer or the timeout.
async fn round(addr: SocketAddr, payloads: Arc<dyn UdpPayloads>, wait: Wait, probe: Probe) -> Done {
    let mut probes = payloads.probes(addr.port());
    if probes.is_empty() {
        probes.push(UdpProbe {
            id: EMPTY_PROBE,
            bytes: Vec::new(),
        });
    }
    let mut seen = Seen {
        replies: probes.iter().map(|_| None).collect(),
        probes,
        icmp: None,
        icmp_seen: 0,
        unmatched: 0,
        duplicates: 0,
        first_reply: None,
    };
    let outcome = exchange(addr, &*payloads, &wait, &mut seen).await;
    Done {
        probe,
        outcome,
        unmatched: seen.unmatched,
        duplicates: seen.duplicates,
        icmp_seen: seen.icmp_seen,
    }
}

fn from_attempt(a: Attempt) -> Outcome {
    match a {
        Attempt::Busy(_) => Outcome::Busy,
        Attempt::Unreachable { reason, .. } => Outcome::Local(reason),
        Attempt::Failed(_) => Outcome::Failed,
        Attempt::Refused { rtt } => Outcome::Icmp {
            reason: Reason::PortUnreach,
            rtt,
        },
        Attempt::Open { .. } | Attempt::SelfConnect | Attempt::Timeout => Outcome::Failed,
    }
}

async fn exchange(
    addr: SocketAddr,
    payloads: &dyn UdpPayloads,
    wait: &Wait,
    seen: &mut Seen,
) -> Outcome {
    let start = Instant::now();
    let sock = match udp_socket(addr) {
        Ok(s) => s,
        Err(e) => return from_attempt(net::local_error(e)),
    };
    #[cfg(target_os = "linux")]
    errqueue::enable(&sock, addr);
    let peer = Peer {
        addr,
        any_port: payloads.any_source_port(addr.port()),
    };
    // Connected, the kernel takes only the port's own datagrams and reports its ICMP errors
    // as error numbers; a service that answers from another port needs the socket open.
    if !peer.any_port
        && let Err(e) = sock.connect(&addr.into())
    {
        return from_attempt(net::sync_error(e, start));
    }
    let sock = match UdpSocket::from_std(std::net::UdpSocket::from(sock)) {
        Ok(s) => s,
        Err(e) => return from_attempt(net::local_error(e)),
    };
    for i in 0..seen.probes.len() {
        let sent = if peer.any_port {
            sock.send_to(&seen.probes[i].bytes, addr).await
        } else {
            sock.send(&seen.probes[i].bytes).await
        };
        if let Err(e) = sent {
            // An ICMP error for an earlier datagram (on loopback it comes back during send())
            // is reported here; the drain below reads it in full.
            drain(&sock, peer, payloads, seen, start);
            if seen.icmp.is_some() || seen.any_answered() {
                break;
            }
            match error_reason(&e, true) {
                Some(reason) if reason == Reason::LocalDenied => return Outcome::Local(reason),
                Some(reason) => {
                    seen.icmp(reason, start);
                    break;
                }
                None => return from_attempt(net::local_error(e)),
            }
        }
    }
    drain(&sock, peer, payloads, seen, start);
    let mut spins = 0u32;
    loop {
        if let Some(o) = verdict(seen, false) {
            return o;
        }
        let now = Instant::now();
        let deadline = match seen.first_reply {
            // Replies to the other payloads are usually right behind the first.
            Some(t) => {
                let first = seen
                    .replies
                    .iter()
                    .flatten()
                    .map(|r| r.rtt)
                    .min()
                    .unwrap_or_default();
                t + (first * 2).clamp(Duration::from_millis(10), Duration::from_millis(250))
            }
            None => start + wait.current(),
        };
        if now >= deadline {
            return verdict(seen, true).unwrap_or(Outcome::Silent);
        }
        let wake = deadline.min(now + Duration::from_millis(100));
        tokio::select! {
            r = sock.ready(Interest::READABLE | Interest::ERROR) => {
                let Ok(r) = r else { return Outcome::Failed };
                // Read inside try_io, one interest at a time, so that readiness is cleared
                // only if nothing new came in meanwhile (tokio's try_io does not call the
                // closure for a combined interest).
                if r.is_readable() {
                    let _ = sock.try_io(Interest::READABLE, || {
                        drain(&sock, peer, payloads, seen, start);
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
                if r.is_error() {
                    drain(&sock, peer, payloads, seen, start);
                    let _ = sock.try_io(Interest::ERROR, || {
                        drain(&sock, peer, payloads, seen, start);
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
                spins += 1;
                if spins > 64 {
                    // Readiness that does not clear: fall back to looking every 10 ms.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                drain(&sock, peer, payloads, seen, start);
            }
        }
    }
}

/// The round's outcome if it is decided (`done`: the time is up).
fn verdict(seen: &mut Seen, done: bool) -> Option<Outcome> {
    if seen.all_answered() || (done && seen.any_answered()) {
        return Some(Outcome::Answered(
            seen.replies.iter_mut().filter_map(Option::take).collect(),
        ));
    }
    if !seen.any_answered()
        && let Some((reason, rtt)) = seen.icmp
    {
        return Some(Outcome::Icmp { reason, rtt });
    }
    if done {
        return Some(Outcome::Silent);
    }
    None
}

/// Reads everything the socket has: the ICMP error queue (Linux), then datagrams and pending
/// error numbers, until it would block.
/// Who a round talks to: the target, and whether its replies may come from any of its ports
/// (the socket is then not connected, and the source address is checked here).
#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    any_port: bool,
}

fn drain(
    sock: &UdpSocket,
    peer: Peer,
    payloads: &dyn UdpPayloads,
    seen: &mut Seen,
    start: Instant,
) {
    let port = peer.addr.port();
    #[cfg(target_os = "linux")]
    for (reason, _) in errqueue::read(sock) {
        if let Some(r) = reason {
            seen.icmp(r, start);
        }
    }
    let sref = SockRef::from(sock);
    let mut buf = vec![0u8; MAX_REPLY];
    // Bounded: a flood of datagrams must not hold the thread.
    for _ in 0..64 {
        let got = if peer.any_port {
            sock.try_recv_from(&mut buf)
                .map(|(n, from)| (from.ip() == peer.addr.ip()).then_some(n))
        } else {
            std::io::Read::read(&mut &*sref, &mut buf).map(Some)
        };
        match got {
            // A datagram from another address, on the unconnected socket: not the target's.
            Ok(None) => seen.unmatched += 1,
            Ok(Some(n)) => seen.reply(port, payloads, &buf[..n], start),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if net::errno(&e) == code::INTERRUPTED => {}
            Err(e) => match error_reason(&e, false) {
                // The error number of an ICMP error already read in full from the queue.
                Some(r) => {
                    if seen.icmp.is_none() {
                        seen.icmp(r, start);
                    }
                }
                None => break,
            },
        }
    }
}

/// The reason an error number on a connected UDP socket stands for, if it is an ICMP error
/// (`sending`: from `send()`, where EACCES/EPERM are this machine's refusal).
fn error_reason(e: &io::Error, sending: bool) -> Option<Reason> {
    use code::*;
    let n = net::errno(e);
    if n == NONE {
        return None;
    }
    Some(match n {
        REFUSED => Reason::PortUnreach,
        n if cfg!(windows) && n == CONN_RESET => Reason::PortUnreach,
        n if n == HOST_UNREACHABLE || n == HOST_DOWN || n == NO_NETWORK => {
            Reason::IcmpHostUnreachable
        }
        NET_UNREACHABLE => Reason::IcmpNetUnreachable,
        n if n == NO_PROTOCOL_OPTION || n == PROTOCOL => Reason::IcmpProtoUnreachable,
        n if (n == ACCESS || n == NOT_PERMITTED) && sending => Reason::LocalDenied,
        n if n == ACCESS || n == NOT_PERMITTED => Reason::IcmpAdminProhibited,
        _ => return None,
    })
}

/// A non-blocking UDP socket (close-on-exec; one system call where `socket()` takes the flag).
fn udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let domain = Domain::for_address(addr);
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "illumos"
    ))]
    let sock = Socket::new(
        domain,
        Type::DGRAM.nonblocking(),
        Some(socket2::Protocol::UDP),
    )?;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "illumos"
    )))]
    let sock = {
        let s = Socket::new(domain, Type::DGRAM, Some(socket2::Protocol::UDP))?;
        s.set_nonblocking(true)?;
        s
    };
    Ok(sock)
}

/// ICMP type and code to a reason: destination unreachable (IPv4 type 3, RFC 792 and RFC 1812
/// for codes 9-15; ICMPv6 type 1, RFC 4443). `None`: not about reaching the port (e.g.
/// "fragmentation needed", time exceeded).
pub fn icmp_reason(v6: bool, icmp_type: u8, code: u8) -> Option<Reason> {
    if v6 {
        if icmp_type != 1 {
            return None;
        }
        return Some(match code {
            0 => Reason::IcmpNetUnreachable,
            1 | 5 | 6 => Reason::IcmpAdminProhibited,
            2 | 3 => Reason::IcmpHostUnreachable,
            4 => Reason::PortUnreach,
            _ => return None,
        });
    }
    if icmp_type != 3 {
        return None;
    }
    Some(match code {
        0 | 6 | 11 => Reason::IcmpNetUnreachable,
        1 | 5 | 7 | 8 | 12 => Reason::IcmpHostUnreachable,
        2 => Reason::IcmpProtoUnreachable,
        3 => Reason::PortUnreach,
        9 | 10 | 13 | 14 | 15 => Reason::IcmpAdminProhibited,
        _ => return None,
    })
}

/// Linux's socket error queue. nix parses the `sock_extended_err` control messages
/// (`ControlMessageOwned::Ipv4RecvErr`/`Ipv6RecvErr`), so no control-message code of our own.
#[cfg(target_os = "linux")]
mod errqueue {
    use std::io::IoSliceMut;
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;

    use nix::sys::socket::{
        ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
    };

    use crate::model::Reason;

    /// Asks for ICMP errors on the error queue. Without it (an old kernel) only the error
    /// numbers are seen, as on other systems.
    pub(super) fn enable(sock: &socket2::Socket, addr: SocketAddr) {
        let _ = match addr {
            SocketAddr::V4(_) => setsockopt(sock, sockopt::Ipv4RecvErr, &true),
            SocketAddr::V6(_) => setsockopt(sock, sockopt::Ipv6RecvErr, &true),
        };
    }

    /// Every queued ICMP error: its reason (if it is about reaching the port) and
    /// (type, code).
    pub(super) fn read(sock: &impl AsRawFd) -> Vec<(Option<Reason>, (u8, u8))> {
        let mut out = Vec::new();
        // Bounded: the queue holds at most the socket's receive buffer.
        for _ in 0..16 {
            // The quoted datagram comes back as data; its start is enough (it is not used).
            let mut data = [0u8; 64];
            let mut iov = [IoSliceMut::new(&mut data)];
            let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
            let msg = match recvmsg::<SockaddrStorage>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_ERRQUEUE,
            ) {
                Ok(m) => m,
                Err(_) => break,
            };
            let Ok(cmsgs) = msg.cmsgs() else { continue };
            for c in cmsgs {
                let (v6, ee) = match c {
                    ControlMessageOwned::Ipv4RecvErr(ee, _) => (false, ee),
                    ControlMessageOwned::Ipv6RecvErr(ee, _) => (true, ee),
                    _ => continue,
                };
                let origin = if v6 {
                    libc::SO_EE_ORIGIN_ICMP6
                } else {
                    libc::SO_EE_ORIGIN_ICMP
                };
                if ee.ee_origin != origin {
                    continue;
                }
                out.push((
                    super::icmp_reason(v6, ee.ee_type, ee.ee_code),
                    (ee.ee_type, ee.ee_code),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;

    #[test]
    fn icmp_types_and_codes() {
        assert_eq!(icmp_reason(false, 3, 3), Some(Reason::PortUnreach));
        for c in [9, 10, 13] {
            assert_eq!(icmp_reason(false, 3, c), Some(Reason::IcmpAdminProhibited));
        }
        assert_eq!(icmp_reason(false, 3, 1), Some(Reason::IcmpHostUnreachable));
        assert_eq!(icmp_reason(false, 3, 0), Some(Reason::IcmpNetUnreachable));
        assert_eq!(icmp_reason(false, 3, 2), Some(Reason::IcmpProtoUnreachable));
        assert_eq!(icmp_reason(false, 3, 4), None, "fragmentation needed");
        assert_eq!(icmp_reason(false, 11, 0), None, "time exceeded");
        assert_eq!(icmp_reason(true, 1, 4), Some(Reason::PortUnreach));
        assert_eq!(icmp_reason(true, 1, 1), Some(Reason::IcmpAdminProhibited));
        assert_eq!(icmp_reason(true, 1, 3), Some(Reason::IcmpHostUnreachable));
        assert_eq!(icmp_reason(true, 3, 0), None);
        assert_eq!(Reason::PortUnreach.state(), State::Closed);
        assert_eq!(Reason::NoResponse.state(), State::OpenFiltered);
        assert_eq!(Reason::UdpResponse.state(), State::Open);
        assert_eq!(Reason::IcmpAdminProhibited.state(), State::Filtered);
    }

    #[test]
    fn closed_wait_time_is_one_interval_per_port() {
        let b = IcmpBudget::LINUX_V4;
        assert_eq!(b.closed_wait_time(0), Duration::ZERO);
        let t = b.closed_wait_time(100);
        assert!(
            (Duration::from_secs(100)..Duration::from_secs(112)).contains(&t),
            "{t:?}"
        );
        assert!(IcmpBudget::LINUX_V6.closed_wait_time(100) < Duration::from_secs(12));
    }
}
