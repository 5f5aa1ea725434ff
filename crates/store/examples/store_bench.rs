//! Times the store on synthetic data written through its API (bench/store.sh runs it):
//! saving two scan runs of HOSTS hosts x PORTS ports with OPEN of them open per host, `diff`
//! between them, and `history HOST` with RUNS runs of one host stored.
//!
//! cargo run --release -p portent-store --example store_bench -- STORE [HOSTS PORTS OPEN RUNS]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Instant;

use portent_store::{Finish, HostRow, NewRun, PortRow, RunCounts, RunKind, Store};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let spec = args
        .get(1)
        .expect("usage: store_bench STORE [HOSTS PORTS OPEN RUNS]");
    let num = |i: usize, d: usize| args.get(i).map_or(d, |s| s.parse().unwrap());
    let (hosts, ports, open, runs) = (num(2, 4096), num(3, 1000), num(4, 20), num(5, 1000));
    let mut s = Store::open(spec).unwrap();
    let host = |h: usize| format!("10.{}.{}.{}", h >> 16 & 255, h >> 8 & 255, h & 255);
    let mut ids = Vec::new();
    let t0 = Instant::now();
    for round in 0..2i64 {
        let id = s
            .begin(&NewRun {
                kind: RunKind::Scan,
                started_ms: 1_796_400_000_000 + round * 60_000,
                targets: vec!["10.0.0.0/20".into()],
                ports: format!("1-{ports}"),
                options: serde_json::json!({}),
                host_identifier: "bench".into(),
                host_id: None,
                machine_id: None,
            })
            .unwrap();
        let hs: Vec<HostRow> = (0..hosts)
            .map(|h| HostRow {
                host: host(h),
                hostname: None,
                status: "up".into(),
            })
            .collect();
        s.save_hosts(&id, &hs).unwrap();
        let mut rows = Vec::with_capacity(hosts * open);
        for h in 0..hosts {
            for k in 0..open {
                // The second run moves one port per host and changes one version.
                let port = if round == 1 && k == 0 {
                    ports
                } else {
                    1 + k * (ports / open.max(1))
                };
                rows.push(PortRow {
                    host: host(h),
                    protocol: "tcp".into(),
                    port: u16::try_from(port).unwrap(),
                    state: "open".into(),
                    reason: "syn-ack".into(),
                    service: Some("http".into()),
                    product: Some("nginx".into()),
                    version: Some(if round == 1 && k == 1 { "1.26" } else { "1.24" }.into()),
                    ..PortRow::default()
                });
            }
        }
        for chunk in rows.chunks(4096) {
            s.save_ports(&id, chunk).unwrap();
        }
        s.finish(
            &id,
            &Finish {
                finished_ms: 1_796_400_000_000 + round * 60_000 + 1000,
                complete: true,
                counts: RunCounts::default(),
                document: None,
                record: None,
            },
        )
        .unwrap();
        ids.push(id);
    }
    let save = t0.elapsed();
    let t1 = Instant::now();
    let a = s.resolve(&ids[0]).unwrap();
    let b = s.resolve(&ids[1]).unwrap();
    let (da, db) = (s.data(a).unwrap(), s.data(b).unwrap());
    let load = t1.elapsed();
    let changes = portent_store::diff(&da, &db, &HashSet::new());
    let diff = t1.elapsed();
    println!(
        "save 2 runs x {hosts} hosts x {open} open of {ports}: {:.2} s; diff: {} changes in {:.3} s ({:.3} s reading the runs)",
        save.as_secs_f64(),
        changes.len(),
        diff.as_secs_f64(),
        load.as_secs_f64()
    );

    // history HOST with RUNS runs of one host.
    for r in 0..runs as i64 {
        let id = s
            .begin(&NewRun {
                kind: RunKind::Scan,
                started_ms: 1_796_500_000_000 + r * 60_000,
                targets: vec!["198.18.0.2".into()],
                ports: "1-1024".into(),
                options: serde_json::json!({}),
                host_identifier: "bench".into(),
                host_id: None,
                machine_id: None,
            })
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
        let mut rows = vec![PortRow {
            host: "198.18.0.2".into(),
            protocol: "tcp".into(),
            port: 22,
            state: "open".into(),
            reason: "syn-ack".into(),
            ..PortRow::default()
        }];
        if r % 3 == 0 {
            rows.push(PortRow {
                port: 797,
                ..rows[0].clone()
            });
        }
        s.save_ports(&id, &rows).unwrap();
        s.finish(
            &id,
            &Finish {
                finished_ms: 1_796_500_000_000 + r * 60_000 + 100,
                complete: true,
                ..Finish::default()
            },
        )
        .unwrap();
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let tl = s.timeline("198.18.0.2", None).unwrap();
        assert_eq!(tl.len(), 2);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "history HOST with {runs} runs: median {:.1} ms",
        times[times.len() / 2] * 1000.0
    );
}
