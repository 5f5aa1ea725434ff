//! The three port ranges of RFC 6335 section 6.

use serde::Serialize;

/// Which RFC 6335 range a port falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortRange {
    /// 0-1023: "System Ports" (well-known), assigned by IETF process.
    System,
    /// 1024-49151: "User Ports" (registered), assigned by IANA on request.
    User,
    /// 49152-65535: "Dynamic Ports" (private/ephemeral), never assigned.
    Dynamic,
}

impl PortRange {
    pub fn of(port: u16) -> PortRange {
        match port {
            0..=1023 => PortRange::System,
            1024..=49151 => PortRange::User,
            _ => PortRange::Dynamic,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PortRange::System => "system",
            PortRange::User => "user",
            PortRange::Dynamic => "dynamic",
        }
    }

    /// First and last port of the range.
    pub fn bounds(self) -> (u16, u16) {
        match self {
            PortRange::System => (0, 1023),
            PortRange::User => (1024, 49151),
            PortRange::Dynamic => (49152, 65535),
        }
    }

    /// What the range means, in a sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            PortRange::System => {
                "System ports (0-1023, also called well-known) are assigned through IETF review; Unix-like systems traditionally require privilege to bind them."
            }
            PortRange::User => {
                "User ports (1024-49151, also called registered) are assigned by IANA on application, after expert review; any program may bind them."
            }
            PortRange::Dynamic => {
                "Dynamic ports (49152-65535) are never assigned by IANA; operating systems hand them out to short-lived client sockets and programs pick them freely."
            }
        }
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(PortRange::of(0), PortRange::System);
        assert_eq!(PortRange::of(1023), PortRange::System);
        assert_eq!(PortRange::of(1024), PortRange::User);
        assert_eq!(PortRange::of(49151), PortRange::User);
        assert_eq!(PortRange::of(49152), PortRange::Dynamic);
        assert_eq!(PortRange::of(65535), PortRange::Dynamic);
    }
}
