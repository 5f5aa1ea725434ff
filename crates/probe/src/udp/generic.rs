//! Replies to the generic payload (a DNS `version.bind` query, `data/udp/generic.toml`) on
//! ports with no payload of their own. Any datagram back proves the port open, so every
//! reply is an answer; what it says decides how much we know: our datagram reflected (an
//! echo-like service), a DNS answer with our id (DNS on another port, with its version),
//! text (a line protocol), or bytes we do not recognise (`unknown`, no confidence).

use super::{Identity, Reply, dns, text};

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    if reply == sent {
        return Reply::Answer(
            Identity::new("echo", 0.5).extra(Some("reflected our datagram unchanged".to_string())),
        );
    }
    if let Reply::Answer(mut ident) = dns::identify(sent, reply) {
        ident.confidence = ident.confidence.min(0.9);
        return Reply::Answer(ident);
    }
    let printable = !reply.is_empty()
        && reply
            .iter()
            .all(|c| matches!(c, 0x20..=0x7e | b'\r' | b'\n' | b'\t'));
    let extra = if printable {
        text(reply.get(..reply.len().min(120)).unwrap_or_default())
            .map(|t| format!("answered with text: {t}"))
    } else {
        Some(format!(
            "answered with {} bytes we do not recognise",
            reply.len()
        ))
    };
    Reply::Answer(Identity::new("unknown", 0.0).extra(extra))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};

    #[test]
    fn reflection_dns_and_anything_else() {
        let (_, q) = sent("generic-dns-version");
        assert_eq!(answer("generic-dns-version", &q, &q).service, "echo");
        let mut r = q.clone();
        r[2] = 0x80;
        r[3] = 0x05;
        assert_eq!(answer("generic-dns-version", &q, &r).service, "domain");
        let i = answer("generic-dns-version", &q, b"220 hello\r\n");
        assert_eq!((i.service.as_str(), i.confidence), ("unknown", 0.0));
        assert_eq!(i.extra.as_deref(), Some("answered with text: 220 hello"));
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("generic-dns-version");
        never_panics("generic-dns-version", &q, &q);
    }
}
