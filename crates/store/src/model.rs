//! What the store keeps, as plain data: runs, the hosts and ports they saw, listening
//! sockets. The scan and listening crates do not depend on this one; callers map their own
//! results into these rows.

use serde::{Deserialize, Serialize};

/// What produced a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Scan,
    Check,
    Listening,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Scan => "scan",
            RunKind::Check => "check",
            RunKind::Listening => "listening",
        }
    }

    pub fn parse(text: &str) -> Option<RunKind> {
        match text {
            "scan" => Some(RunKind::Scan),
            "check" => Some(RunKind::Check),
            "listening" => Some(RunKind::Listening),
            _ => None,
        }
    }
}

/// A run as it starts.
#[derive(Debug, Clone, Serialize)]
pub struct NewRun {
    pub kind: RunKind,
    pub started_ms: i64,
    /// Targets as asked (host names, addresses, networks); for listening, the namespace.
    pub targets: Vec<String>,
    /// Ports as asked, as a range list ("1-65535", "22,80,443"); empty for listening.
    pub ports: String,
    /// The options that shaped the run (timing, detection...), as the caller names them.
    pub options: serde_json::Value,
    /// The machine that ran it: its host name.
    pub host_identifier: String,
    /// The host identity the fleet view groups by (`web-1@3f2a9c1e0b7d`, or an operator's
    /// `--host-id`); `None`: the host name alone.
    pub host_id: Option<String>,
    /// The machine's whole /etc/machine-id, when it could be read.
    pub machine_id: Option<String>,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    pub hosts_up: u64,
    /// UDP ports that never answered (`open|filtered`); 0 for TCP-only runs.
    #[serde(default)]
    pub open_filtered: u64,
}

/// How a run ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Finish {
    pub finished_ms: i64,
    /// Every probe asked for was made. False for an interrupted run.
    pub complete: bool,
    pub counts: RunCounts,
    /// The command's `--json` document, to show the run again.
    pub document: Option<String>,
    /// The run as its pipeline recorded it (JSON, the command's own shape), to render it
    /// again in the command's other forms.
    pub record: Option<String>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub id: String,
    pub kind: RunKind,
    pub started_ms: i64,
    /// `None` while running, or when the process died before finishing.
    pub finished_ms: Option<i64>,
    pub complete: bool,
    pub targets: Vec<String>,
    pub ports: String,
    pub options: serde_json::Value,
    /// The host name of the machine that ran it.
    pub host_identifier: String,
    /// The host identity (the fleet view's key): `web-1@3f2a9c1e0b7d`, an operator's
    /// `--host-id`, or the host name alone for runs saved before host identities.
    pub host_id: String,
    /// The machine's /etc/machine-id, when it was read.
    pub machine_id: Option<String>,
    pub counts: RunCounts,
}

/// A host a run covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRow {
    pub host: String,
    pub hostname: Option<String>,
    /// `up` (answered discovery), `assumed` (not probed), `down`.
    pub status: String,
}

/// One listed port result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortRow {
    pub host: String,
    pub protocol: String,
    pub port: u16,
    pub state: String,
    pub reason: String,
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub cert_sha256: Option<String>,
    pub cert_not_after_ms: Option<i64>,
    pub banner_sha256: Option<String>,
}

/// Ports not listed, counted by state and reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtraRow {
    pub host: String,
    pub protocol: String,
    pub state: String,
    pub reason: String,
    pub count: u64,
}

/// A listening socket in a snapshot. Its identity is (protocol, address, port, executable,
/// user); pid and process are kept for display only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SocketRow {
    pub protocol: String,
    pub address: String,
    pub port: u16,
    pub executable: String,
    pub user: String,
    pub pid: Option<u32>,
    pub process: Option<String>,
}

impl SocketRow {
    /// What makes two sockets of two snapshots the same socket.
    pub fn identity(&self) -> (&str, &str, u16, &str, &str) {
        (
            &self.protocol,
            &self.address,
            self.port,
            &self.executable,
            &self.user,
        )
    }
}

/// Everything stored about one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunData {
    pub run: Run,
    pub hosts: Vec<HostRow>,
    pub ports: Vec<PortRow>,
    pub extra: Vec<ExtraRow>,
    pub sockets: Vec<SocketRow>,
}

/// A host identity the store knows, with its newest run of the kind asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostEntry {
    pub host_id: String,
    /// Its host name, as the newest run saw it.
    pub hostname: String,
    pub machine_id: Option<String>,
}

/// One host of the fleet: its newest whole listening snapshot and the one before it over the
/// same namespace (`None` for a host with one snapshot so far).
#[derive(Debug, Clone, Serialize)]
pub struct HostSnapshots {
    pub host: HostEntry,
    pub latest: RunData,
    pub previous: Option<RunData>,
}

