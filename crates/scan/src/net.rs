//! The network, behind a trait: one TCP connection attempt with a deadline. The engine only
//! sees [`Attempt`]s, so its timing logic (RTT estimates, retries, back-off) is tested with a
//! simulated network, and the real one is [`SystemNetwork`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::model::Reason;
#[cfg(target_os = "linux")]
use crate::wait::Deadline;
use crate::wait::{Tasks, Waiting};

/// The outcome of one connection attempt.
#[derive(Debug)]
pub enum Attempt {
    /// Connected: something listens (the socket is closed at once with a reset).
    Open { rtt: Duration },
    /// Refused with a reset.
    Refused { rtt: Duration },
    /// An ICMP error, or a local refusal to send; `reason` says which.
    Unreachable { reason: Reason, rtt: Duration },
    /// No answer before the deadline.
    Timeout,
    /// The socket connected to itself (source port = destination port on a local address).
    SelfConnect,
    /// Out of a local resource (descriptors, source ports, buffers): not the port's fault;
    /// try again later with fewer attempts in flight.
    Busy(io::Error),
    /// Another local error.
    Failed(io::Error),
}

/// An attempt begun: its outcome when it was known at once, else what to await.
#[derive(Debug)]
pub enum Begun<F> {
    Done(Attempt),
    Waiting(F),
}

/// One TCP connection attempt to `addr`, giving up after `timeout`.
pub trait Network: Send + Sync + 'static {
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> impl Future<Output = Attempt> + Send;

    /// Begins an attempt: when the outcome is there as soon as it has begun (loopback and
    /// veth answer inside `connect()`), it is returned at once and the default waiting set
    /// ([`Tasks`]) spends no task on it; otherwise the rest of the attempt, to await. By default, all of [`connect`].
    ///
    /// [`connect`]: Network::connect
    fn begin(
        self: &Arc<Self>,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Begun<impl Future<Output = Attempt> + Send + 'static>
    where
        Self: Sized,
    {
        let me = Arc::clone(self);
        Begun::Waiting(async move { me.connect(addr, timeout).await })
    }

    /// Where one driver keeps its attempts under way ([`Waiting`]), made on the driver's
    /// runtime. `own_thread`: the driver has that thread and runtime to itself (nothing else
    /// runs there), so the set may block the thread while it waits. By default a task per
    /// attempt that waits ([`Tasks`]).
    fn waiting(self: &Arc<Self>, _own_thread: bool) -> impl Waiting
    where
        Self: Sized,
    {
        Tasks::new(Arc::clone(self))
    }

    /// Prepares for a scan and says how many attempts may be in flight at once (for sockets:
    /// the open-file limit, raised to the hard limit). `None`: no limit of that kind.
    fn descriptor_budget(&self) -> Option<u64> {
        None
    }

    /// Descriptors the network may hold besides the attempts in flight (spare sockets), to
    /// leave out of the window (asked after [`descriptor_budget`]).
    ///
    /// [`descriptor_budget`]: Network::descriptor_budget
    fn kept_descriptors(&self) -> u64 {
        0
    }
}

/// Real sockets: non-blocking `connect()` on tokio's reactor.
#[derive(Debug, Clone, Default)]
pub struct SystemNetwork {
    fast: Arc<FastPath>,
    spare: Arc<Spare>,
}

impl SystemNetwork {
    /// Sockets this network has opened (each attempt takes a new one or a spare).
    pub fn sockets_opened(&self) -> u64 {
        self.spare.opened.load(Ordering::Relaxed)
    }
}

