//! Product and version out of the free-text software strings several UDP protocols carry
//! (SSDP and SIP `Server`, SIP `User-Agent`, STUN `SOFTWARE`).
//!
//! The forms seen in the specifications are `product/version comment` (HTTP style, RFC 9110
//! and SIP), `OS/version UPnP/1.1 product/version` (the UPnP Device Architecture's SERVER)
//! and `Product Name 1.2.3` (common in STUN). The split is a best effort; the whole string
//! always stays available as the product when no version can be told apart.

use super::text;

/// Splits a software string into product and version, both escaped and capped.
pub(super) fn split(raw: &[u8]) -> (Option<String>, Option<String>) {
    let raw = raw.get(..raw.len().min(512)).unwrap_or_default();
    let tokens: Vec<&[u8]> = raw
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .take(16)
        .collect();
    // UPnP: the token after `UPnP/x.y` names the product.
    if let Some(pos) = tokens
        .iter()
        .position(|t| t.len() > 5 && t[..5].eq_ignore_ascii_case(b"UPnP/"))
        && let Some(product) = tokens.get(pos + 1)
    {
        return slash(product);
    }
    match tokens.as_slice() {
        [] => (None, None),
        [first, ..] if first.contains(&b'/') => slash(first),
        [first, ..] if dash(first).is_some() => dash(first).unwrap_or_default(),
        [.., last] if tokens.len() > 1 && looks_like_version(last) => {
            let end = raw
                .windows(last.len())
                .rposition(|w| w == *last)
                .unwrap_or(raw.len());
            (text(raw.get(..end).unwrap_or_default()), text(last))
        }
        _ => (text(raw), None),
    }
}

/// `name/version` into its halves.
fn slash(token: &[u8]) -> (Option<String>, Option<String>) {
    match token.iter().position(|&b| b == b'/') {
        Some(i) => (
            text(token.get(..i).unwrap_or_default()),
            text(token.get(i + 1..).unwrap_or_default()),
        ),
        None => (text(token), None),
    }
}

/// `Name-1.2.3` (coturn's SOFTWARE) into its halves.
fn dash(token: &[u8]) -> Option<(Option<String>, Option<String>)> {
    let i = token.iter().rposition(|&b| b == b'-')?;
    let version = token.get(i + 1..)?;
    (i > 0 && looks_like_version(version))
        .then(|| (text(token.get(..i).unwrap_or_default()), text(version)))
}

fn looks_like_version(t: &[u8]) -> bool {
    let t = t.strip_prefix(b"v").unwrap_or(t);
    t.first().is_some_and(u8::is_ascii_digit) && t.contains(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str) -> (Option<String>, Option<String>) {
        split(raw.as_bytes())
    }

    #[test]
    fn forms() {
        assert_eq!(
            s("Linux/6.1 UPnP/1.1 MiniUPnPd/2.3.1"),
            (Some("MiniUPnPd".into()), Some("2.3.1".into()))
        );
        assert_eq!(
            s("Asterisk PBX 20.5.0"),
            (Some("Asterisk PBX".into()), Some("20.5.0".into()))
        );
        assert_eq!(
            s("kamailio (5.6.3 (x86_64/linux))"),
            (Some("kamailio (5.6.3 (x86_64/linux))".into()), None)
        );
        assert_eq!(
            s("Coturn-4.6.1 'Gorst' dan Eider"),
            (Some("Coturn".into()), Some("4.6.1".into()))
        );
        assert_eq!(s("a-b c"), (Some("a-b c".into()), None));
        assert_eq!(
            s("FreeSWITCH-mod_sofia/1.10.9"),
            (Some("FreeSWITCH-mod_sofia".into()), Some("1.10.9".into()))
        );
        assert_eq!(s("  "), (None, None));
        assert_eq!(s("x UPnP/1.0"), (Some("x UPnP/1.0".into()), None));
        let _ = split(&[0xff; 2000]);
    }
}
