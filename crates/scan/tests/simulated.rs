//! The engine's timing logic against a simulated network on tokio's paused clock: exact
//! results, retries for silence, back-off when retries reveal loss, RTT-derived timeouts,
//! `--rate`, and local shortages (EMFILE) that must slow the scan down, never stop it.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use portent_scan::checkpoint::WalkPoint;
use portent_scan::{
    Attempt, Discovery, Event, HostStatus, Network, PortSet, Reason, Scanner, Shard, State, Stats,
    Targets, Timing,
};

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Open,
    Closed,
    Silent,
    Icmp,
    /// The first `n` attempts are lost, then the port answers closed.
    LoseFirst(usize),
}

struct SimNet {
    rtt: Duration,
    ports: HashMap<(IpAddr, u16), Behaviour>,
    default: Behaviour,
    tries: Mutex<HashMap<(IpAddr, u16), usize>>,
    in_flight: AtomicUsize,
    /// Attempts beyond this many at once fail with EMFILE.
    fd_cap: Option<usize>,
}

impl SimNet {
    fn new(rtt_ms: u64, default: Behaviour) -> SimNet {
        SimNet {
            rtt: Duration::from_millis(rtt_ms),
            ports: HashMap::new(),
            default,
            tries: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            fd_cap: None,
        }
    }
    fn set(mut self, addr: &str, port: u16, b: Behaviour) -> Self {
        self.ports.insert((addr.parse().unwrap(), port), b);
        self
    }
}

struct Guard<'a>(&'a AtomicUsize);
impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Network for SimNet {
    async fn connect(&self, addr: SocketAddr, timeout: Duration) -> Attempt {
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _g = Guard(&self.in_flight);
        if self.fd_cap.is_some_and(|cap| n > cap) {
            return Attempt::Busy(std::io::Error::from_raw_os_error(24));
        }
        let key = (addr.ip(), addr.port());
        let b = *self.ports.get(&key).unwrap_or(&self.default);
        let try_no = {
            let mut t = self.tries.lock().unwrap();
            let e = t.entry(key).or_default();
            *e += 1;
            *e
        };
        let answered = match b {
            Behaviour::Silent => false,
            Behaviour::LoseFirst(k) => try_no > k,
            _ => true,
        };
        if !answered || self.rtt >= timeout {
            tokio::time::sleep(timeout).await;
            return Attempt::Timeout;
        }
        tokio::time::sleep(self.rtt).await;
        match b {
            Behaviour::Open => Attempt::Open { rtt: self.rtt },
            Behaviour::Icmp => Attempt::Unreachable {
                reason: Reason::IcmpHostUnreachable,
                rtt: self.rtt,
            },
            _ => Attempt::Refused { rtt: self.rtt },
        }
    }
}

async fn run(net: SimNet, hosts: &[&str], ports: PortSet, timing: Timing) -> (Vec<Event>, Stats) {
    let targets = Targets::from_addrs(hosts.iter().map(|h| h.parse::<IpAddr>().unwrap()));
    // Discovery is tested on its own; elsewhere it would disturb the per-port try counts.
    let discovery = if hosts.len() == 1 {
        Discovery::Off
    } else {
        Discovery::Auto
    };
    let scanner = Scanner::builder(targets, ports)
        .timing(timing)
        .discovery(discovery)
        .seed(7)
        .network(net)
        .build()
        .unwrap();
    let mut events = Vec::new();
    let stats = scanner.run(|e| events.push(e)).await;
    (events, stats)
}

fn results(events: &[Event]) -> BTreeMap<(IpAddr, u16), (State, Reason, u8)> {
    let mut m = BTreeMap::new();
    for e in events {
        if let Event::Port(r) = e {
            assert!(
                m.insert((r.addr, r.port), (r.state, r.reason, r.attempts))
                    .is_none()
            );
        }
    }
    m
}

