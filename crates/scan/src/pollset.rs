//! The real network's [`Waiting`] set on Linux: one epoll set (through mio) per driver,
//! holding the sockets of its attempts under way, and a heap of their deadlines.
//!
//! Why not a task per attempt, as elsewhere ([`crate::wait::Tasks`])? Across a path with
//! delay nearly every attempt waits, and a profile of a full-range scan over the lab's 20 ms
//! line (docs/benchmarks.md, issue 17) put a third of the scanner's CPU in what waiting cost
//! per port rather than in the connect itself: a task spawned and joined, a registration with
//! tokio's reactor added and removed (two `epoll_ctl` calls), a timer entry, and the
//! allocations of all three. Here an attempt is a slab entry and a heap item.
//!
//! The set is used only by a driver that has its thread and runtime to itself (a scan with
//! more than one driver thread; see [`Network::waiting`](crate::Network::waiting)), so it
//! waits by blocking in `epoll_wait` (at most [`MAX_BLOCK`], for the driver to notice a stop)
//! rather than through tokio's reactor: registering an epoll descriptor of our own with tokio
//! takes `unsafe` (`AsyncFd::register`), which this workspace denies.
//!
//! Sockets stay registered between attempts: a refused attempt's socket (reusable, see
//! `Spare` in `net.rs`) goes back to this set's own pool still registered, so the next
//! attempt that waits costs no `epoll_ctl` at all. The registration is edge-triggered and
//! every event is read with `look()`, which says what the socket's current attempt has come
//! to, so an event left over from an earlier attempt is harmless. Attempts answered inside
//! `connect()` (loopback, veth) take unregistered sockets and are returned at once.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use socket2::Socket;

use crate::net::{
    Attempt, Begun, FastPath, Spare, begin, code, connected, is_network_error, local_error, look,
    sync_error,
};
use crate::wait::{Deadline, Waiting};

/// Events read per `epoll_wait`.
const EVENTS: usize = 1024;

/// The longest the set blocks its thread before the driver looks at its stop flag.
const MAX_BLOCK: Duration = Duration::from_millis(100);

/// A registered socket, and the attempt it carries (none while it waits in the pool).
struct Entry {
    sock: Socket,
    v6: bool,
    attempt: Option<Current>,
}

struct Current {
    key: usize,
    addr: SocketAddr,
    start: Instant,
    deadline: Deadline,
    /// Tells this attempt's heap items from those of earlier attempts on the same entry.
    seq: u64,
}

/// One driver's attempts under way.
pub(crate) struct PollSet {
    poll: Poll,
    events: Events,
    entries: Slab<Entry>,
    /// Registered sockets with no attempt, by family (entry keys).
    pool: [Vec<usize>; 2],
    /// (when to look, entry, seq): the earliest first.
    checks: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    seq: u64,
    waiting: usize,
    fast: Arc<FastPath>,
    spare: Arc<Spare>,
    /// Set when the epoll set itself failed: every attempt under way gets this error.
    broken: Option<io::ErrorKind>,
    /// `epoll_wait` calls made (the tests check that an idle set sleeps).
    polls: u64,
}

impl PollSet {
    pub(crate) fn new(fast: Arc<FastPath>, spare: Arc<Spare>) -> io::Result<PollSet> {
        Ok(PollSet {
            poll: Poll::new()?,
            events: Events::with_capacity(EVENTS),
            entries: Slab::new(),
            pool: [Vec::new(), Vec::new()],
            checks: BinaryHeap::new(),
            seq: 0,
            waiting: 0,
            fast,
            spare,
            broken: None,
            polls: 0,
        })
    }

    /// Puts an attempt on entry `e` (its `connect()` under way) and books its first check.
    fn track(&mut self, e: usize, key: usize, addr: SocketAddr, start: Instant, d: Deadline) {
        self.seq += 1;
        let first = Instant::now() + d.next_check(start.elapsed()).unwrap_or_default();
        self.checks.push(Reverse((first, e, self.seq)));
        self.entries[e].attempt = Some(Current {
            key,
            addr,
            start,
            deadline: d,
            seq: self.seq,
        });
        self.waiting += 1;
    }

    /// Registers a socket under way as a new entry (on error the socket is closed).
    fn register(&mut self, sock: Socket, v6: bool) -> io::Result<usize> {
        let slot = self.entries.vacant_entry();
        let e = slot.key();
        self.poll.registry().register(
            &mut SourceFd(&sock.as_raw_fd()),
            Token(e),
            Interest::WRITABLE,
        )?;
        slot.insert(Entry {
            sock,
            v6,
            attempt: None,
        });
        Ok(e)
    }

