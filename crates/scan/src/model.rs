//! The scan's vocabulary: port states, the reasons behind them, and the events the engine
//! emits. Renderers (table, JSON, CSV, XML) and the store read these; nothing here prints.
//! TCP and UDP share it: UDP adds `open|filtered` (silence, which on UDP can mean either) and
//! the reasons a datagram scan sees (`udp-response`, `port-unreach`, `no-response`).

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The transport a port was scanned over.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn is_tcp(&self) -> bool {
        *self == Protocol::Tcp
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a port answered, in nmap's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A connection was accepted (SYN-ACK).
    Open,
    /// The host refused (RST): reachable, nothing listening.
    Closed,
    /// No answer, or an ICMP error: something in the way, or nobody there.
    Filtered,
    /// UDP only: no answer after the retries. A service that ignores what it was sent and a
    /// firewall that drops it look the same, so nothing more can be said.
    #[serde(rename = "open|filtered")]
    OpenFiltered,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Filtered => "filtered",
            State::OpenFiltered => "open|filtered",
        }
    }

    pub const ALL: [State; 4] = [
        State::Open,
        State::Closed,
        State::Filtered,
        State::OpenFiltered,
    ];
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port got its state. A connect scan sees what the kernel reports for `connect()`, so
/// the ICMP reasons are the kernel's grouping: on IPv4, "host unreachable" and "communication
/// administratively prohibited" (types 3/1, 3/10, 3/13) both arrive as EHOSTUNREACH and are
/// reported as `icmp-host-unreachable`; on IPv6 "administratively prohibited" (1/1) arrives as
/// EACCES and is reported as `icmp-admin-prohibited`. The UDP engine on Linux reads the ICMP
/// type and code themselves (`IP_RECVERR`), so there admin-prohibited is told apart on IPv4 too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The handshake completed.
    SynAck,
    /// The host answered with a reset (ECONNREFUSED).
    Reset,
    /// No answer within the timeout, on every attempt.
    Timeout,
    /// ICMP host unreachable or administratively prohibited (EHOSTUNREACH, EHOSTDOWN).
    IcmpHostUnreachable,
    /// ICMP network unreachable (ENETUNREACH after the SYN left).
    IcmpNetUnreachable,
    /// ICMPv6 administratively prohibited (EACCES after the SYN left).
    IcmpAdminProhibited,
    /// ICMP protocol unreachable (ENOPROTOOPT).
    IcmpProtoUnreachable,
    /// This machine has no route to the address (the SYN never left).
    NoRoute,
    /// A firewall on this machine refused to send (EPERM/EACCES at `connect()`).
    LocalDenied,
    /// Every attempt connected the socket to itself (loopback, nothing listening): closed.
    SelfConnect,
    /// A local error that says nothing about the port.
    Error,
    /// UDP: the port sent back a reply that the payload's parser accepted.
    UdpResponse,
    /// UDP: ICMP port unreachable (ECONNREFUSED on the connected socket).
    PortUnreach,
    /// UDP: silence after every retry.
    NoResponse,
}

impl Reason {
    /// The state this reason implies.
    pub fn state(self) -> State {
        match self {
            Reason::SynAck | Reason::UdpResponse => State::Open,
            Reason::Reset | Reason::SelfConnect | Reason::PortUnreach => State::Closed,
            Reason::NoResponse => State::OpenFiltered,
            _ => State::Filtered,
        }
    }

    /// The name the store and the serialized records keep (serde's): stable across versions,
    /// never shown; outputs show [`Reason::word`].
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Reset => "reset",
            Reason::Timeout => "timeout",
            Reason::IcmpHostUnreachable => "icmp-host-unreachable",
            Reason::IcmpNetUnreachable => "icmp-net-unreachable",
            Reason::IcmpAdminProhibited => "icmp-admin-prohibited",
            Reason::IcmpProtoUnreachable => "icmp-proto-unreachable",
            Reason::NoRoute => "no-route",
            Reason::LocalDenied => "local-denied",
            Reason::SelfConnect => "self-connect",
            Reason::Error => "error",
            Reason::UdpResponse => "udp-response",
            Reason::PortUnreach => "port-unreach",
            Reason::NoResponse => "no-response",
        }
    }

    /// The word every output shows (table, JSON, CSV, nmap XML, grepable, web): nmap's
    /// (`--reason`) where nmap has one with the same meaning, portent's finer one where it
    /// knows more (`no-route`, `local-denied`, `self-connect`, `error`). The store keeps
    /// [`Reason::as_str`], so runs saved before compare alike; [`Reason::word_of`] turns a
    /// stored name into this word.
    pub fn word(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Reset => "conn-refused",
            Reason::Timeout | Reason::NoResponse => "no-response",
            Reason::UdpResponse => "udp-response",
            Reason::PortUnreach => "port-unreach",
            Reason::IcmpHostUnreachable => "host-unreach",
            Reason::IcmpNetUnreachable => "net-unreach",
            Reason::IcmpAdminProhibited => "admin-prohibited",
            Reason::IcmpProtoUnreachable => "proto-unreach",
            Reason::NoRoute => "no-route",
            Reason::LocalDenied => "local-denied",
            Reason::SelfConnect => "self-connect",
            Reason::Error => "error",
        }
    }

    /// [`Reason::word`] for a name as the store keeps it ([`Reason::as_str`]); other text is
    /// returned as it is.
    pub fn word_of(stored: &str) -> &str {
        Reason::ALL
            .iter()
            .find(|r| r.as_str() == stored)
            .map_or(stored, |r| r.word())
    }

    /// Every reason.
    pub const ALL: [Reason; 14] = [
        Reason::SynAck,
        Reason::Reset,
        Reason::Timeout,
        Reason::IcmpHostUnreachable,
        Reason::IcmpNetUnreachable,
        Reason::IcmpAdminProhibited,
        Reason::IcmpProtoUnreachable,
        Reason::NoRoute,
        Reason::LocalDenied,
        Reason::SelfConnect,
        Reason::Error,
        Reason::UdpResponse,
        Reason::PortUnreach,
        Reason::NoResponse,
    ];
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// Serializes a reason as its [`Reason::word`] (the JSON outputs), where the record itself
/// keeps serde's stable name.
pub fn serialize_reason_word<S: serde::Serializer>(r: &Reason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.word())
}

