//! portent's configuration files: where they are, what keys they may hold, and where each
//! effective value came from.
//!
//! Values are layered, each layer above the ones before it:
//!
//! 1. the defaults built into portent;
//! 2. the system file, `/etc/portent/config.toml` (or the file `PORTENT_CONFIG_SYSTEM` names);
//! 3. the user's file, `$XDG_CONFIG_HOME/portent/config.toml`, else
//!    `$HOME/.config/portent/config.toml` (or the file `PORTENT_CONFIG` names);
//! 4. environment variables (`PORTENT_STORE`, `PORTENT_DATA_DIR`), as before files existed;
//! 5. flags on the command line, applied by the CLI ([`Config::set_flag`] records them).
//!
//! The two override variables work as git's `GIT_CONFIG_SYSTEM` and `GIT_CONFIG_GLOBAL` do:
//! they name another file, and `/dev/null` means no file at all. An empty value counts as
//! unset, as it does for every other `PORTENT_*` variable. A file that does not exist is no
//! error (most machines have none), nor is one this user cannot even look for (a directory
//! above it not searchable, as under root's HOME with `sudo -u`); a file that exists and
//! cannot be read, is not TOML, or holds a key portent does not know or a value of the wrong
//! kind is an error that names the file, the line and column, and the key ([`ConfigError`]),
//! so that a typo never goes unnoticed and quietly changes nothing.
//!
//! Files are read through `portent-input`, with the same size cap and file-type check as
//! every other file portent reads, and parsed with `toml`'s span-keeping parser, which is what
//! gives errors their line and column.
//!
//! The keys ([`KEYS`]) are the defaults a user would want to set once and not type again,
//! each one a flag or environment variable that already exists, so the file adds no behaviour
//! of its own: it only changes defaults. They are grouped as the commands are (`[scan]`,
//! `[check]`, `[serve]`, `[listening]`, and the top level for what every command shares).
//! Values are checked here as far as can be done without the network (durations, ranges,
//! choices, the shape of a listen address); what the CLI checks further (a listen host name
//! that does not resolve, a store URL) is reported when the command runs.
//!
//! This crate never prints, exits or panics: the CLI decides what to do with an error, and
//! applies the values to its flags (as defaults clap then treats like its own, so an explicit
//! flag always wins).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use portent_input::{Input, InputError};

/// The system-wide file.
pub const SYSTEM_FILE: &str = "/etc/portent/config.toml";
/// Names another system file (`/dev/null`: none).
pub const SYSTEM_VAR: &str = "PORTENT_CONFIG_SYSTEM";
/// Names another user file (`/dev/null`: none).
pub const USER_VAR: &str = "PORTENT_CONFIG";
/// The value of [`SYSTEM_VAR`] or [`USER_VAR`] that means "no file".
pub const NO_FILE: &str = "/dev/null";
/// The largest config file read (a config file is a few hundred bytes).
pub const MAX_SIZE: u64 = 1 << 20;

const INPUT: Input = Input::new("config file", MAX_SIZE);

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any string.
    Text,
    /// An absolute path.
    Path,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A duration: `"500ms"`, `"2s"`, `"1m"`, or a number of seconds.
    Duration,
    /// An integer in this range.
    Count { min: u64, max: u64 },
    /// true or false.
    Bool,
    /// nmap's timing template: 0-5 or its name.
    Timing,
    /// A listen address: `ADDRESS:PORT`, `[IPv6]:PORT`, `localhost:PORT` or a port.
    Listen,
}

