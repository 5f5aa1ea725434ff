//! The network, behind a trait: one TCP connection attempt with a deadline. The engine only
//! sees [`Attempt`]s, so its timing logic (RTT estimates, retries, back-off) is tested with a
//! simulated network, and the real one is [`SystemNetwork`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::model::Reason;

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

/// One TCP connection attempt to `addr`, giving up after `timeout`.
pub trait Network: Send + Sync + 'static {
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> impl Future<Output = Attempt> + Send;

    /// Prepares for a scan and says how many attempts may be in flight at once (for sockets:
    /// the open-file limit, raised to the hard limit). `None`: no limit of that kind.
    fn descriptor_budget(&self) -> Option<u64> {
        None
    }
}

/// Real sockets: non-blocking `connect()` on tokio's reactor.
#[derive(Debug, Clone, Default)]
pub struct SystemNetwork {
    fast: Arc<FastPath>,
}

/// How often the answer is already there when `connect()` returns. On loopback and veth it
/// nearly always is, and looking saves the reactor registration; across a real path it never
/// is, and looking costs two system calls per attempt. So look while it pays, and otherwise
/// only on every 32nd attempt, to notice if it starts paying again.
#[derive(Debug, Default)]
struct FastPath {
    tries: AtomicU32,
    hits: AtomicU32,
    skipped: AtomicU32,
}

impl FastPath {
    fn should_look(&self) -> bool {
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
        connect(addr, timeout, Arc::clone(&self.fast))
    }

    fn descriptor_budget(&self) -> Option<u64> {
        Some(crate::limits::raise_nofile())
    }
}

async fn connect(addr: SocketAddr, timeout: Duration, fast: Arc<FastPath>) -> Attempt {
    let start = Instant::now();
    let sock = match Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    ) {
        Ok(s) => s,
        Err(e) => return local_error(e),
    };
    match sock.connect(&addr.into()) {
        Ok(()) => return connected(&sock, start),
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
        Err(e) => return sync_error(e, start),
    }
    // On loopback and veth the answer has usually been processed before connect() returns:
    // look before paying for reactor registration.
    if fast.should_look() {
        let a = settled(&sock, start);
        fast.record(a.is_some());
        if let Some(a) = a {
            return a;
        }
    }
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
                if let Some(a) = settled(&SockRef::from(&stream), start) {
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

/// The attempt's outcome if the handshake has finished one way or the other.
fn settled(sock: &Socket, start: Instant) -> Option<Attempt> {
    match sock.take_error() {
        Ok(Some(e)) => return Some(async_error(e, start)),
        Ok(None) => {}
        Err(e) => return Some(local_error(e)),
    }
    match sock.peer_addr() {
        Ok(_) => Some(connected(sock, start)),
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTCONN) => None,
        Err(e) => Some(local_error(e)),
    }
}

fn connected(sock: &Socket, start: Instant) -> Attempt {
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

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// An error reported after the SYN left: the answer from the network.
fn async_error(e: io::Error, start: Instant) -> Attempt {
    use nix::libc::*;
    let rtt = start.elapsed();
    let reason = match errno(&e) {
        ECONNREFUSED => return Attempt::Refused { rtt },
        EHOSTUNREACH | EHOSTDOWN | ENONET => Reason::IcmpHostUnreachable,
        ENETUNREACH => Reason::IcmpNetUnreachable,
        EACCES | EPERM => Reason::IcmpAdminProhibited,
        ENOPROTOOPT | EPROTO => Reason::IcmpProtoUnreachable,
        ETIMEDOUT => return Attempt::Timeout,
        _ => return local_error(e),
    };
    Attempt::Unreachable { reason, rtt }
}

/// An error from `connect()` itself: the SYN may not have left.
fn sync_error(e: io::Error, start: Instant) -> Attempt {
    use nix::libc::*;
    let rtt = start.elapsed();
    let reason = match errno(&e) {
        ECONNREFUSED => return Attempt::Refused { rtt },
        ENETUNREACH => Reason::NoRoute,
        EHOSTUNREACH => Reason::IcmpHostUnreachable,
        EACCES | EPERM => Reason::LocalDenied,
        _ => return local_error(e),
    };
    Attempt::Unreachable { reason, rtt }
}

fn local_error(e: io::Error) -> Attempt {
    use nix::libc::*;
    match errno(&e) {
        EMFILE | ENFILE | ENOBUFS | ENOMEM | EADDRNOTAVAIL | EAGAIN => Attempt::Busy(e),
        _ => Attempt::Failed(e),
    }
}
