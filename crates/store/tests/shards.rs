//! Named runs merged from shards, on SQLite and on a real PostgreSQL server (started as in
//! `backends.rs`; without the server binaries the test fails and says how to get them): shards
//! claiming one run at the same moment from several connections, idempotent retries, a shard
//! of another plan refused, totals summed exactly, missing shards reported.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "common/pg.rs"]
mod pg;

use portent_store::{
    ExtraRow, HostRow, NewRun, PortRow, RunCounts, RunKind, ShardClaim, ShardDone, Store,
    StoreError,
};

const H: &str = "198.18.0.7";
const N: u64 = 4;
const PLAN: &str = "00112233aabbccdd";

fn new_run() -> NewRun {
    NewRun {
        kind: RunKind::Scan,
        started_ms: 1_796_000_000_000,
        targets: vec![H.to_owned()],
        ports: "1-100".to_owned(),
        options: serde_json::json!({}),
        host_identifier: "node".to_owned(),
        host_id: None,
        machine_id: None,
    }
}

fn claim(name: &str, index: u64) -> ShardClaim {
    ShardClaim {
        name: name.to_owned(),
        index,
        count: N,
        plan: PLAN.to_owned(),
    }
}

/// Shard `k` (1-based) owns the ports p with p % N == k - 1; port 22 and 80 are open, the
/// rest closed, every port listed.
fn rows_of(k: u64) -> Vec<PortRow> {
    (1..=100u16)
        .filter(|p| u64::from(*p) % N == k - 1)
        .map(|port| {
            let open = port == 22 || port == 80;
            PortRow {
                host: H.to_owned(),
                protocol: "tcp".to_owned(),
                port,
                state: if open { "open" } else { "closed" }.to_owned(),
                reason: if open { "syn-ack" } else { "conn-refused" }.to_owned(),
                service: open.then(|| "ssh".to_owned()),
                ..PortRow::default()
            }
        })
        .collect()
}

/// Saves shard `k` as the CLI's saver does: claim, ports in batches, hosts, the end.
fn run_shard(url: &str, name: &str, k: u64, complete: bool) -> String {
    let mut s = Store::open(url).unwrap();
    let id = s.claim_shard(&new_run(), &claim(name, k)).unwrap();
    let rows = rows_of(k);
    for chunk in rows.chunks(7) {
        s.save_ports(&id, chunk).unwrap();
    }
    s.save_hosts(
        &id,
        &[HostRow {
            host: H.to_owned(),
            hostname: None,
            status: "up".to_owned(),
        }],
    )
    .unwrap();
    let open = rows.iter().filter(|r| r.state == "open").count() as u64;
    let done = ShardDone {
        index: k,
        finished_ms: 1_796_000_001_000 + k as i64,
        complete,
        counts: RunCounts {
            open,
            closed: rows.len() as u64 - open,
            filtered: 10,
            hosts_up: 1,
            open_filtered: 0,
        },
        hosts: 1,
        listed: rows.len() as u64,
    };
    // Unlisted ports, counted per shard: 10 filtered each.
    let extra = [ExtraRow {
        host: H.to_owned(),
        protocol: "tcp".to_owned(),
        state: "filtered".to_owned(),
        reason: "no-response".to_owned(),
        count: 10,
    }];
    s.finish_shard(&id, &done, &extra).unwrap();
    id
}

fn snapshot(s: &mut Store, name: &str) -> String {
    let run = s.resolve(name).unwrap();
    let data = s.data(run).unwrap();
    serde_json::to_string(&data).unwrap()
}

