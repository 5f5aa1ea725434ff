//! Targets: IPv4 and IPv6 addresses, CIDR blocks, ranges (`10.0.0.1-20`, `10.0.0.1-10.0.0.9`),
//! nmap octet patterns (`10.0.0-3.1-254`, `10.0.0.*`),
//! host names (every address they resolve to), lists and files of them, and exclusions.
//!
//! Parsing is two steps, so that nothing is scanned until the whole input is valid: each token
//! is parsed to a [`Spec`] (syntax only), then [`TargetsBuilder::build`] resolves names through
//! a [`Resolver`], subtracts exclusions and checks the size. The result is a set of merged
//! address ranges, so a /16 costs a few bytes, not 65,536 entries.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::error::TargetError;

/// Above this many addresses a scan needs explicit confirmation (`--yes`).
pub const CONFIRM_ABOVE: u64 = 65_536;
/// Never more than this many addresses in one scan (a /8), confirmed or not.
pub const MAX_ADDRESSES: u64 = 1 << 24;

/// One parsed target token, before names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// One address, or an inclusive range of addresses of one family.
    Range { first: IpAddr, last: IpAddr },
    /// Several ranges from one token: an nmap octet pattern (`10.0.0-3.1-254`, `10.0.0.*`).
    Ranges(Vec<(IpAddr, IpAddr)>),
    /// A host name, resolved later.
    Host(String),
}

/// Most pieces one octet pattern may make (`10.*.*.1` makes 65,536 one-address pieces).
const MAX_OCTET_PIECES: u64 = 1 << 16;

