//! DNS (RFC 1035) and multicast DNS (RFC 6762) replies.
//!
//! Two DNS questions go to port 53: an ordinary `. IN NS` (every server answers it with its
//! id, even if only to refuse) and the CHAOS-class `version.bind TXT`, which BIND, dnsmasq,
//! Unbound, Knot, NSD and PowerDNS answer with their product and version unless told not
//! to. Port 5353 gets an mDNS service enumeration (`_services._dns-sd._udp.local PTR`, RFC
//! 6763 section 9) from a port other than 5353, which RFC 6762 section 6.7 answers by
//! unicast as a conventional DNS reply that repeats our id.

use super::{Identity, Reply, be16, text};

/// Most labels in one name, and most compression pointers followed, before giving up.
const MAX_LABELS: usize = 128;
const MAX_JUMPS: usize = 32;
/// Most resource records read from one reply.
const MAX_RECORDS: usize = 64;

/// The fixed header, checked against the query: the same id, QR set, the same opcode.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header {
    pub flags: u16,
    pub qd: u16,
    pub an: u16,
}

impl Header {
    pub fn rcode(self) -> u16 {
        self.flags & 0x000f
    }
}

/// The reply's header if it answers `sent`: `None` for a wrong id, a query, or a short reply.
pub(super) fn header(sent: &[u8], reply: &[u8]) -> Option<Header> {
    if sent.get(..2)? != reply.get(..2)? {
        return None;
    }
    response_header(sent, reply)
}

/// As [`header`] without the id check (for responders that do not echo it).
fn response_header(sent: &[u8], reply: &[u8]) -> Option<Header> {
    let flags = be16(reply, 2)?;
    let sent_flags = be16(sent, 2)?;
    if flags & 0x8000 == 0 || (flags >> 11) & 0xf != (sent_flags >> 11) & 0xf {
        return None;
    }
    Some(Header {
        flags,
        qd: be16(reply, 4)?,
        an: be16(reply, 6)?,
    })
}

/// Reads a (possibly compressed) name at `pos`: the labels, and the offset after the name.
pub(super) fn name(msg: &[u8], mut pos: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Some((labels, end.unwrap_or(pos + 1)));
                }
                let l = usize::from(len);
                labels.push(msg.get(pos + 1..pos + 1 + l)?.to_vec());
                if labels.len() > MAX_LABELS {
                    return None;
                }
                pos += 1 + l;
            }
            0xc0 => {
                let target = usize::from(be16(msg, pos)? & 0x3fff);
                end.get_or_insert(pos + 2);
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return None;
                }
                pos = target;
            }
            _ => return None,
        }
    }
}

/// `labels` joined with dots, escaped.
pub(super) fn dotted(labels: &[Vec<u8>]) -> String {
    let joined: Vec<u8> = labels.join(&b"."[..]);
    crate::escape::escape_bytes(&joined, super::FIELD_CHARS)
}

/// One resource record.
#[derive(Debug)]
pub(super) struct Record<'a> {
    pub rtype: u16,
    pub class: u16,
    pub rdata: &'a [u8],
    /// Where the rdata starts in the message (for names compressed inside it).
    pub rdata_at: usize,
}

/// Skips `qd` questions from offset 12, then reads up to `an` answer records.
pub(super) fn answers(msg: &[u8], h: Header) -> Option<Vec<Record<'_>>> {
    let mut pos = 12;
    for _ in 0..h.qd.min(16) {
        let (_, next) = name(msg, pos)?;
        pos = next.checked_add(4)?;
    }
    let mut out = Vec::new();
    for _ in 0..usize::from(h.an).min(MAX_RECORDS) {
        let (_, next) = name(msg, pos)?;
        let rtype = be16(msg, next)?;
        let class = be16(msg, next + 2)?;
        let rdlen = usize::from(be16(msg, next + 8)?);
        let rdata_at = next + 10;
        let rdata = msg.get(rdata_at..rdata_at.checked_add(rdlen)?)?;
        out.push(Record {
            rtype,
            class,
            rdata,
            rdata_at,
        });
        pos = rdata_at + rdlen;
    }
    Some(out)
}

