//! Probes for binary, client-speaks-first protocols: PostgreSQL, MongoDB, LDAP, DNS over TCP,
//! RDP, SMB (with an NTLMSSP SESSION_SETUP whose CHALLENGE names Samba or Windows) and MQTT. Requests are built from the protocols' specifications; replies are parsed
//! with bounds checks only (`get`, never indexing past a checked length).

/// What a binary reply told us.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinaryHit {
    pub service: &'static str,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra: Option<String>,
    /// CPE 2.2 URI, where the product and version are known.
    pub cpe: Option<String>,
    pub confidence: f32,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}
fn le16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]))
}
fn le32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *d.get(at)?,
        *d.get(at + 1)?,
        *d.get(at + 2)?,
        *d.get(at + 3)?,
    ]))
}

// --- PostgreSQL (protocol 3.0 docs: "Message Formats") ---

/// SSLRequest: length 8, code 80877103.
pub const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// StartupMessage for protocol 3.0, user and database "portent".
pub fn pg_startup() -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    body.extend_from_slice(b"user\0portent\0database\0portent\0\0");
    let mut out = u32::try_from(body.len() + 4)
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(&body);
    out
}

/// PgBouncer's own errors carry no source file ('F') field, which PostgreSQL's always do,
/// and say one of the things only PgBouncer says to a client's startup.
fn pgbouncer_error(d: &[u8]) -> bool {
    const SAYS: &[&[u8]] = &[
        b"no such database",
        b"no such user",
        b"\"trust\" authentication failed",
        b"client sent partial pkt in startup",
        b"unsupported startup parameter",
        b"pgbouncer cannot connect to server",
        b"server login has been failing",
    ];
    let Some(body) = d.get(5..) else {
        return false;
    };
    let mut message: &[u8] = &[];
    for field in body.split(|&b| b == 0) {
        match field.split_first() {
            Some((b'F', _)) => return false,
            Some((b'M', m)) => message = m,
            Some(_) => {}
            None => break,
        }
    }
    SAYS.iter().any(|s| message.starts_with(s))
}

/// Parses the reply to a StartupMessage: an authentication request ('R') or an error ('E').
pub fn pg_startup_reply(d: &[u8]) -> Option<BinaryHit> {
    let tag = *d.first()?;
    let len = u32::from_be_bytes([*d.get(1)?, *d.get(2)?, *d.get(3)?, *d.get(4)?]);
    if !(matches!(tag, b'R' | b'E')) || !(8..=65536).contains(&len) {
        return None;
    }
    let extra = if tag == b'R' {
        let code = u32::from_be_bytes([*d.get(5)?, *d.get(6)?, *d.get(7)?, *d.get(8)?]);
        match code {
            0 => "no password required".to_string(),
            3 => "asks for a cleartext password".to_string(),
            5 => "asks for an MD5 password".to_string(),
            10 => "asks for SASL (SCRAM)".to_string(),
            n => format!("authentication request {n}"),
        }
    } else {
        if !d.get(5..).is_some_and(|r| r.starts_with(b"S")) {
            return None;
        }
        "refused our startup with an error".to_string()
    };
    let pgbouncer = tag == b'E' && pgbouncer_error(d);
    // The ErrorResponse's non-localized severity field 'V' exists only in messages from
    // PostgreSQL 9.6 and later (postgresql.org/docs/current/protocol-error-fields.html); nmap
    // writes this as "9.6.0 or later".
    let version = (!pgbouncer && pg_error_fields(d).any(|(t, _)| t == b'V'))
        .then(|| "9.6.0 or later".to_string());
    Some(BinaryHit {
        service: "postgresql",
        product: Some(if pgbouncer {
            "PgBouncer".into()
        } else {
            "PostgreSQL DB".into()
        }),
        version,
        extra: Some(extra),
        cpe: None,
        confidence: 0.95,
    })
}

/// Whether a reply to our StartupMessage is whole: an authentication request that waits for
/// a password, or, after AuthenticationOk, an ErrorResponse or ReadyForQuery read in full.
pub fn pg_startup_complete(d: &[u8]) -> bool {
    let mut at = 0;
    while let (Some(&tag), Some(len)) = (d.get(at), d.get(at + 1..at + 5)) {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len < 4 || d.len() < at + 1 + len {
            return false;
        }
        match tag {
            b'E' | b'Z' => return true,
            b'R' if d.get(at + 5..at + 9) != Some(&[0, 0, 0, 0]) => return true,
            _ => at += 1 + len,
        }
    }
    false
}

/// The fields (type byte, value) of the first ErrorResponse ('E') among the backend messages
/// in `d` (an AuthenticationOk may come first). Stops at anything malformed.
fn pg_error_fields(d: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 0;
    let mut body: &[u8] = &[];
    while let (Some(&tag), Some(len)) = (d.get(at), d.get(at + 1..at + 5)) {
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len < 4 {
            break;
        }
        let Some(msg) = d.get(at + 5..at + 1 + len) else {
            // A message cut short: read what arrived of it.
            if tag == b'E' {
                body = d.get(at + 5..).unwrap_or_default();
            }
            break;
        };
        if tag == b'E' {
            body = msg;
            break;
        }
        at += 1 + len;
    }
    body.split(|b| *b == 0)
        .take_while(|f| !f.is_empty())
        .map(|f| (f[0], &f[1..]))
}

