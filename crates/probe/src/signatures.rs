//! Signatures: data, not code. Each names the reply it applies to (`banner`, `http-server`,
//! `reply`), a regular expression over the raw bytes, and templates for product, version,
//! extra and CPE that may use `$1`..`$9`. The built-in set is `data/signatures/core.toml`;
//! users may load more files of the same format, which are tried first.
//!
//! A user's file is bounded three ways, so a wrong path or a hostile file costs little: it is
//! read through the shared bounded reader (`portent-input`: a regular file of at most
//! [`MAX_FILE_BYTES`]; FIFOs and devices refused), it holds at most [`MAX_SIGNATURES`]
//! signatures, and each pattern compiles to at most [`PATTERN_SIZE_LIMIT`] bytes (a thousand
//! patterns such as `(?s).{1000}x` at regex's 1 MiB default took 2.3 GB and 19 s to compile).

use std::path::Path;

use regex::bytes::Regex;
use serde::Deserialize;

use crate::escape::escape_bytes;

/// Errors loading a signature file. The cause is part of the message and not also chained as
/// `source()`, so a printer of the chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("{0}")]
    Read(portent_input::InputError),
    #[error("{origin} holds more than {max} signatures")]
    TooMany { origin: String, max: usize },
    #[error("parsing signature file {origin}: {err}")]
    Parse {
        origin: String,
        err: toml::de::Error,
    },
    #[error("signature {index} in {origin} ({service}): bad pattern: {err}")]
    Pattern {
        origin: String,
        index: usize,
        service: String,
        err: regex::Error,
    },
    #[error("signature {index} in {origin}: {reason}")]
    Invalid {
        origin: String,
        index: usize,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    signature: Vec<Raw>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    service: String,
    #[serde(default = "default_on")]
    on: String,
    pattern: String,
    product: Option<String>,
    version: Option<String>,
    extra: Option<String>,
    cpe: Option<String>,
    confidence: Option<f32>,
    #[serde(default)]
    busy: bool,
}

fn default_on() -> String {
    "banner".to_string()
}

/// The replies a signature can apply to.
pub const KINDS: &[&str] = &["banner", "reply", "http-server"];

/// One compiled signature.
#[derive(Debug, Clone)]
pub struct Signature {
    pub service: String,
    pub on: String,
    pattern: Regex,
    product: Option<String>,
    version: Option<String>,
    extra: Option<String>,
    cpe: Option<String>,
    pub confidence: f32,
    busy: bool,
}

/// What a signature produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extra: Option<String>,
    pub cpe: Option<String>,
    pub confidence: f32,
    /// The server turned us away for load ("too many connections"): it names the service,
    /// but one connection at a time may learn more.
    pub busy: bool,
}

/// An ordered set of signatures.
#[derive(Debug, Clone, Default)]
pub struct SignatureSet {
    sigs: Vec<Signature>,
}

/// The largest signature file read (the built-in set is about 6 KB).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// The most signatures one file or text may hold (the built-in set has about 30).
pub const MAX_SIGNATURES: usize = 500;

/// The most memory one compiled pattern may take (regex's `size_limit`).
pub const PATTERN_SIZE_LIMIT: usize = 256 << 10;

const SIGNATURE_FILE: portent_input::Input =
    portent_input::Input::new("signature file", MAX_FILE_BYTES);

/// The built-in signatures, shipped in the repository.
pub const CORE: &str = include_str!("../data/signatures/core.toml");

impl SignatureSet {
    /// The built-in set.
    pub fn core() -> Result<SignatureSet, SignatureError> {
        SignatureSet::parse(CORE, "core.toml")
    }

