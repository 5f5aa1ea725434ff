//! A simulated wide-area path for tests and benchmarks. This kernel has no `netem`, so delay
//! and loss come from user space: two TUN devices, one in each of two network namespaces, and
//! a delay line that reads every IP packet from one and writes it to the other after a fixed
//! one-way delay, dropping some at random. Per port it can add loss (1.0 = silence) or delay.
//! Resets and ICMP errors come from the real kernel on the far side (nftables rules in the
//! target namespace), so the scanner meets a real TCP stack behind a slow, lossy link.
//!
//! The packet parsing is bounds-checked: a short or odd packet is forwarded without per-port
//! treatment, never a panic.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use tun_tap::Iface;

/// Errors setting up the delay line.
#[derive(Debug, thiserror::Error)]
pub enum NetsimError {
    #[error("cannot open network namespace {ns}: {err}")]
    Namespace { ns: String, err: io::Error },
    #[error("cannot enter network namespace {ns}: {err}")]
    Enter { ns: String, err: nix::Error },
    #[error("cannot attach to TUN device {dev} in namespace {ns}: {err}")]
    Tun {
        ns: String,
        dev: String,
        err: io::Error,
    },
}

/// Opens (attaches to) the TUN device `dev` that exists in network namespace `ns` (created
/// with `ip -n NS tuntap add dev DEV mode tun`). The device must be attached from inside its
/// namespace, so a short-lived thread joins it; the descriptor then works from anywhere.
pub fn open_tun(ns: &str, dev: &str) -> Result<Iface, NetsimError> {
    let file = File::open(format!("/run/netns/{ns}")).map_err(|err| NetsimError::Namespace {
        ns: ns.to_owned(),
        err,
    })?;
    let (ns2, dev2) = (ns.to_owned(), dev.to_owned());
    let handle = thread::spawn(move || -> Result<Iface, NetsimError> {
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|err| {
            NetsimError::Enter {
                ns: ns2.clone(),
                err,
            }
        })?;
        Iface::without_packet_info(&dev2, tun_tap::Mode::Tun).map_err(|err| NetsimError::Tun {
            ns: ns2,
            dev: dev2,
            err,
        })
    });
    handle.join().unwrap_or_else(|_| {
        Err(NetsimError::Tun {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            err: io::Error::other("the attaching thread panicked"),
        })
    })
}

/// Extra treatment for packets to or from one TCP port.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PortRule {
    pub port: u16,
    /// Probability of dropping each packet (1.0: the port is silent).
    pub loss: f64,
    /// Added to the one-way delay.
    pub extra_delay: Duration,
}

/// How the path behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct PathConfig {
    /// Delay in each direction (the round trip is twice this).
    pub one_way: Duration,
    /// Probability of dropping any packet, each direction.
    pub loss: f64,
    pub ports: Vec<PortRule>,
    /// Packets queued per direction before tail drop (a router's buffer).
    pub queue_limit: usize,
    pub seed: u64,
}

impl Default for PathConfig {
    fn default() -> Self {
        PathConfig {
            one_way: Duration::from_millis(10),
            loss: 0.0,
            ports: Vec::new(),
            queue_limit: 200_000,
            seed: 0x5eed,
        }
    }
}

/// Packet counters, per direction.
#[derive(Debug, Default)]
pub struct Counters {
    pub forwarded: AtomicU64,
    pub dropped: AtomicU64,
    pub overflow: AtomicU64,
}

/// A running delay line. Dropping it stops its threads within a few milliseconds; a reader
/// also ends when its device goes away (the namespace is deleted).
#[derive(Debug)]
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    /// A to B, B to A.
    pub counters: [Arc<Counters>; 2],
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// TCP ports of an IPv4 or IPv6 packet: (source, destination). `None` for anything else or a
/// packet too short to hold them.
pub fn tcp_ports(p: &[u8]) -> Option<(u16, u16)> {
    let version = p.first()? >> 4;
    let (proto, off) = match version {
        4 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            if ihl < 20 {
                return None;
            }
            (*p.get(9)?, ihl)
        }
        6 => (*p.get(6)?, 40),
        _ => return None,
    };
    if proto != 6 {
        return None;
    }
    let src = u16::from_be_bytes([*p.get(off)?, *p.get(off + 1)?]);
    let dst = u16::from_be_bytes([*p.get(off + 2)?, *p.get(off + 3)?]);
    Some((src, dst))
}

struct Queue {
    items: Mutex<VecDeque<(Instant, Vec<u8>)>>,
    ready: Condvar,
}

fn xorshift(state: &mut u64) -> f64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

impl DelayLine {
    /// Starts forwarding between `a` and `b` (the scanner's and the target's device).
    pub fn start(a: Iface, b: Iface, cfg: PathConfig) -> DelayLine {
        let stop = Arc::new(AtomicBool::new(false));
        let a = Arc::new(a);
        let b = Arc::new(b);
        let counters = [Arc::new(Counters::default()), Arc::new(Counters::default())];
        for (dir, (from, to)) in [(Arc::clone(&a), Arc::clone(&b)), (b, a)]
            .into_iter()
            .enumerate()
        {
            let q = Arc::new(Queue {
                items: Mutex::new(VecDeque::new()),
                ready: Condvar::new(),
            });
            // dir 0 carries the scanner's packets: the TCP port of interest is the destination.
            let toward_target = dir == 0;
            {
                let (q, cfg, stop, c) = (
                    Arc::clone(&q),
                    cfg.clone(),
                    Arc::clone(&stop),
                    Arc::clone(&counters[dir]),
                );
                thread::spawn(move || read_loop(&from, &q, &cfg, toward_target, &stop, &c, dir));
            }
            {
                let (q, stop, c) = (
                    Arc::clone(&q),
                    Arc::clone(&stop),
                    Arc::clone(&counters[dir]),
                );
                thread::spawn(move || write_loop(&to, &q, &stop, &c));
            }
        }
        DelayLine { stop, counters }
    }
}

