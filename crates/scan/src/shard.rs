//! Splitting one scan across machines: shard K of N of the whole (address x port) space.
//!
//! Every (host, port) pair of a scan has a global index `g = host * ports + port` (host and
//! port as positions in the target list and the port list). A keyed permutation `P` of
//! `0..hosts * ports` (the same Feistel construction the engine orders its attempts with,
//! [`crate::order::Permutation`]) scatters them, and shard `k` (0-based) of `n` owns the pairs
//! whose `P(g) mod n == k`. Because `P` is a bijection, every pair is in exactly one shard, the
//! union of all `n` shards is the whole scan for any `n` (a divisor or not, larger than the
//! number of pairs or not), and shard sizes differ by at most one. Each shard's pairs are
//! spread over every host and port, so no shard gets all of one host.
//!
//! The partition depends only on the seed and on the sizes of the two lists, never on the
//! clock: shards started on different machines at different times agree. The seed defaults
//! to [`DEFAULT_SEED`] rather than a random one, so forgetting `--seed` on one shard cannot
//! make shards overlap (masscan's shards overlap when their seeds differ). Every shard must be
//! given the same targets and ports in the same order; [`plan_digest`] fingerprints them so a
//! merge can tell shards of different scans apart.
//!
//! The scheduler's environment can name the shard ([`from_env`]): Kubernetes Indexed Jobs
//! (`JOB_COMPLETION_INDEX`, 0-based; the count from the caller or `PORTENT_SHARDS`) and Slurm
//! job arrays (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_MIN`, `SLURM_ARRAY_TASK_MAX`,
//! `SLURM_ARRAY_TASK_STEP` and `SLURM_ARRAY_TASK_COUNT`).

use std::fmt;

use crate::error::ConfigError;
use crate::order::Permutation;

/// The partition seed when none is given (any fixed value would do; this one is "port" in
/// ASCII, small enough for a JSON reader that holds numbers as doubles).
pub const DEFAULT_SEED: u64 = 0x706f_7274;

/// One shard of `count`, `index` 0-based (written 1-based, `K/N`, as masscan writes it, in
/// every form, JSON included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` (0-based) of `count`.
    pub fn new(index: u64, count: u64) -> Result<Shard, ConfigError> {
        if count == 0 || index >= count {
            return Err(ConfigError::BadShard {
                text: format!("{}/{count}", index.saturating_add(1)),
                why: "K must be between 1 and N, and N at least 1",
            });
        }
        Ok(Shard { index, count })
    }

    /// Parses `K/N`, 1-based: `1/4` is the first of four.
    pub fn parse(text: &str) -> Result<Shard, ConfigError> {
        let bad = |why| ConfigError::BadShard {
            text: text.to_owned(),
            why,
        };
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| bad("write it K/N, for example 1/4"))?;
        let k: u64 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if n == 0 {
            return Err(bad("N must be at least 1"));
        }
        if k == 0 || k > n {
            return Err(bad(
                "K must be between 1 and N (shards are numbered from 1)",
            ));
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }

    /// 0-based index.
    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

