//! An allow-list of what is expected to be open (`--baseline FILE` on `diff` and `watch`):
//! anything outside it is reported, even when it was there last time. A change between two
//! runs says what moved; a baseline says what should never have been there.
//!
//! ```toml
//! # every host
//! [hosts."*"]
//! ports = ["22/tcp", "443/tcp", "53"]      # a bare number is every protocol
//! services = ["ssh"]                       # a port whose detected service is one of these
//!
//! [hosts."198.18.0.2"]
//! ports = ["80/tcp", "8000-8099/tcp"]
//! ```
//!
//! For listening snapshots the host is `local` (or `*`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Why a baseline file was refused.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("the baseline is not valid TOML: {0}")]
    Toml(String),
    #[error("baseline host {host:?}: {entry:?} is not a port, a range or PORT/PROTOCOL")]
    Port { host: String, entry: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    hosts: BTreeMap<String, HostIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostIn {
    #[serde(default)]
    ports: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    first: u16,
    last: u16,
    protocol: Option<String>,
}

/// A parsed baseline.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    hosts: BTreeMap<String, (Vec<Allowed>, Vec<String>)>,
}

impl Baseline {
    /// Parses a baseline file's text.
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        let file: File = toml::from_str(text).map_err(|e| BaselineError::Toml(e.to_string()))?;
        let mut hosts = BTreeMap::new();
        for (host, h) in file.hosts {
            let mut ports = Vec::new();
            for entry in &h.ports {
                let bad = || BaselineError::Port {
                    host: host.clone(),
                    entry: entry.clone(),
                };
                let (range, protocol) = match entry.split_once('/') {
                    Some((r, p)) => (r, Some(p.trim().to_ascii_lowercase())),
                    None => (entry.as_str(), None),
                };
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                let first: u16 = a.trim().parse().map_err(|_| bad())?;
                let last: u16 = b.trim().parse().map_err(|_| bad())?;
                if first > last {
                    return Err(bad());
                }
                ports.push(Allowed {
                    first,
                    last,
                    protocol,
                });
            }
            let services = h.services.iter().map(|s| s.to_ascii_lowercase()).collect();
            hosts.insert(host, (ports, services));
        }
        Ok(Baseline { hosts })
    }

    /// Whether an open `port`/`protocol` on `host`, where `service` was detected (if it
    /// was), is expected.
    pub fn allows(&self, host: &str, protocol: &str, port: u16, service: Option<&str>) -> bool {
        [host, "*"].iter().any(|h| {
            self.hosts.get(*h).is_some_and(|(ports, services)| {
                ports.iter().any(|a| {
                    (a.first..=a.last).contains(&port)
                        && a.protocol.as_deref().is_none_or(|p| p == protocol)
                }) || service.is_some_and(|s| services.iter().any(|x| x.eq_ignore_ascii_case(s)))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_ranges_and_services() {
        let b = Baseline::parse(
            r#"
            [hosts."*"]
            ports = ["22/tcp", "53"]
            services = ["ssh"]
            [hosts."198.18.0.2"]
            ports = ["8000-8099/tcp"]
            "#,
        )
        .unwrap();
        assert!(b.allows("198.18.0.9", "tcp", 22, None));
        assert!(!b.allows("198.18.0.9", "udp", 22, None));
        assert!(b.allows("198.18.0.9", "udp", 53, None));
        assert!(b.allows("198.18.0.2", "tcp", 8080, None));
        assert!(!b.allows("198.18.0.9", "tcp", 8080, None));
        assert!(b.allows("198.18.0.9", "tcp", 2222, Some("SSH")));
        assert!(!b.allows("198.18.0.9", "tcp", 2222, Some("http")));
        assert!(Baseline::parse("[hosts.x]\nports = [\"70000\"]").is_err());
        assert!(Baseline::parse("[hosts.x]\nports = [\"9-1\"]").is_err());
        assert!(Baseline::parse("[hosts.x]\nportz = []").is_err());
    }
}
