//! Peer bytes made safe to print: everything outside printable ASCII becomes an escape, so no
//! peer can move a cursor, recolour a terminal or smuggle invalid UTF-8 into JSON.

/// Escapes `bytes` as printable ASCII (`\r`, `\n`, `\t`, `\\`, `\xNN`), stopping once the
/// output would pass `max_chars`; a cut is marked with a trailing `...`.
pub fn escape_bytes(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::with_capacity(bytes.len().min(max_chars) + 4);
    for &b in bytes {
        let piece: std::borrow::Cow<'static, str> = match b {
            b'\\' => "\\\\".into(),
            b'\r' => "\\r".into(),
            b'\n' => "\\n".into(),
            b'\t' => "\\t".into(),
            0x20..=0x7e => char::from(b).to_string().into(),
            _ => format!("\\x{b:02x}").into(),
        };
        if out.len() + piece.len() > max_chars {
            out.push_str("...");
            return out;
        }
        out.push_str(&piece);
    }
    out
}

/// Escapes a string the peer chose (a header, a title) for display: control characters and
/// non-ASCII become escapes; the result is at most about `max_chars` long.
pub fn escape_text(text: &str, max_chars: usize) -> String {
    escape_bytes(text.as_bytes(), max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_high_bytes() {
        assert_eq!(
            escape_bytes(b"a\x1b[31m\r\n\xff\\", 100),
            "a\\x1b[31m\\r\\n\\xff\\\\"
        );
    }

    #[test]
    fn caps_length() {
        let s = escape_bytes(&[0u8; 1000], 20);
        assert!(s.len() <= 23, "{s}");
        assert!(s.ends_with("..."));
    }
}
