//! Which requests the server answers at all. The router applies [`Guard::check`] to every
//! request in one middleware layer, before any handler runs, so no route can forget it.
//!
//! - DNS rebinding: a page on `attacker.example` can point its own name at 127.0.0.1 and then
//!   read this server as if it were its own origin, command lines and all. The browser still
//!   sends `Host: attacker.example`, so only a `Host` that names this server is answered:
//!   `localhost`, a loopback address, the address the server is bound to (any address of
//!   the machine when bound to `0.0.0.0` or `::`), and names the user allowed
//!   (`--allow-host`); with or without the bound port. Anything else is 421.
//! - Cross-site changes: any page can submit a form to us (a "simple" POST needs no CORS).
//!   Browsers say where a request comes from (`Origin`, `Sec-Fetch-Site`), so a request
//!   that changes something is refused (403) when they name another origin or site. A
//!   request without them (curl, scripts) does not come from a web page and passes. Two
//!   `Origin` headers are refused (400), as two `Host` headers are. Behind a TLS reverse
//!   proxy the browser's origin is `https://NAME`: it is ours when NAME is the request's
//!   host and was allowed with `--allow-host` (the server itself speaks plain HTTP, so an
//!   https origin under any other name is another site).
//!
//! Only the decision lives here; `routes.rs` turns a [`Refusal`] into a page or JSON error.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderName, StatusCode, Version};

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// A name or address, besides the server's own, under which the server may be reached
/// (`portent serve --allow-host`). Parse with [`str::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHost {
    /// A DNS name, lowercase, without a trailing dot.
    Name(String),
    Addr(IpAddr),
}

/// Why an `--allow-host` value was not accepted.
#[derive(Debug, thiserror::Error)]
#[error(
    "\"{0}\" is not a host name or an IP address (give it without scheme or port, as in \
     portent.lan or 192.0.2.7)"
)]
pub struct BadHost(String);

impl FromStr for AllowedHost {
    type Err = BadHost;

    fn from_str(s: &str) -> Result<AllowedHost, BadHost> {
        let text = s.trim();
        let bare = text
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(AllowedHost::Addr(ip.to_canonical()));
        }
        let name = normal_name(text);
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.len() <= 253 && name.split('.').all(label_ok) {
            Ok(AllowedHost::Name(name))
        } else {
            Err(BadHost(text.to_owned()))
        }
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowedHost::Name(n) => f.write_str(n),
            AllowedHost::Addr(IpAddr::V6(a)) => write!(f, "[{a}]"),
            AllowedHost::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// Names compare without case and without the root's trailing dot (`LocalHost.` is
/// `localhost`).
fn normal_name(s: &str) -> String {
    s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase()
}

/// The host part of a `Host` value or of an origin's authority.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPart {
    Name(String),
    Addr(IpAddr),
}

/// `host`, `host:port`, `1.2.3.4[:port]` or `[v6][:port]`; `None` when it is none of them.
fn split_authority(value: &str) -> Option<(HostPart, Option<u16>)> {
    let port = |p: &str| -> Option<u16> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    if let Some(rest) = value.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = inner.parse().ok()?;
        let p = match after {
            "" => None,
            a => Some(port(a.strip_prefix(':')?)?),
        };
        return Some((HostPart::Addr(IpAddr::V6(ip).to_canonical()), p));
    }
    let (host, p) = match value.split_once(':') {
        Some((h, p)) => (h, Some(port(p)?)),
        None => (value, None),
    };
    if host.is_empty() || host.contains('@') {
        return None;
    }
    let part = match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => HostPart::Addr(IpAddr::V4(ip)),
        Err(_) => HostPart::Name(normal_name(host)),
    };
    Some((part, p))
}

/// Why a request is not answered: the status and a sentence saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

/// Shown back in messages, cut so a huge header cannot make a huge page.
fn shown(value: &str) -> String {
    const MAX: usize = 100;
    if value.chars().count() > MAX {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('\u{2026}');
        s
    } else {
        value.to_owned()
    }
}

/// The request checks for one bound address.
#[derive(Debug, Clone)]
pub struct Guard {
    bound: SocketAddr,
    allowed: Vec<AllowedHost>,
}

impl Guard {
    /// `bound` is the address the listener really has (its port, not 0).
    pub fn new(bound: SocketAddr, allowed: &[AllowedHost]) -> Guard {
        Guard {
            bound,
            allowed: allowed.to_vec(),
        }
    }

    /// Whether one `Host` (or HTTP/2 `:authority`) value names this server.
    pub fn accepts_host(&self, value: &str) -> bool {
        let Some((host, port)) = split_authority(value.trim()) else {
            return false;
        };
        if port.is_some_and(|p| p != self.bound.port()) {
            return false;
        }
        match host {
            HostPart::Addr(ip) => {
                let bound = self.bound.ip().to_canonical();
                ip.is_loopback()
                    || ip == bound
                    || bound.is_unspecified()
                    || self.allowed.contains(&AllowedHost::Addr(ip))
            }
            HostPart::Name(name) => {
                name == "localhost" || self.allowed.contains(&AllowedHost::Name(name))
            }
        }
    }

