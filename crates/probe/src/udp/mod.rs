//! UDP service identification: the payload catalogue and the reply parsers.
//!
//! A UDP port says nothing until it is sent something it understands, and an empty datagram
//! is understood by almost nothing. So each well-known UDP service gets a payload built from
//! its specification (the catalogue, `data/udp/*.toml`, embedded here at build time and
//! documented in `data/udp/README.md`), every payload of a port is sent at once, and each
//! reply goes to the parser of the payload's protocol, which checks that it answers *our*
//! datagram (echoed transaction ids) before it says what the service is.
//!
//! The scan engine (crates/scan) sends and receives; this module only builds datagrams
//! ([`Payload::build`]) and reads replies ([`identify`], [`detection`]), so it does no I/O
//! and every parser is a total function of two byte slices.

use std::net::SocketAddr;
use std::sync::OnceLock;

use portent_registry::{Protocol, Registry};
use serde::Deserialize;

use crate::escape::escape_bytes;
use crate::{Detection, RpcInfo};

mod a2s;
mod asn1;
mod basic;
mod cldap;
mod coap;
pub(crate) mod dns;
mod dtls;
mod generic;
mod ike;
mod kerberos;
mod memcached;
mod netbios;
mod ntp;
mod openvpn;
mod quic;
mod rpc;
mod sip;
mod snmp;
mod software;
mod ssdp;
mod stun;
mod tftp;

/// The catalogue files, embedded. One per protocol family; add a line to add a file.
const FILES: &[(&str, &str)] = &[
    ("a2s.toml", include_str!("../../data/udp/a2s.toml")),
    ("basic.toml", include_str!("../../data/udp/basic.toml")),
    ("cldap.toml", include_str!("../../data/udp/cldap.toml")),
    ("coap.toml", include_str!("../../data/udp/coap.toml")),
    ("dns.toml", include_str!("../../data/udp/dns.toml")),
    ("dtls.toml", include_str!("../../data/udp/dtls.toml")),
    ("generic.toml", include_str!("../../data/udp/generic.toml")),
    ("ike.toml", include_str!("../../data/udp/ike.toml")),
    (
        "kerberos.toml",
        include_str!("../../data/udp/kerberos.toml"),
    ),
    (
        "memcached.toml",
        include_str!("../../data/udp/memcached.toml"),
    ),
    ("netbios.toml", include_str!("../../data/udp/netbios.toml")),
    ("ntp.toml", include_str!("../../data/udp/ntp.toml")),
    ("openvpn.toml", include_str!("../../data/udp/openvpn.toml")),
    ("quic.toml", include_str!("../../data/udp/quic.toml")),
    ("rpc.toml", include_str!("../../data/udp/rpc.toml")),
    ("sip.toml", include_str!("../../data/udp/sip.toml")),
    ("snmp.toml", include_str!("../../data/udp/snmp.toml")),
    ("ssdp.toml", include_str!("../../data/udp/ssdp.toml")),
    ("stun.toml", include_str!("../../data/udp/stun.toml")),
    ("tftp.toml", include_str!("../../data/udp/tftp.toml")),
];

/// A reply parser: the exact datagram sent, and the reply.
type Parser = fn(&[u8], &[u8]) -> Reply;

/// Every protocol name a payload may give, with its parser. Add a line to add a protocol.
const PARSERS: &[(&str, Parser)] = &[
    ("a2s", a2s::identify),
    ("chargen", basic::identify_chargen),
    ("cldap", cldap::identify),
    ("coap", coap::identify),
    ("daytime", basic::identify_daytime),
    ("dns", dns::identify),
    ("dtls", dtls::identify),
    ("echo", basic::identify_echo),
    ("generic", generic::identify),
    ("ike", ike::identify),
    ("kerberos", kerberos::identify),
    ("mdns", dns::identify_mdns),
    ("memcached", memcached::identify),
    ("netbios-ns", netbios::identify),
    ("ntp", ntp::identify),
    ("openvpn", openvpn::identify),
    ("qotd", basic::identify_qotd),
    ("quic", quic::identify),
    ("rpc", rpc::identify),
    ("sip", sip::identify),
    ("snmp", snmp::identify),
    ("ssdp", ssdp::identify),
    ("stun", stun::identify),
    ("tftp", tftp::identify),
];

