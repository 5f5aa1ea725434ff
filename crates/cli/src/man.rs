//! The manual pages: clap_mangen's sections from the command line definition, then EXIT STATUS,
//! ENVIRONMENT, FILES, SEE ALSO and EXAMPLES written here. What differs per command (exit
//! statuses and examples) is in one table, [`PAGES`]; the rest is the same on every page.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// One command's own part of its page.
struct Page {
    /// The words after `portent` ("" for portent's own page, "registry" for every
    /// `registry` command's page).
    command: &'static str,
    /// (status, meaning), in order.
    exit: &'static [(&'static str, &'static str)],
    /// (command line, what it does).
    examples: &'static [(&'static str, &'static str)],
}

const USAGE: (&str, &str) = (
    "2",
    "an error: bad input or a usage error (the message says what), an unreadable file, an \
     invalid config file (its file, line and key are named), a store that cannot be opened",
);

/// Every command's exit statuses and examples. A command without its own entry (`registry
/// update`) uses its parent's.
const PAGES: &[Page] = &[
    Page {
        command: "",
        exit: &[
            (
                "0",
                "the answer was found (for scan: the scan completed, open ports or not)",
            ),
            (
                "1",
                "nothing found: no such port for a service name, no search hit, nothing listening that matches, a port not open (check), changes found (diff, as ndiff)",
            ),
            USAGE,
            (
                "130",
                "a scan, or a check's detection, was stopped by Ctrl-C (what was found so far is printed)",
            ),
        ],
        examples: &[
            (
                "portent 797",
                "what port 797 is, and why an open one matters",
            ),
            (
                "portent search netinfo",
                "ranked search of names, descriptions and notes",
            ),
            (
                "portent listening",
                "what listens here: owners, registry meaning, flags",
            ),
            (
                "portent scan 192.0.2.7",
                "all 65,535 TCP ports, unprivileged; open ones explained",
            ),
            (
                "portent check host.example 797",
                "can this machine reach the port, and what speaks there",
            ),
        ],
    },
    Page {
        command: "port",
        exit: &[
            ("0", "the port page (or the range) was printed"),
            (
                "1",
                "a service name registered without a port, or without one on the protocol asked for (ssh/dccp)",
            ),
            USAGE,
        ],
        examples: &[
            (
                "portent 797",
                "the port page: registry, range, notes, why it matters, how to check",
            ),
            (
                "portent port ldap",
                "by service name (also 797/tcp, tcp/797, 797:tcp, ldap/udp)",
            ),
            ("portent 20-25", "a range: one line per port; at most 1024"),
            ("portent 797 --json", "the same as JSON"),
        ],
    },
    Page {
        command: "search",
        exit: &[
            ("0", "at least one match"),
            ("1", "no match"),
            ("2", "an error: an empty search, -n 0, a usage error"),
        ],
        examples: &[
            (
                "portent search netinfo",
                "ranked search of names, descriptions and notes",
            ),
            (
                "portent search remote desktop --json",
                "whole words and word starts rank first",
            ),
        ],
    },
    Page {
        command: "listening",
        exit: &[
            ("0", "at least one socket matched"),
            (
                "1",
                "no socket matched (portent listening 797 when nothing listens on 797)",
            ),
            USAGE,
        ],
        examples: &[
            (
                "portent listening",
                "what listens here: owners, registry meaning, flags",
            ),
            (
                "portent listening 797",
                "only port 797; exit 1 if nothing listens",
            ),
            (
                "portent listening -tlnp",
                "ss habits: -t -u, -4 -6; -l -n -p accepted",
            ),
            (
                "portent listening --ghosts",
                "only ports the registry does not provide for",
            ),
            (
                "sudo portent listening --netns blue",
                "inside the ip netns namespace blue",
            ),
        ],
    },
    Page {
        command: "serve",
        exit: &[
            (
                "0",
                "the server was stopped by Ctrl-C (it runs until stopped)",
            ),
            (
                "2",
                "an error: the address cannot be bound, a non-loopback address without --public, a usage error",
            ),
        ],
        examples: &[
            ("portent serve", "the pages on http://127.0.0.1:7970/ports"),
            ("portent serve --listen 127.0.0.1:8080", "another port"),
            (
                "portent serve --listen 0.0.0.0:7970 --public --allow-host mybox.lan",
                "on the LAN, also as mybox.lan",
            ),
        ],
    },
    Page {
        command: "registry",
        exit: &[("0", "done"), USAGE],
        examples: &[
            (
                "portent registry info",
                "which registry data is in use, its date, counts",
            ),
            (
                "portent registry export",
                "JSON Lines: every (port, protocol)",
            ),
            (
                "portent registry update --file service-names-port-numbers.csv",
                "load a newer IANA copy",
            ),
            ("portent registry reset", "back to the built-in data"),
        ],
    },
    Page {
        command: "scan",
        exit: &[
            ("0", "the scan completed, open ports or not (as nmap)"),
            USAGE,
            ("130", "stopped by Ctrl-C: the results so far are printed"),
        ],
        examples: &[
            (
                "portent scan 192.0.2.7",
                "all 65,535 TCP ports, unprivileged; open ones explained",
            ),
            (
                "portent scan host.example -p ssh,http,797,770",
                "ports by number, range or service name",
            ),
            (
                "portent scan HOST -p 22,80,443,797 --detect",
                "also what speaks on each open port (also -sV)",
            ),
            (
                "sudo portent scan HOST -sS -p-",
                "SYN scan on raw sockets (root or CAP_NET_RAW; IPv4 and IPv6)",
            ),
            (
                "portent scan HOST -sU",
                "UDP: the ports portent has payloads for",
            ),
            (
                "portent scan 192.0.2.7 --csv --all -oX scan.xml",
                "CSV on stdout, nmap XML for ndiff",
            ),
            (
                "portent scan 10.0.0.0/16 -p- --shard 3/8 --scan-name nightly --store postgres://scanner@db/portent",
                "one shard of eight, merged with the others into the run named nightly (docs/scale.md)",
            ),
            (
                "portent scan 10.0.0.0/16 -p- --scan-name big --resume",
                "continue the named scan from its last checkpoint after Ctrl-C, kill or a lost node",
            ),
        ],
    },
    Page {
        command: "check",
        exit: &[
            ("0", "the port is open"),
            ("1", "the port is not open"),
            USAGE,
            (
                "130",
                "stopped by Ctrl-C while detecting (the connection result is printed)",
            ),
        ],
        examples: &[
            (
                "portent check host.example 797",
                "Test-NetConnection, then what speaks there",
            ),
            (
                "portent check HOST 443 --no-detect",
                "only the connection test",
            ),
            (
                "portent check HOST 53/udp",
                "one UDP port: open, closed, or inconclusive",
            ),
        ],
    },
    Page {
        command: "history",
        exit: &[
            ("0", "runs (or a port's life) were found"),
            ("1", "nothing stored"),
            USAGE,
        ],
        examples: &[
            ("portent history", "stored runs, newest first"),
            (
                "portent history 192.0.2.7 22",
                "the life of one port on a host",
            ),
        ],
    },
    Page {
        command: "fleet",
        exit: &[
            ("0", "hosts were found"),
            ("1", "no listening snapshot is stored"),
            USAGE,
        ],
        examples: &[
            (
                "portent fleet --store postgres://reader@db/portent",
                "every host saving listening snapshots: ghosts, exposed listeners, changes",
            ),
            (
                "portent fleet --json",
                "the same as portent serve's /api/fleet",
            ),
        ],
    },
    Page {
        command: "diff",
        exit: &[("0", "no changes"), ("1", "changes (as ndiff)"), USAGE],
        examples: &[
            (
                "portent diff",
                "what changed between the last two scans of the same targets",
            ),
            (
                "portent diff --listening",
                "what started or stopped listening since the last snapshot",
            ),
        ],
    },
    Page {
        command: "show",
        exit: &[("0", "the run was printed"), USAGE],
        examples: &[
            ("portent show last --json", "a stored run again"),
            (
                "portent show nightly",
                "a scan merged from its shards, with the shards still missing",
            ),
            (
                "portent show last~1 -oX old.xml",
                "a stored scan as nmap XML",
            ),
        ],
    },
    Page {
        command: "watch",
        exit: &[("0", "stopped by Ctrl-C"), USAGE],
        examples: &[(
            "portent watch 192.0.2.7 -p 1-1024 --every 10m --jsonl",
            "changes as osquery-style lines",
        )],
    },
    Page {
        command: "completions",
        exit: &[("0", "the script was printed"), USAGE],
        examples: &[(
            "portent completions bash > /etc/bash_completion.d/portent",
            "bash completion for every user",
        )],
    },
    Page {
        command: "config",
        exit: &[
            (
                "0",
                "the settings were printed, or (--check) every config file found is valid",
            ),
            (
                "2",
                "a config file is invalid (the message names the file, line, column and key) or cannot be read; a usage error",
            ),
        ],
        examples: &[
            (
                "portent config",
                "every key, its value and where it came from, and the files read",
            ),
            (
                "portent config --check",
                "check the config files (exit 2 and the first error when one is invalid)",
            ),
            (
                "PORTENT_CONFIG=/dev/null portent scan HOST",
                "a scan without the user's config file",
            ),
        ],
    },
    Page {
        command: "man",
        exit: &[("0", "the page (or every page) was written"), USAGE],
        examples: &[
            ("portent man > portent.1", "portent's own page"),
            ("portent man scan", "one command's page"),
            ("portent man --dir DIR", "every page into DIR"),
        ],
    },
];