    /// Every check, in order: the Host, then where a state-changing request comes from.
    pub fn check(&self, parts: &Parts) -> Result<(), Refusal> {
        let host = self.check_host(parts)?;
        let mut origins = parts.headers.get_all(ORIGIN).iter();
        if origins.next().is_some() && origins.next().is_some() {
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                message: "The request has more than one Origin header.".to_owned(),
            });
        }
        if !parts.method.is_safe() {
            self.check_origin(parts, host)?;
        }
        Ok(())
    }

    /// The `Host` the request was sent to, once it is known to name this server (`None` for
    /// an HTTP/1.0 request without one).
    fn check_host<'a>(&self, parts: &'a Parts) -> Result<Option<&'a str>, Refusal> {
        let bad = |message: String| Refusal {
            status: StatusCode::BAD_REQUEST,
            message,
        };
        let mut headers = parts.headers.get_all(HOST).iter();
        let header = headers.next();
        if headers.next().is_some() {
            return Err(bad("The request has more than one Host header.".to_owned()));
        }
        let header = match header.map(|v| v.to_str()) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => return Err(bad("The Host header is not readable text.".to_owned())),
        };
        // HTTP/2 carries the host in the URI (`:authority`); so does an absolute-form
        // HTTP/1.1 request line. Whichever are present must all name this server.
        let authority = parts.uri.authority().map(|a| a.as_str());
        for value in [authority, header].into_iter().flatten() {
            if !self.accepts_host(value) {
                let own = if self.bound.ip().is_unspecified() {
                    format!(
                        "localhost or any address of this machine, port {}",
                        self.bound.port()
                    )
                } else {
                    format!(
                        "localhost, 127.0.0.1, [::1] or the address it listens on, {}",
                        self.bound
                    )
                };
                return Err(Refusal {
                    status: StatusCode::MISDIRECTED_REQUEST,
                    message: format!(
                        "This server answers only under its own addresses ({own}), not under \
                         \"{}\". This refusal protects against DNS rebinding. To reach it \
                         under another name on purpose, start it with --allow-host NAME.",
                        shown(value)
                    ),
                });
            }
        }
        match header.or(authority) {
            Some(h) => Ok(Some(h)),
            None if matches!(parts.version, Version::HTTP_09 | Version::HTTP_10) => Ok(None),
            None => Err(bad(
                "The request has no Host header; HTTP/1.1 requires one.".to_owned(),
            )),
        }
    }
}

