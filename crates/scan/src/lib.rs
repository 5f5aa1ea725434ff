//! Finding what is open: targets and port lists parsed and validated up front, and an
//! unprivileged TCP connect scan engine on tokio that emits [`Event`]s and never prints.
//!
//! The flow: [`TargetsBuilder`] and [`ports::select`] turn user input into a [`Targets`] and a
//! [`PortSet`] (or a typed error naming the bad token, before anything is sent);
//! [`Scanner::builder`] takes them with timing options; [`Scanner::run`] drives the attempts
//! and calls back with events; [`explain()`] joins an open port to the registry. UDP has its own
//! engine, [`udp::UdpScanner`], with the same events.

pub mod check;
pub mod checkpoint;
pub mod engine;
pub mod error;
pub mod explain;
pub mod limits;
pub mod model;
pub mod net;
pub mod order;
#[cfg(target_os = "linux")]
mod pollset;
pub mod ports;
pub mod shard;
#[cfg(target_os = "linux")]
pub mod syn;
pub mod targets;
pub mod timing;
pub mod udp;
pub mod wait;

pub use engine::{DISCOVERY_PORTS, Discovery, Scanner, ScannerBuilder, Timing};
pub use error::{ConfigError, PortError, ScanError, TargetError};
pub use explain::{Explanation, explain, explain_on};
pub use model::{Counts, Event, HostStatus, PortResult, Protocol, Reason, State, Stats};
pub use net::{Attempt, Begun, Network, SystemNetwork};
pub use ports::{PortClass, PortSet, PortSpec, Selection, Wanted};
pub use shard::{Partition, Shard, ShardSource};
#[cfg(target_os = "linux")]
pub use syn::{SynScanner, SynScannerBuilder};
pub use targets::{Resolution, Resolver, SystemResolver, Targets, TargetsBuilder};
pub use udp::{IcmpBudget, UdpPayloads, UdpProbe, UdpScanner, UdpScannerBuilder};
pub use wait::{Deadline, Tasks, Waiting};

use std::time::Duration;

/// A round-trip time in milliseconds as every JSON form gives it: rounded to the microsecond
/// (three decimals), the precision the kernel's timestamps support.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Parses a duration as the command line gives it: `500ms`, `2s`, `1.5s`, `1m`, `1h`; a bare
/// number is seconds, as nmap reads its timing options (`--host-timeout 30` is 30 s).
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    let t = text.trim();
    let bad = || ConfigError::BadDuration {
        text: text.to_owned(),
    };
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "us" | "µs" => n / 1e6,
        _ => return Err(bad()),
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("0.25").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        for bad in ["", "s", "5x", "-1s", "1..2s", "ms5", "25h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
