//! portent's memory. Ghosts are found by change: a port that was not open last week, a
//! listener that appeared overnight, a server whose version or certificate changed. This crate
//! keeps every scan, check and listening snapshot, per host and port, so `diff`, `history`,
//! `show` and `watch` can say what changed.
//!
//! Two databases, one schema and one set of migrations (`migrations/`, applied by refinery):
//! SQLite in the data directory by default (WAL, one transaction per batch of rows), and
//! PostgreSQL when a team shares one store. Every statement is written once with `?`
//! placeholders and bound parameters (`db.rs`); no SQL is built from data.
//!
//! The API is blocking. Callers inside an async runtime call it from `spawn_blocking` (the
//! PostgreSQL client runs its own small runtime and must not be entered from async code).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod baseline;
mod db;
pub mod diff;
mod fleet;
mod model;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use baseline::{Baseline, BaselineError};
use db::{Db, Kind, Value};
pub use diff::{
    Change, ChangeKind, PortTimeline, Side, SocketChange, TimelineEvent, diff, diff_sockets,
    timelines,
};
pub use model::{
    Checkpoint, ExtraRow, Finish, HostEntry, HostRow, HostSnapshots, NewRun, PortRow, PrefixRow,
    Run, RunCounts, RunData, RunKind, ShardClaim, ShardDone, ShardRow, Shards, SocketRow,
    ports_contain,
};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Why the store could not do what was asked. The message names the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store {location}: {reason}")]
    Open { location: String, reason: String },
    #[error(
        "store location {0:?} is not understood: use sqlite:PATH, a file path, or postgres://..."
    )]
    BadLocation(String),
    #[error("cannot prepare the store's tables: {0}")]
    Migrate(String),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("no stored run matches {0:?}")]
    NoSuchRun(String),
    #[error("{reference:?} matches several runs ({}); give more of the id", .ids.join(", "))]
    Ambiguous { reference: String, ids: Vec<String> },
    #[error("a stored run is damaged: {0}")]
    Damaged(String),
    #[error(
        "the scan named {name:?} is another scan: it has {theirs}, this shard is {ours} (every \
         shard of one scan needs the same targets, ports, --seed and shard count; give another \
         --scan-name for another scan)"
    )]
    ShardMismatch {
        name: String,
        theirs: String,
        ours: String,
    },
    #[error("the name {0:?} belongs to a run that is not a sharded scan")]
    NotAScanName(String),
    #[error("no host {reference:?} has stored {kind} runs{}", known_hosts(.known))]
    NoSuchHost {
        reference: String,
        kind: &'static str,
        known: Vec<String>,
    },
    #[error("{reference:?} matches several hosts ({}); give the whole host id", .ids.join(", "))]
    AmbiguousHost { reference: String, ids: Vec<String> },
    #[error("run {run} is not a {kind} run of host {host} (it is {what})")]
    NotOfHost {
        run: String,
        host: String,
        kind: &'static str,
        what: String,
    },
}

/// `; the hosts stored are: a, b` (at most ten), or nothing.
fn known_hosts(known: &[String]) -> String {
    if known.is_empty() {
        return String::new();
    }
    let more = if known.len() > 10 { ", ..." } else { "" };
    let shown: Vec<&str> = known.iter().take(10).map(String::as_str).collect();
    format!("; the hosts stored are: {}{more}", shown.join(", "))
}

/// Rows per multi-row INSERT: 400 rows of 12 columns are 4,800 bound values, far under
/// SQLite's (32,766) and PostgreSQL's (65,535) limits.
const ROWS_PER_INSERT: usize = 400;

/// The file name of the default store in the data directory.
pub const DEFAULT_FILE: &str = "store.sqlite";

/// An open store.
#[derive(Debug)]
pub struct Store {
    db: Db,
    location: String,
}

/// Where a store lives, parsed from `--store` / `PORTENT_STORE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Location {
    /// `sqlite:PATH`, `postgres://...` / `postgresql://...`, or a plain file path.
    pub fn parse(spec: &str) -> Result<Location, StoreError> {
        let s = spec.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Location::Postgres(s.to_owned()));
        }
        let path = s.strip_prefix("sqlite:").unwrap_or(s);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::BadLocation(spec.to_owned()));
        }
        Ok(Location::Sqlite(PathBuf::from(path)))
    }

    /// How the location is shown to people: a PostgreSQL URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => format!("sqlite:{}", p.display()),
            Location::Postgres(url) => redact(url),
        }
    }
}

/// A PostgreSQL URL with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(x) => x,
        None => return url.to_owned(),
    };
    let user = auth.split(':').next().unwrap_or("");
    if auth.contains(':') {
        format!("{scheme}://{user}:***@{host}")
    } else {
        url.to_owned()
    }
}

impl Store {
    /// Opens (creating when needed) the store at `spec` and brings its tables up to date.
    pub fn open(spec: &str) -> Result<Store, StoreError> {
        Store::open_location(&Location::parse(spec)?)
    }

