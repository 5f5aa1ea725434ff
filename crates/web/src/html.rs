//! HTML building with escaping by default.
//!
//! Everything shown may come from hostile sources (process command lines, a user-loaded
//! registry file, feedback comments), so pages are built with [`Html`], whose only way to add
//! text is [`Html::text`] (escaped for both element content and quoted attributes). Markup is
//! added with [`Html::raw`], which takes `&'static str` so that no runtime string can slip in as
//! markup by accident.

use std::fmt::Write;

/// Escapes `s` for element content and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    // Fast path: most text (registry rows, our sentences) needs no escaping at all.
    if !s.bytes().any(|b| {
        matches!(
            b,
            b'&' | b'<' | b'>' | b'"' | b'\'' | 0..=0x1f | 0x7f | 0xc2
        )
    }) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters (terminal escapes in a command line) are shown as U+FFFD
            // rather than passed to the browser.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// A page under construction.
#[derive(Debug, Default)]
pub struct Html {
    buf: String,
}

impl Html {
    pub fn with_capacity(n: usize) -> Html {
        Html {
            buf: String::with_capacity(n),
        }
    }

    /// Markup written by us.
    pub fn raw(&mut self, s: &'static str) -> &mut Html {
        self.buf.push_str(s);
        self
    }

    /// Text from anywhere, escaped.
    pub fn text(&mut self, s: &str) -> &mut Html {
        escape_into(&mut self.buf, s);
        self
    }

    /// A number (never needs escaping).
    pub fn num(&mut self, n: impl Into<u64>) -> &mut Html {
        let _ = write!(self.buf, "{}", n.into());
        self
    }

    /// `<tag class="..">text</tag>` with escaped text.
    pub fn el(&mut self, open: &'static str, text: &str, close: &'static str) -> &mut Html {
        self.raw(open).text(text).raw(close)
    }

    /// A link to a path we build (the path is escaped as an attribute too).
    pub fn link(&mut self, href: &str, text: &str) -> &mut Html {
        self.raw("<a href=\"")
            .text(href)
            .raw("\">")
            .text(text)
            .raw("</a>")
    }

    /// A link to an outside source: only http(s) URLs become links; anything else is shown
    /// as text (a `javascript:` URL in a loaded registry file stays inert).
    pub fn source_link(&mut self, url: &str, text: &str) -> &mut Html {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            self.raw("<a rel=\"noopener noreferrer\" href=\"")
                .text(url)
                .raw("\">")
                .text(text)
                .raw("</a>")
        } else {
            self.text(text)
        }
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        assert_eq!(escape("a\u{1b}[31mb"), "a\u{fffd}[31mb");
        // C1 controls (CSI is U+009B) take the slow path too; other Latin-1 text is kept.
        assert_eq!(escape("a\u{9b}31m\u{a0}©"), "a\u{fffd}31m\u{a0}©");
        assert_eq!(escape("plain text 797/tcp"), "plain text 797/tcp");
    }

    #[test]
    fn only_http_sources_are_links() {
        let mut h = Html::default();
        h.source_link("javascript:alert(1)", "x");
        assert_eq!(h.finish(), "x");
        let mut h = Html::default();
        h.source_link("https://e.invalid/?a=\"b\"", "t");
        assert!(
            h.finish()
                .contains("href=\"https://e.invalid/?a=&quot;b&quot;\"")
        );
    }
}
