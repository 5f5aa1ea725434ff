//! Ranked text search over service names, descriptions and our notes.
//!
//! Scoring is deliberately simple and explainable: every query word must match somewhere in a
//! hit; each word scores by where it matched (an exact service name beats a word of a note's
//! title beats a name prefix beats a word in a description) and how: a whole word beats the
//! start of a word beats the middle of one, so `rdp` finds RDP before `boardplus`. A number in
//! the query matches the port itself. A note whose title is the query, or begins with it, gains a
//! bonus, so `dns` finds the DNS note before `dnsix`, and `remote desktop` finds RDP before
//! tools that mention remote desktop. Registry rows that differ only by protocol are merged
//! into one hit; on equal scores the registry's hit comes first.

use serde::Serialize;

use crate::{Note, PortSpan, Protocol, Record, Registry, Status, notes};

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Service,
    Note,
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub kind: HitKind,
    pub score: u32,
    /// Service name (registry hits) or note title.
    pub name: &'static str,
    /// Ports the hit concerns.
    pub ports: Vec<PortSpan>,
    /// Protocols (registry hits); empty for notes that apply to all.
    pub protocols: Vec<Protocol>,
    /// Description (registry) or summary (note).
    pub text: &'static str,
    #[serde(skip)]
    pub note: Option<&'static Note>,
}

fn is_word_match(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, m)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Whether `needle` starts a word of `hay` somewhere (`desk` in `remote desktop`).
fn is_word_prefix(hay: &str, needle: &str) -> bool {
    hay.match_indices(needle).any(|(i, _)| {
        !hay[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
    })
}

/// Score of one query word against a text field: `word` for a whole-word match, `prefix` when
/// it starts a word, `part` for a match inside a word.
fn field(hay_lower: &str, token: &str, [word, prefix, part]: [u32; 3]) -> u32 {
    if !hay_lower.contains(token) {
        0
    } else if is_word_match(hay_lower, token) {
        word
    } else if is_word_prefix(hay_lower, token) {
        prefix
    } else {
        part
    }
}

fn score_record(r: &Record, tokens: &[String]) -> u32 {
    let name = r.service.to_ascii_lowercase();
    let desc = r.description.to_lowercase();
    let mut total = 0;
    for t in tokens {
        let port_match = t
            .parse::<u16>()
            .ok()
            .is_some_and(|p| r.ports.is_some_and(|s| s.contains(p)));
        let s = if port_match {
            90
        } else if name == *t {
            100
        } else if name.starts_with(t.as_str()) {
            60
        } else {
            field(&name, t, [55, 45, 12]).max(field(&desc, t, [35, 25, 8]))
        };
        if s == 0 {
            return 0;
        }
        total += s;
    }
    total
}

fn score_note(n: &Note, tokens: &[String]) -> u32 {
    let title = n.title.to_lowercase();
    let summary = n.summary.to_lowercase();
    let rest = format!("{} {}", n.detail, n.registry).to_lowercase();
    let mut total = 0;
    for t in tokens {
        let port_match = t.parse::<u16>().ok().is_some_and(|p| n.covers(p));
        let s = if port_match {
            90
        } else {
            field(&title, t, [65, 45, 12])
                .max(field(&summary, t, [35, 25, 8]))
                .max(field(&rest, t, [20, 12, 5]))
        };
        if s == 0 {
            return 0;
        }
        total += s;
    }
    total + title_bonus(&title, &tokens.join(" "))
}

/// How well a note's title matches the query as a whole: the title itself (35, so a one-word
/// title equals an exact service name), its start (20), or inside it (10).
fn title_bonus(title: &str, phrase: &str) -> u32 {
    let bare = title.split(" (").next().unwrap_or(title);
    if bare == phrase {
        35
    } else if title.starts_with(phrase) && is_word_match(title, phrase) {
        20
    } else if phrase.contains(' ') && is_word_match(title, phrase) {
        10
    } else {
        0
    }
}

pub(crate) fn search(reg: &Registry, query: &str, limit: usize) -> Vec<Hit> {
    let tokens: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if tokens.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<Hit> = Vec::new();
    for r in reg.records() {
        if r.status() != Status::Assigned {
            continue;
        }
        let score = score_record(&r, &tokens);
        if score == 0 {
            continue;
        }
        // Merge rows that differ only in protocol (ssh 22/tcp, ssh 22/udp, ssh 22/sctp).
        if let Some(h) = hits.iter_mut().find(|h| {
            h.kind == HitKind::Service
                && h.name.eq_ignore_ascii_case(r.service)
                && h.ports.first().copied() == r.ports
        }) {
            match r.protocol {
                Some(p) if !h.protocols.contains(&p) => h.protocols.push(p),
                None => h.protocols = Protocol::ALL.to_vec(),
                _ => {}
            }
            continue;
        }
        hits.push(Hit {
            kind: HitKind::Service,
            score,
            name: r.service,
            ports: r.ports.into_iter().collect(),
            protocols: r
                .protocol
                .map_or_else(|| Protocol::ALL.to_vec(), |p| vec![p]),
            text: r.description,
            note: None,
        });
    }
    for n in notes() {
        let score = score_note(n, &tokens);
        if score == 0 {
            continue;
        }
        hits.push(Hit {
            kind: HitKind::Note,
            score,
            name: n.title,
            ports: n.spans(),
            protocols: n.protocols.to_vec(),
            text: n.summary,
            note: Some(n),
        });
    }
    hits.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| (a.kind == HitKind::Note).cmp(&(b.kind == HitKind::Note)))
            .then_with(|| a.ports.is_empty().cmp(&b.ports.is_empty()))
            .then_with(|| a.ports.first().cmp(&b.ports.first()))
            .then_with(|| a.name.cmp(b.name))
    });
    hits.truncate(limit);
    hits
}

