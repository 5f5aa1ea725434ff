//! SIP (5060/udp): an OPTIONS request (RFC 3261 §11).
//!
//! The request has a random Via branch (after the RFC 3261 magic cookie `z9hG4bK`), From tag
//! and Call-ID, written as hex digits so the request stays valid text. Any SIP element
//! answers OPTIONS with a response (`SIP/2.0 200 OK`, or 401/403/404/405 from a registrar
//! that wants authentication) that copies the Call-ID and the Via (RFC 3261 §8.2.6.2); one
//! of them must match. `Server` (or `User-Agent`) names the product.

use super::{Identity, Reply, software, text};

/// Header lines looked at, at most.
const MAX_LINES: usize = 64;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let head = reply.get(..reply.len().min(8192)).unwrap_or_default();
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let Some(status) = lines.next() else {
        return Reply::NotOurs;
    };
    let is_status = status.starts_with(b"SIP/2.0 ")
        && status
            .get(8..11)
            .is_some_and(|c| c.iter().all(u8::is_ascii_digit));
    if !is_status {
        return Reply::NotOurs;
    }
    let (Some(call_id), Some(branch)) = (header(sent, b"call-id", b"i"), branch(sent)) else {
        return Reply::NotOurs;
    };
    let (mut ours, mut server, mut agent, mut allow) = (false, None, None, None);
    for line in lines.take(MAX_LINES) {
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = split_header(line) else {
            continue;
        };
        if is(name, b"call-id", b"i") {
            ours |= value == call_id;
        } else if is(name, b"via", b"v") {
            ours |= contains(value, branch);
        } else if is(name, b"server", b"") {
            server = server.or(Some(value));
        } else if is(name, b"user-agent", b"") {
            agent = agent.or(Some(value));
        } else if is(name, b"allow", b"") {
            allow = allow.or(Some(value));
        }
    }
    if !ours {
        return Reply::NotOurs;
    }
    let software = server.or(agent);
    let (product, version) = software.map(software::split).unwrap_or_default();
    let mut extra = vec![text(status.get(8..).unwrap_or_default()).unwrap_or_default()];
    if let Some(s) = software.and_then(text) {
        extra.push(format!("server {s}"));
    }
    if let Some(a) = allow.and_then(text) {
        extra.push(format!("allow {a}"));
    }
    Reply::Answer(
        Identity::new("sip", 0.95)
            .product(product)
            .version(version)
            .extra(Some(extra.join("; "))),
    )
}

/// `(name, value)` of a header line, the value trimmed.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((
        line.get(..colon)?.trim_ascii(),
        line.get(colon + 1..)?.trim_ascii(),
    ))
}

/// Whether a header name is `long` or its compact form `short` (RFC 3261 §7.3.3).
fn is(name: &[u8], long: &[u8], short: &[u8]) -> bool {
    name.eq_ignore_ascii_case(long) || (!short.is_empty() && name.eq_ignore_ascii_case(short))
}

/// The value of a header of our own request.
fn header<'a>(msg: &'a [u8], long: &[u8], short: &[u8]) -> Option<&'a [u8]> {
    msg.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take(MAX_LINES)
        .filter_map(split_header)
        .find(|(n, _)| is(n, long, short))
        .map(|(_, v)| v)
}

/// The branch parameter of our Via (`z9hG4bK...`).
fn branch(sent: &[u8]) -> Option<&[u8]> {
    let via = header(sent, b"via", b"v")?;
    let start = via.windows(7).position(|w| w == b"z9hG4bK")?;
    let rest = via.get(start..)?;
    let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
    rest.get(..end)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    /// A 200 OK to our OPTIONS as RFC 3261 §11.2 shows it, copying Via, From, Call-ID, CSeq.
    fn reply(sent: &[u8]) -> Vec<u8> {
        let s = String::from_utf8_lossy(sent);
        let get = |name: &str| {
            s.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_default()
                .to_string()
        };
        format!(
            "SIP/2.0 200 OK\r\n{}\r\n{}\r\n{};tag=93810874\r\n{}\r\n{}\r\nServer: Asterisk PBX 20.5.0\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\nContent-Length: 0\r\n\r\n",
            get("Via:"),
            get("From:"),
            get("To:"),
            get("Call-ID:"),
            get("CSeq:")
        )
        .into_bytes()
    }

    #[test]
    fn options_answer() {
        let (_, s) = sent("sip-options");
        let id = answer("sip-options", &s, &reply(&s));
        assert_eq!(id.service, "sip");
        assert_eq!(id.product.as_deref(), Some("Asterisk PBX"));
        assert_eq!(id.version.as_deref(), Some("20.5.0"));
        assert!(
            id.extra
                .unwrap_or_default()
                .starts_with("200 OK; server Asterisk PBX 20.5.0")
        );
        never_panics("sip-options", &s, &reply(&s));
    }

    #[test]
    fn compact_call_id_is_enough() {
        let (_, s) = sent("sip-options");
        let call = header(&s, b"call-id", b"i").expect("call-id");
        let r = [&b"SIP/2.0 404 Not Found\r\ni: "[..], call, b"\r\n\r\n"].concat();
        assert_eq!(
            answer("sip-options", &s, &r).extra.as_deref(),
            Some("404 Not Found")
        );
    }

    #[test]
    fn other_dialogs_and_echo_are_not_ours() {
        let (p, s) = sent("sip-options");
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        let r = b"SIP/2.0 200 OK\r\nCall-ID: someone-else\r\nVia: SIP/2.0/UDP x;branch=z9hG4bKother\r\n\r\n";
        assert_eq!(super::super::identify(&p, &s, r), Reply::NotOurs);
    }
}