    /// Opens the store at `location`.
    pub fn open_location(location: &Location) -> Result<Store, StoreError> {
        let shown = location.display();
        let open_err = |reason: String| StoreError::Open {
            location: shown.clone(),
            reason,
        };
        let mut db = match location {
            Location::Sqlite(path) => Db::Sqlite(open_sqlite(path).map_err(open_err)?),
            Location::Postgres(url) => {
                let mut config: postgres::Config = url
                    .parse()
                    .map_err(|e: postgres::Error| open_err(e.to_string()))?;
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(Duration::from_secs(5));
                }
                let client = config
                    .connect(postgres::NoTls)
                    .map_err(|e| open_err(e.to_string()))?;
                Db::Postgres(Box::new(client))
            }
        };
        // Most opens find the schema current: one read instead of the migration runner's
        // write transaction (a listening snapshot is saved on every run).
        if !schema_current(&mut db) {
            migrate(&mut db)?;
        }
        Ok(Store {
            db,
            location: shown,
        })
    }

    /// Where this store is, as shown to people (no password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Records the start of a run and returns its id. The run stays incomplete until
    /// [`Store::finish`] says otherwise, so a process killed mid-run leaves a partial run.
    pub fn begin(&mut self, run: &NewRun) -> Result<String, StoreError> {
        let id = new_id(run.started_ms);
        self.db.exec(
            "INSERT INTO runs (id, kind, started_ms, finished_ms, complete, targets, ports, \
             options, host_identifier, open_count, closed_count, filtered_count, hosts_up, \
             document, host_id, machine_id) \
             VALUES (?, ?, ?, NULL, 0, ?, ?, ?, ?, 0, 0, 0, 0, NULL, ?, ?)",
            &[
                id.clone().into(),
                run.kind.as_str().into(),
                run.started_ms.into(),
                json(&run.targets).into(),
                run.ports.clone().into(),
                run.options.to_string().into(),
                run.host_identifier.clone().into(),
                host_id_of(run).into(),
                run.machine_id.clone().into(),
            ],
        )?;
        Ok(id)
    }

    /// Saves the hosts a run covered (batched multi-row upserts in one transaction; a repeated
    /// row replaces the earlier).
    pub fn save_hosts(&mut self, run: &str, rows: &[HostRow]) -> Result<(), StoreError> {
        let mut latest: Vec<&HostRow> = Vec::with_capacity(rows.len());
        let mut at: HashMap<&str, usize> = HashMap::new();
        for h in rows {
            match at.get(h.host.as_str()) {
                Some(&i) => latest[i] = h,
                None => {
                    at.insert(&h.host, latest.len());
                    latest.push(h);
                }
            }
        }
        // In key order: writers sharing rows (the shards of one run, on PostgreSQL) then lock
        // them in one order and cannot deadlock.
        latest.sort_by(|a, b| a.host.cmp(&b.host));
        let mut tx = self.db.transaction()?;
        for chunk in latest.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO run_hosts (run_id, host, hostname, status) VALUES {} \
                 ON CONFLICT (run_id, host) DO UPDATE SET hostname = excluded.hostname, \
                 status = excluded.status",
                db::value_groups(chunk.len(), 4)
            );
            let mut values = Vec::with_capacity(chunk.len() * 4);
            for h in chunk {
                values.extend([
                    run.into(),
                    h.host.clone().into(),
                    h.hostname.clone().into(),
                    h.status.clone().into(),
                ]);
            }
            tx.exec(&sql, &values)?;
        }
        tx.commit()
    }

    /// Saves listed port results: multi-row upserts keyed by (run, host, protocol, port), a few
    /// hundred rows a statement, in one transaction per call. A row given twice keeps its last
    /// version, and a batch saved again (a retried shard) changes nothing.
    pub fn save_ports(&mut self, run: &str, rows: &[PortRow]) -> Result<(), StoreError> {
        let latest = latest_ports(rows);
        let mut tx = self.db.transaction()?;
        upsert_ports(&mut tx, run, &latest)?;
        tx.commit()
    }

    /// Saves a checkpoint of a scan in progress in one transaction: the ports listed since
    /// the last one (`ports`), the counts of the whole prefix (`point.counts`, replacing the
    /// earlier ones) and the point itself. A process killed at
    /// any moment leaves either the earlier checkpoint or this one, whole. Ports are keyed
    /// by (run, host, protocol, port), so a prefix saved again changes nothing.
    pub fn save_checkpoint(
        &mut self,
        run: &str,
        point: &Checkpoint,
        ports: &[PortRow],
    ) -> Result<(), StoreError> {
        let index = count(point.shard_index);
        let latest = latest_ports(ports);
        let mut tx = self.db.transaction()?;
        upsert_ports(&mut tx, run, &latest)?;
        tx.exec(
            "DELETE FROM checkpoint_extraports WHERE run_id = ? AND shard_index = ?",
            &[run.into(), index.into()],
        )?;
        for chunk in point.counts.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO checkpoint_extraports (run_id, shard_index, host, protocol, \
                 state, reason, count, listed) VALUES {}",
                db::value_groups(chunk.len(), 8)
            );
            let mut values = Vec::with_capacity(chunk.len() * 8);
            for e in chunk {
                values.extend([
                    run.into(),
                    index.into(),
                    e.host.clone().into(),
                    e.protocol.clone().into(),
                    e.state.clone().into(),
                    e.reason.clone().into(),
                    count(e.unlisted).into(),
                    count(e.listed).into(),
                ]);
            }
            tx.exec(&sql, &values)?;
        }
        tx.exec(
            "INSERT INTO run_checkpoints (run_id, shard_index, plan, walk_group, \
             walk_position, walk_live, updated_ms, walk_seed) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (run_id, shard_index) DO UPDATE SET plan = excluded.plan, \
             walk_group = excluded.walk_group, walk_position = excluded.walk_position, \
             walk_live = excluded.walk_live, updated_ms = excluded.updated_ms, \
             walk_seed = excluded.walk_seed",
            &[
                run.into(),
                index.into(),
                point.plan.clone().into(),
                count(point.group).into(),
                count(point.position).into(),
                count(point.live).into(),
                point.updated_ms.into(),
                // All 64 bits, kept as the signed integer both databases have.
                i64::from_ne_bytes(point.seed.to_ne_bytes()).into(),
            ],
        )?;
        tx.commit()
    }

    /// The last checkpoint of a run's shard (1 for an unsharded run), if one was saved.
    pub fn checkpoint(
        &mut self,
        run: &str,
        shard_index: u64,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let index = count(shard_index);
        let rows = self.db.query(
            "SELECT plan, walk_group, walk_position, walk_live, updated_ms, walk_seed FROM \
             run_checkpoints WHERE run_id = ? AND shard_index = ?",
            &[run.into(), index.into()],
            &[
                Kind::Text,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
            ],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let int = |v: &Value| v.int().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let counts = self
            .db
            .query(
                "SELECT host, protocol, state, reason, count, listed FROM \
                 checkpoint_extraports WHERE run_id = ? AND shard_index = ? \
                 ORDER BY host, protocol, state, reason",
                &[run.into(), index.into()],
                &[
                    Kind::Text,
                    Kind::Text,
                    Kind::Text,
                    Kind::Text,
                    Kind::Int,
                    Kind::Int,
                ],
            )?
            .iter()
            .map(|e| PrefixRow {
                host: e[0].text().unwrap_or_default(),
                protocol: e[1].text().unwrap_or_default(),
                state: e[2].text().unwrap_or_default(),
                reason: e[3].text().unwrap_or_default(),
                unlisted: int(&e[4]),
                listed: int(&e[5]),
            })
            .collect();
        Ok(Some(Checkpoint {
            shard_index,
            plan: r[0].text().unwrap_or_default(),
            group: int(&r[1]),
            position: int(&r[2]),
            live: int(&r[3]),
            updated_ms: r[4].int().unwrap_or(0),
            seed: u64::from_ne_bytes(r[5].int().unwrap_or(0).to_ne_bytes()),
            counts,
        }))
    }
}

