//! Target lists as `scan` reads them from the command line and from `-iL`/`--exclude-file`
//! files: one token per word, a line starting with `!` excluding. Host names are resolved by
//! a table made from the name itself, never by the system: nothing leaves the machine.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use portent_scan::targets::{self, Resolver, TargetsBuilder};

/// Every name resolves to one or two documentation addresses (192.0.2.0/24, 2001:db8::/32)
/// picked from its bytes; names starting with "x" do not resolve.
struct Table;

impl Resolver for Table {
    fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        if host.starts_with('x') {
            return Err(std::io::Error::other("no such name"));
        }
        let h = host
            .bytes()
            .fold(0u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
        let mut out = vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, h))];
        if h.is_multiple_of(2) {
            out.push(IpAddr::V6(std::net::Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                0,
                u16::from(h),
            )));
        }
        Ok(out)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut b = TargetsBuilder::new();
    for line in text.lines() {
        let (exclude, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        for token in targets::split_tokens(line) {
            let _ = targets::parse_spec(token);
            if exclude {
                b.exclude(token);
            } else {
                b.target(token);
            }
        }
    }
    b.confirmed(text.len().is_multiple_of(2));
    if let Ok(t) = b.build(&Table) {
        assert!(!t.is_empty());
        assert!(t.len() <= targets::MAX_ADDRESSES);
        for addr in t.iter().take(64) {
            assert!(t.contains(addr));
            let _ = t.name_of(addr);
        }
    }
});
