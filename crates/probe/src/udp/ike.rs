//! IKE (500/udp, and 4500/udp behind the non-ESP marker): IKEv1 Main Mode and IKEv2
//! IKE_SA_INIT.
//!
//! IKEv1 (RFC 2408 §3.1, RFC 2409 §5): an ISAKMP header with a random initiator cookie,
//! exchange type 2 (Identity Protection, i.e. Main Mode), an SA payload offering four
//! pre-shared-key transforms (AES-128 or 3DES, SHA-1 or MD5, MODP groups 14 and 2) and the
//! RFC 3947 NAT-T vendor id. IKEv2 (RFC 7296 §3): a header with a random initiator SPI,
//! exchange 34 (IKE_SA_INIT) and the Initiator flag, an SA offering AES-CBC, HMAC-SHA1/256
//! and groups 31, 19, 14 and 2, a KE for group 31 (Curve25519, 32 bytes) and a nonce. On
//! 4500 the same message follows four zero bytes (RFC 3948 §2.2).
//!
//! A responder echoes our SPI/cookie in the first 8 bytes. A full answer (SA, KE, ...) or a
//! refusal (notify NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD, COOKIE) both identify IKE; the
//! payload chain is walked (at most 32 payloads, within the message) for notify types and
//! vendor ids, which name some implementations.

use super::{Identity, Reply, be16, be32, echoes};

/// Vendor ids we can name, from strongSwan's tables (`isakmp_vendor.c`, `ike_vendor.c`)
/// and RFC 3947 §3.1; `prefix` ones carry a version in their last bytes.
const VENDOR_IDS: &[(&str, &[u8], bool)] = &[
    (
        "strongSwan",
        &[
            0x88, 0x2f, 0xe5, 0x6d, 0x6f, 0xd2, 0x0d, 0xbc, 0x22, 0x51, 0x61, 0x3b, 0x2e, 0xbe,
            0x5b, 0xeb,
        ],
        false,
    ),
    (
        "NAT-T (RFC 3947)",
        &[
            0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95,
            0x45, 0x2f,
        ],
        false,
    ),
    (
        "XAuth",
        &[0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12],
        false,
    ),
    (
        "DPD (RFC 3706)",
        &[
            0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57,
            0x01, 0x00,
        ],
        false,
    ),
    (
        "Cisco Unity",
        &[
            0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc,
        ],
        true,
    ),
    (
        "FRAGMENTATION",
        &[
            0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6,
            0xc2, 0xd3,
        ],
        true,
    ),
    (
        "MS NT5 ISAKMPOAKLEY",
        &[
            0x1e, 0x2b, 0x51, 0x69, 0x05, 0x99, 0x1c, 0x7d, 0x7c, 0x96, 0xfc, 0xbf, 0xb5, 0x87,
            0xe4, 0x61,
        ],
        true,
    ),
    (
        "draft-ietf-ipsec-nat-t-ike-02\\n",
        &[
            0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42,
            0x7b, 0x1f,
        ],
        false,
    ),
    (
        "draft-ietf-ipsec-nat-t-ike-03",
        &[
            0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52,
            0x9d, 0x56,
        ],
        false,
    ),
    ("Cisco FlexVPN", b"FLEXVPN-SUPPORTED", false),
    ("Cisco Delete Reason", b"CISCO-DELETE-REASON", false),
];

