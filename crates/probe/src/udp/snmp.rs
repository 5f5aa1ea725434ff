//! SNMP replies: v1/v2c GetResponse to our `sysDescr.0` request (RFC 3416's PDU), and the v3
//! Report to our engine discovery (RFC 3412's message, RFC 3414 section 4), whose
//! msgAuthoritativeEngineID names the agent's vendor.
//!
//! A hand-written BER reader rather than a crate: we read five fixed shapes of a few dozen
//! bytes (definite lengths, INTEGER, OCTET STRING, SEQUENCE, context tags), and the ASN.1
//! crates bring derive machinery and allocation policies we would have to bound anyway.
//! Every read checks the remaining length; nesting is fixed by the code, not by the input.

use super::{Identity, Reply, text};

/// A BER tag-length-value: the tag byte and the contents.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads TLVs one after another from a slice.
#[derive(Debug, Clone)]
struct Ber<'a> {
    data: &'a [u8],
}

impl<'a> Ber<'a> {
    fn new(data: &'a [u8]) -> Ber<'a> {
        Ber { data }
    }

    /// The next TLV (single-byte tags; definite lengths of at most four bytes).
    fn next(&mut self) -> Option<Tlv<'a>> {
        let (&tag, rest) = self.data.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first & 0x80 == 0 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return None;
            }
            let bytes = rest.get(..n)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, rest.get(n..)?)
        };
        let body = rest.get(..len)?;
        self.data = rest.get(len..)?;
        Some(Tlv { tag, body })
    }

    /// The next TLV if it has `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let t = self.next()?;
        (t.tag == tag).then_some(t.body)
    }

    /// The next INTEGER, if it fits an i64.
    fn int(&mut self) -> Option<i64> {
        int(self.expect(0x02)?)
    }
}

/// A BER INTEGER's value (two's complement, at most eight bytes).
fn int(body: &[u8]) -> Option<i64> {
    if body.is_empty() || body.len() > 8 {
        return None;
    }
    let negative = body.first().is_some_and(|b| b & 0x80 != 0);
    let start: i64 = if negative { -1 } else { 0 };
    Some(body.iter().fold(start, |acc, b| (acc << 8) | i64::from(*b)))
}

/// What we sent: the version and the request id (v3: msgID and request-id).
struct Sent {
    version: i64,
    msg_id: Option<i64>,
    request_id: i64,
}

fn parse_sent(sent: &[u8]) -> Option<Sent> {
    let mut top = Ber::new(Ber::new(sent).expect(0x30)?);
    let version = top.int()?;
    if version == 3 {
        let msg_id = Ber::new(top.expect(0x30)?).int()?;
        top.expect(0x04)?;
        let mut scoped = Ber::new(top.expect(0x30)?);
        scoped.expect(0x04)?;
        scoped.expect(0x04)?;
        let request_id = Ber::new(scoped.expect(0xa0)?).int()?;
        Some(Sent {
            version,
            msg_id: Some(msg_id),
            request_id,
        })
    } else {
        top.expect(0x04)?;
        let request_id = Ber::new(top.expect(0xa0)?).int()?;
        Some(Sent {
            version,
            msg_id: None,
            request_id,
        })
    }
}

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let Some(ours) = parse_sent(sent) else {
        return Reply::NotOurs;
    };
    let Some(body) = Ber::new(reply).expect(0x30) else {
        return Reply::NotOurs;
    };
    let mut top = Ber::new(body);
    if top.int() != Some(ours.version) {
        return Reply::NotOurs;
    }
    let ident = if ours.version == 3 {
        v3(&ours, top)
    } else {
        community(&ours, top)
    };
    ident.map_or(Reply::NotOurs, Reply::Answer)
}

/// v1/v2c: community, then a GetResponse (A2) with our request id and one varbind.
fn community(ours: &Sent, mut top: Ber<'_>) -> Option<Identity> {
    top.expect(0x04)?;
    let mut pdu = Ber::new(top.expect(0xa2)?);
    if pdu.int()? != ours.request_id {
        return None;
    }
    let status = pdu.int()?;
    let _index = pdu.int()?;
    let mut ident = Identity::new("snmp", 0.9);
    let value = Ber::new(pdu.expect(0x30)?).expect(0x30).and_then(|vb| {
        let mut vb = Ber::new(vb);
        vb.expect(0x06)?;
        vb.next()
    });
    let version = if ours.version == 0 { "v1" } else { "v2c" };
    match value {
        Some(Tlv { tag: 0x04, body }) if status == 0 => {
            let descr = text(body);
            ident.confidence = 0.95;
            if let Some(d) = &descr {
                let (product, ver) = product_of(d);
                ident = ident.product(product).version(ver);
            }
            Some(ident.extra(Some(format!(
                "SNMP{version} community public; sysDescr: {}",
                descr.unwrap_or_default()
            ))))
        }
        _ => Some(ident.extra(Some(format!(
            "SNMP{version} community public; sysDescr not given (error-status {status})"
        )))),
    }
}

