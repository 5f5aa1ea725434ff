//! Steam/Source game servers (27015/udp): the `A2S_INFO` query of Valve's "Server queries".
//!
//! The request is the simple-packet header (four 0xFF bytes), `T` and the string
//! "Source Engine Query". Current servers first answer `S2C_CHALLENGE` (`A`, 0x41, and a
//! 4-byte challenge the client would send back); that reply alone identifies the protocol.
//! Older servers answer `A2S_INFO` directly (`I`, 0x49): protocol byte, then the server
//! name, map, game folder and game as NUL-terminated strings, then the Steam app id. GoldSrc
//! servers may answer in their obsolete `m` (0x6d) form, which starts with the address.
//! The request carries no id, so the check is the reply's shape.

use super::{Identity, Reply, text};

const SIMPLE: [u8; 4] = [0xff; 4];

pub(super) fn identify(_sent: &[u8], reply: &[u8]) -> Reply {
    let Some(rest) = reply.strip_prefix(&SIMPLE[..]) else {
        // Split responses start with 0xFFFFFFFE; only a long info answer would be split.
        if reply.starts_with(&[0xfe, 0xff, 0xff, 0xff]) && reply.len() > 12 {
            return Reply::Answer(Identity::new("a2s", 0.6).extra(Some("split response".into())));
        }
        return Reply::NotOurs;
    };
    match rest.split_first() {
        Some((b'A', challenge)) if challenge.len() == 4 => Reply::Answer(
            Identity::new("a2s", 0.85).extra(Some("S2C_CHALLENGE (challenge requested)".into())),
        ),
        Some((b'I', body)) => info(body, false),
        Some((b'm', body)) => info(body, true),
        _ => Reply::NotOurs,
    }
}

/// The strings of an info reply: `[address,] name, map, folder, game`.
fn info(body: &[u8], goldsrc: bool) -> Reply {
    let body = if goldsrc {
        body
    } else {
        body.get(1..).unwrap_or_default()
    };
    let mut fields = body.split(|&b| b == 0);
    if goldsrc {
        fields.next();
    }
    let strings: Vec<&[u8]> = fields.by_ref().take(4).collect();
    // Five NUL-terminated strings must be there (four after the GoldSrc address).
    let [name, map, folder, game] = strings.as_slice() else {
        return Reply::NotOurs;
    };
    // The game string must be terminated too (something follows its NUL).
    if folder.is_empty() || fields.next().is_none() {
        return Reply::NotOurs;
    }
    let mut extra = Vec::new();
    if let Some(n) = text(name) {
        extra.push(format!("name {n}"));
    }
    if let Some(m) = text(map) {
        extra.push(format!("map {m}"));
    }
    if let Some(f) = text(folder) {
        extra.push(format!("folder {f}"));
    }
    Reply::Answer(
        Identity::new("a2s", 0.95)
            .product(text(game))
            .extra(Some(extra.join("; "))),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    #[test]
    fn challenge_identifies() {
        let (_, s) = sent("a2s-info");
        let r = [0xff, 0xff, 0xff, 0xff, b'A', 0x12, 0x34, 0x56, 0x78];
        let id = answer("a2s-info", &s, &r);
        assert_eq!(id.service, "a2s");
        assert!(id.extra.unwrap_or_default().contains("S2C_CHALLENGE"));
    }

    #[test]
    fn info_reply() {
        let (_, s) = sent("a2s-info");
        let mut r = vec![0xff, 0xff, 0xff, 0xff, b'I', 17];
        r.extend_from_slice(b"My Server\0de_dust2\0csgo\0Counter-Strike: Global Offensive\0");
        r.extend([0xda, 0x02, 3, 24, 0, b'd', b'l', 0, 1]);
        r.extend_from_slice(b"1.38.7.9\0");
        let id = answer("a2s-info", &s, &r);
        assert_eq!(
            id.product.as_deref(),
            Some("Counter-Strike: Global Offensive")
        );
        assert_eq!(
            id.extra.as_deref(),
            Some("name My Server; map de_dust2; folder csgo")
        );
        never_panics("a2s-info", &s, &r);
    }

    #[test]
    fn others_are_not_ours() {
        let (p, s) = sent("a2s-info");
        assert_eq!(
            super::super::identify(&p, &s, &s),
            Reply::NotOurs,
            "our request echoed"
        );
        let short = [0xff, 0xff, 0xff, 0xff, b'A', 1];
        assert_eq!(super::super::identify(&p, &s, &short), Reply::NotOurs);
        assert_eq!(super::super::identify(&p, &s, b"hello"), Reply::NotOurs);
    }
}