#[tokio::test(start_paused = true)]
async fn exact_states_and_retries_for_silence() {
    let net = SimNet::new(20, Behaviour::Closed)
        .set("192.0.2.1", 797, Behaviour::Open)
        .set("192.0.2.1", 770, Behaviour::Silent)
        .set("192.0.2.1", 22, Behaviour::Icmp)
        .set("192.0.2.1", 80, Behaviour::LoseFirst(1));
    let timing = Timing {
        retries: 2,
        ..Timing::default()
    };
    let (ev, stats) = run(net, &["192.0.2.1"], PortSet::from_ports(1..=1000), timing).await;
    let r = results(&ev);
    assert_eq!(r.len(), 1000);
    let addr: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(r[&(addr, 797)], (State::Open, Reason::SynAck, 1));
    assert_eq!(r[&(addr, 770)], (State::Filtered, Reason::Timeout, 3));
    assert_eq!(r[&(addr, 22)].0, State::Filtered);
    assert_eq!(r[&(addr, 22)].1, Reason::IcmpHostUnreachable);
    assert_eq!(r[&(addr, 80)], (State::Closed, Reason::Reset, 2));
    assert_eq!(r.values().filter(|v| v.0 == State::Closed).count(), 997);
    assert_eq!(stats.losses, 1, "{stats:?}");
    assert_eq!(stats.retries, 3, "770 twice, 80 once: {stats:?}");
    // The host's smoothed RTT converged on the simulated 20 ms.
    let srtt = ev.iter().find_map(|e| match e {
        Event::HostDone { srtt, .. } => *srtt,
        _ => None,
    });
    let srtt = srtt.unwrap();
    assert!(
        (Duration::from_millis(19)..=Duration::from_millis(21)).contains(&srtt),
        "{srtt:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn timeouts_come_from_the_rtt_estimate() {
    // 200 ms RTT: a silent port must wait long enough for the slow host (no false filtered),
    // and not the 1 s initial timeout once RTTs are known.
    let net = SimNet::new(200, Behaviour::Closed).set("192.0.2.1", 5000, Behaviour::Silent);
    let timing = Timing {
        retries: 0,
        initial_window: 4,
        max_window: 4,
        ..Timing::default()
    };
    let started = tokio::time::Instant::now();
    let (ev, _) = run(
        net,
        &["192.0.2.1"],
        PortSet::from_ports(4990..=5010),
        timing,
    )
    .await;
    let r = results(&ev);
    let addr: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(
        r.values().filter(|v| v.0 == State::Closed).count(),
        20,
        "{r:?}"
    );
    assert_eq!(r[&(addr, 5000)].1, Reason::Timeout);
    // 21 ports, 4 at a time, 200 ms each: about 6 rounds.
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn losses_halve_the_window() {
    // Every port loses its first attempt: a lossy path. The window must come down.
    let net = SimNet::new(10, Behaviour::LoseFirst(1));
    let timing = Timing {
        retries: 3,
        initial_window: 256,
        max_window: 4096,
        ..Timing::default()
    };
    let (ev, stats) = run(net, &["192.0.2.9"], PortSet::from_ports(1..=4000), timing).await;
    let r = results(&ev);
    assert_eq!(r.len(), 4000);
    assert!(r.values().all(|v| v.0 == State::Closed && v.2 == 2));
    assert_eq!(stats.losses, 4000);
    assert!(stats.backoffs >= 3, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn rate_caps_attempts_per_second() {
    let net = SimNet::new(1, Behaviour::Closed);
    let timing = Timing {
        rate: Some(500),
        ..Timing::default()
    };
    let started = tokio::time::Instant::now();
    let (ev, stats) = run(net, &["192.0.2.1"], PortSet::from_ports(1..=1000), timing).await;
    assert_eq!(results(&ev).len(), 1000);
    assert_eq!(stats.attempts, 1000);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took <= Duration::from_millis(2200), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn descriptor_shortage_slows_down_and_never_aborts() {
    let mut net = SimNet::new(5, Behaviour::Closed).set("192.0.2.1", 443, Behaviour::Open);
    net.fd_cap = Some(100);
    let timing = Timing {
        initial_window: 1000,
        max_window: 5000,
        ..Timing::default()
    };
    let (ev, stats) = run(net, &["192.0.2.1"], PortSet::all(), timing).await;
    let r = results(&ev);
    assert_eq!(r.len(), 65535);
    assert_eq!(r.values().filter(|v| v.0 == State::Open).count(), 1);
    assert!(stats.deferred > 0);
    assert!(stats.peak_in_flight <= 1001, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn hosts_are_interleaved_and_discovery_skips_silent_hosts() {
    let mut net = SimNet::new(2, Behaviour::Closed);
    for p in portent_scan::DISCOVERY_PORTS {
        net = net.set("192.0.2.3", p, Behaviour::Silent);
    }
    // 192.0.2.3 answers nothing on the discovery ports, but would on others: skipped anyway.
    let hosts = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
    let (ev, _) = run(net, &hosts, PortSet::from_ports(1..=300), Timing::default()).await;
    let r = results(&ev);
    assert_eq!(r.len(), 600);
    let statuses: Vec<(IpAddr, HostStatus)> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Host { addr, status, .. } => Some((*addr, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.len(), 3);
    assert_eq!(
        statuses[2],
        ("192.0.2.3".parse().unwrap(), HostStatus::Down)
    );
    // Interleaving: in the first 100 results both live hosts appear many times.
    let first: Vec<IpAddr> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Port(r) => Some(r.addr),
            _ => None,
        })
        .take(100)
        .collect();
    let a = first
        .iter()
        .filter(|a| a.to_string() == "192.0.2.1")
        .count();
    assert!((20..=80).contains(&a), "{a}");

    // --no-ping scans every address.
    let net = SimNet::new(2, Behaviour::Closed);
    let targets = Targets::from_addrs(hosts.iter().map(|h| h.parse::<IpAddr>().unwrap()));
    let scanner = Scanner::builder(targets, PortSet::from_ports(1..=10))
        .discovery(Discovery::Off)
        .network(net)
        .build()
        .unwrap();
    let mut n = 0;
    scanner
        .run(|e| n += usize::from(matches!(e, Event::Port(_))))
        .await;
    assert_eq!(n, 30);
}

#[tokio::test(start_paused = true)]
async fn attempts_in_flight_follow_the_estimate_down() {
    // All 50 attempts leave before any answer, with the 1 s initial timeout. Once answers show
    // a 20 ms host, the silent one must give up near the 100 ms floor, not at 1 s.
    let net = SimNet::new(20, Behaviour::Closed).set("192.0.2.1", 25, Behaviour::Silent);
    let timing = Timing {
        retries: 0,
        ..Timing::default()
    };
    let started = tokio::time::Instant::now();
    let (ev, _) = run(net, &["192.0.2.1"], PortSet::from_ports(1..=50), timing).await;
    let r = results(&ev);
    assert_eq!(r[&("192.0.2.1".parse().unwrap(), 25)].1, Reason::Timeout);
    let took = started.elapsed();
    assert!(took < Duration::from_millis(300), "{took:?}");
}

#[tokio::test]
async fn several_threads_share_the_work_exactly() {
    // Real time (driver threads have their own runtimes), 1 ms RTT.
    let net = SimNet::new(1, Behaviour::Closed)
        .set("192.0.2.1", 797, Behaviour::Open)
        .set("192.0.2.2", 770, Behaviour::Open)
        .set("192.0.2.2", 771, Behaviour::Icmp);
    let targets = Targets::from_addrs(["192.0.2.1", "192.0.2.2"].map(|h| h.parse().unwrap()));
    let scanner = Scanner::builder(targets, PortSet::from_ports(1..=3000))
        .threads(3)
        .discovery(Discovery::Off)
        .network(net)
        .build()
        .unwrap();
    let mut events = Vec::new();
    let stats = scanner.run(|e| events.push(e)).await;
    let r = results(&events);
    assert_eq!(r.len(), 6000);
    assert_eq!(stats.attempts, 6000);
    let open: Vec<(IpAddr, u16)> = r
        .iter()
        .filter(|(_, v)| v.0 == State::Open)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(
        open,
        [
            ("192.0.2.1".parse().unwrap(), 797),
            ("192.0.2.2".parse().unwrap(), 770)
        ]
    );
    assert_eq!(r[&("192.0.2.2".parse().unwrap(), 771)].0, State::Filtered);
    let done: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::HostDone { counts, .. } => Some(counts.total()),
            _ => None,
        })
        .collect();
    assert_eq!(done, [3000, 3000]);
}

/// The network of the resume tests: open, closed, silent (retried, so results finish out of
/// order) and lossy ports on two hosts. A new one per run: its loss counts per port restart.
fn resume_net(rtt_ms: u64) -> SimNet {
    let mut net = SimNet::new(rtt_ms, Behaviour::Closed);
    for host in ["192.0.2.1", "192.0.2.2"] {
        for port in 1..=400u16 {
            let b = match port % 37 {
                0 => Behaviour::Silent,
                5 => Behaviour::Open,
                11 => Behaviour::LoseFirst(1),
                17 => Behaviour::Icmp,
                _ => continue,
            };
            net = net.set(host, port, b);
        }
    }
    net
}

type Found = BTreeMap<(IpAddr, u16), (State, Reason)>;
type Kept = Vec<(IpAddr, u16, State, Reason)>;

/// Port results before the last checkpoint of an interrupted run (what a store would hold),
/// and that checkpoint.
fn checkpointed(events: &[Event]) -> (Kept, Option<WalkPoint>) {
    let mut kept = Vec::new();
    let mut pending = Vec::new();
    let mut point = None;
    for e in events {
        match e {
            Event::Port(r) => pending.push((r.addr, r.port, r.state, r.reason)),
            Event::Checkpoint(p) => {
                kept.append(&mut pending);
                point = Some(*p);
            }
            _ => {}
        }
    }
    (kept, point)
}

/// Scans `resume_net` killed at `kills` (milliseconds after each start; the future dropped, as
/// on kill -9 nothing past the last checkpoint survives), resuming from the last checkpoint
/// each time, then to the end: returns every kept result, asserting each pair came once.
async fn interrupted_scan(
    threads: usize,
    shard: Option<Shard>,
    kills: &[u64],
    rtt_ms: u64,
    timing: Timing,
) -> (Found, usize) {
    let mut found = Found::new();
    let mut point: Option<WalkPoint> = None;
    let mut resumed_midway = 0;
    for (i, kill) in kills.iter().map(Some).chain([None]).enumerate() {
        let targets = Targets::from_addrs(["192.0.2.1", "192.0.2.2"].map(|h| h.parse().unwrap()));
        let mut b = Scanner::builder(targets, PortSet::from_ports(1..=400))
            .timing(Timing { threads, ..timing })
            .discovery(Discovery::Off)
            .seed(11)
            .network(resume_net(rtt_ms));
        if let Some(s) = shard {
            b = b.shard(s, 99);
        }
        b = match point {
            Some(p) => b.resume_from(p),
            None => b.checkpoints(true),
        };
        let scanner = b.build().unwrap();
        let mut events = Vec::new();
        let run = scanner.run(|e| events.push(e));
        match kill {
            Some(ms) => {
                let _ = tokio::time::timeout(Duration::from_millis(*ms), run).await;
            }
            None => {
                let stats = run.await;
                assert!(matches!(events.last(), Some(Event::Finished { .. })));
                // The resumed run probed only the pairs it reports: none below its point.
                let delivered = events
                    .iter()
                    .filter(|e| matches!(e, Event::Port(_)))
                    .count() as u64;
                assert_eq!(
                    stats.attempts - stats.retries,
                    delivered,
                    "run {i}: {stats:?}"
                );
            }
        }
        let (kept, at) = if kill.is_some() {
            checkpointed(&events)
        } else {
            let all = events
                .iter()
                .filter_map(|e| match e {
                    Event::Port(r) => Some((r.addr, r.port, r.state, r.reason)),
                    _ => None,
                })
                .collect();
            (all, None)
        };
        for (addr, port, state, reason) in kept {
            assert!(
                found.insert((addr, port), (state, reason)).is_none(),
                "run {i}: {addr}:{port} twice"
            );
        }
        if let Some(p) = at {
            assert!(point.is_none_or(|q| p >= q), "checkpoints move forward");
            if p.position > 0 {
                resumed_midway += 1;
            }
            point = Some(p);
        }
    }
    (found, resumed_midway)
}

async fn whole_scan(threads: usize, shard: Option<Shard>, rtt_ms: u64, timing: Timing) -> Found {
    let targets = Targets::from_addrs(["192.0.2.1", "192.0.2.2"].map(|h| h.parse().unwrap()));
    let mut b = Scanner::builder(targets, PortSet::from_ports(1..=400))
        .timing(Timing { threads, ..timing })
        .discovery(Discovery::Off)
        .seed(11)
        .network(resume_net(rtt_ms));
    if let Some(s) = shard {
        b = b.shard(s, 99);
    }
    let mut events = Vec::new();
    b.build().unwrap().run(|e| events.push(e)).await;
    let mut m = Found::new();
    for e in events {
        if let Event::Port(r) = e {
            assert!(m.insert((r.addr, r.port), (r.state, r.reason)).is_none());
        }
    }
    m
}

/// A seeded generator for kill points (xorshift64*); the seed is printed.
fn kill_points(seed: u64, n: usize, below_ms: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            1 + x.wrapping_mul(0x2545_f491_4f6c_dd1d) % below_ms
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_scan_killed_and_resumed_from_checkpoints_loses_nothing_and_repeats_nothing() {
    let timing = Timing {
        initial_window: 16,
        max_window: 16,
        ..Timing::default()
    };
    let whole = whole_scan(1, None, 5, timing).await;
    assert_eq!(whole.len(), 800);
    let mut midway = 0;
    for seed in [1u64, 2, 3, 4, 5] {
        println!("kill seed {seed}");
        // The whole scan takes a few seconds of the paused clock: kills inside it.
        let kills = kill_points(seed, 4, 1500);
        let (found, m) = interrupted_scan(1, None, &kills, 5, timing).await;
        assert_eq!(found, whole, "kill seed {seed}, kills {kills:?}");
        midway += m;
    }
    assert!(
        midway >= 5,
        "only {midway} kills fell after a checkpoint inside the walk"
    );
    // A shard resumed gives the shard's pairs, each once.
    let shard = Shard::new(2, 3).unwrap();
    let whole = whole_scan(1, Some(shard), 5, timing).await;
    let (found, _) = interrupted_scan(1, Some(shard), &kill_points(9, 3, 600), 5, timing).await;
    assert_eq!(found, whole);
    assert!(!whole.is_empty() && whole.len() < 800);
}

#[tokio::test]
async fn several_threads_resume_at_the_strided_watermark() {
    // Real time: each driver thread has its own runtime. A fixed 30 ms timeout for silence.
    let timing = Timing {
        timeout: Some(Duration::from_millis(30)),
        initial_window: 8,
        max_window: 8,
        ..Timing::default()
    };
    let whole = whole_scan(3, None, 1, timing).await;
    assert_eq!(whole.len(), 800);
    let seed = 21;
    println!("kill seed {seed}");
    let kills = kill_points(seed, 4, 300);
    let (found, _) = interrupted_scan(3, None, &kills, 1, timing).await;
    assert_eq!(found, whole, "kills {kills:?}");
}

/// The first checkpoint of a run: where a resumed walk says it picks up.
fn first_checkpoint(events: &[Event]) -> Option<WalkPoint> {
    events.iter().find_map(|e| match e {
        Event::Checkpoint(p) => Some(*p),
        _ => None,
    })
}

#[tokio::test(start_paused = true)]
async fn a_resumed_group_whose_live_hosts_differ_starts_over_and_says_so() {
    let timing = Timing {
        initial_window: 16,
        max_window: 16,
        ..Timing::default()
    };
    let whole = whole_scan(1, None, 5, timing).await;
    let run = |point: WalkPoint| async move {
        let targets = Targets::from_addrs(["192.0.2.1", "192.0.2.2"].map(|h| h.parse().unwrap()));
        let scanner = Scanner::builder(targets, PortSet::from_ports(1..=400))
            .timing(timing)
            .discovery(Discovery::Off)
            .seed(11)
            .network(resume_net(5))
            .resume_from(point)
            .build()
            .unwrap();
        let mut events = Vec::new();
        scanner.run(|e| events.push(e)).await;
        events
    };
    // The checkpoint saw one live host; both are live now: the group's walk differs, so it
    // starts over, and the first checkpoint says where with the new count.
    let events = run(WalkPoint {
        group: 1,
        position: 300,
        live: 1,
    })
    .await;
    let first = first_checkpoint(&events);
    assert_eq!(
        first,
        Some(WalkPoint {
            group: 1,
            position: 0,
            live: 2
        })
    );
    let mut found = Found::new();
    for e in &events {
        if let Event::Port(r) = e {
            assert!(
                found
                    .insert((r.addr, r.port), (r.state, r.reason))
                    .is_none()
            );
        }
    }
    assert_eq!(found, whole);
    // With the same count, the first checkpoint is the point itself, and fewer pairs come.
    let events = run(WalkPoint {
        group: 1,
        position: 300,
        live: 2,
    })
    .await;
    let first = first_checkpoint(&events);
    assert_eq!(
        first,
        Some(WalkPoint {
            group: 1,
            position: 300,
            live: 2
        })
    );
    let ports = events
        .iter()
        .filter(|e| matches!(e, Event::Port(_)))
        .count();
    assert_eq!(ports, 800 - 300);
}

#[tokio::test]
async fn driver_threads_hand_results_over_while_the_scan_runs() {
    // Driver threads send their results a batch at a time: a batch must go as soon as it is
    // booked, not when the driver's share is done. Here one silent port keeps its driver
    // busy for 2 x 400 ms; the closed ports (1 ms RTT) must reach the caller long before.
    // Twenty silent ports, so that every driver's share has some.
    let mut net = SimNet::new(1, Behaviour::Closed);
    for port in (50..2000).step_by(100) {
        net = net.set("192.0.2.1", port, Behaviour::Silent);
    }
    let targets = Targets::from_addrs(["192.0.2.1".parse().unwrap()]);
    let scanner = Scanner::builder(targets, PortSet::from_ports(1..=2000))
        .threads(2)
        .seed(1)
        .timeout(Some(Duration::from_millis(400)))
        .discovery(Discovery::Off)
        .network(net)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let mut first_port = None;
    let mut events = Vec::new();
    scanner
        .run(|e| {
            if matches!(e, Event::Port(_)) && first_port.is_none() {
                first_port = Some(started.elapsed());
            }
            events.push(e);
        })
        .await;
    let took = started.elapsed();
    let first = first_port.unwrap();
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(
        first < Duration::from_millis(300),
        "first result after {first:?}"
    );
    let r = results(&events);
    assert_eq!(r.len(), 2000);
    assert_eq!(r[&("192.0.2.1".parse().unwrap(), 1950)].1, Reason::Timeout);
}

/// A network that answers inside `begin` (as loopback and veth do inside `connect()`): every
/// port refuses at once, except `open`, which connects; a few ports (`slow`) are left to a
/// task that answers a millisecond later.
struct AtOnce {
    open: u16,
    slow: [u16; 3],
}

impl Network for AtOnce {
    async fn connect(&self, _addr: SocketAddr, _timeout: Duration) -> Attempt {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Attempt::Refused {
            rtt: Duration::from_millis(1),
        }
    }

    fn begin(
        self: &std::sync::Arc<Self>,
        addr: SocketAddr,
        timeout: Duration,
    ) -> portent_scan::Begun<impl std::future::Future<Output = Attempt> + Send + 'static> {
        let me = std::sync::Arc::clone(self);
        let rtt = Duration::from_micros(20);
        if self.slow.contains(&addr.port()) {
            portent_scan::Begun::Waiting(async move { me.connect(addr, timeout).await })
        } else if addr.port() == self.open {
            portent_scan::Begun::Done(Attempt::Open { rtt })
        } else {
            portent_scan::Begun::Done(Attempt::Refused { rtt })
        }
    }
}

/// Outcomes known at once are settled without tasks, and the driver still yields: on the
/// caller's single-threaded runtime, another task (the pipeline's detection, the Ctrl-C
/// handler) keeps running during the scan, and the attempts left to tasks finish.
#[tokio::test]
async fn answers_at_once_are_exact_and_the_caller_keeps_running() {
    let net = AtOnce {
        open: 8080,
        slow: [22, 443, 65535],
    };
    let scanner = Scanner::builder(
        Targets::from_addrs(["127.0.0.1".parse().unwrap()]),
        PortSet::from_ports(1..=65535),
    )
    .network(net)
    .threads(1)
    .build()
    .unwrap();
    let ticks = std::sync::Arc::new(AtomicUsize::new(0));
    let ticker = {
        let ticks = std::sync::Arc::clone(&ticks);
        tokio::spawn(async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };
    let mut states: BTreeMap<u16, State> = BTreeMap::new();
    let mut during = 0;
    scanner
        .run(|e| {
            if let Event::Port(r) = e {
                states.insert(r.port, r.state);
                // Counted by results, not by a port: ports come in the permutation's order.
                if states.len() == 60_000 {
                    during = ticks.load(Ordering::Relaxed);
                }
            }
        })
        .await;
    ticker.abort();
    assert_eq!(states.len(), 65_535);
    assert_eq!(states[&8080], State::Open);
    assert!(
        states
            .iter()
            .all(|(p, s)| *p == 8080 || *s == State::Closed)
    );
    // Without the driver's yields the ticker would not run at all before the scan ends.
    assert!(
        during > 100,
        "the caller's other task ran {during} times during the scan"
    );
}
