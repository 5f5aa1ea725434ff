//! Port lists: `-p 22,80,1000-2000`, `-p-`, open-ended ranges, service names from the registry,
//! and the registry-aware classes of `--ports` (system, user, dynamic, assigned, reserved,
//! unassigned). A set of ports is a 65,536-bit map, so any list costs 8 KiB and is
//! deduplicated and sorted by construction.

use portent_registry::{PortRange, Protocol as RegProtocol, Registry, Status};

use crate::model::Protocol;

use crate::error::PortError;

/// A set of TCP ports (1-65535; port 0 cannot be reached with `connect()`).
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet {
    bits: Box<[u64; 1024]>,
    len: usize,
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PortSet({} ports: {})", self.len, self.summary())
    }
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet::empty()
    }
}

impl PortSet {
    /// No ports.
    pub fn empty() -> PortSet {
        PortSet {
            bits: Box::new([0; 1024]),
            len: 0,
        }
    }

    /// Every port, 1-65535: the default.
    pub fn all() -> PortSet {
        let mut s = PortSet::empty();
        s.insert_range(1, 65535);
        s
    }

    /// The ports in `ports` (0 is ignored).
    pub fn from_ports(ports: impl IntoIterator<Item = u16>) -> PortSet {
        let mut s = PortSet::empty();
        for p in ports {
            s.insert(p);
        }
        s
    }

    pub fn insert(&mut self, port: u16) {
        if port == 0 {
            return;
        }
        let (w, b) = (usize::from(port) / 64, port % 64);
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.len += 1;
        }
    }

    pub fn insert_range(&mut self, first: u16, last: u16) {
        for p in first..=last {
            self.insert(p);
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port) / 64] & (1 << (port % 64)) != 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ports in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (1..=65535u16).filter(|&p| self.contains(p))
    }

    /// Ascending, as a vector (what the engine indexes into).
    pub fn to_vec(&self) -> Vec<u16> {
        self.iter().collect()
    }

    /// Keeps only ports also in `other`.
    pub fn intersect(&mut self, other: &PortSet) {
        let mut len = 0;
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a &= *b;
            len += a.count_ones() as usize;
        }
        self.len = len;
    }

    /// Removes the ports in `other`.
    pub fn subtract(&mut self, other: &PortSet) {
        let mut len = 0;
        for (a, b) in self.bits.iter_mut().zip(other.bits.iter()) {
            *a &= !*b;
            len += a.count_ones() as usize;
        }
        self.len = len;
    }

    /// Compact ranges, as nmap writes them (`1-1023,8080`): for XML `scaninfo` and messages.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut run: Option<(u16, u16)> = None;
        let push = |out: &mut String, (a, b): (u16, u16)| {
            if !out.is_empty() {
                out.push(',');
            }
            if a == b {
                out.push_str(&a.to_string());
            } else {
                out.push_str(&format!("{a}-{b}"));
            }
        };
        for p in self.iter() {
            run = match run {
                Some((a, b)) if b + 1 == p => Some((a, p)),
                Some(r) => {
                    push(&mut out, r);
                    Some((p, p))
                }
                None => Some((p, p)),
            };
        }
        if let Some(r) = run {
            push(&mut out, r);
        }
        out
    }
}

/// A registry-aware class of ports for `--ports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortClass {
    /// 1-1023.
    System,
    /// 1024-49151.
    User,
    /// 49152-65535.
    Dynamic,
    /// Assigned to a service on TCP in the registry.
    Assigned,
    /// Reserved on TCP in the registry.
    Reserved,
    /// Neither assigned nor reserved on TCP.
    Unassigned,
}

impl PortClass {
    pub const NAMES: [&'static str; 6] = [
        "system",
        "user",
        "dynamic",
        "assigned",
        "reserved",
        "unassigned",
    ];

