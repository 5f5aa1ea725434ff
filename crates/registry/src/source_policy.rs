//! Which sources a note may cite. A note is only as good as what backs it, so the build
//! refuses notes that cite copies, paste sites and content farms (the deny list), notes whose
//! sources are all secondary (encyclopedias, wikis, forums), and IANA links whose search names
//! none of the note's ports. The lists live in `data/knowledge/sources.toml`.
//!
//! This file is compiled twice: into `build.rs` (with `#[path]`), where a failure stops the
//! build, and into the library's unit tests, which prove it refuses a bad note. It therefore
//! uses only `std`.

/// The lists from `data/knowledge/sources.toml`.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Hosts never cited (see [`host_matches`] for the pattern form).
    pub deny_hosts: Vec<String>,
    /// URL path endings that mark a file archive.
    pub deny_suffixes: Vec<String>,
    /// Hosts that may support a note but never back it alone.
    pub secondary_hosts: Vec<String>,
}

/// The parts of an http(s) URL the policy looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

/// Splits an absolute http(s) URL. Written by hand: the policy needs only host, path and one
/// query parameter of URLs in our own data file, which does not justify a URL crate (and its
/// IDNA tables) in the build script.
pub fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    if host.is_empty() || !host.contains('.') {
        return None;
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, q),
        None => (tail, ""),
    };
    Some(UrlParts { host, path, query })
}

/// The value of query parameter `key`, without percent-decoding (port numbers and service
/// names need none).
pub fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// `csdn.net` matches `csdn.net` and `blog.csdn.net`; `blogspot.*` matches `blogspot` as any
/// label but the last (`x.blogspot.com`, `x.blogspot.co.uk`).
pub fn host_matches(host: &str, pattern: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if let Some(stem) = pattern.strip_suffix(".*") {
        let labels: Vec<&str> = host.split('.').collect();
        return labels[..labels.len().saturating_sub(1)].contains(&stem);
    }
    host == pattern
        || host
            .strip_suffix(pattern)
            .is_some_and(|head| head.ends_with('.'))
}

/// How one cited source counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// May back the note alone.
    Primary,
    /// Only beside a primary source.
    Secondary,
    /// Refused, with the reason.
    Refused(String),
}

impl Policy {
    /// Judges one source URL of a note. `covers(port)` says whether the note is about that
    /// port; `names_covered(name)` whether IANA registers the service name on one of them.
    pub fn judge(
        &self,
        url: &str,
        covers: &dyn Fn(u16) -> bool,
        names_covered: &dyn Fn(&str) -> bool,
    ) -> Standing {
        let Some(parts) = split_url(url) else {
            return Standing::Refused(format!("source URL {url:?} is not an absolute http(s) URL"));
        };
        if let Some(p) = self.deny_hosts.iter().find(|p| host_matches(parts.host, p)) {
            return Standing::Refused(format!(
                "source {url} is on the deny list ({p}): cite where the text was first published"
            ));
        }
        let path = parts.path.to_ascii_lowercase();
        if let Some(s) = self
            .deny_suffixes
            .iter()
            .find(|s| path.ends_with(s.as_str()))
        {
            return Standing::Refused(format!(
                "source {url} is a file archive ({s}), not a page a reader can check"
            ));
        }
        if host_matches(parts.host, "iana.org")
            && let Some(term) = query_param(parts.query, "search")
        {
            let term = term.trim().to_ascii_lowercase();
            let names_ours = match term.parse::<u16>() {
                Ok(port) => covers(port),
                Err(_) => names_covered(&term),
            };
            if !names_ours {
                return Standing::Refused(format!(
                    "IANA link {url} searches for {term:?}, which names none of the note's ports"
                ));
            }
        }
        if self
            .secondary_hosts
            .iter()
            .any(|p| host_matches(parts.host, p))
        {
            Standing::Secondary
        } else {
            Standing::Primary
        }
    }

