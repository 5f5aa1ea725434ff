//! `portent check HOST PORT`: the `Test-NetConnection` answer. Which addresses the name
//! resolved to, which source address and interface the kernel routes through, and one TCP
//! attempt (with retries for silence) per address, with RTT and reason.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::TargetError;
use crate::model::{Reason, State};
use crate::net::{Attempt, Network};
use crate::targets::{Resolver, Spec, parse_spec};

/// The result for one address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddressCheck {
    pub address: IpAddr,
    pub port: u16,
    /// The source address the kernel chooses for this destination; `None` without a route.
    pub source: Option<IpAddr>,
    /// The interface that source address belongs to.
    pub interface: Option<String>,
    pub state: State,
    /// Shown as its [`Reason::word`], as every output shows it.
    #[serde(
        serialize_with = "crate::model::serialize_reason_word",
        deserialize_with = "crate::model::deserialize_reason_word"
    )]
    pub reason: Reason,
    /// Round-trip time of the answer, in milliseconds.
    pub rtt_ms: Option<f64>,
    pub attempts: u8,
    /// A local error's text, when `reason` is `error`.
    pub error: Option<String>,
}

/// The whole answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub host: String,
    /// Every address the host resolved to (the address itself for a literal).
    pub addresses: Vec<IpAddr>,
    pub results: Vec<AddressCheck>,
}

impl CheckReport {
    /// True if any address answered with a SYN-ACK.
    pub fn open(&self) -> bool {
        self.results.iter().any(|r| r.state == State::Open)
    }
}

/// Resolves `host` (an address or a name; not a range or block, nor `HOST:PORT`).
pub fn resolve_one(host: &str, resolver: &dyn Resolver) -> Result<Vec<IpAddr>, TargetError> {
    let spec = parse_spec(host).map_err(|e| match e {
        TargetError::HostWithPort { token, host, port } => {
            TargetError::CheckHostWithPort { token, host, port }
        }
        e => e,
    })?;
    match spec {
        Spec::Range { first, last } if first == last => Ok(vec![first]),
        Spec::Range { first, last } => Err(TargetError::NotOneHost {
            token: host.trim().to_owned(),
            count: span(first, last),
        }),
        Spec::Ranges(v) => match v.as_slice() {
            [(first, last)] if first == last => Ok(vec![*first]),
            _ => Err(TargetError::NotOneHost {
                token: host.trim().to_owned(),
                count: v.iter().map(|&(f, l)| span(f, l)).sum(),
            }),
        },
        Spec::Host(name) => {
            let addrs = resolver
                .resolve(&name)
                .map_err(|e| TargetError::Unresolved {
                    token: host.to_owned(),
                    detail: e.to_string(),
                })?;
            if addrs.is_empty() {
                return Err(TargetError::Unresolved {
                    token: host.to_owned(),
                    detail: "no addresses".into(),
                });
            }
            Ok(addrs)
        }
    }
}

/// How many addresses `first..=last` holds (both of one family).
fn span(first: IpAddr, last: IpAddr) -> u128 {
    let n = |ip: IpAddr| match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    n(last).saturating_sub(n(first)).saturating_add(1)
}

/// The source address for `dest`, from the routing table: a UDP socket "connected" to the
/// destination (which sends nothing) reports the address the kernel would use.
pub fn route_source(dest: SocketAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if dest.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let s = UdpSocket::bind(bind).ok()?;
    s.connect(dest).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// The interface that holds `addr`.
pub fn interface_of(addr: IpAddr) -> Option<String> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find(|i| i.ip() == addr)
        .map(|i| i.name)
}

/// Checks `port` on every address in `addresses`, one after the other.
pub async fn check<N: Network>(
    net: &N,
    host: &str,
    addresses: Vec<IpAddr>,
    port: u16,
    timeout: Duration,
    retries: u8,
) -> CheckReport {
    let mut results = Vec::new();
    for &address in &addresses {
        let dest = SocketAddr::new(address, port);
        let source = route_source(dest);
        let interface = source.and_then(interface_of);
        let mut attempts = 0u8;
        let mut self_connects = 0u8;
        let (reason, rtt, error) = loop {
            attempts += 1;
            match net
                .connect(dest, timeout * (1 << (attempts - 1).min(4)))
                .await
            {
                Attempt::Open { rtt } => break (Reason::SynAck, Some(rtt), None),
                Attempt::Refused { rtt } => break (Reason::Reset, Some(rtt), None),
                Attempt::Unreachable { reason, rtt } => break (reason, Some(rtt), None),
                Attempt::SelfConnect if self_connects < 3 => {
                    self_connects += 1;
                    attempts -= 1;
                }
                Attempt::SelfConnect => break (Reason::SelfConnect, None, None),
                Attempt::Timeout if attempts <= retries => {}
                Attempt::Timeout => break (Reason::Timeout, None, None),
                Attempt::Busy(e) | Attempt::Failed(e) => {
                    break (Reason::Error, None, Some(e.to_string()));
                }
            }
        };
        results.push(AddressCheck {
            address,
            port,
            source,
            interface,
            state: reason.state(),
            reason,
            rtt_ms: rtt.map(crate::millis),
            attempts,
            error,
        });
    }
    CheckReport {
        host: host.to_owned(),
        addresses,
        results,
    }
}