/// Turns host names into addresses. The system resolver is the default; tests use a table.
pub trait Resolver {
    /// Every address `host` resolves to.
    fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`: hosts file, DNS, ...).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        let mut out: Vec<IpAddr> = Vec::new();
        for sa in (host, 0).to_socket_addrs()? {
            if !out.contains(&sa.ip()) {
                out.push(sa.ip());
            }
        }
        Ok(out)
    }
}

/// Parses one token: an address (`192.0.2.1`, `2001:db8::1`, `[::1]`), a CIDR block
/// (`192.0.2.0/24`), a range (`192.0.2.1-20`, `192.0.2.1-192.0.2.9`, `2001:db8::1-ff`) or a
/// host name. The error names the token; a token with a port (`192.0.2.1:22`, `[::1]:22`,
/// `host:22`) is [`TargetError::HostWithPort`].
pub fn parse_spec(token: &str) -> Result<Spec, TargetError> {
    let t = token.trim();
    if t.is_empty() {
        return Err(TargetError::BadHostName {
            token: token.to_owned(),
        });
    }
    if let Some((host, port)) = split_host_port(t) {
        return Err(TargetError::HostWithPort {
            token: t.to_owned(),
            host: host.to_owned(),
            port: port.to_owned(),
        });
    }
    if let Some((addr, prefix)) = t.split_once('/') {
        return parse_cidr(t, addr, prefix);
    }
    if is_octet_pattern(t) {
        return parse_octets(t);
    }
    if let Some((a, b)) = t.split_once('-') {
        // A host name may contain '-'; a range starts with an address.
        if let Ok(first) = parse_addr(a) {
            return parse_range(t, first, b);
        }
        if looks_numeric_v4(a) || a.contains(':') {
            parse_addr(a)?;
        }
    }
    if looks_numeric_v4(t) || t.contains(':') || t.starts_with('[') {
        return Ok(Spec::Range {
            first: parse_addr(t)?,
            last: parse_addr(t)?,
        });
    }
    if valid_host_name(t) {
        return Ok(Spec::Host(t.to_owned()));
    }
    Err(TargetError::BadHostName {
        token: token.to_owned(),
    })
}

/// `HOST:PORT` as people write it: an IPv4 address or a host name and a colon, or a bracketed
/// IPv6 address and a colon, then digits. An unbracketed IPv6 address has two colons or more
/// and is never taken for one (`::1`, `2001:db8::22`, `fe80::1%eth0`).
fn split_host_port(t: &str) -> Option<(&str, &str)> {
    let (host, port) = match t.strip_prefix('[') {
        Some(rest) => {
            let (inner, after) = rest.split_once(']')?;
            inner.parse::<Ipv6Addr>().ok()?;
            (inner, after.strip_prefix(':')?)
        }
        None => {
            let (host, port) = t.split_once(':')?;
            let v4 = looks_numeric_v4(host) && host.parse::<Ipv4Addr>().is_ok();
            if port.contains(':') || !(v4 || valid_host_name(host)) {
                return None;
            }
            (host, port)
        }
    };
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())).then_some((host, port))
}

fn looks_numeric_v4(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn parse_addr(t: &str) -> Result<IpAddr, TargetError> {
    let t = t.trim();
    let inner = t.strip_prefix('[').and_then(|s| s.strip_suffix(']'));
    let text = inner.unwrap_or(t);
    if text.contains('%') {
        return Err(TargetError::BadIpv6 {
            token: t.to_owned(),
            detail: "zone indexes (%) are not supported".into(),
        });
    }
    if text.contains(':') {
        return text
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| TargetError::BadIpv6 {
                token: t.to_owned(),
                detail: String::new(),
            });
    }
    if looks_numeric_v4(text) {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 4 {
            return Err(TargetError::BadIpv4 {
                token: t.to_owned(),
                detail: "an IPv4 address has four numbers separated by dots".into(),
            });
        }
        for p in &parts {
            match p.parse::<u32>() {
                Ok(n) if n <= 255 && !(p.len() > 1 && p.starts_with('0')) => {}
                Ok(n) if n > 255 => {
                    return Err(TargetError::BadIpv4 {
                        token: t.to_owned(),
                        detail: format!("{p} is more than 255"),
                    });
                }
                _ => {
                    return Err(TargetError::BadIpv4 {
                        token: t.to_owned(),
                        detail: format!(
                            "'{p}' is not a number from 0 to 255 without leading zeros"
                        ),
                    });
                }
            }
        }
        return text
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| TargetError::BadIpv4 {
                token: t.to_owned(),
                detail: String::new(),
            });
    }
    Err(TargetError::BadHostName {
        token: t.to_owned(),
    })
}

fn parse_cidr(token: &str, addr: &str, prefix: &str) -> Result<Spec, TargetError> {
    let bad = |detail: String| TargetError::BadCidr {
        token: token.to_owned(),
        detail,
    };
    let ip = match parse_addr(addr) {
        Ok(ip) => ip,
        Err(TargetError::BadHostName { .. }) => {
            return Err(bad(format!("'{addr}' is not an IP address")));
        }
        Err(e) => return Err(e),
    };
    let bits: u32 = if ip.is_ipv4() { 32 } else { 128 };
    let n: u32 = prefix
        .parse()
        .map_err(|_| bad(format!("prefix length '{prefix}' is not a number")))?;
    if n > bits {
        return Err(bad(format!(
            "prefix length {n} is more than {bits}, the bits in an {} address",
            if ip.is_ipv4() { "IPv4" } else { "IPv6" }
        )));
    }
    let (v, _) = to_u128(ip);
    let host_bits = bits - n;
    let mask: u128 = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let first = v & !mask;
    let last = first | mask;
    Ok(Spec::Range {
        first: from_u128(first, ip.is_ipv6()),
        last: from_u128(last, ip.is_ipv6()),
    })
}

fn parse_range(token: &str, first: IpAddr, end: &str) -> Result<Spec, TargetError> {
    let bad = |detail: String| TargetError::BadRange {
        token: token.to_owned(),
        detail,
    };
    let end = end.trim();
    let last = if end.contains('.') || end.contains(':') || end.starts_with('[') {
        let last = parse_addr(end)?;
        if last.is_ipv4() != first.is_ipv4() {
            return Err(bad("the two ends are of different address families".into()));
        }
        last
    } else {
        // The last part of the address replaced: 10.0.0.1-20 (decimal), 2001:db8::1-ff (hex).
        match first {
            IpAddr::V4(a) => {
                let n: u8 = end
                    .parse()
                    .map_err(|_| bad(format!("'{end}' is not a number from 0 to 255")))?;
                let o = a.octets();
                IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], n))
            }
            IpAddr::V6(a) => {
                let n = u16::from_str_radix(end, 16)
                    .map_err(|_| bad(format!("'{end}' is not a hexadecimal group (0-ffff)")))?;
                let mut s = a.segments();
                s[7] = n;
                IpAddr::V6(Ipv6Addr::from(s))
            }
        }
    };
    if to_u128(last).0 < to_u128(first).0 {
        return Err(bad(
            "it runs backwards: write the lower address first".into()
        ));
    }
    Ok(Spec::Range { first, last })
}

/// nmap's octet patterns: four dot-separated parts, each `*`, a number or a range of numbers,
/// with a `*` somewhere, a range before the last part or an open-ended last part
/// (`10.0.0.1-20` is an ordinary range).
fn is_octet_pattern(t: &str) -> bool {
    let parts: Vec<&str> = t.split('.').collect();
    parts.len() == 4
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'*'))
        && (t.contains('*')
            || parts[..3].iter().any(|p| p.contains('-'))
            || parts[3].starts_with('-')
            || parts[3].ends_with('-'))
}

/// Expands an octet pattern into its address ranges. The parts after the last one that is not
/// the whole 0-255 join each piece into one range, so `10.0.*.*` is one range, `10.0.0-3.1-254`
/// four.
fn parse_octets(token: &str) -> Result<Spec, TargetError> {
    let bad = |detail: String| TargetError::BadRange {
        token: token.to_owned(),
        detail,
    };
    let mut parts = [(0u8, 0u8); 4];
    for (slot, p) in parts.iter_mut().zip(token.split('.')) {
        let number = |s: &str, default: u8| -> Result<u8, TargetError> {
            if s.is_empty() {
                return Ok(default);
            }
            s.parse::<u8>()
                .map_err(|_| bad(format!("'{s}' in '{p}' is not a number from 0 to 255")))
        };
        *slot = match p {
            "*" => (0, 255),
            _ => match p.split_once('-') {
                // nmap's open ends: `-20` is 0-20, `200-` is 200-255.
                Some((a, b)) => (number(a, 0)?, number(b, 255)?),
                None if p.is_empty() => return Err(bad("an octet is missing".into())),
                None => {
                    let n = number(p, 0)?;
                    (n, n)
                }
            },
        };
        if slot.0 > slot.1 {
            return Err(bad(format!(
                "'{p}' runs backwards: write the lower number first"
            )));
        }
    }
    // The last part narrower than 0-255; every part after it is whole.
    let k = parts
        .iter()
        .rposition(|&(a, b)| (a, b) != (0, 255))
        .unwrap_or(0);
    let pieces: u64 = parts[..k]
        .iter()
        .map(|&(a, b)| u64::from(b - a) + 1)
        .product();
    if pieces > MAX_OCTET_PIECES {
        return Err(bad(format!(
            "it makes {pieces} separate pieces, more than {MAX_OCTET_PIECES}; write it as CIDR \
             blocks or ranges"
        )));
    }
    let mut out = Vec::with_capacity(pieces as usize);
    let mut prefix = [0u8; 4];
    expand_octets(&parts, k, 0, &mut prefix, &mut out);
    Ok(Spec::Ranges(out))
}

fn expand_octets(
    parts: &[(u8, u8); 4],
    k: usize,
    i: usize,
    prefix: &mut [u8; 4],
    out: &mut Vec<(IpAddr, IpAddr)>,
) {
    if i == k {
        let mut first = *prefix;
        let mut last = *prefix;
        first[k] = parts[k].0;
        last[k] = parts[k].1;
        for j in k + 1..4 {
            first[j] = 0;
            last[j] = 255;
        }
        out.push((Ipv4Addr::from(first).into(), Ipv4Addr::from(last).into()));
        return;
    }
    for n in parts[i].0..=parts[i].1 {
        prefix[i] = n;
        expand_octets(parts, k, i + 1, prefix, out);
    }
}

/// RFC 1123 host names (plus `_`, which appears in the wild).
fn valid_host_name(t: &str) -> bool {
    let t = t.strip_suffix('.').unwrap_or(t);
    !t.is_empty()
        && t.len() <= 253
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        // All-numeric labels only: that was meant as an address, and parse_addr said no.
        && !t.split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit()))
}

fn to_u128(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

fn from_u128(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(v))
    } else {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    }
}

/// Splits a list (a command-line word or a line of a file) into tokens: commas and white
/// space separate; `#` starts a comment.
pub fn split_tokens(text: &str) -> impl Iterator<Item = &str> {
    let text = text.split('#').next().unwrap_or("");
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
}

/// The most bytes read from one target or exclusion file (or standard input): a list of
/// millions of addresses fits; `/dev/zero` on standard input stops here instead of filling
/// memory. Larger sets are better written as ranges and CIDR blocks.
pub const MAX_LIST_BYTES: u64 = 64 << 20;

/// Target files (`-iL`, `--exclude-file`): read through the shared bounded reader.
const TARGET_LIST: portent_input::Input = portent_input::Input::new("target list", MAX_LIST_BYTES);

/// Tokens of a target file (`-iL`), each with its line number. `-` reads standard input.
/// The file must be a regular file of at most [`MAX_LIST_BYTES`] (FIFOs, devices and
/// directories are refused without being opened for a blocking read).
pub fn read_target_file(path: &Path) -> Result<Vec<(usize, String)>, TargetError> {
    let text = TARGET_LIST
        .read_arg_text(path)
        .map_err(TargetError::Input)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for t in split_tokens(line) {
            out.push((i + 1, t.to_owned()));
        }
    }
    Ok(out)
}

