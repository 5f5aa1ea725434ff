//! Bounds for one port's detection: a deadline and a byte cap shared by every connection made
//! for that port. `Capped` enforces the cap below TLS too, so a peer that streams forever or
//! sends a 10 MB line costs at most `max_bytes` of reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

/// A deadline and a byte allowance, shared by clones.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub deadline: Instant,
    pub max_bytes: usize,
    used: Arc<AtomicUsize>,
    /// Reads that ended with the peer closing (or resetting) before it sent a byte: with
    /// nothing ever received, the port is `tcpwrapped`.
    silent_closes: Arc<AtomicUsize>,
}

impl Budget {
    pub fn new(total: Duration, max_bytes: usize) -> Budget {
        Budget {
            deadline: Instant::now() + total,
            max_bytes,
            used: Arc::new(AtomicUsize::new(0)),
            silent_closes: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Counts a close without a word that no read saw: a connect the peer reset as soon as
    /// the handshake completed.
    pub fn note_silent_close(&self) {
        self.silent_closes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many reads ended with the peer closing before it sent anything.
    pub fn silent_closes(&self) -> usize {
        self.silent_closes.load(Ordering::Relaxed)
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn bytes_left(&self) -> usize {
        self.max_bytes.saturating_sub(self.used())
    }

    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn exhausted(&self) -> bool {
        self.bytes_left() == 0 || self.time_left().is_zero()
    }

    /// The earlier of `now + wait` and the deadline.
    pub fn until(&self, wait: Duration) -> Instant {
        (Instant::now() + wait).min(self.deadline)
    }
}

/// A stream whose reads stop (as end of stream) once the budget's bytes are spent.
#[derive(Debug)]
pub(crate) struct Capped<S> {
    inner: S,
    budget: Budget,
}

impl<S> Capped<S> {
    pub fn new(inner: S, budget: Budget) -> Capped<S> {
        Capped { inner, budget }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Capped<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let want = self.budget.bytes_left().min(buf.remaining()).min(8192);
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut tmp = [0u8; 8192];
        let mut rb = ReadBuf::new(&mut tmp[..want]);
        match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                self.budget.used.fetch_add(n, Ordering::Relaxed);
                buf.put_slice(rb.filled());
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Capped<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a read stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The caller's test said the reply is complete.
    Complete,
    /// The peer closed (or the byte cap was reached).
    Eof,
    /// Nothing (more) arrived in time.
    Quiet,
    /// The connection failed (reset and the like).
    Error,
}

/// Reads into `seen` until `done(seen)` holds, the peer closes, the stream errors, or no data
/// arrives for `first_wait` (before any byte) / `idle` (between bytes). All waits end at the
/// budget's deadline. Never reads more than `limit` bytes into `seen` in this call.
pub(crate) async fn read_reply<S: AsyncRead + Unpin>(
    s: &mut S,
    budget: &Budget,
    seen: &mut Vec<u8>,
    first_wait: Duration,
    idle: Duration,
    limit: usize,
    done: impl Fn(&[u8]) -> bool,
) -> Stop {
    let start_len = seen.len();
    let mut buf = [0u8; 4096];
    loop {
        let got = seen.len() - start_len;
        if got >= limit {
            return Stop::Eof;
        }
        let wait = if got == 0 { first_wait } else { idle };
        let until = budget.until(wait);
        let want = (limit - got).min(buf.len());
        match tokio::time::timeout_at(until, s.read(&mut buf[..want])).await {
            Err(_) => return Stop::Quiet,
            Ok(r @ (Err(_) | Ok(0))) => {
                if got == 0 {
                    budget.note_silent_close();
                }
                return if r.is_err() { Stop::Error } else { Stop::Eof };
            }
            Ok(Ok(n)) => {
                seen.extend_from_slice(&buf[..n]);
                if done(&seen[start_len..]) {
                    return Stop::Complete;
                }
            }
        }
    }
}

/// Writes all of `data` before the deadline.
pub(crate) async fn send<S: AsyncWrite + Unpin>(s: &mut S, budget: &Budget, data: &[u8]) -> bool {
    matches!(
        tokio::time::timeout_at(budget.deadline, async {
            s.write_all(data).await?;
            s.flush().await
        })
        .await,
        Ok(Ok(()))
    )
}
