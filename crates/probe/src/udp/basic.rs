//! The small services of 1983: echo (RFC 862) must return exactly our datagram (its random
//! tail proves it is this probe's echo); daytime (RFC 867), QOTD (RFC 865) and chargen
//! (RFC 864) ignore what they get and answer with text of a known shape.

use super::{Identity, Reply, text};

/// Whether `b` is the text these services send: printable ASCII, CR, LF, tab.
fn is_text(b: &[u8]) -> bool {
    b.iter()
        .all(|c| matches!(c, 0x20..=0x7e | b'\r' | b'\n' | b'\t'))
}

/// A reply equal to what we sent, on a port whose service should not reflect.
fn reflected(sent: &[u8], reply: &[u8]) -> Option<Reply> {
    (reply == sent).then(|| {
        Reply::Answer(
            Identity::new("echo", 0.6).extra(Some("reflected our datagram unchanged".to_string())),
        )
    })
}

pub(super) fn identify_echo(sent: &[u8], reply: &[u8]) -> Reply {
    if reply == sent {
        Reply::Answer(Identity::new("echo", 0.95))
    } else {
        Reply::NotOurs
    }
}

pub(super) fn identify_daytime(sent: &[u8], reply: &[u8]) -> Reply {
    if let Some(r) = reflected(sent, reply) {
        return r;
    }
    // One short line with digits in it: "Tuesday, February 22, 1982 17:37:43-PST",
    // "Thu Dec  5 06:10:11 2026\r\n".
    let digits = reply.iter().filter(|b| b.is_ascii_digit()).count();
    if reply.len() < 6 || reply.len() > 256 || !is_text(reply) || digits < 4 {
        return Reply::NotOurs;
    }
    Reply::Answer(Identity::new("daytime", 0.85).extra(text(reply)))
}

pub(super) fn identify_qotd(sent: &[u8], reply: &[u8]) -> Reply {
    if let Some(r) = reflected(sent, reply) {
        return r;
    }
    if reply.is_empty() || reply.len() > 1024 || !is_text(reply) {
        return Reply::NotOurs;
    }
    let first = reply
        .split(|b| *b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or_default();
    Reply::Answer(Identity::new("qotd", 0.8).extra(text(first)))
}

pub(super) fn identify_chargen(sent: &[u8], reply: &[u8]) -> Reply {
    if let Some(r) = reflected(sent, reply) {
        return r;
    }
    if reply.len() > 1024 || !is_text(reply) {
        return Reply::NotOurs;
    }
    // The conventional pattern: within a line each character is the next printable one
    // (wrapping from '~' to ' '). RFC 864 allows any data, so a reply that is only text
    // still counts, with less confidence; so does an empty one (0 characters is allowed).
    let rotating = reply.split(|b| *b == b'\r' || *b == b'\n').all(|line| {
        line.windows(2)
            .all(|w| w[1] == if w[0] == b'~' { b' ' } else { w[0] + 1 })
    });
    let confidence = if reply.len() >= 16 && rotating {
        0.95
    } else {
        0.6
    };
    let sample = reply.get(..reply.len().min(40)).unwrap_or_default();
    Reply::Answer(Identity::new("chargen", confidence).extra(Some(format!(
        "{} characters{}",
        reply.len(),
        text(sample).map(|s| format!(": {s}")).unwrap_or_default()
    ))))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    #[test]
    fn echo_must_be_exact() {
        let (p, q) = sent("echo");
        assert_eq!(answer("echo", &q, &q).service, "echo");
        let mut r = q.clone();
        r[20] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        assert_eq!(super::super::identify(&p, &q, &q[..10]), Reply::NotOurs);
    }

    #[test]
    fn daytime_and_qotd() {
        let (p, q) = sent("daytime");
        let i = answer("daytime", &q, b"Thu Dec  5 06:10:11 2026\r\n");
        assert_eq!(i.extra.as_deref(), Some("Thu Dec  5 06:10:11 2026"));
        assert_eq!(
            super::super::identify(&p, &q, b"\x00\x01binary"),
            Reply::NotOurs
        );
        let (_, q) = sent("qotd");
        let i = answer("qotd", &q, b"\"Quotes are text.\"\r\n  -- someone\r\n");
        assert_eq!(i.service, "qotd");
    }

    #[test]
    fn chargen_pattern() {
        let (_, q) = sent("chargen");
        let line: Vec<u8> = (b'!'..=b'h').collect();
        let mut r = line.clone();
        r.extend_from_slice(b"\r\n");
        let i = answer("chargen", &q, &r);
        assert!(i.confidence > 0.9);
        let i = answer("chargen", &q, b"");
        assert_eq!(i.service, "chargen");
        assert!(i.confidence < 0.9);
    }

    /// Captured from Debian 12's inetutils-inetd 2.4-2+deb12u3 internal services (in a network
    /// namespace): echo, daytime and chargen over UDP.
    #[test]
    fn captured_inetd() {
        let hex = super::super::tests::hex;
        let (_, q) = sent("echo");
        assert_eq!(q, hex("706f7274656e74206563686f20a1c8cfb67d24ab12"));
        assert_eq!(answer("echo", &q, &q).confidence, 0.95);
        let (_, q) = sent("daytime");
        let i = answer(
            "daytime",
            &q,
            &hex("536174204465632020352030363a31393a323120323032360d0a"),
        );
        assert_eq!(i.extra.as_deref(), Some("Sat Dec  5 06:19:21 2026"));
        let (_, q) = sent("chargen");
        let r = hex(
            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60616263646566670d0a",
        );
        let i = answer("chargen", &q, &r);
        assert_eq!(i.confidence, 0.95);
        assert!(i.extra.unwrap_or_default().starts_with("74 characters: "));
    }

    #[test]
    fn garbage_never_panics() {
        for name in ["echo", "daytime", "qotd", "chargen"] {
            let (_, q) = sent(name);
            never_panics(name, &q, b"Thu Dec  5 06:10:11 2026 ~ !\"#\r\n");
        }
    }
}
