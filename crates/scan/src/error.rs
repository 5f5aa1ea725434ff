//! Typed errors. Each names the input or the operation and address that failed, so the binary
//! can print it as it is and a caller can match on the kind. A cause (an I/O error, the error
//! of a line in a target file) is part of the message and not also chained as `source()`, so a
//! printer of the chain (`anyhow`'s `{:#}`) shows it once.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A target (address, range, CIDR block, host name, file) that cannot be scanned as given.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("no targets given: name at least one address, range, CIDR block or host name")]
    Empty,
    #[error("invalid IPv4 address '{token}'{}", hint(.detail))]
    BadIpv4 { token: String, detail: String },
    #[error("invalid IPv6 address '{token}'{}", hint(.detail))]
    BadIpv6 { token: String, detail: String },
    #[error("invalid CIDR block '{token}': {detail}")]
    BadCidr { token: String, detail: String },
    #[error("invalid address range '{token}': {detail}")]
    BadRange { token: String, detail: String },
    #[error("'{token}' is not an address, range, CIDR block or host name")]
    BadHostName { token: String },
    #[error(
        "'{token}' has a port in it: targets are hosts; use -p {port} (portent scan {host} -p {port})"
    )]
    HostWithPort {
        token: String,
        host: String,
        port: String,
    },
    #[error("'{token}' has a port in it: give the port separately: portent check {host} {port}")]
    CheckHostWithPort {
        token: String,
        host: String,
        port: String,
    },
    #[error(
        "'{token}' is {count} addresses, and check tests one host: use portent scan {token} -p PORT for a block or range"
    )]
    NotOneHost { token: String, count: u128 },
    #[error("cannot resolve host '{token}': {detail}")]
    Unresolved { token: String, detail: String },
    #[error("in {path}, line {line}: {err}")]
    InFile {
        path: PathBuf,
        line: usize,
        err: Box<TargetError>,
    },
    /// A target or exclusion file that cannot be read (missing, not a regular file, larger
    /// than [`MAX_LIST_BYTES`](crate::targets::MAX_LIST_BYTES), not UTF-8).
    #[error("{0}")]
    Input(portent_input::InputError),
    #[error("every target address is excluded: nothing to scan")]
    AllExcluded,
    #[error(
        "the targets add up to {count} addresses, more than {limit}; pass --yes to scan them all"
    )]
    NeedsConfirmation { count: u128, limit: u64 },
    #[error("the targets add up to {count} addresses; portent scans at most {max} at a time")]
    TooMany { count: u128, max: u64 },
}

fn hint(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// A port list or class that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("empty port list")]
    Empty,
    #[error("empty item in the port list '{list}'")]
    EmptyItem { list: String },
    #[error("port '{item}' is not a number, range (1-1023) or service name")]
    NotANumber { item: String },
    #[error("port '{item}' is out of range: ports are 1-65535")]
    OutOfRange { item: String },
    #[error("port '{item}' includes port 0, which cannot be scanned with connect(): use 1-65535")]
    Zero { item: String },
    #[error(
        "'{item}': portent scans TCP and UDP, not {protocol}; give the port with /tcp or /udp (or T: and U: prefixes)"
    )]
    TcpOnly { item: String, protocol: String },
    #[error("'{item}' names UDP, and this command works over TCP only")]
    UdpNotHere { item: String },
    #[error(
        "{protocol} was asked for (-s{flag}), but -p names no {protocol} ports: add them (`{example}`) or drop -s{flag}"
    )]
    NoPortsFor {
        protocol: &'static str,
        flag: char,
        example: &'static str,
    },
    #[error("port range '{item}' runs backwards: write the low port first")]
    Backwards { item: String },
    #[error("unknown service name '{name}' (not in the registry for {protocol}){}", did_you_mean(.suggestions))]
    UnknownService {
        name: String,
        protocol: &'static str,
        suggestions: Vec<String>,
    },
    #[error(
        "unknown port class '{word}': use system, user, dynamic, assigned, reserved or unassigned"
    )]
    UnknownClass { word: String },
    #[error("the port selection is empty: nothing to scan")]
    NothingLeft,
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

/// A scan option outside what makes sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "invalid duration '{text}': use a number of seconds, or one with ms, s, m or h (500ms, 2s, 1m), up to 24h"
    )]
    BadDuration { text: String },
    #[error("{what} must be {limit}, not {value}")]
    OutOfBounds {
        what: &'static str,
        limit: &'static str,
        value: String,
    },
    #[error("invalid shard '{text}': {why}")]
    BadShard { text: String, why: &'static str },
    #[error(
        "the SYN scan (-sS) sends raw packets, which needs root or the CAP_NET_RAW capability \
         (sudo setcap cap_net_raw+ep $(command -v portent)); without it, scan with TCP connect \
         (-sT, the default)"
    )]
    SynPrivilege,
    #[error("the SYN scan (-sS) cannot run: {why}")]
    SynUnsupported { why: String },
    #[error("a scan cannot be resumed {why}")]
    NotResumable { why: &'static str },
}

/// The scan could not run (not: a port did not answer, which is a result).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot {op} for {addr}: {err}")]
    Io {
        op: &'static str,
        addr: SocketAddr,
        err: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}
