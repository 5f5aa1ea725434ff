//! Walks the registry CSV with an independent reader (the `csv` crate directly, not
//! `portent-iana`) and checks the compiled-in lookup for every port and protocol.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::BTreeSet;

use portent_registry::{Protocol, Registry, Status};

const CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/iana/service-names-port-numbers.csv"
);

#[derive(Default, Clone)]
struct Expect {
    assigned: bool,
    reserved: bool,
    private_use: bool,
    names: BTreeSet<String>,
}

#[test]
fn every_port_and_protocol_agrees_with_the_csv() {
    let protos = ["tcp", "udp", "sctp", "dccp"];
    let mut expect = vec![Expect::default(); 65536 * 4];
    let mut rows = 0;
    let mut reader = csv::Reader::from_path(CSV).expect("open registry csv");
    for row in reader.records() {
        let row = row.expect("csv row");
        rows += 1;
        let (name, port, proto, desc) = (&row[0], &row[1], &row[2], &row[3]);
        if port.is_empty() {
            continue;
        }
        let (a, b) = match port.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()),
            None => (port.parse().unwrap(), port.parse().unwrap()),
        };
        let lower = desc.to_lowercase();
        for (pi, p) in protos.iter().enumerate() {
            if !proto.is_empty() && proto != *p {
                continue;
            }
            for port in a..=b {
                let e = &mut expect[port * 4 + pi];
                if !name.is_empty() {
                    e.assigned = true;
                    e.names.insert(name.to_ascii_lowercase());
                } else if lower.starts_with("reserved") {
                    e.reserved = true;
                } else if lower.starts_with("any private") {
                    e.private_use = true;
                }
            }
        }
    }
    assert_eq!(rows, 14_500, "the data file should be the 2026-02-25 copy");

    let reg = Registry::embedded();
    let mut counts = [0usize; 4];
    for port in 0..=65535u16 {
        for (pi, p) in Protocol::ALL.into_iter().enumerate() {
            let e = &expect[usize::from(port) * 4 + pi];
            let want = if e.assigned {
                Status::Assigned
            } else if e.private_use {
                Status::PrivateUse
            } else if e.reserved {
                Status::Reserved
            } else {
                Status::Unassigned
            };
            let got = reg.lookup(port, p);
            assert_eq!(got.status, want, "{port}/{p}");
            assert_eq!(reg.status(port, p), want, "{port}/{p} (status)");
            let names: BTreeSet<String> = got
                .service_names()
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect();
            assert_eq!(names, e.names, "{port}/{p} names");
            counts[want as usize] += 1;
        }
    }
    // Sanity on the whole: most of the space is unassigned, thousands of pairs assigned.
    assert!(counts[Status::Assigned as usize] > 10_000, "{counts:?}");
    assert!(counts[Status::Reserved as usize] > 500, "{counts:?}");
    // 24, 35, 57, 59, 75, 77, 87 on TCP and UDP: "any private ..." rows.
    assert_eq!(counts[Status::PrivateUse as usize], 14, "{counts:?}");
    let c = reg.counts();
    assert_eq!(c.records, 14_500);
    assert_eq!(
        c.assigned_ports.iter().sum::<usize>(),
        counts[Status::Assigned as usize]
    );
    assert_eq!(
        c.reserved_ports.iter().sum::<usize>(),
        counts[Status::Reserved as usize]
    );
    assert_eq!(
        c.private_use_ports.iter().sum::<usize>(),
        counts[Status::PrivateUse as usize]
    );
    assert_eq!(reg.date(), "2026-02-25");
}

#[test]
fn every_named_record_is_found_by_name() {
    let reg = Registry::embedded();
    for r in reg.records() {
        if r.service.is_empty() {
            continue;
        }
        let found = reg.by_name(&r.service.to_uppercase());
        assert!(found.contains(&r), "{}", r.service);
    }
}