// --- MongoDB (wire protocol OP_MSG, opcode 2013; BSON spec) ---

/// An OP_MSG with one body section holding `{<command>: 1, $db: "admin"}`.
pub fn mongo_command(request_id: i32, command: &str) -> Vec<u8> {
    let mut doc = Vec::new();
    doc.push(0x10); // int32
    doc.extend_from_slice(command.as_bytes());
    doc.push(0);
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02); // string
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let doc_len = i32::try_from(doc.len() + 4).unwrap_or(0);
    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_le_bytes()); // flagBits
    body.push(0); // section kind 0: body
    body.extend_from_slice(&doc_len.to_le_bytes());
    body.extend_from_slice(&doc);
    let total = i32::try_from(body.len() + 16).unwrap_or(0);
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&2013i32.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Whether `d` holds a whole OP_MSG (or is not one at all: then stop waiting).
pub fn mongo_complete(d: &[u8]) -> bool {
    match le32(d, 0) {
        Some(len) => d.len() >= len as usize || !(16..=1 << 20).contains(&len),
        None => false,
    }
}

/// The body document of an OP_MSG reply to `request_id`, if it is one.
pub fn mongo_reply_doc(d: &[u8], request_id: i32) -> Option<&[u8]> {
    let len = le32(d, 0)? as usize;
    let msg = d.get(..len)?;
    if le32(msg, 8)? != request_id as u32 || le32(msg, 12)? != 2013 || *msg.get(20)? != 0 {
        return None;
    }
    let doc_len = le32(msg, 21)? as usize;
    msg.get(21..21usize.checked_add(doc_len)?)
}

/// A top-level BSON field of type string (0x02) or int32 (0x10) / double (0x01) as text.
pub fn bson_field(doc: &[u8], key: &str) -> Option<String> {
    let mut pos = 4usize;
    loop {
        let ty = *doc.get(pos)?;
        if ty == 0 {
            return None;
        }
        let name_end = pos + 1 + doc.get(pos + 1..)?.iter().position(|&b| b == 0)?;
        let name = doc.get(pos + 1..name_end)?;
        let v = name_end + 1;
        let (size, text) = match ty {
            0x01 => (
                8,
                doc.get(v..v + 8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])).to_string()),
            ),
            0x02 | 0x0d | 0x0e => {
                let l = le32(doc, v)? as usize;
                let s = doc.get(v + 4..(v + 4).checked_add(l.checked_sub(1)?)?)?;
                (4 + l, Some(crate::escape::escape_bytes(s, 128)))
            }
            0x03 | 0x04 => (le32(doc, v)? as usize, None),
            0x05 => (le32(doc, v)? as usize + 5, None),
            0x07 => (12, None),
            0x08 => (
                1,
                Some(if *doc.get(v)? != 0 {
                    "true".into()
                } else {
                    "false".into()
                }),
            ),
            0x09 | 0x11 | 0x12 => (8, None),
            0x0a | 0x7f | 0xff => (0, None),
            0x10 => (4, le32(doc, v).map(|n| (n as i32).to_string())),
            0x13 => (16, None),
            _ => return None,
        };
        if name == key.as_bytes() {
            return text;
        }
        pos = v.checked_add(size)?;
    }
}

// --- LDAP (RFC 4511) rootDSE search, BER by hand ---