impl Kind {
    /// What a value must be, for messages ("an integer from 0 to 255").
    pub fn expected(&self) -> String {
        match self {
            Kind::Text => "a string".into(),
            Kind::Path => "an absolute path (a string)".into(),
            Kind::Choice(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
                format!("one of {}", quoted.join(", "))
            }
            Kind::Duration => "a duration such as \"500ms\", \"2s\" or \"1m\" (a bare number is \
                               seconds), at most 24h"
                .into(),
            Kind::Count { min, max } => format!("an integer from {min} to {max}"),
            Kind::Bool => "true or false".into(),
            Kind::Timing => format!(
                "a timing template: an integer from 0 to 5, or one of {}",
                TIMING
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::Listen => {
                "a listen address: \"ADDRESS:PORT\", \"[IPv6]:PORT\", \"localhost:PORT\" or a \
                 port number"
                    .into()
            }
        }
    }
}

const TIMING: [&str; 6] = [
    "paranoid",
    "sneaky",
    "polite",
    "normal",
    "aggressive",
    "insane",
];

/// A key's value when no layer sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// No value: the command decides, as said here ("derived from round trips").
    Unset(&'static str),
    Text(&'static str),
    Int(u64),
    Bool(bool),
}

/// One key a config file may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The dotted name: `color`, `scan.timeout`.
    pub name: &'static str,
    pub kind: Kind,
    pub default: Fallback,
    /// The flag it gives a default to, as typed (`--timeout`, `-T`).
    pub flag: Option<&'static str>,
    /// The flag's clap id (the field name in the CLI's args).
    pub arg: Option<&'static str>,
    /// The commands whose flag it is; empty for a global flag.
    pub commands: &'static [&'static str],
    /// The environment variable that sits above the files for this key.
    pub env: Option<&'static str>,
    /// One line on what it does.
    pub about: &'static str,
}

/// The commands that save runs, or read the store: those with `--store`.
const STORE_COMMANDS: &[&str] = &[
    "scan",
    "check",
    "listening",
    "serve",
    "history",
    "diff",
    "show",
    "watch",
    "fleet",
];
/// `watch` repeats a scan with the scan's flags, so `[scan]` is its default too.
const SCAN_COMMANDS: &[&str] = &["scan", "watch"];