    pub fn parse(word: &str) -> Option<PortClass> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "system" | "well-known" => PortClass::System,
            "user" | "registered" => PortClass::User,
            "dynamic" | "private" | "ephemeral" => PortClass::Dynamic,
            "assigned" => PortClass::Assigned,
            "reserved" => PortClass::Reserved,
            "unassigned" => PortClass::Unassigned,
            _ => return None,
        })
    }

    fn is_range(self) -> bool {
        matches!(
            self,
            PortClass::System | PortClass::User | PortClass::Dynamic
        )
    }

    fn contains(self, reg: &Registry, port: u16, proto: RegProtocol) -> bool {
        match self {
            PortClass::System => PortRange::of(port) == PortRange::System,
            PortClass::User => PortRange::of(port) == PortRange::User,
            PortClass::Dynamic => PortRange::of(port) == PortRange::Dynamic,
            PortClass::Assigned => reg.status(port, proto) == Status::Assigned,
            PortClass::Reserved => reg.status(port, proto) == Status::Reserved,
            PortClass::Unassigned => reg.status(port, proto) == Status::Unassigned,
        }
    }
}

/// Parses a TCP `-p` list: comma-separated items, each a port (`797`), a range (`1-1023`), an
/// open-ended range (`-1023`, `60000-`), `-` alone (all ports), or a service name looked up
/// in the registry on TCP (`ssh`, `http`). Errors name the bad item; an item for another
/// protocol (`53/udp`, `U:53`) is refused (see [`parse_spec`] for lists of both).
pub fn parse_ports(text: &str, reg: &Registry) -> Result<PortSet, PortError> {
    let spec = parse_spec(text, reg, &[Protocol::Tcp])?;
    if spec.udp_named {
        let item = text
            .split(',')
            .find(|i| item_protocol(i.trim()).is_some_and(|p| p == Protocol::Udp))
            .unwrap_or(text);
        return Err(PortError::UdpNotHere {
            item: item.trim().to_owned(),
        });
    }
    Ok(spec.tcp)
}

/// A `-p` list split by protocol (see [`parse_spec`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub tcp: PortSet,
    pub udp: PortSet,
    /// Some item named the protocol (`T:` prefix or `/tcp` suffix).
    pub tcp_named: bool,
    pub udp_named: bool,
}

/// Which protocol an item names by its prefix or suffix, if any (for error messages).
fn item_protocol(item: &str) -> Option<Protocol> {
    let lower = item.to_ascii_lowercase();
    if lower.starts_with("u:") || lower.ends_with("/udp") {
        Some(Protocol::Udp)
    } else if lower.starts_with("t:") || lower.ends_with("/tcp") {
        Some(Protocol::Tcp)
    } else {
        None
    }
}

/// Parses a `-p` list that may name protocols, as nmap reads it: `T:` and `U:` prefixes switch
/// the protocol for that item and every item after it (`U:53,161,T:22,80`); a `/tcp` or `/udp`
/// suffix names it for one item (`22,53/udp`); items before any prefix go to each protocol in
/// `unnamed` (the ones the scan was asked for). Service names are looked up in the registry on
/// the item's protocol (`domain` is 53 on both, `snmp` 161 on UDP). Errors name the bad item.
pub fn parse_spec(text: &str, reg: &Registry, unnamed: &[Protocol]) -> Result<PortSpec, PortError> {
    let mut spec = PortSpec {
        tcp: PortSet::empty(),
        udp: PortSet::empty(),
        tcp_named: false,
        udp_named: false,
    };
    if text.trim().is_empty() {
        return Err(PortError::Empty);
    }
    let mut current: Option<Protocol> = None;
    for raw in text.split(',') {
        let mut item = raw.trim();
        if let Some((prefix, rest)) = item.split_once(':') {
            current = Some(match prefix.trim().to_ascii_lowercase().as_str() {
                "t" => Protocol::Tcp,
                "u" => Protocol::Udp,
                other => {
                    return Err(PortError::TcpOnly {
                        item: item.to_owned(),
                        protocol: match other {
                            "s" => "sctp".to_owned(),
                            "p" => "ip".to_owned(),
                            o => o.to_owned(),
                        },
                    });
                }
            });
            item = rest.trim();
        }
        let (item, suffix) = split_suffix(item)?;
        let protos: &[Protocol] = match suffix.or(current) {
            Some(Protocol::Tcp) => &[Protocol::Tcp],
            Some(Protocol::Udp) => &[Protocol::Udp],
            None => unnamed,
        };
        match suffix.or(current) {
            Some(Protocol::Tcp) => spec.tcp_named = true,
            Some(Protocol::Udp) => spec.udp_named = true,
            None => {}
        }
        if item.is_empty() {
            return Err(PortError::EmptyItem {
                list: text.to_owned(),
            });
        }
        for &proto in protos {
            let set = match proto {
                Protocol::Tcp => &mut spec.tcp,
                Protocol::Udp => &mut spec.udp,
            };
            add_item(set, item, reg, proto)?;
        }
    }
    Ok(spec)
}

