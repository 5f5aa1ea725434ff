//! STUN (3478/udp): a Binding request (RFC 5389, RFC 8489 §5).
//!
//! The request is the 20-byte header alone: type 0x0001, length 0, the magic cookie
//! 0x2112A442 and a random 96-bit transaction id. A server answers with a Binding success
//! (0x0101) or error (0x0111) carrying the same cookie and transaction id; its optional
//! `SOFTWARE` attribute (0x8022) names the product. Attributes are walked within the
//! message length only, at most 64 of them.

use super::{Identity, Reply, be16, echoes, software, text};

const SOFTWARE: u16 = 0x8022;
const ERROR_CODE: u16 = 0x0009;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const MAPPED_ADDRESS: u16 = 0x0001;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let (Some(kind), Some(len)) = (be16(reply, 0), be16(reply, 2)) else {
        return Reply::NotOurs;
    };
    // Cookie and transaction id (bytes 4..20) must be ours; RFC 3489 servers echo all 16.
    if !echoes(sent, reply, 4, 16) || !matches!(kind, 0x0101 | 0x0111) {
        return Reply::NotOurs;
    }
    let len = usize::from(len);
    let Some(body) = reply.get(20..20 + len) else {
        return Reply::Answer(
            Identity::new("stun", 0.7).extra(Some("length field past the datagram".into())),
        );
    };
    let mut at = 0usize;
    let (mut product, mut version, mut extra) = (None, None, Vec::new());
    for _ in 0..64 {
        let (Some(t), Some(l)) = (be16(body, at), be16(body, at + 2)) else {
            break;
        };
        let Some(value) = body.get(at + 4..at + 4 + usize::from(l)) else {
            break;
        };
        match t {
            SOFTWARE => {
                (product, version) = software::split(value);
                if let Some(s) = text(value) {
                    extra.push(format!("software {s}"));
                }
            }
            ERROR_CODE if value.len() >= 4 => {
                let code = u16::from(value[2] & 0x07) * 100 + u16::from(value[3]);
                let reason = text(value.get(4..).unwrap_or_default()).unwrap_or_default();
                extra.push(format!("error {code} {reason}").trim_end().to_string());
            }
            XOR_MAPPED_ADDRESS | MAPPED_ADDRESS => extra.push("mapped address".into()),
            _ => {}
        }
        at += 4 + usize::from(l).div_ceil(4) * 4;
    }
    let what = if kind == 0x0101 {
        "binding success"
    } else {
        "binding error"
    };
    extra.insert(0, what.into());
    Reply::Answer(
        Identity::new("stun", if product.is_some() { 0.95 } else { 0.9 })
            .product(product)
            .version(version)
            .extra(Some(extra.join("; "))),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// Captured from Debian's coturn 4.6.1 (`turnserver -n --listening-ip=127.0.0.1`) answering
    /// `sent("stun-binding")`.
    const COTURN: &str = "\
    0101003c2112a442a1c8cfb67d24ab125980876e002000080001a2505e12a4430001000800018342\
    7f000001802b0008000187dc7f00000180220014436f7475726e2d342e362e312027476f72737427";

    /// A success response built from RFC 8489 §5 and §14: XOR-MAPPED-ADDRESS and SOFTWARE.
    fn reply(sent: &[u8]) -> Vec<u8> {
        let mut attrs = hex("0020 0008 0001 a147 5e12a443"); // family 1, port and address xor'ed
        let sw = b"Example STUN 1.2.3";
        attrs.extend_from_slice(&[0x80, 0x22, 0, sw.len() as u8]);
        attrs.extend_from_slice(sw);
        attrs.extend([0, 0]); // padding to 4
        let mut r = vec![0x01, 0x01, 0, attrs.len() as u8];
        r.extend_from_slice(&sent[4..20]);
        r.extend(attrs);
        r
    }

    #[test]
    fn binding_success_with_software() {
        let (_, s) = sent("stun-binding");
        let id = answer("stun-binding", &s, &reply(&s));
        assert_eq!(id.service, "stun");
        assert_eq!(id.product.as_deref(), Some("Example STUN"));
        assert_eq!(id.version.as_deref(), Some("1.2.3"));
    }

    #[test]
    fn wrong_transaction_or_type_is_not_ours() {
        let (p, s) = sent("stun-binding");
        let mut r = reply(&s);
        r[19] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        // Our own request reflected.
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        never_panics("stun-binding", &s, &reply(&s));
    }

    #[test]
    fn coturn_capture() {
        let (_, s) = sent("stun-binding");
        let id = answer("stun-binding", &s, &hex(COTURN));
        assert_eq!(id.product.as_deref(), Some("Coturn"));
        assert_eq!(id.version.as_deref(), Some("4.6.1"));
        assert!(
            id.extra
                .unwrap_or_default()
                .starts_with("binding success; mapped address")
        );
        never_panics("stun-binding", &s, &hex(COTURN));
    }
}
