//! Port lists: `-p 22,80,1000-2000`, `-p-`, open-ended ranges, service names from the registry,
//! and the registry-aware classes of `--ports` (system, user, dynamic, assigned, reserved,
//! unassigned). A set of ports is a 65,536-bit map, so any list costs 8 KiB and is
//! deduplicated and sorted by construction.

use portent_registry::{PortRange, Protocol, Registry, Status};

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

    fn contains(self, reg: &Registry, port: u16) -> bool {
        match self {
            PortClass::System => PortRange::of(port) == PortRange::System,
            PortClass::User => PortRange::of(port) == PortRange::User,
            PortClass::Dynamic => PortRange::of(port) == PortRange::Dynamic,
            PortClass::Assigned => reg.status(port, Protocol::Tcp) == Status::Assigned,
            PortClass::Reserved => reg.status(port, Protocol::Tcp) == Status::Reserved,
            PortClass::Unassigned => reg.status(port, Protocol::Tcp) == Status::Unassigned,
        }
    }
}

/// Parses a `-p` list: comma-separated items, each a port (`797`), a range (`1-1023`), an
/// open-ended range (`-1023`, `60000-`), `-` alone (all ports), or a service name looked up
/// in the registry on TCP (`ssh`, `http`). Errors name the bad item.
pub fn parse_ports(text: &str, reg: &Registry) -> Result<PortSet, PortError> {
    let mut set = PortSet::empty();
    if text.trim().is_empty() {
        return Err(PortError::Empty);
    }
    for raw in text.split(',') {
        let item = tcp_only(raw.trim())?;
        if item.is_empty() {
            return Err(PortError::EmptyItem {
                list: text.to_owned(),
            });
        }
        if item == "-" {
            set.insert_range(1, 65535);
            continue;
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
            continue;
        }
        let ports = reg.ports_for_name(item, Some(Protocol::Tcp));
        if ports.is_empty() {
            let suggestions = reg
                .suggest_names(item, 3)
                .into_iter()
                .map(str::to_owned)
                .collect();
            return Err(PortError::UnknownService {
                name: item.to_owned(),
                suggestions,
            });
        }
        for p in ports {
            set.insert(p);
        }
    }
    Ok(set)
}

/// An item without its `/tcp` suffix; any other protocol after a slash is an error, since
/// connections are TCP.
fn tcp_only(item: &str) -> Result<&str, PortError> {
    match item.rsplit_once('/') {
        None => Ok(item),
        Some((ports, proto)) if proto.trim().eq_ignore_ascii_case("tcp") => Ok(ports.trim()),
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

/// Parses a `--ports` class list (`system,unassigned`): classes of one kind are united (system
/// or user), kinds are intersected (system ports that are unassigned: the ghosts' home).
pub fn parse_classes(text: &str, reg: &Registry) -> Result<PortSet, PortError> {
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
        let in_range = ranges.is_empty() || ranges.iter().any(|c| c.contains(reg, p));
        let in_status = statuses.is_empty() || statuses.iter().any(|c| c.contains(reg, p));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn reg() -> Registry {
        Registry::embedded()
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
            ("797/udp", "797/udp", "udp"),
            ("22,ssh/sctp", "ssh/sctp", "sctp"),
            ("80/icmp", "80/icmp", "icmp"),
        ] {
            let e = parse_ports(text, &r).unwrap_err();
            assert!(matches!(e, PortError::TcpOnly { .. }), "{text}: {e:?}");
            let e = e.to_string();
            assert!(
                e.starts_with(&format!(
                    "'{item}': portent connects over TCP only, not {proto}"
                )),
                "{e}"
            );
        }
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
