//! The privileged SYN scan (`-sS`): half-open probes sent and read on raw sockets, in the
//! shape that lets masscan and zmap scale.
//!
//! - **Order.** The (address x port) index is walked through the same keyed permutation the
//!   connect engine's `--shard` uses ([`crate::order::Permutation`], filtered by
//!   [`Partition`]), so shards split SYN scans the same way.
//! - **Stateless validation.** The sequence number of each SYN is a keyed hash (SipHash, via
//!   std's `RandomState`, a fresh random key per run) of the 4-tuple. A reply counts only if it
//!   comes from a target address and a port in the plan, to our reserved source port, and its
//!   acknowledgement is that cookie + 1. Anything else (stray SYN-ACKs, replies from hosts that
//!   were not targets, stale cookies from an earlier run) is ignored: a forger who cannot see
//!   our SYNs has one chance in 2^32 per forged packet (the sequence number is 32 bits), and
//!   nothing learned from one run's cookies helps in the next (the key is new). std's hasher
//!   is SipHash-1-3 today; its algorithm is not promised, and any keyed hash of this quality
//!   would do.
//! - **State per probe: its answer, one chunk at a time.** The walk goes in chunks of
//!   `CHUNK` positions: a chunk's probes are sent, the silent ones sent again after a wait
//!   derived from the round trips seen, and its results reported before the next chunk's, so
//!   memory is that of one chunk (a slot per probe) for a scan of any size and results stream
//!   out chunk by chunk (each host's `HostDone` at the end). After the last round, silence is
//!   `filtered` (`no-response`).
//! - **The half-open connection is closed by the kernel.** The source port is reserved by
//!   binding an ordinary TCP socket to it (never listening), so no other program gets it and
//!   the kernel answers every SYN-ACK to it with a reset. No firewall rule is installed.
//! - **Raw sockets through socket2.** A raw IPv4 `IPPROTO_TCP` socket (the kernel writes the IP
//!   header, routes, and picks the interface) sends, and on Linux the same socket receives a
//!   copy of every incoming TCP segment. This needs no libpcap at build or run time (the pcap
//!   crate does) and no link-layer work (AF_PACKET would need ARP and the interface's MAC),
//!   and socket2 is already how the connect engine makes sockets. The 36-byte TCP header is
//!   written here by hand: a fixed layout and a ones'-complement sum are less code than an
//!   extra packet crate and its licence review, and the parser reads four fields.
//! - **ICMP errors.** A second raw socket (`IPPROTO_ICMP`) reads destination-unreachable
//!   errors. An error quotes the start of the packet that caused it: the inner IPv4 header
//!   and the first 8 bytes of our SYN, whose sequence number is the cookie. One counts only
//!   when that quoted SYN is one of ours (a target, our source address and port, a planned
//!   port, the right cookie), from whichever router sent it; it ends the port's retries with
//!   the reason the code says, read as the UDP scan reads it ([`crate::udp::icmp_reason`]):
//!   administratively prohibited, host or network unreachable are `filtered`; port
//!   unreachable is `closed`, as the connect scan (the kernel refuses the connection) says.
//! - **IPv6** the same way, on a raw `AF_INET6` `IPPROTO_TCP` socket and an ICMPv6 one (opened
//!   only when a target is IPv6). An IPv6 raw socket delivers the segment without the IP
//!   header, so the sender's address comes from `recvfrom` and the address it was sent to is
//!   not checked: the cookie covers it (it hashes the source address we sent from).
//!
//! The round trip reported for an open port comes from the TCP timestamp option: each SYN
//! carries the send time (µs since the scan began) as TSval, and a SYN-ACK echoes it in TSecr
//! (exact even after a retry); resets carry none.
//!
//! - **Pacing** by `--rate` and by a window (the connect scan's [`Window`], as a rate: window
//!   per round trip), which grows while round trips stay near the shortest seen and shrinks
//!   when they grow (queueing delay: a buffer on the path filling up before it drops). Round
//!   trips come from each probe's send time (kept per chunk position) and its answer's
//!   arrival, resets included. See `Pace`; the send buffer, when full, is waited for.
//! - **Checkpoints** (`scan --resume`): after each chunk every position below its end is
//!   final, which is what a [`WalkPoint`] says; a resumed scan starts at the chunk it names.
//!
//! Not yet: host discovery (every target is assumed up, as with `-Pn`).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};

use crate::checkpoint::WalkPoint;
use crate::engine::Timing;
use crate::error::ConfigError;
use crate::model::{Counts, Event, HostStatus, PortResult, Protocol, Reason, State, Stats};
use crate::order::Permutation;
use crate::ports::PortSet;
use crate::shard::{Partition, Shard};
use crate::targets::Targets;
use crate::timing::{Pacer, RttEstimator, Window};

/// How long a receiving thread's read waits before it looks at the stop flag and hands over
/// the answers it holds.
const READ_WAIT: Duration = Duration::from_millis(5);

/// Positions of the walk sent, retried and reported together: bounds the memory of a scan of
/// any size (a slot per position; peak RSS measured in docs/design.md) and lets results stream
/// out.
const CHUNK: u64 = 1 << 19;

/// Answers a receiving thread hands over at once: one channel message (and one wake-up of
/// the scan's thread) per batch, not per reply.
const BATCH: usize = 64;

/// The pacing window at the start ([`Pace`]): a rate of this many probes per round trip
/// until the round trips say otherwise. Larger than the connect scan's (512): a SYN costs no
/// descriptor, and slow start doubles it each round trip.
const SYN_WINDOW: usize = 2048;

/// TCP header length of our SYN: 20 bytes + MSS (4) + NOP NOP TIMESTAMP (12).
const SYN_LEN: usize = 36;

