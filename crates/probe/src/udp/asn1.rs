//! A minimal, bounded BER/DER reader for the UDP parsers that meet ASN.1 (Kerberos, CLDAP).
//!
//! Only what those replies need: one tag byte (low-tag-number form), definite lengths of at
//! most four bytes, and slices into the input. Every step checks bounds, so any bytes give
//! `None` rather than a panic; nothing is allocated.

/// One element: its tag byte and its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tlv<'a> {
    pub tag: u8,
    pub body: &'a [u8],
}

/// Reads one element at the start of `d`; returns it and what follows it.
pub(super) fn read(d: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = d.split_first()?;
    // High-tag-number form (low five bits all set) is not used by the messages we read.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None; // indefinite or absurd lengths
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        (len, rest.get(n..)?)
    };
    let body = rest.get(..len)?;
    Some((Tlv { tag, body }, rest.get(len..)?))
}

/// Reads one element that must carry `tag`.
pub(super) fn expect(d: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, rest) = read(d)?;
    (t.tag == tag).then_some((t.body, rest))
}

/// The elements of a constructed body, in order (at most `max`, so a hostile reply with
/// thousands of tiny elements costs nothing).
pub(super) fn children(mut body: &[u8], max: usize) -> impl Iterator<Item = Tlv<'_>> {
    let mut n = 0;
    std::iter::from_fn(move || {
        if n >= max || body.is_empty() {
            return None;
        }
        n += 1;
        let (t, rest) = read(body)?;
        body = rest;
        Some(t)
    })
}

/// The first child with `tag` (context tags such as `0xa1`).
pub(super) fn field(body: &[u8], tag: u8) -> Option<&[u8]> {
    children(body, 64).find(|t| t.tag == tag).map(|t| t.body)
}

/// A non-negative INTEGER body of at most eight bytes.
pub(super) fn uint(body: &[u8]) -> Option<u64> {
    let trimmed = match body {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => body,
    };
    if body.is_empty() || trimmed.len() > 8 || body.first().is_some_and(|&b| b & 0x80 != 0) {
        return None;
    }
    Some(trimmed.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
}

/// An INTEGER element (tag 2) inside an explicit context tag, read as unsigned.
pub(super) fn ctx_uint(body: &[u8], tag: u8) -> Option<u64> {
    let (int, _) = expect(field(body, tag)?, 0x02)?;
    uint(int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let (t, rest) = read(&[0x04, 0x02, b'h', b'i', 0xff]).expect("tlv");
        assert_eq!((t.tag, t.body, rest), (0x04, &b"hi"[..], &[0xff][..]));
        let mut long = vec![0x30, 0x81, 0x80];
        long.extend([0u8; 0x80]);
        let (t, rest) = read(&long).expect("long form");
        assert_eq!((t.body.len(), rest.len()), (0x80, 0));
        assert!(read(&[0x30, 0x81]).is_none());
        assert!(read(&[0x30, 0x80, 0, 0]).is_none(), "indefinite length");
        assert!(read(&[0x30, 0x85, 1, 1, 1, 1, 1]).is_none());
        assert!(read(&[0x30, 0x05, 1]).is_none(), "body past the end");
        assert!(read(&[0x1f, 0x01, 0x00]).is_none());
    }

    #[test]
    fn integers() {
        assert_eq!(uint(&[0x05]), Some(5));
        assert_eq!(uint(&[0x00, 0x80]), Some(0x80));
        assert_eq!(uint(&[0x80]), None, "negative");
        assert_eq!(uint(&[]), None);
        assert_eq!(uint(&[1; 9]), None);
        assert_eq!(ctx_uint(&[0xa1, 0x03, 0x02, 0x01, 0x05], 0xa1), Some(5));
        assert_eq!(
            children(&[0x02, 0x01, 0x01, 0x02, 0x01, 0x02], 1).count(),
            1
        );
    }
}
