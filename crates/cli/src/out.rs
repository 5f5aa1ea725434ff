//! Shared pieces of rendering and start-up: which registry to use, where the user's data lives,
//! styles, and making untrusted text safe for a terminal.

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use anstyle::{AnsiColor, Style};
use anyhow::{Context, Result};
use portent_registry::Registry;

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

/// Width text is wrapped to.
pub const WIDTH: usize = 96;

/// The directory for the user's data (an updated registry): `$PORTENT_DATA_DIR`, else the
/// platform's data directory (`~/.local/share/portent` on Linux).
pub fn data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PORTENT_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
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

/// Cleans and wraps `text` to [`WIDTH`], indenting every line by `indent` spaces.
pub fn wrap(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let opts = textwrap::Options::new(WIDTH.saturating_sub(indent).max(30))
        .initial_indent(&pad)
        .subsequent_indent(&pad);
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
}
