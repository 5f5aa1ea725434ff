//! The fleet: listening snapshots from many machines in one store, told apart by their host
//! identity (`runs.host_id`, migration V5). Finds a host from what a person types (its whole
//! id, its host name, or a unique prefix of its id), its snapshots newest first, and for each
//! host its newest whole snapshot with the one before it, which the fleet page and
//! `portent diff --listening --host H` compare.

use crate::db::Kind;
use crate::{HostEntry, HostSnapshots, RUN_KINDS, RUN_SELECT, Run, RunKind, Store, StoreError};

/// Snapshots looked at per host to find the one before its newest over the same namespace.
const LOOK_BACK: usize = 50;

impl Store {
    /// Every host identity with runs of `kind`, by id, with the host name and machine id of
    /// its newest such run.
    pub fn host_entries(&mut self, kind: RunKind) -> Result<Vec<HostEntry>, StoreError> {
        // Newest first within each host: the first row of a host names it.
        let rows = self.db.query(
            "SELECT host_id, host_identifier, machine_id FROM runs \
             WHERE kind = ? AND host_id IS NOT NULL ORDER BY host_id, started_ms DESC, id DESC",
            &[kind.as_str().into()],
            &[Kind::Text, Kind::Text, Kind::Text],
        )?;
        let mut out: Vec<HostEntry> = Vec::new();
        for r in rows {
            let id = r[0].text().unwrap_or_default();
            if out.last().is_some_and(|h| h.host_id == id) {
                continue;
            }
            out.push(HostEntry {
                host_id: id,
                hostname: r[1].text().unwrap_or_default(),
                machine_id: r[2].text(),
            });
        }
        Ok(out)
    }

    /// The host a person means by `reference`, among hosts with runs of `kind`: its whole host
    /// id, else the host name of exactly one host, else a prefix of exactly one host id.
    pub fn resolve_host(
        &mut self,
        reference: &str,
        kind: RunKind,
    ) -> Result<HostEntry, StoreError> {
        let r = reference.trim();
        let hosts = self.host_entries(kind)?;
        if let Some(h) = hosts.iter().find(|h| h.host_id == r) {
            return Ok(h.clone());
        }
        let pick = |matching: Vec<&HostEntry>| -> Option<Result<HostEntry, StoreError>> {
            match matching.as_slice() {
                [] => None,
                [one] => Some(Ok((*one).clone())),
                many => Some(Err(StoreError::AmbiguousHost {
                    reference: reference.to_owned(),
                    ids: many.iter().map(|h| h.host_id.clone()).collect(),
                })),
            }
        };
        let by_name = hosts.iter().filter(|h| h.hostname == r).collect();
        if let Some(found) = pick(by_name) {
            return found;
        }
        let by_prefix = hosts
            .iter()
            .filter(|h| !r.is_empty() && h.host_id.starts_with(r))
            .collect();
        if let Some(found) = pick(by_prefix) {
            return found;
        }
        Err(StoreError::NoSuchHost {
            reference: reference.to_owned(),
            kind: kind.as_str(),
            known: hosts.into_iter().map(|h| h.host_id).collect(),
        })
    }

    /// Runs of `kind` with this host id, newest first, at most `limit`.
    pub fn host_runs(
        &mut self,
        host_id: &str,
        kind: Option<RunKind>,
        limit: usize,
    ) -> Result<Vec<Run>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match kind {
            Some(k) => self.db.query(
                &format!(
                    "{RUN_SELECT} WHERE host_id = ? AND kind = ? \
                     ORDER BY started_ms DESC, id DESC LIMIT ?"
                ),
                &[host_id.into(), k.as_str().into(), limit.into()],
                RUN_KINDS,
            )?,
            None => self.db.query(
                &format!(
                    "{RUN_SELECT} WHERE host_id = ? ORDER BY started_ms DESC, id DESC LIMIT ?"
                ),
                &[host_id.into(), limit.into()],
                RUN_KINDS,
            )?,
        };
        rows.iter().map(|r| crate::run_of(r)).collect()
    }

    /// A run reference within one host's listening snapshots: `last` is its newest, `last~N`
    /// the N-th before it; anything else is resolved as [`Store::resolve`] does and must be a
    /// listening snapshot of this host.
    pub fn resolve_in_host(&mut self, host_id: &str, reference: &str) -> Result<Run, StoreError> {
        let r = reference.trim();
        if let Some(rest) = r.strip_prefix("last") {
            let back: Option<usize> = match rest.strip_prefix('~') {
                Some(n) => n.parse().ok(),
                None if rest.is_empty() => Some(0),
                None => None,
            };
            if let Some(back) = back {
                return self
                    .host_runs(host_id, Some(RunKind::Listening), back + 1)?
                    .into_iter()
                    .nth(back)
                    .ok_or_else(|| StoreError::NoSuchRun(format!("{reference} of {host_id}")));
            }
        }
        let run = self.resolve(reference)?;
        if run.host_id != host_id || run.kind != RunKind::Listening {
            return Err(StoreError::NotOfHost {
                run: run.id.clone(),
                host: host_id.to_owned(),
                kind: RunKind::Listening.as_str(),
                what: format!("a {} run of {}", run.kind.as_str(), run.host_id),
            });
        }
        Ok(run)
    }

    /// A host's newest whole listening snapshot (complete, every port) and the newest one
    /// before it over the same namespace, older first.
    pub fn host_pair(&mut self, host_id: &str) -> Result<(Option<Run>, Option<Run>), StoreError> {
        let runs: Vec<Run> = self
            .host_runs(host_id, Some(RunKind::Listening), LOOK_BACK)?
            .into_iter()
            .filter(|r| r.complete && r.ports.is_empty())
            .collect();
        let Some(newest) = runs.first().cloned() else {
            return Ok((None, None));
        };
        let older = runs
            .iter()
            .skip(1)
            .find(|r| r.targets == newest.targets)
            .cloned();
        Ok((older, Some(newest)))
    }

    /// Every host with a whole listening snapshot: its newest, and the one before it (at most
    /// `limit` hosts, by host id).
    pub fn fleet(&mut self, limit: usize) -> Result<Vec<HostSnapshots>, StoreError> {
        let mut out = Vec::new();
        for host in self
            .host_entries(RunKind::Listening)?
            .into_iter()
            .take(limit)
        {
            let (older, newest) = self.host_pair(&host.host_id)?;
            let Some(newest) = newest else { continue };
            let latest = self.data(newest)?;
            let previous = older.map(|r| self.data(r)).transpose()?;
            out.push(HostSnapshots {
                host,
                latest,
                previous,
            });
        }
        Ok(out)
    }
}
