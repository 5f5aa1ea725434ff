//! Config files end to end: the real binary with the system and user files, XDG_CONFIG_HOME,
//! HOME and the data directory all pointed into a temporary directory (never the real /etc
//! or home), checking `portent config --json`'s origins, that commands honour the files
//! under the environment and flags, and that an invalid file stops them with its line.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A sandbox: `system.toml` is the system file, `xdg/portent/config.toml` the user file.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let s = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(s.user().parent().unwrap()).unwrap();
        std::fs::create_dir_all(s.path("home")).unwrap();
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn system(&self) -> PathBuf {
        self.path("system.toml")
    }

    fn user(&self) -> PathBuf {
        self.path("xdg/portent/config.toml")
    }

    fn write(&self, path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
    }

    /// The binary with only this sandbox's files and no PORTENT_ variables from outside.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_portent"));
        c.args(args)
            .env("PORTENT_CONFIG_SYSTEM", self.system())
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("HOME", self.path("home"))
            .env("PORTENT_DATA_DIR", self.path("data"))
            .env_remove("PORTENT_CONFIG")
            .env_remove("PORTENT_STORE")
            .env_remove("NO_COLOR");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run portent")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn json(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

fn setting<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {doc}"))
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn config_json_shows_each_layer_and_origin() {
    let s = Sandbox::new();
    s.write(
        &s.system(),
        "color = \"never\"\nstore = \"/srv/system.sqlite\"\n[scan]\nretries = 3\nrate = 100\n",
    );
    s.write(&s.user(), "# mine\n[scan]\nretries = 0\n");
    let doc = json(
        &s.command(&["--color", "always", "config", "--json"])
            .env("PORTENT_STORE", "/env/store.sqlite")
            .output()
            .unwrap(),
    );
    let file =
        |path: &Path, line: u64| serde_json::json!({ "kind": "file", "path": path, "line": line });
    // (key, value, origin)
    let expected = [
        (
            "color",
            serde_json::json!("always"),
            serde_json::json!({ "kind": "flag", "flag": "--color" }),
        ),
        (
            "store",
            serde_json::json!("/env/store.sqlite"),
            serde_json::json!({ "kind": "env", "var": "PORTENT_STORE" }),
        ),
        ("scan.retries", serde_json::json!(0), file(&s.user(), 3)),
        ("scan.rate", serde_json::json!(100), file(&s.system(), 5)),
        (
            "check.timeout",
            serde_json::json!("3s"),
            serde_json::json!({ "kind": "default" }),
        ),
        (
            "scan.timeout",
            Value::Null,
            serde_json::json!({ "kind": "default" }),
        ),
    ];
    for (key, value, origin) in expected {
        let got = setting(&doc, key);
        assert_eq!(got["value"], value, "{key}: {got}");
        assert_eq!(got["origin"], origin, "{key}: {got}");
    }
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files[0]["state"], "read");
    assert_eq!(files[0]["chosen_by"], "PORTENT_CONFIG_SYSTEM");
    assert_eq!(files[1]["state"], "read");
    assert_eq!(files[1]["chosen_by"], "XDG_CONFIG_HOME");
    assert_eq!(files[1]["path"], serde_json::json!(s.user()));

    // Without XDG_CONFIG_HOME, the user file is under HOME; PORTENT_CONFIG overrides both,
    // and /dev/null turns a layer off.
    let home_file = s.path("home/.config/portent/config.toml");
    std::fs::create_dir_all(home_file.parent().unwrap()).unwrap();
    s.write(&home_file, "[check]\nretries = 4\n");
    let doc = json(
        &s.command(&["config", "--json"])
            .env_remove("XDG_CONFIG_HOME")
            .output()
            .unwrap(),
    );
    assert_eq!(
        setting(&doc, "check.retries")["origin"],
        file(&home_file, 2)
    );
    let other = s.path("other.toml");
    s.write(&other, "listening.wide = true\n");
    let doc = json(
        &s.command(&["config", "--json"])
            .env("PORTENT_CONFIG", &other)
            .env("PORTENT_CONFIG_SYSTEM", "/dev/null")
            .output()
            .unwrap(),
    );
    assert_eq!(setting(&doc, "listening.wide")["value"], true);
    assert_eq!(setting(&doc, "listening.wide")["origin"], file(&other, 1));
    assert_eq!(setting(&doc, "scan.rate")["value"], Value::Null);
    assert_eq!(doc["files"][0]["state"], "disabled");
    assert_eq!(doc["files"][1]["chosen_by"], "PORTENT_CONFIG");

    // The human table says the same.
    let o = s.run(&["config"]);
    assert_eq!(o.status.code(), Some(0));
    let table = text(&o.stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with("scan.retries "))
        .unwrap();
    assert!(
        line.ends_with(&format!("{}:3", s.user().display())),
        "{line}"
    );
}

