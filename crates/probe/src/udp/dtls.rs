//! DTLS (443, 4433, 5684 and other DTLS ports): a DTLS 1.2 ClientHello (RFC 6347 §4.2,
//! RFC 9147 §5).
//!
//! The ClientHello offers the usual ECDHE AES-GCM suites, the AES-CCM-8 and PSK suites of
//! CoAP devices (RFC 7252 §9) and a few RSA ones, with a random client random. A DTLS
//! server answers with a HelloVerifyRequest (handshake type 3, a stateless cookie), a
//! ServerHello (type 2; its cipher suite must be one we offered), or an alert; each comes in
//! a DTLS record (version 0xFEFF or 0xFEFD, epoch, 48-bit sequence number, length). None of
//! them echoes a field of ours except the suite, so the check is the record's shape.

use super::{Identity, Reply, be16};

const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let (Some(&kind), Some(version), Some(len)) = (reply.first(), be16(reply, 1), be16(reply, 11))
    else {
        return Reply::NotOurs;
    };
    if !matches!(version, 0xfeff | 0xfefd | 0xfefc) {
        return Reply::NotOurs;
    }
    let Some(fragment) = reply.get(13..13 + usize::from(len)) else {
        return Reply::NotOurs;
    };
    match kind {
        ALERT => alert(fragment),
        HANDSHAKE => handshake(sent, fragment),
        _ => Reply::NotOurs,
    }
}

fn alert(f: &[u8]) -> Reply {
    let [level, desc] = f else {
        return Reply::NotOurs;
    };
    if !matches!(level, 1 | 2) {
        return Reply::NotOurs;
    }
    let name = match desc {
        0 => "close_notify",
        10 => "unexpected_message",
        40 => "handshake_failure",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        109 => "missing_extension",
        112 => "unrecognized_name",
        115 => "unknown_psk_identity",
        _ => "alert",
    };
    Reply::Answer(Identity::new("dtls", 0.8).extra(Some(format!("alert {name}({desc})"))))
}

fn handshake(sent: &[u8], f: &[u8]) -> Reply {
    // Handshake header: type, length (3), message_seq (2), fragment_offset (3),
    // fragment_length (3); then the body.
    let Some(&msg) = f.first() else {
        return Reply::NotOurs;
    };
    let body = f.get(12..).unwrap_or_default();
    match msg {
        3 => {
            // HelloVerifyRequest: server_version, cookie<0..255>.
            let (Some(v), Some(&clen)) = (be16(body, 0), body.get(2)) else {
                return Reply::NotOurs;
            };
            if !matches!(v, 0xfeff | 0xfefd) || body.len() < 3 + usize::from(clen) {
                return Reply::NotOurs;
            }
            Reply::Answer(Identity::new("dtls", 0.95).extra(Some(format!(
                "HelloVerifyRequest ({}, cookie {clen} bytes)",
                version_name(v)
            ))))
        }
        2 => {
            // ServerHello: version, random (32), session id, cipher suite.
            let Some(v) = be16(body, 0) else {
                return Reply::NotOurs;
            };
            let Some(&sid) = body.get(34) else {
                return Reply::NotOurs;
            };
            let Some(suite) = be16(body, 35 + usize::from(sid)) else {
                return Reply::NotOurs;
            };
            if !offered(sent, suite) {
                return Reply::NotOurs;
            }
            Reply::Answer(Identity::new("dtls", 0.95).extra(Some(format!(
                "ServerHello ({}, cipher suite 0x{suite:04x})",
                version_name(v)
            ))))
        }
        _ => Reply::NotOurs,
    }
}

/// Whether our ClientHello offered `suite`.
fn offered(sent: &[u8], suite: u16) -> bool {
    // Record (13) + handshake header (12) + version (2) + random (32) = 59: session id.
    let Some(&sid) = sent.get(59) else {
        return false;
    };
    let Some(&cookie) = sent.get(60 + usize::from(sid)) else {
        return false;
    };
    let at = 61 + usize::from(sid) + usize::from(cookie);
    let Some(n) = be16(sent, at) else {
        return false;
    };
    sent.get(at + 2..at + 2 + usize::from(n))
        .is_some_and(|list| {
            list.chunks_exact(2)
                .any(|c| u16::from_be_bytes([c[0], c[1]]) == suite)
        })
}

fn version_name(v: u16) -> &'static str {
    match v {
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        _ => "DTLS",
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// Captured from Debian's OpenSSL 3.0 (`openssl s_server -dtls -accept 44330`, an EC
    /// self-signed certificate) answering `sent("dtls-client-hello")`: a HelloVerifyRequest.
    const OPENSSL_DTLS: &str = "16feff00000000000000000023030000170000000000000017feff146c9fee45fff5540d919d627793d396194f1358a7";

    /// A HelloVerifyRequest as RFC 6347 §4.2.1 describes it (record version 1.0).
    const HVR: &str = "16 feff 0000 000000000000 0023 03 000017 0000 000000 000017 feff 14 \
                       0102030405060708090a0b0c0d0e0f1011121314";

    #[test]
    fn hello_verify_request() {
        let (_, s) = sent("dtls-client-hello");
        let id = answer("dtls-client-hello", &s, &hex(HVR));
        assert_eq!(id.service, "dtls");
        assert_eq!(
            id.extra.as_deref(),
            Some("HelloVerifyRequest (DTLS 1.0, cookie 20 bytes)")
        );
        never_panics("dtls-client-hello", &s, &hex(HVR));
    }

    #[test]
    fn server_hello_must_pick_an_offered_suite() {
        let (p, s) = sent("dtls-client-hello");
        let mut body = hex("fefd");
        body.extend([7u8; 32]);
        body.extend(hex("00 c02b 00"));
        let mut f = vec![
            2,
            0,
            0,
            body.len() as u8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            body.len() as u8,
        ];
        f.extend(&body);
        let mut r = hex("16 fefd 0000 000000000000");
        r.extend([0, f.len() as u8]);
        r.extend(&f);
        let id = answer("dtls-client-hello", &s, &r);
        assert_eq!(
            id.extra.as_deref(),
            Some("ServerHello (DTLS 1.2, cipher suite 0xc02b)")
        );
        let at = r.len() - 3;
        r[at..at + 2].copy_from_slice(&[0x13, 0x01]); // a TLS 1.3 suite we did not offer
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
    }

    #[test]
    fn alert_and_others() {
        let (p, s) = sent("dtls-client-hello");
        let alert = hex("15 fefd 0000 000000000000 0002 02 28");
        assert_eq!(
            answer("dtls-client-hello", &s, &alert).extra.as_deref(),
            Some("alert handshake_failure(40)")
        );
        // A TLS (not DTLS) alert, and our own ClientHello reflected.
        assert_eq!(
            super::super::identify(&p, &s, &hex("15 0303 0002 0228")),
            Reply::NotOurs
        );
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
    }

    #[test]
    fn openssl_capture() {
        let (_, s) = sent("dtls-client-hello");
        let id = answer("dtls-client-hello", &s, &hex(OPENSSL_DTLS));
        assert_eq!(
            id.extra.as_deref(),
            Some("HelloVerifyRequest (DTLS 1.0, cookie 20 bytes)")
        );
    }
}
