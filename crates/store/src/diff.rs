//! What changed between two runs, and the life of one port across many.
//!
//! The rule that keeps this honest: a port is only called `closed` when the later run was
//! complete, covered the host (not down) and asked for the port. An interrupted run never turns
//! ports it may not have probed into closures (nmap's ndiff, given an interrupted XML file,
//! reports every open port as gone).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::model::{PortRow, Run, RunData, SocketRow, ports_contain};

/// Thirty days, the TLS expiry horizon a `changed` reports crossing.
pub const EXPIRY_HORIZON_MS: i64 = 30 * 24 * 3600 * 1000;

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Open now, not open in the earlier run, and never seen open before it.
    New,
    /// Open now, not open in the earlier run, but open in some run before that.
    Reopened,
    /// Open before, not open now (the later run was complete and asked for the port).
    Closed,
    /// Open in both, but what answers changed: service, product, version, certificate, or
    /// the certificate's expiry crossed 30 days.
    Changed,
    /// Open, unchanged since the earlier run, but outside the baseline (`--baseline`).
    Unexpected,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Reopened => "reopened",
            ChangeKind::Closed => "closed",
            ChangeKind::Changed => "changed",
            ChangeKind::Unexpected => "unexpected",
        }
    }
}

/// One port's state on one side of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub state: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_not_after_ms: Option<i64>,
}

impl Side {
    fn of(p: &PortRow) -> Side {
        Side {
            state: p.state.clone(),
            reason: p.reason.clone(),
            service: p.service.clone(),
            product: p.product.clone(),
            version: p.version.clone(),
            cert_sha256: p.cert_sha256.clone(),
            cert_not_after_ms: p.cert_not_after_ms,
        }
    }

    fn not_listed(state: &str) -> Side {
        Side {
            state: state.to_owned(),
            reason: String::new(),
            service: None,
            product: None,
            version: None,
            cert_sha256: None,
            cert_not_after_ms: None,
        }
    }
}

/// One change between two runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub host: String,
    pub port: u16,
    pub protocol: String,
    pub change: ChangeKind,
    pub before: Option<Side>,
    pub after: Option<Side>,
    /// What changed, for `changed`: "version 9.2p1 -> 9.6p1", "certificate", "expires in
    /// under 30 days".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub what: Vec<String>,
}

type Key = (String, String, u16);

/// A key borrowed from a row: building the maps of two large runs copies no strings.
type Ref<'a> = (&'a str, &'a str, u16);

fn key_ref(p: &PortRow) -> Ref<'_> {
    (p.host.as_str(), p.protocol.as_str(), p.port)
}