/// SearchRequest for the root DSE: base "", baseObject, (objectClass=*), a few attributes.
pub fn ldap_rootdse_request() -> Vec<u8> {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 128 {
            out.push(body.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }
    let mut attrs = Vec::new();
    for a in [
        "namingContexts",
        "supportedLDAPVersion",
        "vendorName",
        "vendorVersion",
        "objectClass", // OpenLDAP's root DSE is an OpenLDAProotDSE
    ] {
        attrs.extend(tlv(0x04, a.as_bytes()));
    }
    let mut req = Vec::new();
    req.extend(tlv(0x04, b"")); // baseObject ""
    req.extend(tlv(0x0a, &[0])); // scope baseObject
    req.extend(tlv(0x0a, &[0])); // derefAliases never
    req.extend(tlv(0x02, &[0])); // sizeLimit
    req.extend(tlv(0x02, &[0])); // timeLimit
    req.extend(tlv(0x01, &[0])); // typesOnly false
    req.extend(tlv(0x87, b"objectClass")); // present filter
    req.extend(tlv(0x30, &attrs));
    let mut msg = tlv(0x02, &[1]); // messageID 1
    msg.extend(tlv(0x63, &req));
    tlv(0x30, &msg)
}

/// Reads a BER header at `pos`: (tag, content start, content length).
fn ber(d: &[u8], pos: usize) -> Option<(u8, usize, usize)> {
    let tag = *d.get(pos)?;
    let first = *d.get(pos + 1)?;
    if first < 0x80 {
        return Some((tag, pos + 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | usize::from(*d.get(pos + 2 + i)?);
    }
    Some((tag, pos + 2 + n, len))
}

/// Whether an LDAP reply looks whole (a SearchResultDone arrived) or is clearly not LDAP.
pub fn ldap_complete(d: &[u8]) -> bool {
    d.first().is_some_and(|&b| b != 0x30) || ldap_parse(d).is_some_and(|(_, done)| done)
}

/// An attribute of the root DSE: name and values, escaped.
pub type LdapAttr = (String, Vec<String>);

/// RFC 4511 section 4.2-4.14: the protocolOp tags a server sends (BindResponse,
/// SearchResultEntry, SearchResultDone, ModifyResponse, AddResponse, DelResponse,
/// ModifyDNResponse, CompareResponse, SearchResultReference, ExtendedResponse,
/// IntermediateResponse). A request tag (our own SearchRequest, 0x63, reflected by an echo
/// service) is never an LDAP server's answer.
const LDAP_RESPONSE_OPS: [u8; 11] = [
    0x61, 0x64, 0x65, 0x67, 0x69, 0x6b, 0x6d, 0x6f, 0x73, 0x78, 0x79,
];

/// Parses LDAP messages: the attributes of a SearchResultEntry, and whether Done was seen.
/// `None` unless every message is a response.
pub fn ldap_parse(d: &[u8]) -> Option<(Vec<LdapAttr>, bool)> {
    let mut attrs = Vec::new();
    let mut pos = 0usize;
    let mut any = false;
    while pos < d.len() {
        let (tag, start, len) = ber(d, pos)?;
        let end = start.checked_add(len)?;
        if tag != 0x30 || end > d.len() {
            return if any { Some((attrs, false)) } else { None };
        }
        let (itag, istart, ilen) = ber(d, start)?;
        if itag != 0x02 {
            return None;
        }
        let (op, ostart, olen) = ber(d, istart + ilen)?;
        if !LDAP_RESPONSE_OPS.contains(&op) {
            return None;
        }
        any = true;
        match op {
            0x64 => {
                let (_, dstart, dlen) = ber(d, ostart)?; // objectName
                let (_, lstart, llen) = ber(d, dstart + dlen)?; // attributes
                let mut p = lstart;
                while p < lstart + llen && attrs.len() < 32 {
                    let (_, astart, alen) = ber(d, p)?;
                    let (_, tstart, tlen) = ber(d, astart)?;
                    let name = crate::escape::escape_bytes(d.get(tstart..tstart + tlen)?, 64);
                    let (_, vstart, vlen) = ber(d, tstart + tlen)?;
                    let mut values = Vec::new();
                    let mut q = vstart;
                    while q < vstart + vlen && values.len() < 16 {
                        let (_, s, l) = ber(d, q)?;
                        values.push(crate::escape::escape_bytes(d.get(s..s + l)?, 128));
                        q = s + l;
                    }
                    attrs.push((name, values));
                    p = astart + alen;
                }
            }
            0x65 => return Some((attrs, true)),
            _ => {}
        }
        let _ = (ostart, olen);
        pos = end;
    }
    if any { Some((attrs, false)) } else { None }
}

// --- DNS over TCP (RFC 1035 section 4.2.2; CHAOS version.bind) ---

/// A 2-byte-length-prefixed query for version.bind TXT CH, id `id`.
pub fn dns_version_query(id: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // flags 0, qdcount 1
    q.extend_from_slice(b"\x07version\x04bind\x00");
    q.extend_from_slice(&[0, 16, 0, 3]); // TXT, CH
    let mut out = u16::try_from(q.len()).unwrap_or(0).to_be_bytes().to_vec();
    out.extend_from_slice(&q);
    out
}

pub fn dns_complete(d: &[u8]) -> bool {
    be16(d, 0).is_some_and(|l| d.len() >= usize::from(l) + 2)
}

/// Parses a DNS response to query `id`: its rcode and the first TXT string of the answer.
pub fn dns_parse(d: &[u8], id: u16) -> Option<BinaryHit> {
    let len = usize::from(be16(d, 0)?);
    let m = d.get(2..2 + len)?;
    if be16(m, 0)? != id || m.get(2)? & 0x80 == 0 || m.len() < 12 {
        return None;
    }
    let rcode = m.get(3)? & 0x0f;
    let ancount = be16(m, 6)?;
    let mut version = None;
    if ancount > 0 && rcode == 0 {
        // Skip the question: our name (14 bytes) + type + class; then the answer's name.
        let mut p = 12 + 14 + 4;
        p = skip_name(m, p)?;
        let rdlen = usize::from(be16(m, p + 8)?);
        let rdata = m.get(p + 10..p + 10 + rdlen)?;
        let tl = usize::from(*rdata.first()?);
        version = rdata
            .get(1..1 + tl)
            .map(|t| crate::escape::escape_bytes(t, 96));
    }
    let dv = version
        .as_deref()
        .map(crate::udp::dns::product)
        .unwrap_or_default();
    let mut extra = match &version {
        Some(v) => format!("version.bind: {v}"),
        None => format!("version.bind refused (rcode {rcode})"),
    };
    if let Some(d) = dv.distro {
        extra = format!("{d}; {extra}");
    }
    Some(BinaryHit {
        service: "domain",
        product: dv.product,
        version: dv.version,
        extra: Some(extra),
        cpe: None,
        confidence: 0.95,
    })
}

/// The CPE 2.2 URI of a product that a binary parser names (vendor and product as the NVD
/// CPE dictionary spells them), with the version where it is known.
pub fn product_cpe(product: &str, version: Option<&str>) -> Option<String> {
    let vendor_product = match product {
        "ISC BIND" => "isc:bind",
        "Unbound" => "nlnetlabs:unbound",
        "dnsmasq" => "thekelleys:dnsmasq",
        "RabbitMQ" => "vmware:rabbitmq",
        "Mosquitto" => "eclipse:mosquitto",
        "OpenLDAP" => "openldap:openldap",
        "MongoDB" => "mongodb:mongodb",
        _ => return None,
    };
    Some(match version {
        Some(v) => format!("cpe:/a:{vendor_product}:{v}"),
        None => format!("cpe:/a:{vendor_product}"),
    })
}

fn skip_name(m: &[u8], mut p: usize) -> Option<usize> {
    for _ in 0..128 {
        let l = *m.get(p)?;
        if l & 0xc0 == 0xc0 {
            return Some(p + 2);
        }
        if l == 0 {
            return Some(p + 1);
        }
        p += 1 + usize::from(l);
    }
    None
}

// --- RDP (MS-RDPBCGR 2.2.1.1: X.224 Connection Request with RDP_NEG_REQ) ---

pub const RDP_CONNECTION_REQUEST: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, // TPKT, length 19
    0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224 CR
    0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, // RDP_NEG_REQ: TLS | CredSSP
];

/// The same request asking for CredSSP alone (requestedProtocols = PROTOCOL_HYBRID): asked
/// only of a server whose first answer looks like xrdp's ([`rdp_may_be_xrdp`]).
pub const RDP_HYBRID_ONLY_REQUEST: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, // TPKT, length 19
    0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, // X.224 CR
    0x01, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00, // RDP_NEG_REQ: CredSSP only
];

/// (type, flags, value) of the RDP_NEG_RSP (type 2: value = selected protocol) or
/// RDP_NEG_FAILURE (type 3: value = failure code) in an X.224 Connection Confirm.
fn rdp_negotiation(d: &[u8]) -> Option<(u8, u8, u32)> {
    if d.first()? != &3 || d.get(5)? & 0xf0 != 0xd0 {
        return None;
    }
    Some((*d.get(11)?, *d.get(12)?, le32(d, 15)?))
}

/// Whether a Connection Confirm to [`RDP_CONNECTION_REQUEST`] (TLS or CredSSP) is the one
/// xrdp writes: a negotiation response with flags exactly EXTENDED_CLIENT_DATA_SUPPORTED
/// (xrdp's `xrdp_iso_send_cc` hard-codes 0x01 outside its Hyper-V vmconnect mode) selecting
/// TLS, or standard RDP security when its certificate cannot be read. Windows can answer the
/// same way, so this only decides whether to ask [`rdp_selects_unrequested`]'s question.
pub fn rdp_may_be_xrdp(d: &[u8]) -> bool {
    matches!(rdp_negotiation(d), Some((2, 0x01, 0 | 1)))
}

/// Whether a Connection Confirm to [`RDP_HYBRID_ONLY_REQUEST`] selects standard RDP security,
/// which the client did not offer. MS-RDPBCGR has a server that cannot do CredSSP answer a
/// CredSSP-only request with a failure (SSL_REQUIRED_BY_SERVER, or SSL_NOT_ALLOWED_BY_SERVER
/// when it does standard security only); xrdp, which has no CredSSP, selects standard RDP
/// security instead (`xrdp_iso_negotiate_security` in libxrdp/xrdp_iso.c, with the default
/// `security_layer=negotiate`). A server that conforms never gives this answer.
pub fn rdp_selects_unrequested(d: &[u8]) -> bool {
    matches!(rdp_negotiation(d), Some((2, _, 0)))
}

/// The RDP hit renamed for xrdp, with the evidence in `extra`.
pub fn xrdp(hit: BinaryHit) -> BinaryHit {
    BinaryHit {
        product: Some("xrdp".into()),
        extra: Some(format!(
            "{}; chose standard RDP security when offered only CredSSP, as xrdp does",
            hit.extra.as_deref().unwrap_or("RDP")
        )),
        confidence: 0.9,
        ..hit
    }
}

pub fn tpkt_complete(d: &[u8]) -> bool {
    be16(d, 2).is_some_and(|l| d.len() >= usize::from(l)) || d.first().is_some_and(|&b| b != 3)
}

pub fn rdp_parse(d: &[u8]) -> Option<BinaryHit> {
    if d.first()? != &3 || d.get(5)? & 0xf0 != 0xd0 {
        return None;
    }
    let extra = match (d.get(11), le32(d, 15)) {
        (Some(2), Some(p)) => format!(
            "selected {}",
            match p {
                0 => "standard RDP security",
                1 => "TLS",
                2 => "CredSSP (NLA)",
                8 => "RDSTLS",
                _ => "another protocol",
            }
        ),
        (Some(3), Some(code)) => format!("negotiation failure {code}"),
        _ => "no negotiation response (old RDP)".to_string(),
    };
    Some(BinaryHit {
        service: "ms-wbt-server",
        product: Some("RDP".into()),
        extra: Some(extra),
        cpe: None,
        confidence: 0.95,
        ..BinaryHit::default()
    })
}

// --- SMB2 (MS-SMB2 2.2.3 NEGOTIATE) over direct TCP (4-byte session header) ---

/// An SMB2 request header (MS-SMB2 2.2.1.2) for `command`, asking for one credit.
fn smb2_header(command: u16, message_id: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"\xfeSMB");
    h.extend_from_slice(&64u16.to_le_bytes()); // StructureSize
    h.extend_from_slice(&[0; 2]); // CreditCharge
    h.extend_from_slice(&[0; 4]); // Status
    h.extend_from_slice(&command.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // Credits
    h.extend_from_slice(&[0; 4]); // Flags
    h.extend_from_slice(&[0; 4]); // NextCommand
    h.extend_from_slice(&message_id.to_le_bytes());
    h.extend_from_slice(&[0; 4]); // Reserved
    h.extend_from_slice(&[0; 4]); // TreeId
    h.extend_from_slice(&[0; 8]); // SessionId
    h.extend_from_slice(&[0; 16]); // Signature
    h
}

/// `m` behind a direct-TCP session header (a zero byte, then the length in 24 bits).
fn nbss(m: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(m.len()).unwrap_or(0).to_be_bytes()[1..]);
    out.extend_from_slice(m);
    out
}

