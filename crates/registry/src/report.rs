//! The port page as data: everything portent knows about one port, assembled from the registry,
//! the ranges, facts about this host and our notes, with the judgements derived from them.
//! The CLI renders it as text or JSON and the web server as HTML; both get the same facts.
//!
//! Port 0 is treated apart: nothing can listen on it (binding port 0 asks the OS for any free
//! ephemeral port), so its page makes no privilege, ghost or concern claims and offers no
//! commands that look for a listener.

use serde::Serialize;

use crate::{Exposure, Note, NoteKind, PortRange, Protocol, Record, Registry, Status, notes_for};

/// Facts about the host portent runs on, read by the caller (see `portent-local`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostFacts {
    /// Operating system family (`linux`, `macos`, `windows`, ...).
    pub os: &'static str,
    /// Lowest port an unprivileged process may bind (Linux
    /// `net.ipv4.ip_unprivileged_port_start`); `None` when unknown.
    pub unprivileged_port_start: Option<u16>,
    /// The kernel's ephemeral (local) port range (Linux `net.ipv4.ip_local_port_range`).
    pub ephemeral_range: Option<(u16, u16)>,
}

/// One registry row shown on a page.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub name: &'static str,
    /// The ports the row covers, `797` or `788-799`.
    pub ports: String,
    pub description: &'static str,
    pub assignee: &'static str,
    pub contact: &'static str,
    pub registered: &'static str,
    pub modified: &'static str,
    pub reference: &'static str,
    pub unauthorized_use: &'static str,
    pub notes: &'static str,
}

impl ServiceRow {
    fn of(r: Record) -> ServiceRow {
        ServiceRow {
            name: r.service,
            ports: r.ports.map(|s| s.to_string()).unwrap_or_default(),
            description: r.description,
            assignee: r.assignee,
            contact: r.contact,
            registered: r.registered,
            modified: r.modified,
            reference: r.reference,
            unauthorized_use: r.unauthorized_use,
            notes: r.notes,
        }
    }
}

/// The registry's answer for one protocol.
#[derive(Debug, Clone, Serialize)]
pub struct ProtocolEntry {
    pub protocol: Protocol,
    pub status: Status,
    /// Assignments (named rows).
    pub services: Vec<ServiceRow>,
    /// Status rows covering the port ("Unassigned 788-799", "Reserved"), with their notes.
    pub other_rows: Vec<ServiceRow>,
}

/// How much an open port here deserves attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Concern {
    /// An assigned, ordinary service port.
    Low,
    /// Worth knowing who owns it.
    Medium,
    /// A ghost in the system range, a port tied to malware, or a service that is dangerous
    /// when other networks can reach it: find the owner, and check who can connect.
    High,
}

/// Why an open port here matters.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Whether anything can listen on the port: false only for port 0, which a bind() turns
    /// into a free ephemeral port. Then `ghost` is false, `concern` low and the reasons say
    /// what port 0 means instead.
    pub listenable: bool,
    /// A listener here would be a ghost: no registry assignment for TCP nor UDP.
    pub ghost: bool,
    pub concern: Concern,
    /// Sentences, each derived from one fact.
    pub reasons: Vec<String>,
}

/// A port related to this one.
#[derive(Debug, Clone, Serialize)]
pub struct Related {
    pub port: u16,
    /// Its registry name, if any.
    pub name: Option<&'static str>,
    /// Why it is related.
    pub why: String,
}

/// Commands to see what listens on the port, per platform. For port 0, on which nothing
/// listens, commands that capture traffic sent to it (none for Windows and from elsewhere).
#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    pub linux: Vec<String>,
    pub macos: Vec<String>,
    pub windows: Vec<String>,
    /// From another machine.
    pub remote: Vec<String>,
}

