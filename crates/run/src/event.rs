//! What a run tells its consumer while it goes. Events are borrowed views, handed to a
//! [`Sink`] one at a time and in order; the [`RunRecord`](crate::RunRecord) returned at the end
//! holds the same facts, so a consumer may stream, wait for the end, or both.

use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::time::Duration;

use portent_probe::Detection;
use portent_scan::checkpoint::WalkPoint;
use portent_scan::{Counts, Explanation, HostStatus, PortResult, Protocol, Reason, State, Stats};

/// One step of a run.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The scan is about to start.
    Started {
        hosts: u64,
        /// Ports per host, TCP and UDP together.
        ports: usize,
        /// Port results to come if every host is up.
        expected: u64,
        /// Connection attempts allowed in flight at once.
        max_in_flight: usize,
        /// The open-file limit after raising it, when the network has one.
        fd_limit: Option<u64>,
    },
    /// Host discovery decided about a host (only when discovery runs).
    HostStarted { addr: IpAddr, status: HostStatus },
    /// One port's final scan result, in arrival order.
    Port {
        result: PortResult,
        hostname: Option<&'a str>,
        /// What the registry and our notes say about the port, for listed ports (a port only
        /// counted is not looked up: on a full-range scan that would be most of the work).
        explanation: Option<&'a Explanation>,
        /// Listed (open, or every state when listing all), not only counted.
        listed: bool,
        /// Open with detection on: a [`RunEvent::Detected`] for it follows (or the record marks
        /// it interrupted).
        detecting: bool,
        /// What answered, known with the result itself (an open UDP port: the reply that made
        /// it open, identified by the payload catalogue).
        detection: Option<&'a Detection>,
    },
    /// Detection finished for an open port.
    Detected {
        addr: SocketAddr,
        detection: &'a Detection,
    },
    /// A host is finished (`Down`: it answered nothing during discovery and was skipped).
    HostDone {
        addr: IpAddr,
        status: HostStatus,
        counts: Counts,
        srtt: Option<Duration>,
    },
    /// Counts so far, after each port result, host skipped and detection.
    Progress(Progress),
    /// How far the scan has got (with `ScanOptions::checkpoints`): every port result before
    /// the point has been handed over, and so has the detection of each of its open ports.
    Checkpoint(&'a Checkpoint),
    /// The scan is complete; detections may still be running.
    ScanFinished {
        elapsed: Duration,
        stats: Stats,
        /// Detections not finished yet.
        detections_pending: usize,
    },
    /// The run is over (the record is returned next).
    Finished { interrupted: bool },
}

/// How far a run has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Progress {
    /// Port results so far.
    pub scanned: u64,
    /// Port results expected (shrinks as hosts are found down).
    pub expected: u64,
    pub open: u64,
    /// Detections finished, and started or waiting for a slot.
    pub detected: usize,
    pub detecting: usize,
}

/// Where events go. `ControlFlow::Break` stops the run (for example when the consumer's output
/// is gone); the record then says `stopped`.
pub trait Sink {
    fn event(&mut self, event: &RunEvent<'_>) -> ControlFlow<()>;
}

impl<F: FnMut(&RunEvent<'_>) -> ControlFlow<()>> Sink for F {
    fn event(&mut self, event: &RunEvent<'_>) -> ControlFlow<()> {
        self(event)
    }
}

/// A point a scan can be resumed from, and what this run found before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every pair of the walk before it is final.
    pub point: WalkPoint,
    /// This run's port results up to the point, by host, protocol, state and reason (a
    /// resumed run counts only what it scanned itself).
    pub counts: Vec<PrefixCount>,
}

/// Port results of one host with one protocol, state and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixCount {
    pub addr: IpAddr,
    pub protocol: Protocol,
    pub state: State,
    pub reason: Reason,
    /// Listed ones (their rows were handed over as [`RunEvent::Port`]s).
    pub listed: u64,
    /// Only counted.
    pub unlisted: u64,
}
