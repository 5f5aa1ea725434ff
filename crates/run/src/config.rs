//! What a run is asked to do, as plain library types. The CLI builds a [`RunConfig`] from its
//! flags (and a future config file or the web server from theirs); nothing here knows clap.

use std::time::Duration;

use std::sync::Arc;

use portent_probe::Detector;
use portent_probe::udp::Catalogue;
use portent_registry::Registry;
use portent_scan::{Discovery, PortSet, Shard, Targets};

/// Everything a run needs, validated by whoever built it (targets resolved, ports parsed).
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub targets: Targets,
    /// TCP ports (empty for a UDP-only scan).
    pub ports: PortSet,
    /// UDP ports (empty unless UDP is scanned). UDP runs after TCP, on the hosts TCP did not
    /// find down.
    pub udp_ports: PortSet,
    pub udp: UdpOptions,
    pub scan: ScanOptions,
    /// Service detection on open ports; `None` scans only.
    pub detection: Option<DetectionConfig>,
    /// List every port result (closed and filtered too), not only open ones.
    pub list_all: bool,
    /// Keep listed port results in the [`RunRecord`](crate::RunRecord). A consumer that only
    /// streams events can turn this off so a large `list_all` run keeps no per-port memory;
    /// open ports are kept anyway while detection is on (their detections hang off them).
    pub keep_listed: bool,
    /// For explanations (`portent_scan::explain`) of port results.
    pub registry: Registry,
}

impl RunConfig {
    /// A scan of `ports` on `targets` with default timing, no detection, open ports listed.
    pub fn new(targets: Targets, ports: PortSet, registry: Registry) -> RunConfig {
        RunConfig {
            targets,
            ports,
            udp_ports: PortSet::empty(),
            udp: UdpOptions::default(),
            scan: ScanOptions::default(),
            detection: None,
            list_all: false,
            keep_listed: true,
            registry,
        }
    }
}

/// The scan engine's options (see `portent_scan::ScannerBuilder`).
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// A fixed timeout per attempt instead of one derived from round trips.
    pub timeout: Option<Duration>,
    /// Attempts after the first for a silent port.
    pub retries: u8,
    /// At most this many attempts per second.
    pub rate: Option<u32>,
    /// Threads driving attempts; 1 runs the scan on the caller's runtime.
    pub threads: usize,
    pub discovery: Discovery,
    /// A fixed order (reproducible runs); random when `None`.
    pub seed: Option<u64>,
    /// Scan one shard of the (address x port) space (TCP only; `validate` refuses it with
    /// UDP ports), partitioned with this seed (`portent_scan::shard`).
    pub shard: Option<ShardOptions>,
    /// TCP by SYN probes on raw sockets (`-sS`, Linux, IPv4 and IPv6, CAP_NET_RAW) instead of
    /// connect(); no host discovery (every host is scanned, as with `--no-ping`).
    pub syn: bool,
    /// Hand the sink a [`RunEvent::Checkpoint`](crate::RunEvent::Checkpoint) at most this
    /// often, so a store can record how far the scan got (`scan --resume`, docs/scale.md).
    /// Connect scans of TCP only; port results then come in the walk's order.
    pub checkpoints: Option<Duration>,
    /// Start at this checkpoint of an earlier run of the same plan (targets, ports, seed and
    /// shard): the pairs before it are not scanned again. Needs `checkpoints`.
    pub resume: Option<portent_scan::checkpoint::WalkPoint>,
}

/// Which shard a run scans, and why: recorded with the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardOptions {
    pub shard: Shard,
    pub partition_seed: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            timeout: None,
            retries: 1,
            rate: None,
            threads: 1,
            discovery: Discovery::Auto,
            seed: None,
            shard: None,
            syn: false,
            checkpoints: None,
            resume: None,
        }
    }
}

/// The UDP scan's own options (timing, retries, rate and seed are the run's [`ScanOptions`]).
#[derive(Debug, Clone)]
pub struct UdpOptions {
    /// Where payloads come from and how replies are read.
    pub catalogue: Arc<Catalogue>,
    /// Wait out each host's ICMP rate limit so every silent port is told `closed` or
    /// `open|filtered` (see `portent_scan::UdpScannerBuilder::closed_wait`): exact, and slow on
    /// hosts that limit ICMP.
    pub closed_wait: bool,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions {
            catalogue: Arc::new(Catalogue::embedded().clone()),
            closed_wait: false,
        }
    }
}

/// Service detection on each open port, overlapped with the scan.
#[derive(Debug, Clone)]
pub struct DetectionConfig {
    /// One detector shared by every port.
    pub detector: Detector,
    /// At most this many detections at once (at least 1: `RunConfig::validate` refuses 0).
    pub concurrency: usize,
    /// Where detection tasks run; the caller's runtime when `None`. Detection waits on peers
    /// and parses TLS, so a caller whose scan runs on a current-thread runtime may hand a small
    /// multi-threaded one here and keep the scan's thread free.
    pub runtime: Option<tokio::runtime::Handle>,
}

impl DetectionConfig {
    pub fn new(detector: Detector, concurrency: usize) -> DetectionConfig {
        DetectionConfig {
            detector,
            concurrency,
            runtime: None,
        }
    }
}