/// (variable, meaning): read by portent itself, or (XDG_DATA_HOME, HOME) by the directory
/// lookup it uses. The CLI's tests check that every PORTENT_ variable in the source is here.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "PORTENT_DATA_DIR",
        "the data directory (see FILES), when set and not empty (above data_dir in a config file)",
    ),
    (
        "PORTENT_STORE",
        "the store of runs when --store is not given: sqlite:PATH, a file path, or postgres://USER@HOST/DB (above store in a config file)",
    ),
    (
        "PORTENT_HOST_ID",
        "the host identity saved with each run (scan, check, listening, watch) when --host-id is not given; the fleet view groups by it (above host_id in a config file; default: the host name and the first 12 digits of an app-specific id derived from /etc/machine-id)",
    ),
    (
        "PORTENT_SHARDS",
        "scan: the number of shards when JOB_COMPLETION_INDEX names the shard and --shards is not given",
    ),
    (
        "JOB_COMPLETION_INDEX",
        "scan: the shard (0-based) in a Kubernetes Indexed Job, when --shard is not given; the count from --shards or PORTENT_SHARDS",
    ),
    (
        "SLURM_ARRAY_TASK_ID",
        "scan: the shard in a Slurm job array, when --shard is not given, with SLURM_ARRAY_TASK_MIN, _MAX, _STEP and _COUNT",
    ),
    (
        "PORTENT_CONFIG",
        "the user's config file instead of the one under XDG_CONFIG_HOME (see FILES); /dev/null for none. Empty is as unset",
    ),
    (
        "PORTENT_CONFIG_SYSTEM",
        "the system config file instead of /etc/portent/config.toml; /dev/null for none. Empty is as unset",
    ),
    (
        "XDG_CONFIG_HOME",
        "where the user's config file is: $XDG_CONFIG_HOME/portent/config.toml when set to an absolute path, else ~/.config/portent/config.toml",
    ),
    (
        "COLUMNS",
        "the width tables and pages are fitted to when stdout is not a terminal (else 100; never under 40)",
    ),
    (
        "NO_COLOR",
        "when set and not empty, no colour in --color auto mode",
    ),
    (
        "XDG_DATA_HOME, HOME",
        "where the default data directory is, on Linux",
    ),
    (
        "HOSTNAME",
        "the machine name recorded with saved runs, where /proc/sys/kernel/hostname cannot be read (COMPUTERNAME on Windows)",
    ),
];

