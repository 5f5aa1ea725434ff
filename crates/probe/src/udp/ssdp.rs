//! SSDP (UPnP discovery, 1900/udp): a unicast `M-SEARCH` for `ssdp:all`.
//!
//! A UPnP device answers a search with an HTTP-over-UDP `200 OK` carrying `ST`, `USN`,
//! `LOCATION` and `SERVER` (`OS/version UPnP/1.1 product/version`, UPnP Device Architecture
//! §1.3). The request has no id to echo, so the check is the shape: an HTTP status line and
//! at least one SSDP header. Our own `M-SEARCH` coming back (an echo service) is not SSDP.

use super::{Identity, Reply, software, text};

/// Lines of the reply looked at, at most.
const MAX_LINES: usize = 64;

pub(super) fn identify(_sent: &[u8], reply: &[u8]) -> Reply {
    let head = reply.get(..reply.len().min(4096)).unwrap_or_default();
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let Some(status) = lines.next() else {
        return Reply::NotOurs;
    };
    let ok_status = status.len() >= 12
        && (status.starts_with(b"HTTP/1.1 ") || status.starts_with(b"HTTP/1.0 "))
        && status
            .get(9..12)
            .is_some_and(|c| c.iter().all(u8::is_ascii_digit));
    if !ok_status {
        return Reply::NotOurs;
    }
    let (mut server, mut location, mut st, mut usn) = (None, None, None, None);
    for line in lines.take(MAX_LINES) {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default();
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
        let slot = if name.eq_ignore_ascii_case(b"server") {
            &mut server
        } else if name.eq_ignore_ascii_case(b"location") {
            &mut location
        } else if name.eq_ignore_ascii_case(b"st") {
            &mut st
        } else if name.eq_ignore_ascii_case(b"usn") {
            &mut usn
        } else {
            continue;
        };
        slot.get_or_insert(value);
    }
    let ssdp_headers = [location, st, usn].iter().filter(|h| h.is_some()).count();
    let (product, version) = server.map(software::split).unwrap_or_default();
    let mut extra = Vec::new();
    if let Some(l) = location.and_then(text) {
        extra.push(format!("location {l}"));
    }
    if let Some(s) = st.and_then(text) {
        extra.push(format!("st {s}"));
    }
    if let Some(s) = server.and_then(text) {
        extra.push(format!("server {s}"));
    }
    let confidence = match (ssdp_headers, server.is_some()) {
        (0, false) => 0.5,
        (0, true) => 0.7,
        _ => 0.95,
    };
    Reply::Answer(
        Identity::new("ssdp", confidence)
            .product(product)
            .version(version)
            .extra((!extra.is_empty()).then(|| extra.join("; "))),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    /// A search response in the form of the UPnP Device Architecture 1.1, §1.3.3.
    const REPLY: &str = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nDATE: Sat, 05 Dec 2026 06:00:00 GMT\r\nEXT:\r\nLOCATION: http://10.9.0.2:5000/rootDesc.xml\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nST: upnp:rootdevice\r\nUSN: uuid:00000000-0000-0000-0000-000000000000::upnp:rootdevice\r\nBOOTID.UPNP.ORG: 1\r\n\r\n";

    #[test]
    fn search_response() {
        let (_, s) = sent("ssdp-msearch");
        let id = answer("ssdp-msearch", &s, REPLY.as_bytes());
        assert_eq!(id.service, "ssdp");
        assert_eq!(id.product.as_deref(), Some("MiniUPnPd"));
        assert_eq!(id.version.as_deref(), Some("2.3.1"));
        let extra = id.extra.unwrap_or_default();
        assert!(
            extra.contains("location http://10.9.0.2:5000/rootDesc.xml"),
            "{extra}"
        );
        assert!(id.confidence > 0.9);
    }

    #[test]
    fn echo_and_other_text_are_not_ssdp() {
        let (p, s) = sent("ssdp-msearch");
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        for r in [
            &b"SSH-2.0-x\r\n"[..],
            b"HTTP/1.1 2",
            b"",
            b"HTTP/1.1 abc OK\r\n",
        ] {
            assert_eq!(super::super::identify(&p, &s, r), Reply::NotOurs);
        }
        never_panics("ssdp-msearch", &s, REPLY.as_bytes());
    }
}