/// How often a reader looks for packets while traffic flows. A reader blocked in `recv()`
/// is woken by every packet the sender's kernel puts on the TUN device, and on the lab's two
/// cores that wakeup was paid by the scanner: 29% of a 20 ms full-range connect scan's CPU
/// samples sat in waking the delay line and being preempted by it (`perf record`,
/// docs/benchmarks.md, issue 17), a cost a real link never puts on the sending host. Looking
/// every 100 us instead adds at most about that (0.15 ms with the timer's slack) to a
/// packet's delay, under 1% of the benchmark's 20 ms round trip.
const READ_TICK: Duration = Duration::from_micros(100);

/// How long a reader sleeps when it found nothing, by how long the line has been quiet:
/// every 100 us while traffic flows, every millisecond after a pause, every 10 ms when idle
/// (an idle lab, left up during other benchmarks, then costs 100 wakeups a second per
/// direction; a scan's first packet waits at most that once).
fn read_tick(quiet: Duration) -> Duration {
    if quiet < Duration::from_millis(50) {
        READ_TICK
    } else if quiet < Duration::from_secs(1) {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(10)
    }
}

fn read_loop(
    from: &Iface,
    q: &Queue,
    cfg: &PathConfig,
    toward_target: bool,
    stop: &AtomicBool,
    c: &Counters,
    dir: usize,
) {
    let mut buf = vec![0u8; 65_536];
    let mut rng = cfg.seed ^ (dir as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    // Polled, not blocking: see [`READ_TICK`]. (Should the flag not take, reads block as
    // before, and never see WouldBlock.)
    let _ = from.set_non_blocking();
    let mut last_packet = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let n = match from.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(read_tick(last_packet.elapsed()));
                continue;
            }
            Err(_) => return,
        };
        last_packet = Instant::now();
        let pkt = &buf[..n];
        let mut loss = cfg.loss;
        let mut delay = cfg.one_way;
        if let Some((src, dst)) = tcp_ports(pkt) {
            let port = if toward_target { dst } else { src };
            if let Some(r) = cfg.ports.iter().find(|r| r.port == port) {
                loss = 1.0 - (1.0 - loss) * (1.0 - r.loss);
                delay += r.extra_delay;
            }
        }
        if loss > 0.0 && xorshift(&mut rng) < loss {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let due = Instant::now() + delay;
        let Ok(mut items) = q.items.lock() else {
            return;
        };
        if items.len() >= cfg.queue_limit {
            c.overflow.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        // Delays differ only by per-port extras: keep the queue ordered by due time.
        let at = items.partition_point(|(t, _)| *t <= due);
        items.insert(at, (due, pkt.to_vec()));
        drop(items);
        // The writer sleeps until the head is due; only a new head changes that. (Waking it
        // for every packet costs a futex call per packet.)
        if at == 0 {
            q.ready.notify_one();
        }
    }
}

fn write_loop(to: &Iface, q: &Queue, stop: &AtomicBool, c: &Counters) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut items) = q.items.lock() else {
            return;
        };
        let now = Instant::now();
        match items.front() {
            None => {
                let Ok((g, _)) = q.ready.wait_timeout(items, Duration::from_millis(100)) else {
                    return;
                };
                drop(g);
            }
            Some((due, _)) if *due > now => {
                let wait = *due - now;
                let Ok((g, _)) = q.ready.wait_timeout(items, wait) else {
                    return;
                };
                drop(g);
            }
            Some(_) => {
                // Everything due now goes out in one go, outside the lock.
                let mut batch = Vec::new();
                while items.front().is_some_and(|(d, _)| *d <= now) {
                    if let Some((_, p)) = items.pop_front() {
                        batch.push(p);
                    }
                }
                drop(items);
                for p in batch {
                    if to.send(&p).is_ok() {
                        c.forwarded.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_ports_are_bounds_checked() {
        assert_eq!(tcp_ports(&[]), None);
        assert_eq!(tcp_ports(&[0x45]), None);
        let mut v4 = vec![0u8; 40];
        v4[0] = 0x45;
        v4[9] = 6;
        v4[20..24].copy_from_slice(&[0x9c, 0x40, 0x03, 0x1d]);
        assert_eq!(tcp_ports(&v4), Some((40000, 797)));
        assert_eq!(tcp_ports(&v4[..22]), None);
        v4[9] = 17;
        assert_eq!(tcp_ports(&v4), None);
        let mut v6 = vec![0u8; 60];
        v6[0] = 0x60;
        v6[6] = 6;
        v6[40..44].copy_from_slice(&[0x03, 0x02, 0x9c, 0x40]);
        assert_eq!(tcp_ports(&v6), Some((770, 40000)));
        let mut bad = v6.clone();
        bad[0] = 0x45 & 0x0f | 0x40;
        bad[0] = 0x41; // IHL 4: shorter than a header
        assert_eq!(tcp_ports(&bad), None);
    }

    #[test]
    fn random_numbers_are_in_range() {
        let mut s = 12345;
        for _ in 0..1000 {
            let x = xorshift(&mut s);
            assert!((0.0..1.0).contains(&x));
        }
    }
}
