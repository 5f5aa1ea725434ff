//! QUIC (443/udp and other QUIC ports): provoke a Version Negotiation packet.
//!
//! The datagram is a long-header packet (RFC 8999 §5.1) for version 0x1a2a3a4a, one of the
//! versions reserved to exercise negotiation (0x?a?a?a?a, RFC 9000 §15), with random 8-byte
//! destination and source connection ids, padded to 1200 bytes because a server only
//! answers an unknown version in a datagram at least that large (RFC 9000 §14.1, §6.1).
//! The Version Negotiation reply (RFC 8999 §6, RFC 9000 §17.2.1) has version 0, swaps the
//! connection ids (its destination id is our source id and the other way round) and lists
//! the versions the server supports; it must not list the version we sent.

use super::{Identity, Reply, be32};

/// Versions listed in `extra`, at most.
const MAX_VERSIONS: usize = 16;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let Some((_, sent_dcid, sent_scid)) = long_header(sent) else {
        return Reply::NotOurs;
    };
    let Some((version, dcid, scid)) = long_header(reply) else {
        return Reply::NotOurs;
    };
    if version != 0 || dcid != sent_scid || scid != sent_dcid {
        return Reply::NotOurs;
    }
    let ours = be32(sent, 1);
    let at = 7 + dcid.len() + scid.len();
    let list = reply.get(at..).unwrap_or_default();
    if list.is_empty() || list.len() % 4 != 0 {
        return Reply::NotOurs;
    }
    let versions: Vec<u32> = list
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if versions.iter().any(|&v| Some(v) == ours) {
        return Reply::NotOurs;
    }
    let names: Vec<String> = versions
        .iter()
        .take(MAX_VERSIONS)
        .map(|&v| name(v))
        .collect();
    let mut extra = format!("version negotiation: {}", names.join(", "));
    if versions.len() > MAX_VERSIONS {
        extra.push_str(", ...");
    }
    Reply::Answer(Identity::new("quic", 0.95).extra(Some(extra)))
}

/// Version and connection ids of a long-header packet (RFC 8999 §5.1).
fn long_header(d: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    if d.first()? & 0x80 == 0 {
        return None;
    }
    let version = be32(d, 1)?;
    let dlen = usize::from(*d.get(5)?);
    let dcid = d.get(6..6 + dlen)?;
    let slen = usize::from(*d.get(6 + dlen)?);
    let scid = d.get(7 + dlen..7 + dlen + slen)?;
    Some((version, dcid, scid))
}

/// A readable name for a QUIC version number.
fn name(v: u32) -> String {
    match v {
        0x0000_0001 => "QUICv1".into(),
        0x6b33_43cf => "QUICv2".into(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        _ if v & 0x0f0f_0f0f == 0x0a0a_0a0a => format!("0x{v:08x} (reserved)"),
        _ => {
            // Google QUIC versions are four ASCII characters such as "Q050".
            let b = v.to_be_bytes();
            if b.iter().all(u8::is_ascii_alphanumeric) {
                b.iter().map(|&c| char::from(c)).collect()
            } else {
                format!("0x{v:08x}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    /// Version Negotiation built from RFC 9000 §17.2.1: ids swapped, v1, v2 and a greased
    /// version listed.
    fn reply(sent: &[u8]) -> Vec<u8> {
        let mut r = vec![0xc7, 0, 0, 0, 0, 8];
        r.extend_from_slice(&sent[15..23]); // our source id as destination
        r.push(8);
        r.extend_from_slice(&sent[6..14]); // our destination id as source
        r.extend([0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf, 0x3a, 0x4a, 0x5a, 0x6a]);
        r
    }

    #[test]
    fn payload_is_padded_and_reserved() {
        let (p, s) = sent("quic-version-negotiation");
        assert_eq!(s.len(), 1200);
        assert_eq!(
            be32(&p.bytes, 1).map(|v| v & 0x0f0f_0f0f),
            Some(0x0a0a_0a0a)
        );
    }

    #[test]
    fn version_negotiation() {
        let (_, s) = sent("quic-version-negotiation");
        let id = answer("quic-version-negotiation", &s, &reply(&s));
        assert_eq!(id.service, "quic");
        assert_eq!(
            id.extra.as_deref(),
            Some("version negotiation: QUICv1, QUICv2, 0x3a4a5a6a (reserved)")
        );
    }

    #[test]
    fn wrong_ids_or_our_version_are_not_ours() {
        let (p, s) = sent("quic-version-negotiation");
        let mut r = reply(&s);
        r[6] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        let mut r = reply(&s);
        r.extend_from_slice(&s[1..5]);
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        never_panics("quic-version-negotiation", &s, &reply(&s));
    }
}