/// Reads a reason written by [`serialize_reason_word`] or by serde (stored records of both
/// kinds). `no-response` is read as [`Reason::NoResponse`]: a TCP timeout shows the same word.
pub fn deserialize_reason_word<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
    let name = String::deserialize(d)?;
    Reason::ALL
        .iter()
        .find(|r| r.as_str() == name)
        .or_else(|| Reason::ALL.iter().find(|r| r.word() == name))
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown reason {name:?}")))
}

/// The final word on one port of one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortResult {
    pub addr: IpAddr,
    pub port: u16,
    /// TCP unless the UDP engine produced it. Not written for TCP, so TCP documents are as
    /// they were before UDP (and read back as TCP).
    #[serde(default, skip_serializing_if = "Protocol::is_tcp")]
    pub protocol: Protocol,
    pub state: State,
    pub reason: Reason,
    /// Time from `connect()` (UDP: from sending) to the answer, for answers.
    pub rtt: Option<Duration>,
    /// Connection attempts made (UDP: rounds of datagrams sent; retries for silence included).
    pub attempts: u8,
}

/// Why a host was or was not scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostStatus {
    /// Answered discovery (a SYN-ACK or reset on a common port).
    Up,
    /// Not probed for liveness (a single target, or `--no-ping`): scanned regardless.
    Assumed,
    /// Answered nothing during discovery: not scanned.
    Down,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counts for one host, at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    /// UDP ports that stayed silent (not written when 0: TCP documents are as before).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub open_filtered: u64,
}

impl Counts {
    pub fn add(&mut self, s: State) {
        match s {
            State::Open => self.open += 1,
            State::Closed => self.closed += 1,
            State::Filtered => self.filtered += 1,
            State::OpenFiltered => self.open_filtered += 1,
        }
    }

    pub fn get(&self, s: State) -> u64 {
        match s {
            State::Open => self.open,
            State::Closed => self.closed,
            State::Filtered => self.filtered,
            State::OpenFiltered => self.open_filtered,
        }
    }

    pub fn total(&self) -> u64 {
        self.open + self.closed + self.filtered + self.open_filtered
    }
}

/// Engine statistics, for the summary line and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Stats {
    /// `connect()` attempts started.
    pub attempts: u64,
    /// Attempts repeated after silence.
    pub retries: u64,
    /// Retries that got an answer: evidence of loss, each one a reason to slow down.
    pub losses: u64,
    /// Times the window was cut: for loss (connect and UDP scans), for queueing delay (the
    /// SYN scan, which paces by round trips).
    pub backoffs: u64,
    /// Attempts put back for lack of a local resource (descriptors, ports, buffers).
    pub deferred: u64,
    /// TCP self-connects seen and discarded.
    pub self_connects: u64,
    /// The largest number of attempts waiting for an answer at once (the connect scan; an
    /// attempt answered inside `connect()`, as on loopback and veth, never waits).
    pub peak_in_flight: u64,
    /// UDP: ICMP errors received (port unreachable and the others).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub icmp_errors: u64,
    /// UDP: replies from the target's port that no payload's parser accepted (ignored).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unmatched_replies: u64,
    /// UDP: repeated replies to a probe already answered (folded).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duplicate_replies: u64,
    /// UDP: ports left without a result because the scan's deadline passed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cut_by_deadline: u64,
}