/// The changes from run `a` to run `b`. `earlier_open` holds the (host, protocol, port) keys
/// seen open in some run before `a`, which turn `new` into `reopened`.
pub fn diff(a: &RunData, b: &RunData, earlier_open: &HashSet<Key>) -> Vec<Change> {
    let open_a: HashMap<Ref<'_>, &PortRow> = a
        .ports
        .iter()
        .filter(|p| p.state == "open")
        .map(|p| (key_ref(p), p))
        .collect();
    let listed_b: HashMap<Ref<'_>, &PortRow> = b.ports.iter().map(|p| (key_ref(p), p)).collect();
    // Hosts `b` probed: covered (not down) by a complete run.
    let covered_b: HashSet<&str> = if b.run.complete {
        b.hosts
            .iter()
            .filter(|h| h.status != "down")
            .map(|h| h.host.as_str())
            .collect()
    } else {
        HashSet::new()
    };
    let probed = |host: &str, protocol: &str, port: u16| {
        covered_b.contains(host) && ports_contain(&b.run.ports, protocol, port)
    };
    let mut out = Vec::new();
    for (k, pa) in &open_a {
        match listed_b.get(k).filter(|p| p.state == "open") {
            Some(pb) => {
                let what = differences(pa, pb, b.run.started_ms);
                if !what.is_empty() {
                    out.push(Change {
                        host: k.0.to_owned(),
                        port: k.2,
                        protocol: k.1.to_owned(),
                        change: ChangeKind::Changed,
                        before: Some(Side::of(pa)),
                        after: Some(Side::of(pb)),
                        what,
                    });
                }
            }
            None if probed(k.0, k.1, k.2) => {
                let after = listed_b
                    .get(k)
                    .map_or_else(|| Side::not_listed("closed"), |p| Side::of(p));
                out.push(Change {
                    host: k.0.to_owned(),
                    port: k.2,
                    protocol: k.1.to_owned(),
                    change: ChangeKind::Closed,
                    before: Some(Side::of(pa)),
                    after: Some(after),
                    what: Vec::new(),
                });
            }
            None => {}
        }
    }
    for pb in b.ports.iter().filter(|p| p.state == "open") {
        let k = key_ref(pb);
        if open_a.contains_key(&k) {
            continue;
        }
        let owned: Key = (k.0.to_owned(), k.1.to_owned(), k.2);
        let change = if earlier_open.contains(&owned) {
            ChangeKind::Reopened
        } else {
            ChangeKind::New
        };
        out.push(Change {
            host: owned.0,
            port: k.2,
            protocol: owned.1,
            change,
            before: None,
            after: Some(Side::of(pb)),
            what: Vec::new(),
        });
    }
    out.sort_by(|x, y| {
        (&x.host, &x.protocol, x.port, x.change).cmp(&(&y.host, &y.protocol, y.port, y.change))
    });
    out
}

fn differences(a: &PortRow, b: &PortRow, now_ms: i64) -> Vec<String> {
    let mut what = Vec::new();
    let mut field = |name: &str, x: &Option<String>, y: &Option<String>| {
        // A field the later run could not read (detection off or cut short) is no change.
        if y.is_some() && x != y {
            what.push(format!(
                "{name} {} -> {}",
                x.as_deref().unwrap_or("-"),
                y.as_deref().unwrap_or("-")
            ));
        }
    };
    field("service", &a.service, &b.service);
    field("product", &a.product, &b.product);
    field("version", &a.version, &b.version);
    if b.cert_sha256.is_some() && a.cert_sha256 != b.cert_sha256 {
        what.push("certificate".to_owned());
    }
    if let (Some(x), Some(y)) = (a.cert_not_after_ms, b.cert_not_after_ms) {
        let soon = |t: i64| t - now_ms < EXPIRY_HORIZON_MS;
        if !soon(x) && soon(y) {
            what.push("certificate expires in under 30 days".to_owned());
        }
    }
    what
}

/// Open ports of `b` outside `baseline` that `changes` does not already report: they were
/// there before and still should not be.
pub fn unexpected(b: &RunData, changes: &[Change], baseline: &crate::Baseline) -> Vec<Change> {
    let reported: HashSet<(&str, &str, u16)> = changes
        .iter()
        .map(|c| (c.host.as_str(), c.protocol.as_str(), c.port))
        .collect();
    b.ports
        .iter()
        .filter(|p| p.state == "open")
        .filter(|p| !reported.contains(&(p.host.as_str(), p.protocol.as_str(), p.port)))
        .filter(|p| !baseline.allows(&p.host, &p.protocol, p.port, p.service.as_deref()))
        .map(|p| Change {
            host: p.host.clone(),
            port: p.port,
            protocol: p.protocol.clone(),
            change: ChangeKind::Unexpected,
            before: Some(Side::of(p)),
            after: Some(Side::of(p)),
            what: vec!["outside the baseline".to_owned()],
        })
        .collect()
}

/// A listening socket that appeared or went away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketChange {
    /// `added` or `removed` (osquery's words).
    pub action: &'static str,
    pub socket: SocketRow,
}

