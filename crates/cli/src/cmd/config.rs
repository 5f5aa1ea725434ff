//! `portent config`: every config key's effective value and where it came from, and the
//! files looked at (docs/config.md). The layering itself is `portent-config`'s; `main` gives
//! the file values to clap as defaults, so flags win.

use std::io::Write;

use anyhow::Result;
use portent_config::{Config, FileState, Origin, Value};
use serde_json::json;

use crate::Outcome;
use crate::args::ConfigArgs;
use crate::out::{self, DIM, HEAD, clean, fit, pad, text_width};

pub fn run(args: &ConfigArgs, config: &Config) -> Result<Outcome> {
    if args.check {
        // The files were read and checked before any command ran: reaching here means valid.
        let read: Vec<String> = config
            .layers
            .iter()
            .filter(|l| l.state == FileState::Read)
            .filter_map(|l| l.path.as_ref())
            .map(|p| clean(&p.display().to_string(), false).into_owned())
            .collect();
        let mut stdout = anstream::stdout();
        if read.is_empty() {
            writeln!(stdout, "no config file to check")?;
        } else {
            writeln!(stdout, "valid: {}", read.join(", "))?;
        }
        return Ok(Outcome::Found);
    }
    if args.json {
        out::json(&document(config))?;
        return Ok(Outcome::Found);
    }
    table(config)?;
    Ok(Outcome::Found)
}

fn value_json(v: Option<&Value>) -> serde_json::Value {
    match v {
        None => serde_json::Value::Null,
        Some(Value::Text(s)) => json!(s),
        Some(Value::Int(n)) => json!(n),
        Some(Value::Bool(b)) => json!(b),
    }
}

fn origin_json(o: &Origin) -> serde_json::Value {
    match o {
        Origin::Default => json!({ "kind": "default" }),
        Origin::File { path, line } => json!({ "kind": "file", "path": path, "line": line }),
        Origin::Env(var) => json!({ "kind": "env", "var": var }),
        Origin::Flag(flag) => json!({ "kind": "flag", "flag": flag }),
    }
}

/// `portent config --json` (docs/config.md).
fn document(config: &Config) -> serde_json::Value {
    let files: Vec<_> = config
        .layers
        .iter()
        .map(|l| {
            json!({
                "scope": l.scope.to_string(),
                "path": l.path,
                "chosen_by": l.chosen_by,
                "state": match l.state {
                    FileState::Read => "read",
                    FileState::Missing => "missing",
                    FileState::Disabled => "disabled",
                    FileState::NoHome => "no_home",
                    FileState::Unsearchable => "unsearchable",
                    FileState::Unread => "unread",
                },
            })
        })
        .collect();
    let settings: Vec<_> = config
        .settings()
        .iter()
        .map(|s| {
            json!({
                "key": s.key.name,
                "value": value_json(s.value.as_ref()),
                "origin": origin_json(&s.origin),
                "flag": s.key.flag,
                "env": s.key.env,
            })
        })
        .collect();
    json!({ "files": files, "settings": settings })
}

fn table(config: &Config) -> Result<()> {
    let width = out::width();
    let mut stdout = out::buffered_stdout();
    writeln!(
        stdout,
        "{HEAD}Files{HEAD:#} (lowest first; then environment, then flags)"
    )?;
    for l in &config.layers {
        let path = l
            .path
            .as_ref()
            .map_or_else(|| "-".to_owned(), |p| p.display().to_string());
        writeln!(
            stdout,
            "  {:<6}  {}  {}  {DIM}({}){DIM:#}",
            l.scope.to_string(),
            clean(&path, false),
            l.state,
            if l.chosen_by == "built in" {
                "the default place".to_owned()
            } else {
                format!("from {}", l.chosen_by)
            },
        )?;
    }
    writeln!(stdout)?;
    let rows: Vec<(String, String, String, bool)> = config
        .settings()
        .iter()
        .map(|s| {
            let (value, unset) = match (&s.value, s.key.default) {
                (Some(v), _) => (clean(&v.to_string(), false).into_owned(), false),
                (None, portent_config::Fallback::Unset(note)) => (format!("- ({note})"), true),
                (None, _) => ("-".to_owned(), true),
            };
            let from = clean(&s.origin.to_string(), false).into_owned();
            (s.key.name.to_owned(), value, from, unset)
        })
        .collect();
    let key_w = rows
        .iter()
        .map(|r| text_width(&r.0))
        .max()
        .unwrap_or(3)
        .max(3);
    let from_w = rows
        .iter()
        .map(|r| text_width(&r.2))
        .max()
        .unwrap_or(4)
        .max(4);
    let value_natural = rows
        .iter()
        .map(|r| text_width(&r.1))
        .max()
        .unwrap_or(5)
        .max(5);
    let value_w = value_natural.min(width.saturating_sub(key_w + from_w + 4).max(12));
    writeln!(
        stdout,
        "{HEAD}{}  {}  FROM{HEAD:#}",
        pad("KEY", key_w),
        pad("VALUE", value_w)
    )?;
    for (key, value, from, unset) in &rows {
        let value = pad(&fit(value, value_w), value_w);
        let style = if *unset { DIM } else { anstyle::Style::new() };
        writeln!(
            stdout,
            "{}  {style}{value}{style:#}  {from}",
            pad(key, key_w)
        )?;
    }
    stdout.flush()?;
    Ok(())
}
