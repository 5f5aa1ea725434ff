//! The `portent` binary: parse the command line, call the library crates, render what they
//! return. Exit codes and broken pipes are handled here, in one place.
//!
//! Errors are escaped here, where they are printed, not where they are made: a message may
//! quote a target token, a file name, a registry field or an OS error, from any crate, and
//! libraries keep the text as it is (the JSON and the web server escape it their own way).
//! So the whole chain goes through `out::clean`, as clap's own errors do when they quote an
//! argument: no input can move the cursor, retitle or recolour the terminal.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

mod args;
mod cmd;
mod man;
mod out;

use args::{Cli, ColorWhen, Command};

/// What a command found, mapped to the documented exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: the answer was found.
    Found,
    /// 1: nothing found (no such port, no search hit, not open).
    Nothing,
    /// 130: stopped by Ctrl-C (what was found so far has been printed).
    Interrupted,
    /// 1 for `diff`: changes were found (ndiff's convention; 0 is no changes).
    Differences,
}

fn main() -> ExitCode {
    match run() {
        Ok(Outcome::Found) => ExitCode::SUCCESS,
        Ok(Outcome::Nothing | Outcome::Differences) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(err) => {
            // A closed pipe (`portent registry export | head`) is the reader's choice, not an
            // error worth a message.
            if err.chain().any(|e| {
                e.downcast_ref::<io::Error>().map(io::Error::kind)
                    == Some(io::ErrorKind::BrokenPipe)
                    || e.downcast_ref::<serde_json::Error>()
                        .and_then(serde_json::Error::io_error_kind)
                        == Some(io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = anstream::stderr();
            let red = anstyle::Style::new()
                .bold()
                .fg_color(Some(anstyle::AnsiColor::Red.into()));
            let message = format!("{err:#}");
            let _ = writeln!(stderr, "{red}error:{red:#} {}", out::clean(&message, false));
            ExitCode::from(2)
        }
    }
}

/// Adds the implied `port` subcommand: `portent 797` means `portent port 797`. It goes after
/// the global `--color` and before any other option, so `portent --json 797` works, and before
/// a `--`, so `portent -- 797` does too.
fn with_implied_port(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let cmd = Cli::command();
    let mut i = 1;
    // Where `port` goes: before the first option that is not the global --color.
    let mut first_option = None;
    while i < argv.len() {
        let s = argv[i].to_string_lossy();
        if s == "--" {
            if i + 1 < argv.len() {
                argv.insert(first_option.unwrap_or(i), "port".into());
            }
            return argv;
        } else if s == "--color" {
            i += 2; // the option and its value
        } else if s.starts_with("--color=") {
            i += 1;
        } else if s.starts_with('-') && s.len() > 1 && !is_number(&s) {
            first_option.get_or_insert(i);
            i += 1;
        } else {
            break;
        }
    }
    if let Some(word) = argv.get(i).map(|w| w.to_string_lossy().into_owned()) {
        let known = word == "help"
            || cmd
                .get_subcommands()
                .any(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word));
        if !known {
            argv.insert(first_option.unwrap_or(i), "port".into());
        }
    }
    argv
}

fn is_number(s: &str) -> bool {
    s.strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn run() -> Result<Outcome> {
    let argv = cmd::scan::nmap_spellings(with_implied_port(std::env::args_os().collect()));
    // First as built: help, version and usage errors need no config file, and `man` and
    // `completions` describe portent itself, not this machine's settings.
    let matches = Cli::command()
        .try_get_matches_from(&argv)
        .unwrap_or_else(|e| clap_exit(&e, &argv));
    let mut config = None;
    let matches = if matches!(matches.subcommand_name(), Some("man" | "completions")) {
        matches
    } else {
        // Then again with the config files' values as the flags' defaults: clap fills in
        // what the command line left out, and a flag given always wins (docs/config.md).
        let c = portent_config::Config::load()?;
        let matches = with_config(Cli::command(), &c)
            .try_get_matches_from(&argv)
            .unwrap_or_else(|e| clap_exit(&e, &argv));
        config = Some(c);
        matches
    };
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| clap_exit(&e, &argv));
    if let Some(config) = &config {
        config_fixups(&mut cli, &matches, config);
    }
    match cli.color {
        ColorWhen::Always => anstream::ColorChoice::Always.write_global(),
        ColorWhen::Never => anstream::ColorChoice::Never.write_global(),
        ColorWhen::Auto => {}
    }
    match cli.command {
        Command::Port(a) => cmd::port::run(&a),
        Command::Search(a) => cmd::search::run(&a),
        Command::Listening(a) => cmd::listening::run(&a),
        Command::Serve(a) => cmd::serve::run(&a),
        Command::Registry(c) => cmd::registry::run(c),
        Command::Scan(a) => cmd::scan::run(&a),
        Command::Check(a) => cmd::check::run(&a),
        Command::History(a) => cmd::memory::history(&a),
        Command::Diff(a) => cmd::memory::diff(&a),
        Command::Fleet(a) => cmd::memory::fleet(&a),
        Command::Show(a) => cmd::memory::show(&a),
        Command::Watch(a) if a.listening => cmd::memory::watch_listening(&a),
        Command::Watch(a) => cmd::memory::watch_scan(&a),
        Command::Completions { shell } => {
            // clap_complete panics when a write fails: generate in memory, then write here,
            // where a closed pipe is an error `main` treats as success.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "portent", &mut script);
            write_stdout(&script)
        }
        Command::Man { command, dir } => man(&command, dir.as_deref()),
        Command::Config(a) => {
            let mut config = config.unwrap_or_else(portent_config::Config::defaults);
            if matches.value_source("color") == Some(ValueSource::CommandLine) {
                let when = format!("{:?}", cli.color).to_lowercase();
                config.set_flag("color", portent_config::Value::Text(when), "--color")?;
            }
            cmd::config::run(&a, &config)
        }
    }
}

/// `cmd` with each value a config file sets as its flag's default. Environment variables
/// stay above the files because the commands read them before these defaults (`--store`,
/// else PORTENT_STORE, else the file's store).
fn with_config(mut cmd: clap::Command, config: &portent_config::Config) -> clap::Command {
    for s in config.settings() {
        let (Some(value), Some(arg)) = (s.from_file(), s.key.arg) else {
            continue;
        };
        // Once per key and process: clap keeps defaults as &'static str.
        let value: &'static str = value.as_arg().leak();
        if s.key.commands.is_empty() {
            cmd = cmd.mut_arg(arg, |a| a.default_value(value));
        } else {
            for sub in s.key.commands {
                cmd = cmd.mut_subcommand(sub, |c| c.mut_arg(arg, |a| a.default_value(value)));
            }
        }
    }
    cmd
}

/// What clap's conflicts do for flags, done for config values, which clap does not treat as
/// given: a file's `scan.top_ports` gives way to ports on the command line, its `scan.open`
/// to `--all`, and a `-T` given on the command line overrides the file's rate, retries and
/// threads (as it would their defaults). The data directory goes where `out::data_dir` finds
/// it.
fn config_fixups(cli: &mut Cli, matches: &clap::ArgMatches, config: &portent_config::Config) {
    if let Some(portent_config::Value::Text(dir)) =
        config.get("data_dir").and_then(|s| s.from_file())
    {
        out::set_configured_data_dir(std::path::PathBuf::from(dir));
    }
    let (scan, m) = match (&mut cli.command, matches.subcommand()) {
        (Command::Scan(a), Some((_, m))) => (a, m),
        (Command::Watch(w), Some((_, m))) => (&mut w.scan, m),
        _ => return,
    };
    let given = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
    let from_file = |id: &str| m.value_source(id) == Some(ValueSource::DefaultValue);
    if given("all") && from_file("open") {
        scan.open = false;
    }
    if (given("port") || given("ports") || given("fast")) && from_file("top_ports") {
        scan.top_ports = None;
    }
    if given("timing") {
        if from_file("rate") {
            scan.rate = None;
        }
        if from_file("retries") {
            scan.retries = None;
        }
        if from_file("threads") {
            scan.threads = None;
        }
    }
}

/// Prints a clap error (or help) and exits as clap would. clap quotes the offending argument
/// as given, and strips escape sequences only when stderr is not a terminal; so when any
/// argument holds a control or direction character, the error is made again from the
/// arguments escaped by `out::clean`, and that one is printed (still in clap's words and
/// colours).
fn clap_exit(e: &clap::Error, argv: &[std::ffi::OsString]) -> ! {
    let escaped: Vec<String> = argv
        .iter()
        .map(|a| out::clean(&a.to_string_lossy(), false).into_owned())
        .collect();
    if escaped.iter().zip(argv).any(|(x, a)| a.to_str() != Some(x)) {
        let again = Cli::command()
            .try_get_matches_from(&escaped)
            .and_then(|m| Cli::from_arg_matches(&m));
        if let Err(e2) = again {
            e2.exit()
        }
        // Escaping made it parse (it was not UTF-8, say): clap's plain text, escaped.
        let plain = e.render().to_string();
        let _ = anstream::stderr().write_all(out::clean(&plain, true).as_bytes());
        std::process::exit(e.exit_code());
    }
    e.exit()
}

/// `portent man [COMMAND...] [--dir DIR]`: one page to stdout, or every page into DIR.
fn man(path: &[String], dir: Option<&std::path::Path>) -> Result<Outcome> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Building gives each command its full name (`portent-scan`), which titles its page.
    cmd.build();
    match man::pages(cmd, path, dir)? {
        Some(page) => write_stdout(&page),
        None => Ok(Outcome::Found),
    }
}

/// Writes generated text to stdout; errors (a closed pipe among them) go back to `main`.
fn write_stdout(bytes: &[u8]) -> Result<Outcome> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(Outcome::Found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        with_implied_port(words.iter().map(Into::into).collect())
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn implied_port() {
        assert_eq!(argv(&["portent", "797"]), ["portent", "port", "797"]);
        assert_eq!(argv(&["portent", "ldap"]), ["portent", "port", "ldap"]);
        assert_eq!(argv(&["portent", "-1"]), ["portent", "port", "-1"]);
        assert_eq!(
            argv(&["portent", "--color=never", "797", "--json"]),
            ["portent", "--color=never", "port", "797", "--json"]
        );
        assert_eq!(
            argv(&["portent", "search", "x"]),
            ["portent", "search", "x"]
        );
        assert_eq!(argv(&["portent", "s", "x"]), ["portent", "s", "x"]);
        assert_eq!(argv(&["portent", "--help"]), ["portent", "--help"]);
        assert_eq!(argv(&["portent", "help"]), ["portent", "help"]);
        assert_eq!(argv(&["portent"]), ["portent"]);
        assert_eq!(
            argv(&["portent", "--color", "never", "797"]),
            ["portent", "--color", "never", "port", "797"]
        );
        assert_eq!(
            argv(&["portent", "--json", "797"]),
            ["portent", "port", "--json", "797"]
        );
        assert_eq!(
            argv(&["portent", "--color", "never", "--json", "797"]),
            ["portent", "--color", "never", "port", "--json", "797"]
        );
        assert_eq!(
            argv(&["portent", "--", "797"]),
            ["portent", "port", "--", "797"]
        );
        assert_eq!(
            argv(&["portent", "--", "-1"]),
            ["portent", "port", "--", "-1"]
        );
        assert_eq!(
            argv(&["portent", "--json", "--", "797"]),
            ["portent", "port", "--json", "--", "797"]
        );
        assert_eq!(argv(&["portent", "--"]), ["portent", "--"]);
        assert_eq!(argv(&["portent", "--version"]), ["portent", "--version"]);
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every key of the example file (every key there is) names a flag its commands have, and
    /// its value parses as that flag's: the defaults clap gets from a file are its own kind.
    #[test]
    fn config_values_are_flag_defaults() {
        let example: String = include_str!("../debian/config.toml")
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| !k.contains(' ')) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut config = portent_config::Config::defaults();
        config
            .apply_file(std::path::Path::new("example.toml"), &example)
            .unwrap();
        let cmd = with_config(Cli::command(), &config);
        cmd.clone().debug_assert();
        for key in portent_config::KEYS {
            let (Some(arg), Some(value)) = (key.arg, config.get(key.name).unwrap().from_file())
            else {
                continue;
            };
            let commands: Vec<&str> = if key.commands.is_empty() {
                vec!["port"]
            } else {
                key.commands.to_vec()
            };
            for sub in commands {
                // The fewest words each command takes.
                let mut argv = vec!["portent", sub];
                match sub {
                    "scan" | "port" | "check" => argv.push("127.0.0.1"),
                    "history" | "diff" => {}
                    "show" => argv.push("last"),
                    "watch" => argv.push("127.0.0.1"),
                    _ => {}
                }
                let m = cmd.clone().try_get_matches_from(&argv).unwrap();
                let (_, sm) = m.subcommand().unwrap();
                let (m, id) = if key.commands.is_empty() {
                    (&m, arg)
                } else {
                    (sm, arg)
                };
                assert_eq!(
                    m.value_source(id),
                    Some(ValueSource::DefaultValue),
                    "{} for {sub}",
                    key.name
                );
                let raw: Vec<String> = m
                    .get_raw(id)
                    .unwrap()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                assert_eq!(raw, [value.as_arg()], "{} for {sub}", key.name);
                Cli::from_arg_matches(&cmd.clone().try_get_matches_from(&argv).unwrap()).unwrap();
            }
        }
    }
}