    /// Parses signatures from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<SignatureSet, SignatureError> {
        let file: File = toml::from_str(text).map_err(|err| SignatureError::Parse {
            origin: origin.to_string(),
            err,
        })?;
        if file.signature.len() > MAX_SIGNATURES {
            return Err(SignatureError::TooMany {
                origin: origin.to_string(),
                max: MAX_SIGNATURES,
            });
        }
        let mut sigs = Vec::with_capacity(file.signature.len());
        for (index, raw) in file.signature.into_iter().enumerate() {
            let invalid = |reason: String| SignatureError::Invalid {
                origin: origin.to_string(),
                index,
                reason,
            };
            if !KINDS.contains(&raw.on.as_str()) {
                return Err(invalid(format!(
                    "`on` must be one of {KINDS:?}, not {:?}",
                    raw.on
                )));
            }
            if raw.service.is_empty()
                || !raw.service.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'-'
                        || b == b'_'
                        || b == b'/'
                })
            {
                return Err(invalid(format!(
                    "service {:?} must be a lowercase name",
                    raw.service
                )));
            }
            let confidence = raw.confidence.unwrap_or(0.9);
            if !(0.0..=1.0).contains(&confidence) {
                return Err(invalid("confidence must be within 0..1".to_string()));
            }
            let pattern = regex::bytes::RegexBuilder::new(&raw.pattern)
                .size_limit(PATTERN_SIZE_LIMIT)
                .dfa_size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|err| SignatureError::Pattern {
                    origin: origin.to_string(),
                    index,
                    service: raw.service.clone(),
                    err,
                })?;
            sigs.push(Signature {
                service: raw.service,
                on: raw.on,
                pattern,
                product: raw.product,
                version: raw.version,
                extra: raw.extra,
                cpe: raw.cpe,
                confidence,
                busy: raw.busy,
            });
        }
        Ok(SignatureSet { sigs })
    }

    /// Reads (a regular file of at most [`MAX_FILE_BYTES`]) and parses a file.
    pub fn load(path: &Path) -> Result<SignatureSet, SignatureError> {
        let text = SIGNATURE_FILE
            .read_text(path)
            .map_err(SignatureError::Read)?;
        SignatureSet::parse(&text, &path.display().to_string())
    }

    /// Appends `other`'s signatures after ours.
    pub fn extend(&mut self, other: SignatureSet) {
        self.sigs.extend(other.sigs);
    }

    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// The first signature for reply kind `on` that matches `data`.
    pub fn find(&self, on: &str, data: &[u8]) -> Option<Hit> {
        self.sigs.iter().filter(|s| s.on == on).find_map(|s| {
            let caps = s.pattern.captures(data)?;
            let fill = |t: &Option<String>| {
                t.as_ref()
                    .map(|t| expand(t, &caps))
                    .filter(|v| !v.is_empty())
            };
            Some(Hit {
                service: s.service.clone(),
                product: fill(&s.product),
                version: fill(&s.version),
                extra: fill(&s.extra),
                cpe: fill(&s.cpe),
                confidence: s.confidence,
                busy: s.busy,
            })
        })
    }
}

/// Replaces `$1`..`$9` with escaped captures (a missing group becomes empty).
fn expand(template: &str, caps: &regex::bytes::Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$'
            && let Some(d) = chars.peek().and_then(|d| d.to_digit(10))
        {
            chars.next();
            if let Some(m) = caps.get(d as usize) {
                out.push_str(&escape_bytes(m.as_bytes(), 128));
            }
            continue;
        }
        out.push(c);
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_set_compiles() {
        let set = SignatureSet::core().unwrap();
        assert!(set.len() > 10);
        let hit = set
            .find("banner", b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n")
            .unwrap();
        assert_eq!(hit.service, "ssh");
        assert_eq!(hit.product.as_deref(), Some("OpenSSH"));
        assert_eq!(hit.version.as_deref(), Some("9.6p1 Debian 3"));
    }

    #[test]
    fn rejects_bad_files() {
        assert!(SignatureSet::parse("[[signature]]\nservice='x'\npattern='('\n", "t").is_err());
        assert!(SignatureSet::parse("[[signature]]\nservice='X'\npattern='a'\n", "t").is_err());
        assert!(
            SignatureSet::parse("[[signature]]\nservice='x'\non='nope'\npattern='a'\n", "t")
                .is_err()
        );
    }

    #[test]
    fn hostile_files_are_bounded() {
        // A pattern that compiles to a huge automaton is refused, not built.
        let e = SignatureSet::parse("[[signature]]\nservice='x'\npattern='(?s).{1000}x'\n", "t")
            .unwrap_err();
        assert!(matches!(e, SignatureError::Pattern { .. }), "{e}");
        // More signatures than the cap: refused before any is compiled.
        let many = "[[signature]]\nservice='x'\npattern='a'\n".repeat(MAX_SIGNATURES + 1);
        let e = SignatureSet::parse(&many, "many.toml").unwrap_err();
        assert_eq!(e.to_string(), "many.toml holds more than 500 signatures");
        let at_cap = "[[signature]]\nservice='x'\npattern='a'\n".repeat(MAX_SIGNATURES);
        assert_eq!(
            SignatureSet::parse(&at_cap, "t").unwrap().len(),
            MAX_SIGNATURES
        );
        // Devices are refused by the bounded reader, not read.
        #[cfg(unix)]
        {
            let e = SignatureSet::load(Path::new("/dev/zero")).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("the signature file /dev/zero is a character device"),
                "{e}"
            );
        }
    }
}