/// Payload types that carry vendor ids and notifications (IKEv1, IKEv2).
const V1_NOTIFY: u8 = 11;
const V1_VENDOR: u8 = 13;
const V2_NOTIFY: u8 = 41;
const V2_VENDOR: u8 = 43;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let natt = sent.starts_with(&[0; 4]);
    let (sent, reply, service) = if natt {
        match (sent.get(4..), reply.strip_prefix(&[0u8; 4][..])) {
            (Some(s), Some(r)) => (s, r, "ipsec-nat-t"),
            _ => return Reply::NotOurs,
        }
    } else {
        (sent, reply, "isakmp")
    };
    let (Some(&next), Some(&ver), Some(&exchange), Some(&flags), Some(length)) = (
        reply.get(16),
        reply.get(17),
        reply.get(18),
        reply.get(19),
        be32(reply, 24),
    ) else {
        return Reply::NotOurs;
    };
    if !echoes(sent, reply, 0, 8) {
        return Reply::NotOurs;
    }
    let major = ver >> 4;
    let sent_major = sent.get(17).map_or(0, |v| v >> 4);
    // An IKEv2 answer carries the Response flag; an IKEv1 reply comes from the responder.
    // An IKEv1 responder fills in its cookie, except in an Informational refusal.
    let responder_spi = reply.get(8..16).is_some_and(|s| s.iter().any(|&b| b != 0));
    let plausible = match major {
        2 => flags & 0x20 != 0 && flags & 0x08 == 0,
        1 => reply != sent && (responder_spi || exchange == 5),
        _ => false,
    };
    if !plausible || length < 28 {
        return Reply::NotOurs;
    }
    let end = usize::try_from(length).map_or(reply.len(), |l| l.min(reply.len()));
    let walk = walk(reply.get(28..end).unwrap_or_default(), next, major);
    let mut extra = vec![format!("IKEv{major} {}", exchange_name(major, exchange))];
    if sent_major != major {
        extra.push(format!("answered our IKEv{sent_major} request"));
    }
    if let Some(spi) = reply.get(8..16).filter(|s| s.iter().any(|&b| b != 0)) {
        let hex: String = spi.iter().map(|b| format!("{b:02x}")).collect();
        extra.push(format!("responder SPI {hex}"));
    }
    if !walk.notifies.is_empty() {
        let names: Vec<String> = walk
            .notifies
            .iter()
            .map(|&n| notify_name(major, n))
            .collect();
        extra.push(format!("notify {}", names.join(", ")));
    }
    if !walk.vendors.is_empty() {
        extra.push(format!("vendor ids {}", walk.vendors.join(", ")));
    }
    let product = walk
        .vendors
        .iter()
        .any(|v| v == "strongSwan")
        .then(|| "strongSwan".to_string());
    let confidence = if walk.consistent { 0.95 } else { 0.8 };
    Reply::Answer(
        Identity::new(service, confidence)
            .product(product)
            .extra(Some(extra.join("; "))),
    )
}

#[derive(Debug, Default)]
struct Walk {
    notifies: Vec<u16>,
    vendors: Vec<String>,
    /// The chain ended cleanly (next payload 0) inside the message.
    consistent: bool,
}

/// Follows the generic payload headers (next, flags, length) from `first`.
fn walk(mut d: &[u8], first: u8, major: u8) -> Walk {
    let mut w = Walk::default();
    let mut kind = first;
    for _ in 0..32 {
        if kind == 0 {
            w.consistent = true;
            break;
        }
        let (Some(&next), Some(len)) = (d.first(), be16(d, 2)) else {
            break;
        };
        let len = usize::from(len);
        let Some(body) = d.get(4..len.max(4)).filter(|_| len >= 4) else {
            break;
        };
        match (major, kind) {
            (1, V1_NOTIFY) => w.notifies.extend(be16(body, 6)),
            (2, V2_NOTIFY) => w.notifies.extend(be16(body, 2)),
            (1, V1_VENDOR) | (2, V2_VENDOR) => w.vendors.push(vendor_name(body)),
            _ => {}
        }
        d = d.get(len..).unwrap_or_default();
        kind = next;
    }
    w
}

fn vendor_name(vid: &[u8]) -> String {
    for &(name, id, prefix) in VENDOR_IDS {
        if vid == id || (prefix && vid.starts_with(id)) {
            return name.to_string();
        }
    }
    let hex: String = vid.iter().take(20).map(|b| format!("{b:02x}")).collect();
    hex
}

fn exchange_name(major: u8, e: u8) -> String {
    let name = match (major, e) {
        (1, 2) => "Main Mode",
        (1, 4) => "Aggressive Mode",
        (1, 5) => "Informational",
        (2, 34) => "IKE_SA_INIT",
        (2, 37) => "INFORMATIONAL",
        _ => return format!("exchange {e}"),
    };
    name.to_string()
}

