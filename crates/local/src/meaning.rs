//! What each listening socket means: the registry's view of its port and protocol, and the
//! flags a person should look at (ghost, exposed, ephemeral, dual stack). This is the data
//! `portent listening` renders and `--json` prints (schema in docs/json.md); the CLI and the
//! web server get the same facts.

use std::sync::Arc;

use portent_registry::report::HostFacts;
use portent_registry::{PortRange, Registry, Status};
use serde::Serialize;

use crate::listening::{Hidden, Listener, Listing, OwnerStatus, Transport};

/// The registry's view of one (port, protocol).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryView {
    pub status: Status,
    /// Assigned service names, in registry order; empty unless `status` is assigned. Inline
    /// (as small as a `Vec`): nearly every port has one, and 10,000 rows then cost no extra
    /// allocations.
    pub services: smallvec::SmallVec<[&'static str; 1]>,
    pub range: PortRange,
    /// On a port the registry gives to nothing for this protocol: the title of our note on
    /// its common use ("Minecraft: Java Edition server"), which keeps it from being a ghost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_use: Option<&'static str>,
}

impl RegistryView {
    /// The registry's view of `port` over `transport`, with the flags that follow from it
    /// alone (ghost, dynamic).
    pub fn with_flags(reg: &Registry, port: u16, transport: Transport) -> (RegistryView, Flags) {
        let protocol = transport.protocol();
        let entry = reg.lookup(port, protocol);
        let range = PortRange::of(port);
        let dynamic = range == PortRange::Dynamic;
        // Only ports the registry leaves free are looked up in the notes: few, so a listing of
        // tens of thousands of sockets stays a table walk.
        let known_use = (!entry.status.provides_for_listener())
            .then(|| portent_registry::known_use(port, protocol))
            .flatten()
            .map(|n| n.title);
        let view = RegistryView {
            status: entry.status,
            services: entry.service_names().into_iter().collect(),
            range,
            known_use,
        };
        let mut flags = Flags::default();
        if !view.status.provides_for_listener() && !dynamic && known_use.is_none() {
            flags.insert(Flag::Ghost);
        }
        if dynamic {
            flags.insert(Flag::Dynamic);
        }
        (view, flags)
    }
}

/// What a socket kept in the store means (the fleet view): the registry's view and its flags
/// from the protocol word (`tcp`, `udp`), address text and port alone, as [`Row::of`] gives
/// them for a live socket, except those a stored socket cannot tell: `ephemeral` (the other
/// host's range is not stored) and `dual-stack`. An address that is not loopback is
/// `exposed` (a socket bound to the loopback device by name is not told apart).
pub fn stored(
    reg: &Registry,
    protocol: &str,
    address: &str,
    port: u16,
) -> Option<(RegistryView, Flags)> {
    let transport = match protocol {
        "tcp" => Transport::Tcp,
        "udp" => Transport::Udp,
        _ => return None,
    };
    let (view, mut flags) = RegistryView::with_flags(reg, port, transport);
    let loopback = match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.is_loopback(),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback())
        }
        Err(_) => false,
    };
    if !loopback {
        flags.insert(Flag::Exposed);
    }
    Some((view, flags))
}

/// Something worth a second look about a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// Listening on a port the registry neither assigns nor sets aside for private use on
    /// this protocol, outside the dynamic range, with no well-known use in our notes.
    /// Strongest in the system range (797): see [`Row::strong_ghost`].
    Ghost,
    /// Bound to a wildcard or non-loopback address: reachable from the network.
    Exposed,
    /// Inside this host's ephemeral range: the port could also be handed to a client socket.
    Ephemeral,
    /// A `[::]` socket that also serves IPv4.
    DualStack,
    /// In 49152-65535, the range RFC 6335 leaves for dynamic and private use: never a ghost,
    /// and said so, since such listeners are normal (RPC, media, peer-to-peer).
    Dynamic,
}

impl Flag {
    pub const ALL: [Flag; 5] = [
        Flag::Ghost,
        Flag::Exposed,
        Flag::Ephemeral,
        Flag::DualStack,
        Flag::Dynamic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Ghost => "ghost",
            Flag::Exposed => "exposed",
            Flag::Ephemeral => "ephemeral",
            Flag::DualStack => "dual-stack",
            Flag::Dynamic => "dynamic",
        }
    }
}

