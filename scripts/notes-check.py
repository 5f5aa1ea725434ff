#!/usr/bin/env python3
"""Quick check of crates/registry/data/knowledge/notes/*.toml while writing notes, without building.

The authoritative check is crates/registry/build.rs (the build fails on a bad note); this
script applies the same rules so a note's author gets the answer in a second. Usage:
  scripts/notes-check.py            check every notes file, print problems, exit 1 if any
  scripts/notes-check.py --stats    also print how many notes and distinct ports there are
  scripts/notes-check.py --covered 8090 7990   which notes (file, title) already cover these ports
"""
import csv, sys, tomllib, urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KNOW = ROOT / "crates/registry/data/knowledge"
KINDS = {"historical", "unofficial", "malware", "vendor", "dev-default", "protocol", "security", "registry"}
KEYS = {"ports", "protocols", "kind", "title", "summary", "detail", "registry", "related", "exposure", "range", "sources"}
PROTOS = {"tcp", "udp", "sctp", "dccp"}

def host_matches(host, pat):
    host = host.lower()
    if pat.endswith(".*"):
        stem = pat[:-2]
        labels = host.split(".")
        return stem in labels[:-1]
    return host == pat or host.endswith("." + pat)

def load_policy():
    p = tomllib.load(open(KNOW / "sources.toml", "rb"))
    return p["deny"]["hosts"], p["deny"]["suffixes"], p["secondary"]["hosts"]

def registry_names():
    names = {}
    with open(ROOT / "crates/registry/data/iana/service-names-port-numbers.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            num, name = row["Port Number"].strip(), row["Service Name"].strip().lower()
            if not num or not name:
                continue
            a, _, b = num.partition("-")
            try:
                lo, hi = int(a), int(b or a)
            except ValueError:
                continue
            names.setdefault(name, []).append((lo, hi))
    return names

def covered_by(wanted):
    for path in sorted((KNOW / "notes").glob("*.toml")):
        try:
            data = tomllib.load(open(path, "rb"))
        except Exception:
            continue
        for n in data.get("note", []):
            ps = n.get("ports", [])
            rng = range(ps[0], ps[1] + 1) if n.get("range") and len(ps) == 2 else ps
            for w in wanted:
                if w in rng:
                    print(f"{w}: {path.name}: {n.get('title')}")

def main():
    if "--covered" in sys.argv:
        covered_by([int(a) for a in sys.argv[sys.argv.index("--covered") + 1:]])
        return
    deny, suffixes, secondary = load_policy()
    names = registry_names()
    problems, notes, ports, named = [], 0, set(), set()
    files = sorted((KNOW / "notes").glob("*.toml"))
    for path in files:
        try:
            data = tomllib.load(open(path, "rb"))
        except Exception as e:
            problems.append(f"{path.name}: not valid TOML: {e}")
            continue
        for i, n in enumerate(data.get("note", []), 1):
            notes += 1
            what = f"{path.name}: note {i} ({n.get('title', '?')!r})"
            for k in n:
                if k not in KEYS:
                    problems.append(f"{what}: unknown key {k!r}")
            for k in ("ports", "kind", "title", "summary", "sources"):
                if not n.get(k):
                    problems.append(f"{what}: missing {k}")
            ps = n.get("ports", [])
            if any(not isinstance(p, int) or p < 0 or p > 65535 for p in ps + n.get("related", [])):
                problems.append(f"{what}: a port out of range")
                continue
            if n.get("range"):
                if len(ps) != 2 or ps[0] >= ps[1]:
                    problems.append(f"{what}: a range note lists exactly its first and last port, ascending")
                    continue
                covered = range(ps[0], ps[1] + 1)
            else:
                covered = ps
            ports.update(covered)
            named.update(ps)
            if n.get("kind") not in KINDS:
                problems.append(f"{what}: unknown kind {n.get('kind')!r}")
            for pr in n.get("protocols", []):
                if pr not in PROTOS:
                    problems.append(f"{what}: unknown protocol {pr!r}")
            if n.get("exposure") not in (None, "high", "medium"):
                problems.append(f"{what}: exposure must be high or medium")
            primary = False
            for s in n.get("sources", []):
                url = s.get("url", "")
                if not s.get("title", "").strip():
                    problems.append(f"{what}: a source without a title")
                u = urllib.parse.urlsplit(url)
                if u.scheme not in ("http", "https") or not u.hostname:
                    problems.append(f"{what}: source URL {url!r} is not http(s)")
                    continue
                host = u.hostname
                if any(host_matches(host, d) for d in deny) or any(u.path.lower().endswith(x) for x in suffixes):
                    problems.append(f"{what}: denied source {url} (see crates/registry/data/knowledge/sources.toml)")
                    continue
                if host_matches(host, "iana.org"):
                    q = urllib.parse.parse_qs(u.query).get("search")
                    if q:
                        term = q[0].strip().lower()
                        ok = False
                        if term.isdigit():
                            ok = int(term) in set(covered)
                        else:
                            ok = any(lo <= p <= hi for (lo, hi) in names.get(term, []) for p in covered)
                        if not ok:
                            problems.append(f"{what}: IANA link searches for {term!r}, which names none of the note's ports")
                            continue
                if not any(host_matches(host, d) for d in secondary):
                    primary = True
            if n.get("sources") and not primary:
                problems.append(f"{what}: no primary source (denied and secondary sources do not count)")
    for p in problems:
        print(p)
    if "--stats" in sys.argv or not problems:
        print(f"{len(files)} files, {notes} notes, {len(named)} distinct ports named (ranges by their ends), "
              f"{len(ports)} covered with range interiors, {len(problems)} problems")
    sys.exit(1 if problems else 0)

main()