#[test]
fn commands_honour_the_files_under_env_and_flags() {
    let s = Sandbox::new();
    let port = closed_port().to_string();

    // Colour: the file's "always", then a flag's "never" over it.
    s.write(&s.system(), "color = \"always\"\n");
    let o = s.run(&["port", "22"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("\x1b["), "no colour from the file");
    let o = s.run(&["--color", "never", "port", "22"]);
    assert!(!text(&o.stdout).contains("\x1b["), "--color never lost");

    // A scan: top_ports and open from the user file; -p and --all on the command line win.
    s.write(&s.user(), "[scan]\ntop_ports = 1\nopen = true\n");
    let doc = json(&s.run(&["scan", "127.0.0.1", "--json", "-q", "--no-save"]));
    assert_eq!(doc["ports"]["count"], 1, "{}", doc["ports"]);
    assert_eq!(doc["listing"], "open");
    let doc = json(&s.run(&[
        "scan",
        "127.0.0.1",
        "-p",
        &port,
        "--all",
        "--json",
        "-q",
        "--no-save",
    ]));
    assert_eq!(doc["ports"]["list"], port.as_str());
    assert_ne!(doc["listing"], "open");

    // The store: the file's, unless PORTENT_STORE names another.
    let from_file = s.path("file.sqlite");
    let from_env = s.path("env.sqlite");
    s.write(&s.user(), &format!("store = \"{}\"\n", from_file.display()));
    let scan = ["scan", "127.0.0.1", "-p", &port, "-q"];
    let o = s
        .command(&scan)
        .env("PORTENT_STORE", &from_env)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(from_env.exists() && !from_file.exists());
    let o = s.run(&scan);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(from_file.exists());
    let doc = json(&s.run(&["history", "--json"]));
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(doc["store"], format!("sqlite:{}", from_file.display()));

    // The data directory: the file's, below PORTENT_DATA_DIR; the default store is in it.
    let data = s.path("configured-data");
    s.write(&s.user(), &format!("data_dir = \"{}\"\n", data.display()));
    let o = s
        .command(&["history", "--json"])
        .env_remove("PORTENT_DATA_DIR")
        .output()
        .unwrap();
    // (No runs there: exit 1, nothing found, with the document all the same.)
    let doc = |o: &Output| -> Value {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(
        doc(&o)["store"],
        format!("sqlite:{}", data.join("store.sqlite").display())
    );
    let doc = doc(&s.run(&["history", "--json"]));
    assert_eq!(
        doc["store"],
        format!("sqlite:{}", s.path("data").join("store.sqlite").display())
    );
}

#[test]
fn an_invalid_file_stops_every_command_with_its_line() {
    let s = Sandbox::new();
    s.write(&s.system(), "[scan]\nretries = 1\n");
    // (user file, line:column, words)
    let cases = [
        (
            "[scan]\nretries = 1\n  timeot = \"2s\"\n",
            "3:3",
            "unknown key scan.timeot (did you mean scan.timeout?)",
        ),
        (
            "color = \"never\"\n[check]\nretries = \"2\"\n",
            "3:11",
            "check.retries must be an integer from 0 to 255, not \"2\"",
        ),
        ("[scan\n", "1:6", "not valid TOML"),
    ];
    for (file, at, words) in cases {
        s.write(&s.user(), file);
        let place = format!("{}:{at}: ", s.user().display());
        for args in [
            &["port", "22"][..],
            &["config"],
            &["config", "--check"],
            &["scan", "127.0.0.1", "-p", "1", "--no-save"],
        ] {
            let o = s.run(args);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert!(o.stdout.is_empty(), "{args:?}");
            assert!(err.contains(&place), "{args:?}: {err}");
            assert!(err.contains(words), "{args:?}: {err}");
        }
        // What describes portent itself still works.
        for args in [&["man"][..], &["--help"], &["completions", "bash"]] {
            assert_eq!(s.run(args).status.code(), Some(0), "{args:?}");
        }
    }
    // A valid file: --check says so.
    s.write(&s.user(), "color = \"never\"\n");
    let o = s.run(&["config", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(&s.user().display().to_string()));
}

#[test]
fn the_example_sets_every_key_and_the_docs_name_them() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/debian/config.toml");
    let uncommented: String = std::fs::read_to_string(example)
        .unwrap()
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            // `# key = value`: a key is one lowercase word.
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                }) =>
            {
                rest.to_owned()
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let s = Sandbox::new();
    s.write(&s.system(), &uncommented);
    // (PORTENT_DATA_DIR would be above the example's data_dir.)
    let doc = json(
        &s.command(&["config", "--json"])
            .env_remove("PORTENT_DATA_DIR")
            .output()
            .unwrap(),
    );
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"))
            .unwrap();
    for setting in doc["settings"].as_array().unwrap() {
        let key = setting["key"].as_str().unwrap();
        assert_eq!(
            setting["origin"]["kind"], "file",
            "{key} is not in crates/cli/debian/config.toml"
        );
        let leaf = key.rsplit('.').next().unwrap();
        assert!(
            docs.contains(&format!("| `{leaf}` |")),
            "docs/config.md has no row for {key}"
        );
    }
}