pub fn smb2_negotiate() -> Vec<u8> {
    let mut h = smb2_header(0, 0);
    let dialects: [u16; 3] = [0x0202, 0x0210, 0x0300];
    h.extend_from_slice(&36u16.to_le_bytes());
    h.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // SecurityMode: signing enabled
    h.extend_from_slice(&[0; 2]);
    h.extend_from_slice(&[0; 4]); // Capabilities
    h.extend_from_slice(b"portent-probe-00"); // ClientGuid
    h.extend_from_slice(&[0; 8]); // ClientStartTime
    for d in dialects {
        h.extend_from_slice(&d.to_le_bytes());
    }
    nbss(&h)
}

pub fn nbss_complete(d: &[u8]) -> bool {
    match (d.first(), d.get(1..4)) {
        (Some(0), Some(l)) => {
            d.len() >= 4 + (usize::from(l[0]) << 16 | usize::from(l[1]) << 8 | usize::from(l[2]))
        }
        (Some(_), _) => true,
        _ => false,
    }
}

/// An SMB reply: an NBSS session message (type 0, RFC 1002 section 4.3.1) whose announced
/// length is all there, holding an SMB1 header with the reply flag (MS-CIFS 2.2.3.1, Flags
/// bit 0x80) or an SMB2 NEGOTIATE response (MS-SMB2 2.2.1: StructureSize 64, the
/// SERVER_TO_REDIR flag; 2.2.4: response StructureSize 65). Anything else, our own request
/// reflected included, is not SMB.
pub fn smb_parse(d: &[u8]) -> Option<BinaryHit> {
    if *d.first()? != 0 {
        return None;
    }
    let len =
        usize::from(*d.get(1)?) << 16 | usize::from(*d.get(2)?) << 8 | usize::from(*d.get(3)?);
    let m = d.get(4..4 + len)?;
    if m.starts_with(b"\xffSMB") {
        if m.get(9)? & 0x80 == 0 {
            return None;
        }
        return Some(BinaryHit {
            service: "microsoft-ds",
            product: Some("SMB".into()),
            extra: Some("SMB1 only".into()),
            cpe: None,
            confidence: 0.9,
            ..BinaryHit::default()
        });
    }
    if !m.starts_with(b"\xfeSMB")
        || le16(m, 4)? != 64
        || le16(m, 12)? != 0
        || le32(m, 16)? & 1 == 0
        || le16(m, 64)? != 65
    {
        return None;
    }
    let dialect = le16(m, 64 + 4)?;
    let name = match dialect {
        0x0202 => "2.0.2",
        0x0210 => "2.1",
        0x0300 => "3.0",
        0x0302 => "3.0.2",
        0x0311 => "3.1.1",
        0x02ff => "2.???",
        _ => "unknown",
    };
    Some(BinaryHit {
        service: "microsoft-ds",
        product: Some("SMB".into()),
        version: Some(name.into()),
        extra: Some(format!("dialect {name}")),
        cpe: None,
        confidence: 0.95,
    })
}

