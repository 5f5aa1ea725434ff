//! Layers by keys, and the errors, as one table each.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;

/// Where a case expects a value to come from.
#[derive(Debug, Clone, Copy)]
enum From {
    Default,
    System(usize),
    User(usize),
    Env(&'static str),
    Flag(&'static str),
}

#[derive(Debug)]
enum Expect {
    /// (key, effective value or None for unset, origin).
    Values(&'static [(&'static str, Option<&'static str>, From)]),
    /// The error names this layer's file, this line and column, and says these words.
    Error {
        file: Scope,
        line: usize,
        column: usize,
        says: &'static [&'static str],
    },
}

struct Case {
    name: &'static str,
    system: Option<&'static str>,
    user: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    /// (key, value, flag as typed).
    flags: &'static [(&'static str, &'static str, &'static str)],
    expect: Expect,
}

const CASES: &[Case] = &[
    Case {
        name: "defaults only, no files",
        system: None,
        user: None,
        env: &[],
        flags: &[],
        expect: Expect::Values(&[
            ("color", Some("auto"), From::Default),
            ("store", None, From::Default),
            ("scan.retries", Some("1"), From::Default),
            ("scan.timeout", None, From::Default),
            ("check.timeout", Some("3s"), From::Default),
            ("serve.listen", Some("127.0.0.1:7970"), From::Default),
            ("listening.wide", Some("false"), From::Default),
        ]),
    },
    Case {
        name: "system file only",
        system: Some("color = \"never\"\n\n[scan]\nretries = 3\ntimeout = \"2s\"\n"),
        user: None,
        env: &[],
        flags: &[],
        expect: Expect::Values(&[
            ("color", Some("never"), From::System(1)),
            ("scan.retries", Some("3"), From::System(4)),
            ("scan.timeout", Some("2s"), From::System(5)),
            ("check.timeout", Some("3s"), From::Default),
        ]),
    },
    Case {
        name: "user file over system file, key by key",
        system: Some("color = \"never\"\n[scan]\nretries = 3\nrate = 100\n"),
        user: Some("[scan]\nretries = 0\n"),
        env: &[],
        flags: &[],
        expect: Expect::Values(&[
            ("color", Some("never"), From::System(1)),
            ("scan.retries", Some("0"), From::User(2)),
            ("scan.rate", Some("100"), From::System(4)),
        ]),
    },
    Case {
        name: "dotted keys, names and integers normalised",
        system: None,
        user: Some(
            "scan.timing = \"polite\"\ncheck.timeout = 2\nserve.listen = 8080\ncolor = \"ALWAYS\"\n",
        ),
        env: &[],
        flags: &[],
        expect: Expect::Values(&[
            ("scan.timing", Some("2"), From::User(1)),
            ("check.timeout", Some("2s"), From::User(2)),
            ("serve.listen", Some("8080"), From::User(3)),
            ("color", Some("always"), From::User(4)),
        ]),
    },
    Case {
        name: "environment over the user file",
        system: Some("store = \"/srv/system.sqlite\"\n"),
        user: Some("store = \"/home/u/user.sqlite\"\ndata_dir = \"/home/u/data\"\n"),
        env: &[("PORTENT_STORE", "postgres://portent@db/portent")],
        flags: &[],
        expect: Expect::Values(&[
            (
                "store",
                Some("postgres://portent@db/portent"),
                From::Env("PORTENT_STORE"),
            ),
            ("data_dir", Some("/home/u/data"), From::User(2)),
        ]),
    },
    Case {
        name: "an empty variable is unset",
        system: None,
        user: Some("store = \"/home/u/user.sqlite\"\n"),
        env: &[
            ("PORTENT_STORE", ""),
            ("PORTENT_DATA_DIR", "/var/lib/portent"),
        ],
        flags: &[],
        expect: Expect::Values(&[
            ("store", Some("/home/u/user.sqlite"), From::User(1)),
            (
                "data_dir",
                Some("/var/lib/portent"),
                From::Env("PORTENT_DATA_DIR"),
            ),
        ]),
    },
    Case {
        name: "flag over environment and files",
        system: Some("color = \"never\"\n"),
        user: Some("color = \"always\"\nstore = \"/u.sqlite\"\n"),
        env: &[("PORTENT_STORE", "/env.sqlite")],
        flags: &[
            ("color", "auto", "--color"),
            ("store", "/flag.sqlite", "--store"),
        ],
        expect: Expect::Values(&[
            ("color", Some("auto"), From::Flag("--color")),
            ("store", Some("/flag.sqlite"), From::Flag("--store")),
        ]),
    },
    Case {
        name: "an empty file changes nothing",
        system: Some(""),
        user: Some("# nothing yet\n"),
        env: &[],
        flags: &[],
        expect: Expect::Values(&[("color", Some("auto"), From::Default)]),
    },
    Case {
        name: "wrong type",
        system: None,
        user: Some("[scan]\n\nretries = \"3\"\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 3,
            column: 11,
            says: &["scan.retries must be an integer from 0 to 255", "not \"3\""],
        },
    },
    Case {
        name: "out of range",
        system: Some("[scan]\nthreads = 65\n"),
        user: None,
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::System,
            line: 2,
            column: 11,
            says: &["scan.threads must be an integer from 1 to 64, not the integer 65"],
        },
    },
    Case {
        name: "bad duration",
        system: None,
        user: Some("[check]\ntimeout = \"3 secs\"\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 2,
            column: 11,
            says: &["check.timeout must be a duration", "not \"3 secs\""],
        },
    },
    Case {
        name: "bad choice",
        system: Some("color = \"sometimes\"\n"),
        user: None,
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::System,
            line: 1,
            column: 9,
            says: &["color must be one of \"auto\", \"always\", \"never\""],
        },
    },
    Case {
        name: "relative data_dir",
        system: None,
        user: Some("data_dir = \"data\"\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 1,
            column: 12,
            says: &["data_dir must be an absolute path"],
        },
    },
    Case {
        name: "unknown key with a near miss",
        system: None,
        user: Some("color = \"never\"\n[scan]\nretries = 2\n  timeot = \"2s\"\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 4,
            column: 3,
            says: &["unknown key scan.timeot (did you mean scan.timeout?)"],
        },
    },
    Case {
        name: "a key in the wrong table",
        system: Some("timeout = \"2s\"\n"),
        user: None,
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::System,
            line: 1,
            column: 1,
            says: &["unknown key timeout (did you mean scan.timeout?)"],
        },
    },
    Case {
        name: "an unknown table",
        system: None,
        user: Some("[scan]\nrate = 10\n[scna]\nrate = 10\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 3,
            column: 2,
            says: &["unknown key scna (did you mean scan?)"],
        },
    },
    Case {
        name: "a table that is a value",
        system: None,
        user: Some("scan = 3\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 1,
            column: 8,
            says: &["scan must be a table", "not the integer 3"],
        },
    },
    Case {
        name: "bad TOML syntax, with its line",
        system: Some("color = \"never\"\n[scan\nretries = 1\n"),
        user: None,
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::System,
            line: 2,
            column: 6,
            says: &["not valid TOML"],
        },
    },
    Case {
        name: "a duplicate key is a syntax error",
        system: None,
        user: Some("[scan]\nrate = 1\nrate = 2\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::User,
            line: 3,
            column: 1,
            says: &["not valid TOML"],
        },
    },
    Case {
        name: "an invalid system file stops before the user file",
        system: Some("[serve]\nlisten = \"nowhere\"\n"),
        user: Some("color = \"never\"\n"),
        env: &[],
        flags: &[],
        expect: Expect::Error {
            file: Scope::System,
            line: 2,
            column: 10,
            says: &["serve.listen must be a listen address", "not \"nowhere\""],
        },
    },
];