/// Every key, in the order `portent config` shows them.
pub const KEYS: &[Key] = &[
    Key {
        name: "color",
        kind: Kind::Choice(&["auto", "always", "never"]),
        default: Fallback::Text("auto"),
        flag: Some("--color"),
        arg: Some("color"),
        commands: &[],
        env: None,
        about: "when to use colour (auto: on a terminal, unless NO_COLOR is set)",
    },
    Key {
        name: "store",
        kind: Kind::Text,
        default: Fallback::Unset("store.sqlite in the data directory"),
        flag: Some("--store"),
        arg: Some("store"),
        commands: STORE_COMMANDS,
        env: Some("PORTENT_STORE"),
        about: "where runs are saved and read: sqlite:PATH, a file path, or postgres://USER@HOST/DB",
    },
    Key {
        name: "host_id",
        kind: Kind::Text,
        default: Fallback::Unset("the host name and the first 12 digits of /etc/machine-id"),
        flag: Some("--host-id"),
        arg: Some("host_id"),
        commands: &["scan", "check", "listening", "watch"],
        env: Some("PORTENT_HOST_ID"),
        about: "the host identity saved with each run, which the fleet view groups by",
    },
    Key {
        name: "data_dir",
        kind: Kind::Path,
        default: Fallback::Unset("$XDG_DATA_HOME/portent, else ~/.local/share/portent"),
        flag: None,
        arg: None,
        commands: &[],
        env: Some("PORTENT_DATA_DIR"),
        about: "the data directory: an updated registry, the default store, feedback",
    },
    Key {
        name: "scan.timeout",
        kind: Kind::Duration,
        default: Fallback::Unset("derived from round trips"),
        flag: Some("--timeout"),
        arg: Some("timeout"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "a fixed timeout per connection attempt",
    },
    Key {
        name: "scan.retries",
        kind: Kind::Count { min: 0, max: 255 },
        default: Fallback::Int(1),
        flag: Some("--retries"),
        arg: Some("retries"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "attempts after the first for a port that stays silent (also --max-retries)",
    },
    Key {
        name: "scan.rate",
        kind: Kind::Count {
            min: 1,
            max: u32::MAX as u64,
        },
        default: Fallback::Unset("no cap: the pace follows the replies"),
        flag: Some("--rate"),
        arg: Some("rate"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "at most this many connection attempts per second (also --max-rate)",
    },
    Key {
        name: "scan.timing",
        kind: Kind::Timing,
        default: Fallback::Unset("none: 3 and 4 are the default pace"),
        flag: Some("-T"),
        arg: Some("timing"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "nmap's timing template (2 polite, 5 insane); rate, retries and threads win over it",
    },
    Key {
        name: "scan.threads",
        kind: Kind::Count { min: 1, max: 64 },
        default: Fallback::Unset("one per CPU, at most 4"),
        flag: Some("--threads"),
        arg: Some("threads"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "threads driving connection attempts",
    },
    Key {
        name: "scan.top_ports",
        kind: Kind::Count { min: 1, max: 65535 },
        default: Fallback::Unset("all 65,535 TCP ports"),
        flag: Some("--top-ports"),
        arg: Some("top_ports"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "scan the N ports most worth a first look when no ports are given (-p, --ports, -F)",
    },
    Key {
        name: "scan.open",
        kind: Kind::Bool,
        default: Fallback::Bool(false),
        flag: Some("--open"),
        arg: Some("open"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "list only open ports (--all on the command line still lists every port)",
    },
    Key {
        name: "scan.detect_timeout",
        kind: Kind::Duration,
        default: Fallback::Text("5s"),
        flag: Some("--detect-timeout"),
        arg: Some("detect_timeout"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "longest detection of one port (--detect), all probes included",
    },
    Key {
        name: "scan.detect_concurrency",
        kind: Kind::Count { min: 1, max: 65535 },
        default: Fallback::Int(64),
        flag: Some("--detect-concurrency"),
        arg: Some("detect_concurrency"),
        commands: SCAN_COMMANDS,
        env: None,
        about: "ports detected at the same time (--detect)",
    },
    Key {
        name: "check.timeout",
        kind: Kind::Duration,
        default: Fallback::Text("3s"),
        flag: Some("--timeout"),
        arg: Some("timeout"),
        commands: &["check"],
        env: None,
        about: "how long to wait for an answer per attempt",
    },
    Key {
        name: "check.retries",
        kind: Kind::Count { min: 0, max: 255 },
        default: Fallback::Int(1),
        flag: Some("--retries"),
        arg: Some("retries"),
        commands: &["check"],
        env: None,
        about: "attempts after the first when there is no answer",
    },
    Key {
        name: "check.detect_timeout",
        kind: Kind::Duration,
        default: Fallback::Text("5s"),
        flag: Some("--detect-timeout"),
        arg: Some("detect_timeout"),
        commands: &["check"],
        env: None,
        about: "longest detection of the port, all probes included",
    },
    Key {
        name: "serve.listen",
        kind: Kind::Listen,
        default: Fallback::Text("127.0.0.1:7970"),
        flag: Some("--listen"),
        arg: Some("listen"),
        commands: &["serve"],
        env: None,
        about: "where portent serve listens (a non-loopback address still needs --public)",
    },
    Key {
        name: "listening.wide",
        kind: Kind::Bool,
        default: Fallback::Bool(false),
        flag: Some("--wide"),
        arg: Some("wide"),
        commands: &["listening"],
        env: None,
        about: "show whole command lines instead of cutting them to fit",
    },
];

/// The tables a file may have.
const SECTIONS: &[&str] = &["scan", "check", "serve", "listening"];

/// The key called `name` (`scan.timeout`).
pub fn key(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// A value, as set by some layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Int(u64),
    Bool(bool),
}

impl Value {
    /// The value as a flag's argument would spell it.
    pub fn as_arg(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(s) => f.write_str(s),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built into portent.
    Default,
    /// A config file, and the line of the value.
    File { path: PathBuf, line: usize },
    /// An environment variable.
    Env(&'static str),
    /// A flag on the command line, as typed.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A key's effective value and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: &'static Key,
    /// None when nothing sets it and its default is [`Fallback::Unset`].
    pub value: Option<Value>,
    pub origin: Origin,
}

impl Setting {
    fn default_of(key: &'static Key) -> Setting {
        let value = match key.default {
            Fallback::Unset(_) => None,
            Fallback::Text(s) => Some(Value::Text(s.to_owned())),
            Fallback::Int(n) => Some(Value::Int(n)),
            Fallback::Bool(b) => Some(Value::Bool(b)),
        };
        Setting {
            key,
            value,
            origin: Origin::Default,
        }
    }

    /// The value when a config file set it (the CLI gives these to its flags as defaults;
    /// defaults and environment variables it already knows).
    pub fn from_file(&self) -> Option<&Value> {
        match self.origin {
            Origin::File { .. } => self.value.as_ref(),
            _ => None,
        }
    }
}

/// Which layer a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    System,
    User,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::System => "system",
            Scope::User => "user",
        })
    }
}

/// What became of a layer's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Read, and every key in it valid.
    Read,
    /// There is no such file (no error).
    Missing,
    /// The override variable says `/dev/null`: no file for this layer.
    Disabled,
    /// No user file: neither XDG_CONFIG_HOME nor HOME is set.
    NoHome,
    /// A directory above the file cannot be searched by this user: not read, no error.
    Unsearchable,
    /// Not looked at yet (a layer below it was invalid).
    Unread,
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileState::Read => "read",
            FileState::Missing => "missing",
            FileState::Disabled => "disabled",
            FileState::NoHome => "none (no HOME)",
            FileState::Unsearchable => "not searchable",
            FileState::Unread => "not read",
        })
    }
}

/// One config file layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub scope: Scope,
    /// The file (None when there is no home directory to look in).
    pub path: Option<PathBuf>,
    /// What chose the path: an override variable, XDG_CONFIG_HOME, HOME, or "built in".
    pub chosen_by: &'static str,
    pub state: FileState,
}

/// Why a config file was not used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read (permissions, not a regular file, too large, not UTF-8).
    #[error(transparent)]
    Read(#[from] InputError),
    /// It is not valid: the file, where, and what is wrong.
    #[error("config file {}:{line}:{column}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        problem: Problem,
    },
    /// A flag's value, recorded with [`Config::set_flag`], named no key.
    #[error("no config key is called {0}")]
    NoSuchKey(String),
}