/// Where a token came from: the command line, or a line of a file (an index into
/// [`Tokens::files`]).
#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    len: u32,
    /// 0: the command line; n: `files[n - 1]`.
    file: u32,
    line: u32,
}

/// Tokens stored compactly: their text back to back in one string and 24 bytes each, so a
/// 64 MiB list of single addresses costs a few hundred MB at most, not a `String` and a
/// `PathBuf` per line.
#[derive(Debug, Default)]
struct Tokens {
    text: String,
    toks: Vec<Tok>,
    files: Vec<PathBuf>,
}

impl Tokens {
    fn push(&mut self, token: &str, file: u32, line: usize) {
        let start = self.text.len();
        self.text.push_str(token);
        self.toks.push(Tok {
            start,
            len: u32::try_from(token.len()).unwrap_or(u32::MAX),
            file,
            line: u32::try_from(line).unwrap_or(u32::MAX),
        });
    }

    fn words(&mut self, word: &str) {
        for t in split_tokens(word) {
            self.push(t, 0, 0);
        }
    }

    fn file(&mut self, path: &Path) -> Result<(), TargetError> {
        let text = TARGET_LIST
            .read_arg_text(path)
            .map_err(TargetError::Input)?;
        self.files.push(path.to_owned());
        let file = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        for (i, line) in text.lines().enumerate() {
            for t in split_tokens(line) {
                self.push(t, file, i + 1);
            }
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.toks.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (&str, Tok)> + '_ {
        self.toks.iter().map(|t| {
            let end = t.start + t.len as usize;
            (self.text.get(t.start..end).unwrap_or(""), *t)
        })
    }

    /// `e` located in its file, if the token came from one.
    fn locate(&self, e: TargetError, at: Tok) -> TargetError {
        match self.files.get((at.file as usize).wrapping_sub(1)) {
            Some(path) => TargetError::InFile {
                path: path.clone(),
                line: at.line as usize,
                err: Box::new(e),
            },
            None => e,
        }
    }
}

/// Merged, sorted inclusive ranges of one family, as integers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RangeSet(Vec<(u128, u128)>);

impl RangeSet {
    fn from_ranges(mut v: Vec<(u128, u128)>) -> RangeSet {
        v.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => out.push((a, b)),
            }
        }
        RangeSet(out)
    }

    fn subtract(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        for &(a, b) in &self.0 {
            let mut start = a;
            let mut alive = true;
            for &(x, y) in &other.0 {
                if y < start || x > b {
                    continue;
                }
                if x > start {
                    out.push((start, x - 1));
                }
                if y >= b {
                    alive = false;
                    break;
                }
                start = y + 1;
            }
            if alive {
                out.push((start, b));
            }
        }
        RangeSet(out)
    }

    fn count(&self) -> u128 {
        self.0
            .iter()
            .map(|&(a, b)| (b - a).saturating_add(1))
            .fold(0u128, u128::saturating_add)
    }

    fn contains(&self, v: u128) -> bool {
        let i = self.0.partition_point(|&(a, _)| a <= v);
        i > 0 && self.0[i - 1].1 >= v
    }
}

