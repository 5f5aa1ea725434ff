//! memcached over UDP (doc/protocol.txt, "UDP protocol"): an 8-byte frame header whose
//! request id the server repeats, then the text protocol's `VERSION <version>\r\n`.

use super::{Identity, Reply, be16, text};

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let (Some(seq), Some(total), Some(body)) = (be16(reply, 2), be16(reply, 4), reply.get(8..))
    else {
        return Reply::NotOurs;
    };
    if sent.get(..2) != reply.get(..2) || total == 0 || seq >= total {
        return Reply::NotOurs;
    }
    let mut ident = Identity::new("memcache", 0.95).product(Some("memcached".to_string()));
    if let Some(v) = body.strip_prefix(b"VERSION ") {
        let line = v
            .split(|b| *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or_default();
        ident = ident.version(text(line));
    } else if body.starts_with(b"ERROR") || body.starts_with(b"SERVER_ERROR") {
        ident.confidence = 0.8;
        ident = ident.extra(text(body.get(..64).unwrap_or(body)));
    } else {
        return Reply::NotOurs;
    }
    Reply::Answer(ident)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    fn reply(q: &[u8], body: &[u8]) -> Vec<u8> {
        let mut r = q[..2].to_vec();
        r.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn version() {
        let (_, q) = sent("memcached-version");
        let i = answer("memcached-version", &q, &reply(&q, b"VERSION 1.6.21\r\n"));
        assert_eq!(
            (i.service.as_str(), i.version.as_deref()),
            ("memcache", Some("1.6.21"))
        );
    }

    #[test]
    fn wrong_id_is_not_ours() {
        let (p, q) = sent("memcached-version");
        let mut r = reply(&q, b"VERSION 1.6.21\r\n");
        r[0] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        assert_eq!(
            super::super::identify(&p, &q, &q),
            Reply::NotOurs,
            "reflected"
        );
    }

    /// Captured from Debian 12's memcached 1.6.18-1 run with `-U 11211`.
    #[test]
    fn captured_memcached() {
        let (_, q) = sent("memcached-version");
        let r = super::super::tests::hex("a1c800000001000056455253494f4e20312e362e31380d0a");
        let i = answer("memcached-version", &q, &r);
        assert_eq!(i.version.as_deref(), Some("1.6.18"));
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("memcached-version");
        never_panics("memcached-version", &q, &reply(&q, b"VERSION 1.6.21\r\n"));
    }
}