/// What is wrong in a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not valid TOML: {0}")]
    Syntax(String),
    #[error(
        "unknown key {key}{}; `portent config` and docs/config.md list the keys",
        suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default()
    )]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("{key} must be {expected}, not {found}")]
    BadValue {
        key: String,
        expected: String,
        found: String,
    },
}

/// The effective configuration: every key's value and origin, and the files looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub layers: Vec<Layer>,
    settings: Vec<Setting>,
}

impl Config {
    /// The defaults alone: no file, no environment.
    pub fn defaults() -> Config {
        Config {
            layers: Vec::new(),
            settings: KEYS.iter().map(Setting::default_of).collect(),
        }
    }

    /// Reads the layers this process's environment points to.
    pub fn load() -> Result<Config, ConfigError> {
        Config::load_with(&|name| std::env::var_os(name))
    }

    /// Reads the layers the environment `env` points to (a lookup, for tests).
    pub fn load_with(env: &dyn Fn(&str) -> Option<OsString>) -> Result<Config, ConfigError> {
        let (config, error) = Config::load_partial(env);
        match error {
            Some(e) => Err(e),
            None => Ok(config),
        }
    }

    /// As [`load_with`](Self::load_with), but also the layers and values found before an
    /// error (for `portent config`, which shows which files it read).
    pub fn load_partial(env: &dyn Fn(&str) -> Option<OsString>) -> (Config, Option<ConfigError>) {
        let mut config = Config::defaults();
        config.layers = find_layers(env);
        for i in 0..config.layers.len() {
            let Some(path) = config.layers[i].path.clone() else {
                continue;
            };
            if config.layers[i].state != FileState::Unread {
                continue;
            }
            match INPUT.read_text(&path) {
                Ok(text) => {
                    if let Err(e) = config.apply_file(&path, &text) {
                        return (config, Some(e));
                    }
                    config.layers[i].state = FileState::Read;
                }
                Err(e)
                    if matches!(
                        e.io_kind(),
                        Some(std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
                    ) =>
                {
                    config.layers[i].state = FileState::Missing;
                }
                // A directory above the file cannot be searched (`sudo -u nobody` keeping
                // root's HOME): whether there is a file cannot be known, and this user could
                // not have put one there; as git does for its user files, that is no error.
                // A file that is there but unreadable still is one.
                Err(e)
                    if e.io_kind() == Some(std::io::ErrorKind::PermissionDenied)
                        && std::fs::metadata(&path).is_err() =>
                {
                    config.layers[i].state = FileState::Unsearchable;
                }
                Err(e) => return (config, Some(e.into())),
            }
        }
        for setting in &mut config.settings {
            let Some(var) = setting.key.env else { continue };
            let Some(value) = env(var).filter(|v| !v.to_string_lossy().trim().is_empty()) else {
                continue;
            };
            setting.value = Some(Value::Text(value.to_string_lossy().into_owned()));
            setting.origin = Origin::Env(var);
        }
        (config, None)
    }

    /// Every key's setting, in [`KEYS`] order.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// The setting of the key called `name`.
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key.name == name)
    }

    /// Records that a flag set `name` on the command line: the top layer.
    pub fn set_flag(&mut self, name: &str, value: Value, flag: &str) -> Result<(), ConfigError> {
        let setting = self
            .settings
            .iter_mut()
            .find(|s| s.key.name == name)
            .ok_or_else(|| ConfigError::NoSuchKey(name.to_owned()))?;
        setting.value = Some(value);
        setting.origin = Origin::Flag(flag.to_owned());
        Ok(())
    }

    /// Applies one file's text (read from `path`, which errors name) over the layers so far.
    /// On an error nothing of this file is applied.
    pub fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let invalid = |offset: usize, problem: Problem| {
            let (line, column) = line_col(text, offset);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                problem,
            }
        };
        let doc = toml::de::DeTable::parse(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            invalid(offset, Problem::Syntax(e.message().trim().to_owned()))
        })?;
        // (dotted name, key offset, value offset, value), in file order.
        let mut entries = Vec::new();
        for (k, v) in doc.get_ref() {
            let name: &str = k.get_ref();
            if SECTIONS.contains(&name) {
                let Some(table) = v.get_ref().as_table() else {
                    return Err(invalid(
                        v.span().start,
                        Problem::BadValue {
                            key: name.to_owned(),
                            expected: format!("a table (a [{name}] line, then key = value lines)"),
                            found: describe(v.get_ref()),
                        },
                    ));
                };
                for (k2, v2) in table {
                    let inner: &str = k2.get_ref();
                    entries.push((format!("{name}.{inner}"), k2.span().start, v2));
                }
            } else {
                entries.push((name.to_owned(), k.span().start, v));
            }
        }
        entries.sort_by_key(|e| e.1);
        let mut new = Vec::new();
        for (name, key_at, v) in entries {
            let Some(key) = key(&name) else {
                return Err(invalid(
                    key_at,
                    Problem::UnknownKey {
                        suggestion: suggest(&name),
                        key: name,
                    },
                ));
            };
            let value = check(key, v.get_ref()).map_err(|found| {
                invalid(
                    v.span().start,
                    Problem::BadValue {
                        key: name.clone(),
                        expected: key.kind.expected(),
                        found,
                    },
                )
            })?;
            let (line, _) = line_col(text, key_at);
            new.push((key, value, line));
        }
        for (key, value, line) in new {
            if let Some(s) = self.settings.iter_mut().find(|s| s.key == key) {
                s.value = Some(value);
                s.origin = Origin::File {
                    path: path.to_owned(),
                    line,
                };
            }
        }
        Ok(())
    }
}

