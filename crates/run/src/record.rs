//! The finished run as data: what renderers (table, JSON, CSV, nmap XML) and a store need,
//! per host and in total. Built by the pipeline from the same events a sink sees. It
//! serializes and reads back whole, so a stored run renders again in every form its command
//! has (`portent show`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use portent_probe::Detection;
use portent_scan::{Counts, HostStatus, PortResult, Protocol, Reason, Resolution, State, Stats};
use serde::{Deserialize, Serialize};

/// A finished (or interrupted) run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// Addresses in the target set, and the names resolved to build it.
    pub addresses: u64,
    pub resolutions: Vec<Resolution>,
    /// Ports asked for per host, and the list in short form (`22,80,8000-8100`).
    pub port_count: usize,
    pub port_list: String,
    /// UDP ports asked for per host (0 when UDP was not scanned), and their short list.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub udp_port_count: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub udp_port_list: String,
    pub list_all: bool,
    /// Detection was on.
    pub detection: bool,
    /// Hosts up or assumed, ascending by address (hosts found down are only counted).
    pub hosts: Vec<HostRecord>,
    pub hosts_down: u64,
    pub totals: Counts,
    /// Port results expected when the run ended (every port of every host not down).
    pub expected: u64,
    pub stats: Stats,
    /// Wall time of the scan (to the stop when it was interrupted).
    pub scan_elapsed: Duration,
    /// The scan went to its end.
    pub scan_complete: bool,
    /// Wall time of detection, from the first open port handed to it to the last detection
    /// (or the stop). `None` unless the scan completed and some port was open: a run stopped
    /// during the scan counts as interrupted in the scan.
    pub detect_elapsed: Option<Duration>,
    /// The stop future ended the run.
    pub interrupted: bool,
    /// The sink asked to stop.
    pub stopped: bool,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    /// The shard this run scanned, when it was one shard of a split scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// Where this run picked up when it resumed an interrupted one (set by the caller that
    /// resumed it: the results above are only those after the checkpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<ResumedRecord>,
}

/// The checkpoint a resumed run started from, and what the runs before it had found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumedRecord {
    /// The stored run it continues (its name, `--scan-name`).
    pub run: String,
    /// The walk point: host group (1-based) and position in it.
    pub group: u64,
    pub position: u64,
    /// Port results before the checkpoint (not scanned again), and how many were listed.
    pub done: u64,
    pub listed: u64,
    /// When the checkpoint was written, in milliseconds since the Unix epoch.
    pub checkpoint_ms: i64,
}

/// One shard of a split scan: which, the partition's seed, and the plan digest (seed,
/// addresses and ports in order) that tells shards of one scan from shards of another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub shard: portent_scan::Shard,
    pub partition_seed: u64,
    pub plan: String,
}

/// One host of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostRecord {
    pub addr: IpAddr,
    pub hostname: Option<String>,
    pub status: HostStatus,
    pub counts: Counts,
    /// Smoothed round-trip time at the host's end.
    pub srtt: Option<Duration>,
    /// Listed port results (open, or all when listing all), in arrival order.
    pub listed: Vec<PortResult>,
    /// Counts by (state, reason), for "not shown" lines and nmap's `extrareasons`.
    #[serde(serialize_with = "reasons_list", deserialize_with = "reasons_map")]
    pub reasons: BTreeMap<(State, Reason), u64>,
    /// The same for UDP ports (kept apart: nmap's `extrareasons` name the protocol).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "reasons_list",
        deserialize_with = "reasons_map"
    )]
    pub udp_reasons: BTreeMap<(State, Reason), u64>,
    /// The host's scan finished (false when the run stopped first).
    pub complete: bool,
    /// Finished detections of TCP ports, by port.
    pub detections: BTreeMap<u16, Detection>,
    /// What answered on open UDP ports, by port (read from the reply that made them open).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub udp_detections: BTreeMap<u16, Detection>,
    /// Open ports whose detection the stop cut short or kept from starting: not identified
    /// because interrupted, unlike a detection that found nothing (`unknown`).
    pub detection_interrupted: BTreeSet<u16>,
}

impl HostRecord {
    pub(crate) fn new(addr: IpAddr, hostname: Option<String>) -> HostRecord {
        HostRecord {
            addr,
            hostname,
            status: HostStatus::Assumed,
            counts: Counts::default(),
            srtt: None,
            listed: Vec::new(),
            reasons: BTreeMap::new(),
            udp_reasons: BTreeMap::new(),
            complete: false,
            detections: BTreeMap::new(),
            udp_detections: BTreeMap::new(),
            detection_interrupted: BTreeSet::new(),
        }
    }

    /// Listed results ordered by protocol (TCP first, as nmap lists them), then port.
    pub fn listed_by_port(&self) -> Vec<&PortResult> {
        let mut v: Vec<&PortResult> = self.listed.iter().collect();
        v.sort_by_key(|r| (r.protocol, r.port));
        v
    }

    /// The detection of `port` on `protocol`.
    pub fn detection_of(&self, protocol: Protocol, port: u16) -> Option<&Detection> {
        match protocol {
            Protocol::Tcp => self.detections.get(&port),
            Protocol::Udp => self.udp_detections.get(&port),
        }
    }

    /// Whether `port`'s detection was cut short (TCP only: UDP ports are identified from the
    /// reply that made them open).
    pub fn interrupted_on(&self, protocol: Protocol, port: u16) -> bool {
        protocol == Protocol::Tcp && self.detection_interrupted.contains(&port)
    }
}

impl RunRecord {
    pub fn host(&self, addr: IpAddr) -> Option<&HostRecord> {
        self.hosts
            .binary_search_by_key(&addr, |h| h.addr)
            .ok()
            .and_then(|i| self.hosts.get(i))
    }

    pub fn detection(&self, addr: SocketAddr) -> Option<&Detection> {
        self.host(addr.ip())?.detections.get(&addr.port())
    }

    pub fn detection_interrupted(&self, addr: SocketAddr) -> bool {
        self.host(addr.ip())
            .is_some_and(|h| h.detection_interrupted.contains(&addr.port()))
    }

    /// Detections finished, over all hosts.
    pub fn detected(&self) -> usize {
        self.hosts.iter().map(|h| h.detections.len()).sum()
    }

    /// Open ports whose detection was cut short, over all hosts.
    pub fn detections_interrupted(&self) -> usize {
        self.hosts
            .iter()
            .map(|h| h.detection_interrupted.len())
            .sum()
    }

    /// Stopped while detections were still running, after a complete scan.
    pub fn interrupted_in_detection(&self) -> bool {
        self.interrupted && self.detect_elapsed.is_some()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct ReasonCount {
    state: State,
    reason: Reason,
    count: u64,
}

fn reasons_list<S: serde::Serializer>(
    m: &BTreeMap<(State, Reason), u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(|(&(state, reason), &count)| ReasonCount {
        state,
        reason,
        count,
    }))
}

fn reasons_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<(State, Reason), u64>, D::Error> {
    let list = Vec::<ReasonCount>::deserialize(d)?;
    Ok(list
        .into_iter()
        .map(|c| ((c.state, c.reason), c.count))
        .collect())
}
