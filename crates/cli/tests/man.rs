//! The manual pages of the real binary: every page has the sections written after clap_mangen's
//! (EXIT STATUS, ENVIRONMENT, FILES, SEE ALSO, EXAMPLES), and ENVIRONMENT names every
//! `PORTENT_*` variable the source reads, found by reading the source, so it cannot go stale.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const SECTIONS: &[&str] = &[
    ".SH \"EXIT STATUS\"",
    ".SH ENVIRONMENT",
    ".SH FILES",
    ".SH \"SEE ALSO\"",
    ".SH EXAMPLES",
];

fn man(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portent"))
        .arg("man")
        .args(args)
        .output()
        .expect("run portent man");
    assert!(out.status.success(), "portent man {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The text of one section (from its .SH line to the next).
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let start = page.find(heading).unwrap_or_else(|| panic!("no {heading}"));
    let rest = &page[start + heading.len()..];
    &rest[..rest.find("\n.SH ").unwrap_or(rest.len())]
}

/// Every `PORTENT_` name in the Rust files under `dir`.
fn portent_variables(dir: &Path, into: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            portent_variables(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("PORTENT_") {
                let name: String = text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if name.len() > "PORTENT_".len() {
                    into.insert(name);
                }
            }
        }
    }
}

#[test]
fn pages_have_the_extra_sections() {
    for args in [
        &[][..],
        &["scan"],
        &["check"],
        &["registry", "update"],
        &["s"],
    ] {
        let page = man(args);
        assert!(page.starts_with(".ie") || page.contains(".TH"), "{args:?}");
        for s in SECTIONS {
            assert!(page.contains(s), "portent man {args:?} has no {s}");
        }
    }
    let scan = man(&["scan"]);
    let exit = section(&scan, ".SH \"EXIT STATUS\"");
    assert!(exit.contains("130") && exit.contains("completed"), "{exit}");
    assert!(section(&scan, ".SH EXAMPLES").contains("portent scan"));
    let see = section(&scan, ".SH \"SEE ALSO\"");
    assert!(
        see.contains("nmap") && see.contains("portent\\-check"),
        "{see}"
    );
    assert!(
        !see.contains("portent\\-scan\\fR"),
        "a page refers to itself: {see}"
    );
    let diff = section(&man(&["diff"]), ".SH \"EXIT STATUS\"").to_owned();
    assert!(diff.contains("ndiff"), "{diff}");
}

#[test]
fn every_page_in_a_directory_has_the_extra_sections() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portent"))
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.contains(&"portent.1".to_owned()), "{names:?}");
    assert!(names.contains(&"portent-scan.1".to_owned()), "{names:?}");
    assert!(
        names.contains(&"portent-registry-update.1".to_owned()),
        "{names:?}"
    );
    for name in &names {
        let page = std::fs::read_to_string(dir.path().join(name)).unwrap();
        for s in SECTIONS {
            assert!(page.contains(s), "{name} has no {s}");
        }
    }
}

#[test]
fn environment_names_every_portent_variable_in_the_source() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let src = entry.unwrap().path().join("src");
        if src.is_dir() {
            portent_variables(&src, &mut found);
        }
    }
    assert!(
        found.contains("PORTENT_DATA_DIR"),
        "the scan found {found:?}"
    );
    for args in [&[][..], &["scan"], &["serve"]] {
        let page = man(args);
        let env = section(&page, ".SH ENVIRONMENT").replace("\\-", "-");
        for name in &found {
            assert!(
                env.contains(name.as_str()),
                "{name} is read in crates/*/src but not in ENVIRONMENT of portent man {args:?}"
            );
        }
    }
}