/// A set of [`Flag`]s, one byte; serialized as a list in [`Flag::ALL`] order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    pub fn insert(&mut self, flag: Flag) {
        self.0 |= 1 << flag as u8;
    }

    pub fn contains(self, flag: Flag) -> bool {
        self.0 & (1 << flag as u8) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One socket with its meaning. `pid` and `process` repeat the first owner for readers that
/// want one value; `owners` has all of them.
#[derive(Debug, Clone, Serialize)]
pub struct Row<'a> {
    pub pid: Option<u32>,
    pub process: Option<Arc<str>>,
    #[serde(flatten)]
    pub socket: &'a Listener,
    pub registry: RegistryView,
    pub flags: Flags,
}

impl<'a> Row<'a> {
    /// Builds the row for `socket`.
    pub fn of(socket: &'a Listener, reg: &Registry, host: &HostFacts) -> Row<'a> {
        let (registry, mut flags) = RegistryView::with_flags(reg, socket.port, socket.protocol);
        if socket.exposed() {
            flags.insert(Flag::Exposed);
        }
        if host
            .ephemeral_range
            .is_some_and(|(lo, hi)| (lo..=hi).contains(&socket.port))
        {
            flags.insert(Flag::Ephemeral);
        }
        if socket.dual_stack() {
            flags.insert(Flag::DualStack);
        }
        let first = socket.owners.first();
        Row {
            pid: first.map(|o| o.pid),
            process: first.map(|o| {
                o.process
                    .as_ref()
                    .map_or_else(|| Arc::from("unknown"), |p| Arc::clone(&p.name))
            }),
            socket,
            registry,
            flags,
        }
    }

    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(flag)
    }

    /// A ghost in the system range (0-1023): a privileged port nobody registered.
    pub fn strong_ghost(&self) -> bool {
        self.has(Flag::Ghost) && self.registry.range == PortRange::System
    }
}

/// Which rows to keep. The default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only ghosts.
    pub ghosts: bool,
    /// Only sockets in the dynamic range (49152-65535).
    pub dynamic: bool,
    /// Only exposed sockets.
    pub exposed: bool,
    /// Only sockets this process holds.
    pub pid: Option<u32>,
    /// Only sockets held by a process whose name contains this (case-insensitive).
    pub process: Option<String>,
    /// Only sockets on these ports (a service name with several ports); empty: any port.
    /// One port is better asked of the kernel through `Query::port`.
    pub ports: Vec<u16>,
}

impl Filter {
    pub fn matches(&self, row: &Row) -> bool {
        if !self.ports.is_empty() && !self.ports.contains(&row.socket.port) {
            return false;
        }
        if self.ghosts && !row.has(Flag::Ghost) {
            return false;
        }
        if self.exposed && !row.has(Flag::Exposed) {
            return false;
        }
        if self.dynamic && !row.has(Flag::Dynamic) {
            return false;
        }
        if let Some(pid) = self.pid
            && !row.socket.owners.iter().any(|o| o.pid == pid)
        {
            return false;
        }
        if let Some(name) = &self.process {
            let name = name.to_lowercase();
            let hit = row.socket.owners.iter().any(|o| {
                o.process
                    .as_ref()
                    .is_some_and(|p| p.name.to_lowercase().contains(&name))
            });
            if !hit {
                return false;
            }
        }
        true
    }
}

/// The whole answer to `portent listening`: rows, and what could not be seen.
/// Borrows the [`Listing`] it describes: 10,000 sockets are not copied.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    pub sockets: Vec<Row<'a>>,
    /// Processes whose descriptors could not be read.
    pub hidden: &'a [Hidden],
    /// Rows whose owner could not be read (`owner_status` "hidden").
    pub hidden_owners: usize,
    /// Whether every owner could be looked for: no process was hidden, and the platform
    /// reported no limit on what it shows (on Linux: `/proc` shows every process).
    pub complete: bool,
    pub root: bool,
    pub netns: Option<&'a str>,
    pub ephemeral_range: Option<(u16, u16)>,
    /// Plain sentences about what is missing and why; empty when nothing is.
    pub notes: Vec<String>,
}