/// Builds a [`SynScanner`].
#[derive(Debug)]
pub struct SynScannerBuilder {
    targets: Targets,
    ports: PortSet,
    timing: Timing,
    seed: Option<u64>,
    shard: Option<(Shard, u64)>,
    checkpoints: bool,
    resume: Option<WalkPoint>,
}

impl SynScannerBuilder {
    pub fn new(targets: Targets, ports: PortSet) -> Self {
        SynScannerBuilder {
            targets,
            ports,
            timing: Timing::default(),
            seed: None,
            shard: None,
            checkpoints: false,
            resume: None,
        }
    }

    /// `--timeout` (a fixed wait after each round), `--retries` and `--rate` as the connect
    /// engine reads them.
    pub fn timing(mut self, t: Timing) -> Self {
        self.timing = t;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub fn shard(mut self, shard: Shard, partition_seed: u64) -> Self {
        self.shard = Some((shard, partition_seed));
        self
    }

    /// Emits an [`Event::Checkpoint`] after each chunk's results: every position of the walk
    /// below the chunk's end is then final. The points are the connect engine's
    /// ([`WalkPoint`]) with all targets as one group (a SYN scan has no host discovery), so
    /// `scan --resume` records and reads them the same way; the walk must be seeded
    /// ([`seed`](Self::seed)) for a resumed run to take the same order.
    pub fn checkpoints(mut self, on: bool) -> Self {
        self.checkpoints = on;
        self
    }

    /// Resumes at `point`: the walk starts at its position, unless the point is not one of
    /// this scan's (another number of targets): then at the start, said by the first
    /// checkpoint. Turns checkpoints on.
    pub fn resume_from(mut self, point: WalkPoint) -> Self {
        self.resume = Some(point);
        self.checkpoints = true;
        self
    }

    /// Checks the options and opens the raw socket: without CAP_NET_RAW this is where the
    /// scan stops, with [`ConfigError::SynPrivilege`], before anything is sent.
    pub fn build(self) -> Result<SynScanner, ConfigError> {
        if self.timing.retries > 10 {
            return Err(ConfigError::OutOfBounds {
                what: "retries",
                limit: "at most 10",
                value: self.timing.retries.to_string(),
            });
        }
        if self.timing.rate == Some(0) {
            return Err(ConfigError::OutOfBounds {
                what: "the rate",
                limit: "at least 1 probe per second",
                value: "0".into(),
            });
        }
        let targets: Vec<IpAddr> = self.targets.iter().collect();
        let any_v6 = targets.iter().any(IpAddr::is_ipv6);
        let raw = Socket::new(Domain::IPV4, Type::RAW, Some(SockProtocol::TCP)).map_err(|e| {
            if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                ConfigError::SynPrivilege
            } else {
                ConfigError::SynUnsupported {
                    why: format!("cannot open a raw socket: {e}"),
                }
            }
        })?;
        // A large receive buffer: a full-range scan's replies arrive in a burst.
        big_receive_buffer(&raw, 8 << 20);
        let _ = raw.set_send_buffer_size(4 << 20);
        let _ = raw.set_read_timeout(Some(READ_WAIT));
        // ICMP errors about our probes (same privilege as the TCP one).
        let icmp =
            Socket::new(Domain::IPV4, Type::RAW, Some(SockProtocol::ICMPV4)).map_err(|e| {
                ConfigError::SynUnsupported {
                    why: format!("cannot open a raw ICMP socket: {e}"),
                }
            })?;
        big_receive_buffer(&icmp, 1 << 20);
        let _ = icmp.set_read_timeout(Some(READ_WAIT));
        let v6 = if any_v6 {
            let open = |proto| {
                let s = Socket::new(Domain::IPV6, Type::RAW, Some(proto)).map_err(|e| {
                    ConfigError::SynUnsupported {
                        why: format!("cannot open a raw IPv6 socket: {e}"),
                    }
                })?;
                big_receive_buffer(&s, 8 << 20);
                let _ = s.set_send_buffer_size(4 << 20);
                let _ = s.set_read_timeout(Some(READ_WAIT));
                Ok::<_, ConfigError>(s)
            };
            Some(V6Sockets {
                tcp: Arc::new(open(SockProtocol::TCP)?),
                icmp: Arc::new(open(SockProtocol::ICMPV6)?),
            })
        } else {
            None
        };
        // The reserved source port: bound, never listening (see the module header); on both
        // families when IPv6 targets are scanned (a dual-stack socket).
        let reserve = if any_v6 {
            Socket::new(Domain::IPV6, Type::STREAM, Some(SockProtocol::TCP)).and_then(|s| {
                s.set_only_v6(false)?;
                s.bind(&SockAddr::from(SocketAddr::from((
                    Ipv6Addr::UNSPECIFIED,
                    0,
                ))))?;
                Ok(s)
            })
        } else {
            Socket::new(Domain::IPV4, Type::STREAM, Some(SockProtocol::TCP)).and_then(|s| {
                s.bind(&SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))?;
                Ok(s)
            })
        }
        .map_err(|e| ConfigError::SynUnsupported {
            why: format!("cannot reserve a source port: {e}"),
        })?;
        let sport = reserve
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .ok_or_else(|| ConfigError::SynUnsupported {
                why: "cannot read the reserved source port".into(),
            })?;
        // The source address for each target, as the kernel's routing would pick it: a UDP
        // socket's connect() sends nothing.
        let mut sources = Vec::with_capacity(targets.len());
        for a in &targets {
            let any = if a.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
            let src = UdpSocket::bind(any)
                .and_then(|u| {
                    u.connect(SocketAddr::new(*a, 9))?;
                    u.local_addr()
                })
                .map_err(|e| ConfigError::SynUnsupported {
                    why: format!("no route to {a}: {e}"),
                })?;
            sources.push(src.ip());
        }
        let seed = self.seed.unwrap_or_else(|| {
            let h = std::collections::hash_map::RandomState::new();
            h.hash_one(0u8)
        });
        Ok(SynScanner {
            targets,
            sources,
            ports: self.ports.to_vec(),
            timing: self.timing,
            seed,
            shard: self.shard,
            checkpoints: self.checkpoints,
            resume: self.resume,
            raw: Arc::new(raw),
            icmp: Arc::new(icmp),
            v6,
            _reserve: reserve,
            sport,
            key: std::collections::hash_map::RandomState::new(),
        })
    }
}