const FILES: &[(&str, &str)] = &[
    (
        "/etc/portent/config.toml",
        "the system config file: defaults for every user's flags (docs/config.md, portent config); below the user's file, the environment and flags",
    ),
    (
        "~/.config/portent/config.toml",
        "the user's config file ($XDG_CONFIG_HOME/portent/config.toml): above the system file, below the environment and flags",
    ),
    (
        "$PORTENT_DATA_DIR, else data_dir in a config file, else $XDG_DATA_HOME/portent (~/.local/share/portent)",
        "the data directory",
    ),
    (
        "DATA_DIR/registry.bin",
        "the registry loaded by portent registry update (removed by registry reset); without it the registry built into the binary is used",
    ),
    (
        "DATA_DIR/store.sqlite",
        "the default store: saved scans, checks and listening snapshots (history, diff, show, watch)",
    ),
    (
        "DATA_DIR/feedback.sqlite3",
        "feedback given on portent serve's pages",
    ),
    (
        "/proc",
        "sockets' owners for portent listening on Linux (other users' processes need root)",
    ),
    (
        "/etc/passwd",
        "user names of socket owners (no NSS or LDAP lookups)",
    ),
    (
        "/run/netns",
        "network namespace names for listening --netns",
    ),
];

/// The part of `command`'s page ("" for portent's own) that is its own.
fn page_of(command: &str) -> Option<&'static Page> {
    let mut words = command;
    loop {
        if let Some(p) = PAGES.iter().find(|p| p.command == words) {
            return Some(p);
        }
        if words.is_empty() {
            return None;
        }
        words = words.rsplit_once(' ').map_or("", |(parent, _)| parent);
    }
}