/// Product and version from sysDescr when it names one ("Net-SNMP 5.9.3", "Cisco IOS Software,
/// ... Version 15.2(4)M"); Net-SNMP's default sysDescr is the uname line, which names the OS
/// rather than the agent, and stays in `extra`.
fn product_of(descr: &str) -> (Option<String>, Option<String>) {
    let words: Vec<&str> = descr.split_whitespace().collect();
    if let Some(i) = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("Net-SNMP"))
    {
        return (
            Some("Net-SNMP".to_string()),
            words
                .get(i + 1)
                .map(|v| v.trim_end_matches(',').to_string()),
        );
    }
    if descr.starts_with("Cisco IOS") {
        let version = words
            .iter()
            .position(|w| *w == "Version")
            .and_then(|i| words.get(i + 1))
            .map(|v| v.trim_end_matches(',').to_string());
        return (Some("Cisco IOS".to_string()), version);
    }
    (None, None)
}

/// v3: HeaderData with our msgID, USM security parameters with the engine id, and (in clear)
/// a scoped Report PDU (A8) or Response (A2).
fn v3(ours: &Sent, mut top: Ber<'_>) -> Option<Identity> {
    let mut header = Ber::new(top.expect(0x30)?);
    if Some(header.int()?) != ours.msg_id {
        return None;
    }
    let usm = top.expect(0x04)?;
    let mut usm = Ber::new(Ber::new(usm).expect(0x30)?);
    let engine = usm.expect(0x04)?;
    let boots = usm.int();
    let time = usm.int();
    let mut ident = Identity::new("snmp", 0.9);
    let mut notes = vec!["SNMPv3".to_string()];
    if !engine.is_empty() {
        ident.confidence = 0.95;
        let hex: String = engine.iter().take(32).map(|b| format!("{b:02x}")).collect();
        notes.push(format!("engine id {hex}"));
        if let Some(vendor) = vendor(engine) {
            ident = ident.product(Some(vendor.to_string()));
        }
    }
    if let (Some(b), Some(t)) = (boots, time) {
        notes.push(format!("boots {b}, engine time {t} s"));
    }
    Some(ident.extra(Some(notes.join(", "))))
}

