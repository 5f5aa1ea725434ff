//! Kerberos (88/udp): an AS-REQ (RFC 4120 §5.4.1) for `krbtgt/PORTENT.INVALID`.
//!
//! The request (DER written by hand: `[APPLICATION 10]`, pvno 5, msg-type 10, a KDC-REQ-BODY
//! with client `portent`, realm `PORTENT.INVALID`, the krbtgt service, a fixed `till`, a
//! random nonce and etypes 18, 17, 23) asks for a ticket no KDC will issue. A KDC answers
//! with a KRB-ERROR (`[APPLICATION 30]`, pvno 5, msg-type 30, RFC 4120 §5.9.1): typically
//! WRONG_REALM, C_PRINCIPAL_UNKNOWN, S_PRINCIPAL_UNKNOWN or PREAUTH_REQUIRED. The error
//! echoes no request field that we randomise (the nonce is not in it), so the check is the
//! structure: the application tag, pvno 5, msg-type 30, an error code and the server time.
//! The error's realm (the KDC's own realm in a WRONG_REALM referral) goes into `extra`.

use super::asn1::{children, ctx_uint, expect, field};
use super::{Identity, Reply, text};

const KRB_ERROR: u8 = 0x7e; // [APPLICATION 30], constructed
const AS_REP: u8 = 0x6b; // [APPLICATION 11], constructed

pub(super) fn identify(_sent: &[u8], reply: &[u8]) -> Reply {
    if let Some((body, _)) = expect(reply, AS_REP) {
        // An AS-REP would mean the KDC issued a ticket to `portent`: still Kerberos.
        if let Some((seq, _)) = expect(body, 0x30)
            && ctx_uint(seq, 0xa0) == Some(5)
            && ctx_uint(seq, 0xa1) == Some(11)
        {
            return Reply::Answer(Identity::new("kerberos", 0.9).extra(Some("AS-REP".into())));
        }
        return Reply::NotOurs;
    }
    let Some((body, _)) = expect(reply, KRB_ERROR) else {
        return Reply::NotOurs;
    };
    let Some((seq, _)) = expect(body, 0x30) else {
        return Reply::NotOurs;
    };
    let (Some(5), Some(30), Some(code)) = (
        ctx_uint(seq, 0xa0),
        ctx_uint(seq, 0xa1),
        ctx_uint(seq, 0xa6),
    ) else {
        return Reply::NotOurs;
    };
    // stime [4] is mandatory in a KRB-ERROR.
    if field(seq, 0xa4).is_none() {
        return Reply::NotOurs;
    }
    let mut extra = vec![format!("KRB-ERROR {}", error_name(code))];
    if let Some(realm) = field(seq, 0xa9)
        .and_then(|r| expect(r, 0x1b))
        .and_then(|(r, _)| text(r))
    {
        extra.push(format!("realm {realm}"));
    }
    if let Some(sname) = field(seq, 0xaa).and_then(principal) {
        extra.push(format!("server {sname}"));
    }
    if let Some(etext) = field(seq, 0xab)
        .and_then(|t| expect(t, 0x1b))
        .and_then(|(t, _)| text(t))
    {
        extra.push(format!("text {etext}"));
    }
    Reply::Answer(Identity::new("kerberos", 0.95).extra(Some(extra.join("; "))))
}