/// The character-strings of TXT rdata, concatenated with spaces.
fn txt(rdata: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(&len) = rdata.get(pos) {
        let Some(s) = rdata.get(pos + 1..pos + 1 + usize::from(len)) else {
            break;
        };
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(s);
        pos += 1 + usize::from(len);
    }
    out
}

/// The question we sent: (qtype, qclass), read from our own datagram.
fn question(sent: &[u8]) -> Option<(u16, u16)> {
    let (_, next) = name(sent, 12)?;
    Some((be16(sent, next)?, be16(sent, next + 2)? & 0x7fff))
}

const RCODES: [&str; 6] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
];

fn rcode_name(r: u16) -> String {
    RCODES
        .get(usize::from(r))
        .map_or_else(|| format!("rcode {r}"), |s| (*s).to_string())
}

/// What a `version.bind` string says, for the servers whose format we know.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct DnsVersion {
    pub(crate) product: Option<String>,
    pub(crate) version: Option<String>,
    /// The distribution a BIND package names ("Debian" in "9.18.28-1~deb12u2-Debian").
    pub(crate) distro: Option<&'static str>,
}

/// Product and version from a `version.bind` string (over UDP and over TCP alike).
pub(crate) fn product(version: &str) -> DnsVersion {
    let v = version.trim();
    let word_after = |prefix: &str| {
        v.get(prefix.len()..)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    };
    let named = |name: &str, version: Option<String>| DnsVersion {
        product: Some(name.to_string()),
        version,
        distro: None,
    };
    let known: &[(&str, &str)] = &[
        ("unbound ", "Unbound"),
        ("PowerDNS Recursor ", "PowerDNS Recursor"),
        (
            "PowerDNS Authoritative Server ",
            "PowerDNS Authoritative Server",
        ),
        ("Knot DNS ", "Knot DNS"),
        ("Knot Resolver ", "Knot Resolver"),
        ("NSD ", "NSD"),
        ("Microsoft DNS ", "Microsoft DNS"),
    ];
    for (prefix, name) in known {
        if v.len() > prefix.len()
            && v.get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        {
            return named(name, word_after(prefix));
        }
    }
    for (prefix, name) in [("dnsmasq-", "dnsmasq"), ("CoreDNS-", "CoreDNS")] {
        if let Some(rest) = v.strip_prefix(prefix) {
            return named(name, rest.split_whitespace().next().map(str::to_string));
        }
    }
    // BIND 9 answers with its bare version, often a distribution's package version:
    // "9.18.28-1~deb12u2-Debian". The package version stays in `version` as nmap -sV writes
    // it (vulnerability matchers read the revision there); the distribution is told apart.
    if v.starts_with("9.")
        && v.get(2..3)
            .is_some_and(|c| c.chars().all(|c| c.is_ascii_digit()))
    {
        let mut ver = v.split_whitespace().next().unwrap_or(v).to_string();
        let mut distro = None;
        for d in ["Debian", "Ubuntu", "Raspbian", "RedHat"] {
            if let Some(base) = ver.strip_suffix(d).and_then(|b| b.strip_suffix('-')) {
                ver = base.to_string();
                distro = Some(d);
                break;
            }
        }
        return DnsVersion {
            product: Some("ISC BIND".to_string()),
            version: Some(ver),
            distro,
        };
    }
    DnsVersion::default()
}