/// One shard of a named scan as it starts: every shard of one scan names the same run and
/// shares the plan digest and the shard count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardClaim {
    /// The run's name (`--scan-name`).
    pub name: String,
    /// 1-based, as `--shard K/N` writes it.
    pub index: u64,
    pub count: u64,
    /// The plan digest (seed, addresses and ports in order).
    pub plan: String,
}

/// A checkpoint of a scan in progress (`scan --resume`): every pair of the walk before the
/// point (`group`, `position`, `live`: portent-scan's `WalkPoint`) is final, its listed ports
/// are saved and `counts` counts all of its results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// 1-based; 1 for an unsharded scan.
    pub shard_index: u64,
    /// The plan digest the walk belongs to.
    pub plan: String,
    pub group: u64,
    pub position: u64,
    pub live: u64,
    /// The seed of the walk's order.
    pub seed: u64,
    pub updated_ms: i64,
    /// Port results of the whole prefix, by host, protocol, state and reason.
    pub counts: Vec<PrefixRow>,
}

/// Port results of one host with one protocol, state and reason in a checkpoint's prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixRow {
    pub host: String,
    pub protocol: String,
    pub state: String,
    pub reason: String,
    /// Listed (their rows are in the run's ports).
    pub listed: u64,
    /// Only counted.
    pub unlisted: u64,
}

/// How one shard of a named scan ended.
#[derive(Debug, Clone, Default)]
pub struct ShardDone {
    /// 1-based.
    pub index: u64,
    pub finished_ms: i64,
    /// The shard's scan went to its end.
    pub complete: bool,
    pub counts: RunCounts,
    /// Hosts the shard saw up or assumed, and port results it listed.
    pub hosts: u64,
    pub listed: u64,
}

/// One shard of a named scan, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShardRow {
    /// `K/N`, 1-based.
    pub shard: String,
    pub started_ms: i64,
    /// `None` while it runs, or when it was killed.
    pub finished_ms: Option<i64>,
    pub complete: bool,
    /// The machine that ran it (the last try's).
    pub host_identifier: String,
    pub hosts: u64,
    pub listed: u64,
    pub counts: RunCounts,
}

/// The shards of a named scan: which are done and which are missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shards {
    /// The run's name (`--scan-name`).
    pub name: String,
    /// How many shards the scan has.
    pub count: u64,
    /// The plan digest every shard shares.
    pub plan: String,
    /// Shards whose scan went to its end.
    pub done: u64,
    /// Shards not done (never started, still running, killed or interrupted), as `K/N`.
    pub missing: Vec<String>,
    /// The shards that started, by index.
    pub shards: Vec<ShardRow>,
}

impl Shards {
    /// Every shard is done: the run is the whole scan.
    pub fn all_done(&self) -> bool {
        self.missing.is_empty()
    }

    /// `3 of 4 shards done; missing: 2/4`, or `4 of 4 shards done`.
    pub fn summary(&self) -> String {
        let unit = if self.count == 1 { "shard" } else { "shards" };
        let mut s = format!("{} of {} {unit} done", self.done, self.count);
        if !self.missing.is_empty() {
            s.push_str("; missing: ");
            s.push_str(&self.missing.join(", "));
        }
        s
    }
}

/// Whether `port` on `protocol` ("tcp", "udp") is in a range list as runs store it:
/// "1-1024,8080" (TCP), or with nmap's prefixes when UDP was scanned: "U:53,161" or
/// "T:22,80,U:53" (a prefix holds for the items after it; items before any prefix are TCP).
pub fn ports_contain(list: &str, protocol: &str, port: u16) -> bool {
    let mut current = "tcp";
    list.split(',').map(str::trim).any(|item| {
        let part = match item.split_once(':') {
            Some((p, rest)) => {
                current = match p.trim() {
                    "T" | "t" => "tcp",
                    "U" | "u" => "udp",
                    _ => "",
                };
                rest
            }
            None => item,
        };
        if current != protocol {
            return false;
        }
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&port),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_lists() {
        assert!(ports_contain("1-1024,8080", "tcp", 22));
        assert!(ports_contain("1-1024,8080", "tcp", 8080));
        assert!(!ports_contain("1-1024,8080", "tcp", 8081));
        assert!(!ports_contain("1-1024,8080", "udp", 22));
        assert!(ports_contain("1-65535", "tcp", 65535));
        assert!(!ports_contain("", "tcp", 1));
        assert!(!ports_contain("x-y", "tcp", 1));
        // With UDP, as a scan of both protocols stores its ports.
        let both = "T:22,80,U:7,9-10";
        assert!(ports_contain(both, "tcp", 22) && ports_contain(both, "tcp", 80));
        assert!(!ports_contain(both, "tcp", 7) && !ports_contain(both, "udp", 22));
        assert!(ports_contain(both, "udp", 7) && ports_contain(both, "udp", 10));
        assert!(ports_contain("U:53", "udp", 53) && !ports_contain("U:53", "tcp", 53));
        assert!(!ports_contain("S:53", "udp", 53));
    }
}