fn run(case: &Case, dir: &Path) -> (Config, Option<ConfigError>, PathBuf, PathBuf) {
    let system = dir.join("system.toml");
    let xdg = dir.join("xdg");
    let user = xdg.join("portent/config.toml");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    if let Some(text) = case.system {
        std::fs::write(&system, text).unwrap();
    }
    if let Some(text) = case.user {
        std::fs::write(&user, text).unwrap();
    }
    let env = |name: &str| -> Option<OsString> {
        if let Some((_, v)) = case.env.iter().find(|(k, _)| *k == name) {
            return Some(v.into());
        }
        match name {
            SYSTEM_VAR => Some(system.clone().into()),
            "XDG_CONFIG_HOME" => Some(xdg.clone().into()),
            "HOME" => Some("/nonexistent-home".into()),
            _ => None,
        }
    };
    let (mut config, error) = Config::load_partial(&env);
    for (key, value, flag) in case.flags {
        config
            .set_flag(key, Value::Text((*value).to_owned()), flag)
            .unwrap();
    }
    (config, error, system, user)
}

#[test]
fn layers_and_errors() {
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let (config, error, system, user) = run(case, dir.path());
        let name = case.name;
        match &case.expect {
            Expect::Values(rows) => {
                assert!(error.is_none(), "{name}: unexpected error {error:?}");
                for (key, value, from) in *rows {
                    let s = config.get(key).unwrap();
                    assert_eq!(
                        s.value.as_ref().map(Value::to_string).as_deref(),
                        *value,
                        "{name}: value of {key}"
                    );
                    let origin = match from {
                        From::Default => Origin::Default,
                        From::System(line) => Origin::File {
                            path: system.clone(),
                            line: *line,
                        },
                        From::User(line) => Origin::File {
                            path: user.clone(),
                            line: *line,
                        },
                        From::Env(var) => Origin::Env(var),
                        From::Flag(flag) => Origin::Flag((*flag).to_owned()),
                    };
                    assert_eq!(s.origin, origin, "{name}: origin of {key}");
                }
                let states: Vec<FileState> = config.layers.iter().map(|l| l.state).collect();
                let want = |text: Option<&str>| {
                    if text.is_some() {
                        FileState::Read
                    } else {
                        FileState::Missing
                    }
                };
                assert_eq!(
                    states,
                    [want(case.system), want(case.user)],
                    "{name}: layer states"
                );
            }
            Expect::Error {
                file,
                line,
                column,
                says,
            } => {
                let Some(e) = error else {
                    panic!("{name}: no error")
                };
                let path = match file {
                    Scope::System => &system,
                    Scope::User => &user,
                };
                let ConfigError::Invalid {
                    path: p,
                    line: l,
                    column: c,
                    ..
                } = &e
                else {
                    panic!("{name}: not an Invalid error: {e:?}")
                };
                assert_eq!((p, *l, *c), (path, *line, *column), "{name}: where ({e})");
                let message = e.to_string();
                assert!(
                    message
                        .starts_with(&format!("config file {}:{line}:{column}: ", path.display())),
                    "{name}: {message}"
                );
                for words in *says {
                    assert!(
                        message.contains(words),
                        "{name}: {message:?} lacks {words:?}"
                    );
                }
                // Nothing of an invalid layer or the layers above it is applied.
                assert_eq!(config.get("color").unwrap().origin, Origin::Default);
                assert!(
                    Config::load_with(&|n| {
                        match n {
                            SYSTEM_VAR => Some(system.clone().into()),
                            "XDG_CONFIG_HOME" => Some(dir.path().join("xdg").into()),
                            _ => None,
                        }
                    })
                    .is_err()
                );
            }
        }
    }
}