/// A reply to one of our unicast DNS queries.
pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let Some(h) = header(sent, reply) else {
        return Reply::NotOurs;
    };
    let Some((qtype, qclass)) = question(sent) else {
        return Reply::NotOurs;
    };
    let rcode = h.rcode();
    let mut ident = Identity::new("domain", 0.85);
    let records = answers(reply, h);
    let mut notes = vec![rcode_name(rcode)];
    if h.flags & 0x0080 != 0 {
        notes.push("recursion available".to_string());
    }
    if qtype == 16 && qclass == 3 {
        let version = records
            .iter()
            .flatten()
            .find(|r| r.rtype == 16 && r.class == 3)
            .map(|r| txt(r.rdata));
        match version.as_deref().and_then(text) {
            Some(v) => {
                let dv = product(&v);
                ident.confidence = if dv.product.is_some() { 0.95 } else { 0.9 };
                ident = ident.product(dv.product).version(dv.version);
                notes.insert(0, format!("version.bind: {v}"));
                if let Some(d) = dv.distro {
                    notes.insert(0, d.to_string());
                }
            }
            None => notes.insert(0, "version.bind not answered".to_string()),
        }
    } else if let Some(r) = &records {
        notes.push(format!("{} answers", r.len()));
    } else {
        // The header matched but the records do not parse: still DNS, less sure.
        ident.confidence = 0.6;
        notes.push("malformed records".to_string());
    }
    Reply::Answer(ident.extra(Some(notes.join("; "))))
}