/// The system and user layers, as the environment places them.
pub fn find_layers(env: &dyn Fn(&str) -> Option<OsString>) -> Vec<Layer> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let chosen = |var: &'static str, value: OsString, scope: Scope| {
        let path = PathBuf::from(value);
        let state = if path == Path::new(NO_FILE) {
            FileState::Disabled
        } else {
            FileState::Unread
        };
        Layer {
            scope,
            path: Some(path),
            chosen_by: var,
            state,
        }
    };
    let system = match set(SYSTEM_VAR) {
        Some(v) => chosen(SYSTEM_VAR, v, Scope::System),
        None => Layer {
            scope: Scope::System,
            path: Some(PathBuf::from(SYSTEM_FILE)),
            chosen_by: "built in",
            state: FileState::Unread,
        },
    };
    let user = if let Some(v) = set(USER_VAR) {
        chosen(USER_VAR, v, Scope::User)
    } else {
        // The XDG base directory specification: a relative XDG_CONFIG_HOME is ignored.
        let xdg = set("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let (path, chosen_by) = match (xdg, set("HOME")) {
            (Some(dir), _) => (Some(dir.join("portent/config.toml")), "XDG_CONFIG_HOME"),
            (None, Some(home)) => (
                Some(PathBuf::from(home).join(".config/portent/config.toml")),
                "HOME",
            ),
            (None, None) => (None, "HOME"),
        };
        Layer {
            scope: Scope::User,
            state: if path.is_some() {
                FileState::Unread
            } else {
                FileState::NoHome
            },
            path,
            chosen_by,
        }
    };
    vec![system, user]
}