// --- NTLMSSP in an SMB2 SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6; MS-NLMP 2.2.1; RFC 4178) ---

/// NEGOTIATE_MESSAGE flags (MS-NLMP 2.2.2.5): UNICODE, OEM, REQUEST_TARGET, NTLM,
/// ALWAYS_SIGN, EXTENDED_SESSIONSECURITY, VERSION, 128, 56. REQUEST_TARGET asks for the
/// TargetInfo names, VERSION for the server's VERSION field.
const NTLMSSP_NEGOTIATE_FLAGS: u32 = 0xa208_8207;
const NTLMSSP_NEGOTIATE_VERSION: u32 = 0x0200_0000;

/// A DER TLV (X.690 8.1): short-form length below 128, long form above.
fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u8::try_from(body.len()) {
        Ok(l) if l < 0x80 => out.push(l),
        Ok(l) => out.extend_from_slice(&[0x81, l]),
        Err(_) => {
            out.push(0x82);
            let l = u16::try_from(body.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&l.to_be_bytes());
        }
    }
    out.extend_from_slice(body);
    out
}

/// The NTLMSSP NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1): no domain or workstation supplied, and a
/// VERSION field with only the NTLM revision (15, NTLMSSP_REVISION_W2K3) set.
pub fn ntlmssp_negotiate() -> Vec<u8> {
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&1u32.to_le_bytes()); // MessageType: NEGOTIATE
    m.extend_from_slice(&NTLMSSP_NEGOTIATE_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]); // DomainNameFields, WorkstationFields: empty
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 15]); // Version
    m
}