/// The whole port page.
#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    pub port: u16,
    pub range: PortRange,
    pub range_bounds: (u16, u16),
    pub range_meaning: &'static str,
    /// Whether binding the port needs privilege on this host; `None` when unknown.
    pub privileged: Option<bool>,
    pub privilege_detail: String,
    /// Whether the port is inside this host's ephemeral range; `None` when unknown.
    pub ephemeral: Option<bool>,
    pub ephemeral_range: Option<(u16, u16)>,
    pub registry: Vec<ProtocolEntry>,
    pub notes: Vec<&'static Note>,
    pub assessment: Assessment,
    pub related: Vec<Related>,
    pub check: Checks,
    /// Date of the registry data used.
    pub data_date: &'static str,
}

impl PortReport {
    /// Assembles the page for `port`.
    pub fn build(reg: &Registry, port: u16, host: &HostFacts) -> PortReport {
        let range = PortRange::of(port);
        let registry: Vec<ProtocolEntry> = Protocol::ALL
            .iter()
            .map(|&p| {
                let e = reg.lookup(port, p);
                let (services, other): (Vec<Record>, Vec<Record>) = e
                    .records
                    .into_iter()
                    .partition(|r| r.status() == Status::Assigned);
                ProtocolEntry {
                    protocol: p,
                    status: e.status,
                    services: services.into_iter().map(ServiceRow::of).collect(),
                    other_rows: other.into_iter().map(ServiceRow::of).collect(),
                }
            })
            .collect();
        let notes: Vec<&'static Note> = notes_for(port, None).collect();
        let (privileged, privilege_detail) = privilege(port, host);
        let ephemeral = host
            .ephemeral_range
            .map(|(lo, hi)| lo <= port && port <= hi);
        let assessment = assess(port, range, &registry, &notes, privileged, ephemeral);
        PortReport {
            port,
            range,
            range_bounds: range.bounds(),
            range_meaning: range.meaning(),
            privileged,
            privilege_detail,
            ephemeral,
            ephemeral_range: host.ephemeral_range,
            related: related(reg, port, &registry, &notes),
            registry,
            notes,
            assessment,
            check: checks(port),
            data_date: reg.date(),
        }
    }

    /// The registry entry for `protocol`.
    pub fn entry(&self, protocol: Protocol) -> &ProtocolEntry {
        &self.registry[protocol.index()]
    }

    /// The first service name registered on TCP or UDP, the usual name of the port.
    pub fn primary_name(&self) -> Option<&'static str> {
        [Protocol::Tcp, Protocol::Udp, Protocol::Sctp, Protocol::Dccp]
            .iter()
            .find_map(|&p| self.entry(p).services.first().map(|s| s.name))
    }
}

/// The port that cannot be listened on.
const ANY_PORT: u16 = 0;

fn privilege(port: u16, host: &HostFacts) -> (Option<bool>, String) {
    if port == ANY_PORT {
        return (
            None,
            "does not apply: nothing binds port 0 itself; binding port 0 asks the operating system for any free ephemeral port".to_owned(),
        );
    }
    match (host.os, host.unprivileged_port_start) {
        (_, Some(start)) => (
            Some(port < start),
            if port < start {
                format!(
                    "binding needs root or CAP_NET_BIND_SERVICE on this host (net.ipv4.ip_unprivileged_port_start = {start})"
                )
            } else {
                format!(
                    "any user may bind it on this host (net.ipv4.ip_unprivileged_port_start = {start})"
                )
            },
        ),
        ("windows", None) => (
            Some(false),
            "Windows lets any user bind any port".to_owned(),
        ),
        (_, None) => {
            let p = port < 1024;
            (
                Some(p),
                if p {
                    "binding needs privilege on Unix-like systems (ports below 1024)".to_owned()
                } else {
                    "any user may bind it on Unix-like systems (1024 and above)".to_owned()
                },
            )
        }
    }
}