/// `name/instance` of a PrincipalName (`SEQUENCE { [0] name-type, [1] SEQUENCE OF
/// GeneralString }`), at most 8 components.
fn principal(d: &[u8]) -> Option<String> {
    let (seq, _) = expect(d, 0x30)?;
    let (names, _) = expect(field(seq, 0xa1)?, 0x30)?;
    let parts: Vec<String> = children(names, 8)
        .filter(|t| t.tag == 0x1b)
        .filter_map(|t| text(t.body))
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Error codes of RFC 4120 §7.5.9 a KDC gives to a first AS-REQ.
fn error_name(code: u64) -> String {
    let name = match code {
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        12 => "KDC_ERR_POLICY",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        37 => "KRB_AP_ERR_SKEW",
        52 => "KRB_ERR_RESPONSE_TOO_BIG",
        60 => "KRB_ERR_GENERIC",
        68 => "KDC_ERR_WRONG_REALM",
        _ => return format!("error {code}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::super::asn1::read;
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// Captured from Debian's MIT krb5kdc 1.20.1 (realm EXAMPLE.ORG, on 127.0.0.1) answering
    /// `sent("kerberos-as-req")`.
    const MIT_KDC: &str = "\
    7e81a230819fa003020105a10302011ea411180f32303236313230353036313732375aa505020301\
    af1aa603020106a7111b0f504f5254454e542e494e56414c4944a8143012a003020101a10b30091b\
    07706f7274656e74a9111b0f504f5254454e542e494e56414c4944aa243022a003020102a11b3019\
    1b066b72627467741b0f504f5254454e542e494e56414c4944ab121b10434c49454e545f4e4f545f\
    464f554e44";

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 128 {
            v.push(body.len() as u8);
        } else {
            v.extend([0x81, body.len() as u8]);
        }
        v.extend_from_slice(body);
        v
    }

    /// A KRB-ERROR built from RFC 4120 §5.9.1: PREAUTH_REQUIRED from realm EXAMPLE.ORG.
    fn krb_error(code: u8) -> Vec<u8> {
        let mut seq = Vec::new();
        seq.extend(tlv(0xa0, &[2, 1, 5]));
        seq.extend(tlv(0xa1, &[2, 1, 30]));
        seq.extend(tlv(0xa4, &tlv(0x18, b"20261205060000Z")));
        seq.extend(tlv(0xa5, &[2, 1, 0]));
        seq.extend(tlv(0xa6, &[2, 1, code]));
        seq.extend(tlv(0xa9, &tlv(0x1b, b"EXAMPLE.ORG")));
        let names = [tlv(0x1b, b"krbtgt"), tlv(0x1b, b"EXAMPLE.ORG")].concat();
        let pname = tlv(
            0x30,
            &[tlv(0xa0, &[2, 1, 2]), tlv(0xa1, &tlv(0x30, &names))].concat(),
        );
        seq.extend(tlv(0xaa, &pname));
        tlv(0x7e, &tlv(0x30, &seq))
    }

    #[test]
    fn request_is_well_formed_der() {
        let (p, s) = sent("kerberos-as-req");
        let (outer, rest) = read(&s).expect("AS-REQ");
        assert_eq!((outer.tag, rest.len()), (0x6a, 0));
        let (seq, _) = expect(outer.body, 0x30).expect("KDC-REQ");
        assert_eq!(
            (ctx_uint(seq, 0xa1), ctx_uint(seq, 0xa2)),
            (Some(5), Some(10))
        );
        let (body, _) = expect(field(seq, 0xa4).expect("req-body"), 0x30).expect("body");
        let nonce = ctx_uint(body, 0xa7).expect("nonce");
        assert!(
            nonce > 0 && nonce < 1 << 31,
            "positive 32-bit nonce {nonce:x}"
        );
        assert_ne!(s, p.bytes, "nonce randomised");
    }

    #[test]
    fn krb_error_identifies() {
        let (_, s) = sent("kerberos-as-req");
        let id = answer("kerberos-as-req", &s, &krb_error(25));
        assert_eq!(id.service, "kerberos");
        assert_eq!(
            id.extra.as_deref(),
            Some(
                "KRB-ERROR KDC_ERR_PREAUTH_REQUIRED; realm EXAMPLE.ORG; server krbtgt/EXAMPLE.ORG"
            )
        );
        never_panics("kerberos-as-req", &s, &krb_error(6));
    }

    #[test]
    fn other_messages_are_not_ours() {
        let (p, s) = sent("kerberos-as-req");
        // Our own AS-REQ reflected, a TGS-REQ-like tag, and an error with pvno 4.
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        let mut bad = krb_error(25);
        let at = bad
            .windows(5)
            .position(|w| w == [0xa0, 3, 2, 1, 5])
            .expect("pvno");
        bad[at + 4] = 4;
        assert_eq!(super::super::identify(&p, &s, &bad), Reply::NotOurs);
        assert_eq!(super::super::identify(&p, &s, &hex("7e00")), Reply::NotOurs);
    }

    #[test]
    fn mit_kdc_capture() {
        let (_, s) = sent("kerberos-as-req");
        let id = answer("kerberos-as-req", &s, &hex(MIT_KDC));
        assert_eq!(
            id.extra.as_deref(),
            Some(
                "KRB-ERROR KDC_ERR_C_PRINCIPAL_UNKNOWN; realm PORTENT.INVALID; server krbtgt/PORTENT.INVALID; text CLIENT_NOT_FOUND"
            )
        );
        never_panics("kerberos-as-req", &s, &hex(MIT_KDC));
    }
}