#[test]
fn where_the_files_are() {
    type Env = &'static [(&'static str, &'static str)];
    type User = (Option<&'static str>, &'static str, FileState);
    // (environment, system path and chosen by, user path and chosen by and state)
    let cases: &[(Env, (&str, &str), User)] = &[
        (
            &[("HOME", "/home/u")],
            (SYSTEM_FILE, "built in"),
            (
                Some("/home/u/.config/portent/config.toml"),
                "HOME",
                FileState::Unread,
            ),
        ),
        (
            &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "/cfg")],
            (SYSTEM_FILE, "built in"),
            (
                Some("/cfg/portent/config.toml"),
                "XDG_CONFIG_HOME",
                FileState::Unread,
            ),
        ),
        (
            // A relative XDG_CONFIG_HOME is ignored, as the XDG specification says.
            &[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "cfg")],
            (SYSTEM_FILE, "built in"),
            (
                Some("/home/u/.config/portent/config.toml"),
                "HOME",
                FileState::Unread,
            ),
        ),
        (
            &[
                ("HOME", "/home/u"),
                ("XDG_CONFIG_HOME", "/cfg"),
                (USER_VAR, "/tmp/mine.toml"),
                (SYSTEM_VAR, "/tmp/site.toml"),
            ],
            ("/tmp/site.toml", SYSTEM_VAR),
            (Some("/tmp/mine.toml"), USER_VAR, FileState::Unread),
        ),
        (
            &[(USER_VAR, NO_FILE), (SYSTEM_VAR, "")],
            (SYSTEM_FILE, "built in"),
            (Some(NO_FILE), USER_VAR, FileState::Disabled),
        ),
        (
            &[],
            (SYSTEM_FILE, "built in"),
            (None, "HOME", FileState::NoHome),
        ),
    ];
    for (env, (sys_path, sys_by), (user_path, user_by, user_state)) in cases {
        let lookup = |n: &str| {
            env.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| OsString::from(v))
        };
        let layers = find_layers(&lookup);
        assert_eq!(
            layers[0].path.as_deref(),
            Some(Path::new(sys_path)),
            "{env:?}"
        );
        assert_eq!(layers[0].chosen_by, *sys_by, "{env:?}");
        assert_eq!(
            layers[1].path.as_deref(),
            user_path.map(Path::new),
            "{env:?}"
        );
        assert_eq!(layers[1].chosen_by, *user_by, "{env:?}");
        assert_eq!(layers[1].state, *user_state, "{env:?}");
    }
}