/// Port rows as one upsert may take them: one statement may not upsert a key twice
/// (PostgreSQL refuses it), so a key given twice keeps its last row; in key order, so that
/// concurrent writers lock rows alike.
fn latest_ports(rows: &[PortRow]) -> Vec<&PortRow> {
    let mut latest: Vec<&PortRow> = Vec::with_capacity(rows.len());
    let mut at: HashMap<(&str, &str, u16), usize> = HashMap::new();
    for p in rows {
        match at.get(&(p.host.as_str(), p.protocol.as_str(), p.port)) {
            Some(&i) => latest[i] = p,
            None => {
                at.insert((&p.host, &p.protocol, p.port), latest.len());
                latest.push(p);
            }
        }
    }
    latest.sort_by(|a, b| (&a.host, &a.protocol, a.port).cmp(&(&b.host, &b.protocol, b.port)));
    latest
}

/// The multi-row upsert of [`Store::save_ports`], inside the caller's transaction.
/// The columns of `ports`, in the order the writers below give them.
const PORT_COLUMNS: &str = "run_id, host, protocol, port, state, reason, service, product, \
                            version, cert_sha256, cert_not_after_ms, banner_sha256";

/// What an upsert of `ports` changes on a key that exists.
const PORT_UPDATE: &str = "ON CONFLICT (run_id, host, protocol, port) DO UPDATE SET \
     state = excluded.state, reason = excluded.reason, service = excluded.service, \
     product = excluded.product, version = excluded.version, \
     cert_sha256 = excluded.cert_sha256, cert_not_after_ms = excluded.cert_not_after_ms, \
     banner_sha256 = excluded.banner_sha256";

/// On PostgreSQL, rows go in by binary COPY into a temporary table of the session, then one
/// `INSERT ... SELECT ... ON CONFLICT` upserts them all: a multi-row INSERT per 400 rows costs
/// a parse, a plan and thousands of bound parameters each time (62,600 rows/s from one
/// writer, bench/shard.sh), COPY streams them. `latest` holds each key once (an upsert may
/// not touch a key twice), and the rows are upserted in key order (see `save_ports`).
fn upsert_ports_pg(
    t: &mut postgres::Transaction<'_>,
    run: &str,
    latest: &[&PortRow],
) -> Result<(), StoreError> {
    use postgres::binary_copy::BinaryCopyInWriter;
    use postgres::types::Type;
    t.batch_execute(
        "CREATE TEMP TABLE IF NOT EXISTS ports_in (LIKE ports) ON COMMIT DELETE ROWS; \
         TRUNCATE ports_in",
    )?;
    let sink = t.copy_in(&format!("COPY ports_in ({PORT_COLUMNS}) FROM STDIN BINARY"))?;
    let text = Type::TEXT;
    let mut w = BinaryCopyInWriter::new(
        sink,
        &[
            text.clone(),
            text.clone(),
            text.clone(),
            Type::INT8,
            text.clone(),
            text.clone(),
            text.clone(),
            text.clone(),
            text.clone(),
            text.clone(),
            Type::INT8,
            text,
        ],
    );
    for p in latest {
        w.write(&[
            &run,
            &p.host,
            &p.protocol,
            &i64::from(p.port),
            &p.state,
            &p.reason,
            &p.service,
            &p.product,
            &p.version,
            &p.cert_sha256,
            &p.cert_not_after_ms,
            &p.banner_sha256,
        ])?;
    }
    w.finish()?;
    t.batch_execute(&format!(
        "INSERT INTO ports ({PORT_COLUMNS}) SELECT {PORT_COLUMNS} FROM ports_in \
         ORDER BY host, protocol, port {PORT_UPDATE}"
    ))?;
    Ok(())
}

fn upsert_ports(tx: &mut db::Tx<'_>, run: &str, latest: &[&PortRow]) -> Result<(), StoreError> {
    if let Some(t) = tx.postgres() {
        return upsert_ports_pg(t, run, latest);
    }
    {
        for chunk in latest.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO ports ({PORT_COLUMNS}) VALUES {} {PORT_UPDATE}",
                db::value_groups(chunk.len(), 12)
            );
            let mut values = Vec::with_capacity(chunk.len() * 12);
            for p in chunk {
                values.extend([
                    run.into(),
                    p.host.clone().into(),
                    p.protocol.clone().into(),
                    i64::from(p.port).into(),
                    p.state.clone().into(),
                    p.reason.clone().into(),
                    p.service.clone().into(),
                    p.product.clone().into(),
                    p.version.clone().into(),
                    p.cert_sha256.clone().into(),
                    p.cert_not_after_ms.into(),
                    p.banner_sha256.clone().into(),
                ]);
            }
            tx.exec(&sql, &values)?;
        }
    }
    Ok(())
}

impl Store {
    /// Saves the counts of ports not listed (closed and filtered ones of a wide scan).
    pub fn save_extra(&mut self, run: &str, rows: &[ExtraRow]) -> Result<(), StoreError> {
        let mut tx = self.db.transaction()?;
        for e in rows {
            tx.exec(
                "INSERT INTO extraports (run_id, host, protocol, state, reason, count) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, host, protocol, state, reason) \
                 DO UPDATE SET count = excluded.count",
                &[
                    run.into(),
                    e.host.clone().into(),
                    e.protocol.clone().into(),
                    e.state.clone().into(),
                    e.reason.clone().into(),
                    count(e.count).into(),
                ],
            )?;
        }
        tx.commit()
    }

