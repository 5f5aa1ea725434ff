//! Saving runs into the store. Saving never changes what a command prints on stdout and never
//! fails it: a store that cannot be opened or written is one warning on stderr, after the
//! output (the run's output is complete without it).
//!
//! A scan is saved while it runs ([`ScanSaver`]): its run row is written before the first
//! probe and its listed ports in batches as they arrive, on a thread of its own so a slow store
//! never slows the scan. A scan killed outright (kill -9, power loss) therefore leaves a run
//! marked incomplete, with the ports it had found, never a silent gap; `diff` reads no
//! closures into an incomplete run.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use portent_local::listening::{Listing, Query};
use portent_run::{RunEvent, RunRecord};
use portent_scan::checkpoint::WalkPoint;
use portent_store::{
    Checkpoint, Finish, HostRow, NewRun, PrefixRow, RunCounts, RunKind, ShardClaim, ShardDone,
    SocketRow, Store, StoreError,
};
use std::io::Write;

use crate::args::SaveArgs;
use crate::out::WARN;

pub(crate) fn warn(what: &str, err: &dyn std::fmt::Display) {
    let message = format!("{what}: {err:#}");
    let _ = writeln!(
        anstream::stderr(),
        "{WARN}warning:{WARN:#} {} (the output above is complete; --no-save skips saving)",
        crate::out::clean(&message, false)
    );
}

/// The machine's name, recorded with each run: the kernel's host name on Linux, the usual
/// environment variables elsewhere.
pub fn host_identifier() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Who this machine is in the store: its host name, and the host identity the fleet view
/// groups by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostIdentity {
    pub hostname: String,
    /// `--host-id`, else PORTENT_HOST_ID, else the config file's `host_id`, else
    /// `HOSTNAME@MACHINEID12`, else the host name alone (no readable machine id).
    pub id: String,
    /// The machine's app-specific id ([`app_specific_machine_id`]), when a machine id could
    /// be read.
    pub machine_id: Option<String>,
}

/// The files a machine id is read from, in order (systemd's, then D-Bus's older place).
const MACHINE_ID_FILES: [&str; 2] = ["/etc/machine-id", "/var/lib/dbus/machine-id"];

/// A machine id as machine-id(5) defines it: 32 lowercase hexadecimal digits on one line.
fn machine_id_of(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() == 32
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| t.to_owned())
}

/// portent's application id for machine-id(5)'s app-specific ids (a fixed random UUID).
pub const MACHINE_APP_ID: [u8; 16] = [
    0x8f, 0x2c, 0x1d, 0x5e, 0x3a, 0x7b, 0x4c, 0x9d, 0x0e, 0x6f, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e, 0x6f,
];