    /// Every problem with a note's sources; empty when they pass.
    pub fn check_sources(
        &self,
        urls: &[&str],
        covers: &dyn Fn(u16) -> bool,
        names_covered: &dyn Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        let mut primary = false;
        for url in urls {
            match self.judge(url, covers, names_covered) {
                Standing::Primary => primary = true,
                Standing::Secondary => {}
                Standing::Refused(why) => problems.push(why),
            }
        }
        if !urls.is_empty() && !primary {
            problems.push(
                "no primary source: every note needs one (RFC, IANA's page for the port, the \
                 vendor's or project's own docs, a CISA alert, a paper); denied and secondary \
                 sources do not count"
                    .to_owned(),
            );
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy as shipped, read the way build.rs reads it.
    fn shipped() -> Policy {
        let text = include_str!("../data/knowledge/sources.toml");
        let v: toml::Table = toml::from_str(text).unwrap();
        let list = |t: &str, k: &str| -> Vec<String> {
            v[t][k]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        Policy {
            deny_hosts: list("deny", "hosts"),
            deny_suffixes: list("deny", "suffixes"),
            secondary_hosts: list("secondary", "hosts"),
        }
    }

    fn check(ports: &[u16], urls: &[&str]) -> Vec<String> {
        let covers = |p: u16| ports.contains(&p);
        // The one name lookup these tests need: IANA registers "http" on 80.
        let names = |n: &str| n == "http" && ports.contains(&80);
        shipped().check_sources(urls, &covers, &names)
    }

    #[test]
    fn refuses_a_note_resting_only_on_denied_sources() {
        let problems = check(
            &[4444],
            &[
                "https://pastebin.com/nZCBxnFA",
                "http://zillman.blogspot.com/2003/08/symantec-security-response.html",
            ],
        );
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("deny list (pastebin.com)"));
        assert!(problems[1].contains("deny list (blogspot.*)"));
        assert!(problems[2].starts_with("no primary source"));
    }

    #[test]
    fn refuses_denied_copies_even_beside_a_primary_source() {
        let problems = check(
            &[6379],
            &[
                "https://redis.io/docs/latest/operate/oss_and_stack/management/security/",
                "https://blog.csdn.net/u012549626/article/details/110775668",
                "https://dl.packetstormsecurity.net/sniffers/snort/aanval-1.60-stable.tar.gz",
            ],
        );
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].contains("csdn.net"));
        assert!(problems[1].contains("file archive (.tar.gz)"));
    }

    #[test]
    fn an_iana_link_must_search_for_one_of_the_notes_ports() {
        let other = "https://www.iana.org/assignments/service-names-port-numbers?search=6632";
        let problems = check(&[770], &[other]);
        assert!(
            problems[0].contains("searches for \"6632\""),
            "{problems:#?}"
        );
        let own = "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xhtml?search=770";
        assert!(check(&[770], &[own]).is_empty());
        // A service name counts when IANA registers it on one of the note's ports.
        let by_name = "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xhtml?search=http";
        assert!(check(&[80], &[by_name]).is_empty());
        assert!(!check(&[81], &[by_name]).is_empty());
    }

    #[test]
    fn secondary_sources_never_back_a_note_alone() {
        let wiki = "https://en.wikipedia.org/wiki/NetInfo";
        let problems = check(
            &[797],
            &[wiki, "https://www.speedguide.net/port.php?port=797"],
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("no primary source"));
        assert!(
            check(
                &[797],
                &[wiki, "https://www.nextop.de/NeXTAnswers/1274.html"]
            )
            .is_empty()
        );
    }

    #[test]
    fn host_patterns_match_whole_labels() {
        assert!(host_matches("blog.csdn.net", "csdn.net"));
        assert!(host_matches("csdn.net", "csdn.net"));
        assert!(!host_matches("notcsdn.net", "csdn.net"));
        assert!(host_matches("b3tik.blogspot.com", "blogspot.*"));
        assert!(host_matches("x.blogspot.co.uk", "blogspot.*"));
        assert!(!host_matches("myexample.com", "example.*"));
        assert!(!host_matches("example", "example.*"));
        assert_eq!(
            split_url("https://user@Host.example:8443/a/b?x=1&search=797#f"),
            Some(UrlParts {
                host: "Host.example",
                path: "/a/b",
                query: "x=1&search=797"
            })
        );
        assert_eq!(split_url("ftp://example.com/"), None);
        assert_eq!(split_url("https:///nohost"), None);
    }
}