fn assess(
    port: u16,
    range: PortRange,
    registry: &[ProtocolEntry],
    notes: &[&'static Note],
    privileged: Option<bool>,
    ephemeral: Option<bool>,
) -> Assessment {
    if port == ANY_PORT {
        return Assessment {
            listenable: false,
            ghost: false,
            concern: Concern::Low,
            reasons: vec![
                "Port 0 is reserved and nothing can listen on it: a program that binds port 0 asks the operating system to pick any free port from the ephemeral range, and its socket gets that port, never 0.".to_owned(),
                "Traffic addressed to port 0 is anomalous: usually a scan or OS fingerprinting (network stacks answer it differently), or malformed or fragmented packets whose port field was misread. It can be worth noting in a firewall log; there is no service behind it to find.".to_owned(),
            ],
        };
    }
    let tcp = &registry[Protocol::Tcp.index()];
    let udp = &registry[Protocol::Udp.index()];
    let ghost = tcp.status != Status::Assigned && udp.status != Status::Assigned;
    let mut reasons = Vec::new();
    let mut concern = Concern::Low;
    let names = |e: &ProtocolEntry| -> String {
        let mut v: Vec<&str> = e.services.iter().map(|s| s.name).collect();
        v.dedup();
        v.join(", ")
    };
    if ghost {
        let (article, what) = if tcp.status == Status::Reserved || udp.status == Status::Reserved {
            ("a", "reserved")
        } else {
            ("an", "unassigned")
        };
        match range {
            PortRange::System => {
                concern = Concern::High;
                reasons.push(format!(
                    "Port {port} is {article} {what} system port: no standard service lives here, so a listener is a ghost. It is custom or legacy software, or something that wants to stay unnoticed; find the process that owns it."
                ));
            }
            PortRange::User => {
                concern = Concern::Medium;
                reasons.push(format!(
                    "Port {port} is {what} in the user range: programs often pick such ports for their own services. A listener is a ghost worth identifying by its owning process."
                ));
            }
            PortRange::Dynamic => {
                reasons.push(format!(
                    "Port {port} is in the dynamic range, which IANA never assigns: operating systems use it for short-lived client sockets, and some services (RPC, media, games) listen on ports picked here at start-up."
                ));
            }
        }
    } else {
        let expected = if tcp.status == Status::Assigned {
            names(tcp)
        } else {
            names(udp)
        };
        reasons.push(format!(
            "The registry expects {expected} on port {port}; a listener that speaks something else is worth a closer look."
        ));
    }
    if privileged == Some(true) {
        reasons.push(
            "Binding this port needs privilege here, so a listener was started by root or a process granted that right."
                .to_owned(),
        );
    }
    if ephemeral == Some(true) {
        reasons.push(format!(
            "Port {port} is inside this host's ephemeral range, so the kernel may also use it as the source port of outgoing connections."
        ));
    }
    for n in notes {
        match n.kind {
            NoteKind::Malware => {
                concern = Concern::High;
                reasons.push(format!("Known from malware: {}", n.summary));
            }
            NoteKind::Security => {
                concern = concern.max(Concern::Medium);
                reasons.push(n.summary.to_owned());
            }
            NoteKind::Historical if ghost => {
                reasons.push(format!("Historically: {}", n.summary));
            }
            _ => {}
        }
        if let Some(e) = n.exposure {
            concern = concern.max(match e {
                Exposure::High => Concern::High,
                Exposure::Medium => Concern::Medium,
            });
            // A security note's summary is already the reason.
            if n.kind != NoteKind::Security {
                reasons.push(format!(
                    "Risky if other networks can reach it: {}",
                    n.summary
                ));
            }
        }
    }
    // A remark on a range row may name another port of the range ("Known Unauthorized Use on
    // port 6003" on the X11 row): it counts only for the ports it names, or for all when it
    // names none.
    let unauthorized: Vec<&str> = registry
        .iter()
        .flat_map(|e| e.services.iter().chain(&e.other_rows))
        .map(|r| r.unauthorized_use)
        .filter(|u| !u.is_empty() && mentions_port_or_none(u, port))
        .collect();
    if let Some(u) = unauthorized.first() {
        concern = concern.max(Concern::Medium);
        reasons.push(format!(
            "IANA records unauthorized use near this port: \"{u}\"."
        ));
    }
    Assessment {
        listenable: true,
        ghost,
        concern,
        reasons,
    }
}

/// Whether `text` names `port` among the numbers it contains, or contains no number. Only
/// words made of digits count: "RFC4146" is a reference, not a port.
fn mentions_port_or_none(text: &str, port: u16) -> bool {
    let mut numbers = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
        .peekable();
    numbers.peek().is_none() || numbers.any(|w| w.parse::<u32>() == Ok(u32::from(port)))
}

fn related(
    reg: &Registry,
    port: u16,
    registry: &[ProtocolEntry],
    notes: &[&'static Note],
) -> Vec<Related> {
    let mut out: Vec<Related> = Vec::new();
    let mut add = |p: u16, why: String| {
        if p != port && !out.iter().any(|r| r.port == p) {
            out.push(Related {
                port: p,
                name: reg
                    .lookup(p, Protocol::Tcp)
                    .primary_name()
                    .or_else(|| reg.lookup(p, Protocol::Udp).primary_name()),
                why,
            });
        }
    };
    for n in notes {
        // A range note's ends are not related ports: the note is about the whole range.
        let own: &[u16] = if n.range { &[] } else { n.ports };
        for &p in own.iter().chain(n.related) {
            add(p, format!("see note: {}", n.title));
        }
    }
    // Other ports registered under the same names (a service's TLS or alternate port).
    let mut names: Vec<&str> = registry
        .iter()
        .flat_map(|e| e.services.iter().map(|s| s.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let ports = reg.ports_for_name(name, None);
        if ports.len() <= 8 {
            for p in ports {
                add(p, format!("also registered as {name}"));
            }
        }
        for suffix in ["s", "-ssl", "-tls"] {
            let secure = format!("{name}{suffix}");
            for p in reg.ports_for_name(&secure, None).into_iter().take(2) {
                add(p, format!("{secure}: the secured variant of {name}"));
            }
        }
    }
    out
}

fn checks(port: u16) -> Checks {
    if port == ANY_PORT {
        // No socket has port 0, so `ss`, `lsof`, `netstat` and a connect test find nothing;
        // what can be seen is traffic sent to it.
        return Checks {
            linux: vec!["sudo tcpdump -ni any 'tcp dst port 0 or udp dst port 0'".to_owned()],
            macos: vec!["sudo tcpdump -n 'tcp dst port 0 or udp dst port 0'".to_owned()],
            windows: Vec::new(),
            remote: Vec::new(),
        };
    }
    Checks {
        linux: vec![
            format!("portent listening {port}"),
            format!("sudo ss -tulpn 'sport = :{port}'"),
            format!("sudo lsof -nP -i :{port}"),
        ],
        macos: vec![
            format!("sudo portent listening {port}"),
            format!("sudo lsof -nP -iTCP:{port} -sTCP:LISTEN"),
            format!("sudo lsof -nP -iUDP:{port}"),
            format!("netstat -anv -p tcp | grep '\\.{port} '"),
        ],
        windows: vec![
            format!("portent listening {port}"),
            format!("Get-NetTCPConnection -LocalPort {port} -State Listen"),
            format!("Get-NetUDPEndpoint -LocalPort {port}"),
            // /C: takes the text literally, space included: ":797 " and not ":7970".
            format!("netstat -ano | findstr /C:\":{port} \""),
        ],
        remote: vec![
            format!("portent check HOST {port}"),
            format!("Test-NetConnection -ComputerName HOST -Port {port}"),
            format!("nmap -p {port} -sV HOST"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostFacts {
        HostFacts {
            os: "linux",
            unprivileged_port_start: Some(1024),
            ephemeral_range: Some((32768, 60999)),
        }
    }

    #[test]
    fn services_dangerous_when_reachable_raise_the_concern() {
        let reg = Registry::embedded();
        let concern = |port: u16| PortReport::build(&reg, port, &host()).assessment.concern;
        // Assigned ports, but notes say they are dangerous when other networks reach them.
        for port in [23, 445, 2375, 6379, 27017] {
            assert_eq!(concern(port), Concern::High, "port {port}");
        }
        assert_eq!(concern(161), Concern::Medium);
        // An ordinary assigned port stays low.
        assert_eq!(concern(3306), Concern::Low);
        let r = PortReport::build(&reg, 6379, &host());
        assert!(
            r.assessment
                .reasons
                .iter()
                .any(|x| x.starts_with("Risky if other networks can reach it")),
            "{:?}",
            r.assessment.reasons
        );
    }

    #[test]
    fn unauthorized_use_counts_only_for_the_port_it_names() {
        let reg = Registry::embedded();
        let concern = |port: u16| PortReport::build(&reg, port, &host()).assessment.concern;
        // The X11 range row's remark is about 6003, not the rest of the range.
        assert_eq!(concern(6003), Concern::Medium);
        assert_eq!(concern(6001), Concern::Low);
        // "see [RFC4146]" names a document, not a port: finger's remark still counts.
        assert_eq!(concern(79), Concern::Medium);
        assert!(mentions_port_or_none(
            "Known Unauthorized Use on port 6003",
            6003
        ));
        assert!(!mentions_port_or_none(
            "Known Unauthorized Use on port 6003",
            6001
        ));
        assert!(mentions_port_or_none(
            "Unauthorized Use Known on ports 5151 and 5152",
            5152
        ));
        assert!(mentions_port_or_none("used without an assignment", 1109));
    }

    #[test]
    fn port_797_is_a_ghost() {
        let r = PortReport::build(&Registry::embedded(), 797, &host());
        assert_eq!(r.range, PortRange::System);
        assert_eq!(r.privileged, Some(true));
        assert_eq!(r.ephemeral, Some(false));
        assert!(r.assessment.ghost);
        assert_eq!(r.assessment.concern, Concern::High);
        assert_eq!(r.entry(Protocol::Tcp).status, Status::Unassigned);
        assert_eq!(r.entry(Protocol::Tcp).other_rows[0].ports, "788-799");
        assert!(r.check.linux.iter().any(|c| c.contains(":797")));
    }

    #[test]
    fn assigned_port_is_not_a_ghost() {
        let r = PortReport::build(&Registry::embedded(), 22, &host());
        assert!(!r.assessment.ghost);
        assert_eq!(r.primary_name(), Some("ssh"));
        let unpriv = HostFacts {
            unprivileged_port_start: Some(0),
            ..host()
        };
        let r = PortReport::build(&Registry::embedded(), 22, &unpriv);
        assert_eq!(r.privileged, Some(false));
    }

    #[test]
    fn ephemeral_and_dynamic() {
        let r = PortReport::build(&Registry::embedded(), 50000, &host());
        assert_eq!(r.range, PortRange::Dynamic);
        assert_eq!(r.ephemeral, Some(true));
        assert!(r.assessment.ghost);
    }

    #[test]
    fn port_0_is_not_a_listener_port() {
        let r = PortReport::build(&Registry::embedded(), 0, &host());
        assert_eq!(r.entry(Protocol::Tcp).status, Status::Reserved);
        assert_eq!(r.privileged, None);
        assert!(r.privilege_detail.contains("any free ephemeral port"));
        let a = &r.assessment;
        assert!(!a.listenable);
        assert!(!a.ghost);
        assert_eq!(a.concern, Concern::Low);
        let text = a.reasons.join(" ");
        for claim in ["privilege", "root", "ghost", "find the process"] {
            assert!(!text.contains(claim), "{claim}: {text}");
        }
        assert!(text.contains("nothing can listen"), "{text}");
        assert!(text.contains("ephemeral"), "{text}");
        assert!(text.contains("scan"), "{text}");
        // Nothing that looks for a listener or connects to port 0.
        let all: Vec<&String> = [
            &r.check.linux,
            &r.check.macos,
            &r.check.windows,
            &r.check.remote,
        ]
        .into_iter()
        .flatten()
        .collect();
        assert!(!all.is_empty());
        for c in all {
            assert!(c.starts_with("sudo tcpdump"), "{c}");
        }
        // Port 1 is an ordinary system port again.
        let r = PortReport::build(&Registry::embedded(), 1, &host());
        assert!(r.assessment.listenable);
        assert_eq!(r.privileged, Some(true));
        assert!(r.check.remote.iter().any(|c| c == "portent check HOST 1"));
    }

    #[test]
    fn ldap_relates_to_ldaps() {
        let r = PortReport::build(&Registry::embedded(), 389, &host());
        assert!(r.related.iter().any(|x| x.port == 636));
    }
}
