//! The fleet view: every host that saved listening snapshots into one store (`portent
//! listening --store postgres://...` on many machines), with what each listener means. Fleet
//! tools collect listening ports but know nothing of what a port is; here each host's newest
//! snapshot is read against the registry, so the view says which hosts listen on ghost ports
//! (ports nobody registered), which listeners are exposed (bound to a non-loopback address),
//! and what changed since each host's snapshot before.
//!
//! The same data is the `/fleet` page, `/api/fleet` and `portent fleet --json` (docs/json.md),
//! so it lives here, where the CLI (which starts the server) can reach it too.

use portent_local::meaning::{Flag, Flags, RegistryView};
use portent_registry::Registry;
use portent_store::{HostSnapshots, SocketRow, Store, StoreError, utc_readable};
use serde::Serialize;

/// Hosts the fleet view reads at most.
pub const HOSTS_LIMIT: usize = 1000;

/// A stored listening socket with what it means.
#[derive(Debug, Clone, Serialize)]
pub struct FleetSocket {
    #[serde(flatten)]
    pub socket: SocketRow,
    pub registry: Option<RegistryView>,
    pub flags: Flags,
}

impl FleetSocket {
    fn of(reg: &Registry, s: &SocketRow) -> FleetSocket {
        let (registry, flags) =
            match portent_local::meaning::stored(reg, &s.protocol, &s.address, s.port) {
                Some((v, f)) => (Some(v), f),
                None => (None, Flags::default()),
            };
        FleetSocket {
            socket: s.clone(),
            registry,
            flags,
        }
    }

    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(flag)
    }

    /// The service the registry assigns, else its status word (`unassigned`), as the
    /// listening table says it.
    pub fn service(&self) -> String {
        match &self.registry {
            Some(r) => match r.services.first() {
                Some(name) if r.status == portent_registry::Status::Assigned => (*name).to_owned(),
                _ => r.status.as_str().to_owned(),
            },
            None => "-".to_owned(),
        }
    }
}

/// A socket that appeared (`added`) or went away (`removed`) since the host's snapshot before.
#[derive(Debug, Clone, Serialize)]
pub struct FleetChange {
    pub action: &'static str,
    #[serde(flatten)]
    pub socket: FleetSocket,
}

/// One host of the fleet, as its newest whole snapshot shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FleetHost {
    pub host_id: String,
    pub hostname: String,
    pub machine_id: Option<String>,
    /// The newest whole snapshot (a run id) and when it started.
    pub snapshot: String,
    pub started_ms: i64,
    pub started: String,
    /// What it listed: `local`, or `netns:PATH`.
    pub target: String,
    /// The snapshot before it over the same target; `None` for a host's first.
    pub previous: Option<String>,
    pub listeners: usize,
    /// Listeners on ports nobody registered (the `ghost` flag).
    pub ghosts: usize,
    /// Listeners bound to a non-loopback address.
    pub exposed: usize,
    /// Sockets added and removed since `previous`.
    pub added: usize,
    pub removed: usize,
    pub ghost_sockets: Vec<FleetSocket>,
    pub exposed_sockets: Vec<FleetSocket>,
    pub changes: Vec<FleetChange>,
}

/// One host with every socket of its newest snapshot (the per-host page).
#[derive(Debug, Clone, Serialize)]
pub struct FleetHostDetail {
    #[serde(flatten)]
    pub host: FleetHost,
    pub sockets: Vec<FleetSocket>,
}

/// Sums over the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FleetTotals {
    pub hosts: usize,
    pub listeners: usize,
    pub ghosts: usize,
    pub exposed: usize,
    pub hosts_with_ghosts: usize,
    pub hosts_with_exposed: usize,
    /// Hosts whose newest snapshot differs from the one before it.
    pub hosts_changed: usize,
}

/// The whole fleet.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub hosts: Vec<FleetHost>,
    pub totals: FleetTotals,
}

/// One host's view from its snapshots.
pub fn host_view(reg: &Registry, snaps: &HostSnapshots) -> FleetHostDetail {
    let latest = &snaps.latest;
    let sockets: Vec<FleetSocket> = latest
        .sockets
        .iter()
        .map(|s| FleetSocket::of(reg, s))
        .collect();
    let changes: Vec<FleetChange> = match &snaps.previous {
        Some(prev) => portent_store::diff_sockets(&prev.sockets, &latest.sockets)
            .into_iter()
            .map(|c| FleetChange {
                action: c.action,
                socket: FleetSocket::of(reg, &c.socket),
            })
            .collect(),
        None => Vec::new(),
    };
    let pick = |flag: Flag| -> Vec<FleetSocket> {
        sockets.iter().filter(|s| s.has(flag)).cloned().collect()
    };
    let ghost_sockets = pick(Flag::Ghost);
    let exposed_sockets = pick(Flag::Exposed);
    let count = |a: &str| changes.iter().filter(|c| c.action == a).count();
    let host = FleetHost {
        host_id: snaps.host.host_id.clone(),
        hostname: snaps.host.hostname.clone(),
        machine_id: snaps.host.machine_id.clone(),
        snapshot: latest.run.id.clone(),
        started_ms: latest.run.started_ms,
        started: utc_readable(latest.run.started_ms),
        target: latest.run.targets.join(" "),
        previous: snaps.previous.as_ref().map(|p| p.run.id.clone()),
        listeners: sockets.len(),
        ghosts: ghost_sockets.len(),
        exposed: exposed_sockets.len(),
        added: count("added"),
        removed: count("removed"),
        ghost_sockets,
        exposed_sockets,
        changes,
    };
    FleetHostDetail { host, sockets }
}

/// The fleet from a store: every host with a whole listening snapshot, by host id.
pub fn fleet(store: &mut Store, reg: &Registry) -> Result<Fleet, StoreError> {
    let hosts: Vec<FleetHost> = store
        .fleet(HOSTS_LIMIT)?
        .iter()
        .map(|s| host_view(reg, s).host)
        .collect();
    let totals = FleetTotals {
        hosts: hosts.len(),
        listeners: hosts.iter().map(|h| h.listeners).sum(),
        ghosts: hosts.iter().map(|h| h.ghosts).sum(),
        exposed: hosts.iter().map(|h| h.exposed).sum(),
        hosts_with_ghosts: hosts.iter().filter(|h| h.ghosts > 0).count(),
        hosts_with_exposed: hosts.iter().filter(|h| h.exposed > 0).count(),
        hosts_changed: hosts.iter().filter(|h| !h.changes.is_empty()).count(),
    };
    Ok(Fleet { hosts, totals })
}

/// One host (by its id, host name or a unique prefix of its id) with every socket.
pub fn host(
    store: &mut Store,
    reg: &Registry,
    reference: &str,
) -> Result<Option<FleetHostDetail>, StoreError> {
    let entry = store.resolve_host(reference, portent_store::RunKind::Listening)?;
    let (older, newest) = store.host_pair(&entry.host_id)?;
    let Some(newest) = newest else {
        return Ok(None);
    };
    let snaps = HostSnapshots {
        host: entry,
        latest: store.data(newest)?,
        previous: older.map(|r| store.data(r)).transpose()?,
    };
    Ok(Some(host_view(reg, &snaps)))
}

/// A host id as one segment of a URL path: every byte outside the unreserved characters (and
/// `@`, `:`) percent-encoded, so any id an operator chose links to its page.
pub fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
