//! The same scenarios against SQLite and a real PostgreSQL server. The server is started by
//! this test from Debian's postgresql package (`initdb` into a temporary directory, `pg_ctl`
//! on a unix socket there, as the `postgres` user when run as root) and stopped at the end.
//! Without the server binaries the test fails and says how to get them: no database is mocked.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "common/pg.rs"]
mod pg;

use pg::TestPg;
use portent_store::{
    ChangeKind, Finish, HostRow, NewRun, PortRow, RunCounts, RunKind, SocketRow, Store, StoreError,
    diff, diff_sockets,
};

fn new_run(kind: RunKind, at: i64, targets: &[&str], ports: &str) -> NewRun {
    NewRun {
        kind,
        started_ms: at,
        targets: targets.iter().map(|s| (*s).to_owned()).collect(),
        ports: ports.to_owned(),
        options: serde_json::json!({"timeout_ms": 1000}),
        host_identifier: "test-box".to_owned(),
        host_id: None,
        machine_id: None,
    }
}

fn open(host: &str, port: u16, product: Option<&str>, version: Option<&str>) -> PortRow {
    PortRow {
        host: host.to_owned(),
        protocol: "tcp".to_owned(),
        port,
        state: "open".to_owned(),
        reason: "syn-ack".to_owned(),
        service: product.map(|_| "ssh".to_owned()),
        product: product.map(str::to_owned),
        version: version.map(str::to_owned),
        ..PortRow::default()
    }
}

/// Stores a scan of `host` with `ports` open; `complete` false leaves it interrupted.
fn scan(s: &mut Store, at: i64, rows: &[PortRow], complete: bool) -> String {
    let id = s
        .begin(&new_run(RunKind::Scan, at, &["198.18.0.2"], "1-1024"))
        .unwrap();
    s.save_hosts(
        &id,
        &[HostRow {
            host: "198.18.0.2".into(),
            hostname: None,
            status: "up".into(),
        }],
    )
    .unwrap();
    s.save_ports(&id, rows).unwrap();
    s.finish(
        &id,
        &Finish {
            finished_ms: at + 500,
            complete,
            counts: RunCounts {
                open: rows.len() as u64,
                closed: 1024 - rows.len() as u64,
                filtered: 0,
                hosts_up: 1,
                open_filtered: 0,
            },
            document: Some(format!("{{\"run\":\"{at}\"}}")),
            record: Some(format!("{{\"record\":{at}}}")),
        },
    )
    .unwrap();
    id
}

const H: &str = "198.18.0.2";

fn changes(s: &mut Store, a: &str, b: &str) -> Vec<(u16, ChangeKind, Vec<String>)> {
    let a = s.resolve(a).unwrap();
    let b = s.resolve(b).unwrap();
    let earlier = s.open_before(a.started_ms, &[H.to_owned()]).unwrap();
    let (a, b) = (s.data(a).unwrap(), s.data(b).unwrap());
    diff(&a, &b, &earlier)
        .into_iter()
        .map(|c| (c.port, c.change, c.what))
        .collect()
}

