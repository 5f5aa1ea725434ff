//! Where a driver keeps its attempts under way until they are answered or time out.
//!
//! The engine asks a [`Waiting`] set to begin each attempt and later for the outcomes of those
//! that are over; it never sees sockets. By default ([`Tasks`]) each attempt still under way
//! after [`Network::begin`] is a task of its own on the driver's runtime, with its own reactor
//! registration and timer: simple, and what every network (the simulated ones in the tests,
//! and real sockets outside Linux) gets. Across a path with delay nearly every attempt waits,
//! and that machinery (a task, a registration added and removed, a timer) was about a third
//! of the scanner's CPU on the lab's 20 ms line; on Linux the real network keeps its waiting sockets in one
//! epoll set per driver instead (`crate::pollset`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::net::{Attempt, Begun, Network};

/// How long an attempt may wait: a fixed `cap`, or (with `live`, the host's current timeout
/// estimate in microseconds) the estimate, doubled for a retry, within `cap`. The estimate is
/// read again while the attempt waits: attempts sent before a host's first answer start with
/// the 1 s initial timeout, and should not keep it once the host is known to answer in 100
/// microseconds.
#[derive(Debug, Clone)]
pub struct Deadline {
    pub cap: Duration,
    pub live: Option<Arc<AtomicU64>>,
    pub retry: bool,
}

/// How often a waiting attempt is looked at again before its deadline.
pub(crate) const RECHECK: Duration = Duration::from_millis(100);

impl Deadline {
    /// The attempt's timeout as things stand now.
    pub fn current(&self) -> Duration {
        match &self.live {
            None => self.cap,
            Some(live) => {
                let base = Duration::from_micros(live.load(Ordering::Relaxed));
                (base * if self.retry { 2 } else { 1 }).min(self.cap)
            }
        }
    }

    /// How long after `elapsed` (the time since the attempt began) it should next be looked
    /// at: at its deadline, and at least every [`RECHECK`] (a live estimate may have shrunk;
    /// and the epoll set's heap of checks then holds those of attempts already over for at
    /// most that long, whatever `--timeout` is). `None`: it has timed out. (In durations, so
    /// that the tests' paused clock and the real one both work.)
    pub(crate) fn next_check(&self, elapsed: Duration) -> Option<Duration> {
        let left = self
            .current()
            .checked_sub(elapsed)
            .filter(|d| !d.is_zero())?;
        Some(left.min(RECHECK))
    }
}

/// The attempts one driver has under way, each known by the `key` the driver gave it.
pub trait Waiting: Send + 'static {
    /// Begins an attempt on `addr`: its outcome if it was known at once (loopback and veth
    /// answer inside `connect()`), else `None` and the attempt joins the set.
    fn begin(&mut self, addr: SocketAddr, deadline: Deadline, key: usize) -> Option<Attempt>;

    /// Attempts under way.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends to `out` the outcomes of attempts that are over (answered or timed out),
    /// waiting for at least one unless `until` comes first. Returns at once when some are over
    /// already; with nothing under way, waits only for `until` (if any).
    fn next(
        &mut self,
        until: Option<Instant>,
        out: &mut Vec<(usize, Attempt)>,
    ) -> impl Future<Output = ()> + Send;

    /// Appends the outcomes already there, without waiting.
    fn ready(&mut self, out: &mut Vec<(usize, Attempt)>);
}

/// The default [`Waiting`] set: each attempt still under way after [`Network::begin`] is a
/// task on the driver's runtime.
#[derive(Debug)]
pub struct Tasks<N> {
    net: Arc<N>,
    set: JoinSet<(usize, Attempt)>,
}

impl<N: Network> Tasks<N> {
    pub fn new(net: Arc<N>) -> Tasks<N> {
        Tasks {
            net,
            set: JoinSet::new(),
        }
    }
}

impl<N: Network> Waiting for Tasks<N> {
    fn begin(&mut self, addr: SocketAddr, deadline: Deadline, key: usize) -> Option<Attempt> {
        match self.net.begin(addr, deadline.cap) {
            Begun::Done(a) => Some(a),
            Begun::Waiting(attempt) => {
                self.set.spawn(async move {
                    let outcome = match deadline.live {
                        None => attempt.await,
                        Some(_) => adaptive(attempt, &deadline).await,
                    };
                    (key, outcome)
                });
                None
            }
        }
    }

    fn len(&self) -> usize {
        self.set.len()
    }

    async fn next(&mut self, until: Option<Instant>, out: &mut Vec<(usize, Attempt)>) {
        let sleep = |at: Instant| tokio::time::sleep_until(tokio::time::Instant::from_std(at));
        let done = match (self.set.is_empty(), until) {
            (true, None) => return,
            (true, Some(at)) => {
                sleep(at).await;
                return;
            }
            (false, None) => self.set.join_next().await,
            (false, Some(at)) => tokio::select! {
                d = self.set.join_next() => d,
                () = sleep(at) => None,
            },
        };
        if let Some(Ok(d)) = done {
            out.push(d);
        }
        self.ready(out);
    }

    fn ready(&mut self, out: &mut Vec<(usize, Attempt)>) {
        while let Some(Ok(d)) = self.set.try_join_next() {
            out.push(d);
        }
    }
}

/// Waits for `attempt` with a timeout that follows the host's estimate while it waits
/// ([`Deadline`]).
async fn adaptive(attempt: impl Future<Output = Attempt>, deadline: &Deadline) -> Attempt {
    let start = tokio::time::Instant::now();
    tokio::pin!(attempt);
    loop {
        let Some(wait) = deadline.next_check(start.elapsed()) else {
            return Attempt::Timeout;
        };
        tokio::select! {
            biased;
            r = &mut attempt => return r,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
