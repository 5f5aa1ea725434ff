//! One scan pipeline for every caller: a [`RunConfig`] (targets, ports, timing, optional
//! detection) goes in; a stream of [`RunEvent`]s comes out to a [`Sink`] while the run goes,
//! and a [`RunRecord`] (the finished run, per host) comes back at the end.
//!
//! Why a crate of its own: the CLI, a `watch` loop, the store and the web server all need the
//! same scan -> detect -> results path, and none of them should reach into the binary for it.
//! Everything here is plain data and typed errors: no clap types, no printing, no exiting.
//! Rendering (table, JSON, CSV, nmap XML) stays with whoever consumes the events and record.
//!
//! Detection overlaps the scan: each port is handed to `portent_probe` as soon as the engine
//! reports it open, at most `concurrency` at a time, while the scan goes on (see
//! [`pipeline`]). A stop future (Ctrl-C, a shutdown) ends the run early; the record keeps what
//! was found and marks the ports whose detection it cut short.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portent_run::RunError> {
//! use std::ops::ControlFlow;
//! use portent_run::{RunConfig, RunEvent};
//! use portent_scan::{PortSet, Targets};
//! let reg = portent_registry::Registry::embedded();
//! let targets = Targets::from_addrs(["127.0.0.1".parse().expect("an address")]);
//! let config = RunConfig::new(targets, PortSet::from_ports([22, 80, 797]), reg);
//! let mut sink = |e: &RunEvent<'_>| {
//!     if let RunEvent::Port { result, .. } = e {
//!         println!("{}:{} {}", result.addr, result.port, result.state);
//!     }
//!     ControlFlow::Continue(())
//! };
//! let record = portent_run::run(config, &mut sink, std::future::pending()).await?;
//! println!("{} open", record.totals.open);
//! # Ok(()) }
//! ```

pub mod config;
pub mod event;
pub mod pipeline;
pub mod record;
pub mod udp;

pub use config::{DetectionConfig, RunConfig, ScanOptions, ShardOptions, UdpOptions};
pub use event::{Checkpoint, PrefixCount, Progress, RunEvent, Sink};
pub use pipeline::{run, run_on};
pub use record::{HostRecord, ResumedRecord, RunRecord, ShardRecord};

/// Why a run could not start. Once started, a run always returns a record (interrupted or
/// not); problems with single ports are results, not errors.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scan options are out of bounds (timeout, retries, rate).
    #[error(transparent)]
    Config(#[from] portent_scan::ConfigError),
}
