//! Shared pieces of rendering and start-up: which registry to use, where the user's data lives,
//! styles, and making untrusted text safe for a terminal.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Style};
use anyhow::{Context, Result};
use portent_registry::Registry;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub const HEAD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GOOD: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
pub const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
pub const BAD: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
pub const NAME: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));

/// The width of human output when stdout is not a terminal and COLUMNS is not set.
pub const DEFAULT_WIDTH: usize = 100;

/// The narrowest width output is fitted to: below it, tables keep their fixed columns and
/// lines may be longer.
pub const MIN_WIDTH: usize = 40;

/// The width every human table and page is fitted to: stdout's width when it is a terminal,
/// else `$COLUMNS` when it is a number, else [`DEFAULT_WIDTH`]; never less than
/// [`MIN_WIDTH`]. Read once.
pub fn width() -> usize {
    static WIDTH: OnceLock<usize> = OnceLock::new();
    *WIDTH.get_or_init(|| {
        let tty = terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0));
        let columns = || {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
        };
        tty.filter(|w| *w > 0)
            .or_else(columns)
            .filter(|w| *w > 0)
            .unwrap_or(DEFAULT_WIDTH)
            .max(MIN_WIDTH)
    })
}

/// How many terminal columns `text` takes (CJK characters two, combining marks none). The
/// text should be cleaned first: escapes are not measured.
pub fn text_width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` columns, ending with `…` when it was cut.
pub fn fit(text: &str, max: usize) -> Cow<'_, str> {
    if text_width(text) <= max {
        return Cow::Borrowed(text);
    }
    let mut s = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        used += w;
        s.push(c);
    }
    if max > 0 {
        s.push('\u{2026}');
    }
    Cow::Owned(s)
}

/// `text` padded with spaces on the right to `columns` display columns (left-aligned cell).
pub fn pad(text: &str, columns: usize) -> String {
    let mut s = text.to_owned();
    s.extend(std::iter::repeat_n(
        ' ',
        columns.saturating_sub(text_width(text)),
    ));
    s
}

/// `text` padded with spaces on the left to `columns` display columns (right-aligned cell).
pub fn pad_left(text: &str, columns: usize) -> String {
    let mut s: String = " ".repeat(columns.saturating_sub(text_width(text)));
    s.push_str(text);
    s
}

/// Runs of whitespace as one space, none at the ends: process titles padded with spaces
/// (redis-server) read as what they say.
pub fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `data_dir` from a config file, set once by `main`.
static CONFIGURED_DATA_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Sets the data directory a config file gives (below `$PORTENT_DATA_DIR`).
pub fn set_configured_data_dir(dir: PathBuf) {
    let _ = CONFIGURED_DATA_DIR.set(dir);
}

/// The directory for the user's data (an updated registry): `$PORTENT_DATA_DIR`, else
/// `data_dir` in a config file, else the platform's data directory (`~/.local/share/portent`
/// on Linux).
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PORTENT_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = CONFIGURED_DATA_DIR.get() {
        return Ok(dir.clone());
    }
    directories::ProjectDirs::from("", "", "portent")
        .map(|d| d.data_dir().to_owned())
        .context("cannot find a home directory for portent's data; set PORTENT_DATA_DIR")
}

/// The registry in use: the user's updated snapshot if there is a good one, else the data built
/// into the binary. A damaged snapshot is reported and skipped rather than stopping the
/// command.
pub fn registry() -> Registry {
    let Ok(dir) = data_dir() else {
        return Registry::embedded();
    };
    match portent_registry::snapshot::load(&dir) {
        Ok(Some(r)) => r,
        Ok(None) => Registry::embedded(),
        Err(e) => {
            let _ = writeln!(
                anstream::stderr(),
                "{WARN}warning:{WARN:#} {}; using the registry built into portent",
                clean(&e.to_string(), false)
            );
            Registry::embedded()
        }
    }
}

/// Unicode's explicit direction controls (embeddings, overrides, isolates and marks): in a
/// process name or a banner they can make a terminal show text in another order than it is
/// ("Trojan Source", CVE-2021-42574), so they are escaped like control characters.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// `1 socket`, `2 sockets`: a count with its noun, plural with an `s`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Escapes control characters so that text from the registry file, a peer or a process
/// command line cannot move the cursor, recolour or retitle the terminal. Newlines and tabs
/// are kept when `multiline` is set.
pub fn clean(text: &str, multiline: bool) -> Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && !(multiline && (c == '\n' || c == '\t'))) || is_bidi_control(c)
    };
    if !text.chars().any(bad) {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if bad(c) {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    Cow::Owned(s)
}

/// Cleans and wraps `text` to [`width()`], indenting every line by `indent` spaces.
pub fn wrap(text: &str, indent: usize) -> String {
    wrap_to(text, indent, width())
}

/// Cleans and wraps `text` to `width` columns, indenting every line by `indent` spaces. Words
/// longer than a line (a URL) are broken so that no line is wider.
pub fn wrap_to(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    hang_to(&pad, text, indent, width)
}

/// Cleans and wraps `text` after `first` (a label such as `"  Binding    "`, styles allowed),
/// with the lines after the first indented by `indent` spaces: a hanging indent.
pub fn hang(first: &str, text: &str, indent: usize) -> String {
    hang_to(first, text, indent, width())
}

/// [`hang`] at an explicit width.
pub fn hang_to(first: &str, text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let room = width.max(indent + 20);
    let opts = textwrap::Options::new(room)
        .initial_indent(first)
        .subsequent_indent(&pad)
        .break_words(true);
    textwrap::fill(&clean(text, true), opts)
}

/// Stdout with a block buffer (stdout is line-buffered: a 10,000-row table would be 10,000
/// writes), colour decided as `anstream::stdout()` decides it. Flush it when done.
pub fn buffered_stdout() -> anstream::AutoStream<Box<dyn Write>> {
    let choice = anstream::AutoStream::choice(&std::io::stdout());
    let raw: Box<dyn Write> = Box::new(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout().lock(),
    ));
    anstream::AutoStream::new(raw, choice)
}

/// Writes `value` as pretty JSON and a newline.
pub fn json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(clean("plain", false), "plain");
        assert_eq!(clean("a\x1b[31mb", false), "a\\u{1b}[31mb");
        assert_eq!(clean("a\nb", true), "a\nb");
        assert_eq!(clean("a\nb", false), "a\\nb");
        assert_eq!(clean("\u{9b}x", true), "\\u{9b}x");
        // A right-to-left override would show "gpj.exe" reversed as "exe.jpg".
        assert_eq!(clean("a\u{202e}gpj.exe", false), "a\\u{202e}gpj.exe");
        assert_eq!(clean("\u{2067}x\u{2069}", true), "\\u{2067}x\\u{2069}");
        // Ordinary right-to-left text is left alone.
        assert_eq!(clean("שלום", false), "שלום");
    }

    #[test]
    fn measures_and_fits_by_display_width() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("東京"), 4);
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc\u{2026}");
        // A wide character that would straddle the limit is left out whole.
        assert_eq!(fit("東京都", 4), "東\u{2026}");
        assert!(text_width(&fit("東京都庁舎", 5)) <= 5);
        assert_eq!(pad("東", 4), "東  ");
        assert_eq!(pad_left("東", 4), "  東");
        assert_eq!(squeeze("redis-server *:6379      "), "redis-server *:6379");
        assert_eq!(squeeze("  a   b\tc "), "a b c");
    }

    #[test]
    fn wraps_with_a_hanging_indent_and_no_line_too_wide() {
        let text = "binding needs root or CAP_NET_BIND_SERVICE on this host \
            (net.ipv4.ip_unprivileged_port_start = 1024) https://example.com/a/very/long/path/that/does/not/fit/anywhere/at/all";
        for width in [40, 80, 120] {
            let s = hang_to("  Binding    ", text, 13, width);
            let lines: Vec<&str> = s.lines().collect();
            assert!(lines[0].starts_with("  Binding    binding"));
            for l in &lines[1..] {
                assert!(l.starts_with(&" ".repeat(13)), "{l:?}");
            }
            for l in &lines {
                assert!(text_width(l) <= width, "{width}: {l:?}");
            }
        }
        for l in wrap_to("語 ".repeat(60).as_str(), 4, 50).lines() {
            assert!(text_width(l) <= 50, "{l:?}");
        }
    }
}