/// One item (no prefix or suffix) added to `set`.
fn add_item(
    set: &mut PortSet,
    item: &str,
    reg: &Registry,
    proto: Protocol,
) -> Result<(), PortError> {
    {
        if item == "-" {
            set.insert_range(1, 65535);
            return Ok(());
        }
        let looks_numeric = item
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b.is_ascii_whitespace());
        if looks_numeric {
            let (a, b) = match item.split_once('-') {
                None => {
                    let p = number(item, item)?;
                    (p, p)
                }
                Some((a, b)) => {
                    let a = if a.trim().is_empty() {
                        1
                    } else {
                        number(a, item)?
                    };
                    let b = if b.trim().is_empty() {
                        65535
                    } else {
                        number(b, item)?
                    };
                    (a, b)
                }
            };
            if a == 0 || b == 0 {
                return Err(PortError::Zero {
                    item: item.to_owned(),
                });
            }
            if a > b {
                return Err(PortError::Backwards {
                    item: item.to_owned(),
                });
            }
            set.insert_range(a, b);
            return Ok(());
        }
        let rp = match proto {
            Protocol::Tcp => RegProtocol::Tcp,
            Protocol::Udp => RegProtocol::Udp,
        };
        let ports = reg.ports_for_name(item, Some(rp));
        if ports.is_empty() {
            let suggestions = reg
                .suggest_names(item, 3)
                .into_iter()
                .map(str::to_owned)
                .collect();
            return Err(PortError::UnknownService {
                name: item.to_owned(),
                protocol: proto.as_str(),
                suggestions,
            });
        }
        for p in ports {
            set.insert(p);
        }
    }
    Ok(())
}

/// An item without its `/tcp` or `/udp` suffix, and the protocol it named; any other protocol
/// after a slash is an error.
fn split_suffix(item: &str) -> Result<(&str, Option<Protocol>), PortError> {
    match item.rsplit_once('/') {
        None => Ok((item, None)),
        Some((ports, proto)) if proto.trim().eq_ignore_ascii_case("tcp") => {
            Ok((ports.trim(), Some(Protocol::Tcp)))
        }
        Some((ports, proto)) if proto.trim().eq_ignore_ascii_case("udp") => {
            Ok((ports.trim(), Some(Protocol::Udp)))
        }
        Some((_, proto)) => Err(PortError::TcpOnly {
            item: item.to_owned(),
            protocol: proto.trim().to_owned(),
        }),
    }
}

fn number(text: &str, item: &str) -> Result<u16, PortError> {
    let t = text.trim();
    match t.parse::<u32>() {
        Ok(n) if n <= 65535 => Ok(n as u16),
        Ok(_) => Err(PortError::OutOfRange {
            item: item.to_owned(),
        }),
        Err(_) => Err(PortError::NotANumber {
            item: item.to_owned(),
        }),
    }
}

