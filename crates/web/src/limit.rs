//! Rate limiting of feedback posts, so that changing address does not bypass it and many
//! addresses cannot lock everyone out.
//!
//! A post is counted against three fixed windows, and refused (429) when any of them is full:
//!
//! - its **address** (`per_address` posts per window);
//! - its **network** (`per_network`): the /24 of an IPv4 address, the /64 of an IPv6 one
//!   (what one subscriber or one machine usually holds), and all of loopback as one network
//!   (127.0.0.0/8 and ::1 are all this machine, so binding a new 127.x.y.z per post gains
//!   nothing);
//! - the whole server (`global`): a write budget that bounds what any number of networks can
//!   store per window.
//!
//! Only accepted posts are recorded, so refused ones cost no memory and the tables hold at
//! most `global` live windows each. They are bounded all the same ([`MAX_TRACKED`]): when one
//! is full, windows that have ended are dropped, and then the oldest live one (its client may
//! post again a little early, still under the network and global budgets). A full table never
//! refuses anyone, unlike the single table before, which refused every new client for up to a
//! window once 10,000 addresses had posted.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most windows each table keeps.
pub const MAX_TRACKED: usize = 10_000;

/// How many posts are allowed per window, per address, per network and in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub per_address: u32,
    pub per_network: u32,
    pub global: u32,
    pub window: Duration,
}

/// Which limit refused a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Address,
    Network,
    Global,
}

impl Refused {
    /// A sentence for the 429 page.
    pub fn message(self) -> &'static str {
        match self {
            Refused::Address => "Too many answers from this address; try again in a minute.",
            Refused::Network => "Too many answers from this network; try again in a minute.",
            Refused::Global => {
                "Too many answers are arriving from everywhere right now; try again in a minute."
            }
        }
    }
}

/// The network a client address counts in: its /24 (IPv4) or /64 (IPv6); loopback is one
/// network.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(a) if a.is_loopback() => IpAddr::V4([127, 0, 0, 0].into()),
        IpAddr::V6(a) if a.is_loopback() => IpAddr::V4([127, 0, 0, 0].into()),
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) & 0xffff_ff00).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & !((1u128 << 64) - 1)).into()),
    }
}

/// Fixed windows per key, bounded in number, oldest first out.
#[derive(Debug)]
struct Table<K> {
    /// Start of the key's current window and the posts counted in it.
    windows: HashMap<K, (Instant, u32)>,
    /// Keys in the order their windows started (with stale entries for windows since
    /// restarted, skipped when met).
    order: VecDeque<(Instant, K)>,
    cap: usize,
}