impl Guard {
    /// A request that changes something must come from one of our own pages when a browser says
    /// where it comes from.
    fn check_origin(&self, parts: &Parts, host: Option<&str>) -> Result<(), Refusal> {
        let refuse = |why: String| Refusal {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "This server accepts changes only from its own pages, and {why}. Open the page on \
             this server and send the form from there."
            ),
        };
        // Browsers set Sec-Fetch-Site themselves (pages cannot), from the whole redirect chain.
        let site = parts
            .headers
            .get(SEC_FETCH_SITE)
            .map(|v| v.to_str().unwrap_or(""));
        if let Some(site) = site
            && (site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site"))
        {
            return Err(refuse(format!(
                "the browser says this request comes from another site (Sec-Fetch-Site: {})",
                shown(site)
            )));
        }
        let Some(origin) = parts.headers.get(ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().unwrap_or("");
        // `Origin: null` is also what a browser sends for our own form when the user's settings
        // withhold referrers; then only Sec-Fetch-Site can say it is ours.
        let ours_without_origin =
            origin == "null" && site.is_some_and(|s| s.eq_ignore_ascii_case("same-origin"));
        if ours_without_origin || self.same_origin(origin, host) {
            Ok(())
        } else {
            Err(refuse(format!(
                "this request comes from {} (its Origin), not from {}",
                shown(origin),
                host.map_or_else(
                    || "this server".to_owned(),
                    |h| format!("http://{}", shown(h))
                )
            )))
        }
    }

    /// Whether the serialized origin `origin` (`http://host[:port]`) is this server as reached
    /// through `host`: the server speaks plain HTTP, so the scheme is `http`, and the host and
    /// port are the same (a missing port is 80 on both sides). An `https` origin is a TLS
    /// reverse proxy's, accepted for a host allowed with `--allow-host` only (a missing port is
    /// 443 on both sides).
    fn same_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let Some((host, host_port)) = host.and_then(|h| split_authority(h.trim())) else {
            return false;
        };
        let lower = origin.to_ascii_lowercase();
        let (authority, default_port) = if let Some(a) = lower.strip_prefix("http://") {
            (a, 80)
        } else if let Some(a) = lower.strip_prefix("https://") {
            let allowed = match &host {
                HostPart::Name(n) => self.allowed.contains(&AllowedHost::Name(n.clone())),
                HostPart::Addr(a) => self.allowed.contains(&AllowedHost::Addr(*a)),
            };
            if !allowed {
                return false;
            }
            (a, 443)
        } else {
            // Anything else ("null", other schemes) is not this server.
            return false;
        };
        match split_authority(authority) {
            Some((h, p)) => {
                h == host && p.unwrap_or(default_port) == host_port.unwrap_or(default_port)
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn guard(bound: &str, allowed: &[&str]) -> Guard {
        let allowed: Vec<AllowedHost> = allowed.iter().map(|a| a.parse().unwrap()).collect();
        Guard::new(bound.parse().unwrap(), &allowed)
    }

    #[test]
    fn loopback_bound() {
        let g = guard("127.0.0.1:7970", &[]);
        for ok in [
            "localhost",
            "localhost:7970",
            "LocalHost.:7970",
            "127.0.0.1",
            "127.0.0.1:7970",
            "127.1.2.3:7970",
            "[::1]",
            "[::1]:7970",
            "[::ffff:127.0.0.1]:7970",
        ] {
            assert!(g.accepts_host(ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:7970",
            "localhost:7971",
            "127.0.0.1:80",
            "192.168.1.5:7970",
            "localhost.attacker.example",
            "user@localhost:7970",
            "::1",
            "[::1",
            "localhost:+7970",
            "localhost:",
            "",
            "2130706433:7970",
        ] {
            assert!(!g.accepts_host(bad), "{bad}");
        }
    }

    #[test]
    fn lan_wildcard_and_allowed() {
        let g = guard("192.168.1.5:80", &["Portent.LAN.", "203.0.113.9"]);
        assert!(g.accepts_host("192.168.1.5"));
        assert!(g.accepts_host("portent.lan"));
        assert!(g.accepts_host("PORTENT.lan:80"));
        assert!(g.accepts_host("203.0.113.9"));
        assert!(!g.accepts_host("192.168.1.6"));
        assert!(!g.accepts_host("other.lan"));
        let g = guard("0.0.0.0:7970", &[]);
        assert!(g.accepts_host("10.1.2.3:7970"));
        assert!(g.accepts_host("[2001:db8::1]:7970"));
        assert!(!g.accepts_host("myhost:7970"));
        let g = guard("[::]:7970", &["myhost"]);
        assert!(g.accepts_host("10.1.2.3:7970"));
        assert!(g.accepts_host("myhost:7970"));
    }

    #[test]
    fn allowed_host_values() {
        assert_eq!(
            "[::1]".parse::<AllowedHost>().unwrap(),
            AllowedHost::Addr("::1".parse().unwrap())
        );
        assert_eq!(
            "Box.Lan.".parse::<AllowedHost>().unwrap(),
            AllowedHost::Name("box.lan".into())
        );
        for bad in ["", "box.lan:80", "http://box", "a..b", "*.lan", "a b"] {
            assert!(bad.parse::<AllowedHost>().is_err(), "{bad}");
        }
        assert_eq!("[::1]".parse::<AllowedHost>().unwrap().to_string(), "[::1]");
    }

    #[test]
    fn origins() {
        let same_origin = |o: &str, h: Option<&str>| guard("127.0.0.1:7970", &[]).same_origin(o, h);
        let h = Some("127.0.0.1:7970");
        assert!(same_origin("http://127.0.0.1:7970", h));
        assert!(same_origin("HTTP://127.0.0.1:7970", h));
        assert!(!same_origin("http://localhost:7970", h));
        assert!(!same_origin("http://127.0.0.1:7971", h));
        assert!(!same_origin("http://evil.example", h));
        assert!(!same_origin("null", h));
        assert!(!same_origin("http://127.0.0.1:7970", None));
        assert!(same_origin("http://box.lan", Some("box.lan")));
        assert!(same_origin("http://box.lan:80", Some("box.lan")));
        assert!(same_origin("http://box.lan", Some("box.lan:80")));
        assert!(!same_origin("https://box.lan", Some("box.lan")));
        assert!(!same_origin("https://127.0.0.1:7970", h));
        assert!(!same_origin("http://127.0.0.1:7970/", h));
    }

    #[test]
    fn https_origins_of_allowed_hosts() {
        // Behind a TLS proxy on 443 that passes the browser's Host on.
        let g = guard("127.0.0.1:7970", &["portent.example", "192.0.2.7"]);
        let ok = |o: &str, h: &str| g.same_origin(o, Some(h));
        assert!(ok("https://portent.example", "portent.example"));
        assert!(ok("https://PORTENT.example:443", "portent.example"));
        assert!(!ok("https://portent.example", "portent.example:7970"));
        assert!(ok("https://192.0.2.7", "192.0.2.7"));
        assert!(ok("http://portent.example", "portent.example"));
        // Not an allowed name, or another allowed name than the Host: another site.
        assert!(!ok("https://127.0.0.1:7970", "127.0.0.1:7970"));
        assert!(!ok("https://localhost", "localhost"));
        assert!(!ok("https://evil.example", "portent.example"));
        assert!(!ok("https://portent.example:8443", "portent.example"));
        assert!(!ok("wss://portent.example", "portent.example"));
    }
}