impl Stats {
    /// Adds another engine's stats (a scan of TCP, then UDP): sums, and the larger peak.
    pub fn absorb(&mut self, o: &Stats) {
        self.attempts += o.attempts;
        self.retries += o.retries;
        self.losses += o.losses;
        self.backoffs += o.backoffs;
        self.deferred += o.deferred;
        self.self_connects += o.self_connects;
        self.peak_in_flight = self.peak_in_flight.max(o.peak_in_flight);
        self.icmp_errors += o.icmp_errors;
        self.unmatched_replies += o.unmatched_replies;
        self.duplicate_replies += o.duplicate_replies;
        self.cut_by_deadline += o.cut_by_deadline;
    }
}

/// What the engine tells its caller, in order.
#[derive(Debug, Clone)]
pub enum Event {
    /// The scan is about to start.
    Started {
        hosts: u64,
        ports: usize,
        /// Port results to come if every host is up.
        total: u64,
        /// Connection attempts allowed in flight at once.
        max_in_flight: usize,
        /// The open-file limit after raising it, when the network has one.
        fd_limit: Option<u64>,
    },
    /// Host discovery finished for one host. `ports`: the port results this host would give
    /// (every port asked for; in a sharded scan, only the shard's pairs on this host).
    Host {
        addr: IpAddr,
        status: HostStatus,
        ports: u64,
    },
    /// A UDP reply that a payload's parser accepted, for identification by the caller (who
    /// need not send again). Comes before the port's [`Event::Port`]; one per payload that
    /// was answered (repeats folded).
    UdpReply {
        addr: IpAddr,
        port: u16,
        /// The caller's payload index ([`UdpProbe::id`](crate::udp::UdpProbe::id)).
        probe_id: usize,
        /// The exact bytes sent.
        sent: Vec<u8>,
        /// The reply, at most [`MAX_REPLY`](crate::udp::MAX_REPLY) bytes.
        reply: Vec<u8>,
        rtt: Duration,
    },
    /// One port's final result.
    Port(PortResult),
    /// With checkpoints on ([`crate::ScannerBuilder::checkpoints`]): the [`Event::Port`]s
    /// delivered since the scan (or its resume) started are exactly the port results of the
    /// pairs before this point in walk order, each once.
    Checkpoint(crate::checkpoint::WalkPoint),
    /// A host is finished.
    HostDone {
        addr: IpAddr,
        status: HostStatus,
        counts: Counts,
        /// Smoothed round-trip time at the end.
        srtt: Option<Duration>,
    },
    /// The scan is finished.
    Finished { elapsed: Duration, stats: Stats },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn udp_words_are_nmaps() {
        assert_eq!(State::OpenFiltered.as_str(), "open|filtered");
        assert_eq!(
            serde_json::to_string(&State::OpenFiltered).unwrap(),
            r#""open|filtered""#
        );
        assert_eq!(
            serde_json::from_str::<State>(r#""open|filtered""#).unwrap(),
            State::OpenFiltered
        );
        for (r, word, nmap) in [
            (Reason::UdpResponse, "udp-response", "udp-response"),
            (Reason::PortUnreach, "port-unreach", "port-unreach"),
            (Reason::NoResponse, "no-response", "no-response"),
            (
                Reason::IcmpAdminProhibited,
                "icmp-admin-prohibited",
                "admin-prohibited",
            ),
            (
                Reason::IcmpHostUnreachable,
                "icmp-host-unreachable",
                "host-unreach",
            ),
        ] {
            assert_eq!(r.as_str(), word);
            assert_eq!(r.word(), nmap);
            assert_eq!(Reason::word_of(word), nmap);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{word}\""));
        }
        // Every reason's stored name reads back, and its shown word reads as a reason too.
        for r in Reason::ALL {
            let stored = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<Reason>(&stored).unwrap(), r);
            let shown = format!("\"{}\"", r.word());
            let mut de = serde_json::Deserializer::from_str(&shown);
            let back = deserialize_reason_word(&mut de).unwrap();
            assert_eq!(back.word(), r.word());
        }
        let mut c = Counts::default();
        c.add(State::OpenFiltered);
        assert_eq!((c.get(State::OpenFiltered), c.total()), (1, 1));
    }

    #[test]
    fn tcp_documents_are_unchanged_and_read_back() {
        let r = PortResult {
            addr: "192.0.2.1".parse().unwrap(),
            port: 22,
            protocol: Protocol::Tcp,
            state: State::Open,
            reason: Reason::SynAck,
            rtt: None,
            attempts: 1,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("protocol"), "{json}");
        assert_eq!(serde_json::from_str::<PortResult>(&json).unwrap(), r);
        let u = PortResult {
            protocol: Protocol::Udp,
            ..r
        };
        let json = serde_json::to_string(&u).unwrap();
        assert!(json.contains(r#""protocol":"udp""#), "{json}");
        assert_eq!(serde_json::from_str::<PortResult>(&json).unwrap(), u);
        let counts = serde_json::to_string(&Counts::default()).unwrap();
        assert_eq!(counts, r#"{"open":0,"closed":0,"filtered":0}"#);
        assert_eq!(
            serde_json::from_str::<Counts>(&counts).unwrap(),
            Counts::default()
        );
    }
}