/// A host name and the addresses it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolution {
    pub name: String,
    pub addresses: Vec<IpAddr>,
}

/// Collects target and exclusion tokens; [`build`](Self::build) validates everything.
#[derive(Debug, Default)]
pub struct TargetsBuilder {
    include: Tokens,
    exclude: Tokens,
    confirmed: bool,
}

impl TargetsBuilder {
    pub fn new() -> TargetsBuilder {
        TargetsBuilder::default()
    }

    /// Adds targets from a command-line word (`10.0.0.1,10.0.0.5-9`).
    pub fn target(&mut self, word: &str) -> &mut Self {
        self.include.words(word);
        self
    }

    /// Adds every target in a file (`-iL`; `-` is standard input), read through the bounded
    /// reader ([`MAX_LIST_BYTES`]).
    pub fn target_file(&mut self, path: &Path) -> Result<&mut Self, TargetError> {
        self.include.file(path)?;
        Ok(self)
    }

    /// Adds exclusions (`--exclude 10.0.0.7,10.0.0.16/28`).
    pub fn exclude(&mut self, word: &str) -> &mut Self {
        self.exclude.words(word);
        self
    }

    /// Adds exclusions from a file (the same rules as [`target_file`](Self::target_file)).
    pub fn exclude_file(&mut self, path: &Path) -> Result<&mut Self, TargetError> {
        self.exclude.file(path)?;
        Ok(self)
    }