    /// Saves the sockets of a listening snapshot.
    pub fn save_sockets(&mut self, run: &str, rows: &[SocketRow]) -> Result<(), StoreError> {
        let mut tx = self.db.transaction()?;
        for s in rows {
            tx.exec(
                "INSERT INTO sockets (run_id, protocol, address, port, executable, user_name, \
                 pid, process) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (run_id, protocol, address, port, executable, user_name) \
                 DO NOTHING",
                &[
                    run.into(),
                    s.protocol.clone().into(),
                    s.address.clone().into(),
                    i64::from(s.port).into(),
                    s.executable.clone().into(),
                    s.user.clone().into(),
                    s.pid.map(i64::from).into(),
                    s.process.clone().into(),
                ],
            )?;
        }
        tx.commit()
    }

    /// Records the counts of a run still going, so an unfinished (killed) run shows what it had
    /// found.
    pub fn set_counts(&mut self, run: &str, counts: &RunCounts) -> Result<(), StoreError> {
        self.db.exec(
            "UPDATE runs SET open_count = ?, closed_count = ?, filtered_count = ?, hosts_up = ?, \
             open_filtered_count = ? WHERE id = ?",
            &[
                count(counts.open).into(),
                count(counts.closed).into(),
                count(counts.filtered).into(),
                count(counts.hosts_up).into(),
                count(counts.open_filtered).into(),
                run.into(),
            ],
        )?;
        Ok(())
    }

    /// Marks a run finished, complete or not, with its totals and document.
    pub fn finish(&mut self, run: &str, fin: &Finish) -> Result<(), StoreError> {
        self.db.exec(
            "UPDATE runs SET finished_ms = ?, complete = ?, open_count = ?, closed_count = ?, \
             filtered_count = ?, hosts_up = ?, open_filtered_count = ?, document = ?, record = ? \
             WHERE id = ?",
            &[
                fin.finished_ms.into(),
                i64::from(fin.complete).into(),
                count(fin.counts.open).into(),
                count(fin.counts.closed).into(),
                count(fin.counts.filtered).into(),
                count(fin.counts.hosts_up).into(),
                count(fin.counts.open_filtered).into(),
                fin.document.clone().into(),
                fin.record.clone().into(),
                run.into(),
            ],
        )?;
        Ok(())
    }

    /// Joins one shard to the scan run named `claim.name`, creating the run when this shard is
    /// the first, and returns the run's id. Shards starting at once on several machines agree
    /// on one run: the name is unique and the insert does nothing when it is taken. A shard
    /// whose plan digest or shard count differ from the run's is refused
    /// ([`StoreError::ShardMismatch`]) and nothing is written.
    pub fn claim_shard(&mut self, run: &NewRun, claim: &ShardClaim) -> Result<String, StoreError> {
        let id = new_id(run.started_ms);
        self.db.exec(
            "INSERT INTO runs (id, kind, started_ms, finished_ms, complete, targets, ports, \
             options, host_identifier, open_count, closed_count, filtered_count, hosts_up, \
             document, name, plan, shard_count, host_id, machine_id) \
             VALUES (?, ?, ?, NULL, 0, ?, ?, ?, ?, 0, 0, 0, 0, NULL, ?, ?, ?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
            &[
                id.into(),
                run.kind.as_str().into(),
                run.started_ms.into(),
                json(&run.targets).into(),
                run.ports.clone().into(),
                run.options.to_string().into(),
                run.host_identifier.clone().into(),
                claim.name.clone().into(),
                claim.plan.clone().into(),
                count(claim.count).into(),
                host_id_of(run).into(),
                run.machine_id.clone().into(),
            ],
        )?;
        let rows = self.db.query(
            "SELECT id, kind, plan, shard_count FROM runs WHERE name = ?",
            &[claim.name.clone().into()],
            &[Kind::Text, Kind::Text, Kind::Text, Kind::Int],
        )?;
        let row = rows.first().ok_or_else(|| {
            StoreError::Damaged(format!("the run named {:?} vanished", claim.name))
        })?;
        let id = row[0].text().unwrap_or_default();
        let (plan, shards) = match (row[2].text(), row[3].int()) {
            (Some(p), Some(n)) if row[1].text().as_deref() == Some(run.kind.as_str()) => (p, n),
            _ => return Err(StoreError::NotAScanName(claim.name.clone())),
        };
        if plan != claim.plan || shards != count(claim.count) {
            return Err(StoreError::ShardMismatch {
                name: claim.name.clone(),
                theirs: format!("{shards} shards of plan {plan}"),
                ours: format!("{}/{} of plan {}", claim.index, claim.count, claim.plan),
            });
        }
        // A retry of a finished shard keeps its first try's record until it finishes too.
        self.db.exec(
            "INSERT INTO run_shards (run_id, shard_index, shard_count, plan, started_ms, \
             finished_ms, complete, host_identifier, host_count, port_count, open_count, \
             closed_count, filtered_count, open_filtered_count) \
             VALUES (?, ?, ?, ?, ?, NULL, 0, ?, 0, 0, 0, 0, 0, 0) \
             ON CONFLICT (run_id, shard_index) DO UPDATE SET started_ms = excluded.started_ms, \
             host_identifier = excluded.host_identifier WHERE run_shards.complete = 0",
            &[
                id.clone().into(),
                count(claim.index).into(),
                count(claim.count).into(),
                claim.plan.clone().into(),
                run.started_ms.into(),
                run.host_identifier.clone().into(),
            ],
        )?;
        Ok(id)
    }