/// Sockets whose attempt was refused, kept for the next attempts (at most twice [`Spare::cap`]
/// in all, here and in the drivers' epoll sets, counted in the descriptor budget). Most ports
/// of a scan refuse,
/// and a socket whose connection was refused is whole: on Linux, calling `connect()` on it
/// again reports the refusal and returns it to the unconnected state (the kernel dissolves
/// the failed association), after which it connects anew. Reusing it saves a `socket()` and a
/// `close()` per refused port, and the kernel's work of making and freeing a socket: measured
/// over the lab's veth pair (`bench/connect_reuse.c`, docs/benchmarks.md, issue 17), 65,535
/// refused connects took 0.32-0.33 s of system time with a socket each and 0.21-0.22 s
/// reusing one. Only a socket
/// whose refusal was read that way is kept (its state is then known); open ports, timeouts
/// and other errors close theirs. Elsewhere than Linux nothing is kept.
#[derive(Debug, Default)]
pub(crate) struct Spare {
    v4: Mutex<Vec<Socket>>,
    v6: Mutex<Vec<Socket>>,
    opened: AtomicU64,
    /// A family's share of the sockets kept (twice this in all); 0 until a scan sets it
    /// (then [`SPARE_MIN`] at least).
    cap: AtomicUsize,
    /// Sockets kept now, here and in the drivers' own epoll sets (`crate::pollset`), both
    /// families: at most twice `cap`, the descriptors [`Network::kept_descriptors`] reserves.
    held: AtomicUsize,
}

/// Spare sockets kept at least, per family: on loopback and veth a refused attempt's socket
/// is taken again by the next attempt a moment later, so a few suffice.
const SPARE_MIN: usize = 32;

/// Spare sockets kept at most, per family. Across a path with delay, answers come back in
/// bursts (hundreds in one reactor turn) and the next attempts begin after the burst: with
/// 32 spare, 59% of a 20 ms scan's sockets were reused; the spares needed are about a
/// burst's worth.
#[cfg(unix)]
const SPARE_MAX: usize = 1024;

impl Spare {
    fn list(&self, v6: bool) -> &Mutex<Vec<Socket>> {
        if v6 { &self.v6 } else { &self.v4 }
    }

    /// A spare socket for `addr`'s family (and `true`), or a new one.
    fn take(&self, addr: SocketAddr) -> io::Result<(Socket, bool)> {
        let spare = self
            .list(addr.is_ipv6())
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match spare {
            Some(s) => {
                self.release();
                Ok((s, true))
            }
            None => self.new_socket(addr).map(|s| (s, false)),
        }
    }

    fn new_socket(&self, addr: SocketAddr) -> io::Result<Socket> {
        self.opened.fetch_add(1, Ordering::Relaxed);
        tcp_socket(addr)
    }