/// The `n` ports most worth a first look on `protocol` (`--top-ports N`, `-F`), best first:
/// portent's measured ranking (`portent_registry::ranked_ports`, built from published
/// internet-wide measurements, docs/detection.md), then ports our notes record a common use
/// for, then the registry's assigned system ports, then assigned user ports, then the rest,
/// each group in port order. Any `n` up to 65,535 is answered.
pub fn top_ports(reg: &Registry, protocol: Protocol, n: usize) -> Vec<u16> {
    let proto = match protocol {
        Protocol::Tcp => RegProtocol::Tcp,
        Protocol::Udp => RegProtocol::Udp,
    };
    let n = n.min(65_535);
    let mut seen = vec![false; 65_536];
    let mut out = Vec::with_capacity(n);
    let mut take = |p: u16, out: &mut Vec<u16>| {
        if p != 0 && !seen[usize::from(p)] && out.len() < n {
            seen[usize::from(p)] = true;
            out.push(p);
        }
    };
    for &p in portent_registry::ranked_ports(proto) {
        take(p, &mut out);
    }
    // Ports our notes record a common use for (a range note, such as Kubernetes' NodePorts,
    // names no port in particular).
    let mut noted: Vec<u16> = portent_registry::notes()
        .iter()
        .filter(|n| n.kind.is_a_use() && !n.range)
        .filter(|n| n.protocols.is_empty() || n.protocols.contains(&proto))
        .flat_map(|n| n.ports.iter().copied())
        .collect();
    noted.sort_unstable();
    for p in noted {
        take(p, &mut out);
    }
    for p in 1..=65535u16 {
        if p < 1024 && reg.status(p, proto) == Status::Assigned {
            take(p, &mut out);
        }
    }
    for p in 1024..=65535u16 {
        if reg.status(p, proto) == Status::Assigned {
            take(p, &mut out);
        }
    }
    for p in 1..=65535u16 {
        take(p, &mut out);
    }
    out
}

/// Parses a `--ports` class list (`system,unassigned`): classes of one kind are united (system
/// or user), kinds are intersected (system ports that are unassigned: the ghosts' home).
pub fn parse_classes(text: &str, reg: &Registry) -> Result<PortSet, PortError> {
    classes_on(text, reg, RegProtocol::Tcp)
}

/// [`parse_classes`] with the registry's status read on `proto`.
fn classes_on(text: &str, reg: &Registry, proto: RegProtocol) -> Result<PortSet, PortError> {
    let mut ranges: Vec<PortClass> = Vec::new();
    let mut statuses: Vec<PortClass> = Vec::new();
    for raw in text.split(',') {
        let word = raw.trim();
        let class = PortClass::parse(word).ok_or_else(|| PortError::UnknownClass {
            word: word.to_owned(),
        })?;
        if class.is_range() {
            ranges.push(class);
        } else {
            statuses.push(class);
        }
    }
    let mut set = PortSet::empty();
    for p in 1..=65535u16 {
        let in_range = ranges.is_empty() || ranges.iter().any(|c| c.contains(reg, p, proto));
        let in_status = statuses.is_empty() || statuses.iter().any(|c| c.contains(reg, p, proto));
        if in_range && in_status {
            set.insert(p);
        }
    }
    Ok(set)
}

/// The ports to scan from `-p` and `--ports`: all ports when neither is given, the
/// intersection when both are (`-p 1-2000 --ports unassigned`). An empty result is an error.
pub fn select(
    list: Option<&str>,
    classes: Option<&str>,
    exclude: Option<&str>,
    reg: &Registry,
) -> Result<PortSet, PortError> {
    let mut set = match list {
        Some(l) => parse_ports(l, reg)?,
        None => PortSet::all(),
    };
    if let Some(c) = classes {
        set.intersect(&parse_classes(c, reg)?);
    }
    if let Some(x) = exclude {
        set.subtract(&parse_ports(x, reg)?);
    }
    if set.is_empty() {
        return Err(PortError::NothingLeft);
    }
    Ok(set)
}

/// The ports of a scan, per protocol (either may be empty, not both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub tcp: PortSet,
    pub udp: PortSet,
}

/// What the command line asked for: `-sT`/`--tcp` and `-sU`/`--udp` (neither: TCP, as nmap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wanted {
    pub tcp: bool,
    pub udp: bool,
}