/// The longest datagram a payload may be (well under any path MTU).
pub const MAX_PAYLOAD: usize = 1200;

/// Longest peer string kept in product, version or extra, in characters after escaping.
pub(crate) const FIELD_CHARS: usize = 200;

/// Longest evidence string built by [`detection`], in characters after escaping.
pub const EVIDENCE_CHARS: usize = 256;

/// One payload of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Unique kebab-case name (`dns-version-bind`).
    pub name: String,
    /// Which parser reads replies to it (a name in the parser table).
    pub protocol: String,
    /// Ports it is sent to.
    pub ports: Vec<u16>,
    /// Sent to ports that have no payload of their own.
    pub generic: bool,
    /// The server answers from another source port (TFTP's transfer id).
    pub any_port: bool,
    /// The datagram, with zeros where `ids` are randomised.
    pub bytes: Vec<u8>,
    /// `(offset, len)` ranges randomised per probe; the parser checks the echo.
    pub ids: Vec<(usize, usize)>,
    /// Like `ids`, but filled with lowercase hex digits: ids inside text protocols (SIP's
    /// Call-ID and branch), where a random byte would make the request malformed.
    pub text_ids: Vec<(usize, usize)>,
    /// Where the format comes from (https URLs).
    pub sources: Vec<String>,
    /// Why this payload, in a sentence.
    pub note: String,
}

impl Payload {
    /// The datagram to send, with every id range filled from `rng`.
    pub fn build(&self, rng: &mut impl FnMut() -> u8) -> Vec<u8> {
        let mut out = self.bytes.clone();
        for &(offset, len) in &self.ids {
            if let Some(range) = out.get_mut(offset..offset.saturating_add(len)) {
                for b in range {
                    *b = rng();
                }
            }
        }
        for &(offset, len) in &self.text_ids {
            if let Some(range) = out.get_mut(offset..offset.saturating_add(len)) {
                for b in range {
                    *b = b"0123456789abcdef"[usize::from(rng() & 0x0f)];
                }
            }
        }
        out
    }
}

/// All payloads.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    payloads: Vec<Payload>,
}

