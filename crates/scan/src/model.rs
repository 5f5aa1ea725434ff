//! The scan's vocabulary: port states, the reasons behind them, and the events the engine
//! emits. Renderers (table, JSON, CSV, XML) and the store read these; nothing here prints.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Filtered => "filtered",
        }
    }

    pub const ALL: [State; 3] = [State::Open, State::Closed, State::Filtered];
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
/// EACCES and is reported as `icmp-admin-prohibited`.
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
}

impl Reason {
    /// The state this reason implies.
    pub fn state(self) -> State {
        match self {
            Reason::SynAck => State::Open,
            Reason::Reset | Reason::SelfConnect => State::Closed,
            _ => State::Filtered,
        }
    }

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
        }
    }

    /// The reason as nmap's XML names it (`<state reason="...">`).
    pub fn nmap_name(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Reset | Reason::SelfConnect => "conn-refused",
            Reason::Timeout => "no-response",
            Reason::IcmpHostUnreachable => "host-unreach",
            Reason::IcmpNetUnreachable | Reason::NoRoute => "net-unreach",
            Reason::IcmpAdminProhibited => "admin-prohibited",
            Reason::IcmpProtoUnreachable => "proto-unreach",
            Reason::LocalDenied | Reason::Error => "unknown-response",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final word on one port of one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortResult {
    pub addr: IpAddr,
    pub port: u16,
    pub state: State,
    pub reason: Reason,
    /// Time from `connect()` to the answer, for answers.
    pub rtt: Option<Duration>,
    /// Connection attempts made (retries for silence included).
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

/// Counts for one host, at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
}

impl Counts {
    pub fn add(&mut self, s: State) {
        match s {
            State::Open => self.open += 1,
            State::Closed => self.closed += 1,
            State::Filtered => self.filtered += 1,
        }
    }

    pub fn get(&self, s: State) -> u64 {
        match s {
            State::Open => self.open,
            State::Closed => self.closed,
            State::Filtered => self.filtered,
        }
    }

    pub fn total(&self) -> u64 {
        self.open + self.closed + self.filtered
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
    /// Times the window was cut for loss.
    pub backoffs: u64,
    /// Attempts put back for lack of a local resource (descriptors, ports, buffers).
    pub deferred: u64,
    /// TCP self-connects seen and discarded.
    pub self_connects: u64,
    /// The largest number of attempts in flight at once.
    pub peak_in_flight: u64,
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
    /// Host discovery finished for one host.
    Host { addr: IpAddr, status: HostStatus },
    /// One port's final result.
    Port(PortResult),
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
