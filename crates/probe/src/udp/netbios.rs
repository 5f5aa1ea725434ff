//! NetBIOS name service node status (RFC 1002 section 4.2.18): the names a host has
//! registered (its computer name, workgroup, messenger names) and the adapter's MAC address.

use super::{Identity, Reply, be16, dns};

/// Most names listed (the count is one byte).
const MAX_NAMES: usize = 64;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    // A response (R bit) to our transaction id with at least one answer record.
    let (Some(flags), Some(an)) = (be16(reply, 2), be16(reply, 6)) else {
        return Reply::NotOurs;
    };
    if sent.get(..2) != reply.get(..2) || flags & 0x8000 == 0 || an == 0 {
        return Reply::NotOurs;
    }
    // The answer's RR_NAME follows the header (the question section is empty in a
    // response); it uses the DNS label format, possibly compressed.
    let Some((_, after)) = dns::name(reply, 12) else {
        return Reply::NotOurs;
    };
    let rtype = be16(reply, after);
    let rdlen = be16(reply, after + 8).map_or(0, usize::from);
    let rdata = reply
        .get(after + 10..after + 10 + rdlen)
        .or_else(|| reply.get(after + 10..));
    let (Some(0x21), Some(rdata)) = (rtype, rdata) else {
        // A name service response, but not a node status: still NetBIOS-NS.
        return Reply::Answer(
            Identity::new("netbios-ns", 0.6).extra(Some("not a node status answer".to_string())),
        );
    };
    let count = usize::from(rdata.first().copied().unwrap_or(0)).min(MAX_NAMES);
    let mut names = Vec::new();
    let mut host = None;
    for i in 0..count {
        let Some(entry) = rdata.get(1 + i * 18..1 + (i + 1) * 18) else {
            break;
        };
        let raw = entry.get(..15).unwrap_or_default();
        let end = raw
            .iter()
            .rposition(|b| *b != b' ' && *b != 0)
            .map_or(0, |e| e + 1);
        let name = crate::escape::escape_bytes(raw.get(..end).unwrap_or_default(), 32);
        let suffix = entry.get(15).copied().unwrap_or(0);
        let group = entry.get(16).is_some_and(|f| f & 0x80 != 0);
        if suffix == 0 && !group && host.is_none() {
            host = Some(name.clone());
        }
        names.push(format!(
            "{name}<{suffix:02x}>{}",
            if group { " (group)" } else { "" }
        ));
    }
    let mut notes = Vec::new();
    if let Some(h) = &host {
        notes.push(format!("host {h}"));
    }
    if !names.is_empty() {
        notes.push(format!("names {}", names.join(", ")));
    }
    if let Some(mac) = rdata.get(1 + count * 18..1 + count * 18 + 6) {
        let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        notes.push(format!("MAC {}", mac.join(":")));
    }
    Reply::Answer(Identity::new("netbios-ns", 0.95).extra(Some(notes.join("; "))))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// A node status response built from RFC 1002 section 4.2.18: two names and a MAC.
    fn status(q: &[u8]) -> Vec<u8> {
        let mut r = q[..2].to_vec();
        r.extend_from_slice(&hex("8400 0000 0001 0000 0000"));
        // RR_NAME: the same encoded wildcard name as the question.
        r.extend_from_slice(&q[12..46]);
        r.extend_from_slice(&hex("0021 0001 00000000"));
        let mut rdata = vec![2u8];
        for (name, suffix, flags) in [(&b"FILESRV"[..], 0u8, 0x0400u16), (b"WORKGROUP", 0, 0x8400)]
        {
            let mut n = name.to_vec();
            n.resize(15, b' ');
            rdata.extend_from_slice(&n);
            rdata.push(suffix);
            rdata.extend_from_slice(&flags.to_be_bytes());
        }
        rdata.extend_from_slice(&hex("525400123456"));
        rdata.extend_from_slice(&[0u8; 40]);
        r.extend_from_slice(&u16::try_from(rdata.len()).expect("short").to_be_bytes());
        r.extend_from_slice(&rdata);
        r
    }

    #[test]
    fn node_status_names_and_mac() {
        let (_, q) = sent("netbios-node-status");
        let i = answer("netbios-node-status", &q, &status(&q));
        assert_eq!(i.service, "netbios-ns");
        assert_eq!(
            i.extra.as_deref(),
            Some("host FILESRV; names FILESRV<00>, WORKGROUP<00> (group); MAC 52:54:00:12:34:56")
        );
    }

    #[test]
    fn wrong_id_is_not_ours() {
        let (p, q) = sent("netbios-node-status");
        let mut r = status(&q);
        r[1] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        assert_eq!(super::super::identify(&p, &q, &q), Reply::NotOurs);
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("netbios-node-status");
        never_panics("netbios-node-status", &q, &status(&q));
    }
}