/// A TOML value as a message names it.
fn describe(v: &toml::de::DeValue<'_>) -> String {
    use toml::de::DeValue;
    match v {
        DeValue::String(s) => format!("\"{}\"", s.escape_debug()),
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Float(f) => format!("the number {}", f.as_str()),
        DeValue::Boolean(b) => format!("{b} (a boolean)"),
        DeValue::Datetime(d) => format!("the date {d}"),
        DeValue::Array(_) => "an array".into(),
        DeValue::Table(_) => "a table".into(),
    }
}

/// The integer `v` holds, if it holds one that fits.
fn integer(v: &toml::de::DeValue<'_>) -> Option<i128> {
    let i = v.as_integer()?;
    let digits = i.as_str().replace('_', "");
    i128::from_str_radix(&digits, i.radix()).ok()
}

/// Checks a value against its key's kind: the value to use, or what was found instead.
fn check(key: &Key, v: &toml::de::DeValue<'_>) -> Result<Value, String> {
    let bad = || describe(v);
    match key.kind {
        Kind::Text => v
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(|s| Value::Text(s.to_owned()))
            .ok_or_else(bad),
        Kind::Path => v
            .as_str()
            .filter(|s| Path::new(s).is_absolute())
            .map(|s| Value::Text(s.to_owned()))
            .ok_or_else(bad),
        Kind::Choice(words) => v
            .as_str()
            .and_then(|s| words.iter().find(|w| w.eq_ignore_ascii_case(s.trim())))
            .map(|w| Value::Text((*w).to_owned()))
            .ok_or_else(bad),
        Kind::Duration => {
            let text = match v {
                toml::de::DeValue::String(s) => s.trim().to_owned(),
                toml::de::DeValue::Integer(_) => format!("{}s", integer(v).ok_or_else(bad)?),
                toml::de::DeValue::Float(f) => format!("{}s", f.as_str()),
                _ => return Err(bad()),
            };
            if duration_ok(&text) {
                Ok(Value::Text(text))
            } else {
                Err(bad())
            }
        }
        Kind::Count { min, max } => integer(v)
            .filter(|n| (i128::from(min)..=i128::from(max)).contains(n))
            .and_then(|n| u64::try_from(n).ok())
            .map(Value::Int)
            .ok_or_else(bad),
        Kind::Bool => v.as_bool().map(Value::Bool).ok_or_else(bad),
        Kind::Timing => {
            if let Some(n) = integer(v) {
                return u64::try_from(n)
                    .ok()
                    .filter(|n| *n <= 5)
                    .map(Value::Int)
                    .ok_or_else(bad);
            }
            let s = v.as_str().ok_or_else(bad)?.trim();
            s.parse::<u64>()
                .ok()
                .filter(|n| *n <= 5)
                .or_else(|| {
                    TIMING
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(s))
                        .map(|i| i as u64)
                })
                .map(Value::Int)
                .ok_or_else(bad)
        }
        Kind::Listen => {
            let text = match v {
                toml::de::DeValue::String(s) => s.trim().to_owned(),
                toml::de::DeValue::Integer(_) => integer(v).ok_or_else(bad)?.to_string(),
                _ => return Err(bad()),
            };
            if listen_ok(&text) {
                Ok(Value::Text(text))
            } else {
                Err(bad())
            }
        }
    }
}

/// The duration syntax of the command line (`portent_scan::parse_duration`, which this
/// mirrors so that a file is checked when it is read, not when a scan starts).
fn duration_ok(t: &str) -> bool {
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let Ok(n) = num.parse::<f64>() else {
        return false;
    };
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "us" | "µs" => n / 1e6,
        _ => return false,
    };
    secs.is_finite() && (0.0..=86_400.0).contains(&secs)
}

/// The shape `serve --listen` takes; whether a host name resolves is checked when serving.
fn listen_ok(s: &str) -> bool {
    if s.parse::<u16>().is_ok() || s.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}

/// A known key for an unknown one: the same name in another table (`timeout` for
/// `scan.timeout`), else the nearest name at most two edits away.
fn suggest(name: &str) -> Option<String> {
    let leaf = name.rsplit('.').next().unwrap_or(name);
    if let Some(k) = KEYS
        .iter()
        .find(|k| k.name.rsplit('.').next() == Some(leaf) && k.name != name)
    {
        return Some(k.name.to_owned());
    }
    KEYS.iter()
        .map(|k| k.name)
        .chain(SECTIONS.iter().copied())
        .map(|n| (edits(name, n), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.to_owned())
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