/// A reply to our mDNS service enumeration (legacy unicast: the id is repeated).
pub(super) fn identify_mdns(sent: &[u8], reply: &[u8]) -> Reply {
    let (h, echoed) = match header(sent, reply) {
        Some(h) => (h, true),
        // Some responders answer with id 0 (RFC 6762 section 18.1 has multicast replies use
        // zero): still mDNS, only if it carries answers.
        None if reply.get(..2) == Some(&[0, 0][..]) => match response_header(sent, reply) {
            Some(h) if h.an > 0 => (h, false),
            _ => return Reply::NotOurs,
        },
        None => return Reply::NotOurs,
    };
    let mut ident = Identity::new("mdns", if echoed { 0.9 } else { 0.6 });
    let mut services = Vec::new();
    for r in answers(reply, h).iter().flatten() {
        if r.rtype == 12
            && let Some((labels, _)) = name(reply, r.rdata_at)
        {
            // "_ssh._tcp.local" -> "_ssh._tcp"
            let shown: Vec<Vec<u8>> = labels
                .iter()
                .filter(|l| !l.eq_ignore_ascii_case(b"local"))
                .cloned()
                .collect();
            services.push(dotted(&shown));
        }
        if services.len() >= 32 {
            break;
        }
    }
    let mut notes = Vec::new();
    if !services.is_empty() {
        notes.push(format!("services: {}", services.join(", ")));
    }
    if !echoed {
        notes.push("the responder did not repeat the query id".to_string());
    }
    ident = ident.extra((!notes.is_empty()).then(|| notes.join("; ")));
    Reply::Answer(ident)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;

    /// A reply built from RFC 1035 section 4.1: our question, one CH TXT answer.
    fn version_reply(query: &[u8], version: &[u8]) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2] = 0x84; // QR, AA
        r[3] = 0x00;
        r[7] = 1; // ANCOUNT
        r.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x10, 0x00, 0x03, 0, 0, 0, 0]);
        let rdlen = u16::try_from(version.len() + 1).expect("short");
        r.extend_from_slice(&rdlen.to_be_bytes());
        r.push(u8::try_from(version.len()).expect("short"));
        r.extend_from_slice(version);
        r
    }

    #[test]
    fn version_bind_products() {
        let (_, q) = sent("dns-version-bind");
        for (v, p, ver) in [
            ("dnsmasq-2.90", "dnsmasq", "2.90"),
            ("9.18.28-1~deb12u2-Debian", "ISC BIND", "9.18.28-1~deb12u2"),
            ("unbound 1.17.1", "Unbound", "1.17.1"),
            ("PowerDNS Recursor 4.8.4", "PowerDNS Recursor", "4.8.4"),
        ] {
            let i = answer("dns-version-bind", &q, &version_reply(&q, v.as_bytes()));
            assert_eq!(i.service, "domain");
            assert_eq!(i.product.as_deref(), Some(p), "{v}");
            assert_eq!(i.version.as_deref(), Some(ver), "{v}");
        }
        let i = answer(
            "dns-version-bind",
            &q,
            &version_reply(&q, b"none of your business"),
        );
        assert_eq!(i.product, None);
        assert!(
            i.extra
                .unwrap_or_default()
                .contains("none of your business")
        );
    }

    #[test]
    fn refused_is_still_dns() {
        let (_, q) = sent("dns-version-bind");
        let mut r = q.clone();
        r[2] = 0x80;
        r[3] = 0x05;
        let i = answer("dns-version-bind", &q, &r);
        assert_eq!(i.service, "domain");
        assert!(i.extra.unwrap_or_default().contains("REFUSED"));
    }

    #[test]
    fn wrong_id_or_a_query_is_not_ours() {
        let (p, q) = sent("dns-version-bind");
        let mut r = version_reply(&q, b"dnsmasq-2.90");
        r[0] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        // Our own query reflected (QR clear) is not an answer.
        assert_eq!(super::super::identify(&p, &q, &q), Reply::NotOurs);
    }

    #[test]
    fn root_ns_query_answers() {
        let (_, q) = sent("dns-root-ns");
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        let i = answer("dns-root-ns", &q, &r);
        assert_eq!(i.service, "domain");
        assert!(i.extra.unwrap_or_default().contains("recursion available"));
    }

    #[test]
    fn compression_loops_end() {
        // A name that points at itself.
        let msg = hex("0000 8000 0001 0000 0000 0000 c00c");
        assert!(name(&msg, 12).is_none());
    }

    #[test]
    fn mdns_service_list() {
        let (_, q) = sent("mdns-services");
        // Our question, then one PTR answer "_ssh._tcp.local" (RFC 6763 section 9).
        let mut r = q.clone();
        r[2] = 0x84;
        r[7] = 1;
        r.extend_from_slice(&hex(
            "c00c 000c 0001 0000 0078 000c 045f737368 045f746370 c023",
        ));
        let i = answer("mdns-services", &q, &r);
        assert_eq!(i.service, "mdns");
        assert_eq!(i.extra.as_deref(), Some("services: _ssh._tcp"));
    }

    /// Captured from Debian 12's dnsmasq 2.90-4~deb12u2 (in a network namespace) answering
    /// our payloads as built by the test rng.
    #[test]
    fn captured_dnsmasq() {
        let (_, q) = sent("dns-version-bind");
        let r = hex(
            "a1c8848000010001000000000776657273696f6e0462696e640000100003c00c0010000300000000000d0c646e736d6173712d322e3930",
        );
        let i = answer("dns-version-bind", &q, &r);
        assert_eq!(
            (i.product.as_deref(), i.version.as_deref()),
            (Some("dnsmasq"), Some("2.90"))
        );
        assert_eq!(
            i.extra.as_deref(),
            Some("version.bind: dnsmasq-2.90; NOERROR; recursion available")
        );
        let (_, q) = sent("dns-root-ns");
        let i = answer(
            "dns-root-ns",
            &q,
            &hex("a1c8808500010000000000000000020001"),
        );
        assert_eq!(
            i.extra.as_deref(),
            Some("REFUSED; recursion available; 0 answers")
        );
    }

    /// Captured from Debian 12's avahi-daemon 0.8 (`publish-workstation=yes`, in a network
    /// namespace) answering from 5353 by legacy unicast, with our id.
    #[test]
    fn captured_avahi() {
        let (_, q) = sent("mdns-services");
        let r = hex(
            "a1c884000001000100000000095f7365727669636573075f646e732d7364045f756470056c6f63616c00000c8001c00c000c00010000000a00140c5f776f726b73746174696f6e045f746370c023",
        );
        let i = answer("mdns-services", &q, &r);
        assert_eq!((i.service.as_str(), i.confidence), ("mdns", 0.9));
        assert_eq!(i.extra.as_deref(), Some("services: _workstation._tcp"));
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("dns-version-bind");
        never_panics("dns-version-bind", &q, &version_reply(&q, b"dnsmasq-2.90"));
        let (_, q) = sent("mdns-services");
        never_panics("mdns-services", &q, &q);
    }
}