/// This machine's id as portent may store and show it. machine-id(5) asks that the id itself
/// never leave the machine and that programs use an app-specific one instead: HMAC-SHA256 of
/// the application's id keyed by the 16 bytes of the machine id, its first 16 bytes made a
/// version 4 UUID, as systemd's sd_id128_get_machine_app_specific() makes it (so
/// `systemd-id128 machine-id --app-specific=8f2c1d5e3a7b4c9d0e6f1a2b3c4d5e6f` prints the same).
pub fn app_specific_machine_id(machine_id: &str) -> Option<String> {
    let mut key = [0u8; 16];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(machine_id.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        &MACHINE_APP_ID,
    );
    let mut id = [0u8; 16];
    id.copy_from_slice(&tag.as_ref()[..16]);
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    Some(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// This machine's app-specific id, when a file holds a valid machine id (read through the
/// bounded reader).
fn machine_id() -> Option<String> {
    const INPUT: portent_input::Input = portent_input::Input::new("machine id", 4096);
    MACHINE_ID_FILES
        .iter()
        .find_map(|f| INPUT.read_text(std::path::Path::new(f)).ok())
        .and_then(|t| machine_id_of(&t))
        .and_then(|m| app_specific_machine_id(&m))
}

/// Why a host id is refused, or the id: 1 to 255 bytes, printable, no whitespace, no `/` (it
/// names a page: /fleet/ID).
pub fn check_host_id(s: &str) -> Result<&str, String> {
    if s.is_empty() || s.len() > 255 {
        return Err("a host id is 1 to 255 bytes".to_owned());
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err("a host id has no spaces, control characters or slashes".to_owned());
    }
    Ok(s)
}

/// The default identity from a host name and machine id: `web-1@3f2a9c1e0b7d`.
pub fn default_host_id(hostname: &str, machine_id: Option<&str>) -> String {
    match machine_id {
        Some(m) => format!("{hostname}@{}", &m[..m.len().min(12)]),
        None => hostname.to_owned(),
    }
}

/// This machine's identity for `args`: the flag (or the config file's value, which clap gives
/// the flag as its default), the environment above the file, else the default form.
pub fn host_identity(args: &SaveArgs) -> Result<HostIdentity> {
    let hostname = host_identifier();
    let machine_id = machine_id();
    let env = std::env::var("PORTENT_HOST_ID")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let id = match (&args.host_id, env) {
        (Some(id), _) => id.clone(),
        (None, Some(env)) => check_host_id(env.trim())
            .map_err(|e| anyhow::anyhow!("PORTENT_HOST_ID {env:?}: {e}"))?
            .to_owned(),
        (None, None) => default_host_id(&hostname, machine_id.as_deref()),
    };
    Ok(HostIdentity {
        hostname,
        id,
        machine_id,
    })
}

/// The identity fields of a new run for `args`; an identity that cannot be made (a bad
/// PORTENT_HOST_ID) is a warning, and the run is saved under the default one.
fn identity_fields(args: &SaveArgs) -> (String, Option<String>, Option<String>) {
    let me = host_identity(args).unwrap_or_else(|e| {
        warn("the host id is not used", &e);
        let hostname = host_identifier();
        let machine_id = machine_id();
        HostIdentity {
            id: default_host_id(&hostname, machine_id.as_deref()),
            hostname,
            machine_id,
        }
    });
    (me.hostname, Some(me.id), me.machine_id)
}

/// Saves a listening snapshot (the sockets listed, before display filters). `started_ms` is
/// when the listing began.
pub fn save_listening(args: &SaveArgs, listing: &Listing, query: &Query, started_ms: i64) {
    if args.no_save {
        return;
    }
    let result = (|| -> Result<()> {
        let me = host_identity(args)?;
        let mut store = Store::open_location(&super::memory::location(&args.store)?)?;
        let target = listing_target(query);
        let ports = query.port.map(|p| p.to_string()).unwrap_or_default();
        let id = store.begin(&NewRun {
            kind: RunKind::Listening,
            started_ms,
            targets: vec![target],
            ports,
            options: serde_json::json!({ "tcp": query.tcp, "udp": query.udp }),
            host_identifier: me.hostname,
            host_id: Some(me.id),
            machine_id: me.machine_id,
        })?;
        let rows = socket_rows(listing);
        store.save_sockets(&id, &rows)?;
        store.finish(
            &id,
            &Finish {
                finished_ms: portent_store::now_ms(),
                // Owners hidden from us are still sockets; the snapshot of sockets is whole.
                complete: true,
                counts: RunCounts {
                    open: rows.len() as u64,
                    ..RunCounts::default()
                },
                document: None,
                record: None,
            },
        )?;
        Ok(())
    })();
    if let Err(e) = result {
        warn("this snapshot was not saved", &e);
    }
}

/// A listing as the store keeps it: one row per socket, named by its first owner.
pub fn socket_rows(listing: &Listing) -> Vec<SocketRow> {
    listing
        .listeners
        .iter()
        .map(|l| {
            let first = l.owners.first();
            let process = first.and_then(|o| o.process.as_ref());
            SocketRow {
                protocol: l.protocol.as_str().to_owned(),
                address: l.address.to_string(),
                port: l.port,
                executable: process
                    .and_then(|p| p.exe.clone())
                    .or_else(|| process.map(|p| p.name.to_string()))
                    .unwrap_or_default(),
                user: l.user_label(),
                pid: first.map(|o| o.pid),
                process: process.map(|p| p.name.to_string()),
            }
        })
        .collect()
}

/// The store's `targets` for a listing query.
pub(crate) fn listing_target(query: &Query) -> String {
    match &query.netns {
        Some(ns) => format!("netns:{}", ns.display()),
        None => "local".to_owned(),
    }
}

pub(crate) fn ms_of(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Saves a finished scan in one go (for `watch`, which compares rounds before saving): its
/// hosts, listed ports with what was detected, the counts of the rest, its JSON document and
/// its record. A run is complete when its scan was; an interrupted one is kept as partial.
pub fn save_scan(
    args: &SaveArgs,
    record: &RunRecord,
    targets: &[String],
    options: serde_json::Value,
    document: Option<String>,
    args_line: &str,
) {
    let (host_identifier, host_id, machine_id) = identity_fields(args);
    let run = NewRun {
        kind: RunKind::Scan,
        started_ms: ms_of(record.started_at),
        targets: targets.to_vec(),
        ports: record.port_list.clone(),
        options,
        host_identifier,
        host_id,
        machine_id,
    };
    let (hosts, ports, extra, mut fin) = scan_parts(record);
    fin.document = document;
    fin.record = stored_record(record, args_line);
    save_run(args, &run, &hosts, &ports, &extra, &fin);
}

/// A scan as the store keeps it for `portent show`: the pipeline's record and the command line
/// that ran it (nmap XML names it in `args`).
#[derive(serde::Deserialize)]
pub(crate) struct StoredScan {
    pub args: String,
    pub record: RunRecord,
}

fn stored_record(record: &RunRecord, args_line: &str) -> Option<String> {
    serde_json::to_string(&serde_json::json!({ "args": args_line, "record": record })).ok()
}

/// What the saving thread is told, in order.
enum Save {
    Hosts(Vec<HostRow>),
    Port(portent_store::PortRow),
    /// Open ports so far, written with the next batch.
    Open(u64),
    /// A point the scan can be resumed from, with this process's counts before it.
    Checkpoint {
        point: WalkPoint,
        rows: Vec<PrefixRow>,
    },
    /// The end: the rows only the record has (hosts, counts of unlisted ports) and totals.
    End {
        hosts: Vec<HostRow>,
        extra: Vec<portent_store::ExtraRow>,
        fin: Box<Finish>,
        /// Port results the run listed.
        listed: u64,
    },
}

/// Saves a scan while it runs: a [`portent_run::Sink`] (tee it with the command's own) that
/// hands rows to a thread owning the store. The thread writes the run row first, then the
/// ports in batches (one transaction per batch: at most [`ScanSaver::BATCH`] rows or
/// [`ScanSaver::FLUSH`] apart), and the totals at [`ScanSaver::finish`]. The scan never waits
/// on the store: the channel is unbounded, and a scan lists few rows (open ports, or at most
/// every port of a small scan).
pub struct ScanSaver {
    /// Open ports counted so far.
    open: u64,
    tx: Option<mpsc::Sender<Save>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

/// What `scan --resume` asks of [`ScanSaver::start`]: whether to resume, and the walk's seed
/// when the scan starts afresh (a checkpoint keeps it).
pub struct Resume {
    pub wanted: bool,
    pub seed: u64,
}

/// Where a named scan starts.
pub enum Resumed {
    /// At the beginning: not asked to resume, or no checkpoint yet.
    Fresh,
    /// Asked to resume a shard that is complete: it is scanned again from the start (a
    /// retry, which changes no stored row), so that its output is whole.
    Complete { name: String, shard: String },
    /// At a checkpoint.
    From(ResumePoint),
}

pub struct ResumePoint {
    pub point: WalkPoint,
    /// The walk's seed, as the interrupted run had it.
    pub seed: u64,
    pub record: portent_run::ResumedRecord,
}

/// The saving thread's part in checkpoints: what identifies them, and the prefix a resumed
/// run adds its own counts to.
struct Marks {
    shard_index: u64,
    plan: String,
    seed: u64,
    prefix: Option<Prefix>,
}

/// The stored checkpoint a run resumed from.
struct Prefix {
    point: WalkPoint,
    rows: Vec<PrefixRow>,
    /// The first checkpoint of the resumed run has come (it says whether the group starts
    /// over), and the hosts its group's discovery reported before it.
    checked: bool,
    group_hosts: std::collections::HashSet<String>,
}

impl Prefix {
    /// The first checkpoint of the resumed run: where the walk picked up. A group whose
    /// discovery found another number of live hosts starts over (the engine's permutation
    /// depends on it), so its hosts' counts from before are dropped; their listed ports are
    /// found again and overwrite the stored ones.
    fn check(&mut self, point: WalkPoint) {
        if self.checked {
            return;
        }
        self.checked = true;
        let p = self.point;
        if point.group == p.group && point.live != p.live && p.position > 0 {
            let hosts = &self.group_hosts;
            self.rows.retain(|r| !hosts.contains(&r.host));
        }
    }
}

/// Counts of a prefix and of the run after it, summed by host, protocol, state and reason.
fn merged(a: &[PrefixRow], b: &[PrefixRow]) -> Vec<PrefixRow> {
    let mut m: std::collections::BTreeMap<(&str, &str, &str, &str), (u64, u64)> =
        Default::default();
    for r in a.iter().chain(b) {
        let e = m
            .entry((&r.host, &r.protocol, &r.state, &r.reason))
            .or_default();
        e.0 += r.listed;
        e.1 += r.unlisted;
    }
    m.into_iter()
        .map(
            |((host, protocol, state, reason), (listed, unlisted))| PrefixRow {
                host: host.to_owned(),
                protocol: protocol.to_owned(),
                state: state.to_owned(),
                reason: reason.to_owned(),
                listed,
                unlisted,
            },
        )
        .collect()
}

/// A prefix's counts by state, its listed results and its hosts, to add to a resumed run's.
fn prefix_totals(rows: &[PrefixRow]) -> (RunCounts, u64, std::collections::BTreeSet<&str>) {
    let mut c = RunCounts::default();
    let mut listed = 0;
    let mut hosts = std::collections::BTreeSet::new();
    for r in rows {
        let n = r.listed + r.unlisted;
        match r.state.as_str() {
            "open" => c.open += n,
            "closed" => c.closed += n,
            "filtered" => c.filtered += n,
            _ => c.open_filtered += n,
        }
        listed += r.listed;
        hosts.insert(r.host.as_str());
    }
    (c, listed, hosts)
}

impl ScanSaver {
    const BATCH: usize = 4096;
    const FLUSH: Duration = Duration::from_millis(500);

    fn off() -> ScanSaver {
        ScanSaver {
            open: 0,
            tx: None,
            thread: None,
        }
    }

    /// Starts saving a scan run (nothing when `--no-save`). With a claim (`--scan-name`), the
    /// shard joins its named run before the scan starts and records checkpoints: a shard of
    /// another plan is an error (nothing is scanned), while a store that cannot be reached is
    /// a warning and the scan runs unsaved (unless it was to resume: then it is an error).
    /// With `resume.wanted`, says where the scan starts.
    pub fn start(
        args: &SaveArgs,
        targets: Vec<String>,
        ports: String,
        options: serde_json::Value,
        claim: Option<ShardClaim>,
        resume: Resume,
    ) -> Result<(ScanSaver, Resumed)> {
        if args.no_save {
            anyhow::ensure!(
                !resume.wanted,
                "--resume reads the store: not with --no-save"
            );
            return Ok((ScanSaver::off(), Resumed::Fresh));
        }
        let location = super::memory::location(&args.store);
        let (host_identifier, host_id, machine_id) = identity_fields(args);
        let run = NewRun {
            kind: RunKind::Scan,
            started_ms: portent_store::now_ms(),
            targets,
            ports,
            options,
            host_identifier,
            host_id,
            machine_id,
        };
        anyhow::ensure!(
            !resume.wanted || claim.is_some(),
            "--resume continues a named scan: give its --scan-name"
        );
        let (tx, rx) = mpsc::channel();
        let mut resumed = Resumed::Fresh;
        let thread = match claim {
            None => std::thread::Builder::new()
                .name("portent-save".to_owned())
                .spawn(move || -> Result<()> {
                    let mut store = Store::open_location(&location?)?;
                    let id = store.begin(&run)?;
                    Self::write(&mut store, &id, None, None, &rx)
                }),
            Some(claim) => {
                let joined = (|| -> Result<(Store, String, Option<Checkpoint>, bool)> {
                    let mut store = Store::open_location(&location?)?;
                    let id = store.claim_shard(&run, &claim)?;
                    if !resume.wanted {
                        return Ok((store, id, None, false));
                    }
                    let complete = store.shards(&id)?.is_some_and(|s| {
                        s.shards.iter().any(|r| {
                            r.complete && r.shard == format!("{}/{}", claim.index, s.count)
                        })
                    });
                    let point = store.checkpoint(&id, claim.index)?;
                    Ok((store, id, point, complete))
                })();
                let (mut store, id, point, complete) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        if let Some(
                            e @ (StoreError::ShardMismatch { .. } | StoreError::NotAScanName(_)),
                        ) = e.downcast_ref::<StoreError>()
                        {
                            anyhow::bail!("nothing scanned: {e}");
                        }
                        if resume.wanted {
                            anyhow::bail!("nothing scanned: --resume cannot read the store: {e:#}");
                        }
                        warn("this run will not be saved", &e);
                        return Ok((ScanSaver::off(), Resumed::Fresh));
                    }
                };
                // A checkpoint of another plan cannot be: claim_shard refused the plan.
                let mut marks = Marks {
                    shard_index: claim.index,
                    plan: claim.plan.clone(),
                    seed: resume.seed,
                    prefix: None,
                };
                if complete {
                    // Scanned again from the start, as a retry (its rows change nothing), so
                    // that the output files it was asked for are whole, not emptied.
                    resumed = Resumed::Complete {
                        name: claim.name.clone(),
                        shard: format!("{}/{}", claim.index, claim.count),
                    };
                } else if let Some(c) = point {
                    let walk = WalkPoint {
                        group: c.group,
                        position: c.position,
                        live: c.live,
                    };
                    let (counts, listed, _) = prefix_totals(&c.counts);
                    marks.seed = c.seed;
                    resumed = Resumed::From(ResumePoint {
                        point: walk,
                        seed: c.seed,
                        record: portent_run::ResumedRecord {
                            run: claim.name.clone(),
                            group: c.group,
                            position: c.position,
                            done: counts.open
                                + counts.closed
                                + counts.filtered
                                + counts.open_filtered,
                            listed,
                            checkpoint_ms: c.updated_ms,
                        },
                    });
                    marks.prefix = Some(Prefix {
                        point: walk,
                        rows: c.counts,
                        checked: false,
                        group_hosts: Default::default(),
                    });
                }
                let index = claim.index;
                std::thread::Builder::new()
                    .name("portent-save".to_owned())
                    .spawn(move || -> Result<()> {
                        Self::write(&mut store, &id, Some(index), Some(marks), &rx)
                    })
            }
        };
        Ok(match thread {
            Ok(thread) => (
                ScanSaver {
                    open: 0,
                    tx: Some(tx),
                    thread: Some(thread),
                },
                resumed,
            ),
            Err(e) => {
                anyhow::ensure!(
                    !matches!(resumed, Resumed::From(_)),
                    "nothing scanned: the saving thread cannot start: {e}"
                );
                warn("this run was not saved", &e);
                (ScanSaver::off(), Resumed::Fresh)
            }
        })
    }

    /// The saving thread's loop: batches of ports until the end arrives. A scan that ends
    /// without [`ScanSaver::finish`] (an error) leaves its run incomplete.
    /// `shard` (1-based) when the run is a named scan's: its totals are then the shard's, and
    /// the run's are summed over its shards at the end.
    fn write(
        store: &mut Store,
        id: &str,
        shard: Option<u64>,
        mut marks: Option<Marks>,
        rx: &mpsc::Receiver<Save>,
    ) -> Result<()> {
        let mut ports: Vec<portent_store::PortRow> = Vec::new();
        let mut open = None;
        let mut flushed = Instant::now();
        loop {
            let msg = rx.recv_timeout(Self::FLUSH.saturating_sub(flushed.elapsed()));
            match msg {
                Ok(Save::Port(p)) => ports.push(p),
                Ok(Save::Open(n)) => open = Some(n),
                Ok(Save::Hosts(h)) => {
                    store.save_hosts(id, &h)?;
                    if let Some(p) = marks.as_mut().and_then(|m| m.prefix.as_mut())
                        && !p.checked
                    {
                        p.group_hosts.extend(h.into_iter().map(|h| h.host));
                    }
                }
                Ok(Save::Checkpoint { point, rows }) => {
                    if let Some(m) = marks.as_mut() {
                        let counts = match m.prefix.as_mut() {
                            Some(p) => {
                                p.check(point);
                                merged(&p.rows, &rows)
                            }
                            None => rows,
                        };
                        // The ports listed so far go with the point, in its transaction.
                        let c = Checkpoint {
                            shard_index: m.shard_index,
                            plan: m.plan.clone(),
                            group: point.group,
                            position: point.position,
                            live: point.live,
                            seed: m.seed,
                            updated_ms: portent_store::now_ms(),
                            counts,
                        };
                        store.save_checkpoint(id, &c, &ports)?;
                        ports.clear();
                    }
                }
                Ok(Save::End {
                    hosts,
                    extra,
                    fin,
                    listed,
                }) => {
                    store.save_ports(id, &ports)?;
                    store.save_hosts(id, &hosts)?;
                    // A resumed run: the prefix's counts join this run's.
                    let (mut fin, mut extra, mut listed, mut host_count) =
                        (fin, extra, listed, hosts.len() as u64);
                    if let Some(p) = marks.as_ref().and_then(|m| m.prefix.as_ref()) {
                        let (c, l, prefix_hosts) = prefix_totals(&p.rows);
                        fin.counts.open += c.open;
                        fin.counts.closed += c.closed;
                        fin.counts.filtered += c.filtered;
                        fin.counts.open_filtered += c.open_filtered;
                        listed += l;
                        let mine: std::collections::BTreeSet<&str> =
                            hosts.iter().map(|h| h.host.as_str()).collect();
                        host_count = mine.union(&prefix_hosts).count() as u64;
                        let after: Vec<PrefixRow> = extra
                            .iter()
                            .map(|e| PrefixRow {
                                host: e.host.clone(),
                                protocol: e.protocol.clone(),
                                state: e.state.clone(),
                                reason: e.reason.clone(),
                                listed: 0,
                                unlisted: e.count,
                            })
                            .collect();
                        extra = merged(&p.rows, &after)
                            .into_iter()
                            .filter(|r| r.unlisted > 0)
                            .map(|r| portent_store::ExtraRow {
                                host: r.host,
                                protocol: r.protocol,
                                state: r.state,
                                reason: r.reason,
                                count: r.unlisted,
                            })
                            .collect();
                    }
                    match shard {
                        None => {
                            store.save_extra(id, &extra)?;
                            store.finish(id, &fin)?;
                        }
                        Some(index) => {
                            let done = ShardDone {
                                index,
                                finished_ms: fin.finished_ms,
                                complete: fin.complete,
                                counts: fin.counts,
                                hosts: host_count,
                                listed,
                            };
                            store.finish_shard(id, &done, &extra)?;
                        }
                    }
                    return Ok(());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    store.save_ports(id, &ports)?;
                    return Ok(());
                }
            }
            if ports.len() >= Self::BATCH || flushed.elapsed() >= Self::FLUSH {
                if !ports.is_empty() {
                    store.save_ports(id, &ports)?;
                    ports.clear();
                }
                if let Some(n) = open.take()
                    && shard.is_none()
                {
                    let counts = RunCounts {
                        open: n,
                        ..RunCounts::default()
                    };
                    store.set_counts(id, &counts)?;
                }
                flushed = Instant::now();
            }
        }
    }

    fn send(&mut self, msg: Save) {
        // A send fails only when the thread has ended on an error, which finish() reports.
        if let Some(tx) = &self.tx
            && tx.send(msg).is_err()
        {
            self.tx = None;
        }
    }

    /// Sees one event of the run (call it from the command's sink).
    pub fn event(&mut self, e: &RunEvent<'_>) {
        if self.tx.is_none() {
            return;
        }
        match e {
            RunEvent::Port {
                result,
                listed: true,
                detection,
                ..
            } => self.send(Save::Port(port_row(
                result.protocol,
                result.addr,
                result.port,
                result.state,
                result.reason,
                *detection,
            ))),
            // Only open TCP ports are detected after their result (UDP ones come identified),
            // and a connect scan's open is a completed handshake.
            RunEvent::Detected { addr, detection } => self.send(Save::Port(port_row(
                portent_scan::Protocol::Tcp,
                addr.ip(),
                addr.port(),
                portent_scan::State::Open,
                portent_scan::Reason::SynAck,
                Some(detection),
            ))),
            RunEvent::Checkpoint(c) => self.send(Save::Checkpoint {
                point: c.point,
                rows: c
                    .counts
                    .iter()
                    .map(|r| PrefixRow {
                        host: r.addr.to_string(),
                        protocol: r.protocol.as_str().to_owned(),
                        state: r.state.as_str().to_owned(),
                        reason: r.reason.as_str().to_owned(),
                        listed: r.listed,
                        unlisted: r.unlisted,
                    })
                    .collect(),
            }),
            RunEvent::HostStarted { addr, status } => self.send(Save::Hosts(vec![HostRow {
                host: addr.to_string(),
                hostname: None,
                status: host_status(*status).to_owned(),
            }])),
            RunEvent::Progress(p) if p.open != self.open => {
                self.open = p.open;
                self.send(Save::Open(p.open));
            }
            _ => {}
        }
    }

    /// Ends the run: totals, the JSON document and the record, then waits for the thread. A
    /// failure is a warning on stderr.
    pub fn finish(mut self, record: &RunRecord, document: Option<String>, args_line: &str) {
        let (hosts, ports, extra, mut fin) = scan_parts(record);
        fin.document = document;
        fin.record = stored_record(record, args_line);
        self.send(Save::End {
            hosts,
            extra,
            fin: Box::new(fin),
            listed: ports.len() as u64,
        });
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => warn("this run was not saved", &e),
                Err(_) => warn("this run was not saved", &"the saving thread failed"),
            }
        }
    }
}