/// An SMB2 SESSION_SETUP request (MS-SMB2 2.2.5, message id 1, after our NEGOTIATE) whose
/// security buffer is a SPNEGO NegTokenInit (RFC 4178 4.2.1, inside RFC 2743's
/// InitialContextToken) offering NTLMSSP only, with its NEGOTIATE_MESSAGE as the mechToken.
/// Samba and Windows both answer it with NTLMSSP's CHALLENGE_MESSAGE.
pub fn smb2_session_setup_ntlm() -> Vec<u8> {
    const SPNEGO_OID: [u8; 6] = [0x2b, 6, 1, 5, 5, 2]; // 1.3.6.1.5.5.2
    const NTLMSSP_OID: [u8; 10] = [0x2b, 6, 1, 4, 1, 0x82, 0x37, 2, 2, 10]; // 1.3.6.1.4.1.311.2.2.10
    let mech_types = der(0xa0, &der(0x30, &der(0x06, &NTLMSSP_OID)));
    let mech_token = der(0xa2, &der(0x04, &ntlmssp_negotiate()));
    let init = der(0xa0, &der(0x30, &[mech_types, mech_token].concat()));
    let token = der(0x60, &[der(0x06, &SPNEGO_OID), init].concat());
    let mut h = smb2_header(1, 1);
    h.extend_from_slice(&25u16.to_le_bytes()); // StructureSize
    h.push(0); // Flags
    h.push(1); // SecurityMode: signing enabled
    h.extend_from_slice(&[0; 4]); // Capabilities
    h.extend_from_slice(&[0; 4]); // Channel
    h.extend_from_slice(&88u16.to_le_bytes()); // SecurityBufferOffset: header and body
    h.extend_from_slice(&u16::try_from(token.len()).unwrap_or(0).to_le_bytes());
    h.extend_from_slice(&[0; 8]); // PreviousSessionId
    h.extend_from_slice(&token);
    nbss(&h)
}

/// What a server's NTLMSSP CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) says about it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NtlmChallenge {
    /// The VERSION field (MS-NLMP 2.2.2.10) as sent: major, minor, build (little-endian),
    /// three reserved bytes, NTLM revision. Present when the flags announce it.
    pub version: Option<[u8; 8]>,
    /// TargetInfo's AV pairs (MS-NLMP 2.2.2.1): MsvAvNbComputerName (1), MsvAvNbDomainName
    /// (2), MsvAvDnsComputerName (3), MsvAvDnsDomainName (4), MsvAvDnsTreeName (5).
    pub nb_computer: Option<String>,
    pub nb_domain: Option<String>,
    pub dns_computer: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_tree: Option<String>,
}