fn scenario(url: &str) {
    // Four shards open the new store and claim the run at the same moment, each on its own
    // connection: one schema, one run.
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=N)
            .map(|k| {
                scope.spawn(move || {
                    let mut s = Store::open(url).unwrap();
                    s.claim_shard(&new_run(), &claim("race", k)).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let mut s = Store::open(url).unwrap();
    assert_eq!(s.runs(None, 100).unwrap().len(), 1);
    let sh = s.shards(&ids[0]).unwrap().unwrap();
    assert_eq!((sh.count, sh.done, sh.shards.len()), (N, 0, 4));
    assert_eq!(
        sh.summary(),
        "0 of 4 shards done; missing: 1/4, 2/4, 3/4, 4/4"
    );

    // The merge: shards 1, 3 and 4 (3 and 4 at once), shard 2 missing.
    run_shard(url, "m", 1, true);
    std::thread::scope(|scope| {
        let a = scope.spawn(|| run_shard(url, "m", 3, true));
        let b = scope.spawn(|| run_shard(url, "m", 4, true));
        a.join().unwrap();
        b.join().unwrap();
    });
    let run = s.resolve("m").unwrap();
    assert!(!run.complete);
    let sh = s.shards(&run.id).unwrap().unwrap();
    assert_eq!(sh.name, "m");
    assert_eq!(sh.summary(), "3 of 4 shards done; missing: 2/4");
    assert_eq!(sh.missing, ["2/4"]);

    // A shard of another plan, or of another shard count, is refused and writes nothing.
    let before = snapshot(&mut s, "m");
    let mut other = claim("m", 2);
    other.plan = "ffffffffffffffff".to_owned();
    let e = s.claim_shard(&new_run(), &other).unwrap_err();
    assert!(matches!(e, StoreError::ShardMismatch { .. }), "{e}");
    assert!(
        e.to_string().contains("4 shards of plan 00112233aabbccdd"),
        "{e}"
    );
    let mut other = claim("m", 2);
    other.count = 5;
    assert!(matches!(
        s.claim_shard(&new_run(), &other).unwrap_err(),
        StoreError::ShardMismatch { .. }
    ));
    assert_eq!(snapshot(&mut s, "m"), before);
    assert_eq!(s.shards(&run.id).unwrap().unwrap().missing, ["2/4"]);

    // The last shard, then every shard again (a scheduler's retry): nothing changes.
    run_shard(url, "m", 2, true);
    let merged = snapshot(&mut s, "m");
    let run = s.resolve("m").unwrap();
    assert!(run.complete);
    assert_eq!(
        run.counts,
        RunCounts {
            open: 2,
            closed: 98,
            filtered: 40,
            hosts_up: 1,
            open_filtered: 0
        }
    );
    let data = s.data(run.clone()).unwrap();
    let mut want: Vec<PortRow> = (1..=N).flat_map(rows_of).collect();
    want.sort_by_key(|p| p.port);
    assert_eq!(data.ports, want);
    assert_eq!(data.extra.len(), 1);
    assert_eq!(data.extra[0].count, 40);
    let sh = s.shards(&run.id).unwrap().unwrap();
    assert!(sh.all_done());
    assert_eq!(sh.summary(), "4 of 4 shards done");
    for k in 1..=N {
        run_shard(url, "m", k, true);
    }
    assert_eq!(snapshot(&mut s, "m"), merged);
    // An interrupted retry of a done shard leaves the done one's totals.
    run_shard(url, "m", 3, false);
    assert_eq!(snapshot(&mut s, "m"), merged);
    assert!(s.resolve("m").unwrap().complete);

    // One shard of one: a named scan without --shard.
    let mut one = claim("solo", 1);
    one.count = 1;
    let id = s.claim_shard(&new_run(), &one).unwrap();
    assert_eq!(
        s.shards(&id).unwrap().unwrap().summary(),
        "0 of 1 shard done; missing: 1/1"
    );
    // An unnamed run has no shards.
    let plain = s.begin(&new_run()).unwrap();
    assert!(s.shards(&plain).unwrap().is_none());
}

#[test]
fn shards_merge_into_one_named_run_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    // A new store each time: the racing shards also race to create its tables.
    let url = format!("sqlite:{}", dir.path().join("store.sqlite").display());
    scenario(&url);

    let server = pg::TestPg::start();
    let url = server.database("portent_shards");
    scenario(&url);
}

#[test]
fn many_ports_are_saved_in_batches_and_a_repeated_row_keeps_its_last_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("s.sqlite").to_string_lossy()).unwrap();
    let id = s.begin(&new_run()).unwrap();
    let mut rows: Vec<PortRow> = (1..=2000u16)
        .map(|port| PortRow {
            host: H.to_owned(),
            protocol: "tcp".to_owned(),
            port,
            state: "closed".to_owned(),
            reason: "conn-refused".to_owned(),
            ..PortRow::default()
        })
        .collect();
    // The same port twice in one batch (a result, then its detection): the last wins.
    rows.push(PortRow {
        state: "open".to_owned(),
        reason: "syn-ack".to_owned(),
        service: Some("http".to_owned()),
        ..rows[79].clone()
    });
    s.save_ports(&id, &rows).unwrap();
    let got = s.ports(&id).unwrap();
    assert_eq!(got.len(), 2000);
    assert_eq!(got[79].port, 80);
    assert_eq!(got[79].service.as_deref(), Some("http"));
}

#[test]
fn a_new_sqlite_store_opened_by_many_processes_at_once_opens_for_all() {
    // Shards starting together on one new store: switching a new file to WAL, and creating the
    // tables, must wait for the others instead of failing ("database is locked").
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("new.sqlite").display());
        let barrier = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    barrier.wait();
                    let mut s = Store::open(&url).unwrap_or_else(|e| panic!("round {round}: {e}"));
                    s.claim_shard(&new_run(), &claim("x", 1)).unwrap();
                });
            }
        });
    }
}