/// Why a catalogue file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("{origin}: {err}")]
    Parse {
        origin: String,
        err: toml::de::Error,
    },
    #[error("{origin}: payload {name:?}: {reason}")]
    Invalid {
        origin: String,
        name: String,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    payload: Vec<RawPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayload {
    name: String,
    protocol: String,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    generic: bool,
    #[serde(default)]
    any_port: bool,
    hex: String,
    #[serde(default)]
    ids: Vec<RawId>,
    #[serde(default)]
    text_ids: Vec<RawId>,
    sources: Vec<String>,
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawId {
    offset: usize,
    len: usize,
}

/// Decodes hex, ignoring white space. `None` on an odd digit count or a non-hex character.
pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| {
            char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        })
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

fn parser(protocol: &str) -> Option<Parser> {
    PARSERS
        .iter()
        .find(|(name, _)| *name == protocol)
        .map(|&(_, p)| p)
}

impl Catalogue {
    /// The catalogue shipped in `data/udp/` (validated by this module's tests).
    pub fn embedded() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            let mut all = Catalogue::default();
            for (origin, text) in FILES {
                let file = Catalogue::parse(text, origin)
                    .expect("the embedded UDP catalogue is checked by the unit tests");
                all.extend(file);
            }
            all
        })
    }

    /// Parses one catalogue file; `origin` names it in errors. Every payload is checked:
    /// hex, length, id ranges, a known protocol, https sources, ports or `generic`.
    pub fn parse(text: &str, origin: &str) -> Result<Catalogue, CatalogueError> {
        let file: RawFile = toml::from_str(text).map_err(|err| CatalogueError::Parse {
            origin: origin.to_string(),
            err,
        })?;
        let mut payloads = Vec::with_capacity(file.payload.len());
        for raw in file.payload {
            let invalid = |reason: &str| CatalogueError::Invalid {
                origin: origin.to_string(),
                name: raw.name.clone(),
                reason: reason.to_string(),
            };
            let kebab = !raw.name.is_empty()
                && raw
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !kebab {
                return Err(invalid("the name must be kebab-case"));
            }
            if parser(&raw.protocol).is_none() {
                return Err(invalid(&format!(
                    "no parser for protocol {:?}",
                    raw.protocol
                )));
            }
            let bytes = decode_hex(&raw.hex).ok_or_else(|| invalid("hex does not parse"))?;
            if bytes.is_empty() || bytes.len() > MAX_PAYLOAD {
                return Err(invalid(&format!(
                    "the datagram must be 1..={MAX_PAYLOAD} bytes"
                )));
            }
            let ids: Vec<(usize, usize)> = raw.ids.iter().map(|i| (i.offset, i.len)).collect();
            let text_ids: Vec<(usize, usize)> =
                raw.text_ids.iter().map(|i| (i.offset, i.len)).collect();
            if ids
                .iter()
                .chain(&text_ids)
                .any(|&(o, l)| l == 0 || o.checked_add(l).is_none_or(|end| end > bytes.len()))
            {
                return Err(invalid("an id range lies outside the datagram"));
            }
            if raw.sources.is_empty() || raw.sources.iter().any(|s| !s.starts_with("https://")) {
                return Err(invalid("sources must be https URLs, at least one"));
            }
            if raw.ports.is_empty() != raw.generic {
                return Err(invalid(
                    "a payload has ports, or is generic with `ports = []`, not both",
                ));
            }
            if raw.note.trim().is_empty() {
                return Err(invalid("the note must say why"));
            }
            payloads.push(Payload {
                name: raw.name,
                protocol: raw.protocol,
                ports: raw.ports,
                generic: raw.generic,
                any_port: raw.any_port,
                bytes,
                ids,
                text_ids,
                sources: raw.sources,
                note: raw.note,
            });
        }
        Ok(Catalogue { payloads })
    }

    /// Adds another catalogue's payloads after these.
    pub fn extend(&mut self, other: Catalogue) {
        self.payloads.extend(other.payloads);
    }

    /// Every payload, in file order.
    pub fn payloads(&self) -> &[Payload] {
        &self.payloads
    }

    /// The payload called `name`.
    pub fn get(&self, name: &str) -> Option<&Payload> {
        self.payloads.iter().find(|p| p.name == name)
    }

    /// The payloads for `port` (all of them are meant to be sent at once), or the generic
    /// ones when the port has none of its own.
    pub fn for_port(&self, port: u16) -> Vec<&Payload> {
        self.indices_for_port(port)
            .into_iter()
            .filter_map(|i| self.payloads.get(i))
            .collect()
    }

    /// Whether a payload for `port` expects its answer from another source port.
    pub fn any_source_port(&self, port: u16) -> bool {
        self.for_port(port).iter().any(|p| p.any_port)
    }

    /// [`Catalogue::for_port`] as indices into [`Catalogue::payloads`] (the scan engine hands
    /// the index back with each reply).
    pub fn indices_for_port(&self, port: u16) -> Vec<usize> {
        let pick = |f: &dyn Fn(&Payload) -> bool| -> Vec<usize> {
            self.payloads
                .iter()
                .enumerate()
                .filter(|(_, p)| f(p))
                .map(|(i, _)| i)
                .collect()
        };
        let own = pick(&|p| p.ports.contains(&port));
        if own.is_empty() {
            pick(&|p| p.generic)
        } else {
            own
        }
    }

    /// Every port with a payload of its own, ascending: the default UDP port set.
    pub fn ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .payloads
            .iter()
            .flat_map(|p| p.ports.iter().copied())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

