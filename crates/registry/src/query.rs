//! Turning what a person types (`797`, `797/tcp`, `tcp/797`, `797:tcp`, `20-25`, `ldap`,
//! `LDAP/udp`) into ports, with errors that say what was wrong and suggest what was probably
//! meant.

use crate::{PortSpan, Protocol, Registry};

/// A resolved port query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Ports, ascending; never empty.
    pub ports: Vec<u16>,
    /// The protocol given after a slash, if any.
    pub protocol: Option<Protocol>,
    /// The service name the ports came from, if the query was a name.
    pub name: Option<String>,
    /// Whether the query was a range of port numbers (`20-25`).
    pub range: bool,
}

/// The most ports a range query (`20-25`) may name.
pub const MAX_RANGE_PORTS: usize = 1024;

/// Why a query names no port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("no port given: expected a number from 0 to 65535 or a service name such as ssh")]
    Empty,
    #[error("\"{text}\" is not a port number: ports run from 0 to 65535")]
    OutOfRange { text: String },
    #[error("\"{text}\" is not a transport protocol: expected tcp, udp, sctp or dccp")]
    Protocol { text: String },
    #[error("\"{text}\" runs backwards: write the lower port first ({last}-{first})")]
    BackwardsRange { text: String, first: u16, last: u16 },
    #[error(
        "\"{text}\" names {count} ports; a range may name at most {max} (portent scan takes any number)",
        max = MAX_RANGE_PORTS
    )]
    RangeTooLong { text: String, count: usize },
    #[error("no port or service is named \"{name}\"{}", did_you_mean(.suggestions))]
    UnknownName {
        name: String,
        suggestions: Vec<String>,
    },
    #[error(
        "\"{name}\" is a registered service name without a port (used for service discovery only){}",
        match .protocol { Some(p) => format!(" on {p}"), None => String::new() }
    )]
    NameWithoutPort {
        name: String,
        protocol: Option<Protocol>,
    },
    #[error("\"{name}\" is assigned {}; none on {protocol}", assignments(.assigned))]
    NotOnProtocol {
        name: String,
        /// The protocol asked for, which has no port for the name.
        protocol: Protocol,
        /// What the name does have: runs of ports per protocol, in protocol order.
        assigned: Vec<(PortSpan, Protocol)>,
    },
}

/// `22/tcp, 22/udp` (at most eight, then how many more).
fn assignments(a: &[(PortSpan, Protocol)]) -> String {
    let mut parts: Vec<String> = a.iter().take(8).map(|(s, p)| format!("{s}/{p}")).collect();
    if a.len() > 8 {
        parts.push(format!("{} more", a.len() - 8));
    }
    parts.join(", ")
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", s.join(", "))
    }
}

/// Parses a decimal port number, rejecting signs, spaces and values above 65535.
pub fn parse_port_number(text: &str) -> Result<u16, QueryError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if text.starts_with('-') {
            return Err(QueryError::OutOfRange {
                text: text.to_owned(),
            });
        }
        return text.parse::<u16>().map_err(|_| QueryError::OutOfRange {
            text: text.to_owned(),
        });
    }
    Err(QueryError::UnknownName {
        name: text.to_owned(),
        suggestions: Vec::new(),
    })
}

impl Registry {
    /// Resolves a port number or a service name, optionally followed by `/protocol`.
    pub fn resolve(&self, query: &str) -> Result<Resolved, QueryError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(QueryError::Empty);
        }
        let (what, protocol) = split_protocol(query)?;
        if what.is_empty() {
            return Err(QueryError::Empty);
        }
        if let Some(ports) = parse_range(what)? {
            return Ok(Resolved {
                ports,
                protocol,
                name: None,
                range: true,
            });
        }
        match parse_port_number(what) {
            Ok(port) => {
                return Ok(Resolved {
                    ports: vec![port],
                    protocol,
                    name: None,
                    range: false,
                });
            }
            Err(e @ QueryError::OutOfRange { .. }) => return Err(e),
            Err(_) => {}
        }
        let records = self.by_name(what);
        if records.is_empty() {
            return Err(QueryError::UnknownName {
                name: what.to_owned(),
                suggestions: self
                    .suggest_names(what, 4)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            });
        }
        let ports = self.ports_for_name(what, protocol);
        if ports.is_empty() {
            if let Some(protocol) = protocol {
                let assigned = self.assignments(what);
                if !assigned.is_empty() {
                    return Err(QueryError::NotOnProtocol {
                        name: records[0].service.to_owned(),
                        protocol,
                        assigned,
                    });
                }
            }
            return Err(QueryError::NameWithoutPort {
                name: what.to_owned(),
                protocol,
            });
        }
        Ok(Resolved {
            ports,
            protocol,
            name: Some(records[0].service.to_string()),
            range: false,
        })
    }
}

/// Splits the protocol off a query: `80/tcp`, `tcp/80`, `80:tcp` and `tcp:80` are port 80 on
/// TCP; `80` has no protocol.
fn split_protocol(query: &str) -> Result<(&str, Option<Protocol>), QueryError> {
    let Some((a, b)) = query.rsplit_once('/').or_else(|| query.rsplit_once(':')) else {
        return Ok((query, None));
    };
    if let Some(p) = Protocol::parse(b) {
        return Ok((a, Some(p)));
    }
    match Protocol::parse(a) {
        Some(_) if b.is_empty() => Err(QueryError::Empty),
        Some(p) => Ok((b, Some(p))),
        None => Err(QueryError::Protocol { text: b.to_owned() }),
    }
}

