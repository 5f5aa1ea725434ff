//! Compiles the IANA registry CSV and our curated notes into static Rust tables in `OUT_DIR`,
//! so the binary answers lookups without parsing anything at run time.
//!
//! The CSV is read with the same parser `portent registry update` uses (crate `portent-iana`),
//! and the notes (every `data/knowledge/notes/*.toml`, in file-name order) are checked here: a
//! note without sources, with an unknown kind, a port out of range, a denied source, no primary
//! source or an IANA link for another port (`src/source_policy.rs`, with the lists in
//! `data/knowledge/sources.toml`) fails the build instead of shipping.

// A build script reports bad data by failing the build, which is what panicking does.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use portent_iana::{Packed, ProtoIndex, Protocol, Record, name_index, parse_and_validate};
use serde::Deserialize;

#[path = "src/source_policy.rs"]
#[allow(dead_code)]
mod source_policy;
use source_policy::Policy;

const KINDS: [&str; 8] = [
    "historical",
    "unofficial",
    "malware",
    "vendor",
    "dev-default",
    "protocol",
    "security",
    "registry",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotesFile {
    #[serde(default)]
    note: Vec<NoteIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteIn {
    ports: Vec<u32>,
    #[serde(default)]
    protocols: Vec<String>,
    kind: String,
    title: String,
    summary: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    registry: String,
    #[serde(default)]
    related: Vec<u32>,
    /// How much harm the service can do when reachable from untrusted networks.
    #[serde(default)]
    exposure: Option<String>,
    /// `ports` is [first, last] of an inclusive range, and the note is about every port in it.
    #[serde(default)]
    range: bool,
    sources: Vec<SourceIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceIn {
    title: String,
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConventionsFile {
    convention: Vec<ConventionIn>,
}

/// A service commonly run on a port the registry gives to something else (or nothing).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConventionIn {
    ports: Vec<u16>,
    service: String,
    why: String,
    sources: Vec<SourceIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    deny: DenyIn,
    secondary: SecondaryIn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DenyIn {
    hosts: Vec<String>,
    suffixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecondaryIn {
    hosts: Vec<String>,
}

/// `data/knowledge/top-ports.toml`: portent's ranking of ports most often found open.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopPortsFile {
    source: Vec<TopSourceIn>,
    tcp: RankedIn,
    udp: RankedIn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopSourceIn {
    id: String,
    title: String,
    url: String,
    what: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RankedIn {
    ports: Vec<u16>,
    why: std::collections::BTreeMap<String, WhyIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhyIn {
    sources: Vec<String>,
    note: String,
}

fn main() {
    // The data lives inside this crate (data/iana, data/knowledge) so that the packaged crate
    // builds on its own.
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let csv_path = root.join("data/iana/service-names-port-numbers.csv");
    let notes_dir = root.join("data/knowledge/notes");
    let policy_path = root.join("data/knowledge/sources.toml");
    let conventions_path = root.join("data/knowledge/conventions.toml");
    let top_path = root.join("data/knowledge/top-ports.toml");
    println!("cargo::rerun-if-changed={}", top_path.display());
    println!("cargo::rerun-if-changed={}", conventions_path.display());
    println!("cargo::rerun-if-changed={}", csv_path.display());
    println!("cargo::rerun-if-changed={}", notes_dir.display());
    println!("cargo::rerun-if-changed={}", policy_path.display());
    println!("cargo::rerun-if-env-changed=PORTENT_NOTES_CHECK");

    let bytes = fs::read(&csv_path).unwrap_or_else(|e| panic!("{}: {e}", csv_path.display()));
    let packed =
        parse_and_validate(&bytes).unwrap_or_else(|e| panic!("{}: {e}", csv_path.display()));

    let mut out = String::with_capacity(8 << 20);
    emit_registry(&mut out, &packed);

    let text = fs::read_to_string(&policy_path)
        .unwrap_or_else(|e| panic!("{}: {e}", policy_path.display()));
    let policy: PolicyFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", policy_path.display()));
    let policy = Policy {
        deny_hosts: policy.deny.hosts,
        deny_suffixes: policy.deny.suffixes,
        secondary_hosts: policy.secondary.hosts,
    };

    let mut files: Vec<PathBuf> = fs::read_dir(&notes_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", notes_dir.display()))
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    // PORTENT_NOTES_CHECK=warn turns problems with the notes into build warnings while notes
    // are being written; nothing sets it in CI or in scripts/test, where they fail the build.
    let lax = env::var("PORTENT_NOTES_CHECK").is_ok_and(|v| v == "warn");
    let mut notes = Vec::new();
    for path in &files {
        println!("cargo::rerun-if-changed={}", path.display());
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file: NotesFile = match toml::from_str(&text) {
            Ok(f) => f,
            Err(e) if lax => {
                println!("cargo::warning={}: skipped: {e}", path.display());
                continue;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        notes.extend(file.note.into_iter().enumerate().map(|(i, n)| {
            (
                format!("{} note {}", name.clone().unwrap_or_default(), i + 1),
                n,
            )
        }));
    }
    let records = packed.unpack().expect("a freshly packed table unpacks");
    emit_notes(&mut out, &notes, &policy, &records, lax);

    let text = fs::read_to_string(&conventions_path)
        .unwrap_or_else(|e| panic!("{}: {e}", conventions_path.display()));
    let conventions: ConventionsFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", conventions_path.display()));
    emit_conventions(&mut out, &conventions.convention, &policy, &records);

    let text =
        fs::read_to_string(&top_path).unwrap_or_else(|e| panic!("{}: {e}", top_path.display()));
    let top: TopPortsFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", top_path.display()));
    emit_top_ports(&mut out, &top, &policy);

    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("data.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}

fn proto_path(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "Protocol::Tcp",
        Protocol::Udp => "Protocol::Udp",
        Protocol::Sctp => "Protocol::Sctp",
        Protocol::Dccp => "Protocol::Dccp",
    }
}

/// Emits the registry as pointer-free tables: one string literal and arrays of integers.
fn emit_registry(out: &mut String, packed: &Packed) {
    let records = packed.unpack().expect("a freshly packed table unpacks");
    let date = portent_iana::data_date(&records).unwrap_or("");
    let _ = writeln!(out, "pub(crate) static DATA_DATE: &str = {date:?};");
    let _ = writeln!(
        out,
        "pub(crate) static STRINGS: &str = {:?};",
        packed.strings
    );
    out.push_str("pub(crate) static PACKED: &[PackedRecord] = &[\n");
    for p in &packed.records {
        let _ = writeln!(
            out,
            "PackedRecord {{ text: {:?}, first: {}, last: {}, has_ports: {}, protocol: {} }},",
            p.text, p.first, p.last, p.has_ports, p.protocol
        );
    }
    out.push_str("];\n");

    out.push_str("pub(crate) static INDEX: [IndexView; 4] = [\n");
    for p in Protocol::ALL {
        let idx = ProtoIndex::build(&records, p);
        let _ = writeln!(
            out,
            "IndexView {{ starts: &{:?}, ends: &{:?}, offsets: &{:?}, members: &{:?} }},",
            idx.starts, idx.ends, idx.offsets, idx.members
        );
    }
    out.push_str("];\n");
    let _ = writeln!(
        out,
        "pub(crate) static NAMES: &[u32] = &{:?};",
        name_index(&records)
    );
}

fn emit_notes(
    out: &mut String,
    notes: &[(String, NoteIn)],
    policy: &Policy,
    records: &[Record<'_>],
    lax: bool,
) {
    out.push_str("pub(crate) static NOTES: &[Note] = &[\n");
    let mut problems = Vec::new();
    for (at, n) in notes {
        let what = format!("{at} ({:?})", n.title);
        assert!(!n.ports.is_empty(), "{what}: no ports");
        for &p in n.ports.iter().chain(&n.related) {
            assert!(p <= 65535, "{what}: port {p} out of range");
        }
        assert!(
            KINDS.contains(&n.kind.as_str()),
            "{what}: unknown kind {:?}",
            n.kind
        );
        assert!(!n.title.trim().is_empty(), "{what}: empty title");
        assert!(!n.summary.trim().is_empty(), "{what}: empty summary");
        assert!(
            !n.sources.is_empty(),
            "{what}: a note needs at least one source"
        );
        for s in &n.sources {
            assert!(
                s.url.starts_with("https://") || s.url.starts_with("http://"),
                "{what}: source URL {:?} is not http(s)",
                s.url
            );
            assert!(
                !s.title.trim().is_empty(),
                "{what}: a source without a title"
            );
        }
        let protocols: Vec<&str> = n
            .protocols
            .iter()
            .map(|t| {
                proto_path(
                    Protocol::parse(t).unwrap_or_else(|| panic!("{what}: unknown protocol {t:?}")),
                )
            })
            .collect();
        let ports: BTreeSet<u32> = n.ports.iter().copied().collect();
        if n.range {
            assert!(
                n.ports.len() == 2 && n.ports[0] < n.ports[1],
                "{what}: a range note lists exactly its first and last port, ascending"
            );
        }
        let covers = |port: u16| {
            let port = u32::from(port);
            if n.range {
                (n.ports[0]..=n.ports[1]).contains(&port)
            } else {
                ports.contains(&port)
            }
        };
        let names_covered = |name: &str| {
            records.iter().any(|r| {
                r.service.eq_ignore_ascii_case(name)
                    && r.ports.is_some_and(|s| (s.first..=s.last).any(&covers))
            })
        };
        let urls: Vec<&str> = n.sources.iter().map(|s| s.url.as_str()).collect();
        problems.extend(
            policy
                .check_sources(&urls, &covers, &names_covered)
                .into_iter()
                .map(|p| format!("{what}: {p}")),
        );
        let sources: Vec<String> = n
            .sources
            .iter()
            .map(|s| format!("NoteSource {{ title: {:?}, url: {:?} }}", s.title, s.url))
            .collect();
        let kind = match n.kind.as_str() {
            "dev-default" => "DevDefault".to_owned(),
            k => {
                let mut c = k.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        };
        let exposure = match n.exposure.as_deref() {
            None => "None",
            Some("medium") => "Some(Exposure::Medium)",
            Some("high") => "Some(Exposure::High)",
            Some(other) => panic!("{what}: exposure must be \"medium\" or \"high\", not {other:?}"),
        };
        let _ = writeln!(
            out,
            "Note {{ ports: &{:?}, protocols: &[{}], kind: NoteKind::{kind}, title: {:?}, summary: {:?}, detail: {:?}, registry: {:?}, related: &{:?}, exposure: {exposure}, range: {}, sources: &[{}] }},",
            ports.iter().map(|&p| p as u16).collect::<Vec<_>>(),
            protocols.join(", "),
            n.title.trim(),
            n.summary.trim(),
            n.detail.trim(),
            n.registry.trim(),
            n.related.iter().map(|&p| p as u16).collect::<Vec<_>>(),
            n.range,
            sources.join(", "),
        );
    }
    if lax {
        for p in &problems {
            println!("cargo::warning={p}");
        }
        problems.clear();
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the notes' sources (data/knowledge/README.md, sources.toml):\n{}",
        problems.len(),
        problems.join("\n")
    );
    out.push_str("];\n");
}

/// Checks the ranking (no port twice, every port explained by known sources, the sources'
/// URLs allowed and at least one primary) and emits it as two arrays.
fn emit_top_ports(out: &mut String, top: &TopPortsFile, policy: &Policy) {
    let mut problems = Vec::new();
    let ids: Vec<&str> = top.source.iter().map(|s| s.id.as_str()).collect();
    for s in &top.source {
        assert!(
            !s.title.trim().is_empty() && !s.what.trim().is_empty(),
            "top-ports.toml source {:?}: title and what are required",
            s.id
        );
    }
    let urls: Vec<&str> = top.source.iter().map(|s| s.url.as_str()).collect();
    problems.extend(
        policy
            .check_sources(&urls, &|_| true, &|_| true)
            .into_iter()
            .map(|p| format!("top-ports.toml: {p}")),
    );
    for (name, ranked) in [("TOP_TCP", &top.tcp), ("TOP_UDP", &top.udp)] {
        let mut seen = std::collections::HashSet::new();
        for p in &ranked.ports {
            if *p == 0 || !seen.insert(*p) {
                problems.push(format!(
                    "top-ports.toml {name}: port {p} is 0 or listed twice"
                ));
            }
            match ranked.why.get(&p.to_string()) {
                None => problems.push(format!("top-ports.toml {name}: port {p} has no `why`")),
                Some(w) => {
                    if w.note.trim().is_empty() || w.sources.is_empty() {
                        problems.push(format!(
                            "top-ports.toml {name}: port {p} needs a note and sources"
                        ));
                    }
                    for id in &w.sources {
                        if !ids.contains(&id.as_str()) {
                            problems.push(format!(
                                "top-ports.toml {name}: port {p} cites unknown source {id:?}"
                            ));
                        }
                    }
                }
            }
        }
        for key in ranked.why.keys() {
            if !key.parse::<u16>().is_ok_and(|p| seen.contains(&p)) {
                problems.push(format!(
                    "top-ports.toml {name}: `why` for {key}, which is not in the ranking"
                ));
            }
        }
        let _ = writeln!(
            out,
            "pub(crate) static {name}: &[u16] = &{:?};",
            ranked.ports
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn emit_conventions(
    out: &mut String,
    conventions: &[ConventionIn],
    policy: &Policy,
    records: &[Record<'_>],
) {
    out.push_str("pub(crate) static CONVENTIONS: &[Convention] = &[\n");
    let mut problems = Vec::new();
    for (i, c) in conventions.iter().enumerate() {
        let what = format!("conventions.toml entry {} ({:?})", i + 1, c.service);
        assert!(!c.ports.is_empty(), "{what}: no ports");
        assert!(!c.service.trim().is_empty(), "{what}: no service");
        assert!(!c.why.trim().is_empty(), "{what}: no why");
        assert!(!c.sources.is_empty(), "{what}: no sources");
        let covers = |p: u16| c.ports.contains(&p);
        let names_covered = |name: &str| {
            records.iter().any(|r| {
                r.service.eq_ignore_ascii_case(name)
                    && r.ports.is_some_and(|s| (s.first..=s.last).any(covers))
            })
        };
        let urls: Vec<&str> = c.sources.iter().map(|s| s.url.as_str()).collect();
        problems.extend(
            policy
                .check_sources(&urls, &covers, &names_covered)
                .into_iter()
                .map(|p| format!("{what}: {p}")),
        );
        let mut ports = c.ports.clone();
        ports.sort_unstable();
        ports.dedup();
        let sources: Vec<String> = c
            .sources
            .iter()
            .map(|s| format!("NoteSource {{ title: {:?}, url: {:?} }}", s.title, s.url))
            .collect();
        let _ = writeln!(
            out,
            "Convention {{ ports: &{ports:?}, service: {:?}, why: {:?}, sources: &[{}] }},",
            c.service.trim(),
            c.why.trim(),
            sources.join(", ")
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    out.push_str("];\n");
}