/// What a reply says about the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Lowercase IANA-style service name (`domain`, `ntp`, `snmp`), `rpc` for an RPC program
    /// we cannot name, `unknown` when a reply came but says nothing we recognise.
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    /// Any other detail (stratum, engine id, names), escaped.
    pub extra: Option<String>,
    /// 0..1.
    pub confidence: f32,
    pub rpc: Option<RpcInfo>,
}

impl Identity {
    /// The service alone, at `confidence`.
    pub fn new(service: &str, confidence: f32) -> Identity {
        Identity {
            service: service.to_string(),
            product: None,
            version: None,
            extra: None,
            confidence,
            rpc: None,
        }
    }
    pub(crate) fn product(mut self, p: Option<String>) -> Identity {
        self.product = p;
        self
    }
    pub(crate) fn version(mut self, v: Option<String>) -> Identity {
        self.version = v;
        self
    }
    pub(crate) fn extra(mut self, e: Option<String>) -> Identity {
        self.extra = e;
        self
    }
}

/// The verdict of one parser on one reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Not an answer to our datagram (wrong id, another protocol): ignore it.
    NotOurs,
    Answer(Identity),
}

/// Reads `reply` as an answer to `sent` (the exact datagram [`Payload::build`] made) with the
/// parser of the payload's protocol. Total: any bytes give `NotOurs` or an answer.
pub fn identify(payload: &Payload, sent: &[u8], reply: &[u8]) -> Reply {
    match parser(&payload.protocol) {
        Some(p) => p(sent, reply),
        None => Reply::NotOurs,
    }
}

/// Whether `reply` answers `sent` (for the scan engine's `accepts`).
pub fn accepts(payload: &Payload, sent: &[u8], reply: &[u8]) -> bool {
    matches!(identify(payload, sent, reply), Reply::Answer(_))
}

/// The detection result for a UDP reply, as TCP detection builds it: the identity, the reply
/// as escaped evidence, and the verdict against the registry's UDP assignment.
pub fn detection(
    addr: SocketAddr,
    port: u16,
    payload: &Payload,
    reply: &[u8],
    ident: Identity,
    registry: &Registry,
    elapsed_ms: u64,
) -> Detection {
    let entry = registry.lookup(port, Protocol::Udp);
    let expected: Vec<String> = entry
        .service_names()
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect();
    let found = crate::engine::Found {
        service: ident.service.clone(),
        product: ident.product.clone(),
        version: ident.version.clone(),
        extra: ident.extra.clone(),
        confidence: ident.confidence,
        evidence: reply.to_vec(),
        rpc: ident.rpc.clone(),
        ..crate::engine::Found::default()
    };
    let verdict = crate::engine::verdict_on(
        Protocol::Udp,
        port,
        entry.status,
        registry.status(port, Protocol::Tcp),
        &expected,
        false,
        &found,
        false,
    );
    let cpe = ident
        .product
        .as_deref()
        .and_then(|p| crate::binary::product_cpe(p, ident.version.as_deref()));
    Detection {
        addr,
        service: ident.service,
        product: ident.product,
        version: ident.version,
        extra: ident.extra,
        tls: None,
        http: None,
        cpe,
        rpc: ident.rpc,
        confidence: ident.confidence,
        evidence: crate::escape::evidence_text(reply, EVIDENCE_CHARS),
        verdict,
        bytes_read: reply.len(),
        elapsed_ms,
        probes: vec![format!("udp:{}", payload.name)],
        error: None,
    }
}

/// Peer text, escaped and capped; `None` when empty.
pub(crate) fn text(bytes: &[u8]) -> Option<String> {
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0)
        .map_or(&[][..], |start| {
            let end = bytes
                .iter()
                .rposition(|b| !b.is_ascii_whitespace() && *b != 0)
                .map_or(start, |e| e + 1);
            bytes.get(start..end).unwrap_or_default()
        });
    (!trimmed.is_empty()).then(|| escape_bytes(trimmed, FIELD_CHARS))
}