    /// Records the end of one shard of a named run (its totals and counts of unlisted ports)
    /// and brings the run's totals up to date: sums over its shards, complete when every
    /// shard is. A shard ended twice replaces its first totals, so a retry adds nothing; an
    /// interrupted retry of a complete shard leaves the complete one's. One transaction,
    /// serialized with the other shards' ends by a lock on the run's row.
    pub fn finish_shard(
        &mut self,
        run: &str,
        done: &ShardDone,
        extra: &[ExtraRow],
    ) -> Result<(), StoreError> {
        let index = count(done.index);
        let mut tx = self.db.transaction()?;
        // Taken first (a write): PostgreSQL locks the row, SQLite the database, until commit.
        tx.exec(
            "UPDATE runs SET finished_ms = finished_ms WHERE id = ?",
            &[run.into()],
        )?;
        let was_complete = tx
            .query(
                "SELECT complete FROM run_shards WHERE run_id = ? AND shard_index = ?",
                &[run.into(), index.into()],
                &[Kind::Int],
            )?
            .first()
            .is_some_and(|r| r[0].int() == Some(1));
        if done.complete || !was_complete {
            tx.exec(
                "UPDATE run_shards SET finished_ms = ?, complete = ?, host_count = ?, \
                 port_count = ?, open_count = ?, closed_count = ?, filtered_count = ?, \
                 open_filtered_count = ? WHERE run_id = ? AND shard_index = ?",
                &[
                    done.finished_ms.into(),
                    i64::from(done.complete).into(),
                    count(done.hosts).into(),
                    count(done.listed).into(),
                    count(done.counts.open).into(),
                    count(done.counts.closed).into(),
                    count(done.counts.filtered).into(),
                    count(done.counts.open_filtered).into(),
                    run.into(),
                    index.into(),
                ],
            )?;
            tx.exec(
                "DELETE FROM shard_extraports WHERE run_id = ? AND shard_index = ?",
                &[run.into(), index.into()],
            )?;
            for chunk in extra.chunks(ROWS_PER_INSERT) {
                let sql = format!(
                    "INSERT INTO shard_extraports (run_id, shard_index, host, protocol, state, \
                     reason, count) VALUES {}",
                    db::value_groups(chunk.len(), 7)
                );
                let mut values = Vec::with_capacity(chunk.len() * 7);
                for e in chunk {
                    values.extend([
                        run.into(),
                        index.into(),
                        e.host.clone().into(),
                        e.protocol.clone().into(),
                        e.state.clone().into(),
                        e.reason.clone().into(),
                        count(e.count).into(),
                    ]);
                }
                tx.exec(&sql, &values)?;
            }
        }
        tx.exec("DELETE FROM extraports WHERE run_id = ?", &[run.into()])?;
        tx.exec(
            "INSERT INTO extraports (run_id, host, protocol, state, reason, count) \
             SELECT run_id, host, protocol, state, reason, CAST(SUM(count) AS BIGINT) \
             FROM shard_extraports WHERE run_id = ? \
             GROUP BY run_id, host, protocol, state, reason",
            &[run.into()],
        )?;
        let sum = |col: &str| {
            format!(
                "{col} = (SELECT CAST(COALESCE(SUM({col}), 0) AS BIGINT) FROM run_shards \
                 WHERE run_id = runs.id)"
            )
        };
        tx.exec(
            &format!(
                "UPDATE runs SET {}, {}, {}, {}, \
                 hosts_up = (SELECT COUNT(*) FROM run_hosts WHERE run_id = runs.id \
                 AND status <> 'down'), \
                 finished_ms = (SELECT MAX(finished_ms) FROM run_shards \
                 WHERE run_id = runs.id), \
                 complete = CASE WHEN (SELECT COUNT(*) FROM run_shards WHERE run_id = runs.id \
                 AND complete = 1) = shard_count THEN 1 ELSE 0 END \
                 WHERE id = ?",
                sum("open_count"),
                sum("closed_count"),
                sum("filtered_count"),
                sum("open_filtered_count"),
            ),
            &[run.into()],
        )?;
        tx.commit()
    }