/// The vendor an snmpEngineID names (RFC 3411's SnmpEngineID: the first four bytes are the
/// enterprise number with the top bit set when the new format is used).
fn vendor(engine: &[u8]) -> Option<&'static str> {
    let b = engine.get(..4)?;
    let enterprise = u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]);
    // Net-SNMP's own enterprise number, which its agent puts in every engine id it makes.
    (enterprise == 8072).then_some("Net-SNMP")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// A GetResponse built from RFC 3416's PDU shape with the request id of `q`.
    fn response(q: &[u8], version: u8, descr: &[u8]) -> Vec<u8> {
        let id = &q[17..21];
        let oid = hex("06 08 2b06010201010100");
        let mut value = vec![0x04, u8::try_from(descr.len()).expect("short")];
        value.extend_from_slice(descr);
        let vb_len = oid.len() + value.len();
        let mut pdu = vec![0x02, 0x04];
        pdu.extend_from_slice(id);
        pdu.extend_from_slice(&hex("020100 020100"));
        pdu.extend_from_slice(&[0x30, u8::try_from(vb_len + 2).expect("short"), 0x30]);
        pdu.push(u8::try_from(vb_len).expect("short"));
        pdu.extend_from_slice(&oid);
        pdu.extend_from_slice(&value);
        let mut msg = vec![0x02, 0x01, version, 0x04, 0x06];
        msg.extend_from_slice(b"public");
        msg.push(0xa2);
        msg.push(u8::try_from(pdu.len()).expect("short"));
        msg.extend_from_slice(&pdu);
        let mut out = vec![0x30, u8::try_from(msg.len()).expect("short")];
        out.extend_from_slice(&msg);
        out
    }

    #[test]
    fn sysdescr_answers() {
        let (_, q) = sent("snmp-v2c-sysdescr");
        let i = answer(
            "snmp-v2c-sysdescr",
            &q,
            &response(&q, 1, b"Linux target 6.1.0-18-amd64 #1 SMP x86_64"),
        );
        assert_eq!(i.service, "snmp");
        assert_eq!(i.product, None);
        assert_eq!(
            i.extra.as_deref(),
            Some("SNMPv2c community public; sysDescr: Linux target 6.1.0-18-amd64 #1 SMP x86_64")
        );
        let (_, q) = sent("snmp-v1-sysdescr");
        let i = answer(
            "snmp-v1-sysdescr",
            &q,
            &response(&q, 0, b"Net-SNMP 5.9.3 agent"),
        );
        assert_eq!(i.product.as_deref(), Some("Net-SNMP"));
        assert_eq!(i.version.as_deref(), Some("5.9.3"));
    }

    #[test]
    fn wrong_request_id_or_version_is_not_ours() {
        let (p, q) = sent("snmp-v2c-sysdescr");
        let mut r = response(&q, 1, b"x");
        let id_at = r.windows(2).position(|w| w == [0x02, 0x04]).expect("id") + 3;
        r[id_at] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        assert_eq!(
            super::super::identify(&p, &q, &response(&q, 0, b"x")),
            Reply::NotOurs,
            "a v1 answer to a v2c request"
        );
        assert_eq!(super::super::identify(&p, &q, &q), Reply::NotOurs);
    }

    /// A Report built from RFC 3412/3414: our msgID, a Net-SNMP style engine id.
    fn report(q: &[u8]) -> Vec<u8> {
        let msg_id = &q[9..13];
        let mut r = hex("02 01 03 30 11 02 04");
        r.extend_from_slice(msg_id);
        r.extend_from_slice(&hex(
            "02 03 00ffe3 04 01 00 02 01 03
             04 22 30 20 04 11 80001f88805e2bb47bfd15e26400000000 02 01 05 02 02 0e10 04 00 04 00 04 00
             30 0a 04 00 04 00 a8 04 02 02 0000",
        ));
        let mut out = vec![0x30, u8::try_from(r.len()).expect("short")];
        out.extend_from_slice(&r);
        out
    }

    #[test]
    fn v3_report_names_the_engine() {
        let (_, q) = sent("snmp-v3-discovery");
        let i = answer("snmp-v3-discovery", &q, &report(&q));
        assert_eq!(i.product.as_deref(), Some("Net-SNMP"));
        let extra = i.extra.unwrap_or_default();
        assert!(
            extra.contains("engine id 80001f88805e2bb47bfd15e26400000000")
                && extra.contains("boots 5, engine time 3600 s"),
            "{extra}"
        );
        let (p, _) = sent("snmp-v3-discovery");
        let mut other = q.clone();
        other[11] ^= 1;
        assert_eq!(
            super::super::identify(&p, &other, &report(&q)),
            Reply::NotOurs
        );
    }

    #[test]
    fn ber_edges() {
        assert_eq!(int(&[0xff]), Some(-1));
        assert_eq!(int(&[0x00, 0x80]), Some(128));
        assert_eq!(int(&[]), None);
        let mut b = Ber::new(&[0x04, 0x85, 0, 0, 0, 0, 0]);
        assert!(b.next().is_none(), "five length bytes");
        let mut b = Ber::new(&[0x04, 0x82, 0xff, 0xff, 0]);
        assert!(b.next().is_none(), "length past the end");
    }

    /// Captured from Debian 12's snmpd 5.9.3+dfsg-2+deb12u1 (`rocommunity public`, in a
    /// network namespace).
    #[test]
    fn captured_net_snmp() {
        let (_, q) = sent("snmp-v2c-sysdescr");
        let r = hex(
            "306302010104067075626c6963a256020412a1c8cf0201000201003048304606082b06010201010100043a4c696e757820766d20362e31382e34342d66632d763132353220233120534d5020505245454d50545f44594e414d4943204030207838365f3634",
        );
        let i = answer("snmp-v2c-sysdescr", &q, &r);
        assert_eq!(
            i.extra.as_deref(),
            Some(
                "SNMPv2c community public; sysDescr: Linux vm 6.18.44-fc-v1252 #1 SMP PREEMPT_DYNAMIC @0 x86_64"
            )
        );
        let (_, q) = sent("snmp-v3-discovery");
        let r = hex(
            "30710201033011020412a1c8cf020300ffe30401000201030421301f041180001f88802ab5a712b0ab136b000000000201010201240400040004003036041180001f88802ab5a712b0ab136b000000000400a81f020412b67d240201000201003011300f060a2b060106030f01010400410101",
        );
        let i = answer("snmp-v3-discovery", &q, &r);
        assert_eq!(i.product.as_deref(), Some("Net-SNMP"));
        assert_eq!(
            i.extra.as_deref(),
            Some("SNMPv3, engine id 80001f88802ab5a712b0ab136b00000000, boots 1, engine time 36 s")
        );
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("snmp-v1-sysdescr");
        never_panics("snmp-v1-sysdescr", &q, &response(&q, 0, b"Linux"));
        let (_, q) = sent("snmp-v3-discovery");
        never_panics("snmp-v3-discovery", &q, &report(&q));
    }
}