/// Big-endian u16 at `at`.
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Big-endian u32 at `at`.
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Whether `reply` carries the same bytes as `sent` at `range` (an echoed id).
pub(crate) fn echoes(sent: &[u8], reply: &[u8], start: usize, len: usize) -> bool {
    let end = start.saturating_add(len);
    matches!((sent.get(start..end), reply.get(start..end)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixed "random" source for building test datagrams.
    pub(crate) fn rng() -> impl FnMut() -> u8 {
        let mut x = 0x5au8;
        move || {
            x = x.wrapping_mul(33).wrapping_add(7);
            x
        }
    }

    /// `payload` built with the test rng.
    pub(crate) fn sent(name: &str) -> (Payload, Vec<u8>) {
        let p = Catalogue::embedded()
            .get(name)
            .unwrap_or_else(|| panic!("no payload {name}"))
            .clone();
        let bytes = p.build(&mut rng());
        (p, bytes)
    }

    /// The identity, or a panic saying why not.
    pub(crate) fn answer(name: &str, sent: &[u8], reply: &[u8]) -> Identity {
        let p = Catalogue::embedded().get(name).expect("payload").clone();
        match identify(&p, sent, reply) {
            Reply::Answer(i) => i,
            Reply::NotOurs => panic!("{name}: reply not accepted"),
        }
    }

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        decode_hex(s).expect("test hex")
    }

    /// Every prefix and a few corruptions of `reply` give an answer or NotOurs, never a panic.
    pub(crate) fn never_panics(name: &str, sent: &[u8], reply: &[u8]) {
        let p = Catalogue::embedded().get(name).expect("payload").clone();
        for n in 0..=reply.len() {
            let _ = identify(&p, sent, &reply[..n]);
        }
        for i in 0..reply.len() {
            for v in [0u8, 0xff, 0x7f, 0x80] {
                let mut r = reply.to_vec();
                r[i] = v;
                let _ = identify(&p, sent, &r);
            }
        }
        let _ = identify(&p, sent, &[0xff; 600]);
    }

    #[test]
    fn embedded_catalogue_is_valid() {
        let c = Catalogue::embedded();
        assert!(c.payloads().len() >= 20, "{}", c.payloads().len());
        let mut names: Vec<&str> = c.payloads().iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "payload names are unique");
        for p in c.payloads() {
            assert!(parser(&p.protocol).is_some(), "{}", p.name);
            for &(o, l) in p.ids.iter().chain(&p.text_ids) {
                assert!(o + l <= p.bytes.len(), "{}", p.name);
            }
            assert!(p.sources.iter().all(|s| s.starts_with("https://")));
        }
        assert!(c.payloads().iter().any(|p| p.generic));
    }

    #[test]
    fn every_parser_has_a_payload() {
        let c = Catalogue::embedded();
        for (name, _) in PARSERS {
            assert!(
                c.payloads().iter().any(|p| p.protocol == *name),
                "parser {name} has no payload"
            );
        }
    }

    #[test]
    fn ports_and_generic_fallback() {
        let c = Catalogue::embedded();
        let ports = c.ports();
        for p in [7, 13, 17, 19, 53, 69, 111, 123, 137, 161, 5353, 11211] {
            assert!(ports.contains(&p), "{p}");
        }
        let dns: Vec<&str> = c.for_port(53).iter().map(|p| p.name.as_str()).collect();
        assert!(dns.contains(&"dns-version-bind"), "{dns:?}");
        let other = c.for_port(40000);
        assert!(!other.is_empty());
        assert!(other.iter().all(|p| p.generic));
    }

    #[test]
    fn text_ids_are_hex_digits() {
        let (p, sent) = sent("sip-options");
        assert_eq!(sent.len(), p.bytes.len());
        assert!(!p.text_ids.is_empty());
        for &(o, l) in &p.text_ids {
            assert!(
                sent[o..o + l].iter().all(u8::is_ascii_hexdigit),
                "{:?}",
                &sent[o..o + l]
            );
            assert_ne!(sent[o..o + l], p.bytes[o..o + l]);
        }
        let outside: Vec<u8> = sent
            .iter()
            .enumerate()
            .filter(|(i, _)| !p.text_ids.iter().any(|&(o, l)| (o..o + l).contains(i)))
            .map(|(_, b)| *b)
            .collect();
        assert!(outside.iter().all(|b| b.is_ascii()));
    }

    #[test]
    fn build_fills_ids_only() {
        let (p, sent) = sent("dns-version-bind");
        assert_eq!(sent.len(), p.bytes.len());
        assert_ne!(sent[..2], p.bytes[..2]);
        assert_eq!(sent[2..], p.bytes[2..]);
    }

    #[test]
    fn rejects_bad_files() {
        let ok = r#"[[payload]]
name = "x"
protocol = "dns"
ports = [53]
hex = "00 01"
sources = ["https://www.rfc-editor.org/rfc/rfc1035"]
note = "n"
"#;
        assert!(Catalogue::parse(ok, "t").is_ok());
        for (from, to) in [
            ("\"00 01\"", "\"0g\""),
            ("\"00 01\"", "\"001\""),
            ("protocol = \"dns\"", "protocol = \"nope\""),
            ("https://www", "http://www"),
            ("ports = [53]", "ports = []"),
            ("name = \"x\"", "name = \"X y\""),
            (
                "note = \"n\"",
                "note = \"n\"\nids = [{ offset = 1, len = 2 }]",
            ),
            ("note = \"n\"", "note = \"n\"\nbogus = 1"),
        ] {
            let bad = ok.replace(from, to);
            assert!(Catalogue::parse(&bad, "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn detection_uses_the_udp_registry() {
        let (p, sent) = sent("dns-version-bind");
        let mut reply = sent.clone();
        reply[2] |= 0x80;
        let ident = Identity::new("domain", 0.8).product(Some("dnsmasq".into()));
        let d = detection(
            "127.0.0.1:53".parse().expect("addr"),
            53,
            &p,
            &reply,
            ident,
            &Registry::embedded(),
            3,
        );
        assert_eq!(
            d.verdict.matches,
            crate::Matches::True,
            "{}",
            d.verdict.sentence
        );
        assert!(
            d.verdict
                .sentence
                .starts_with("53/udp is assigned to domain"),
            "{}",
            d.verdict.sentence
        );
        assert_eq!(d.probes, vec!["udp:dns-version-bind".to_string()]);
        assert!(!d.evidence.is_empty());
    }
}

#[cfg(test)]
mod fuzz_seeds {
    use super::*;

    /// The fuzz target's seeds (fuzz/make_seeds.py) must reach past the id checks: each is
    /// an answer to the payload its first byte picks, built with zero ids.
    #[test]
    fn seeds_are_answers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/udp");
        let mut payloads: Vec<&Payload> = Catalogue::embedded().payloads().iter().collect();
        payloads.sort_by(|a, b| a.name.cmp(&b.name));
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/udp") {
            let path = entry.expect("entry").path();
            let data = std::fs::read(&path).expect("seed");
            let (&pick, reply) = data.split_first().expect("not empty");
            let payload = payloads[usize::from(pick) % payloads.len()];
            let name = path
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default();
            assert_eq!(
                payload.name, name,
                "seed {name} picks another payload: rerun make_seeds.py"
            );
            let sent = payload.build(&mut || 0);
            assert!(
                matches!(identify(payload, &sent, reply), Reply::Answer(_)),
                "seed {name} is not an answer"
            );
            n += 1;
        }
        assert!(n >= 6, "{n} seeds");
    }
}