impl<K: Copy + Eq + Hash> Table<K> {
    fn new(cap: usize) -> Table<K> {
        Table {
            windows: HashMap::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Posts counted for `key` in its window that is still running at `now`.
    fn count(&self, key: &K, now: Instant, window: Duration) -> u32 {
        match self.windows.get(key) {
            Some((start, n)) if now.duration_since(*start) < window => *n,
            _ => 0,
        }
    }

    /// Drops the oldest window while `evict` says so.
    fn drop_oldest(&mut self, mut evict: impl FnMut(Instant, usize) -> bool) {
        while let Some(&(start, key)) = self.order.front() {
            if !evict(start, self.windows.len()) {
                break;
            }
            self.order.pop_front();
            if self.windows.get(&key).is_some_and(|(s, _)| *s == start) {
                self.windows.remove(&key);
            }
        }
    }

    fn record(&mut self, key: K, now: Instant, window: Duration) {
        // Ended windows go first; stale order entries are dropped with them.
        self.drop_oldest(|start, _| now.duration_since(start) >= window);
        if let Some((start, n)) = self.windows.get_mut(&key)
            && now.duration_since(*start) < window
        {
            *n += 1;
            return;
        }
        if !self.windows.contains_key(&key) && self.windows.len() >= self.cap {
            let cap = self.cap;
            self.drop_oldest(|_, len| len >= cap);
        }
        self.windows.insert(key, (now, 1));
        self.order.push_back((now, key));
    }

    fn len(&self) -> usize {
        self.windows.len()
    }
}

#[derive(Debug)]
struct Inner {
    addresses: Table<IpAddr>,
    networks: Table<IpAddr>,
    global: (Instant, u32),
}

#[derive(Debug)]
pub struct RateLimit {
    budget: Budget,
    inner: Mutex<Inner>,
}

impl RateLimit {
    pub fn new(budget: Budget) -> RateLimit {
        RateLimit::with_capacity(budget, MAX_TRACKED)
    }

    /// As [`RateLimit::new`], with at most `cap` windows per table.
    pub fn with_capacity(budget: Budget, cap: usize) -> RateLimit {
        RateLimit {
            budget,
            inner: Mutex::new(Inner {
                addresses: Table::new(cap),
                networks: Table::new(cap),
                global: (Instant::now(), 0),
            }),
        }
    }

    /// Counts one post from `ip`, or says which limit refuses it (then nothing is counted).
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let mut inner = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        let b = self.budget;
        let ip = ip.to_canonical();
        let net = network(ip);
        if inner.addresses.count(&ip, now, b.window) >= b.per_address {
            return Err(Refused::Address);
        }
        if inner.networks.count(&net, now, b.window) >= b.per_network {
            return Err(Refused::Network);
        }
        if now.duration_since(inner.global.0) >= b.window {
            inner.global = (now, 0);
        }
        if inner.global.1 >= b.global {
            return Err(Refused::Global);
        }
        inner.global.1 += 1;
        inner.addresses.record(ip, now, b.window);
        inner.networks.record(net, now, b.window);
        Ok(())
    }

    /// How many address and network windows are held (for tests of the bound).
    pub fn tracked(&self) -> (usize, usize) {
        match self.inner.lock() {
            Ok(g) => (g.addresses.len(), g.networks.len()),
            Err(p) => {
                let g = p.into_inner();
                (g.addresses.len(), g.networks.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(per_address: u32, per_network: u32, global: u32) -> Budget {
        Budget {
            per_address,
            per_network,
            global,
            window: Duration::from_secs(60),
        }
    }

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4([a, b, c, d].into())
    }

    #[test]
    fn per_address_then_per_network_then_global() {
        let l = RateLimit::new(budget(2, 3, 5));
        let a = v4(192, 0, 2, 1);
        assert_eq!(l.check(a), Ok(()));
        assert_eq!(l.check(a), Ok(()));
        assert_eq!(l.check(a), Err(Refused::Address));
        // Same /24, new address: the network's third.
        assert_eq!(l.check(v4(192, 0, 2, 2)), Ok(()));
        assert_eq!(l.check(v4(192, 0, 2, 3)), Err(Refused::Network));
        // Other networks, until the global budget is spent.
        assert_eq!(l.check(v4(198, 51, 100, 1)), Ok(()));
        assert_eq!(l.check(v4(203, 0, 113, 1)), Ok(()));
        assert_eq!(l.check(v4(203, 0, 114, 1)), Err(Refused::Global));
        // A zero window resets everything at once.
        let l = RateLimit::new(Budget {
            window: Duration::ZERO,
            ..budget(1, 1, 1)
        });
        assert_eq!(l.check(a), Ok(()));
        assert_eq!(l.check(a), Ok(()));
    }

    #[test]
    fn networks() {
        assert_eq!(network(v4(192, 0, 2, 77)), v4(192, 0, 2, 0));
        assert_eq!(network(v4(127, 5, 6, 7)), v4(127, 0, 0, 0));
        assert_eq!(
            network("::1".parse().unwrap_or(v4(0, 0, 0, 0))),
            v4(127, 0, 0, 0)
        );
        assert_eq!(
            network("2001:db8:1:2:3:4:5:6".parse().unwrap_or(v4(0, 0, 0, 0))),
            "2001:db8:1:2::".parse().unwrap_or(v4(0, 0, 0, 0))
        );
        // An IPv4-mapped address is the IPv4 address.
        assert_eq!(
            network("::ffff:192.0.2.9".parse().unwrap_or(v4(0, 0, 0, 0))),
            v4(192, 0, 2, 0)
        );
    }

    /// The lock-out of the single table: once it was full of live windows, every new client
    /// was refused. Now the oldest window goes and the new client is counted.
    #[test]
    fn a_full_table_never_refuses_new_clients() {
        let l = RateLimit::with_capacity(budget(1, 1, 1_000_000), 100);
        for i in 0..1000u32 {
            // Every client in its own /24, so only the table bound is at play.
            let [_, _, c, d] = i.to_be_bytes();
            let ip = v4(11, c, d, 1);
            assert_eq!(l.check(ip), Ok(()), "client {i} refused");
            assert_eq!(l.check(ip), Err(Refused::Address), "client {i} twice");
            assert!(l.tracked().0 <= 100 && l.tracked().1 <= 100);
        }
    }

    #[test]
    fn refused_posts_are_not_recorded() {
        let l = RateLimit::with_capacity(budget(5, 5, 1), 100);
        assert_eq!(l.check(v4(192, 0, 2, 1)), Ok(()));
        for i in 0..200u8 {
            assert_eq!(l.check(v4(198, 51, i, 1)), Err(Refused::Global));
        }
        assert_eq!(l.tracked(), (1, 1));
    }
}