    /// Closes entry `e` (closing the socket also takes it out of the epoll set).
    fn close(&mut self, e: usize) {
        self.entries.remove(e);
    }

    /// The attempt on entry `e` is over: hands its outcome over, and keeps the socket
    /// (registered) if it may be used again and there is room, else closes it.
    fn finish(
        &mut self,
        e: usize,
        outcome: Attempt,
        reusable: bool,
        out: &mut Vec<(usize, Attempt)>,
    ) {
        let Some(cur) = self.entries[e].attempt.take() else {
            return;
        };
        self.waiting -= 1;
        if self.waiting == 0 {
            // Every check left belongs to an attempt that is over: none may set a wake-up
            // (with nothing under way, `next` sleeps until the caller's time).
            self.checks.clear();
        }
        out.push((cur.key, outcome));
        if reusable && self.spare.reserve() {
            let fam = usize::from(self.entries[e].v6);
            self.pool[fam].push(e);
        } else {
            self.close(e);
        }
    }

    /// Reads the events there (waiting up to `timeout`) and hands over the attempts they
    /// ended. Returns whether the set may hold more (the buffer came back full).
    fn drain(&mut self, timeout: Duration, out: &mut Vec<(usize, Attempt)>) -> io::Result<bool> {
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        self.polls += 1;
        let r = match self.poll.poll(&mut events, Some(timeout)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            r => r,
        };
        let mut n = 0;
        if r.is_ok() {
            for ev in events.iter() {
                n += 1;
                let e = ev.token().0;
                let Some(entry) = self.entries.get(e) else {
                    continue;
                };
                let Some(cur) = &entry.attempt else {
                    continue;
                };
                if let Some((a, reusable)) = look(&entry.sock, cur.addr, cur.start) {
                    self.finish(e, a, reusable, out);
                }
            }
        }
        self.events = events;
        r.map(|()| n >= EVENTS)
    }

    /// Times out the attempts whose deadline has passed.
    fn expire(&mut self, out: &mut Vec<(usize, Attempt)>) {
        let now = Instant::now();
        while let Some(&Reverse((at, e, seq))) = self.checks.peek() {
            if at > now {
                return;
            }
            self.checks.pop();
            let Some(cur) = self.entries.get(e).and_then(|en| en.attempt.as_ref()) else {
                continue;
            };
            if cur.seq != seq {
                continue;
            }
            match cur.deadline.next_check(now.duration_since(cur.start)) {
                Some(wait) => self.checks.push(Reverse((now + wait, e, seq))),
                // Still under way: the socket cannot take another attempt.
                None => self.finish(e, Attempt::Timeout, false, out),
            }
        }
    }

    /// The epoll set failed (not expected): every attempt under way ends with that error.
    fn fail_all(&mut self, kind: io::ErrorKind, out: &mut Vec<(usize, Attempt)>) {
        self.broken = Some(kind);
        let busy: Vec<usize> = self
            .entries
            .iter()
            .filter(|(_, en)| en.attempt.is_some())
            .map(|(e, _)| e)
            .collect();
        for e in busy {
            let err = io::Error::new(kind, "the scan's epoll set failed");
            self.finish(e, Attempt::Failed(err), false, out);
        }
        self.checks.clear();
    }

    /// An attempt on a pooled (registered) socket; `Err` (the deadline back) if that socket
    /// would not connect again (it is closed; the caller starts the attempt afresh).
    fn begin_pooled(
        &mut self,
        e: usize,
        addr: SocketAddr,
        deadline: Deadline,
        key: usize,
    ) -> Result<Option<Attempt>, Deadline> {
        self.spare.release();
        let start = Instant::now();
        match self.entries[e].sock.connect(&addr.into()) {
            Err(err) if err.raw_os_error() == Some(code::IN_PROGRESS) => {
                self.track(e, key, addr, start, deadline);
                Ok(None)
            }
            Ok(()) => {
                let a = connected(&self.entries[e].sock, start);
                self.close(e);
                Ok(Some(a))
            }
            Err(err) if is_network_error(&err) => {
                self.close(e);
                Ok(Some(sync_error(err, start)))
            }
            Err(_) => {
                self.close(e);
                Err(deadline)
            }
        }
    }
}