/// A UTF-16LE name from the peer: at most 64 characters, control characters dropped,
/// nothing when empty.
fn utf16_name(v: &[u8]) -> Option<String> {
    let units = v
        .chunks_exact(2)
        .take(64)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let s: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .filter(|c| !c.is_control())
        .collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Parses a CHALLENGE_MESSAGE at the start of `m` (its offsets count from there). Its
/// TargetInfo must lie inside `m`; the AV pair walk stops at MsvAvEOL, at the first pair that
/// runs past TargetInfo's end, or after 32 pairs.
pub fn ntlm_challenge(m: &[u8]) -> Option<NtlmChallenge> {
    if !m.starts_with(b"NTLMSSP\0") || le32(m, 8)? != 2 {
        return None;
    }
    let flags = le32(m, 20)?;
    let info_len = usize::from(le16(m, 40)?);
    let info_at = usize::try_from(le32(m, 44)?).ok()?;
    let info = m.get(info_at..info_at.checked_add(info_len)?)?;
    let mut c = NtlmChallenge::default();
    if flags & NTLMSSP_NEGOTIATE_VERSION != 0 {
        c.version = m.get(48..56).and_then(|v| <[u8; 8]>::try_from(v).ok());
    }
    let mut at = 0usize;
    for _ in 0..32 {
        let (Some(id), Some(len)) = (le16(info, at), le16(info, at + 2)) else {
            break;
        };
        let Some(value) = info.get(at + 4..at + 4 + usize::from(len)) else {
            break;
        };
        let slot = match id {
            0 => break,
            1 => &mut c.nb_computer,
            2 => &mut c.nb_domain,
            3 => &mut c.dns_computer,
            4 => &mut c.dns_domain,
            5 => &mut c.dns_tree,
            _ => {
                at += 4 + usize::from(len);
                continue;
            }
        };
        if slot.is_none() {
            *slot = utf16_name(value);
        }
        at += 4 + usize::from(len);
    }
    Some(c)
}

/// The CHALLENGE_MESSAGE in the reply to [`smb2_session_setup_ntlm`]: a complete NBSS message
/// holding an SMB2 SESSION_SETUP response (MS-SMB2 2.2.1.2 header with SERVER_TO_REDIR,
/// command 1, status STATUS_MORE_PROCESSING_REQUIRED; 2.2.6 StructureSize 9) whose security
/// buffer lies inside it and holds the message, raw or inside SPNEGO's NegTokenResp.
pub fn smb2_session_setup_reply(d: &[u8]) -> Option<NtlmChallenge> {
    if *d.first()? != 0 {
        return None;
    }
    let len =
        usize::from(*d.get(1)?) << 16 | usize::from(*d.get(2)?) << 8 | usize::from(*d.get(3)?);
    let m = d.get(4..4 + len)?;
    if !m.starts_with(b"\xfeSMB")
        || le16(m, 4)? != 64
        || le32(m, 8)? != 0xc000_0016
        || le16(m, 12)? != 1
        || le32(m, 16)? & 1 == 0
        || le16(m, 64)? != 9
    {
        return None;
    }
    let at = usize::from(le16(m, 68)?);
    let buf = m.get(at..at + usize::from(le16(m, 70)?))?;
    let start = buf.windows(8).position(|w| w == b"NTLMSSP\0")?;
    ntlm_challenge(buf.get(start..)?)
}

/// The VERSION field Samba writes into every CHALLENGE_MESSAGE, whatever its release and the
/// host's OS: major 6, minor 1, build 0, NTLMSSP_REVISION_W2K3 (15). It is the fixed
/// `version_buffer` of `ntlmssp_version_blob()` in Samba's auth/ntlmssp/ntlmssp_util.c
/// (samba-team/samba). Windows writes its own version and build there (6.1.7601, 10.0.x).
pub const SAMBA_NTLM_VERSION: [u8; 8] = [6, 1, 0, 0, 0, 0, 0, 15];

/// Names the SMB server from its CHALLENGE_MESSAGE. Samba's fixed VERSION field makes it
/// "Samba smbd", with no version (none is told; the SMB dialect stays in `extra`). A Windows
/// major.minor pair (5.1 to 10.0) with a real build number and revision 15 makes it
/// "Windows" with that version (no edition is guessed). Any other VERSION is only reported.
/// The NetBIOS and DNS names go into `extra`, a DNS name only where it adds to the NetBIOS one.
pub fn smb_name(hit: &mut BinaryHit, c: &NtlmChallenge) {
    let mut extra: Vec<String> = hit.extra.take().into_iter().collect();
    match c.version {
        Some(v) if v == SAMBA_NTLM_VERSION => {
            hit.product = Some("Samba smbd".into());
            hit.version = None;
            hit.cpe = Some("cpe:/a:samba:samba".into());
        }
        Some([major, minor, b0, b1, _, _, _, revision]) => {
            let build = u16::from_le_bytes([b0, b1]);
            let windows = matches!(
                (major, minor),
                (5, 1) | (5, 2) | (6, 0) | (6, 1) | (6, 2) | (6, 3) | (10, 0)
            );
            if windows && build > 0 && revision == 15 {
                hit.product = Some("Windows".into());
                hit.version = Some(format!("{major}.{minor}.{build}"));
                hit.cpe = Some("cpe:/o:microsoft:windows".into());
            } else {
                extra.push(format!(
                    "NTLM version {major}.{minor}.{build} revision {revision}"
                ));
            }
        }
        None => {}
    }
    let differs = |dns: &Option<String>, nb: &Option<String>| match (dns, nb) {
        (Some(d), Some(n)) => !d.eq_ignore_ascii_case(n),
        (d, _) => d.is_some(),
    };
    let names = [
        ("host", &c.nb_computer, true),
        ("domain", &c.nb_domain, true),
        (
            "DNS host",
            &c.dns_computer,
            differs(&c.dns_computer, &c.nb_computer),
        ),
        (
            "DNS domain",
            &c.dns_domain,
            differs(&c.dns_domain, &c.nb_domain),
        ),
        ("DNS tree", &c.dns_tree, differs(&c.dns_tree, &c.dns_domain)),
    ];
    for (label, value, show) in names {
        if let (Some(v), true) = (value, show) {
            extra.push(format!("{label}: {v}"));
        }
    }
    hit.extra = (!extra.is_empty()).then(|| extra.join("; "));
}

// --- MQTT 3.1.1 (OASIS spec section 3.1 CONNECT, 3.2 CONNACK) ---

/// CONNECT (level 4, clean session, keepalive 30 s) with client id `portent-` and eight hex
/// digits of `id`. The id differs per connection: a broker disconnects the existing client
/// when another connects with its client id (MQTT 3.1.1, section 3.1.4), so two probes of
/// one broker at once (its own port and a forwarded one, seen in the zoo test with
/// Mosquitto: "Client portent already connected, closing old connection") cut each other off.
pub fn mqtt_connect(id: u32) -> Vec<u8> {
    let mut v = MQTT_CONNECT_PREFIX.to_vec();
    v.extend_from_slice(format!("{id:08x}").as_bytes());
    v
}

/// The bytes every [`mqtt_connect`] starts with: fixed header, variable header, the client
/// id's length (16) and its `portent-`.
pub const MQTT_CONNECT_PREFIX: [u8; 22] = [
    0x10, 28, // CONNECT, remaining length
    0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0,
    30, // protocol name, level 4, clean session, keepalive
    0, 16, b'p', b'o', b'r', b't', b'e', b'n', b't', b'-', // client id
];
pub const MQTT_DISCONNECT: [u8; 2] = [0xe0, 0];

/// SUBSCRIBE (packet id 1, QoS 0) to the topic where brokers such as Mosquitto publish their
/// version as a retained message.
pub const MQTT_SUBSCRIBE_VERSION: [u8; 26] = [
    0x82, 24, 0, 1, // SUBSCRIBE, remaining length, packet id
    0, 19, b'$', b'S', b'Y', b'S', b'/', b'b', b'r', b'o', b'k', b'e', b'r', b'/', b'v', b'e',
    b'r', b's', b'i', b'o', b'n', 0, // topic filter, QoS 0
];

/// The payload of the first PUBLISH (after the SUBACK) in `d`, when it is all there.
pub fn mqtt_published(d: &[u8]) -> Option<&[u8]> {
    let mut at = 0usize;
    while at < d.len() {
        let kind = *d.get(at)?;
        // Remaining length: up to four 7-bit groups, least significant first.
        let (mut len, mut shift, mut i) = (0usize, 0u32, at + 1);
        loop {
            let b = *d.get(i)?;
            len |= usize::from(b & 0x7f) << shift;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 21 {
                return None;
            }
        }
        let body = d.get(i..i.checked_add(len)?)?;
        if kind & 0xf0 == 0x30 {
            let tl = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
            // QoS 0: no packet id after the topic.
            return body.get(2 + tl..);
        }
        at = i + len;
    }
    None
}

pub fn mqtt_parse(d: &[u8]) -> Option<BinaryHit> {
    if d.len() < 4 || d[0] != 0x20 || d[1] != 2 || d[2] > 1 {
        return None;
    }
    let extra = match d[3] {
        0 => "connection accepted without credentials".to_string(),
        4 | 5 => "connection refused: not authorised".to_string(),
        n => format!("CONNACK return code {n}"),
    };
    Some(BinaryHit {
        service: "mqtt",
        extra: Some(extra),
        cpe: None,
        confidence: 0.95,
        ..BinaryHit::default()
    })
}

// --- AMQP 0-9-1 (spec section 4.2.2 protocol header, 4.2.3 frames, connection.start) ---

/// The protocol header a client sends first: "AMQP", 0, major 0, minor 9, revision 1.
pub const AMQP_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";

/// A whole frame (type, channel, 4-byte size, payload, frame-end) or a protocol header.
pub fn amqp_complete(d: &[u8]) -> bool {
    if d.starts_with(b"AMQP") {
        return d.len() >= 8;
    }
    match d.get(3..7) {
        Some(n) => {
            let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
            d.len() >= n.saturating_add(8)
        }
        None => false,
    }
}

/// The server's connection.start (class 10, method 10), with the product and version of its
/// server-properties; or a protocol header of its own, which it sends when it speaks another
/// version. Our own header echoed back is not an answer.
pub fn amqp_parse(d: &[u8]) -> Option<BinaryHit> {
    if d.starts_with(b"AMQP") {
        if d.len() < 8 || d[..8] == AMQP_HEADER {
            return None;
        }
        return Some(BinaryHit {
            service: "amqp",
            extra: Some(format!("speaks AMQP {}-{}-{}", d[5], d[6], d[7])),
            confidence: 0.9,
            ..BinaryHit::default()
        });
    }
    // Method frame on channel 0: type 1, channel 0, size, class 10, method 10.
    if d.first()? != &1 || be16(d, 1)? != 0 || be16(d, 7)? != 10 || be16(d, 9)? != 10 {
        return None;
    }
    let size = u32::from_be_bytes([*d.get(3)?, *d.get(4)?, *d.get(5)?, *d.get(6)?]) as usize;
    if d.get(7usize.checked_add(size)?)? != &0xce {
        return None;
    }
    let (major, minor) = (*d.get(11)?, *d.get(12)?);
    let table_len = u32::from_be_bytes([*d.get(13)?, *d.get(14)?, *d.get(15)?, *d.get(16)?]);
    let table = d.get(17..17usize.checked_add(table_len as usize)?)?;
    let (mut product, mut version) = (None, None);
    let mut at = 0usize;
    // Field table entries: short name, type octet, value. Only long strings are read; a
    // nested table or a boolean is stepped over; anything else ends the walk.
    while at < table.len() {
        let Some(&nl) = table.get(at) else { break };
        let Some(name) = table.get(at + 1..at + 1 + usize::from(nl)) else {
            break;
        };
        at += 1 + usize::from(nl);
        match table.get(at) {
            Some(b'S') | Some(b'F') => {
                let Some(l) = table.get(at + 1..at + 5) else {
                    break;
                };
                let l = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
                let Some(v) = table.get(at + 5..(at + 5).saturating_add(l)) else {
                    break;
                };
                if table[at] == b'S' {
                    let v = String::from_utf8_lossy(v).into_owned();
                    match name {
                        b"product" => product = Some(v),
                        b"version" => version = Some(v),
                        _ => {}
                    }
                }
                at += 5 + l;
            }
            Some(b't') => at += 2,
            _ => break,
        }
    }
    let clean = |v: Option<String>| {
        v.map(|v| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect::<String>()
        })
        .filter(|v| !v.is_empty())
    };
    Some(BinaryHit {
        service: "amqp",
        product: clean(product),
        version: clean(version),
        extra: Some(format!("{major}-{minor}")),
        confidence: 0.97,
        ..BinaryHit::default()
    })
}
