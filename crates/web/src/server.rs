//! The accept loop: hyper's HTTP/1 server under a connection limit and timeouts, so that idle
//! or slow clients cannot take the server offline.
//!
//! - **Descriptors**: the soft `RLIMIT_NOFILE` is raised to the hard limit at start (as
//!   `scan` does), and the connection limit is kept below what that gives, with a reserve for
//!   everything else the server opens (the feedback database, the store, socket listings).
//! - **Connection limit**: at most [`Limits::max_connections`] connections are served at
//!   once. Past it, a new connection is answered `503 Service Unavailable` with
//!   `Retry-After` (a page, or JSON under `/api/`) by a few short-lived "busy" connections
//!   with tight timeouts, and closed. When even those are all taken, a bare 503 is written
//!   at once, without reading the request, and the connection closed. Connections already
//!   accepted are served as before.
//! - **Header timeout** (hyper's `header_read_timeout`): a request head must arrive whole
//!   within [`Limits::header_timeout`]; the same clock runs while a kept-alive connection
//!   waits for its next request, so it is also the keep-alive idle timeout.
//! - **Request timeout** (tower-http's `TimeoutLayer`, in the router): reading the body and
//!   answering take at most [`Limits::request_timeout`], else 408.
//! - **Idle timeout** (`tokio-io-timeout`): a read or a write that makes no progress for
//!   [`Limits::idle_timeout`] ends the connection, such as a client that stops reading a
//!   response.
//! - **Early 413**: a body announced by `Content-Length` over the limit is refused before any
//!   of it is read (tower-http's `RequestBodyLimitLayer`, in the router).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

/// Timeouts and the connection limit of the server. [`Limits::default`] is what `portent
/// serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest wait for a whole request head, and for the next request on a kept-alive
    /// connection.
    pub header_timeout: Duration,
    /// Longest time to read a request's body and answer it (408 past it).
    pub request_timeout: Duration,
    /// Longest a read or write may make no progress before the connection is closed.
    pub idle_timeout: Duration,
    /// Most connections served at once; lowered at start to what the descriptor limit
    /// allows (see [`connection_budget`]).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// Descriptors kept back from connections for everything else: the listener, the runtime,
/// the feedback database, the store, a socket listing, standard streams.
pub const RESERVE: u64 = 128;

/// Connections that may be answered "busy" (503) at the same time, on top of the limit.
pub const BUSY_SLOTS: usize = 32;

/// How long a "busy" connection may take to send its request head.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer when even the busy connections are all taken.
const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\
    Content-Type: text/plain; charset=utf-8\r\nContent-Length: 61\r\nConnection: close\r\n\r\n\
    The server is serving as many connections as it can; retry.\r\n";

/// How long a shutdown waits for connections to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (as far as the OS allows) and returns the
/// soft limit in force afterwards.
#[cfg(unix)]
pub fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::Resource::NOFILE
            .get()
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}

#[cfg(not(unix))]
pub fn raise_nofile() -> u64 {
    u64::MAX
}

/// Connections that fit in `nofile` descriptors: what is left after [`RESERVE`] and the
/// [`BUSY_SLOTS`], at most `wanted` and at least 1.
pub fn connection_budget(nofile: u64, wanted: usize) -> usize {
    let left = nofile.saturating_sub(RESERVE + BUSY_SLOTS as u64);
    usize::try_from(left)
        .unwrap_or(usize::MAX)
        .clamp(1, wanted.max(1))
}

/// Serves `app` (and `busy` past the connection limit) on `listener` until `shutdown`
/// resolves, then lets open requests finish for a few seconds.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    busy: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let conns = Arc::new(Semaphore::new(limits.max_connections));
    let busy_slots = Arc::new(Semaphore::new(BUSY_SLOTS));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    // Out of descriptors or a connection reset before it was accepted: the
                    // first passes as connections close, the second at once.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        if let Ok(permit) = conns.clone().try_acquire_owned() {
            let app = app.clone();
            let stop = stop_rx.clone();
            tokio::spawn(async move {
                serve_one(stream, peer, app, limits, limits.header_timeout, true, stop).await;
                drop(permit);
            });
        } else if let Ok(permit) = busy_slots.clone().try_acquire_owned() {
            let busy = busy.clone();
            let stop = stop_rx.clone();
            let quick = Limits {
                idle_timeout: BUSY_TIMEOUT,
                ..limits
            };
            tokio::spawn(async move {
                let answered = serve_one(stream, peer, busy, quick, BUSY_TIMEOUT, false, stop);
                let _ = tokio::time::timeout(BUSY_TIMEOUT * 2, answered).await;
                drop(permit);
            });
        } else {
            // Nothing more can be afforded for it: a bare 503 into the empty send buffer,
            // what has arrived of the request read off (so the close is not a reset that
            // could discard the answer), and closed.
            let _ = stream.try_write(OVERLOADED);
            let mut sink = [0u8; 4096];
            let _ = stream.try_read(&mut sink);
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(
        SHUTDOWN_GRACE,
        conns.acquire_many(u32::try_from(limits.max_connections).unwrap_or(u32::MAX)),
    )
    .await;
}

/// One connection, until the client closes it, a timeout ends it, or the server stops.
async fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    header_timeout: Duration,
    keep_alive: bool,
    mut stop: watch::Receiver<bool>,
) {
    let mut io = TimeoutStream::new(stream);
    io.set_read_timeout(Some(limits.idle_timeout));
    io.set_write_timeout(Some(limits.idle_timeout));
    let io = TokioIo::new(Box::pin(io));
    let service = app.map_request(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(keep_alive);
    let conn = builder.serve_connection(io, TowerToHyperService::new(service));
    let mut conn: Pin<&mut _> = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overloaded_answer_is_whole() {
        let text = std::str::from_utf8(OVERLOADED).unwrap_or("");
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", ""));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }

    #[test]
    fn budget_leaves_a_reserve() {
        assert_eq!(connection_budget(1024, 4096), 1024 - 128 - 32);
        assert_eq!(connection_budget(1_048_576, 4096), 4096);
        assert_eq!(connection_budget(100, 4096), 1);
        assert_eq!(connection_budget(1024, 10), 10);
    }
}