fn host_status(s: portent_scan::HostStatus) -> &'static str {
    match s {
        portent_scan::HostStatus::Up => "up",
        portent_scan::HostStatus::Assumed => "assumed",
        portent_scan::HostStatus::Down => "down",
    }
}

/// A finished scan as store rows.
pub(crate) fn scan_parts(
    record: &RunRecord,
) -> (
    Vec<HostRow>,
    Vec<portent_store::PortRow>,
    Vec<portent_store::ExtraRow>,
    Finish,
) {
    use portent_scan::HostStatus;
    let hosts: Vec<HostRow> = record
        .hosts
        .iter()
        .map(|h| HostRow {
            host: h.addr.to_string(),
            hostname: h.hostname.clone(),
            status: host_status(h.status).to_owned(),
        })
        .collect();
    let mut ports = Vec::new();
    let mut extra = Vec::new();
    for h in &record.hosts {
        let mut listed: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
        for r in &h.listed {
            *listed
                .entry((r.protocol.as_str(), r.state.as_str(), r.reason.as_str()))
                .or_default() += 1;
            ports.push(port_row(
                r.protocol,
                h.addr,
                r.port,
                r.state,
                r.reason,
                h.detection_of(r.protocol, r.port),
            ));
        }
        let reasons = h
            .reasons
            .iter()
            .map(|r| ("tcp", r))
            .chain(h.udp_reasons.iter().map(|r| ("udp", r)));
        for (protocol, ((state, reason), n)) in reasons {
            let shown = listed
                .get(&(protocol, state.as_str(), reason.as_str()))
                .copied()
                .unwrap_or(0);
            if *n > shown {
                extra.push(portent_store::ExtraRow {
                    host: h.addr.to_string(),
                    protocol: protocol.to_owned(),
                    state: state.as_str().to_owned(),
                    reason: reason.as_str().to_owned(),
                    count: n - shown,
                });
            }
        }
    }
    let up = record
        .hosts
        .iter()
        .filter(|h| h.status != HostStatus::Down)
        .count() as u64;
    let fin = Finish {
        finished_ms: ms_of(record.ended_at),
        complete: record.scan_complete && !record.stopped,
        counts: RunCounts {
            open: record.totals.open,
            closed: record.totals.closed,
            filtered: record.totals.filtered,
            hosts_up: up,
            open_filtered: record.totals.open_filtered,
        },
        document: None,
        record: None,
    };
    (hosts, ports, extra, fin)
}