/// The ports of a scan of TCP, UDP or both, from `-p` (with `T:`/`U:` prefixes and `/udp`
/// suffixes, see [`parse_spec`]), `--ports` classes and `--exclude-ports`.
///
/// The protocols scanned are the ones asked for plus the ones `-p` names (`-p 53/udp` alone
/// scans UDP 53 only; `-p 22,U:53` scans both). Without `-p`, TCP gets every port (portent's
/// default) and UDP gets `udp_default` (the ports the payload catalogue knows). Classes are
/// judged on each protocol's own registry status. A protocol asked for with no ports left is
/// an error, so is a selection with nothing at all.
pub fn select_spec(
    list: Option<&str>,
    classes: Option<&str>,
    exclude: Option<&str>,
    reg: &Registry,
    wanted: Wanted,
    udp_default: &PortSet,
) -> Result<Selection, PortError> {
    let unnamed: Vec<Protocol> = match (wanted.tcp, wanted.udp) {
        (_, false) => vec![Protocol::Tcp],
        (false, true) => vec![Protocol::Udp],
        (true, true) => vec![Protocol::Tcp, Protocol::Udp],
    };
    let (mut tcp, mut udp) = match list {
        Some(l) => {
            let s = parse_spec(l, reg, &unnamed)?;
            let want_tcp = wanted.tcp || s.tcp_named || unnamed.contains(&Protocol::Tcp);
            let want_udp = wanted.udp || s.udp_named;
            if want_tcp && wanted.tcp && s.tcp.is_empty() {
                return Err(PortError::NoPortsFor {
                    protocol: "TCP",
                    flag: 'T',
                    example: "-p T:22,80",
                });
            }
            if want_udp && wanted.udp && s.udp.is_empty() {
                return Err(PortError::NoPortsFor {
                    protocol: "UDP",
                    flag: 'U',
                    example: "-p U:53,161",
                });
            }
            (s.tcp, s.udp)
        }
        None => (
            if wanted.tcp || !wanted.udp {
                PortSet::all()
            } else {
                PortSet::empty()
            },
            if wanted.udp {
                udp_default.clone()
            } else {
                PortSet::empty()
            },
        ),
    };
    if let Some(c) = classes {
        if !tcp.is_empty() {
            tcp.intersect(&classes_on(c, reg, RegProtocol::Tcp)?);
        }
        if !udp.is_empty() {
            udp.intersect(&classes_on(c, reg, RegProtocol::Udp)?);
        }
    }
    if let Some(x) = exclude {
        let both = [Protocol::Tcp, Protocol::Udp];
        let s = parse_spec(x, reg, &both)?;
        tcp.subtract(&s.tcp);
        udp.subtract(&s.udp);
    }
    if tcp.is_empty() && udp.is_empty() {
        return Err(PortError::NothingLeft);
    }
    Ok(Selection { tcp, udp })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reg() -> Registry {
        Registry::embedded()
    }

    #[test]
    fn top_ports_rank_then_fill() {
        let reg = reg();
        let ranked = portent_registry::ranked_ports(RegProtocol::Tcp);
        assert!(ranked.len() >= 20);
        let top = top_ports(&reg, Protocol::Tcp, ranked.len());
        assert_eq!(top, ranked);
        assert_eq!(&top_ports(&reg, Protocol::Tcp, 3)[..], &ranked[..3]);
        assert_eq!(top_ports(&reg, Protocol::Udp, 1), [53]);
        // Beyond the ranking: ports with a noted common use (Minecraft's 25565), before the
        // assigned system ports' tail.
        let hundred = top_ports(&reg, Protocol::Tcp, 100);
        assert_eq!(hundred.len(), 100);
        let all = top_ports(&reg, Protocol::Tcp, 70_000);
        assert_eq!(all.len(), 65_535);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 65_535, "no port twice, no port 0");
        let at = |p: u16| all.iter().position(|&x| x == p).unwrap();
        // A system port the registry assigns, that no note and no measurement mentions.
        let bare = (1..1024u16)
            .find(|&p| {
                reg.status(p, RegProtocol::Tcp) == Status::Assigned
                    && !ranked.contains(&p)
                    && portent_registry::notes_for(p, Some(RegProtocol::Tcp))
                        .next()
                        .is_none()
            })
            .unwrap();
        assert!(
            at(25565) < at(bare),
            "a noted common use comes before a bare system port"
        );
        let unassigned = (1024..=65535u16)
            .find(|&p| {
                reg.status(p, RegProtocol::Tcp) == Status::Unassigned
                    && portent_registry::notes_for(p, None).next().is_none()
            })
            .unwrap();
        assert!(at(bare) < at(unassigned));
    }

    #[test]
    fn lists_ranges_and_names() {
        let r = reg();
        assert_eq!(
            parse_ports("22,80,797", &r).unwrap().to_vec(),
            [22, 80, 797]
        );
        assert_eq!(parse_ports("1-5", &r).unwrap().to_vec(), [1, 2, 3, 4, 5]);
        assert_eq!(parse_ports("-", &r).unwrap().len(), 65535);
        assert_eq!(parse_ports("1-65535", &r).unwrap().len(), 65535);
        assert_eq!(parse_ports("-3", &r).unwrap().to_vec(), [1, 2, 3]);
        assert_eq!(parse_ports("65534-", &r).unwrap().to_vec(), [65534, 65535]);
        let s = parse_ports("ssh,http,797", &r).unwrap();
        assert!(s.contains(22) && s.contains(80) && s.contains(797));
        assert_eq!(
            parse_ports("80,80,79-81", &r).unwrap().to_vec(),
            [79, 80, 81]
        );
        assert_eq!(parse_ports(" 22 , 23 ", &r).unwrap().to_vec(), [22, 23]);
    }

    #[test]
    fn tcp_suffix_is_accepted_and_other_protocols_refused() {
        let r = reg();
        assert_eq!(
            parse_ports("797/tcp,ssh/TCP,1-3/tcp", &r).unwrap().to_vec(),
            [1, 2, 3, 22, 797]
        );
        for (text, item, proto) in [
            ("22,ssh/sctp", "ssh/sctp", "sctp"),
            ("80/icmp", "80/icmp", "icmp"),
            ("S:80", "S:80", "sctp"),
        ] {
            let e = parse_ports(text, &r).unwrap_err();
            assert!(matches!(e, PortError::TcpOnly { .. }), "{text}: {e:?}");
            let e = e.to_string();
            assert!(
                e.starts_with(&format!("'{item}': portent scans TCP and UDP, not {proto}")),
                "{e}"
            );
        }
        // A TCP-only list (check, watch) names the UDP item it cannot take.
        for (text, item) in [("22,797/udp", "797/udp"), ("U:53,80", "U:53")] {
            let e = parse_ports(text, &r).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("'{item}' names UDP, and this command works over TCP only")
            );
        }
    }

    #[test]
    fn specs_split_by_protocol_as_nmap_reads_them() {
        let r = reg();
        let s = parse_spec("U:53,161,T:22,80", &r, &[Protocol::Tcp]).unwrap();
        assert_eq!(s.udp.to_vec(), [53, 161]);
        assert_eq!(s.tcp.to_vec(), [22, 80]);
        assert!(s.tcp_named && s.udp_named);
        // Before any prefix, items go to every protocol asked for.
        let s = parse_spec("7,u:53", &r, &[Protocol::Tcp, Protocol::Udp]).unwrap();
        assert_eq!(s.tcp.to_vec(), [7]);
        assert_eq!(s.udp.to_vec(), [7, 53]);
        // A suffix names one item only.
        let s = parse_spec("22,53/udp,80", &r, &[Protocol::Tcp]).unwrap();
        assert_eq!(s.tcp.to_vec(), [22, 80]);
        assert_eq!(s.udp.to_vec(), [53]);
        // Names are looked up on the item's protocol: snmp is 161 on UDP, and 161 on TCP
        // is assigned too; ntp is 123 on both.
        let s = parse_spec("U:snmp,ntp", &r, &[Protocol::Tcp]).unwrap();
        assert!(s.udp.contains(161) && s.udp.contains(123), "{:?}", s.udp);
        assert!(s.tcp.is_empty());
        let e = parse_spec("U:nope-not-a-service", &r, &[Protocol::Tcp]).unwrap_err();
        assert!(e.to_string().contains("for udp"), "{e}");
    }

    #[test]
    fn selection_per_protocol() {
        let r = reg();
        let dflt = PortSet::from_ports([53, 123, 161]);
        let tcp = Wanted {
            tcp: true,
            udp: false,
        };
        let udp = Wanted {
            tcp: false,
            udp: true,
        };
        let both = Wanted {
            tcp: true,
            udp: true,
        };
        // No -p: all TCP ports, the catalogue's UDP ports.
        let s = select_spec(None, None, None, &r, Wanted::default(), &dflt).unwrap();
        assert_eq!((s.tcp.len(), s.udp.len()), (65535, 0));
        let s = select_spec(None, None, None, &r, udp, &dflt).unwrap();
        assert_eq!((s.tcp.len(), s.udp.to_vec()), (0, vec![53, 123, 161]));
        let s = select_spec(None, None, None, &r, both, &dflt).unwrap();
        assert_eq!((s.tcp.len(), s.udp.len()), (65535, 3));
        // -sU -p 1-3: UDP only; -p 53/udp alone: UDP only.
        let s = select_spec(Some("1-3"), None, None, &r, udp, &dflt).unwrap();
        assert_eq!((s.tcp.len(), s.udp.to_vec()), (0, vec![1, 2, 3]));
        let s = select_spec(Some("53/udp"), None, None, &r, Wanted::default(), &dflt).unwrap();
        assert_eq!((s.tcp.len(), s.udp.to_vec()), (0, vec![53]));
        // Asked for a protocol and gave it no ports.
        let e = select_spec(Some("T:22"), None, None, &r, udp, &dflt).unwrap_err();
        assert!(matches!(e, PortError::NoPortsFor { flag: 'U', .. }), "{e}");
        let e = select_spec(Some("U:53"), None, None, &r, tcp, &dflt).unwrap_err();
        assert!(matches!(e, PortError::NoPortsFor { flag: 'T', .. }), "{e}");
        // Exclusions apply per protocol; unprefixed ones to both.
        let s = select_spec(
            Some("U:53,123,T:53,80"),
            None,
            Some("53,T:80"),
            &r,
            both,
            &dflt,
        )
        .unwrap();
        assert_eq!((s.tcp.to_vec(), s.udp.to_vec()), (vec![], vec![123]));
        // Classes read each protocol's registry status (2049 is nfs on both).
        let s = select_spec(Some("U:2049,797"), Some("assigned"), None, &r, udp, &dflt).unwrap();
        assert_eq!(s.udp.to_vec(), [2049]);
        let e = select_spec(Some("U:797"), Some("assigned"), None, &r, udp, &dflt).unwrap_err();
        assert!(matches!(e, PortError::NothingLeft), "{e}");
    }

    #[test]
    fn bad_ports_name_the_item() {
        let r = reg();
        for (text, bad) in [
            ("65536", "65536"),
            ("22,0", "0"),
            ("0-10", "0-10"),
            ("100-10", "100-10"),
            ("22,,23", "22,,23"),
            ("nosuchservicexyz", "nosuchservicexyz"),
            ("1-2-3", "1-2-3"),
            ("99999999999", "99999999999"),
        ] {
            let e = parse_ports(text, &r).unwrap_err().to_string();
            assert!(e.contains(&format!("'{bad}'")), "{text}: {e}");
        }
        assert!(parse_ports("", &r).is_err());
        assert!(
            parse_classes("system,bogus", &r)
                .unwrap_err()
                .to_string()
                .contains("'bogus'")
        );
    }

    #[test]
    fn classes_unite_within_and_intersect_across_kinds() {
        let r = reg();
        assert_eq!(parse_classes("system", &r).unwrap().len(), 1023);
        assert_eq!(parse_classes("system,user", &r).unwrap().len(), 49151);
        assert_eq!(parse_classes("dynamic", &r).unwrap().len(), 16384);
        let ghosts = parse_classes("system,unassigned", &r).unwrap();
        assert!(ghosts.contains(797));
        assert!(!ghosts.contains(770), "770 is cadlock in the registry");
        assert!(!ghosts.contains(22));
        assert!(parse_classes("assigned", &r).unwrap().contains(22));
        let s = select(Some("1-1000"), Some("unassigned"), Some("797"), &r).unwrap();
        assert!(!s.contains(797) && s.contains(798));
        assert!(select(Some("22"), Some("unassigned"), None, &r).is_err());
    }

    #[test]
    fn summary_compacts_runs() {
        let s = PortSet::from_ports([1, 2, 3, 5, 7, 8]);
        assert_eq!(s.summary(), "1-3,5,7-8");
        assert_eq!(PortSet::all().summary(), "1-65535");
    }
}