impl<'a> Report<'a> {
    /// Gives each socket its meaning and keeps the rows `filter` matches.
    pub fn build(
        listing: &'a Listing,
        reg: &Registry,
        host: &HostFacts,
        filter: &Filter,
    ) -> Report<'a> {
        // Sized for every socket up front: a filtered collect would grow by doubling, and
        // these rows are the largest thing alive while the table is written.
        let mut sockets: Vec<Row> = Vec::with_capacity(listing.listeners.len());
        sockets.extend(
            listing
                .listeners
                .iter()
                .map(|s| Row::of(s, reg, host))
                .filter(|r| filter.matches(r)),
        );
        let hidden_owners = sockets
            .iter()
            .filter(|r| r.socket.owner_status == OwnerStatus::Hidden)
            .count();
        let mut notes = Vec::new();
        let sockets_part = match hidden_owners {
            0 => String::new(),
            1 => "the owner of 1 socket is unknown; ".to_owned(),
            k => format!("the owners of {k} sockets are unknown; "),
        };
        if !listing.hidden.is_empty() {
            let n = listing.hidden.len();
            let procs = if n == 1 { "process" } else { "processes" };
            let reasons = summarize_reasons(&listing.hidden);
            if listing.root {
                let mut pids: Vec<String> = listing
                    .hidden
                    .iter()
                    .take(5)
                    .map(|h| h.pid.to_string())
                    .collect();
                if n > 5 {
                    pids.push("...".into());
                }
                notes.push(format!(
                    "{sockets_part}{n} {procs} could not be read even as root ({reasons}; \
                     hidepid, a container or a security module): pid {}",
                    pids.join(", ")
                ));
            } else {
                notes.push(format!(
                    "{sockets_part}{n} {procs} could not be read ({reasons}): run as root to \
                     see owners of other users' sockets"
                ));
            }
            notes.extend(listing.limits.iter().cloned());
        } else {
            // Nothing unreadable: what hid the owners (processes out of view) is a limit;
            // the count goes with the first one.
            let mut limits = listing.limits.iter();
            if let Some(first) = limits.next() {
                notes.push(format!("{sockets_part}{first}"));
            }
            notes.extend(limits.cloned());
        }
        let exited = sockets
            .iter()
            .filter(|r| r.socket.owner_status == OwnerStatus::Exited)
            .count();
        match exited {
            0 => {}
            1 => notes.push("1 socket closed while it was being listed: its owner exited".into()),
            k => notes.push(format!(
                "{k} sockets closed while they were being listed: their owners exited"
            )),
        }
        Report {
            complete: listing.hidden.is_empty() && listing.limits.is_empty(),
            sockets,
            hidden: &listing.hidden,
            hidden_owners,
            root: listing.root,
            netns: listing.netns.as_deref(),
            ephemeral_range: host.ephemeral_range,
            notes,
        }
    }

    /// Counts for a summary line: (tcp, udp, ghosts, exposed).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |f: &dyn Fn(&Row) -> bool| self.sockets.iter().filter(|r| f(r)).count();
        (
            n(&|r| r.socket.protocol == Transport::Tcp),
            n(&|r| r.socket.protocol == Transport::Udp),
            n(&|r| r.has(Flag::Ghost)),
            n(&|r| r.has(Flag::Exposed)),
        )
    }
}