fn scenario_runs_and_diffs(s: &mut Store) {
    let t0 = 1_796_400_000_000;
    let r1 = scan(
        s,
        t0,
        &[
            open(H, 22, Some("OpenSSH"), Some("9.2p1")),
            open(H, 80, None, None),
        ],
        true,
    );
    // 22 changes version, 80 closes, 443 is new.
    let r2 = scan(
        s,
        t0 + 60_000,
        &[
            open(H, 22, Some("OpenSSH"), Some("9.6p1")),
            open(H, 443, None, None),
        ],
        true,
    );
    assert_eq!(
        changes(s, &r1, &r2),
        vec![
            (
                22,
                ChangeKind::Changed,
                vec!["version 9.2p1 -> 9.6p1".to_owned()]
            ),
            (80, ChangeKind::Closed, vec![]),
            (443, ChangeKind::New, vec![]),
        ]
    );
    // An interrupted run that saw nothing turns nothing into a closure.
    let r3 = scan(s, t0 + 120_000, &[], false);
    assert_eq!(changes(s, &r2, &r3), vec![]);
    // 80 comes back: reopened, since it was open before r2.
    let r4 = scan(
        s,
        t0 + 180_000,
        &[
            open(H, 22, Some("OpenSSH"), Some("9.6p1")),
            open(H, 80, None, None),
            open(H, 443, None, None),
        ],
        true,
    );
    assert_eq!(
        changes(s, &r2, &r4),
        vec![(80, ChangeKind::Reopened, vec![])]
    );

    // History: newest first; references.
    let runs = s.runs(None, 10).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [&r4, &r3, &r2, &r1]
    );
    assert!(!runs[1].complete && runs[0].complete);
    assert_eq!(runs[0].counts.open, 3);
    assert_eq!(s.resolve("last").unwrap().id, r4);
    assert_eq!(s.resolve("last~2").unwrap().id, r2);
    assert_eq!(s.resolve(&r1[..18]).unwrap().id, r1);
    assert!(matches!(
        s.resolve("2026"),
        Err(StoreError::Ambiguous { .. })
    ));
    assert!(matches!(s.resolve("nope"), Err(StoreError::NoSuchRun(_))));
    assert!(matches!(s.resolve("last~9"), Err(StoreError::NoSuchRun(_))));
    assert_eq!(
        s.document(&r1).unwrap().as_deref(),
        Some(format!("{{\"run\":\"{t0}\"}}").as_str())
    );
    assert_eq!(
        s.record(&r1).unwrap().as_deref(),
        Some(format!("{{\"record\":{t0}}}").as_str())
    );
    assert_eq!(s.record("no-such-run").unwrap(), None);
    // The last two complete runs over the same targets: r2 and r4 (r3 was interrupted).
    let (a, b) = s.last_pair(RunKind::Scan).unwrap().unwrap();
    assert_eq!((a.id, b.id), (r2.clone(), r4.clone()));

    // The per-port timeline.
    let tl = s.timeline(H, None).unwrap();
    let t80 = tl.iter().find(|t| t.port == 80).unwrap();
    let events: Vec<(&str, &str)> = t80
        .events
        .iter()
        .map(|e| (e.event, e.run.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("opened", r1.as_str()),
            ("closed", r2.as_str()),
            ("reopened", r4.as_str())
        ]
    );
    assert!(t80.open_now);
    let t22 = s.timeline(H, Some(22)).unwrap();
    assert_eq!(t22.len(), 1);
    assert_eq!(t22[0].events[1].event, "changed");
    assert_eq!(
        t22[0].events[1].detail.as_deref(),
        Some("version 9.2p1 -> 9.6p1")
    );
    assert_eq!(t22[0].first_seen_open_ms, t0);
    assert_eq!(t22[0].last_seen_open_ms, t0 + 180_000);

    // Saving a batch twice replaces it (a retried shard writes the same rows).
    s.save_ports(&r4, &[open(H, 80, Some("nginx"), Some("1.24"))])
        .unwrap();
    let p80: Vec<PortRow> = s
        .ports(&r4)
        .unwrap()
        .into_iter()
        .filter(|p| p.port == 80)
        .collect();
    assert_eq!(p80.len(), 1);
    assert_eq!(p80[0].product.as_deref(), Some("nginx"));

    let hosts = s.hosts().unwrap();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].1.id, r4);
}

fn scenario_unfinished_and_sockets(s: &mut Store) {
    // A run that never finished (the process was killed) stays incomplete.
    let id = s
        .begin(&new_run(RunKind::Listening, 1_796_500_000_000, &[], ""))
        .unwrap();
    let r = s.resolve(&id).unwrap();
    assert!(!r.complete && r.finished_ms.is_none());

    let sock = |port: u16, pid: u32| SocketRow {
        protocol: "tcp".into(),
        address: "0.0.0.0".into(),
        port,
        executable: "/usr/sbin/sshd".into(),
        user: "root".into(),
        pid: Some(pid),
        process: Some("sshd".into()),
    };
    s.save_sockets(&id, &[sock(22, 100), sock(797, 200)])
        .unwrap();
    let run = s.resolve(&id).unwrap();
    let a = s.data(run).unwrap().sockets;
    assert_eq!(a.len(), 2);
    // The same daemon restarted (new pid) is no change; 797 went away, 770 appeared.
    let b = vec![sock(22, 555), sock(770, 556)];
    let changes = diff_sockets(&a, &b);
    let got: Vec<(&str, u16)> = changes.iter().map(|c| (c.action, c.socket.port)).collect();
    assert_eq!(got, [("added", 770), ("removed", 797)]);
}

fn all_scenarios(s: &mut Store) {
    scenario_runs_and_diffs(s);
    scenario_unfinished_and_sockets(s);
}

#[test]
fn sqlite_and_postgresql_behave_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let mut s = Store::open(&format!("sqlite:{}", path.display())).unwrap();
    all_scenarios(&mut s);
    drop(s);
    // Reopening runs the migrations again: nothing to do, nothing lost.
    let mut s = Store::open(&path.to_string_lossy()).unwrap();
    assert_eq!(s.runs(None, 100).unwrap().len(), 5);

    let pg = TestPg::start();
    let url = pg.database("portent_test");
    let mut s = Store::open(&url).unwrap();
    assert!(s.location().starts_with("postgresql://"));
    all_scenarios(&mut s);
    drop(s);
    let mut s = Store::open(&url).unwrap();
    assert_eq!(s.runs(None, 100).unwrap().len(), 5);
}

#[test]
fn an_unreachable_store_is_a_clear_error() {
    let e = Store::open("postgresql://nobody@%2Fnonexistent-portent-dir/x").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot open the store postgresql://"),
        "{e}"
    );
    let e = Store::open("/proc/portent-cannot-create/store.sqlite").unwrap_err();
    assert!(
        e.to_string().contains("cannot open the store sqlite:"),
        "{e}"
    );
}