    /// Allows more than [`CONFIRM_ABOVE`] addresses (`--yes`).
    pub fn confirmed(&mut self, yes: bool) -> &mut Self {
        self.confirmed = yes;
        self
    }

    /// Parses every token, resolves every name, applies exclusions and checks the size. The
    /// first bad token is the error; nothing is partly built.
    pub fn build(&self, resolver: &dyn Resolver) -> Result<Targets, TargetError> {
        if self.include.is_empty() {
            return Err(TargetError::Empty);
        }
        let (inc4, inc6, resolutions) = collect(&self.include, resolver)?;
        let (exc4, exc6, _) = collect(&self.exclude, resolver)?;
        let v4 = RangeSet::from_ranges(inc4).subtract(&RangeSet::from_ranges(exc4));
        let v6 = RangeSet::from_ranges(inc6).subtract(&RangeSet::from_ranges(exc6));
        let count = v4.count().saturating_add(v6.count());
        if count == 0 {
            return Err(TargetError::AllExcluded);
        }
        if count > u128::from(MAX_ADDRESSES) {
            return Err(TargetError::TooMany {
                count,
                max: MAX_ADDRESSES,
            });
        }
        if count > u128::from(CONFIRM_ABOVE) && !self.confirmed {
            return Err(TargetError::NeedsConfirmation {
                count,
                limit: CONFIRM_ABOVE,
            });
        }
        let mut names = BTreeMap::new();
        for r in &resolutions {
            for a in &r.addresses {
                names.entry(*a).or_insert_with(|| r.name.clone());
            }
        }
        Ok(Targets {
            v4,
            v6,
            len: count as u64,
            names,
            resolutions,
        })
    }
}

type Collected = (Vec<(u128, u128)>, Vec<(u128, u128)>, Vec<Resolution>);

/// Ranges pushed one token at a time, merged whenever the list has doubled since the last
/// merge: a list that repeats or enumerates addresses stays small while it is read.
#[derive(Debug, Default)]
struct Growing {
    v: Vec<(u128, u128)>,
    merged_len: usize,
}

impl Growing {
    fn push(&mut self, r: (u128, u128)) {
        self.v.push(r);
        if self.v.len() >= 1 << 16 && self.v.len() >= 2 * self.merged_len {
            self.v = RangeSet::from_ranges(std::mem::take(&mut self.v)).0;
            self.merged_len = self.v.len();
        }
    }
}

fn collect(tokens: &Tokens, resolver: &dyn Resolver) -> Result<Collected, TargetError> {
    let mut v4 = Growing::default();
    let mut v6 = Growing::default();
    let mut push = |(v, six): (u128, bool), last: u128| {
        if six {
            v6.push((v, last))
        } else {
            v4.push((v, last))
        }
    };
    // Syntax first, for every token: a typo on the last line is reported before any lookup.
    // Host names wait (once each, in order) until every token has parsed.
    let mut hosts: Vec<(String, &str, Tok)> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (token, at) in tokens.iter() {
        match parse_spec(token).map_err(|e| tokens.locate(e, at))? {
            Spec::Range { first, last } => push(to_u128(first), to_u128(last).0),
            Spec::Ranges(v) => {
                for (first, last) in v {
                    push(to_u128(first), to_u128(last).0);
                }
            }
            Spec::Host(name) => {
                if seen.insert(name.clone()) {
                    hosts.push((name, token, at));
                }
            }
        }
    }
    let mut resolutions: Vec<Resolution> = Vec::with_capacity(hosts.len());
    for (name, token, at) in hosts {
        let unresolved = |detail: String| {
            tokens.locate(
                TargetError::Unresolved {
                    token: token.to_owned(),
                    detail,
                },
                at,
            )
        };
        let addrs = resolver
            .resolve(&name)
            .map_err(|e| unresolved(e.to_string()))?;
        if addrs.is_empty() {
            return Err(unresolved("no addresses".into()));
        }
        for a in &addrs {
            let (v, six) = to_u128(*a);
            push((v, six), v);
        }
        resolutions.push(Resolution {
            name,
            addresses: addrs,
        });
    }
    Ok((v4.v, v6.v, resolutions))
}