impl From<Shard> for String {
    fn from(s: Shard) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Shard {
    type Error = ConfigError;
    fn try_from(s: String) -> Result<Shard, ConfigError> {
        Shard::parse(&s)
    }
}

impl fmt::Display for Shard {
    /// `K/N`, 1-based.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// Which pairs of a scan of `hosts` x `ports` one shard owns.
#[derive(Debug, Clone)]
pub struct Partition {
    shard: Shard,
    ports: u64,
    perm: Permutation,
}

impl Partition {
    pub fn new(shard: Shard, hosts: u64, ports: u64, seed: u64) -> Partition {
        Partition {
            shard,
            ports,
            perm: Permutation::new(hosts.saturating_mul(ports), seed),
        }
    }

    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Whether the pair (host at position `host` in the target list, port at position `port`
    /// in the port list) is this shard's.
    pub fn contains(&self, host: u64, port: u64) -> bool {
        let g = host * self.ports + port;
        g < self.perm.len() && self.perm.get(g) % self.shard.count == self.shard.index
    }

    /// Whether the host at position `host` has any pair in this shard.
    pub fn has_host(&self, host: u64) -> bool {
        (0..self.ports).any(|p| self.contains(host, p))
    }

    /// How many of the host's pairs are this shard's.
    pub fn pairs_of(&self, host: u64) -> u64 {
        (0..self.ports).filter(|&p| self.contains(host, p)).count() as u64
    }

    /// How many pairs this shard owns: the values `j < total` with `j mod n == k`.
    pub fn len(&self) -> u64 {
        let total = self.perm.len();
        let (k, n) = (self.shard.index, self.shard.count);
        if total <= k {
            0
        } else {
            (total - k).div_ceil(n)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a shard came from, said in the run so a user can see why this process scans what it
/// scans.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ShardSource {
    /// `--shard K/N` on the command line.
    Flag,
    /// Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`, the count from `--shards` or
    /// `PORTENT_SHARDS` (named here).
    Kubernetes { count_from: String },
    /// Slurm job array: `SLURM_ARRAY_TASK_ID` and its bounds.
    Slurm,
}

impl fmt::Display for ShardSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardSource::Flag => f.write_str("--shard"),
            ShardSource::Kubernetes { count_from } => {
                write!(
                    f,
                    "JOB_COMPLETION_INDEX (Kubernetes Indexed Job), count from {count_from}"
                )
            }
            ShardSource::Slurm => f.write_str("SLURM_ARRAY_TASK_ID (Slurm job array)"),
        }
    }
}

/// The shard named by a scheduler's environment, if any. `env` reads a variable (the CLI
/// passes `std::env::var`; tests pass a table). `shards` is `--shards N` when given: it is
/// the count for a Kubernetes Indexed Job (else `PORTENT_SHARDS`), which does not put the
/// completion count in the pod's environment. Slurm's own count wins over `--shards` for a
/// job array; when both are given and differ, that is an error rather than a silent choice.
pub fn from_env(
    env: impl Fn(&str) -> Option<String>,
    shards: Option<u64>,
) -> Result<Option<(Shard, ShardSource)>, ConfigError> {
    let num = |name: &str| -> Result<Option<u64>, ConfigError> {
        match env(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| ConfigError::BadShard {
                    text: format!("{name}={v}"),
                    why: "not a whole number",
                }),
        }
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
        let count = match (num("SLURM_ARRAY_TASK_COUNT")?, num("SLURM_ARRAY_TASK_MAX")?) {
            (Some(c), _) => c,
            (None, Some(max)) if max >= min => (max - min) / step + 1,
            _ => {
                return Err(ConfigError::BadShard {
                    text: format!("SLURM_ARRAY_TASK_ID={id}"),
                    why: "SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_TASK_MAX are both missing",
                });
            }
        };
        if id < min || (id - min) % step != 0 {
            return Err(ConfigError::BadShard {
                text: format!("SLURM_ARRAY_TASK_ID={id}"),
                why: "not on the array's range (SLURM_ARRAY_TASK_MIN and _STEP)",
            });
        }
        if let Some(n) = shards.filter(|&n| n != count) {
            return Err(ConfigError::BadShard {
                text: format!("--shards {n}"),
                why: "differs from the Slurm array's task count",
            });
        }
        return Shard::new((id - min) / step, count).map(|s| Some((s, ShardSource::Slurm)));
    }
    if let Some(index) = num("JOB_COMPLETION_INDEX")? {
        let (count, count_from) = match shards {
            Some(n) => (n, "--shards".to_owned()),
            None => match num("PORTENT_SHARDS")? {
                Some(n) => (n, "PORTENT_SHARDS".to_owned()),
                None => {
                    return Err(ConfigError::BadShard {
                        text: format!("JOB_COMPLETION_INDEX={index}"),
                        why: "the shard count is unknown: give --shards N or PORTENT_SHARDS \
                              (the Job's completions)",
                    });
                }
            },
        };
        return Shard::new(index, count).map(|s| Some((s, ShardSource::Kubernetes { count_from })));
    }
    Ok(None)
}

/// A fingerprint of what a sharded scan covers: the seed, the addresses in order, the ports
/// in order, and for a SYN scan (`syn`) that it is one (FNV-1a, 64 bits, written in hex).
/// Shards with different digests are not parts of one scan. The SYN scan walks the pairs in
/// other steps than the connect scan, so a checkpoint of one means nothing to the other; a
/// connect scan's digest is what it was before SYN scans were resumable.
pub fn plan_digest(
    seed: u64,
    addrs: impl IntoIterator<Item = std::net::IpAddr>,
    ports: &[u16],
    syn: bool,
) -> String {
    // FNV-1a by hand: eight lines, and no cryptographic strength is wanted (it detects
    // mistakes, not forgeries).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(&seed.to_be_bytes());
    for a in addrs {
        match a {
            std::net::IpAddr::V4(v) => feed(&v.octets()),
            std::net::IpAddr::V6(v) => feed(&v.octets()),
        }
    }
    feed(b"/");
    for p in ports {
        feed(&p.to_be_bytes());
    }
    if syn {
        feed(b"/syn");
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn parses_k_of_n() {
        let s = Shard::parse("3/4").unwrap();
        assert_eq!((s.index(), s.count()), (2, 4));
        assert_eq!(s.to_string(), "3/4");
        for bad in ["0/4", "5/4", "1/0", "x/4", "4", "1/4/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    /// The property the issue names: for many (hosts, ports, N, seed), shards are disjoint,
    /// their union is the whole, and sizes are as `len` says (within one of each other).
    #[test]
    fn shards_partition_the_space() {
        for hosts in [1u64, 2, 3, 7, 64] {
            for ports in [1u64, 2, 5, 100, 1000] {
                let total = hosts * ports;
                // Every shard is checked pair by pair (total x n calls): N up to and past the
                // number of pairs only where that stays small.
                let mut counts = vec![1u64, 2, 3, 4, 7, 10];
                if total <= 700 {
                    counts.extend([total, total + 5]);
                }
                for n in counts {
                    for seed in [0u64, 1, DEFAULT_SEED] {
                        let mut owner: HashMap<(u64, u64), u64> = HashMap::new();
                        let mut sizes = Vec::new();
                        for k in 0..n {
                            let p = Partition::new(Shard::new(k, n).unwrap(), hosts, ports, seed);
                            let mut size = 0;
                            for h in 0..hosts {
                                let mut any = false;
                                for q in 0..ports {
                                    if p.contains(h, q) {
                                        size += 1;
                                        any = true;
                                        let prev = owner.insert((h, q), k);
                                        assert!(prev.is_none(), "({h},{q}) in two shards");
                                    }
                                }
                                assert_eq!(p.has_host(h), any);
                            }
                            assert_eq!(size, p.len(), "hosts={hosts} ports={ports} {k}/{n}");
                            sizes.push(size);
                        }
                        assert_eq!(owner.len() as u64, total, "union is the whole");
                        let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                        assert!(hi - lo <= 1, "{sizes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_seed_changes_the_partition_and_only_the_seed() {
        let a = Partition::new(Shard::new(0, 4).unwrap(), 16, 1000, 1);
        let a2 = Partition::new(Shard::new(0, 4).unwrap(), 16, 1000, 1);
        let b = Partition::new(Shard::new(0, 4).unwrap(), 16, 1000, 2);
        let set = |p: &Partition| {
            (0..16)
                .flat_map(|h| (0..1000).map(move |q| (h, q)))
                .filter(|&(h, q)| p.contains(h, q))
                .collect::<Vec<_>>()
        };
        assert_eq!(set(&a), set(&a2));
        assert_ne!(set(&a), set(&b));
        // Spread over every host: no shard of four takes a whole host.
        assert!((0..16).all(|h| a.has_host(h)));
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_the_schedulers_environment() {
        type Case<'a> = (
            &'a [(&'a str, &'a str)],
            Option<u64>,
            Result<Option<&'a str>, ()>,
        );
        let cases: &[Case] = &[
            (&[], None, Ok(None)),
            (&[("JOB_COMPLETION_INDEX", "0")], Some(4), Ok(Some("1/4"))),
            (
                &[("JOB_COMPLETION_INDEX", "3"), ("PORTENT_SHARDS", "4")],
                None,
                Ok(Some("4/4")),
            ),
            (
                &[("JOB_COMPLETION_INDEX", "4"), ("PORTENT_SHARDS", "4")],
                None,
                Err(()),
            ),
            (&[("JOB_COMPLETION_INDEX", "1")], None, Err(())),
            (&[("JOB_COMPLETION_INDEX", "x")], Some(2), Err(())),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "2"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                ],
                None,
                Ok(Some("3/4")),
            ),
            // --array=1-4: ids 1..4, the first is shard 1.
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_MIN", "1"),
                    ("SLURM_ARRAY_TASK_MAX", "4"),
                ],
                None,
                Ok(Some("1/4")),
            ),
            // --array=0-12:4: ids 0, 4, 8, 12.
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "8"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                    ("SLURM_ARRAY_TASK_MAX", "12"),
                    ("SLURM_ARRAY_TASK_STEP", "4"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                None,
                Ok(Some("3/4")),
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "5"),
                    ("SLURM_ARRAY_TASK_MIN", "0"),
                    ("SLURM_ARRAY_TASK_STEP", "4"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                None,
                Err(()),
            ),
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "1"),
                    ("SLURM_ARRAY_TASK_COUNT", "4"),
                ],
                Some(3),
                Err(()),
            ),
            (&[("SLURM_ARRAY_TASK_ID", "1")], None, Err(())),
            // Slurm wins over a Kubernetes index when both are set (a job array is explicit).
            (
                &[
                    ("SLURM_ARRAY_TASK_ID", "0"),
                    ("SLURM_ARRAY_TASK_COUNT", "2"),
                    ("JOB_COMPLETION_INDEX", "1"),
                ],
                Some(2),
                Ok(Some("1/2")),
            ),
        ];
        for (env, shards, want) in cases {
            let got = from_env(env_of(env), *shards);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(
                    g.as_ref().map(|(s, _)| s.to_string()).as_deref(),
                    *w,
                    "{env:?}"
                ),
                (Err(()), Err(_)) => {}
                _ => panic!("{env:?} {shards:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_digest_sees_order_and_seed() {
        let a: Vec<std::net::IpAddr> =
            vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        let b: Vec<std::net::IpAddr> = a.iter().rev().copied().collect();
        let d = plan_digest(1, a.iter().copied(), &[22, 80], false);
        assert_eq!(d, plan_digest(1, a.iter().copied(), &[22, 80], false));
        assert_ne!(d, plan_digest(1, b, &[22, 80], false));
        assert_ne!(d, plan_digest(2, a.iter().copied(), &[22, 80], false));
        assert_ne!(d, plan_digest(1, a.iter().copied(), &[80, 22], false));
        assert_ne!(d, plan_digest(1, a.iter().copied(), &[22, 80], true));
    }
}