    /// Keeps a socket whose refusal `look` read (it is unconnected again), if there is room.
    fn keep(&self, sock: Socket, addr: SocketAddr) {
        if cfg!(any(target_os = "linux", target_os = "android")) && self.reserve() {
            self.list(addr.is_ipv6())
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sock);
        }
    }

    /// Takes a place for one more kept socket, if there is one.
    pub(crate) fn reserve(&self) -> bool {
        let most = 2 * self.cap.load(Ordering::Relaxed).max(SPARE_MIN);
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| {
                (h < most).then_some(h + 1)
            })
            .is_ok()
    }

    /// Gives back the place of a kept socket taken for an attempt (or closed).
    pub(crate) fn release(&self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How often the answer is already there when `connect()` returns. On loopback and veth it
/// nearly always is, and looking saves the reactor registration; across a real path it never
/// is, and looking costs two system calls per attempt. So look while it pays, and otherwise
/// only on every 32nd attempt, to notice if it starts paying again.
#[derive(Debug, Default)]
pub(crate) struct FastPath {
    tries: AtomicU32,
    hits: AtomicU32,
    skipped: AtomicU32,
}

impl FastPath {
    pub(crate) fn should_look(&self) -> bool {
        let tries = self.tries.load(Ordering::Relaxed);
        let hits = self.hits.load(Ordering::Relaxed);
        if tries < 256 || hits * 8 >= tries {
            return true;
        }
        self.skipped
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(32)
    }

    fn record(&self, hit: bool) {
        let t = self.tries.fetch_add(1, Ordering::Relaxed) + 1;
        if hit {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        if t >= 4096 {
            // Forget slowly: halve both.
            self.tries.store(t / 2, Ordering::Relaxed);
            self.hits
                .store(self.hits.load(Ordering::Relaxed) / 2, Ordering::Relaxed);
        }
    }
}

impl Network for SystemNetwork {
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> impl Future<Output = Attempt> + Send {
        let (fast, spare) = (Arc::clone(&self.fast), Arc::clone(&self.spare));
        async move {
            match begin(addr, &fast, &spare, fast.should_look()) {
                Begun::Done(a) => a,
                Begun::Waiting((sock, start)) => wait(sock, addr, start, timeout, spare).await,
            }
        }
    }

    fn begin(
        self: &Arc<Self>,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Begun<impl Future<Output = Attempt> + Send + 'static> {
        match begin(addr, &self.fast, &self.spare, self.fast.should_look()) {
            Begun::Done(a) => Begun::Done(a),
            Begun::Waiting((sock, start)) => {
                Begun::Waiting(wait(sock, addr, start, timeout, Arc::clone(&self.spare)))
            }
        }
    }

    /// On Linux, for a driver on a thread of its own, an epoll set (`crate::pollset`), which
    /// waits by blocking that thread; else (or if the set cannot be made: out of descriptors)
    /// the task set.
    #[cfg(target_os = "linux")]
    fn waiting(self: &Arc<Self>, own_thread: bool) -> impl Waiting {
        let poll = own_thread
            .then(|| crate::pollset::PollSet::new(Arc::clone(&self.fast), Arc::clone(&self.spare)));
        match poll {
            Some(Ok(p)) => SystemWaiting::Poll(Box::new(p)),
            _ => SystemWaiting::Tasks(Tasks::new(Arc::clone(self))),
        }
    }

    #[cfg(unix)]
    fn descriptor_budget(&self) -> Option<u64> {
        let limit = crate::limits::raise_nofile();
        // Spare sockets get a sixteenth of the limit per family, within [SPARE_MIN, SPARE_MAX].
        let cap = usize::try_from(limit / 16)
            .unwrap_or(SPARE_MAX)
            .clamp(SPARE_MIN, SPARE_MAX);
        self.spare.cap.store(cap, Ordering::Relaxed);
        Some(limit)
    }

    fn kept_descriptors(&self) -> u64 {
        2 * self.spare.cap.load(Ordering::Relaxed).max(SPARE_MIN) as u64
    }

    /// Windows sockets are kernel handles, not descriptors: no per-process limit of this kind.
    #[cfg(not(unix))]
    fn descriptor_budget(&self) -> Option<u64> {
        None
    }
}

/// [`SystemNetwork`]'s waiting set on Linux: an epoll set, or tasks if none could be made.
#[cfg(target_os = "linux")]
enum SystemWaiting {
    Poll(Box<crate::pollset::PollSet>),
    Tasks(Tasks<SystemNetwork>),
}

#[cfg(target_os = "linux")]
impl Waiting for SystemWaiting {
    fn begin(&mut self, addr: SocketAddr, deadline: Deadline, key: usize) -> Option<Attempt> {
        match self {
            SystemWaiting::Poll(p) => p.begin(addr, deadline, key),
            SystemWaiting::Tasks(t) => t.begin(addr, deadline, key),
        }
    }

    fn len(&self) -> usize {
        match self {
            SystemWaiting::Poll(p) => p.len(),
            SystemWaiting::Tasks(t) => t.len(),
        }
    }

    async fn next(&mut self, until: Option<Instant>, out: &mut Vec<(usize, Attempt)>) {
        match self {
            SystemWaiting::Poll(p) => p.next(until, out).await,
            SystemWaiting::Tasks(t) => t.next(until, out).await,
        }
    }

    fn ready(&mut self, out: &mut Vec<(usize, Attempt)>) {
        match self {
            SystemWaiting::Poll(p) => p.ready(out),
            SystemWaiting::Tasks(t) => t.ready(out),
        }
    }
}

/// The synchronous start of an attempt: a socket, `connect()`, and (if `looking`: while it
/// pays, [`FastPath`]) a look at whether the answer is already there; else the socket under
/// way and the start time.
pub(crate) fn begin(
    addr: SocketAddr,
    fast: &FastPath,
    spare: &Spare,
    looking: bool,
) -> Begun<(Socket, Instant)> {
    let start = Instant::now();
    let (mut sock, mut reused) = match spare.take(addr) {
        Ok(s) => s,
        Err(e) => return Begun::Done(local_error(e)),
    };
    loop {
        match sock.connect(&addr.into()) {
            Ok(()) => return Begun::Done(connected(&sock, start)),
            Err(e) if e.raw_os_error() == Some(code::IN_PROGRESS) => break,
            // A spare socket the kernel would not connect again (not expected: it was left
            // unconnected): a new one instead, once.
            Err(e) if reused && !is_network_error(&e) => {
                sock = match spare.new_socket(addr) {
                    Ok(s) => s,
                    Err(e) => return Begun::Done(local_error(e)),
                };
                reused = false;
            }
            Err(e) => return Begun::Done(sync_error(e, start)),
        }
    }
    // On loopback and veth the answer has usually been processed before connect() returns:
    // look before paying for reactor registration.
    if looking {
        let a = look(&sock, addr, start);
        fast.record(a.is_some());
        if let Some((a, reusable)) = a {
            if reusable {
                spare.keep(sock, addr);
            }
            return Begun::Done(a);
        }
    }
    Begun::Waiting((sock, start))
}

/// The rest of an attempt whose answer was not there at once: the socket registered with
/// tokio's reactor until it is writable (connected or failed) or `timeout` has passed.
async fn wait(
    sock: Socket,
    addr: SocketAddr,
    start: Instant,
    timeout: Duration,
    spare: Arc<Spare>,
) -> Attempt {
    // Registration through tokio's TcpStream (safe; the socket is already non-blocking).
    let stream = match tokio::net::TcpStream::from_std(std::net::TcpStream::from(sock)) {
        Ok(s) => s,
        Err(e) => return local_error(e),
    };
    let deadline = tokio::time::Instant::from_std(start + timeout);
    loop {
        match tokio::time::timeout_at(deadline, stream.writable()).await {
            Err(_) => return Attempt::Timeout,
            Ok(Err(e)) => return local_error(e),
            Ok(Ok(())) => {
                if let Some((a, reusable)) = look(&SockRef::from(&stream), addr, start) {
                    // Out of the reactor (deregistered) and kept for another attempt.
                    if reusable && let Ok(s) = stream.into_std() {
                        spare.keep(Socket::from(s), addr);
                    }
                    return a;
                }
                // Spurious readiness: clear it, or writable() would return at once again.
                let _ = stream.try_io(tokio::io::Interest::WRITABLE, || {
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
            }
        }
    }
}

/// A non-blocking TCP socket (close-on-exec on Unix, non-inheritable on Windows: socket2's
/// `Socket::new` sets that). Where `socket()` takes the non-blocking flag itself, one system
/// call; elsewhere (macOS, Windows) a second one sets it.
fn tcp_socket(addr: SocketAddr) -> io::Result<Socket> {
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
    let sock = Socket::new(domain, Type::STREAM.nonblocking(), Some(Protocol::TCP))?;
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
        let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        s.set_nonblocking(true)?;
        s
    };
    Ok(sock)
}

/// The attempt's outcome if the handshake has finished one way or the other, and whether the
/// socket may be used again ([`Spare`]). On Linux by calling `connect()` again, which says
/// what the first one came to (the classic way to read a non-blocking connect's result:
/// `EALREADY` still going, `EISCONN` connected, else the error) and, after an error, leaves
/// the socket unconnected and reusable; elsewhere by reading `SO_ERROR`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn look(sock: &Socket, addr: SocketAddr, start: Instant) -> Option<(Attempt, bool)> {
    match sock.connect(&addr.into()) {
        // Still under way, unless an ICMP error came while the socket was busy in the first
        // connect(): the kernel then keeps it as a soft error, which only SO_ERROR reports
        // (the connection stays in SYN-SENT until a retransmitted SYN draws a second one).
        Err(e) if e.raw_os_error() == Some(libc::EALREADY) => match sock.take_error() {
            Ok(None) => None,
            Ok(Some(e)) => Some((async_error(e, start), false)),
            Err(e) => Some((local_error(e), false)),
        },
        Err(e) if e.raw_os_error() == Some(libc::EISCONN) => Some((connected(sock, start), false)),
        // Not expected (the attempt is under way or over); read the socket as elsewhere.
        Ok(()) => settled(sock, start).map(|a| (a, false)),
        Err(e) if e.raw_os_error() == Some(code::IN_PROGRESS) => None,
        Err(e) => {
            let a = async_error(e, start);
            let reusable = matches!(a, Attempt::Refused { .. });
            Some((a, reusable))
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn look(sock: &Socket, _addr: SocketAddr, start: Instant) -> Option<(Attempt, bool)> {
    settled(sock, start).map(|a| (a, false))
}

/// The attempt's outcome if the handshake has finished one way or the other, from `SO_ERROR`
/// and the peer's address.
fn settled(sock: &Socket, start: Instant) -> Option<Attempt> {
    match sock.take_error() {
        Ok(Some(e)) => return Some(async_error(e, start)),
        Ok(None) => {}
        Err(e) => return Some(local_error(e)),
    }
    match sock.peer_addr() {
        Ok(_) => Some(connected(sock, start)),
        Err(e) if e.raw_os_error() == Some(code::NOT_CONNECTED) => None,
        Err(e) => Some(local_error(e)),
    }
}

pub(crate) fn connected(sock: &Socket, start: Instant) -> Attempt {
    let rtt = start.elapsed();
    // A reset instead of a FIN: no TIME_WAIT left behind, no half-open session on the target.
    let _ = sock.set_linger(Some(Duration::ZERO));
    let local = sock.local_addr().ok().and_then(|a| a.as_socket());
    let peer = sock.peer_addr().ok().and_then(|a| a.as_socket());
    if local.is_some() && local == peer {
        return Attempt::SelfConnect;
    }
    Attempt::Open { rtt }
}

pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// The operating system's error numbers the classification below needs, by meaning: `errno`
/// values on Unix, Winsock codes on Windows. A number a system does not have is `NONE`, which
/// no error carries.
pub(crate) mod code {
    pub const NONE: i32 = i32::MIN;

    #[cfg(unix)]
    mod sys {
        /// Linux reports ICMP "host unreachable" variants for some routes as ENONET.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        pub use libc::ENONET as NO_NETWORK;
        pub use libc::{
            EACCES as ACCESS, EADDRNOTAVAIL as ADDR_NOT_AVAILABLE, EAGAIN as AGAIN,
            ECONNREFUSED as REFUSED, ECONNRESET as CONN_RESET, EHOSTDOWN as HOST_DOWN,
            EHOSTUNREACH as HOST_UNREACHABLE, EINPROGRESS as IN_PROGRESS, EINTR as INTERRUPTED,
            EMFILE as PROCESS_FILES, ENETUNREACH as NET_UNREACHABLE, ENFILE as SYSTEM_FILES,
            ENOBUFS as NO_BUFFERS, ENOMEM as NO_MEMORY, ENOPROTOOPT as NO_PROTOCOL_OPTION,
            ENOTCONN as NOT_CONNECTED, EPERM as NOT_PERMITTED, EPROTO as PROTOCOL,
            ETIMEDOUT as TIMED_OUT,
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        pub const NO_NETWORK: i32 = super::NONE;
    }

    #[cfg(windows)]
    mod sys {
        use super::NONE;
        use windows_sys::Win32::Networking::WinSock as ws;
        pub const ACCESS: i32 = ws::WSAEACCES;
        pub const ADDR_NOT_AVAILABLE: i32 = ws::WSAEADDRNOTAVAIL;
        pub const AGAIN: i32 = NONE;
        pub const REFUSED: i32 = ws::WSAECONNREFUSED;
        pub const HOST_DOWN: i32 = ws::WSAEHOSTDOWN;
        pub const HOST_UNREACHABLE: i32 = ws::WSAEHOSTUNREACH;
        /// A non-blocking connect() on Windows says "would block", not "in progress".
        pub const IN_PROGRESS: i32 = ws::WSAEWOULDBLOCK;
        pub const PROCESS_FILES: i32 = ws::WSAEMFILE;
        pub const NET_UNREACHABLE: i32 = ws::WSAENETUNREACH;
        pub const SYSTEM_FILES: i32 = NONE;
        pub const NO_BUFFERS: i32 = ws::WSAENOBUFS;
        pub const NO_MEMORY: i32 = NONE;
        pub const NO_PROTOCOL_OPTION: i32 = ws::WSAENOPROTOOPT;
        pub const NOT_CONNECTED: i32 = ws::WSAENOTCONN;
        pub const NOT_PERMITTED: i32 = NONE;
        pub const PROTOCOL: i32 = NONE;
        pub const TIMED_OUT: i32 = ws::WSAETIMEDOUT;
        pub const NO_NETWORK: i32 = NONE;
        /// On a UDP socket, Windows reports ICMP port unreachable as a reset.
        pub const CONN_RESET: i32 = ws::WSAECONNRESET;
        pub const INTERRUPTED: i32 = ws::WSAEINTR;
    }

    pub use sys::*;
}

/// An error reported after the SYN left: the answer from the network.
pub(crate) fn async_error(e: io::Error, start: Instant) -> Attempt {
    use code::*;
    let rtt = start.elapsed();
    let reason = match errno(&e) {
        REFUSED => return Attempt::Refused { rtt },
        n if n == HOST_UNREACHABLE || n == HOST_DOWN || n == NO_NETWORK => {
            Reason::IcmpHostUnreachable
        }
        NET_UNREACHABLE => Reason::IcmpNetUnreachable,
        n if n == ACCESS || n == NOT_PERMITTED => Reason::IcmpAdminProhibited,
        n if n == NO_PROTOCOL_OPTION || n == PROTOCOL => Reason::IcmpProtoUnreachable,
        TIMED_OUT => return Attempt::Timeout,
        _ => return local_error(e),
    };
    Attempt::Unreachable { reason, rtt }
}

/// Whether a `connect()` error is the network's answer or a route's (as [`sync_error`] reads
/// them), not a complaint about the socket.
pub(crate) fn is_network_error(e: &io::Error) -> bool {
    use code::*;
    let n = errno(e);
    [
        REFUSED,
        NET_UNREACHABLE,
        HOST_UNREACHABLE,
        ACCESS,
        NOT_PERMITTED,
    ]
    .contains(&n)
        || is_busy(n)
}

/// Whether error number `n` says a local resource ran out (descriptors, source ports,
/// buffers): [`Attempt::Busy`].
fn is_busy(n: i32) -> bool {
    use code::*;
    n != NONE
        && [
            PROCESS_FILES,
            SYSTEM_FILES,
            NO_BUFFERS,
            NO_MEMORY,
            ADDR_NOT_AVAILABLE,
            AGAIN,
        ]
        .contains(&n)
}

/// An error from `connect()` itself: the SYN may not have left.
pub(crate) fn sync_error(e: io::Error, start: Instant) -> Attempt {
    use code::*;
    let rtt = start.elapsed();
    let reason = match errno(&e) {
        REFUSED => return Attempt::Refused { rtt },
        NET_UNREACHABLE => Reason::NoRoute,
        HOST_UNREACHABLE => Reason::IcmpHostUnreachable,
        n if n == ACCESS || n == NOT_PERMITTED => Reason::LocalDenied,
        _ => return local_error(e),
    };
    Attempt::Unreachable { reason, rtt }
}

pub(crate) fn local_error(e: io::Error) -> Attempt {
    if is_busy(errno(&e)) {
        Attempt::Busy(e)
    } else {
        Attempt::Failed(e)
    }
}
