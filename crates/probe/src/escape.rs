//! Peer bytes made safe to print: no peer can move a cursor, recolour a terminal, reorder
//! text with direction overrides or smuggle invalid UTF-8 into JSON. Raw bytes (banners)
//! keep printable ASCII only; text already decoded (titles, headers) keeps printable Unicode,
//! so a page titled "Café – Start" reads as such.

/// Escapes `bytes` as printable ASCII (`\r`, `\n`, `\t`, `\\`, `\xNN`), stopping once the
/// output would pass `max_chars`; a cut is marked with a trailing `...`.
pub fn escape_bytes(bytes: &[u8], max_chars: usize) -> String {
    escape_with(bytes, max_chars, true)
}

/// The evidence form of `bytes`: as [`escape_bytes`], but line breaks and tabs are kept as
/// they are, so that JSON escapes a banner's `\r\n` once (as `"\r\n"`), not twice. Whoever
/// prints evidence on a terminal escapes those three there (the CLI's `out::clean`).
pub fn evidence_text(bytes: &[u8], max_chars: usize) -> String {
    escape_with(bytes, max_chars, false)
}

fn escape_with(bytes: &[u8], max_chars: usize, escape_breaks: bool) -> String {
    let mut out = String::with_capacity(bytes.len().min(max_chars) + 4);
    for &b in bytes {
        let piece: std::borrow::Cow<'static, str> = match b {
            b'\\' => "\\\\".into(),
            b'\r' | b'\n' | b'\t' if !escape_breaks => char::from(b).to_string().into(),
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
/// Unicode direction controls become escapes, other characters are kept; the result is at
/// most about `max_chars` characters long.
pub fn escape_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4) + 4);
    let mut used = 0;
    for c in text.chars() {
        let piece: std::borrow::Cow<'static, str> = match c {
            '\\' => "\\\\".into(),
            '\r' => "\\r".into(),
            '\n' => "\\n".into(),
            '\t' => "\\t".into(),
            c if c.is_control() && u32::from(c) < 0x100 => {
                format!("\\x{:02x}", u32::from(c)).into()
            }
            c if c.is_control() || is_direction_control(c) => {
                format!("\\u{{{:x}}}", u32::from(c)).into()
            }
            c => c.to_string().into(),
        };
        let n = piece.chars().count();
        if used + n > max_chars {
            out.push_str("...");
            return out;
        }
        used += n;
        out.push_str(&piece);
    }
    out
}

/// Unicode's explicit direction controls (embeddings, overrides, isolates, marks): they can
/// make a terminal or page show text in another order than it is (CVE-2021-42574).
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
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
    fn text_keeps_unicode_and_escapes_controls_and_overrides() {
        assert_eq!(escape_text("Café – Start", 100), "Café – Start");
        assert_eq!(escape_text("Moved \x1b[2J", 100), "Moved \\x1b[2J");
        assert_eq!(escape_text("a\u{202e}gpj.exe", 100), "a\\u{202e}gpj.exe");
        assert_eq!(escape_text("\u{85}x", 100), "\\x85x");
        assert_eq!(escape_text("ééééé", 3), "ééé...");
    }

    #[test]
    fn caps_length() {
        let s = escape_bytes(&[0u8; 1000], 20);
        assert!(s.len() <= 23, "{s}");
        assert!(s.ends_with("..."));
    }
}