impl Drop for PollSet {
    /// The pooled sockets close with the set: their places in the count of kept sockets are
    /// given back (the network, and its count, outlive a driver's phase).
    fn drop(&mut self) {
        for _ in self.pool.iter().flatten() {
            self.spare.release();
        }
    }
}

impl Waiting for PollSet {
    fn begin(&mut self, addr: SocketAddr, deadline: Deadline, key: usize) -> Option<Attempt> {
        if let Some(kind) = self.broken {
            return Some(Attempt::Failed(io::Error::new(
                kind,
                "the scan's epoll set failed",
            )));
        }
        let fam = usize::from(addr.is_ipv6());
        let looking = self.fast.should_look();
        // Where answers do not come at once, a registered socket from the pool.
        let mut deadline = deadline;
        if !looking && let Some(e) = self.pool[fam].pop() {
            match self.begin_pooled(e, addr, deadline, key) {
                Ok(r) => return r,
                Err(d) => deadline = d,
            }
        }
        match begin(addr, &self.fast, &self.spare, looking) {
            Begun::Done(a) => Some(a),
            Begun::Waiting((sock, start)) => match self.register(sock, addr.is_ipv6()) {
                Ok(e) => {
                    self.track(e, key, addr, start, deadline);
                    None
                }
                Err(err) => Some(local_error(err)),
            },
        }
    }

    fn len(&self) -> usize {
        self.waiting
    }

    async fn next(&mut self, until: Option<Instant>, out: &mut Vec<(usize, Attempt)>) {
        let before = out.len();
        loop {
            self.ready(out);
            if out.len() > before || self.waiting == 0 && until.is_none() {
                return;
            }
            let now = Instant::now();
            if until.is_some_and(|u| u <= now) {
                return;
            }
            let check = self.checks.peek().map(|Reverse((at, _, _))| *at);
            let limit = now + MAX_BLOCK;
            let wake = [check, until]
                .into_iter()
                .flatten()
                .fold(limit, Instant::min);
            // The driver's thread is its own: block in epoll_wait until an answer, a deadline,
            // the caller's `until` or MAX_BLOCK.
            if let Err(e) = self.drain(wake.saturating_duration_since(now), out) {
                self.fail_all(e.kind(), out);
                return;
            }
            if wake == limit && out.len() == before {
                return;
            }
        }
    }

    fn ready(&mut self, out: &mut Vec<(usize, Attempt)>) {
        if self.waiting == 0 {
            return;
        }
        // A full buffer may have left events behind, and no new edge would announce them.
        loop {
            match self.drain(Duration::ZERO, out) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    self.fail_all(e.kind(), out);
                    return;
                }
            }
        }
        self.expire(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listener whose accept queue is full drops SYNs: an attempt on it waits in the set
    /// until the queue has room and the kernel's retransmitted SYN (after 1 s) is answered.
    #[tokio::test]
    async fn a_late_answer_is_read_and_an_idle_set_sleeps() {
        let listener = Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        listener
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        // With a backlog of 0, one connection waiting to be accepted fills the queue.
        let _first = std::net::TcpStream::connect(addr).unwrap();
        let mut set = PollSet::new(Arc::default(), Arc::default()).unwrap();
        let deadline = Deadline {
            cap: Duration::from_secs(3),
            live: None,
            retry: false,
        };
        assert!(
            set.begin(addr, deadline, 7).is_none(),
            "the SYN is dropped: it waits"
        );
        assert_eq!(set.len(), 1);
        // Room in the queue: the retransmitted SYN is answered.
        let _accepted = listener.accept().unwrap();
        let mut out = Vec::new();
        let started = Instant::now();
        while out.is_empty() && started.elapsed() < Duration::from_secs(3) {
            set.next(None, &mut out).await;
        }
        assert!(
            matches!(out.as_slice(), [(7, Attempt::Open { .. })]),
            "{out:?}"
        );
        assert_eq!(set.len(), 0);
        // Nothing under way: waiting for the caller's time sleeps in epoll_wait (at most
        // 100 ms at a time), whatever checks the answered attempt had booked.
        let until = Instant::now() + Duration::from_millis(300);
        let polls = set.polls;
        while Instant::now() < until {
            set.next(Some(until), &mut out).await;
        }
        assert_eq!(out.len(), 1);
        let used = set.polls - polls;
        assert!(
            used <= 6,
            "{used} epoll_wait calls in 300 ms with nothing under way"
        );
    }
}
