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
    /// IANA's assignment notes, whole.
    pub notes: &'static str,
    /// What the port used to be, read from the row ("was compressnet, de-assigned
    /// 2025-02-13"); absent when the row says nothing of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
    /// The DNS-SD TXT record keys IANA defines for the service name ("u=<username>
    /// p=<password>"): keys of a service-discovery record, not credentials or settings of the
    /// port. Absent when the notes define none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_sd_txt_keys: Option<String>,
}

impl ServiceRow {
    fn of(r: Record) -> ServiceRow {
        ServiceRow {
            history: r.history(),
            dns_sd_txt_keys: txt_keys(r.notes),
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

/// The DNS-SD TXT keys a row's notes define, from "Defined TXT keys: ..." or the older
/// "u=<username> p=<password> ..." lines.
fn txt_keys(notes: &str) -> Option<String> {
    if let Some(i) = notes.find("Defined TXT keys:") {
        let rest = notes[i + "Defined TXT keys:".len()..]
            .lines()
            .next()?
            .trim();
        return (!rest.is_empty()).then(|| rest.to_owned());
    }
    notes
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("u=<") || l.contains(" u=<"))
        .map(str::to_owned)
}

/// A row's notes as a page shows them: DNS-SD TXT keys and whitespace runs taken out, cut to
/// about `max` characters at a word boundary. The second value says whether anything was cut
/// (the whole text is in the JSON).
pub fn notes_for_page(row: &ServiceRow, max: usize) -> (String, bool) {
    let mut text = row.notes.to_owned();
    if let Some(keys) = &row.dns_sd_txt_keys {
        text = text
            .replacen("Defined TXT keys:", "", 1)
            .replacen(keys.as_str(), "", 1);
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text.trim_matches([' ', ';', ',']).to_owned();
    if text.chars().count() <= max {
        return (text, false);
    }
    let mut cut: String = text.chars().take(max).collect();
    if let Some(i) = cut.rfind(' ') {
        cut.truncate(i);
    }
    cut.push_str(" …");
    (cut, true)
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Concern {
    /// An assigned or private-use port, a dynamic port, or one with a well-known ordinary use,
    /// and no note says the service is dangerous when reachable.
    #[default]
    Low,
    /// Worth knowing who owns it: a ghost in the user range, a security note, or a service a
    /// note calls risky when reachable.
    Medium,
    /// A ghost in the system range, a port tied to malware, or a service that is dangerous
    /// when other networks can reach it: find the owner, and check who can connect.
    High,
}

impl Concern {
    pub fn as_str(self) -> &'static str {
        match self {
            Concern::Low => "low",
            Concern::Medium => "medium",
            Concern::High => "high",
        }
    }
}

/// An assignment on a protocol portent does not list listeners for (SCTP, DCCP), where TCP
/// and UDP have none: the port is taken, but a TCP or UDP listener is not that service.
#[derive(Debug, Clone, Serialize)]
pub struct OtherAssignment {
    pub protocol: Protocol,
    pub name: &'static str,
    pub description: &'static str,
}

/// A common use our notes record for a port the registry does not give to it.
#[derive(Debug, Clone, Serialize)]
pub struct KnownUse {
    /// The note's title ("Minecraft: Java Edition server").
    pub title: &'static str,
    pub kind: NoteKind,
}

/// Unregistered use that IANA's "Unauthorized Use Reported" column records for this port:
/// another party used the number without an assignment. A fact about the number's history,
/// not a sign of attack, and never by itself a reason for concern.
#[derive(Debug, Clone, Serialize)]
pub struct UnregisteredUse {
    /// The column's text, as IANA wrote it.
    pub text: &'static str,
    /// The party named, where the text names one ("nv" in "krb524 assigned the port, nv used
    /// it without an assignment", "Pointcast").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
}

/// Why an open port here matters.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Whether anything can listen on the port: false only for port 0, which a bind() turns
    /// into a free ephemeral port. Then `ghost` is false, `concern` low and the reasons say
    /// what port 0 means instead.
    pub listenable: bool,
    /// A TCP or UDP listener here would be a ghost: neither protocol is assigned or set aside
    /// for private use, the port is outside the dynamic range, and no note records a common
    /// use of it. Ports assigned on SCTP or DCCP only are still ghosts for TCP and UDP
    /// (`assigned_elsewhere` says so).
    pub ghost: bool,
    /// In 49152-65535, which RFC 6335 leaves for dynamic and private use: never a ghost.
    pub dynamic: bool,
    /// An "any private ..." allocation (24, 35, 57...): a site's own service of that kind
    /// belongs here.
    pub private_use: bool,
    /// Assignments on SCTP or DCCP when TCP and UDP have none.
    pub assigned_elsewhere: Vec<OtherAssignment>,
    /// A well-known use from our notes on a port the registry does not give to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_use: Option<KnownUse>,
    /// What the port used to be, where the registry records it ("was compressnet,
    /// de-assigned 2025-02-13").
    pub history: Vec<String>,
    /// IANA's "Unauthorized Use Reported" remarks that concern this port.
    pub unregistered_use: Vec<UnregisteredUse>,
    pub concern: Concern,
    /// The fact that set `concern`, in a sentence a reader can check.
    pub concern_reason: String,
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
    /// What the port is, in a few words, considering every protocol's registry entry, the
    /// range, our notes and the registry's history: "ssh", "private use: any private mail
    /// system", "unassigned; commonly Minecraft: Java Edition server", "reserved; assigned on
    /// SCTP only: s1-control", "reserved; was compressnet, de-assigned 2025-02-13".
    pub headline: String,
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
            headline: headline(port, &registry, &assessment),
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

    /// The first service name registered on TCP or UDP, the usual name of the port. An
    /// assignment on SCTP or DCCP alone is not the port's name for a TCP or UDP listener (see
    /// `assessment.assigned_elsewhere` and `headline`).
    pub fn primary_name(&self) -> Option<&'static str> {
        [Protocol::Tcp, Protocol::Udp]
            .iter()
            .find_map(|&p| self.entry(p).services.first().map(|s| s.name))
    }

    /// The registry entries with identical answers folded together: one line for "tcp, udp,
    /// sctp, dccp: unassigned, 788-799" instead of four. Entries are compared by their text
    /// with runs of white space collapsed (IANA's copies of one note differ in indentation).
    pub fn folded_registry(&self) -> Vec<(Vec<Protocol>, &ProtocolEntry)> {
        let key = |e: &ProtocolEntry| -> String {
            let rows: Vec<String> = e
                .services
                .iter()
                .chain(&e.other_rows)
                .map(|r| {
                    [
                        r.name,
                        &r.ports,
                        r.description,
                        r.assignee,
                        r.contact,
                        r.registered,
                        r.modified,
                        r.reference,
                        r.unauthorized_use,
                        r.notes,
                    ]
                    .iter()
                    .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\u{1f}")
                })
                .collect();
            format!("{}\u{1e}{}", e.status.as_str(), rows.join("\u{1e}"))
        };
        let mut out: Vec<(Vec<Protocol>, &ProtocolEntry, String)> = Vec::new();
        for e in &self.registry {
            let k = key(e);
            match out.iter_mut().find(|(_, _, ok)| *ok == k) {
                Some((ps, _, _)) => ps.push(e.protocol),
                None => out.push((vec![e.protocol], e, k)),
            }
        }
        out.into_iter().map(|(ps, e, _)| (ps, e)).collect()
    }
}

/// See [`PortReport::headline`].
fn headline(port: u16, registry: &[ProtocolEntry], a: &Assessment) -> String {
    let tcp = &registry[Protocol::Tcp.index()];
    let udp = &registry[Protocol::Udp.index()];
    if port == ANY_PORT {
        return "reserved".to_owned();
    }
    if let Some(name) = [tcp, udp]
        .iter()
        .find_map(|e| e.services.first().map(|s| s.name))
    {
        return name.to_owned();
    }
    if a.private_use {
        let what = [tcp, udp]
            .iter()
            .flat_map(|e| &e.other_rows)
            .find(|r| {
                r.description
                    .to_ascii_lowercase()
                    .starts_with("any private")
            })
            .map_or("any private service", |r| first_line(r.description));
        return format!("private use: {what}");
    }
    let mut parts: Vec<String> = Vec::new();
    parts.push(if a.dynamic {
        "dynamic range".to_owned()
    } else {
        tcp.status.max(udp.status).as_str().to_owned()
    });
    if !a.assigned_elsewhere.is_empty() {
        let mut by: Vec<(Protocol, Vec<&str>)> = Vec::new();
        for o in &a.assigned_elsewhere {
            match by.iter_mut().find(|(p, _)| *p == o.protocol) {
                Some((_, v)) if !v.contains(&o.name) => v.push(o.name),
                Some(_) => {}
                None => by.push((o.protocol, vec![o.name])),
            }
        }
        let list: Vec<String> = by
            .iter()
            .map(|(p, v)| format!("{}: {}", p.as_str().to_uppercase(), v.join(", ")))
            .collect();
        parts.push(format!("assigned only on {}", list.join("; ")));
    }
    if let Some(k) = &a.known_use {
        parts.push(format!("commonly {}", k.title));
    }
    if let Some(h) = a.history.first() {
        parts.push(h.clone());
    }
    parts.join("; ")
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
            dynamic: false,
            private_use: false,
            assigned_elsewhere: Vec::new(),
            known_use: None,
            history: Vec::new(),
            unregistered_use: Vec::new(),
            concern: Concern::Low,
            concern_reason: "Nothing can listen on port 0, so there is no listener to worry about.".to_owned(),
            reasons: vec![
                "Port 0 is reserved and nothing can listen on it: a program that binds port 0 asks the operating system to pick any free port from the ephemeral range, and its socket gets that port, never 0.".to_owned(),
                "Traffic addressed to port 0 is anomalous: usually a scan or OS fingerprinting (network stacks answer it differently), or malformed or fragmented packets whose port field was misread. It can be worth noting in a firewall log; there is no service behind it to find.".to_owned(),
            ],
        };
    }
    let tcp = &registry[Protocol::Tcp.index()];
    let udp = &registry[Protocol::Udp.index()];
    let dynamic = range == PortRange::Dynamic;
    let tcp_udp_ok = tcp.status.provides_for_listener() || udp.status.provides_for_listener();
    let private_use = !(tcp.status == Status::Assigned || udp.status == Status::Assigned)
        && (tcp.status == Status::PrivateUse || udp.status == Status::PrivateUse);
    let known_use = if tcp_udp_ok {
        None
    } else {
        notes.iter().find(|n| n.kind.is_a_use()).map(|n| KnownUse {
            title: n.title,
            kind: n.kind,
        })
    };
    let ghost = !tcp_udp_ok && !dynamic && known_use.is_none();
    let assigned_elsewhere: Vec<OtherAssignment> = if tcp_udp_ok {
        Vec::new()
    } else {
        [Protocol::Sctp, Protocol::Dccp]
            .iter()
            .flat_map(|&p| {
                registry[p.index()]
                    .services
                    .iter()
                    .map(move |s| OtherAssignment {
                        protocol: p,
                        name: s.name,
                        description: s.description,
                    })
            })
            .collect()
    };
    let mut history: Vec<String> = Vec::new();
    for h in [tcp, udp]
        .into_iter()
        .flat_map(|e| e.services.iter().chain(&e.other_rows))
        .filter_map(|r| r.history.clone())
    {
        if !history.contains(&h) {
            history.push(h);
        }
    }

    let mut a = Judgement::default();
    let names = |e: &ProtocolEntry| -> String {
        let mut v: Vec<&str> = e.services.iter().map(|s| s.name).collect();
        v.dedup();
        v.join(", ")
    };
    let elsewhere = assigned_elsewhere
        .iter()
        .map(|o| {
            if o.description.is_empty() {
                format!("{} on {}", o.name, o.protocol.as_str().to_uppercase())
            } else {
                format!(
                    "{} ({}) on {}",
                    o.name,
                    first_line(o.description),
                    o.protocol.as_str().to_uppercase()
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let was = if history.is_empty() {
        String::new()
    } else {
        format!(
            " The registry records its past ({}): old software of that name may still listen here.",
            history.join("; ")
        )
    };
    if dynamic {
        let common = known_use
            .as_ref()
            .map(|k| {
                format!(
                    " This one is very commonly {}: see the note below.",
                    k.title
                )
            })
            .unwrap_or_default();
        a.note(
            Concern::Low,
            format!(
                "Port {port} is in the dynamic range (49152-65535), which RFC 6335 sets aside for dynamic and private use and IANA never assigns: operating systems hand these ports to short-lived client sockets, and RPC, media, game and peer-to-peer programs listen on ports picked here. A listener here is not a ghost; its owning process tells what it is.{common}"
            ),
        );
    } else if tcp.status == Status::Assigned || udp.status == Status::Assigned {
        let expected = if tcp.status == Status::Assigned {
            names(tcp)
        } else {
            names(udp)
        };
        a.note(
            Concern::Low,
            format!(
                "The registry expects {expected} on port {port}; a listener that speaks something else is worth a closer look."
            ),
        );
    } else if private_use {
        let what = [tcp, udp]
            .iter()
            .flat_map(|e| &e.other_rows)
            .find(|r| {
                r.description
                    .to_ascii_lowercase()
                    .starts_with("any private")
            })
            .map_or("any private service", |r| r.description);
        let who = [tcp, udp]
            .iter()
            .flat_map(|e| &e.other_rows)
            .map(|r| r.assignee.trim_matches(['[', ']']))
            .find(|a| !a.is_empty())
            .map(|a| format!(" (recorded by {})", a.replace('_', " ")))
            .unwrap_or_default();
        a.note(
            Concern::Low,
            format!(
                "The registry sets port {port} aside for {what}{who}: a site may run its own service of that kind here without a registration of its own. A listener is expected to be a local service; check that it is the one you set up."
            ),
        );
    } else if let Some(k) = &known_use {
        a.note(
            Concern::Low,
            format!(
                "The registry gives port {port} to no TCP or UDP service, but it is very commonly {} (see its note). A listener here is most likely that, and its owning process confirms it.{was}",
                k.title
            ),
        );
    } else {
        let reserved = tcp.status == Status::Reserved || udp.status == Status::Reserved;
        let taken = if elsewhere.is_empty() {
            String::new()
        } else {
            format!(
                " It is assigned on another transport only, to {elsewhere}; a TCP or UDP listener here is not that service."
            )
        };
        match range {
            PortRange::System => {
                let status = if reserved {
                    "a system port IANA holds back (reserved) and gives to nobody"
                } else {
                    "an unassigned system port"
                };
                a.raise(
                    Concern::High,
                    format!(
                        "Port {port} is {status} on TCP and UDP: no standard service lives here, so a listener is a ghost.{taken}{was} It is custom or legacy software, or something that wants to stay unnoticed; find the process that owns it."
                    ),
                );
            }
            _ => {
                let status = if reserved {
                    "held back (reserved) by IANA and given to nobody"
                } else {
                    "unassigned"
                };
                a.raise(
                    Concern::Medium,
                    format!(
                        "Port {port} is {status} in the user range on TCP and UDP: programs often pick such ports for their own services.{taken}{was} A listener is a ghost worth identifying by its owning process."
                    ),
                );
            }
        }
    }
    if privileged == Some(true) {
        a.reasons.push(
            "Binding this port needs privilege here, so a listener was started by root or a process granted that right."
                .to_owned(),
        );
    }
    if ephemeral == Some(true) {
        a.reasons.push(format!(
            "Port {port} is inside this host's ephemeral range, so the kernel may also use it as the source port of outgoing connections."
        ));
    }
    for n in notes {
        match n.kind {
            NoteKind::Malware => a.raise(
                Concern::High,
                format!("Known from malware ({}): {}", n.title, n.summary),
            ),
            NoteKind::Security => a.raise(Concern::Medium, n.summary.to_owned()),
            NoteKind::Historical if ghost => {
                a.reasons.push(format!("Historically: {}", n.summary));
            }
            _ => {}
        }
        if let Some(e) = n.exposure {
            let level = match e {
                Exposure::High => Concern::High,
                Exposure::Medium => Concern::Medium,
            };
            // A security note's summary is already the reason.
            let text = if n.kind == NoteKind::Security {
                n.summary.to_owned()
            } else {
                format!(
                    "Risky if other networks can reach it ({}): {}",
                    n.title, n.summary
                )
            };
            if n.kind == NoteKind::Security {
                a.raise_quietly(level, text);
            } else {
                a.raise(level, text);
            }
        }
    }
    // "Unauthorized Use Reported": someone used the number without an assignment. A remark on
    // a range row may name another port of the range ("Known Unauthorized Use on port 6003"
    // on the X11 row): it counts only for the ports it names, or for all when it names none.
    let mut unregistered_use: Vec<UnregisteredUse> = Vec::new();
    for u in registry
        .iter()
        .flat_map(|e| e.services.iter().chain(&e.other_rows))
        .map(|r| r.unauthorized_use)
        .filter(|u| !u.is_empty() && mentions_port_or_none(u, port))
    {
        if !unregistered_use.iter().any(|x| x.text == u) {
            unregistered_use.push(UnregisteredUse {
                text: u,
                party: unauthorized_party(u),
            });
        }
    }
    if let Some(u) = unregistered_use.first() {
        let who = match &u.party {
            Some(p) => format!("by {p} "),
            None => String::new(),
        };
        let quote = if u.text.eq_ignore_ascii_case("yes") {
            String::new()
        } else {
            format!(" (\"{}\")", u.text)
        };
        a.reasons.push(format!(
            "IANA's registry notes use of this port {who}without an assignment{quote}: some program has used the number without registering it. That is history of the number, not a sign of attack."
        ));
    }
    Assessment {
        listenable: true,
        ghost,
        dynamic,
        private_use,
        assigned_elsewhere,
        known_use,
        history,
        unregistered_use,
        concern: a.concern,
        concern_reason: a.concern_reason,
        reasons: a.reasons,
    }
}

/// Reasons gathered while assessing, with the one that set the concern remembered.
#[derive(Default)]
struct Judgement {
    concern: Concern,
    concern_reason: String,
    reasons: Vec<String>,
}

impl Judgement {
    /// A reason that sets the level when nothing set one yet (the base fact of the port).
    fn note(&mut self, level: Concern, reason: String) {
        if self.concern_reason.is_empty() || level > self.concern {
            self.concern = self.concern.max(level);
            self.concern_reason.clone_from(&reason);
        }
        self.reasons.push(reason);
    }

    /// A reason that raises the level when it is higher than the current one.
    fn raise(&mut self, level: Concern, reason: String) {
        if level > self.concern || self.concern_reason.is_empty() {
            self.concern = self.concern.max(level);
            self.concern_reason.clone_from(&reason);
        }
        self.reasons.push(reason);
    }

    /// As `raise`, for a reason already pushed under another heading: no duplicate sentence.
    fn raise_quietly(&mut self, level: Concern, reason: String) {
        if level > self.concern {
            self.concern = level;
            self.concern_reason = reason;
        }
    }
}

/// The party an "Unauthorized Use Reported" remark names, where it names one.
fn unauthorized_party(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    // "krb524 assigned the port, nv used it without an assignment"
    if let Some(i) = lower.find(" used it without") {
        let head = &text[..i];
        let who = head.rsplit([',', ';']).next().unwrap_or(head).trim();
        return (!who.is_empty()).then(|| who.to_owned());
    }
    // "PORT 90 also being used unofficially by Pointcast"; "Unauthorized use by some mail users"
    if let Some(i) = lower
        .find("used unofficially by ")
        .map(|i| i + 21)
        .or_else(|| lower.find("unauthorized use by ").map(|i| i + 20))
    {
        let who = text[i..].split(['(', ',', ';']).next().unwrap_or("").trim();
        return (!who.is_empty()).then(|| who.to_owned());
    }
    None
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
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
        let remarks = |port: u16| {
            PortReport::build(&reg, port, &host())
                .assessment
                .unregistered_use
                .len()
        };
        // The X11 range row's remark is about 6003, not the rest of the range.
        assert_eq!(remarks(6003), 1);
        assert_eq!(remarks(6001), 0);
        // "see [RFC4146]" names a document, not a port: finger's remark still counts.
        assert_eq!(remarks(79), 1);
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
        assert!(!r.assessment.ghost);
        assert!(r.assessment.dynamic);
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

    fn page(port: u16) -> PortReport {
        PortReport::build(&Registry::embedded(), port, &host())
    }

    #[test]
    fn private_use_rows_are_not_reserved_nor_ghosts() {
        for (port, what) in [
            (24, "any private mail system"),
            (35, "any private printer server"),
            (57, "any private terminal access"),
            (87, "any private terminal link"),
        ] {
            let r = page(port);
            assert_eq!(r.entry(Protocol::Tcp).status, Status::PrivateUse, "{port}");
            assert_eq!(r.entry(Protocol::Udp).status, Status::PrivateUse, "{port}");
            let a = &r.assessment;
            assert!(a.private_use && !a.ghost, "{port}");
            assert_eq!(a.concern, Concern::Low, "{port}");
            assert_eq!(r.headline, format!("private use: {what}"));
            assert!(a.concern_reason.contains(what), "{}", a.concern_reason);
            assert!(!a.concern_reason.contains("ghost"), "{}", a.concern_reason);
        }
        assert!(page(24).assessment.concern_reason.contains("Rick Adams"));
    }

    #[test]
    fn reserved_range_edges_stay_reserved_ghosts() {
        for port in [1023, 1024, 49151] {
            let r = page(port);
            assert_eq!(r.entry(Protocol::Tcp).status, Status::Reserved, "{port}");
            assert!(r.assessment.ghost && !r.assessment.private_use, "{port}");
            assert!(r.headline.starts_with("reserved"), "{}", r.headline);
        }
        assert_eq!(page(1023).assessment.concern, Concern::High);
        assert_eq!(page(49151).assessment.concern, Concern::Medium);
        assert_eq!(page(0).entry(Protocol::Udp).status, Status::Reserved);
    }

    #[test]
    fn de_assigned_ports_carry_their_history_in_the_headline() {
        for port in [2, 3] {
            let r = page(port);
            assert_eq!(
                r.headline, "reserved; was compressnet, de-assigned 2025-02-13",
                "{port}"
            );
            assert_eq!(
                r.assessment.history,
                ["was compressnet, de-assigned 2025-02-13"]
            );
            assert!(
                r.assessment.concern_reason.contains("compressnet"),
                "{}",
                r.assessment.concern_reason
            );
        }
        assert_eq!(page(15).headline, "unassigned; was netstat");
    }

    #[test]
    fn a_port_assigned_only_on_sctp_says_so() {
        let r = page(36412);
        let a = &r.assessment;
        assert!(a.ghost, "a TCP or UDP listener is not s1-control");
        assert_eq!(a.assigned_elsewhere.len(), 1);
        assert_eq!(a.assigned_elsewhere[0].protocol, Protocol::Sctp);
        assert_eq!(a.assigned_elsewhere[0].name, "s1-control");
        assert_eq!(r.primary_name(), None);
        assert_eq!(r.headline, "reserved; assigned only on SCTP: s1-control");
        assert!(
            a.concern_reason
                .contains("s1-control (S1-Control Plane (3GPP)) on SCTP")
        );
        assert!(a.concern_reason.contains("not that service"));
        assert_eq!(a.concern, Concern::Medium);
    }

    #[test]
    fn the_dynamic_range_is_never_a_ghost() {
        for port in [49152, 51820, 60000, 65535] {
            let a = page(port).assessment;
            assert!(a.dynamic && !a.ghost, "{port}");
            assert!(a.concern_reason.contains("RFC 6335"), "{port}");
        }
        let wg = page(51820);
        assert!(wg.headline.contains("WireGuard"), "{}", wg.headline);
        assert_eq!(wg.assessment.concern, Concern::Low);
        let json = serde_json::to_value(&wg).unwrap();
        assert_eq!(json["assessment"]["dynamic"], true);
        assert_eq!(json["assessment"]["ghost"], false);
        assert_eq!(page(60000).headline, "dynamic range");
    }

    #[test]
    fn unauthorized_use_is_a_fact_not_a_concern() {
        // 4444: assigned to krb524 (and nv-video), with a note that nv used it unregistered.
        let r = page(4444);
        let u = &r.assessment.unregistered_use;
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].party.as_deref(), Some("nv"));
        // 1521: ncube-lm; the remark alone would leave it low, as any assigned port.
        let r = page(1521);
        assert_eq!(r.assessment.unregistered_use.len(), 1);
        assert!(
            !r.assessment
                .concern_reason
                .contains("without an assignment"),
            "{}",
            r.assessment.concern_reason
        );
        // 8010: a bare "yes" is said in words, never quoted.
        let r = page(8010);
        assert_eq!(r.assessment.unregistered_use[0].text, "yes");
        let said = r
            .assessment
            .reasons
            .iter()
            .find(|x| x.contains("without an assignment"))
            .unwrap();
        assert!(!said.contains("\"yes\""), "{said}");
        assert_eq!(
            r.assessment.concern,
            Concern::Medium,
            "a reserved user port"
        );
        assert!(r.assessment.concern_reason.contains("reserved"));
        assert_eq!(
            unauthorized_party("PORT 90 also being used unofficially by Pointcast").as_deref(),
            Some("Pointcast")
        );
    }

    #[test]
    fn a_well_known_unofficial_use_is_not_a_ghost() {
        let r = page(25565);
        assert!(!r.assessment.ghost);
        assert!(r.assessment.known_use.is_some());
        assert!(
            r.headline.starts_with("unassigned; commonly Minecraft"),
            "{}",
            r.headline
        );
        // 797 is history (NetInfo), not a common use: still a ghost.
        assert!(page(797).assessment.ghost);
        assert!(page(797).assessment.known_use.is_none());
    }

    #[test]
    fn cadlock_is_assigned() {
        let r = page(770);
        assert_eq!(r.primary_name(), Some("cadlock"));
        assert!(!r.assessment.ghost);
        assert_eq!(r.headline, "cadlock");
    }

    #[test]
    fn identical_protocol_rows_fold_and_dns_sd_keys_are_labelled() {
        let r = page(797);
        let folded = r.folded_registry();
        assert_eq!(folded.len(), 1, "tcp, udp, sctp and dccp say the same");
        assert_eq!(folded[0].0, Protocol::ALL);
        let r = page(80);
        let folded = r.folded_registry();
        // tcp and udp agree (their copies of one note differ only in white space); sctp has
        // its own row, dccp none.
        assert_eq!(folded[0].0, [Protocol::Tcp, Protocol::Udp]);
        assert_eq!(folded.len(), 3);
        let http = &r.entry(Protocol::Tcp).services[0];
        assert_eq!(
            http.dns_sd_txt_keys.as_deref(),
            Some("u=<username> p=<password> path=<path to document>")
        );
        let (short, cut) = notes_for_page(http, 160);
        assert_eq!((short.as_str(), cut), ("", false));
        let long = r
            .entry(Protocol::Tcp)
            .services
            .iter()
            .find(|s| s.name == "www-http")
            .unwrap();
        let (short, cut) = notes_for_page(long, 160);
        assert!(cut && short.chars().count() <= 162, "{short}");
        assert!(!short.contains("u=<username>"), "{short}");
    }

    #[test]
    fn ldap_relates_to_ldaps() {
        let r = PortReport::build(&Registry::embedded(), 389, &host());
        assert!(r.related.iter().any(|x| x.port == 636));
    }
}