/// A configured SYN scan; [`run`](SynScanner::run) performs it.
#[derive(Debug)]
pub struct SynScanner {
    targets: Vec<IpAddr>,
    /// The address each target's probes are sent from (the routing table's choice).
    sources: Vec<IpAddr>,
    ports: Vec<u16>,
    timing: Timing,
    seed: u64,
    shard: Option<(Shard, u64)>,
    checkpoints: bool,
    resume: Option<WalkPoint>,
    raw: Arc<Socket>,
    /// Reads ICMP errors about our probes.
    icmp: Arc<Socket>,
    /// The IPv6 pair, when a target is IPv6.
    v6: Option<V6Sockets>,
    _reserve: Socket,
    sport: u16,
    /// The run's cookie key (SipHash with random keys).
    key: std::collections::hash_map::RandomState,
}

#[derive(Debug)]
struct V6Sockets {
    tcp: Arc<Socket>,
    icmp: Arc<Socket>,
}

/// Which raw socket a receiving thread reads, and so what it parses.
#[derive(Debug, Clone, Copy)]
enum Listen {
    Tcp4,
    Icmp4,
    Tcp6,
    Icmp6,
}

/// A validated reply.
#[derive(Debug, Clone, Copy)]
struct Answer {
    index: u64,
    /// `SynAck`, `Reset`, or the ICMP error's reason.
    reason: Reason,
    rtt: Option<Duration>,
    /// When it was read, in µs since the scan began (for pacing: see [`Pace`]).
    at: u32,
}

