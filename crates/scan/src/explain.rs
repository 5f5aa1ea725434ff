//! An open port explained by the registry: the service registered there (or `unassigned`),
//! the ghost flag for an unassigned system port, and the one-line summary of our notes.

use portent_registry::{PortRange, Protocol, Registry, Status};
use serde::Serialize;

/// What the registry and our notes say about a port on one protocol, for a scan result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The registered service name on the port's protocol, or `unassigned` / `reserved` when
    /// there is none.
    pub service: &'static str,
    /// The registry status on the port's protocol.
    pub status: Status,
    /// `system`, `user` or `dynamic`.
    pub range: &'static str,
    /// A system port (below 1024) that the registry neither assigns nor sets aside for
    /// private use on TCP or UDP, and that our notes know no common use of: a listener there
    /// is custom or legacy software, or hiding.
    pub ghost: bool,
    /// The first of our notes' one-line summaries about the port; empty when we have none.
    pub note: &'static str,
    /// Title of that note; empty when there is none.
    pub note_title: &'static str,
}

/// Explains `port` (TCP).
pub fn explain(reg: &Registry, port: u16) -> Explanation {
    explain_on(reg, port, crate::model::Protocol::Tcp)
}

/// Explains `port` on `protocol`: the registry's assignment and our notes for that protocol.
pub fn explain_on(reg: &Registry, port: u16, protocol: crate::model::Protocol) -> Explanation {
    let proto = match protocol {
        crate::model::Protocol::Tcp => Protocol::Tcp,
        crate::model::Protocol::Udp => Protocol::Udp,
    };
    let entry = reg.lookup(port, proto);
    let service = entry.primary_name().unwrap_or(match entry.status {
        Status::Reserved => "reserved",
        Status::PrivateUse => "private-use",
        _ => "unassigned",
    });
    let range = PortRange::of(port);
    let ghost = range == PortRange::System
        && !reg.status(port, Protocol::Tcp).provides_for_listener()
        && !reg.status(port, Protocol::Udp).provides_for_listener()
        && portent_registry::known_use(port, proto).is_none();
    let note = portent_registry::notes_for(port, Some(proto)).next();
    Explanation {
        service,
        status: entry.status,
        range: range.as_str(),
        ghost,
        note: note.map_or("", |n| n.summary),
        note_title: note.map_or("", |n| n.title),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghosts_and_services() {
        let reg = Registry::embedded();
        let e = explain(&reg, 797);
        assert_eq!(e.service, "unassigned");
        assert!(e.ghost);
        assert!(!e.note.is_empty(), "797 has a NetInfo note");
        let e = explain(&reg, 770);
        assert_eq!(e.service, "cadlock");
        assert!(!e.ghost);
        let e = explain(&reg, 22);
        assert_eq!(e.service, "ssh");
        assert_eq!(e.range, "system");
        // Private use (24) and a port with a well-known use (81) are not ghosts.
        let e = explain(&reg, 24);
        assert_eq!((e.service, e.ghost), ("private-use", false));
        assert!(!explain(&reg, 81).ghost);
        assert!(explain(&reg, 1023).ghost);
        let e = explain(&reg, 60000);
        assert_eq!(
            (e.service, e.ghost, e.range),
            ("unassigned", false, "dynamic")
        );
    }
}