/// A finished scan as the store would return it, for comparing rounds in memory.
pub(crate) fn scan_data(
    record: &portent_run::RunRecord,
    targets: &[String],
    options: &serde_json::Value,
) -> portent_store::RunData {
    let (hosts, ports, extra, fin) = scan_parts(record);
    portent_store::RunData {
        run: portent_store::Run {
            id: portent_store::utc_compact(ms_of(record.started_at)),
            kind: RunKind::Scan,
            started_ms: ms_of(record.started_at),
            finished_ms: Some(fin.finished_ms),
            complete: fin.complete,
            targets: targets.to_vec(),
            ports: record.port_list.clone(),
            options: options.clone(),
            host_identifier: host_identifier(),
            host_id: host_identifier(),
            machine_id: None,
            counts: fin.counts,
        },
        hosts,
        ports,
        extra,
        sockets: Vec::new(),
    }
}

/// A port result as the store keeps it, with what was detected there.
pub(crate) fn port_row(
    protocol: portent_scan::Protocol,
    addr: std::net::IpAddr,
    port: u16,
    state: portent_scan::State,
    reason: portent_scan::Reason,
    d: Option<&portent_probe::Detection>,
) -> portent_store::PortRow {
    let tls = d.and_then(|d| d.tls.as_ref());
    portent_store::PortRow {
        host: addr.to_string(),
        protocol: protocol.as_str().to_owned(),
        port,
        state: state.as_str().to_owned(),
        reason: reason.as_str().to_owned(),
        service: d.map(|d| d.service.clone()),
        product: d.and_then(|d| d.product.clone()),
        version: d.and_then(|d| d.version.clone()),
        cert_sha256: tls.and_then(|t| t.sha256.clone()),
        cert_not_after_ms: tls
            .and_then(|t| t.not_after_unix)
            .map(|s| s.saturating_mul(1000)),
        banner_sha256: None,
    }
}