fn summarize_reasons(hidden: &[Hidden]) -> String {
    let mut reasons: Vec<&str> = hidden.iter().map(|h| h.reason.as_str()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    reasons.join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::listening::{Owner, Process};

    fn listener(protocol: Transport, address: &str, port: u16) -> Listener {
        Listener {
            protocol,
            address: address.parse().unwrap(),
            port,
            v6only: address.contains(':').then_some(false),
            interface: None,
            inode: Some(u64::from(port)),
            uid: Some(0),
            user: Some("root".into()),
            owners: smallvec::smallvec![Owner {
                pid: 42,
                fds: smallvec::smallvec![3],
                process: Some(std::sync::Arc::new(Process {
                    name: "sshd".into(),
                    ..Process::default()
                })),
            }],
            owner_status: OwnerStatus::Found,
        }
    }

    fn host() -> HostFacts {
        HostFacts {
            os: "linux",
            unprivileged_port_start: Some(1024),
            ephemeral_range: Some((32768, 60999)),
        }
    }

    #[test]
    fn flags_from_registry_address_and_range() {
        let reg = Registry::embedded();
        let rows: Vec<(Listener, Vec<Flag>, Status)> = vec![
            (
                listener(Transport::Tcp, "0.0.0.0", 22),
                vec![Flag::Exposed],
                Status::Assigned,
            ),
            (
                listener(Transport::Tcp, "127.0.0.1", 797),
                vec![Flag::Ghost],
                Status::Unassigned,
            ),
            // The dynamic range is never a ghost (RFC 6335 section 6).
            (
                listener(Transport::Udp, "::", 60000),
                vec![
                    Flag::Exposed,
                    Flag::Ephemeral,
                    Flag::DualStack,
                    Flag::Dynamic,
                ],
                Status::Unassigned,
            ),
            // A private-use allocation ("any private mail system") is not a ghost.
            (
                listener(Transport::Tcp, "127.0.0.1", 24),
                vec![],
                Status::PrivateUse,
            ),
            // Assigned on SCTP only: a TCP listener is a ghost.
            (
                listener(Transport::Tcp, "127.0.0.1", 36412),
                vec![Flag::Ghost, Flag::Ephemeral],
                Status::Reserved,
            ),
            // Unassigned, but very commonly Minecraft: not a ghost, and the use is named.
            (
                listener(Transport::Tcp, "127.0.0.1", 25565),
                vec![],
                Status::Unassigned,
            ),
            (
                listener(Transport::Udp, "::1", 53),
                vec![],
                Status::Assigned,
            ),
        ];
        for (l, want, status) in rows {
            let port = l.port;
            let r = Row::of(&l, &reg, &host());
            assert_eq!(r.flags.iter().collect::<Vec<_>>(), want, "port {port}");
            assert_eq!(r.registry.status, status, "port {port}");
        }
        let mc = listener(Transport::Tcp, "127.0.0.1", 25565);
        assert!(
            Row::of(&mc, &reg, &host())
                .registry
                .known_use
                .is_some_and(|t| t.contains("Minecraft")),
        );
        let l22 = listener(Transport::Tcp, "0.0.0.0", 22);
        let r = Row::of(&l22, &reg, &host());
        assert_eq!(&r.registry.services[..], ["ssh"]);
        assert_eq!((r.pid, r.process.as_deref()), (Some(42), Some("sshd")));
        assert!(Row::of(&listener(Transport::Tcp, "127.0.0.1", 797), &reg, &host()).strong_ghost());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["protocol"], "tcp");
        assert_eq!(json["address"], "0.0.0.0");
        assert_eq!(json["port"], 22);
        assert_eq!(json["pid"], 42);
        assert_eq!(json["registry"]["status"], "assigned");
        assert_eq!(json["registry"]["range"], "system");
        assert_eq!(json["flags"], serde_json::json!(["exposed"]));
    }

    #[test]
    fn filters() {
        let reg = Registry::embedded();
        let (l22, l797) = (
            listener(Transport::Tcp, "0.0.0.0", 22),
            listener(Transport::Tcp, "127.0.0.1", 797),
        );
        let ssh = Row::of(&l22, &reg, &host());
        let ghost = Row::of(&l797, &reg, &host());
        let f = Filter {
            ghosts: true,
            ..Filter::default()
        };
        assert!(!f.matches(&ssh) && f.matches(&ghost));
        let f = Filter {
            exposed: true,
            ..Filter::default()
        };
        assert!(f.matches(&ssh) && !f.matches(&ghost));
        let f = Filter {
            pid: Some(42),
            process: Some("SSH".into()),
            ..Filter::default()
        };
        assert!(f.matches(&ssh));
        let f = Filter {
            pid: Some(43),
            ..Filter::default()
        };
        assert!(!f.matches(&ssh));
    }

    #[test]
    fn partial_visibility_is_said_plainly() {
        let mut l = listener(Transport::Tcp, "0.0.0.0", 8080);
        l.owners.clear();
        l.owner_status = OwnerStatus::Hidden;
        let listing = Listing {
            listeners: vec![l],
            hidden: vec![Hidden {
                pid: 1,
                uid: Some(0),
                reason: "permission denied".into(),
            }],
            root: false,
            netns: None,
            limits: vec![],
            netns_facts: None,
        };
        let r = Report::build(&listing, &Registry::embedded(), &host(), &Filter::default());
        assert!(!r.complete);
        assert_eq!(r.hidden_owners, 1);
        assert_eq!(
            r.notes,
            [
                "the owner of 1 socket is unknown; 1 process could not be read (permission denied): run as root to see owners of other users' sockets"
            ]
        );
        assert_eq!(r.sockets[0].pid, None);
    }
}