/// The ports of a hit as shown: separate ports stay separate (`6568`, `7070`; also two
/// neighbours, `54320`, `54321`), a run of three or more consecutive ports, or a range
/// span, becomes one range (`6711-6713`); sorted, overlaps merged.
pub fn port_items(spans: &[PortSpan]) -> Vec<PortSpan> {
    let mut spans = spans.to_vec();
    spans.sort_unstable();
    let mut runs: Vec<PortSpan> = Vec::new();
    for s in spans {
        match runs.last_mut() {
            Some(r) if u32::from(s.first) <= u32::from(r.last) + 1 => {
                r.last = r.last.max(s.last);
            }
            _ => runs.push(s),
        }
    }
    let mut out = Vec::with_capacity(runs.len());
    for r in runs {
        if r.last - r.first == 1 {
            out.push(PortSpan {
                first: r.first,
                last: r.first,
            });
            out.push(PortSpan {
                first: r.last,
                last: r.last,
            });
        } else {
            out.push(r);
        }
    }
    out
}

/// [`port_items`] as text: `6568, 7070`, `6711-6713, 6776`; `-` when there are none.
pub fn port_list(spans: &[PortSpan]) -> String {
    let items: Vec<String> = port_items(spans)
        .iter()
        .map(|s| {
            if s.is_single() {
                s.first.to_string()
            } else {
                format!("{}-{}", s.first, s.last)
            }
        })
        .collect();
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// Levenshtein distance, giving up (returning `cap + 1`) once it must exceed `cap`.
pub(crate) fn edit_distance(a: &str, b: &str, cap: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > cap {
        return cap + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > cap {
            return cap + 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()].min(cap + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("ssh", "ssh", 3), 0);
        assert_eq!(edit_distance("shh", "ssh", 3), 1);
        assert_eq!(edit_distance("hss", "ssh", 3), 2);
        assert_eq!(edit_distance("ldap", "ldaps", 3), 1);
        assert_eq!(edit_distance("a", "abcdefgh", 3), 4);
    }

    #[test]
    fn separate_ports_are_a_list_and_runs_a_range() {
        let spans = |v: &[(u16, u16)]| -> Vec<PortSpan> {
            v.iter()
                .map(|&(first, last)| PortSpan { first, last })
                .collect()
        };
        assert_eq!(port_list(&[]), "-");
        assert_eq!(port_list(&spans(&[(22, 22)])), "22");
        assert_eq!(
            port_list(&spans(&[(7070, 7070), (6568, 6568)])),
            "6568, 7070"
        );
        assert_eq!(
            port_list(&spans(&[(54320, 54320), (54321, 54321)])),
            "54320, 54321"
        );
        assert_eq!(
            port_list(&spans(&[
                (6711, 6711),
                (6712, 6712),
                (6713, 6713),
                (6776, 6776)
            ])),
            "6711-6713, 6776"
        );
        assert_eq!(port_list(&spans(&[(6000, 6063)])), "6000-6063");
        assert_eq!(
            port_list(&spans(&[(65534, 65535), (65535, 65535)])),
            "65534, 65535"
        );
        // Every note's ports: a list note never reads as a range, a range note always does.
        for n in notes() {
            let items = port_items(&n.spans());
            if n.range {
                assert_eq!(items.len(), 1, "{}", n.title);
                assert!(!items[0].is_single(), "{}", n.title);
            } else {
                assert!(
                    items.iter().all(|i| i.last - i.first >= 2 || i.is_single()),
                    "{}",
                    n.title
                );
                let covered: usize = items
                    .iter()
                    .map(|i| usize::from(i.last - i.first) + 1)
                    .sum();
                assert_eq!(covered, n.ports.len(), "{}", n.title);
            }
        }
    }

    #[test]
    fn words() {
        assert!(is_word_match("local netinfo port", "netinfo"));
        assert!(!is_word_match("netinfo-local", "info"));
        assert!(is_word_match("netinfo-local", "netinfo"));
    }

    #[test]
    fn exact_name_ranks_first() {
        let r = Registry::embedded();
        let hits = r.search("ssh", 10);
        assert_eq!(hits[0].name, "ssh");
        assert_eq!(
            hits[0].ports,
            [PortSpan {
                first: 22,
                last: 22
            }]
        );
        assert!(hits[0].protocols.contains(&Protocol::Tcp));
        assert!(r.search("", 10).is_empty());
        assert!(r.search("zzzzqqqq", 10).is_empty());
    }

    #[test]
    fn notes_named_by_the_query_rank_high() {
        let r = Registry::embedded();
        let first = |q: &str| {
            let h = &r.search(q, 5)[0];
            (h.kind, h.name, h.ports.first().map(|p| p.first))
        };
        // The DNS note before dnsix, dns2go and the other dns* names.
        assert_eq!(first("dns"), (HitKind::Note, "DNS", Some(53)));
        assert_eq!(
            first("remote desktop"),
            (HitKind::Note, "Remote Desktop Protocol (RDP)", Some(3389))
        );
        // An exact service name still comes first, and its note right after the registry row.
        assert_eq!(first("telnet"), (HitKind::Service, "telnet", Some(23)));
        let hits = r.search("telnet", 5);
        assert_eq!((hits[1].kind, hits[1].name), (HitKind::Note, "Telnet"));
        let ssh: Vec<_> = r.search("ssh", 5).iter().map(|h| h.kind).collect();
        assert_eq!(&ssh[..2], [HitKind::Service, HitKind::Service]);
        assert!(ssh[2..].contains(&HitKind::Note), "{ssh:?}");
    }

    #[test]
    fn whole_words_and_word_starts_before_the_middle_of_words() {
        assert!(is_word_prefix("remote desktop", "desk"));
        assert!(!is_word_prefix("boardplus", "rdp"));
        let r = Registry::embedded();
        let hits = r.search("rdp", 50);
        let rank = |name: &str| hits.iter().position(|h| h.name == name);
        let last_rdp = hits
            .iter()
            .rposition(|h| {
                is_word_match(&h.name.to_lowercase(), "rdp")
                    || is_word_match(&h.text.to_lowercase(), "rdp")
            })
            .unwrap_or_else(|| panic!("no whole-word rdp hit: {hits:?}"));
        for inside in ["boardplus", "brdptc", "easyengine"] {
            let at = rank(inside).unwrap_or_else(|| panic!("{inside} not found"));
            assert!(at > last_rdp, "{inside} at {at}, an RDP hit at {last_rdp}");
        }
        // The RDP note and vmrdp (whose description says RDP) before names that only contain
        // the letters.
        let rdp_note = rank("Remote Desktop Protocol (RDP)").unwrap();
        assert!(rdp_note < rank("boardplus").unwrap());
        assert!(rank("vmrdp").unwrap() < rank("brdptc").unwrap());
        // A word's start beats its middle: "desk" finds Remote Desktop before anything else.
        let desk = r.search("desk", 20);
        assert!(
            desk.iter()
                .take_while(|h| is_word_prefix(&h.name.to_lowercase(), "desk")
                    || is_word_prefix(&h.text.to_lowercase(), "desk"))
                .count()
                > 0
        );
        let first_inside = desk.iter().position(|h| {
            !is_word_prefix(&h.name.to_lowercase(), "desk")
                && !is_word_prefix(&h.text.to_lowercase(), "desk")
        });
        let last_start = desk.iter().rposition(|h| {
            is_word_prefix(&h.name.to_lowercase(), "desk")
                || is_word_prefix(&h.text.to_lowercase(), "desk")
        });
        if let (Some(a), Some(b)) = (first_inside, last_start) {
            assert!(a > b, "{desk:?}");
        }
    }

    #[test]
    fn netinfo_finds_1033() {
        let r = Registry::embedded();
        let hits = r.search("netinfo", 50);
        assert!(hits.iter().any(|h| h.kind == HitKind::Service
            && h.name == "netinfo-local"
            && h.ports
                == [PortSpan {
                    first: 1033,
                    last: 1033
                }]));
    }
}
