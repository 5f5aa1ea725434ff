//! CoAP (5683/udp): a confirmable `GET /.well-known/core` (RFC 7252 §3, RFC 6690 §4).
//!
//! The request carries a random message id and a random 4-byte token. A CoAP server answers
//! with an ACK echoing the message id (with the response piggybacked, its token equal to
//! ours), a Reset echoing the message id, or a separate response carrying our token. The
//! link-format body of a `2.05 Content` answer lists the resources, which go into `extra`.

use super::{Identity, Reply, be16, text};

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let (Some(&b0), Some(&code)) = (reply.first(), reply.get(1)) else {
        return Reply::NotOurs;
    };
    let (version, kind, tkl) = (b0 >> 6, (b0 >> 4) & 3, usize::from(b0 & 0x0f));
    if version != 1 || tkl > 8 {
        return Reply::NotOurs;
    }
    let sent_tkl = usize::from(sent.first().map_or(0, |b| b & 0x0f));
    let same_mid = be16(reply, 2).is_some() && be16(reply, 2) == be16(sent, 2);
    let token = reply.get(4..4 + tkl);
    let same_token = tkl == sent_tkl && token.is_some() && token == sent.get(4..4 + sent_tkl);
    let class = code >> 5;
    let ours = match kind {
        // ACK: empty (a separate response follows) or piggybacked with our token.
        2 => same_mid && (code == 0 || (same_token && matches!(class, 2 | 4 | 5))),
        // Reset: the server understood the message as CoAP and refused it.
        3 => same_mid && code == 0,
        // CON or NON: a separate response, matched by token.
        _ => same_token && matches!(class, 2 | 4 | 5),
    };
    if !ours {
        return Reply::NotOurs;
    }
    if kind == 3 {
        return Reply::Answer(Identity::new("coap", 0.7).extra(Some("reset".into())));
    }
    if code == 0 {
        return Reply::Answer(
            Identity::new("coap", 0.8).extra(Some("empty acknowledgement".into())),
        );
    }
    let status = format!("{}.{:02}", class, code & 0x1f);
    let body = payload(reply.get(4 + tkl..).unwrap_or_default());
    let extra = match body.and_then(text) {
        Some(links) => format!("{status}; {links}"),
        None => status,
    };
    Reply::Answer(Identity::new("coap", 0.95).extra(Some(extra)))
}

/// The payload after the options (RFC 7252 §3.1), if there is a payload marker.
fn payload(mut d: &[u8]) -> Option<&[u8]> {
    for _ in 0..64 {
        let (&b, rest) = d.split_first()?;
        if b == 0xff {
            return Some(rest);
        }
        let ext = |nibble: u8| match nibble {
            13 => Some(1usize),
            14 => Some(2),
            15 => None,
            _ => Some(0),
        };
        let (delta_ext, len_ext) = (ext(b >> 4)?, ext(b & 0x0f)?);
        let len_at = delta_ext;
        let len = match b & 0x0f {
            13 => usize::from(*rest.get(len_at)?) + 13,
            14 => usize::from(be16(rest, len_at)?) + 269,
            n => usize::from(n),
        };
        d = rest.get(delta_ext + len_ext + len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    /// Captured from Debian's libcoap 4.3.1 `coap-server-openssl -A 127.0.0.1` answering
    /// `sent("coap-well-known-core")` (a piggybacked 2.05 with its resource list).
    const LIBCOAP: &str = "\
    6445a1c8cfb67d24c128ff3c2f3e3b7469746c653d2247656e6572616c20496e666f223b63743d30\
    2c3c2f74696d653e3b69663d22636c6f636b223b72743d227469636b73223b7469746c653d22496e\
    7465726e616c20436c6f636b223b63743d303b6f62732c3c2f6173796e633e3b63743d302c3c2f65\
    78616d706c655f646174613e3b7469746c653d224578616d706c652044617461223b63743d303b6f\
    6273";

    /// ACK with piggybacked 2.05 Content, Content-Format 40 (link format), per RFC 7252 §3
    /// and RFC 6690 §5.
    fn reply(sent: &[u8]) -> Vec<u8> {
        let mut r = vec![0x64, 0x45, sent[2], sent[3]];
        r.extend_from_slice(&sent[4..8]);
        r.extend([0xc1, 40, 0xff]); // option 12 (Content-Format), 1 byte: 40
        r.extend_from_slice(b"</sensors/temp>;rt=\"temperature-c\";if=\"sensor\"");
        r
    }

    #[test]
    fn piggybacked_content() {
        let (_, s) = sent("coap-well-known-core");
        let id = answer("coap-well-known-core", &s, &reply(&s));
        assert_eq!(id.service, "coap");
        let extra = id.extra.unwrap_or_default();
        assert!(extra.starts_with("2.05; </sensors/temp>"), "{extra}");
    }

    #[test]
    fn reset_and_empty_ack() {
        let (_, s) = sent("coap-well-known-core");
        let rst = [0x70, 0x00, s[2], s[3]];
        assert_eq!(
            answer("coap-well-known-core", &s, &rst).extra.as_deref(),
            Some("reset")
        );
        let ack = [0x60, 0x00, s[2], s[3]];
        assert!(answer("coap-well-known-core", &s, &ack).confidence < 0.9);
    }

    #[test]
    fn wrong_ids_are_not_ours() {
        let (p, s) = sent("coap-well-known-core");
        let mut r = reply(&s);
        r[3] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        let mut r = reply(&s);
        r[6] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        // The request itself (type CON, code GET) is not a response.
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        never_panics("coap-well-known-core", &s, &reply(&s));
    }

    #[test]
    fn libcoap_capture() {
        use super::super::tests::hex;
        let (_, s) = sent("coap-well-known-core");
        let id = answer("coap-well-known-core", &s, &hex(LIBCOAP));
        let extra = id.extra.unwrap_or_default();
        assert!(
            extra.starts_with("2.05; </>;title=\"General Info\""),
            "{extra}"
        );
        assert!(id.confidence > 0.9);
        never_panics("coap-well-known-core", &s, &hex(LIBCOAP));
    }
}