/// Saves a `check`: every address tested, with the detection of the first open one.
pub(crate) fn save_check(
    args: &SaveArgs,
    check: &super::check::StoredCheck,
    started_ms: i64,
    document: Option<String>,
) {
    let report = &check.report;
    let (host_identifier, host_id, machine_id) = identity_fields(args);
    let run = NewRun {
        kind: RunKind::Check,
        started_ms,
        targets: vec![report.host.clone()],
        ports: match check.protocol {
            portent_scan::Protocol::Tcp => check.port.to_string(),
            portent_scan::Protocol::Udp => format!("U:{}", check.port),
        },
        options: serde_json::json!({}),
        host_identifier,
        host_id,
        machine_id,
    };
    let hosts: Vec<HostRow> = report
        .addresses
        .iter()
        .map(|a| HostRow {
            host: a.to_string(),
            hostname: (report.host != a.to_string()).then(|| report.host.clone()),
            status: "assumed".to_owned(),
        })
        .collect();
    let ports: Vec<portent_store::PortRow> = report
        .results
        .iter()
        .map(|r| {
            let d = check
                .detection
                .as_ref()
                .filter(|d| d.addr.ip() == r.address);
            port_row(check.protocol, r.address, r.port, r.state, r.reason, d)
        })
        .collect();
    let mut counts = RunCounts {
        hosts_up: hosts.len() as u64,
        ..RunCounts::default()
    };
    for r in &report.results {
        match r.state {
            portent_scan::State::Open => counts.open += 1,
            portent_scan::State::Closed => counts.closed += 1,
            portent_scan::State::Filtered => counts.filtered += 1,
            portent_scan::State::OpenFiltered => counts.open_filtered += 1,
        }
    }
    let fin = Finish {
        finished_ms: portent_store::now_ms(),
        complete: true,
        counts,
        document,
        record: serde_json::to_string(check).ok(),
    };
    save_run(args, &run, &hosts, &ports, &[], &fin);
}

/// Writes one run; a failure is a warning.
pub(crate) fn save_run(
    args: &SaveArgs,
    run: &NewRun,
    hosts: &[HostRow],
    ports: &[portent_store::PortRow],
    extra: &[portent_store::ExtraRow],
    fin: &Finish,
) {
    let result = (|| -> Result<()> {
        let mut store = Store::open_location(&super::memory::location(&args.store)?)?;
        let id = store.begin(run)?;
        store.save_hosts(&id, hosts)?;
        // Batches of a few thousand rows: one transaction each.
        for chunk in ports.chunks(4096) {
            store.save_ports(&id, chunk)?;
        }
        store.save_extra(&id, extra)?;
        store.finish(&id, fin)?;
        Ok(())
    })();
    if let Err(e) = result {
        warn("this run was not saved", &e);
    }
}
