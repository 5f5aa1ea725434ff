//! Checkpoints of a scan in progress (`scan --resume`), on SQLite and on a real PostgreSQL
//! server (started as in `backends.rs`; without the server binaries the test fails and says
//! how to get them): the point, the prefix's listed ports and its unlisted counts are written
//! together or not at all, read back as written, and a prefix written again changes nothing.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "common/pg.rs"]
mod pg;

use portent_store::{Checkpoint, NewRun, PortRow, PrefixRow, RunKind, Store};

const H: &str = "198.18.0.9";

fn port(port: u16) -> PortRow {
    PortRow {
        host: H.to_owned(),
        protocol: "tcp".to_owned(),
        port,
        state: "open".to_owned(),
        reason: "syn-ack".to_owned(),
        ..PortRow::default()
    }
}

fn extra(state: &str, reason: &str, count: u64) -> PrefixRow {
    PrefixRow {
        host: H.to_owned(),
        protocol: "tcp".to_owned(),
        state: state.to_owned(),
        reason: reason.to_owned(),
        // Listed and unlisted kept apart: a store that swapped them fails the equality.
        listed: count / 3,
        unlisted: count - count / 3,
    }
}

fn point(position: u64, closed: u64, filtered: u64) -> Checkpoint {
    Checkpoint {
        shard_index: 2,
        plan: "00112233aabbccdd".to_owned(),
        group: 1,
        position,
        live: 1,
        // Above i64::MAX: all 64 bits come back.
        seed: 0xfedc_ba98_7654_3210 ^ position,
        updated_ms: 1_796_000_000_000 + position as i64,
        counts: vec![
            extra("closed", "conn-refused", closed),
            extra("filtered", "no-response", filtered),
        ],
    }
}

fn scenario(url: &str) {
    let mut s = Store::open(url).unwrap();
    let id = s
        .begin(&NewRun {
            kind: RunKind::Scan,
            started_ms: 1_796_000_000_000,
            targets: vec![H.to_owned()],
            ports: "1-1000".to_owned(),
            options: serde_json::json!({}),
            host_identifier: "node".to_owned(),
            host_id: None,
            machine_id: None,
        })
        .unwrap();
    assert_eq!(s.checkpoint(&id, 2).unwrap(), None);

    // Three checkpoints, each with the ports found since the one before.
    s.save_checkpoint(&id, &point(100, 95, 3), &[port(22), port(80)])
        .unwrap();
    s.save_checkpoint(&id, &point(400, 390, 7), &[port(443)])
        .unwrap();
    // The same prefix again (a retry): nothing changes.
    s.save_checkpoint(&id, &point(400, 390, 7), &[port(443)])
        .unwrap();
    let got = s.checkpoint(&id, 2).unwrap().unwrap();
    assert_eq!(got, point(400, 390, 7));
    let ports: Vec<u16> = s.ports(&id).unwrap().iter().map(|p| p.port).collect();
    assert_eq!(ports, [22, 80, 443]);
    // Another shard's checkpoint is its own.
    assert_eq!(s.checkpoint(&id, 1).unwrap(), None);

    // A checkpoint whose write fails part way (two counts with one key: the second insert is
    // refused) leaves the earlier one whole: no point moved, no port of it written.
    let mut bad = point(700, 680, 9);
    bad.counts.push(extra("closed", "conn-refused", 1));
    assert!(s.save_checkpoint(&id, &bad, &[port(8080)]).is_err());
    let mut s = Store::open(url).unwrap();
    assert_eq!(s.checkpoint(&id, 2).unwrap().unwrap(), point(400, 390, 7));
    let ports: Vec<u16> = s.ports(&id).unwrap().iter().map(|p| p.port).collect();
    assert_eq!(
        ports,
        [22, 80, 443],
        "the failed checkpoint's port is not there"
    );

    // Counts are replaced, not added: the prefix's totals, as written last.
    s.save_checkpoint(&id, &point(1000, 985, 12), &[port(8080)])
        .unwrap();
    let got = s.checkpoint(&id, 2).unwrap().unwrap();
    assert_eq!(got.counts, point(1000, 985, 12).counts);
    assert_eq!(got.position, 1000);
    let ports: Vec<u16> = s.ports(&id).unwrap().iter().map(|p| p.port).collect();
    assert_eq!(ports, [22, 80, 443, 8080]);
}

#[test]
fn checkpoints_are_written_whole_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("store.sqlite").display());
    scenario(&url);

    let server = pg::TestPg::start();
    let url = server.database("portent_checkpoints");
    scenario(&url);
}