impl SynScanner {
    pub fn builder(targets: Targets, ports: PortSet) -> SynScannerBuilder {
        SynScannerBuilder::new(targets, ports)
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The source port probes are sent from.
    pub fn source_port(&self) -> u16 {
        self.sport
    }

    fn cookie(&self, src: IpAddr, dst: IpAddr, dport: u16) -> u32 {
        cookie(&self.key, src, self.sport, dst, dport)
    }

    /// Runs the scan, calling `on_event` for each event in order (the same events as the
    /// connect engine). Must be called within a tokio runtime: sending and receiving run on
    /// two blocking threads. Dropping the future stops the scan.
    pub async fn run(self: &Arc<Self>, mut on_event: impl FnMut(Event)) -> Stats {
        let started = Instant::now();
        let hosts = self.targets.len() as u64;
        let nports = self.ports.len() as u64;
        let partition = self
            .shard
            .map(|(s, seed)| Partition::new(s, hosts, nports, seed));
        let pairs_of = |h: u64| partition.as_ref().map_or(nports, |p| p.pairs_of(h));
        on_event(Event::Started {
            hosts,
            ports: self.ports.len(),
            total: (0..hosts).map(pairs_of).sum(),
            // Nothing bounds probes in flight but the rate: a round sends every pair.
            max_in_flight: usize::try_from(hosts.saturating_mul(nports)).unwrap_or(usize::MAX),
            fd_limit: None,
        });
        for (h, a) in self.targets.iter().enumerate() {
            on_event(Event::Host {
                addr: *a,
                status: HostStatus::Assumed,
                ports: pairs_of(h as u64),
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Answer>>();
        let me = Arc::clone(self);
        let stop_r = Arc::clone(&stop);
        let ignored = Arc::new(AtomicU64::new(0));
        let ignored_r = Arc::clone(&ignored);
        let mut kinds = vec![Listen::Tcp4, Listen::Icmp4];
        if self.v6.is_some() {
            kinds.extend([Listen::Tcp6, Listen::Icmp6]);
        }
        let receivers: Vec<_> = kinds
            .into_iter()
            .map(|kind| {
                let (me, stop, ignored, tx) = (
                    Arc::clone(&me),
                    Arc::clone(&stop_r),
                    Arc::clone(&ignored_r),
                    tx.clone(),
                );
                tokio::task::spawn_blocking(move || me.listen(kind, started, &stop, &ignored, &tx))
            })
            .collect();
        drop(tx);
        // Stops the threads if this future is dropped.
        let _guard = StopOnDrop(Arc::clone(&stop));

        let total = hosts * nports;
        let mut stats = Stats::default();
        let pace = Arc::new(std::sync::Mutex::new(Pace::new(&self.timing)));
        let perm = Permutation::new(total, self.seed);
        let mut counts = vec![Counts::default(); self.targets.len()];
        let mut planned = 0u64;
        // All targets are one group of the walk (see `checkpoints`).
        let mark = |position| {
            Event::Checkpoint(WalkPoint {
                group: 1,
                position,
                live: hosts,
            })
        };
        // The walk in chunks of CHUNK positions: each chunk's probes are sent, retried and
        // reported before the next, so memory stays that of one chunk however large the
        // scan, and results stream out chunk by chunk.
        let mut from = match self.resume {
            Some(r) if r.group == 1 && r.live == hosts => r.position.min(total),
            // Past the last group: the walk was complete.
            Some(r) if r.group > 1 && r.live == 0 => total,
            _ => 0,
        };
        if self.resume.is_some() {
            on_event(mark(from));
        }
        while from < total {
            let to = (from + CHUNK).min(total);
            let mine: Arc<[u64]> = (from..to)
                .map(|i| perm.get(i))
                .filter(|g| {
                    partition
                        .as_ref()
                        .is_none_or(|p| p.contains(g / nports, g % nports))
                })
                .collect();
            from = to;
            if mine.is_empty() {
                if self.checkpoints {
                    on_event(mark(to));
                }
                continue;
            }
            planned += mine.len() as u64;
            let mut answers = ChunkAnswers::new(&mine);
            let rounds = 1 + u32::from(self.timing.retries);
            let mut attempts_of = 0u8;
            for round in 0..rounds {
                let todo: Vec<u32> = (0..mine.len() as u32)
                    .filter(|&i| answers.waiting(i))
                    .collect();
                if todo.is_empty() {
                    break;
                }
                attempts_of = round as u8 + 1;
                let me = Arc::clone(self);
                let (stop_s, sent_s, pace_s) =
                    (Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&pace));
                let (chunk, sent_at) = (Arc::clone(&mine), Arc::clone(&answers.sent_at));
                let sender = tokio::task::spawn_blocking(move || {
                    me.send(&chunk, &todo, &sent_at, started, &stop_s, &sent_s, &pace_s)
                });
                // Take answers while sending.
                let mut sender = std::pin::pin!(sender);
                loop {
                    tokio::select! {
                        _ = &mut sender => break,
                        Some(batch) = rx.recv() => answers.take(batch, round, &pace, &mut stats),
                    }
                }
                // Wait for the round's stragglers: a fixed --timeout, or the timeout RFC 6298
                // derives from the round trips seen (within --min/--max-rtt-timeout; doubled
                // for retries), or the initial timeout before any answer. Over as soon as
                // every probe has its answer.
                let wait = self.timing.timeout.unwrap_or_else(|| {
                    lock(&pace)
                        .rtt
                        .map_or(self.timing.initial_timeout, |e| e.timeout_for(round as u8))
                });
                let until = tokio::time::Instant::now() + wait;
                while answers.got < mine.len() {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => break,
                        Some(batch) = rx.recv() => answers.take(batch, round, &pace, &mut stats),
                    }
                }
            }
            // Answers already read and queued count too.
            while let Ok(batch) = rx.try_recv() {
                // As during the last round sent.
                answers.take(
                    batch,
                    u32::from(attempts_of.saturating_sub(1)),
                    &pace,
                    &mut stats,
                );
            }
            for (i, g) in mine.iter().enumerate() {
                let (h, p) = ((g / nports) as usize, (g % nports) as usize);
                let (addr, port) = (self.targets[h], self.ports[p]);
                let r = match answers.answers[i] {
                    Some(a) => PortResult {
                        addr,
                        port,
                        protocol: Protocol::Tcp,
                        state: a.reason.state(),
                        reason: a.reason,
                        rtt: a.rtt,
                        attempts: attempts_of.max(1),
                    },
                    None => PortResult {
                        addr,
                        port,
                        protocol: Protocol::Tcp,
                        state: State::Filtered,
                        reason: Reason::Timeout,
                        rtt: None,
                        attempts: attempts_of.max(1),
                    },
                };
                counts[h].add(r.state);
                on_event(Event::Port(r));
            }
            if self.checkpoints {
                on_event(mark(to));
            }
        }
        stop.store(true, Ordering::Relaxed);
        for r in receivers {
            let _ = r.await;
        }
        let srtt = lock(&pace).rtt.and_then(|e| e.srtt());
        stats.backoffs = lock(&pace).cuts;
        for (h, c) in counts.into_iter().enumerate() {
            on_event(Event::HostDone {
                addr: self.targets[h],
                status: HostStatus::Assumed,
                counts: c,
                srtt,
            });
        }
        // The walk is done, as the connect engine says it after its last group.
        if self.checkpoints {
            on_event(Event::Checkpoint(WalkPoint {
                group: 2,
                position: 0,
                live: 0,
            }));
        }
        stats.attempts = sent.load(Ordering::Relaxed);
        stats.retries = stats.attempts.saturating_sub(planned);
        stats.unmatched_replies = ignored.load(Ordering::Relaxed);
        on_event(Event::Finished {
            elapsed: started.elapsed(),
            stats,
        });
        stats
    }

    /// Sends one SYN for each position `todo` of the chunk, paced by `--rate` and by the
    /// window ([`Pace`]), backing off when the send buffer is full; stamps each position's
    /// send time in `sent_at`.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        chunk: &[u64],
        todo: &[u32],
        sent_at: &[AtomicU32],
        started: Instant,
        stop: &AtomicBool,
        sent: &AtomicU64,
        pace: &std::sync::Mutex<Pace>,
    ) {
        let nports = self.ports.len() as u64;
        let now = Instant::now();
        let mut rate = self.timing.rate.map(|r| Pacer::new(r, now));
        // The window spread over a round trip, in bursts of at most 1 ms (as the connect
        // engine paces); unpaced until the first answer tells a round trip.
        let mut spacing = Pacer::with_interval(Duration::ZERO, Duration::from_millis(1), now);
        let mut buf = [0u8; SYN_LEN];
        for (n, &i) in todo.iter().enumerate() {
            if n % 32 == 0
                && let Some(iv) = lock(pace).window.pacing_interval()
            {
                spacing.set_interval(iv);
            }
            loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let now = Instant::now();
                let due = [
                    rate.as_ref().map(|p| p.ready(now)),
                    Some(spacing.ready(now)),
                ]
                .into_iter()
                .flatten()
                .filter_map(Result::err)
                .max();
                match due {
                    Some(at) => std::thread::sleep(at - now),
                    None => {
                        if let Some(p) = rate.as_mut() {
                            let _ = p.take(now);
                        }
                        let _ = spacing.take(now);
                        break;
                    }
                }
            }
            let Some(&g) = chunk.get(i as usize) else {
                continue;
            };
            let (h, p) = ((g / nports) as usize, (g % nports) as usize);
            let (dst, src, dport) = (self.targets[h], self.sources[h], self.ports[p]);
            let ts = started.elapsed().as_micros() as u32;
            if let Some(at) = sent_at.get(i as usize) {
                at.store(ts, Ordering::Relaxed);
            }
            syn_segment(
                &mut buf,
                src,
                dst,
                self.sport,
                dport,
                self.cookie(src, dst, dport),
                ts,
            );
            let to = SockAddr::from(SocketAddr::new(dst, 0));
            let sock = match (&self.v6, dst) {
                (Some(v6), IpAddr::V6(_)) => &v6.tcp,
                _ => &self.raw,
            };
            let mut tries = 0;
            loop {
                match sock.send_to(&buf, &to) {
                    Ok(_) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    // The send buffer is full: let it drain.
                    Err(e)
                        if tries < 1000
                            && matches!(
                                e.raw_os_error(),
                                Some(libc::ENOBUFS) | Some(libc::EAGAIN)
                            ) =>
                    {
                        tries += 1;
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    // Unreachable from here (no route, local firewall): silence, reported
                    // as filtered after the retries.
                    Err(_) => break,
                }
            }
        }
    }

    /// Reads one raw socket until `stop`, passing on the replies and ICMP errors that are
    /// about one of our SYNs (see the module header); anything else addressed to our port is
    /// counted as ignored (a forged, stale or stray packet).
    fn listen(
        &self,
        kind: Listen,
        started: Instant,
        stop: &AtomicBool,
        ignored: &AtomicU64,
        tx: &tokio::sync::mpsc::UnboundedSender<Vec<Answer>>,
    ) {
        let sock = match (kind, &self.v6) {
            (Listen::Tcp4, _) => &self.raw,
            (Listen::Icmp4, _) => &self.icmp,
            (Listen::Tcp6, Some(v6)) => &v6.tcp,
            (Listen::Icmp6, Some(v6)) => &v6.icmp,
            _ => return,
        };
        let hosts: HashMap<IpAddr, usize> = self
            .targets
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, i))
            .collect();
        let mut port_at = vec![u32::MAX; 65536];
        for (i, p) in self.ports.iter().enumerate() {
            port_at[*p as usize] = i as u32;
        }
        let nports = self.ports.len() as u64;
        let mut buf = [0u8; 2048];
        let mut batch = Vec::with_capacity(BATCH);
        // Hands over what is held: when a batch is full, and whenever a read waited in vain
        // (the burst is over), so no answer waits longer than READ_WAIT.
        let flush = |batch: &mut Vec<Answer>| {
            if !batch.is_empty() {
                let _ = tx.send(std::mem::replace(batch, Vec::with_capacity(BATCH)));
            }
        };
        while !stop.load(Ordering::Relaxed) {
            // nix's recvfrom: the sender's address into an initialized buffer (socket2's
            // wants uninitialized memory, which safe code cannot read back).
            let Ok((n, from)) = nix::sys::socket::recvfrom::<nix::sys::socket::SockaddrStorage>(
                sock.as_raw_fd(),
                &mut buf,
            ) else {
                flush(&mut batch);
                continue;
            };
            let Some(pkt) = buf.get(..n) else {
                continue;
            };
            let at = started.elapsed().as_micros() as u32;
            let from = from.and_then(|a| {
                a.as_sockaddr_in6()
                    .map(|a| IpAddr::V6(a.ip()))
                    .or_else(|| a.as_sockaddr_in().map(|a| IpAddr::V4(a.ip())))
            });
            let heard = match kind {
                Listen::Tcp4 => parse_reply(pkt).map(Heard::Segment),
                Listen::Tcp6 => from
                    .and_then(|src| parse_segment(src, None, pkt))
                    .map(Heard::Segment),
                Listen::Icmp4 => parse_icmp_error(pkt).map(Heard::Icmp),
                Listen::Icmp6 => parse_icmp6_error(pkt).map(Heard::Icmp),
            };
            let answer = match heard {
                Some(Heard::Segment(r)) if r.dport == self.sport => {
                    hosts.get(&r.src).and_then(|&h| {
                        let p = port_at[r.sport as usize];
                        let expect = self.cookie(self.sources[h], r.src, r.sport).wrapping_add(1);
                        let open = r.syn && r.ack_flag && !r.rst;
                        let ok = p != u32::MAX
                            && r.dst.is_none_or(|d| d == self.sources[h])
                            && r.ack == expect
                            && (open || r.rst);
                        let rtt = r.tsecr.filter(|_| open).map(|echo| {
                            let now = started.elapsed().as_micros() as u32;
                            Duration::from_micros(u64::from(now.wrapping_sub(echo)))
                        });
                        ok.then(|| Answer {
                            index: h as u64 * nports + u64::from(p),
                            reason: if open { Reason::SynAck } else { Reason::Reset },
                            rtt,
                            at,
                        })
                    })
                }
                Some(Heard::Icmp(e)) if e.sport == self.sport => hosts.get(&e.dst).and_then(|&h| {
                    let p = port_at[e.dport as usize];
                    let ours = p != u32::MAX
                        && e.src == self.sources[h]
                        && e.seq == self.cookie(e.src, e.dst, e.dport);
                    let reason = crate::udp::icmp_reason(e.v6, e.icmp_type, e.code)?;
                    ours.then(|| Answer {
                        index: h as u64 * nports + u64::from(p),
                        reason,
                        rtt: None,
                        at,
                    })
                }),
                // Not about our port (other programs' traffic): not counted.
                _ => continue,
            };
            match answer {
                Some(a) => {
                    batch.push(a);
                    if batch.len() >= BATCH {
                        flush(&mut batch);
                    }
                }
                None => {
                    ignored.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        flush(&mut batch);
    }
}

/// What a receiving thread parsed.
enum Heard {
    Segment(Reply),
    Icmp(IcmpError),
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One chunk's answers by position in the chunk. A late answer about an earlier chunk finds
/// no slot: its port was reported already.
struct ChunkAnswers {
    /// Walk index -> position in the chunk.
    at: HashMap<u64, u32>,
    answers: Vec<Option<Answer>>,
    /// When each position's latest SYN went out (µs since the scan began; written by the
    /// sending thread): with an answer's arrival, a round trip for pacing.
    sent_at: Arc<[AtomicU32]>,
    /// Positions answered.
    got: usize,
}

impl ChunkAnswers {
    fn new(mine: &[u64]) -> ChunkAnswers {
        ChunkAnswers {
            at: mine
                .iter()
                .enumerate()
                .map(|(i, g)| (*g, i as u32))
                .collect(),
            answers: vec![None; mine.len()],
            sent_at: (0..mine.len()).map(|_| AtomicU32::new(0)).collect(),
            got: 0,
        }
    }

    /// Whether position `i` still waits for its answer.
    fn waiting(&self, i: u32) -> bool {
        self.answers.get(i as usize).is_some_and(Option::is_none)
    }

    /// Takes a batch of answers during round `round` (0: the first SYNs'). The first
    /// answer to a first SYN is a round-trip sample for [`Pace`] (Karn's rule: after a retry
    /// it is not known which SYN was answered); a first answer during a later round is a
    /// loss (the earlier SYN or its answer never arrived), counted as the connect scan does.
    fn take(
        &mut self,
        batch: Vec<Answer>,
        round: u32,
        pace: &std::sync::Mutex<Pace>,
        stats: &mut Stats,
    ) {
        let mut samples = Vec::new();
        for a in batch {
            let Some(&i) = self.at.get(&a.index) else {
                continue;
            };
            let Some(slot) = self.answers.get_mut(i as usize) else {
                continue;
            };
            // The first answer stands (a retransmission's duplicate says the same).
            if slot.is_some() {
                continue;
            }
            *slot = Some(a);
            self.got += 1;
            if round == 0 {
                let sent = self.sent_at[i as usize].load(Ordering::Relaxed);
                samples.push(Duration::from_micros(u64::from(a.at.wrapping_sub(sent))));
            } else {
                stats.losses += 1;
            }
        }
        if !samples.is_empty() {
            lock(pace).answered(&samples, Instant::now());
        }
    }
}

/// The SYN scan's pacing, shared by the scan's task, which feeds it round trips, and the
/// sending thread, which asks it how fast to send. A SYN scan keeps no connection per probe,
/// so nothing counts what is in flight; the window sets a rate instead (window / round trip,
/// [`Window::pacing_interval`]), and since silence is what filtered ports give, the signal to
/// slow down is not silence but queueing delay ([`Window::on_delay`]): round trips growing
/// past the shortest seen. Measured in docs/benchmarks.md (issue 17): sending unpaced into
/// the 20 ms lab line filled its queue (round trips to 170 ms) and lost up to a quarter of
/// the probes.
#[derive(Debug)]
struct Pace {
    window: Window,
    /// RFC 6298's estimate, for the wait at the end of a round.
    rtt: Option<RttEstimator>,
    /// The shortest round trip seen: the path without queues.
    base: Option<Duration>,
    min_timeout: Duration,
    max_timeout: Duration,
    initial_timeout: Duration,
    /// Times the window was cut.
    cuts: u64,
}

impl Pace {
    fn new(t: &Timing) -> Pace {
        Pace {
            window: Window::new(SYN_WINDOW, 64, CHUNK as usize),
            rtt: None,
            base: None,
            min_timeout: t.min_timeout,
            max_timeout: t.max_timeout,
            initial_timeout: t.initial_timeout,
            cuts: 0,
        }
    }

    fn answered(&mut self, samples: &[Duration], now: Instant) {
        for &r in samples {
            // A round trip beyond 10 s is a wrapped clock: not a sample.
            if r > Duration::from_secs(10) {
                continue;
            }
            let base = *self.base.get_or_insert(r);
            let base = base.min(r);
            self.base = Some(base);
            self.rtt
                .get_or_insert_with(|| {
                    RttEstimator::new(self.initial_timeout, self.min_timeout, self.max_timeout)
                })
                .sample(r);
            if self.window.on_delay(r, base, now) {
                self.cuts += 1;
            }
        }
    }
}

/// A lock that a panic elsewhere cannot poison for good: the pacing state stays usable.
fn lock(pace: &std::sync::Mutex<Pace>) -> std::sync::MutexGuard<'_, Pace> {
    pace.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Asks for a receive buffer of `bytes`: a full-range scan's replies come in a burst, and
/// what the buffer cannot hold is lost (and sent again a round later). SO_RCVBUF is capped at
/// net.core.rmem_max (208 KiB by default, a few hundred replies); SO_RCVBUFFORCE, allowed
/// with CAP_NET_ADMIN (root has it), is not. Without it, the capped size.
fn big_receive_buffer(sock: &Socket, bytes: usize) {
    if nix::sys::socket::setsockopt(sock, nix::sys::socket::sockopt::RcvBufForce, &bytes).is_err() {
        let _ = sock.set_recv_buffer_size(bytes);
    }
}

/// The SYN cookie: SipHash (std's, keyed at random per run) of the 4-tuple.
fn cookie(
    key: &std::collections::hash_map::RandomState,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
) -> u32 {
    let mut h = key.build_hasher();
    h.write(&octets(src));
    h.write_u16(sport);
    h.write(&octets(dst));
    h.write_u16(dport);
    h.finish() as u32
}

/// An address's bytes (4 or 16), in network order.
fn octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Writes a SYN with MSS 1460 and a timestamp option into `buf`, checksum included.
fn syn_segment(
    buf: &mut [u8; SYN_LEN],
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    tsval: u32,
) {
    buf.fill(0);
    buf[0..2].copy_from_slice(&sport.to_be_bytes());
    buf[2..4].copy_from_slice(&dport.to_be_bytes());
    buf[4..8].copy_from_slice(&seq.to_be_bytes());
    buf[12] = ((SYN_LEN / 4) as u8) << 4;
    buf[13] = 0x02; // SYN
    buf[14..16].copy_from_slice(&64240u16.to_be_bytes());
    // Options: MSS 1460; NOP NOP; timestamp (kind 8, len 10) TSval, TSecr 0.
    buf[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    buf[24..28].copy_from_slice(&[1, 1, 8, 10]);
    buf[28..32].copy_from_slice(&tsval.to_be_bytes());
    let sum = tcp_checksum(src, dst, buf);
    buf[16..18].copy_from_slice(&sum.to_be_bytes());
}

/// The TCP checksum over the pseudo-header (IPv4: RFC 793; IPv6: RFC 8200 section 8.1) and
/// the segment (RFC 1071).
fn tcp_checksum(src: IpAddr, dst: IpAddr, seg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += u32::from(w);
        }
    };
    add(&octets(src));
    add(&octets(dst));
    match src {
        IpAddr::V4(_) => {
            add(&[0, 6]);
            add(&(seg.len() as u16).to_be_bytes());
        }
        IpAddr::V6(_) => {
            add(&(seg.len() as u32).to_be_bytes());
            add(&[0, 0, 0, 6]);
        }
    }
    add(seg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The fields of an incoming TCP segment the validation reads.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    src: IpAddr,
    /// The address it was sent to, when the socket tells (IPv4 raw sockets give the header).
    dst: Option<IpAddr>,
    sport: u16,
    dport: u16,
    ack: u32,
    syn: bool,
    ack_flag: bool,
    rst: bool,
    tsecr: Option<u32>,
}

/// Parses an IPv4 packet carrying TCP (as a raw socket delivers it); `None` for anything
/// short or malformed.
fn parse_reply(pkt: &[u8]) -> Option<Reply> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    if pkt.first()? >> 4 != 4 || ihl < 20 || *pkt.get(9)? != 6 {
        return None;
    }
    let ip4 = |o: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = pkt.get(o..o + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    let (src, dst) = (ip4(12)?, ip4(16)?);
    parse_segment(IpAddr::V4(src), Some(IpAddr::V4(dst)), pkt.get(ihl..)?)
}

/// The fields of a TCP segment from `src` (to `dst`, when known).
fn parse_segment(src: IpAddr, dst: Option<IpAddr>, tcp: &[u8]) -> Option<Reply> {
    if tcp.len() < 20 {
        return None;
    }
    let off = usize::from(tcp[12] >> 4) * 4;
    let flags = tcp[13];
    let opts = tcp.get(20..off.max(20))?;
    Some(Reply {
        src,
        dst,
        sport: u16::from_be_bytes([tcp[0], tcp[1]]),
        dport: u16::from_be_bytes([tcp[2], tcp[3]]),
        ack: u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]),
        syn: flags & 0x02 != 0,
        ack_flag: flags & 0x10 != 0,
        rst: flags & 0x04 != 0,
        tsecr: timestamp_echo(opts),
    })
}

/// The fields of an ICMP error about a TCP segment: its type and code, and from the segment
/// it quotes, the addresses, ports and sequence number.
#[derive(Debug, PartialEq, Eq)]
struct IcmpError {
    /// ICMPv6 (its types and codes differ).
    v6: bool,
    icmp_type: u8,
    code: u8,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
}

/// Parses an IPv4 ICMP destination-unreachable packet quoting a TCP segment (RFC 792: the
/// quoted IP header and at least 8 bytes of its data); `None` for anything else.
fn parse_icmp_error(pkt: &[u8]) -> Option<IcmpError> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    if pkt.first()? >> 4 != 4 || ihl < 20 || *pkt.get(9)? != 1 {
        return None;
    }
    let icmp = pkt.get(ihl..)?;
    let (icmp_type, code) = (*icmp.first()?, *icmp.get(1)?);
    if icmp_type != 3 {
        return None;
    }
    let inner = icmp.get(8..)?;
    let inner_ihl = usize::from(*inner.first()? & 0x0f) * 4;
    if inner.first()? >> 4 != 4 || inner_ihl < 20 || *inner.get(9)? != 6 {
        return None;
    }
    let ip4 = |o: usize| -> Option<Ipv4Addr> {
        let b: [u8; 4] = inner.get(o..o + 4)?.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    let (src, dst) = (IpAddr::V4(ip4(12)?), IpAddr::V4(ip4(16)?));
    quoted(false, icmp_type, code, src, dst, inner.get(inner_ihl..)?)
}

/// Parses an ICMPv6 destination-unreachable message (as an ICMPv6 raw socket delivers it,
/// without the IPv6 header) quoting a TCP segment right after the quoted IPv6 header (RFC
/// 4443); `None` for anything else, extension headers included.
fn parse_icmp6_error(msg: &[u8]) -> Option<IcmpError> {
    let (icmp_type, code) = (*msg.first()?, *msg.get(1)?);
    if icmp_type != 1 {
        return None;
    }
    let inner = msg.get(8..)?;
    if inner.first()? >> 4 != 6 || *inner.get(6)? != 6 {
        return None;
    }
    let ip6 = |o: usize| -> Option<IpAddr> {
        let b: [u8; 16] = inner.get(o..o + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(b)))
    };
    quoted(true, icmp_type, code, ip6(8)?, ip6(24)?, inner.get(40..)?)
}

