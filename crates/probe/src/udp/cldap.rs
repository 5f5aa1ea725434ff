//! CLDAP (389/udp): a rootDSE search over connectionless LDAP (RFC 1798, RFC 4511 §4.5.1).
//!
//! One datagram carries an LDAPMessage with a random message id and a SearchRequest for
//! base "", scope base, filter `(objectClass=*)` and the attributes that name a directory
//! (defaultNamingContext, dnsHostName, supportedLDAPVersion, vendorName, vendorVersion,
//! namingContexts, serverName, domainControllerFunctionality). Active Directory and Samba
//! answer it on 389/udp with a SearchResultEntry and a SearchResultDone in one datagram.
//! The reply must carry our message id and be a result (application tags 4 or 5): our own
//! SearchRequest reflected by an echo service is not an answer. RFC 1798's LDAPv2 form has
//! a `user` DN between the id and the operation; it is skipped when present.

use super::asn1::{children, expect, read, uint};
use super::{Identity, Reply, text};

const SEARCH_REQUEST: u8 = 0x63;
const SEARCH_ENTRY: u8 = 0x64;
const SEARCH_DONE: u8 = 0x65;

/// Messages per datagram, attributes per entry and values per attribute read, at most.
const MAX_ITEMS: usize = 32;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let Some(ours) = message_id(sent) else {
        return Reply::NotOurs;
    };
    let mut rest = reply;
    let (mut entry, mut done) = (None, None);
    for _ in 0..MAX_ITEMS {
        if rest.is_empty() {
            break;
        }
        let Some((msg, after)) = expect(rest, 0x30) else {
            break;
        };
        rest = after;
        let Some((id, mut op)) = expect(msg, 0x02) else {
            return Reply::NotOurs;
        };
        if uint(id) != Some(ours) {
            return Reply::NotOurs;
        }
        if let Some((_, after_user)) = expect(op, 0x04) {
            op = after_user;
        }
        let Some((t, _)) = read(op) else {
            return Reply::NotOurs;
        };
        match t.tag {
            SEARCH_ENTRY => entry = entry.or(Some(t.body)),
            SEARCH_DONE => done = done.or(Some(t.body)),
            SEARCH_REQUEST => return Reply::NotOurs,
            _ => {}
        }
    }
    if entry.is_none() && done.is_none() {
        return Reply::NotOurs;
    }
    let mut extra = Vec::new();
    let (mut product, mut version) = (None, None);
    if let Some(e) = entry {
        for (name, value) in attributes(e) {
            let lower = name.to_ascii_lowercase();
            match lower.as_slice() {
                b"vendorname" => product = product.or_else(|| text(value)),
                b"vendorversion" => version = version.or_else(|| text(value)),
                b"dnshostname"
                | b"defaultnamingcontext"
                | b"supportedldapversion"
                | b"domaincontrollerfunctionality" => {
                    if let (Some(n), Some(v)) = (text(name), text(value)) {
                        extra.push(format!("{n} {v}"));
                    }
                }
                _ => {}
            }
        }
    } else if let Some(code) = done
        .and_then(|d| expect(d, 0x0a))
        .and_then(|(c, _)| uint(c))
    {
        extra.push(format!("search done, result code {code}"));
    }
    if extra.len() > 8 {
        extra.truncate(8);
    }
    let confidence = if entry.is_some() { 0.95 } else { 0.85 };
    Reply::Answer(
        Identity::new("ldap", confidence)
            .product(product)
            .version(version)
            .extra((!extra.is_empty()).then(|| extra.join("; "))),
    )
}

/// The message id of our request.
fn message_id(sent: &[u8]) -> Option<u64> {
    let (msg, _) = expect(sent, 0x30)?;
    let (id, _) = expect(msg, 0x02)?;
    uint(id)
}

/// `(type, first value)` of each attribute of a SearchResultEntry.
fn attributes(entry: &[u8]) -> Vec<(&[u8], &[u8])> {
    let Some((_, rest)) = expect(entry, 0x04) else {
        return Vec::new();
    };
    let Some((list, _)) = expect(rest, 0x30) else {
        return Vec::new();
    };
    children(list, MAX_ITEMS)
        .filter(|a| a.tag == 0x30)
        .filter_map(|a| {
            let (name, vals) = expect(a.body, 0x04)?;
            let (set, _) = expect(vals, 0x31)?;
            let (value, _) = expect(set, 0x04)?;
            Some((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

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

    fn attr(name: &str, value: &str) -> Vec<u8> {
        tlv(
            0x30,
            &[
                tlv(0x04, name.as_bytes()),
                tlv(0x31, &tlv(0x04, value.as_bytes())),
            ]
            .concat(),
        )
    }

    /// SearchResultEntry + SearchResultDone (RFC 4511 §4.5.2) in one datagram, with the
    /// message id of `sent`.
    fn reply(sent: &[u8]) -> Vec<u8> {
        let id = &sent[3..9]; // 02 04 2a xx xx xx
        let attrs = [
            attr("dnsHostName", "dc1.example.org"),
            attr("defaultNamingContext", "DC=example,DC=org"),
            attr("vendorName", "Example Directory"),
            attr("vendorVersion", "4.2"),
        ]
        .concat();
        let entry = tlv(0x64, &[tlv(0x04, b""), tlv(0x30, &attrs)].concat());
        let done = tlv(
            0x65,
            &[tlv(0x0a, &[0]), tlv(0x04, b""), tlv(0x04, b"")].concat(),
        );
        [
            tlv(0x30, &[id, &entry].concat()),
            tlv(0x30, &[id, &done].concat()),
        ]
        .concat()
    }

    #[test]
    fn root_dse_entry() {
        let (_, s) = sent("cldap-rootdse");
        assert_eq!(&s[..4], &[0x30, 0x81, 0xb9, 0x02]);
        let id = answer("cldap-rootdse", &s, &reply(&s));
        assert_eq!(id.service, "ldap");
        assert_eq!(id.product.as_deref(), Some("Example Directory"));
        assert_eq!(id.version.as_deref(), Some("4.2"));
        assert_eq!(
            id.extra.as_deref(),
            Some("dnsHostName dc1.example.org; defaultNamingContext DC=example,DC=org")
        );
        never_panics("cldap-rootdse", &s, &reply(&s));
    }

    #[test]
    fn echo_and_wrong_id_are_not_ours() {
        let (p, s) = sent("cldap-rootdse");
        assert_eq!(
            super::super::identify(&p, &s, &s),
            Reply::NotOurs,
            "reflected request"
        );
        let mut r = reply(&s);
        r[8] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
    }
}