/// `20-25` as its ports; `None` when `what` is not two numbers joined by a dash.
fn parse_range(what: &str) -> Result<Option<Vec<u16>>, QueryError> {
    let Some((a, b)) = what.split_once('-') else {
        return Ok(None);
    };
    let number = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !number(a) || !number(b) {
        return Ok(None);
    }
    let first = parse_port_number(a)?;
    let last = parse_port_number(b)?;
    if first > last {
        return Err(QueryError::BackwardsRange {
            text: what.to_owned(),
            first,
            last,
        });
    }
    let count = usize::from(last - first) + 1;
    if count > MAX_RANGE_PORTS {
        return Err(QueryError::RangeTooLong {
            text: what.to_owned(),
            count,
        });
    }
    Ok(Some((first..=last).collect()))
}

impl Registry {
    /// The ports registered for `name`, as runs of consecutive ports per protocol.
    fn assignments(&self, name: &str) -> Vec<(PortSpan, Protocol)> {
        let mut out = Vec::new();
        for &p in &Protocol::ALL {
            let mut run: Option<PortSpan> = None;
            for port in self.ports_for_name(name, Some(p)) {
                match &mut run {
                    Some(s) if u32::from(s.last) + 1 == u32::from(port) => s.last = port,
                    _ => {
                        out.extend(run.map(|s| (s, p)));
                        run = Some(PortSpan {
                            first: port,
                            last: port,
                        });
                    }
                }
            }
            out.extend(run.map(|s| (s, p)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let r = Registry::embedded();
        assert_eq!(r.resolve("797").unwrap().ports, [797]);
        assert_eq!(r.resolve(" 0 ").unwrap().ports, [0]);
        assert_eq!(r.resolve("65535").unwrap().ports, [65535]);
        let q = r.resolve("797/TCP").unwrap();
        assert_eq!((q.ports, q.protocol), (vec![797], Some(Protocol::Tcp)));
        let q = r.resolve("ldap").unwrap();
        assert_eq!((q.ports, q.name.as_deref()), (vec![389], Some("ldap")));
        assert_eq!(r.resolve("x11").unwrap().ports.len(), 64);
        assert_eq!(r.resolve("").unwrap_err(), QueryError::Empty);
        assert_eq!(r.resolve("/tcp").unwrap_err(), QueryError::Empty);
        for bad in ["70000", "-1", "65536", "99999999999999999999"] {
            assert!(
                matches!(r.resolve(bad), Err(QueryError::OutOfRange { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            r.resolve("80/icmp"),
            Err(QueryError::Protocol { .. })
        ));
        let e = r.resolve("sshh").unwrap_err();
        assert!(e.to_string().contains("did you mean ssh"), "{e}");
        let e = r.resolve("ssh/dccp").unwrap_err();
        assert!(matches!(e, QueryError::NotOnProtocol { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "\"ssh\" is assigned 22/tcp, 22/udp, 22/sctp; none on dccp"
        );
        let e = r.resolve("x11/sctp").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"x11\" is assigned 6000-6063/tcp, 6000-6063/udp; none on sctp"
        );
        // A name that has no port on any protocol is still reported as such.
        let e = r.resolve("argus/tcp").unwrap_err();
        assert!(matches!(e, QueryError::NameWithoutPort { .. }), "{e:?}");
        // The protocol before the port, or after a colon.
        for q in ["tcp/80", "80/tcp", "80:tcp", "TCP:80", " tcp/80 "] {
            let got = r.resolve(q).unwrap();
            assert_eq!(
                (got.ports, got.protocol),
                (vec![80], Some(Protocol::Tcp)),
                "{q}"
            );
        }
        let got = r.resolve("udp/domain").unwrap();
        assert_eq!((got.ports, got.protocol), (vec![53], Some(Protocol::Udp)));
        assert_eq!(r.resolve("tcp/").unwrap_err(), QueryError::Empty);
        assert!(matches!(
            r.resolve("80:icmp"),
            Err(QueryError::Protocol { .. })
        ));
        // Ranges.
        let got = r.resolve("20-25").unwrap();
        assert_eq!((got.ports, got.range), (vec![20, 21, 22, 23, 24, 25], true));
        let got = r.resolve("20-25/udp").unwrap();
        assert_eq!((got.ports.len(), got.protocol), (6, Some(Protocol::Udp)));
        assert!(!r.resolve("22").unwrap().range);
        assert_eq!(r.resolve("7-7").unwrap().ports, [7]);
        let e = r.resolve("25-20").unwrap_err();
        assert!(matches!(e, QueryError::BackwardsRange { .. }), "{e:?}");
        assert!(e.to_string().contains("20-25"), "{e}");
        assert_eq!(r.resolve("1-1024").unwrap().ports.len(), 1024);
        let e = r.resolve("1-1025").unwrap_err();
        assert_eq!(
            e,
            QueryError::RangeTooLong {
                text: "1-1025".into(),
                count: 1025
            }
        );
        assert!(e.to_string().contains("at most 1024"), "{e}");
        assert!(matches!(
            r.resolve("20-70000"),
            Err(QueryError::OutOfRange { .. })
        ));
        // A name with a dash is still a name.
        assert!(r.resolve("ftp-data").is_ok());
        let e = r.resolve("abc").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no port or service is named \"abc\"")
        );
    }
}