/// An ICMP error's fields from the first 8 bytes of the TCP segment it quotes.
fn quoted(
    v6: bool,
    icmp_type: u8,
    code: u8,
    src: IpAddr,
    dst: IpAddr,
    tcp: &[u8],
) -> Option<IcmpError> {
    let tcp = tcp.get(..8)?;
    Some(IcmpError {
        v6,
        icmp_type,
        code,
        src,
        dst,
        sport: u16::from_be_bytes([tcp[0], tcp[1]]),
        dport: u16::from_be_bytes([tcp[2], tcp[3]]),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
    })
}

/// TSecr of a timestamp option, if the options carry one.
fn timestamp_echo(mut opts: &[u8]) -> Option<u32> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = &opts[1..],
            _ => {
                let len = usize::from(*opts.get(1)?);
                if len < 2 {
                    return None;
                }
                let o = opts.get(..len)?;
                if kind == 8 && len == 10 {
                    return Some(u32::from_be_bytes([o[6], o[7], o[8], o[9]]));
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn checksum_verifies_to_zero() {
        let v4: (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let v6: (IpAddr, IpAddr) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        for (s, d) in [v4, v6] {
            let mut b = [0u8; SYN_LEN];
            syn_segment(&mut b, s, d, 40000, 80, 0xdead_beef, 1234);
            // Summing a segment with its checksum in place gives 0 (complemented).
            assert_eq!(tcp_checksum(s, d, &b), 0);
            assert_eq!(timestamp_echo(&b[20..]), Some(0));
        }
        // A known IPv6 sum, worked by hand: the pseudo-header is the addresses, the length
        // as 32 bits and the next header; one byte differs from IPv4's layout.
        let (s, d) = v6;
        let seg = [0u8; 20];
        // fd00 + fd00 + 1 + 2 + 20 + 6 = 0x1fa1d -> 0xfa1e; complemented: 0x05e1.
        assert_eq!(tcp_checksum(s, d, &seg), 0x05e1);
    }

    #[test]
    fn parses_a_syn_ack_and_its_echo() {
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 1));
        let mut tcp = [0u8; SYN_LEN];
        syn_segment(&mut tcp, s.into(), d.into(), 80, 40000, 7, 99);
        tcp[8..12].copy_from_slice(&42u32.to_be_bytes());
        tcp[13] = 0x12;
        tcp[32..36].copy_from_slice(&555u32.to_be_bytes());
        let mut pkt = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 6, 0, 0];
        pkt.extend_from_slice(&s.octets());
        pkt.extend_from_slice(&d.octets());
        pkt.extend_from_slice(&tcp);
        let r = parse_reply(&pkt).unwrap();
        assert_eq!(
            (r.src, r.dst, r.sport, r.dport, r.ack),
            (IpAddr::V4(s), Some(IpAddr::V4(d)), 80, 40000, 42)
        );
        assert!(r.syn && r.ack_flag && !r.rst);
        assert_eq!(r.tsecr, Some(555));
        assert!(parse_reply(&pkt[..30]).is_none());
    }

    #[test]
    fn parses_an_icmp_error_quoting_our_syn() {
        let (me, target, router) = (
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            Ipv4Addr::new(10, 0, 9, 9),
        );
        let mut syn = [0u8; SYN_LEN];
        syn_segment(
            &mut syn,
            me.into(),
            target.into(),
            40000,
            25,
            0xfeed_f00d,
            1,
        );
        let ip = |proto: u8, src: Ipv4Addr, dst: Ipv4Addr| {
            let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
            h.extend_from_slice(&src.octets());
            h.extend_from_slice(&dst.octets());
            h
        };
        let mut pkt = ip(1, router, me);
        pkt.extend_from_slice(&[3, 13, 0, 0, 0, 0, 0, 0]);
        pkt.extend_from_slice(&ip(6, me, target));
        pkt.extend_from_slice(&syn[..8]);
        let e = parse_icmp_error(&pkt).unwrap();
        assert_eq!(
            e,
            IcmpError {
                v6: false,
                icmp_type: 3,
                code: 13,
                src: me.into(),
                dst: target.into(),
                sport: 40000,
                dport: 25,
                seq: 0xfeed_f00d
            }
        );
        // Short of the quoted 8 bytes, another ICMP type, or quoting UDP: not one.
        assert!(parse_icmp_error(&pkt[..pkt.len() - 1]).is_none());
        let mut echo = pkt.clone();
        echo[20] = 0;
        assert!(parse_icmp_error(&echo).is_none());
        let mut udp = pkt.clone();
        udp[28 + 9] = 17;
        assert!(parse_icmp_error(&udp).is_none());

        // ICMPv6 (no IPv6 header from the raw socket): destination unreachable, code 1
        // (administratively prohibited), quoting the IPv6 header and the SYN's first bytes.
        let (me6, target6): (IpAddr, IpAddr) =
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let mut msg = vec![1, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&[0x60, 0, 0, 0, 0, 36, 6, 64]);
        msg.extend_from_slice(&octets(me6));
        msg.extend_from_slice(&octets(target6));
        msg.extend_from_slice(&syn[..8]);
        let e = parse_icmp6_error(&msg).unwrap();
        assert_eq!(
            (e.v6, e.code, e.src, e.dst, e.sport, e.dport, e.seq),
            (true, 1, me6, target6, 40000, 25, 0xfeed_f00d)
        );
        let mut hop = msg.clone();
        hop[8 + 6] = 0; // a hop-by-hop header first: not read
        assert!(parse_icmp6_error(&hop).is_none());
        assert!(parse_icmp6_error(&msg[..msg.len() - 1]).is_none());
    }

    #[test]
    fn cookies_depend_on_every_field_and_the_key() {
        let k = std::collections::hash_map::RandomState::new();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let c = cookie(&k, a, 1, b, 80);
        assert_eq!(c, cookie(&k, a, 1, b, 80));
        let others = [
            cookie(&k, b, 1, b, 80),
            cookie(&k, a, 2, b, 80),
            cookie(&k, a, 1, a, 80),
            cookie(&k, a, 1, b, 81),
            cookie(&std::collections::hash_map::RandomState::new(), a, 1, b, 80),
        ];
        assert!(others.iter().all(|o| *o != c), "{c} {others:?}");
    }
}