/// Names of the notify types a responder sends to a first message (RFC 2408 §3.14.1,
/// RFC 7296 §3.10.1).
fn notify_name(major: u8, n: u16) -> String {
    let name = match (major, n) {
        (_, 14) => "NO_PROPOSAL_CHOSEN",
        (_, 7) => "INVALID_SYNTAX",
        (_, 5) => "INVALID_MAJOR_VERSION",
        (2, 17) => "INVALID_KE_PAYLOAD",
        (2, 16390) => "COOKIE",
        (2, 16388) => "NAT_DETECTION_SOURCE_IP",
        (2, 16389) => "NAT_DETECTION_DESTINATION_IP",
        (2, 16404) => "MULTIPLE_AUTH_SUPPORTED",
        (2, 16430) => "IKEV2_FRAGMENTATION_SUPPORTED",
        (2, 16431) => "SIGNATURE_HASH_ALGORITHMS",
        (2, 43) => "TEMPORARY_FAILURE",
        (1, 24) => "AUTHENTICATION_FAILED",
        (1, 9) => "INVALID_EXCHANGE_TYPE",
        _ => return n.to_string(),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// An IKEv2 IKE_SA_INIT response refusing our group (RFC 7296 §1.2, §3.10.1): responder
    /// SPI zero, one notify INVALID_KE_PAYLOAD carrying group 14, then the strongSwan VID.
    fn v2_invalid_ke(spi: &[u8]) -> Vec<u8> {
        let mut r = spi.to_vec();
        r.extend([0; 8]);
        r.extend(hex("29 20 22 20 00000000 0000003a"));
        r.extend(hex("2b 00 000a 00 00 0011 000e")); // notify, next = vendor id
        r.extend(hex("00 00 0014 882fe56d6fd20dbc2251613b2ebe5beb"));
        r
    }

    #[test]
    fn ikev2_refusal_identifies() {
        let (_, s) = sent("ike-v2-sa-init");
        let id = answer("ike-v2-sa-init", &s, &v2_invalid_ke(&s[..8]));
        assert_eq!(id.service, "isakmp");
        assert_eq!(id.product.as_deref(), Some("strongSwan"));
        assert_eq!(
            id.extra.as_deref(),
            Some("IKEv2 IKE_SA_INIT; notify INVALID_KE_PAYLOAD; vendor ids strongSwan")
        );
        assert!(id.confidence > 0.9);
        never_panics("ike-v2-sa-init", &s, &v2_invalid_ke(&s[..8]));
    }

    #[test]
    fn nat_t_needs_the_marker() {
        let (p, s) = sent("ike-v2-nat-t");
        assert_eq!(s[..4], [0, 0, 0, 0]);
        let mut r = vec![0, 0, 0, 0];
        r.extend(v2_invalid_ke(&s[4..12]));
        let id = answer("ike-v2-nat-t", &s, &r);
        assert_eq!(id.service, "ipsec-nat-t");
        assert_eq!(super::super::identify(&p, &s, &r[4..]), Reply::NotOurs);
    }

    #[test]
    fn ikev1_main_mode_answer() {
        let (_, s) = sent("ike-v1-main-mode");
        // Responder cookie, SA chosen (one transform, abbreviated), RFC 3947 and DPD VIDs.
        let mut r = s[..8].to_vec();
        r.extend(hex("1122334455667788 01 10 02 00 00000000 00000054"));
        r.extend(hex("0d 00 0010 00000001 00000001 00000000")); // SA (truncated proposal)
        r.extend(hex("0d 00 0014 4a131c81070358455c5728f20e95452f"));
        r.extend(hex("00 00 0014 afcad71368a1f1c96b8696fc77570100"));
        let id = answer("ike-v1-main-mode", &s, &r);
        assert_eq!(
            id.extra.as_deref(),
            Some(
                "IKEv1 Main Mode; responder SPI 1122334455667788; vendor ids NAT-T (RFC 3947), DPD (RFC 3706)"
            )
        );
        never_panics("ike-v1-main-mode", &s, &r);
    }

    #[test]
    fn wrong_spi_and_our_request_are_not_ours() {
        let (p, s) = sent("ike-v2-sa-init");
        let mut r = v2_invalid_ke(&s[..8]);
        r[0] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        // Our request reflected: Initiator flag, no Response flag.
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        let (p, s) = sent("ike-v1-main-mode");
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
    }

    #[test]
    fn payloads_are_well_formed() {
        for name in ["ike-v1-main-mode", "ike-v2-sa-init", "ike-v2-nat-t"] {
            let (_, s) = sent(name);
            let m = if name.ends_with("nat-t") {
                &s[4..]
            } else {
                &s[..]
            };
            assert_eq!(be32(m, 24), Some(m.len() as u32), "{name}");
            let major = m[17] >> 4;
            let w = walk(&m[28..], m[16], major);
            assert!(w.consistent, "{name}");
        }
    }
}
