//! Turning what a person types (`797`, `797/tcp`, `ldap`, `LDAP/udp`) into ports, with errors
//! that say what was wrong and suggest what was probably meant.

use crate::{Protocol, Registry};

/// A resolved port query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Ports, ascending; never empty.
    pub ports: Vec<u16>,
    /// The protocol given after a slash, if any.
    pub protocol: Option<Protocol>,
    /// The service name the ports came from, if the query was a name.
    pub name: Option<String>,
}

/// Why a query names no port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("no port given: expected a number from 0 to 65535 or a service name such as ssh")]
    Empty,
    #[error("\"{text}\" is not a port number: ports run from 0 to 65535")]
    OutOfRange { text: String },
    #[error("\"{text}\" is not a transport protocol: expected tcp, udp, sctp or dccp")]
    Protocol { text: String },
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
        let (what, protocol) = match query.rsplit_once('/') {
            Some((w, p)) => (
                w,
                Some(
                    Protocol::parse(p)
                        .ok_or_else(|| QueryError::Protocol { text: p.to_owned() })?,
                ),
            ),
            None => (query, None),
        };
        if what.is_empty() {
            return Err(QueryError::Empty);
        }
        match parse_port_number(what) {
            Ok(port) => {
                return Ok(Resolved {
                    ports: vec![port],
                    protocol,
                    name: None,
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
            return Err(QueryError::NameWithoutPort {
                name: what.to_owned(),
                protocol,
            });
        }
        Ok(Resolved {
            ports,
            protocol,
            name: Some(records[0].service.to_string()),
        })
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
        let e = r.resolve("abc").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("no port or service is named \"abc\"")
        );
    }
}