#[test]
fn disabled_and_unreadable_files() {
    let dir = tempfile::tempdir().unwrap();
    // /dev/null is never opened (portent-input refuses devices): the layer is just off.
    let config = Config::load_with(&|n| match n {
        SYSTEM_VAR | USER_VAR => Some(NO_FILE.into()),
        _ => None,
    })
    .unwrap();
    assert!(config.layers.iter().all(|l| l.state == FileState::Disabled));
    // A file where a directory should be: there can be no config file there.
    let f = dir.path().join("plain");
    std::fs::write(&f, "").unwrap();
    let below = f.join("config.toml");
    let config = Config::load_with(&|n| (n == USER_VAR).then(|| below.clone().into())).unwrap();
    assert_eq!(config.layers[1].state, FileState::Missing);
    // A directory where the file should be is an error that names it, not "missing".
    let d = dir.path().to_owned();
    let e = Config::load_with(&|n| (n == USER_VAR).then(|| d.clone().into())).unwrap_err();
    assert!(matches!(e, ConfigError::Read(_)), "{e:?}");
    assert!(e.to_string().contains("config file"), "{e}");
    assert!(e.to_string().contains(&d.display().to_string()), "{e}");
}

#[test]
fn every_default_is_a_valid_value() {
    for key in KEYS {
        assert!(!key.about.is_empty());
        let literal = match key.default {
            Fallback::Unset(_) => continue,
            Fallback::Text(s) => format!("\"{s}\""),
            Fallback::Int(n) => n.to_string(),
            Fallback::Bool(b) => b.to_string(),
        };
        let (table, leaf) = key.name.split_once('.').unwrap_or(("", key.name));
        let text = if table.is_empty() {
            format!("{leaf} = {literal}\n")
        } else {
            format!("[{table}]\n{leaf} = {literal}\n")
        };
        let mut c = Config::defaults();
        c.apply_file(Path::new("t.toml"), &text)
            .unwrap_or_else(|e| panic!("{}: {e}", key.name));
        assert_eq!(
            c.get(key.name).unwrap().value,
            Setting::default_of(key).value
        );
    }
}