/// Text as roff: backslashes and hyphens escaped, and no line read as a request.
fn roff(text: &str) -> String {
    let s = text.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

fn tagged(out: &mut String, rows: &[(&str, &str)], bold: bool) {
    for (tag, text) in rows {
        out.push_str(".TP\n");
        if bold {
            out.push_str(&format!("\\fB{}\\fR\n", roff(tag)));
        } else {
            out.push_str(&format!("{}\n", roff(tag)));
        }
        out.push_str(&format!("{}\n", roff(text)));
    }
}

/// EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO and EXAMPLES for the page of `command` (the
/// words after `portent`), in roff. `all` is every page's name (portent, portent-scan, ...).
fn extra_sections(command: &str, all: &[String]) -> String {
    let mut s = String::new();
    if let Some(page) = page_of(command) {
        s.push_str(".SH \"EXIT STATUS\"\n");
        tagged(&mut s, page.exit, true);
    }
    s.push_str(".SH ENVIRONMENT\n");
    tagged(&mut s, ENVIRONMENT, true);
    s.push_str(".SH FILES\n");
    tagged(&mut s, FILES, false);
    s.push_str(".SH \"SEE ALSO\"\n");
    let own = if command.is_empty() {
        "portent".to_owned()
    } else {
        format!("portent-{}", command.replace(' ', "-"))
    };
    let mut refs: Vec<String> = all
        .iter()
        .filter(|n| **n != own)
        .map(|n| format!("\\fB{}\\fR(1)", roff(n)))
        .collect();
    for other in ["nmap(1)", "ss(8)", "lsof(8)", "netstat(8)"] {
        let (name, section) = other.split_once('(').unwrap_or((other, ""));
        refs.push(format!("\\fB{name}\\fR({section}"));
    }
    s.push_str(&refs.join(",\n"));
    s.push('\n');
    if let Some(page) = page_of(command) {
        s.push_str(".SH EXAMPLES\n");
        tagged(&mut s, page.examples, true);
    }
    s
}

/// Every page's command words ("" for portent, "registry update"), hidden commands left out
/// as clap_mangen leaves them out.
fn commands(cmd: &clap::Command, prefix: &str, into: &mut Vec<(String, clap::Command)>) {
    into.push((prefix.to_owned(), cmd.clone()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let words = if prefix.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{prefix} {}", sub.get_name())
        };
        commands(sub, &words, into);
    }
}

fn page_name(words: &str) -> String {
    if words.is_empty() {
        "portent".to_owned()
    } else {
        format!("portent-{}", words.replace(' ', "-"))
    }
}

/// One whole page: clap_mangen's rendering, then the sections above.
fn render(words: &str, cmd: clap::Command, all: &[String]) -> Result<Vec<u8>> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    page.extend_from_slice(extra_sections(words, all).as_bytes());
    Ok(page)
}

/// `portent man [COMMAND...] [--dir DIR]`: the page of `path` (none: portent's own), or every
/// page written into `dir` as NAME.1.
pub fn pages(root: clap::Command, path: &[String], dir: Option<&Path>) -> Result<Option<Vec<u8>>> {
    let mut all = Vec::new();
    commands(&root, "", &mut all);
    let names: Vec<String> = all.iter().map(|(w, _)| page_name(w)).collect();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (words, cmd) in all {
            let file = dir.join(format!("{}.1", page_name(&words)));
            let page = render(&words, cmd, &names)?;
            std::fs::File::create(&file)
                .and_then(|mut f| f.write_all(&page).and_then(|()| f.flush()))
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        return Ok(None);
    }
    let mut page_of = root;
    let mut words: Vec<String> = Vec::new();
    for word in path {
        let next = page_of.find_subcommand(word).cloned().with_context(|| {
            let names: Vec<&str> = page_of.get_subcommands().map(|c| c.get_name()).collect();
            format!(
                "no command '{word}' under '{}': one of {}",
                page_of.get_display_name().unwrap_or("portent"),
                names.join(", ")
            )
        })?;
        // An alias (`portent man s`) names its command's page.
        words.push(next.get_name().to_owned());
        page_of = next;
    }
    let joined = words.join(" ");
    Ok(Some(render(&joined, page_of, &names)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes() {
        assert_eq!(roff(".x -y \\z"), "\\&.x \\-y \\ez");
    }

    #[test]
    fn every_command_has_a_page_entry() {
        use clap::CommandFactory;
        let mut all = Vec::new();
        commands(&crate::args::Cli::command(), "", &mut all);
        for (words, _) in all {
            let top = words.split(' ').next().unwrap_or("");
            assert!(
                PAGES.iter().any(|p| p.command == top),
                "no PAGES entry for '{words}'"
            );
        }
    }
}