    /// The shards of a named run (`None` for a run that is not a named scan).
    pub fn shards(&mut self, run: &str) -> Result<Option<Shards>, StoreError> {
        let rows = self.db.query(
            "SELECT name, plan, shard_count FROM runs WHERE id = ?",
            &[run.into()],
            &[Kind::Text, Kind::Text, Kind::Int],
        )?;
        let Some((name, plan, n)) = rows
            .first()
            .and_then(|r| Some((r[0].text()?, r[1].text()?, u64::try_from(r[2].int()?).ok()?)))
        else {
            return Ok(None);
        };
        let rows = self.db.query(
            "SELECT shard_index, started_ms, finished_ms, complete, host_identifier, \
             host_count, port_count, open_count, closed_count, filtered_count, \
             open_filtered_count FROM run_shards WHERE run_id = ? ORDER BY shard_index",
            &[run.into()],
            &[
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Text,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
                Kind::Int,
            ],
        )?;
        let u = |v: &Value| u64::try_from(v.int().unwrap_or(0)).unwrap_or(0);
        let mut done = std::collections::BTreeSet::new();
        let shards: Vec<ShardRow> = rows
            .iter()
            .map(|r| {
                let complete = r[3].int() == Some(1);
                if complete {
                    done.insert(u(&r[0]));
                }
                ShardRow {
                    shard: format!("{}/{n}", u(&r[0])),
                    started_ms: r[1].int().unwrap_or(0),
                    finished_ms: r[2].int(),
                    complete,
                    host_identifier: r[4].text().unwrap_or_default(),
                    hosts: u(&r[5]),
                    listed: u(&r[6]),
                    counts: RunCounts {
                        open: u(&r[7]),
                        closed: u(&r[8]),
                        filtered: u(&r[9]),
                        hosts_up: u(&r[5]),
                        open_filtered: u(&r[10]),
                    },
                }
            })
            .collect();
        let missing = (1..=n)
            .filter(|k| !done.contains(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        Ok(Some(Shards {
            name,
            count: n,
            plan,
            done: done.len() as u64,
            missing,
            shards,
        }))
    }

    /// Runs, newest first: of one kind when given, at most `limit`.
    pub fn runs(&mut self, kind: Option<RunKind>, limit: usize) -> Result<Vec<Run>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match kind {
            Some(k) => self.db.query(
                &format!("{RUN_SELECT} WHERE kind = ? ORDER BY started_ms DESC, id DESC LIMIT ?"),
                &[k.as_str().into(), limit.into()],
                RUN_KINDS,
            )?,
            None => self.db.query(
                &format!("{RUN_SELECT} ORDER BY started_ms DESC, id DESC LIMIT ?"),
                &[limit.into()],
                RUN_KINDS,
            )?,
        };
        rows.iter().map(|r| run_of(r)).collect()
    }

    /// The run a reference names: `last` (the newest run), `last~N` (the N-th before it), a
    /// run's name (`scan --scan-name`), a whole id or a unique prefix of one.
    pub fn resolve(&mut self, reference: &str) -> Result<Run, StoreError> {
        let r = reference.trim();
        if let Some(rest) = r.strip_prefix("last") {
            let back: usize = match rest.strip_prefix('~') {
                Some(n) => n
                    .parse()
                    .map_err(|_| StoreError::NoSuchRun(reference.to_owned()))?,
                None if rest.is_empty() => 0,
                None => return Err(StoreError::NoSuchRun(reference.to_owned())),
            };
            return self
                .runs(None, back + 1)?
                .into_iter()
                .nth(back)
                .ok_or_else(|| StoreError::NoSuchRun(reference.to_owned()));
        }
        if r.is_empty() {
            return Err(StoreError::NoSuchRun(reference.to_owned()));
        }
        // A run's name (`scan --scan-name`) before an id prefix.
        let named = self.db.query(
            &format!("{RUN_SELECT} WHERE name = ?"),
            &[r.into()],
            RUN_KINDS,
        )?;
        if let Some(row) = named.first() {
            return run_of(row);
        }
        // A prefix match on the primary key: `id >= prefix AND id < prefix + U+10FFFF`,
        // which both databases answer from the index, with no LIKE pattern built from input.
        let upper = format!("{r}\u{10FFFF}");
        let rows = self.db.query(
            &format!("{RUN_SELECT} WHERE id >= ? AND id < ? ORDER BY id LIMIT 6"),
            &[r.into(), upper.into()],
            RUN_KINDS,
        )?;
        let mut runs: Vec<Run> = rows.iter().map(|x| run_of(x)).collect::<Result<_, _>>()?;
        if let Some(i) = runs.iter().position(|x| x.id == r) {
            return Ok(runs.swap_remove(i));
        }
        match runs.len() {
            0 => Err(StoreError::NoSuchRun(reference.to_owned())),
            1 => Ok(runs.remove(0)),
            _ => Err(StoreError::Ambiguous {
                reference: reference.to_owned(),
                ids: runs.into_iter().map(|x| x.id).collect(),
            }),
        }
    }

    /// Everything stored about a run.
    pub fn data(&mut self, run: Run) -> Result<RunData, StoreError> {
        let id = run.id.clone();
        let hosts = self
            .db
            .query(
                "SELECT host, hostname, status FROM run_hosts WHERE run_id = ? ORDER BY host",
                &[id.clone().into()],
                &[Kind::Text, Kind::Text, Kind::Text],
            )?
            .into_iter()
            .map(|r| HostRow {
                host: r[0].text().unwrap_or_default(),
                hostname: r[1].text(),
                status: r[2].text().unwrap_or_default(),
            })
            .collect();
        let ports = self.ports(&id)?;
        let extra = self
            .db
            .query(
                "SELECT host, protocol, state, reason, count FROM extraports WHERE run_id = ? \
                 ORDER BY host, protocol, state, reason",
                &[id.clone().into()],
                &[Kind::Text, Kind::Text, Kind::Text, Kind::Text, Kind::Int],
            )?
            .into_iter()
            .map(|r| ExtraRow {
                host: r[0].text().unwrap_or_default(),
                protocol: r[1].text().unwrap_or_default(),
                state: r[2].text().unwrap_or_default(),
                reason: r[3].text().unwrap_or_default(),
                count: u64::try_from(r[4].int().unwrap_or(0)).unwrap_or(0),
            })
            .collect();
        let sockets = self
            .db
            .query(
                "SELECT protocol, address, port, executable, user_name, pid, process \
                 FROM sockets WHERE run_id = ? ORDER BY port, protocol, address",
                &[id.into()],
                &[
                    Kind::Text,
                    Kind::Text,
                    Kind::Int,
                    Kind::Text,
                    Kind::Text,
                    Kind::Int,
                    Kind::Text,
                ],
            )?
            .into_iter()
            .map(|r| SocketRow {
                protocol: r[0].text().unwrap_or_default(),
                address: r[1].text().unwrap_or_default(),
                port: port_of(&r[2]),
                executable: r[3].text().unwrap_or_default(),
                user: r[4].text().unwrap_or_default(),
                pid: r[5].int().and_then(|p| u32::try_from(p).ok()),
                process: r[6].text(),
            })
            .collect();
        Ok(RunData {
            run,
            hosts,
            ports,
            extra,
            sockets,
        })
    }

    /// The stored `--json` document of a run, when it has one.
    pub fn document(&mut self, run: &str) -> Result<Option<String>, StoreError> {
        let rows = self.db.query(
            "SELECT document FROM runs WHERE id = ?",
            &[run.into()],
            &[Kind::Text],
        )?;
        Ok(rows.into_iter().next().and_then(|r| r[0].text()))
    }

    /// The stored pipeline record of a run (JSON), when it has one.
    pub fn record(&mut self, run: &str) -> Result<Option<String>, StoreError> {
        let rows = self.db.query(
            "SELECT record FROM runs WHERE id = ?",
            &[run.into()],
            &[Kind::Text],
        )?;
        Ok(rows.into_iter().next().and_then(|r| r[0].text()))
    }

    /// The last two complete runs of `kind` over the same targets and ports, older first.
    pub fn last_pair(&mut self, kind: RunKind) -> Result<Option<(Run, Run)>, StoreError> {
        let runs: Vec<Run> = self
            .runs(Some(kind), 500)?
            .into_iter()
            .filter(|r| r.complete)
            .collect();
        let Some(newest) = runs.first() else {
            return Ok(None);
        };
        let older = runs
            .iter()
            .skip(1)
            .find(|r| r.targets == newest.targets && r.ports == newest.ports);
        Ok(older.map(|o| (o.clone(), newest.clone())))
    }

    /// The (host, protocol, port) keys among `candidates` seen open in some run that started
    /// before `before_ms`.
    pub fn open_before(
        &mut self,
        before_ms: i64,
        hosts: &[String],
    ) -> Result<HashSet<(String, String, u16)>, StoreError> {
        let mut out = HashSet::new();
        for host in hosts {
            let rows = self.db.query(
                "SELECT p.host, p.protocol, p.port FROM ports p JOIN runs r ON r.id = p.run_id \
                 WHERE p.host = ? AND p.state = 'open' AND r.started_ms < ?",
                &[host.clone().into(), before_ms.into()],
                &[Kind::Text, Kind::Text, Kind::Int],
            )?;
            for r in rows {
                out.insert((
                    r[0].text().unwrap_or_default(),
                    r[1].text().unwrap_or_default(),
                    port_of(&r[2]),
                ));
            }
        }
        Ok(out)
    }

    /// The runs that covered `host`, oldest first, with the host's status in each.
    pub fn runs_of_host(&mut self, host: &str) -> Result<Vec<(Run, String)>, StoreError> {
        let rows = self.db.query(
            "SELECT r.id, r.kind, r.started_ms, r.finished_ms, r.complete, r.targets, r.ports, \
             r.options, r.host_identifier, r.open_count, r.closed_count, r.filtered_count, \
             r.hosts_up, r.open_filtered_count, r.host_id, r.machine_id, h.status FROM runs r \
             JOIN run_hosts h ON h.run_id = r.id \
             WHERE h.host = ? ORDER BY r.started_ms, r.id",
            &[host.into()],
            &[RUN_KINDS, &[Kind::Text]].concat(),
        )?;
        rows.iter()
            .map(|r| Ok((run_of(r)?, r[RUN_KINDS.len()].text().unwrap_or_default())))
            .collect()
    }

    /// The life of each port seen open on `host` (only `port` when given), from every stored
    /// run that covered the host.
    pub fn timeline(
        &mut self,
        host: &str,
        port: Option<u16>,
    ) -> Result<Vec<PortTimeline>, StoreError> {
        let runs = self.runs_of_host(host)?;
        let rows = match port {
            Some(p) => {
                self.ports_where("host = ? AND port = ?", &[host.into(), i64::from(p).into()])?
            }
            None => self.ports_where("host = ?", &[host.into()])?,
        };
        let mut by_run: HashMap<String, Vec<PortRow>> = HashMap::new();
        for (run, row) in rows {
            by_run.entry(run).or_default().push(row);
        }
        Ok(timelines(&runs, &by_run))
    }

    /// Hosts seen in any scan or check, with the newest run that covered each.
    pub fn hosts(&mut self) -> Result<Vec<(String, Run)>, StoreError> {
        let rows = self.db.query(
            "SELECT h.host, r.id, r.kind, r.started_ms, r.finished_ms, r.complete, r.targets, \
             r.ports, r.options, r.host_identifier, r.open_count, r.closed_count, \
             r.filtered_count, r.hosts_up, r.open_filtered_count, r.host_id, r.machine_id \
             FROM run_hosts h \
             JOIN runs r ON r.id = h.run_id \
             ORDER BY h.host, r.started_ms DESC",
            &[],
            &[&[Kind::Text], RUN_KINDS].concat(),
        )?;
        let mut out: Vec<(String, Run)> = Vec::new();
        for r in rows {
            let host = r[0].text().unwrap_or_default();
            if out.last().is_some_and(|(h, _)| *h == host) {
                continue;
            }
            out.push((host, run_of(&r[1..])?));
        }
        Ok(out)
    }

    fn ports_where(
        &mut self,
        filter: &'static str,
        values: &[Value],
    ) -> Result<Vec<(String, PortRow)>, StoreError> {
        let rows = self.db.query(
            &format!(
                "SELECT run_id, host, protocol, port, state, reason, service, product, version, \
                 cert_sha256, cert_not_after_ms, banner_sha256 FROM ports WHERE {filter} \
                 ORDER BY host, protocol, port"
            ),
            values,
            &[
                Kind::Text,
                Kind::Text,
                Kind::Text,
                Kind::Int,
                Kind::Text,
                Kind::Text,
                Kind::Text,
                Kind::Text,
                Kind::Text,
                Kind::Text,
                Kind::Int,
                Kind::Text,
            ],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r[0].text().unwrap_or_default(),
                    PortRow {
                        host: r[1].text().unwrap_or_default(),
                        protocol: r[2].text().unwrap_or_default(),
                        port: port_of(&r[3]),
                        state: r[4].text().unwrap_or_default(),
                        reason: r[5].text().unwrap_or_default(),
                        service: r[6].text(),
                        product: r[7].text(),
                        version: r[8].text(),
                        cert_sha256: r[9].text(),
                        cert_not_after_ms: r[10].int(),
                        banner_sha256: r[11].text(),
                    },
                )
            })
            .collect())
    }
}

