//! The order of attempts: a keyed pseudo-random permutation of `0..n`, computed on the fly
//! (a four-round Feistel network on the next even power of two, with cycle walking), so any
//! number of (host, port) pairs is shuffled in constant memory. Index `i` is split as
//! `host = i % hosts`, `port = i / hosts`; consecutive outputs land on different hosts, so no
//! host takes a burst, and each host's ports come in a scattered order.

/// A permutation of `0..n`.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser: cheap and well spread.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Permutation {
    pub fn new(n: u64, seed: u64) -> Permutation {
        let mut bits = 64 - n.saturating_sub(1).leading_zeros();
        bits = bits.max(2);
        if bits % 2 == 1 {
            bits += 1;
        }
        let mut k = seed;
        let keys = [0u64; 4].map(|_| {
            k = mix(k.wrapping_add(0x9e37_79b9_7f4a_7c15));
            k
        });
        Permutation {
            n,
            half_bits: bits / 2,
            keys,
        }
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn round(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for k in self.keys {
            let f = mix(r ^ k) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The `i`-th element of the permutation (`i < n`).
    pub fn get(&self, i: u64) -> u64 {
        let mut x = i;
        loop {
            x = self.round(x);
            if x < self.n {
                return x;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_permutation() {
        for n in [1u64, 2, 3, 7, 64, 1000, 65535] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let v = p.get(i) as usize;
                assert!(!seen[v], "n={n}: {v} twice");
                seen[v] = true;
            }
        }
    }

    #[test]
    fn scatters_and_depends_on_the_seed() {
        let a = Permutation::new(65535, 1);
        let b = Permutation::new(65535, 2);
        let first: Vec<u64> = (0..10).map(|i| a.get(i)).collect();
        assert_ne!(first, (0..10).map(|i| b.get(i)).collect::<Vec<_>>());
        let ascending = first.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(ascending < 3, "{first:?}");
    }
}
