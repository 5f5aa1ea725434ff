//! Per-client rate limiting of feedback posts: a fixed window per client address. The table
//! is bounded: when it is full, expired windows are dropped, and if every window is still
//! live the request is refused rather than letting the table grow.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_CLIENTS: usize = 10_000;

#[derive(Debug)]
pub struct RateLimit {
    max: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimit {
    pub fn new(max: u32, window: Duration) -> RateLimit {
        RateLimit {
            max,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request from `ip`; false when it is over the limit.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let Ok(mut clients) = self.clients.lock() else {
            return false;
        };
        let now = Instant::now();
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&ip) {
            clients.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if clients.len() >= MAX_CLIENTS {
                return false;
            }
        }
        let e = clients.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= self.window {
            *e = (now, 0);
        }
        if e.1 >= self.max {
            return false;
        }
        e.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client() {
        let l = RateLimit::new(2, Duration::from_secs(60));
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert!(l.allow(a));
        assert!(l.allow(a));
        assert!(!l.allow(a));
        assert!(l.allow(b));
        let l = RateLimit::new(1, Duration::ZERO);
        assert!(l.allow(a));
        assert!(l.allow(a));
    }
}