/// Sockets added and removed between two snapshots, by identity (protocol, address, port,
/// executable, user): a daemon restarted with a new PID is no change.
pub fn diff_sockets(a: &[SocketRow], b: &[SocketRow]) -> Vec<SocketChange> {
    let ids_a: HashSet<_> = a.iter().map(SocketRow::identity).collect();
    let ids_b: HashSet<_> = b.iter().map(SocketRow::identity).collect();
    let mut out: Vec<SocketChange> = b
        .iter()
        .filter(|s| !ids_a.contains(&s.identity()))
        .map(|s| SocketChange {
            action: "added",
            socket: s.clone(),
        })
        .chain(
            a.iter()
                .filter(|s| !ids_b.contains(&s.identity()))
                .map(|s| SocketChange {
                    action: "removed",
                    socket: s.clone(),
                }),
        )
        .collect();
    out.sort_by(|x, y| {
        (x.socket.port, &x.socket.protocol, x.action).cmp(&(
            y.socket.port,
            &y.socket.protocol,
            y.action,
        ))
    });
    out.dedup();
    out
}

/// One event in a port's life on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    pub run: String,
    pub at_ms: i64,
    /// `opened`, `closed`, `reopened` or `changed`.
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The life of one (protocol, port) on a host across stored runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortTimeline {
    pub protocol: String,
    pub port: u16,
    pub first_seen_open_ms: i64,
    pub last_seen_open_ms: i64,
    /// Open in the latest run that probed it.
    pub open_now: bool,
    pub events: Vec<TimelineEvent>,
}

/// Builds timelines from runs (oldest first) that covered a host, and that host's port rows
/// per run. Runs that did not probe a port (interrupted, port not asked, host down) say nothing
/// about it.
pub fn timelines(
    runs: &[(Run, String)],
    rows: &HashMap<String, Vec<PortRow>>,
) -> Vec<PortTimeline> {
    let mut keys: Vec<(String, u16)> = rows
        .values()
        .flatten()
        .filter(|p| p.state == "open")
        .map(|p| (p.protocol.clone(), p.port))
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for (protocol, port) in keys {
        let mut t: Option<PortTimeline> = None;
        let mut open = false;
        let mut last: Option<PortRow> = None;
        for (run, host_status) in runs {
            let row = rows
                .get(&run.id)
                .and_then(|v| v.iter().find(|p| p.protocol == protocol && p.port == port));
            let is_open = row.is_some_and(|p| p.state == "open");
            let probed =
                run.complete && host_status != "down" && ports_contain(&run.ports, &protocol, port);
            if is_open {
                let row = row.cloned().unwrap_or_default();
                match &mut t {
                    None => {
                        t = Some(PortTimeline {
                            protocol: protocol.clone(),
                            port,
                            first_seen_open_ms: run.started_ms,
                            last_seen_open_ms: run.started_ms,
                            open_now: true,
                            events: vec![TimelineEvent {
                                run: run.id.clone(),
                                at_ms: run.started_ms,
                                event: "opened",
                                detail: describe(&row),
                            }],
                        });
                    }
                    Some(tl) => {
                        tl.last_seen_open_ms = run.started_ms;
                        if !open {
                            tl.events.push(TimelineEvent {
                                run: run.id.clone(),
                                at_ms: run.started_ms,
                                event: "reopened",
                                detail: describe(&row),
                            });
                        } else if let Some(prev) = &last {
                            let what = differences(prev, &row, run.started_ms);
                            if !what.is_empty() {
                                tl.events.push(TimelineEvent {
                                    run: run.id.clone(),
                                    at_ms: run.started_ms,
                                    event: "changed",
                                    detail: Some(what.join("; ")),
                                });
                            }
                        }
                    }
                }
                open = true;
                last = Some(row);
            } else if probed && open {
                if let Some(tl) = &mut t {
                    tl.events.push(TimelineEvent {
                        run: run.id.clone(),
                        at_ms: run.started_ms,
                        event: "closed",
                        detail: None,
                    });
                }
                open = false;
            }
        }
        if let Some(mut tl) = t {
            tl.open_now = open;
            out.push(tl);
        }
    }
    out
}

fn describe(p: &PortRow) -> Option<String> {
    let parts: Vec<&str> = [&p.service, &p.product, &p.version]
        .into_iter()
        .filter_map(|x| x.as_deref())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}