/// A validated set of addresses to scan: IPv4 first, then IPv6, each ascending.
#[derive(Debug, Clone)]
pub struct Targets {
    v4: RangeSet,
    v6: RangeSet,
    len: u64,
    names: BTreeMap<IpAddr, String>,
    resolutions: Vec<Resolution>,
}

impl Targets {
    /// Targets from addresses (for tests and `check`).
    pub fn from_addrs(addrs: impl IntoIterator<Item = IpAddr>) -> Targets {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for a in addrs {
            let (v, six) = to_u128(a);
            if six {
                v6.push((v, v))
            } else {
                v4.push((v, v))
            }
        }
        let v4 = RangeSet::from_ranges(v4);
        let v6 = RangeSet::from_ranges(v6);
        let len = (v4.count() + v6.count()) as u64;
        Targets {
            v4,
            v6,
            len,
            names: BTreeMap::new(),
            resolutions: Vec::new(),
        }
    }

    /// How many addresses.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every address, IPv4 first, ascending; lazily.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let v4 = self
            .v4
            .0
            .iter()
            .flat_map(|&(a, b)| (a..=b).map(|v| from_u128(v, false)));
        let v6 = self
            .v6
            .0
            .iter()
            .flat_map(|&(a, b)| (a..=b).map(|v| from_u128(v, true)));
        v4.chain(v6)
    }

    /// True if `addr` is a target.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let (v, six) = to_u128(addr);
        if six {
            self.v6.contains(v)
        } else {
            self.v4.contains(v)
        }
    }

    /// The host name an address came from, if it came from one.
    pub fn name_of(&self, addr: IpAddr) -> Option<&str> {
        self.names.get(&addr).map(String::as_str)
    }

    /// Each host name given, with all the addresses it resolved to (all are scanned unless
    /// excluded).
    pub fn resolutions(&self) -> &[Resolution] {
        &self.resolutions
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Table;
    impl Resolver for Table {
        fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
            match host {
                "dual.test" => Ok(vec![
                    "192.0.2.10".parse().unwrap(),
                    "2001:db8::10".parse().unwrap(),
                ]),
                "four.test" => Ok(vec!["192.0.2.4".parse().unwrap()]),
                _ => Err(std::io::Error::other("no such host")),
            }
        }
    }

    fn build(words: &[&str], excl: &[&str]) -> Result<Targets, TargetError> {
        let mut b = TargetsBuilder::new();
        for w in words {
            b.target(w);
        }
        for w in excl {
            b.exclude(w);
        }
        b.build(&Table)
    }

    fn addrs(t: &Targets) -> Vec<String> {
        t.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn addresses_ranges_blocks_names() {
        let t = build(&["10.0.0.1-3", "10.0.0.2", "::1", "[2001:db8::1]"], &[]).unwrap();
        assert_eq!(
            addrs(&t),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "::1", "2001:db8::1"]
        );
        let t = build(&["192.0.2.5/30"], &[]).unwrap();
        assert_eq!(
            addrs(&t),
            ["192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7"]
        );
        let t = build(&["10.0.0.250-10.0.1.2"], &[]).unwrap();
        assert_eq!(t.len(), 9);
        let t = build(&["2001:db8::1-3"], &[]).unwrap();
        assert_eq!(addrs(&t), ["2001:db8::1", "2001:db8::2", "2001:db8::3"]);
        let t = build(&["2001:db8::/126"], &[]).unwrap();
        assert_eq!(t.len(), 4);
        let t = build(&["dual.test,four.test"], &[]).unwrap();
        assert_eq!(addrs(&t), ["192.0.2.4", "192.0.2.10", "2001:db8::10"]);
        assert_eq!(
            t.name_of("2001:db8::10".parse().unwrap()),
            Some("dual.test")
        );
        assert_eq!(t.resolutions().len(), 2);
        assert_eq!(build(&["10.0.0.0/32"], &[]).unwrap().len(), 1);
        assert!(
            build(&["0.0.0.0/0"], &[])
                .unwrap_err()
                .to_string()
                .contains("at most")
        );
    }

    #[test]
    fn nmap_octet_patterns() {
        let t = build(&["10.0.0-3.1-2"], &[]).unwrap();
        assert_eq!(
            addrs(&t),
            [
                "10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2", "10.0.2.1", "10.0.2.2", "10.0.3.1",
                "10.0.3.2"
            ]
        );
        let t = build(&["10.0.0.*"], &[]).unwrap();
        assert_eq!(t.len(), 256);
        assert_eq!(addrs(&t)[0], "10.0.0.0");
        assert_eq!(addrs(&t)[255], "10.0.0.255");
        // Whole trailing octets join: one range, not 256.
        assert_eq!(
            parse_spec("10.0.*.*").unwrap(),
            Spec::Ranges(vec![(
                "10.0.0.0".parse().unwrap(),
                "10.0.255.255".parse().unwrap()
            )])
        );
        // nmap's open ends.
        assert_eq!(build(&["10.0.0.250-"], &[]).unwrap().len(), 6);
        assert_eq!(build(&["10.0.-1.1"], &[]).unwrap().len(), 2);
        // The ordinary range keeps its meaning.
        assert_eq!(build(&["10.0.0.1-20"], &[]).unwrap().len(), 20);
        // Excluding from a pattern.
        let t = build(&["10.0.1-2.1-3"], &["10.0.2.2"]).unwrap();
        assert_eq!(t.len(), 5);
        // A pattern is not one host for `check`.
        assert!(crate::check::resolve_one("10.0.0.*", &Table).is_err());
    }

    #[test]
    fn exclusions() {
        let t = build(&["10.0.0.0/29"], &["10.0.0.0,10.0.0.6-7"]).unwrap();
        assert_eq!(
            addrs(&t),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
        );
        let t = build(&["dual.test"], &["2001:db8::/64"]).unwrap();
        assert_eq!(addrs(&t), ["192.0.2.10"]);
        assert!(matches!(
            build(&["10.0.0.1"], &["10.0.0.0/24"]),
            Err(TargetError::AllExcluded)
        ));
    }

    #[test]
    fn large_sets_need_confirmation() {
        assert_eq!(build(&["10.0.0.0/16"], &[]).unwrap().len(), 65536);
        let e = build(&["10.0.0.0/15"], &[]).unwrap_err();
        assert!(
            matches!(e, TargetError::NeedsConfirmation { count: 131072, .. }),
            "{e}"
        );
        let mut b = TargetsBuilder::new();
        b.target("10.0.0.0/15").confirmed(true);
        assert_eq!(b.build(&Table).unwrap().len(), 131072);
        assert!(matches!(
            build(&["2001:db8::/64"], &[]),
            Err(TargetError::TooMany { .. })
        ));
    }

    #[test]
    fn bad_tokens_are_named() {
        for (tok, want) in [
            ("999.1.1.1", "invalid IPv4 address '999.1.1.1'"),
            ("1.2.3", "invalid IPv4 address '1.2.3'"),
            ("1.2.3.4.5", "invalid IPv4 address '1.2.3.4.5'"),
            ("01.2.3.4", "invalid IPv4 address '01.2.3.4'"),
            ("10.0.0.0/33", "invalid CIDR block '10.0.0.0/33'"),
            ("10.0.0.0/x", "invalid CIDR block '10.0.0.0/x'"),
            ("::1/129", "invalid CIDR block '::1/129'"),
            ("host.test/24", "invalid CIDR block 'host.test/24'"),
            ("10.0.0.9-3", "invalid address range '10.0.0.9-3'"),
            ("10.0.0.1-256", "invalid address range '10.0.0.1-256'"),
            ("10.0.0.1-::5", "invalid address range '10.0.0.1-::5'"),
            ("10.0.0.1-x", "invalid address range '10.0.0.1-x'"),
            ("2001:db8::9-1", "invalid address range '2001:db8::9-1'"),
            (
                "2001:db8::1-fffff",
                "invalid address range '2001:db8::1-fffff'",
            ),
            ("2001:db8:::1", "invalid IPv6 address '2001:db8:::1'"),
            ("fe80::1%eth0", "invalid IPv6 address 'fe80::1%eth0'"),
            ("bad_$host", "'bad_$host' is not an address"),
            ("-host", "'-host' is not an address"),
            ("nosuch.test", "cannot resolve host 'nosuch.test'"),
            ("999.1.1.1-5", "invalid IPv4 address '999.1.1.1'"),
            ("10.0.0-300.1", "invalid address range '10.0.0-300.1'"),
            ("10.0.5-3.*", "'5-3' runs backwards"),
            ("10..0.*", "an octet is missing"),
            ("*.*.*.1", "16777216 separate pieces"),
        ] {
            let e = build(&[tok], &[]).unwrap_err().to_string();
            assert!(e.contains(want), "{tok}: got {e}");
        }
        // One bad token spoils the whole input, even after good ones.
        assert!(build(&["10.0.0.1", "999.1.1.1"], &[]).is_err());
        assert!(build(&["10.0.0.1"], &["10.0.0.0/40"]).is_err());
        assert!(matches!(build(&[], &[]), Err(TargetError::Empty)));
    }

    #[test]
    fn host_with_port_is_recognised() {
        for (tok, host, port) in [
            ("127.0.0.1:22", "127.0.0.1", "22"),
            ("[::1]:22", "::1", "22"),
            ("[2001:db8::7]:8080", "2001:db8::7", "8080"),
            ("dual.test:443", "dual.test", "443"),
            ("localhost:22", "localhost", "22"),
            ("10.0.0.1:99999", "10.0.0.1", "99999"),
        ] {
            match parse_spec(tok) {
                Err(TargetError::HostWithPort {
                    token,
                    host: h,
                    port: p,
                }) => {
                    assert_eq!((token.as_str(), h.as_str(), p.as_str()), (tok, host, port));
                }
                other => panic!("{tok}: {other:?}"),
            }
            let e = build(&[tok], &[]).unwrap_err().to_string();
            assert!(e.contains(&format!("use -p {port}")), "{tok}: {e}");
            assert!(!e.contains("IPv6"), "{tok}: {e}");
            let e = crate::check::resolve_one(tok, &Table)
                .unwrap_err()
                .to_string();
            assert!(
                e.ends_with(&format!(
                    "give the port separately: portent check {host} {port}"
                )),
                "{tok}: {e}"
            );
        }
        // IPv6 literals are not HOST:PORT, and keep today's handling.
        for tok in ["::1", "[::1]", "2001:db8::22", "::ffff:10.0.0.1", "fe80::1"] {
            assert!(matches!(parse_spec(tok), Ok(Spec::Range { .. })), "{tok}");
        }
        let e = build(&["fe80::1%eth0"], &[]).unwrap_err().to_string();
        assert!(e.contains("zone indexes"), "{e}");
        let e = build(&["[::1]:"], &[]).unwrap_err().to_string();
        assert!(e.contains("invalid IPv6 address"), "{e}");
    }

    #[test]
    fn check_takes_one_host() {
        use crate::check::resolve_one;
        assert_eq!(resolve_one("10.0.0.1", &Table).unwrap().len(), 1);
        for (tok, count) in [("127.0.0.1/24", "256"), ("10.0.0.1-3", "3")] {
            let e = resolve_one(tok, &Table).unwrap_err();
            assert!(matches!(e, TargetError::NotOneHost { .. }), "{e:?}");
            let e = e.to_string();
            assert!(e.contains(&format!("is {count} addresses")), "{e}");
            assert!(e.contains("check tests one host"), "{e}");
            assert!(e.contains(&format!("portent scan {tok}")), "{e}");
        }
    }

    #[test]
    fn files_with_comments_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("targets.txt");
        std::fs::write(&f, "# lab\n10.0.0.1, 10.0.0.2\n\n10.0.0.8/31 # pair\n").unwrap();
        let mut b = TargetsBuilder::new();
        b.target_file(&f).unwrap();
        let t = b.build(&Table).unwrap();
        assert_eq!(addrs(&t), ["10.0.0.1", "10.0.0.2", "10.0.0.8", "10.0.0.9"]);
        std::fs::write(&f, "10.0.0.1\n10.0.0.300\n").unwrap();
        let mut b = TargetsBuilder::new();
        b.target_file(&f).unwrap();
        let e = b.build(&Table).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("'10.0.0.300'"), "{e}");
        let mut b = TargetsBuilder::new();
        assert!(b.target_file(&dir.path().join("missing")).is_err());
    }
}