impl Store {
    /// Hosts whose newest covering run found `port` open, with that run.
    pub fn open_now_on(&mut self, port: u16) -> Result<Vec<(String, Run)>, StoreError> {
        let newest: HashMap<String, Run> = self.hosts()?.into_iter().collect();
        let rows = self.ports_where("port = ? AND state = 'open'", &[i64::from(port).into()])?;
        let mut out: Vec<(String, Run)> = rows
            .into_iter()
            .filter_map(|(run, p)| {
                newest
                    .get(&p.host)
                    .filter(|r| r.id == run)
                    .map(|r| (p.host.clone(), r.clone()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }

    /// Rows of one run's ports (a convenience over [`Store::data`]).
    pub fn ports(&mut self, run: &str) -> Result<Vec<PortRow>, StoreError> {
        Ok(self
            .ports_where("run_id = ?", &[run.into()])?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }
}

const RUN_SELECT: &str = "SELECT id, kind, started_ms, finished_ms, complete, targets, ports, \
                          options, host_identifier, open_count, closed_count, filtered_count, \
                          hosts_up, open_filtered_count, host_id, machine_id FROM runs";

const RUN_KINDS: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Text,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Int,
    Kind::Text,
    Kind::Text,
];

/// The host identity stored for a new run: its own, else its host name.
fn host_id_of(run: &NewRun) -> String {
    run.host_id
        .clone()
        .unwrap_or_else(|| run.host_identifier.clone())
}

fn run_of(r: &[Value]) -> Result<Run, StoreError> {
    let id = r[0].text().unwrap_or_default();
    let damaged = |what: &str| StoreError::Damaged(format!("run {id}: {what}"));
    let n = |v: &Value| u64::try_from(v.int().unwrap_or(0)).unwrap_or(0);
    Ok(Run {
        kind: r[1]
            .text()
            .as_deref()
            .and_then(RunKind::parse)
            .ok_or_else(|| damaged("unknown kind"))?,
        started_ms: r[2].int().ok_or_else(|| damaged("no start time"))?,
        finished_ms: r[3].int(),
        complete: r[4].int() == Some(1),
        targets: serde_json::from_str(&r[5].text().unwrap_or_default())
            .map_err(|_| damaged("targets are not a JSON list"))?,
        ports: r[6].text().unwrap_or_default(),
        options: serde_json::from_str(&r[7].text().unwrap_or_default())
            .unwrap_or(serde_json::Value::Null),
        host_identifier: r[8].text().unwrap_or_default(),
        host_id: r[14].text().or_else(|| r[8].text()).unwrap_or_default(),
        machine_id: r[15].text(),
        counts: RunCounts {
            open: n(&r[9]),
            closed: n(&r[10]),
            filtered: n(&r[11]),
            hosts_up: n(&r[12]),
            open_filtered: n(&r[13]),
        },
        id,
    })
}

fn port_of(v: &Value) -> u16 {
    v.int().and_then(|p| u16::try_from(p).ok()).unwrap_or(0)
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned())
}

/// A PostgreSQL advisory lock key held while migrating ("portent" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x706f_7274_656e;

/// Brings the schema up to date. Several processes may open a new store at the same moment
/// (the shards of one scan): on PostgreSQL they take turns on an advisory lock; on SQLite a
/// process that loses the race to another's migration (its statements fail: the tables are
/// there) waits and tries again until the schema is current.
fn migrate(db: &mut Db) -> Result<(), StoreError> {
    let err = |e: refinery::Error| StoreError::Migrate(e.to_string());
    match db {
        Db::Postgres(c) => {
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
            let result = if schema_current(db) {
                Ok(())
            } else if let Db::Postgres(c) = db {
                embedded::migrations::runner()
                    .run(c.as_mut())
                    .map(|_| ())
                    .map_err(err)
            } else {
                Ok(())
            };
            if let Db::Postgres(c) = db {
                c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
            }
            result
        }
        Db::Sqlite(_) => {
            let mut tries = 0;
            loop {
                let result = match db {
                    Db::Sqlite(c) => embedded::migrations::runner().run(c).map(|_| ()),
                    Db::Postgres(_) => Ok(()),
                };
                match result {
                    Ok(()) => return Ok(()),
                    Err(_) if schema_current(db) => return Ok(()),
                    Err(e) if tries >= 50 => return Err(err(e)),
                    Err(_) => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
    }
}

/// Whether the database already has every embedded migration applied.
fn schema_current(db: &mut Db) -> bool {
    let latest = embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| i64::from(m.version()))
        .max()
        .unwrap_or(0);
    db.query(
        "SELECT MAX(version) FROM refinery_schema_history",
        &[],
        &[Kind::Int],
    )
    .ok()
    .and_then(|rows| rows.first().and_then(|r| r[0].int()))
    .is_some_and(|v| v >= latest)
}

fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, String> {
    // A FIFO, a device or a directory is no database: say so instead of SQLite's "disk I/O
    // error". A missing file is created below.
    match portent_input::check(path, "store") {
        Err(e) if e.io_kind() != Some(std::io::ErrorKind::NotFound) => return Err(e.to_string()),
        _ => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let c = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
    // WAL: readers (history, the web server) never block a saving scan; NORMAL sync is safe
    // with WAL (a crash can lose the last transaction, never corrupt the file).
    c.busy_timeout(Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    // Switching a new file to WAL takes its exclusive lock. Processes opening the same new
    // store at once (shards starting together) can each hold the shared lock the other waits
    // on; SQLite then answers "busy" at once instead of waiting, so wait here and try again.
    let mut tries = 0;
    loop {
        match c.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 200 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    c.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| e.to_string())?;
    // No checkpoint (and its fsyncs) each time a short-lived command closes the store: the
    // WAL is folded in by SQLite's automatic checkpoints as it grows, and survives a crash.
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(|e| e.to_string())?;
    Ok(c)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A run id: its UTC start time to the second, then four hex digits so that runs started in
/// the same second differ: `20261204-181512-3f2a`. Sorted ids are runs in start order, and a
/// short prefix ("20261204-18") finds a run by when it ran.
fn new_id(started_ms: i64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(started_ms);
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let tag = h.finish() & 0xffff;
    format!("{}-{tag:04x}", utc_compact(started_ms))
}

/// `20261204-181512` for a Unix time in milliseconds (UTC).
pub fn utc_compact(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// `2026-12-04 18:15:12Z` for a Unix time in milliseconds (UTC).
pub fn utc_readable(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
}

/// Calendar date and time (UTC) of a Unix time in milliseconds: Howard Hinnant's
/// days-to-civil algorithm, written out so the store needs no date crate for two formats.
fn civil(ms: i64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse("sqlite:/tmp/x.db").unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Location::parse("/tmp/x.db").unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            Location::parse("postgres://u:secret@h/db").unwrap(),
            Location::Postgres(_)
        ));
        assert_eq!(
            Location::parse("postgres://u:secret@h/db")
                .unwrap()
                .display(),
            "postgres://u:***@h/db"
        );
        assert!(Location::parse("mysql://x").is_err());
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn times() {
        assert_eq!(utc_compact(0), "19700101-000000");
        // 2026-12-04 18:15:12 UTC
        assert_eq!(utc_readable(1_796_408_112_000), "2026-12-04 18:15:12Z");
        assert_eq!(utc_compact(951_782_400_000), "20000229-000000");
        let id = new_id(1_796_408_112_000);
        assert!(id.starts_with("20261204-181512-") && id.len() == 20, "{id}");
    }
}
