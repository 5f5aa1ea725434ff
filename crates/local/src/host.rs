//! Kernel port settings of this host, as the port page shows them.
//!
//! On Linux the lowest unprivileged port and the ephemeral range are sysctls, read from
//! `/proc/sys`. Elsewhere portent falls back to the platform's documented defaults, and says
//! the value is unknown rather than guessing where there is no fixed default.

use portent_registry::report::HostFacts;

/// Reads the facts for this host. Never fails: an unreadable setting is reported as unknown.
pub fn facts() -> HostFacts {
    HostFacts {
        os: std::env::consts::OS,
        unprivileged_port_start: unprivileged_port_start(),
        ephemeral_range: ephemeral_range(),
    }
}

#[cfg(target_os = "linux")]
fn read_sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).ok()
}

/// `net.ipv4.ip_unprivileged_port_start` on Linux; 1024 on other Unix-like systems; 0 on
/// Windows, which has no privileged ports.
pub fn unprivileged_port_start() -> Option<u16> {
    #[cfg(target_os = "linux")]
    {
        read_sysctl("ip_unprivileged_port_start").and_then(|s| parse_port(&s))
    }
    #[cfg(target_os = "windows")]
    {
        Some(0)
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        Some(1024)
    }
    #[cfg(not(any(unix, windows)))]
    {
        None
    }
}

/// The kernel's ephemeral port range: `net.ipv4.ip_local_port_range` on Linux, the default
/// 49152-65535 on macOS, FreeBSD and Windows (since Vista).
pub fn ephemeral_range() -> Option<(u16, u16)> {
    #[cfg(target_os = "linux")]
    {
        read_sysctl("ip_local_port_range").and_then(|s| parse_range(&s))
    }
    #[cfg(any(target_os = "macos", target_os = "freebsd", target_os = "windows"))]
    {
        Some((49152, 65535))
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "freebsd",
        target_os = "windows"
    )))]
    {
        None
    }
}

/// Parses a sysctl port value. The kernel accepts values above 65535 for
/// `ip_unprivileged_port_start` only up to 65535, but clamp anyway.
pub fn parse_port(text: &str) -> Option<u16> {
    let v: u32 = text.trim().parse().ok()?;
    Some(u16::try_from(v).unwrap_or(u16::MAX))
}

/// Parses `ip_local_port_range`: two numbers separated by whitespace (a tab on Linux).
pub fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    let (Some(Ok(lo)), Some(Ok(hi)), None) = (it.next(), it.next(), it.next()) else {
        return None;
    };
    (lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_port("1024\n"), Some(1024));
        assert_eq!(parse_port("0"), Some(0));
        assert_eq!(parse_port("x"), None);
        assert_eq!(parse_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_range("5 4"), None);
        assert_eq!(parse_range("1"), None);
        assert_eq!(parse_range("1 2 3"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_linux_host() {
        let want = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        assert_eq!(ephemeral_range(), parse_range(&want));
        assert!(ephemeral_range().is_some());
        assert!(unprivileged_port_start().is_some());
    }
}
