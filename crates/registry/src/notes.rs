//! Our curated notes: unofficial, historical, vendor and malicious uses of ports, each with
//! its sources. The text lives in `data/knowledge/notes.toml`, checked and compiled in by
//! `build.rs`.

use serde::Serialize;

use crate::Protocol;
use crate::data::NOTES;

/// What kind of knowledge a note carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// A use that has ended (NetInfo on the 7xx ports).
    Historical,
    /// Common use without (or against) a registry assignment.
    Unofficial,
    /// A port associated with malware, usually historically.
    Malware,
    /// A vendor product's port.
    Vendor,
    /// A framework or tool's default port for development servers.
    DevDefault,
    /// Background on the protocol registered there.
    Protocol,
    /// Security advice about exposing the service.
    Security,
    /// A remark about the registry entry itself.
    Registry,
}

impl NoteKind {
    /// A kind that tells what commonly runs on the port (not its history, malware or risks):
    /// such a note on a port the registry leaves free names what a listener most likely is.
    pub fn is_a_use(self) -> bool {
        matches!(
            self,
            NoteKind::Unofficial | NoteKind::Vendor | NoteKind::DevDefault | NoteKind::Protocol
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Historical => "historical",
            NoteKind::Unofficial => "unofficial",
            NoteKind::Malware => "malware",
            NoteKind::Vendor => "vendor",
            NoteKind::DevDefault => "dev-default",
            NoteKind::Protocol => "protocol",
            NoteKind::Security => "security",
            NoteKind::Registry => "registry",
        }
    }
}

/// How much harm a service can do when untrusted networks can reach it: an open Docker API
/// or etcd (high), plain-text logins or a reflection amplifier (medium).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    Medium,
    High,
}

/// A cited source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NoteSource {
    pub title: &'static str,
    pub url: &'static str,
}

/// One curated note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Ports the note is about, ascending; for a range note, the first and the last.
    pub ports: &'static [u16],
    /// Protocols it applies to; empty means all.
    pub protocols: &'static [Protocol],
    pub kind: NoteKind,
    pub title: &'static str,
    /// One sentence.
    pub summary: &'static str,
    /// Longer text; may be empty.
    pub detail: &'static str,
    /// How this use relates to the IANA registry (where folklore and registry disagree); may
    /// be empty.
    pub registry: &'static str,
    /// Related ports.
    pub related: &'static [u16],
    /// The harm when reachable from untrusted networks, where the note says there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Exposure>,
    /// `ports` is an inclusive range (`[30000, 32767]`): the note is about every port in it.
    pub range: bool,
    pub sources: &'static [NoteSource],
}

impl Note {
    /// True if the note concerns `port`, on `protocol` if one is given.
    pub fn applies(&self, port: u16, protocol: Option<Protocol>) -> bool {
        self.covers(port)
            && protocol.is_none_or(|p| self.protocols.is_empty() || self.protocols.contains(&p))
    }

    /// True if the note is about `port`: one of its ports, or inside its range.
    pub fn covers(&self, port: u16) -> bool {
        match (self.range, self.ports) {
            (true, [first, last]) => (*first..=*last).contains(&port),
            _ => self.ports.binary_search(&port).is_ok(),
        }
    }

    /// The ports as spans: one span for a range note, one per port otherwise.
    pub fn spans(&self) -> Vec<crate::PortSpan> {
        match (self.range, self.ports) {
            (true, [first, last]) => vec![crate::PortSpan {
                first: *first,
                last: *last,
            }],
            _ => self
                .ports
                .iter()
                .map(|&p| crate::PortSpan { first: p, last: p })
                .collect(),
        }
    }
}

/// A service commonly run on a port the registry gives to something else, or to nothing
/// (`data/knowledge/conventions.toml`): HTTPS on 8443, SSH on 2222. Detection calls such a
/// find "conventional" instead of a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Convention {
    /// Ports, ascending.
    pub ports: &'static [u16],
    /// The service name detection reports (`https`, `http`, `ssh`).
    pub service: &'static str,
    /// Why it is common there, in a phrase.
    pub why: &'static str,
    pub sources: &'static [NoteSource],
}

/// The conventions for `port`.
pub fn conventions_for(port: u16) -> impl Iterator<Item = &'static Convention> {
    crate::data::CONVENTIONS
        .iter()
        .filter(move |c| c.ports.binary_search(&port).is_ok())
}

/// Every note, in file order.
pub fn notes() -> &'static [Note] {
    NOTES
}

/// The first note that tells what commonly runs on `port` over `protocol` (kinds unofficial,
/// vendor, dev-default, protocol): on a port the registry leaves free, what a listener most
/// likely is.
pub fn known_use(port: u16, protocol: Protocol) -> Option<&'static Note> {
    notes_for(port, Some(protocol)).find(|n| n.kind.is_a_use())
}

/// Notes about `port` (on `protocol` if given), in file order.
pub fn notes_for(port: u16, protocol: Option<Protocol>) -> impl Iterator<Item = &'static Note> {
    NOTES.iter().filter(move |n| n.applies(port, protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_notes_cover_every_port_between_their_ends() {
        let nodeport = |port: u16| {
            notes_for(port, Some(Protocol::Tcp)).any(|n| n.title.starts_with("Kubernetes NodePort"))
        };
        assert!(nodeport(30000) && nodeport(31000) && nodeport(32767));
        assert!(!nodeport(29999) && !nodeport(32768));
        let dynamic = notes()
            .iter()
            .find(|n| n.title.starts_with("Dynamic"))
            .unwrap();
        assert!(dynamic.range && dynamic.covers(50000));
        assert_eq!(
            dynamic.spans(),
            [crate::PortSpan {
                first: 49152,
                last: 65535
            }]
        );
        // A note on two separate ports covers those two only.
        let pair = notes().iter().find(|n| n.ports == [6568, 7070]).unwrap();
        assert!(!pair.range && pair.covers(7070) && !pair.covers(7000));
        assert_eq!(pair.spans().len(), 2);
    }
}
