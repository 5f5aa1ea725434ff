//! End-to-end tests of `portent_local::listening` against real sockets held by a child process
//! with a known pid (`fixtures/holder.py`), in a network namespace made for each test.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;

use std::net::IpAddr;

use common::{Holder, LONG_NAME, Netns};
use portent_local::listening::{
    Error, Listener, OwnerStatus, Query, Transport, listening, listening_with_pause,
};
use portent_local::meaning::{Filter, Flag, Report};
use portent_registry::{Registry, Status};

fn query(ns: &Netns) -> Query {
    Query {
        netns: Some(ns.path()),
        ..Query::default()
    }
}

fn find<'a>(ls: &'a [Listener], protocol: Transport, address: &str, port: u16) -> &'a Listener {
    let address: IpAddr = address.parse().unwrap();
    let hits: Vec<_> = ls
        .iter()
        .filter(|l| l.protocol == protocol && l.address == address && l.port == port)
        .collect();
    assert_eq!(hits.len(), 1, "{protocol} {address} {port} in {ls:#?}");
    hits[0]
}

#[test]
fn every_field_of_every_kind_of_listener() {
    let ns = Netns::new();
    let mut h = Holder::start(
        Some(&ns),
        &[
            "--fork",
            "tcp4/127.0.0.1/0", // 0
            "tcp4/0.0.0.0/797", // 1: the ghost
            "tcp6/::1/0",       // 2
            "tcp6/::/0",        // 3: dual stack
            "tcp6/::/0/v6only", // 4
            "udp4/127.0.0.1/0", // 5
            "udp4/0.0.0.0/0",   // 6
            "udp6/::1/0",       // 7
            "udp6/::/0/v6only", // 8
            "udpc4",            // 9: connected UDP: not listening
            "tcpc/0",           // 10: a TCP client: not listening
            "tcp4/127.0.0.1/0", // 11: closed by the parent, still held by its fork
        ],
    );
    h.close(11);
    let listing = listening(&query(&ns)).unwrap();
    let ls = &listing.listeners;
    assert!(listing.root);
    assert_eq!(listing.netns.as_deref(), Some(ns.path().to_str().unwrap()));

    // Exactly the ten listeners, nothing else (the namespace is new), sorted by port.
    assert_eq!(ls.len(), 10, "{ls:#?}");
    assert!(ls.windows(2).all(|w| w[0].port <= w[1].port));
    for gone in [9, 10] {
        let s = &h.socks[gone];
        assert!(
            !ls.iter().any(|l| l.inode == Some(s.inode)),
            "socket {gone} ({}) must not be listed",
            s.kind
        );
    }
    // Closed by the parent after the fork: the child is now the only owner.
    let half = find(ls, Transport::Tcp, "127.0.0.1", h.socks[11].port);
    assert_eq!(half.owners.len(), 1);
    assert_eq!(half.owners[0].pid, h.fork_pid.unwrap());

    let pids = [h.pid, h.fork_pid.unwrap()];
    for (i, v6only) in [
        (0, None),
        (1, None),
        // The kernel sets IPV6_V6ONLY itself on a socket bound to a specific IPv6 address.
        (2, Some(true)),
        (3, Some(false)),
        (4, Some(true)),
        (5, None),
        (6, None),
        (7, Some(true)),
        (8, Some(true)),
    ] {
        let s = &h.socks[i];
        let protocol = if s.kind.starts_with("tcp") {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let l = find(ls, protocol, &s.address, s.port);
        assert_eq!(l.inode, Some(s.inode), "socket {i}");
        assert_eq!(l.v6only, v6only, "socket {i}");
        assert_eq!(l.interface, None);
        assert_eq!(l.uid, Some(0));
        assert_eq!(l.user.as_deref(), Some("root"));
        assert_eq!(l.owner_status, OwnerStatus::Found);
        // Shared by fork: both processes are owners, each with the descriptor number.
        let owner_pids: Vec<u32> = l.owners.iter().map(|o| o.pid).collect();
        let mut want = pids.to_vec();
        want.sort_unstable();
        assert_eq!(owner_pids, want, "socket {i}");
        for o in &l.owners {
            assert_eq!(o.fds[..], [s.fd], "socket {i}");
            let p = o.process.as_ref().unwrap();
            // The full name, not comm's 15 characters.
            assert_eq!(&*p.name, LONG_NAME);
            assert!(p.exe.as_deref().unwrap().contains("python3"), "{p:?}");
            assert_eq!(p.cmdline[0], h.exe_link.to_str().unwrap());
            assert!(p.cmdline[1].ends_with("holder.py"));
            assert_eq!(p.cmdline[2], "--fork");
            assert_eq!(p.cmdline.len(), 3 + h.socks.len());
            assert_eq!((p.uid, p.user.as_deref()), (Some(0), Some("root")));
        }
    }

    // Meaning: 797 is a ghost in the system range, exposed on 0.0.0.0.
    let report = Report::build(
        &listing,
        &Registry::embedded(),
        &portent_local::host::facts(),
        &Filter::default(),
    );
    let row = report
        .sockets
        .iter()
        .find(|r| r.socket.port == 797)
        .unwrap();
    assert_eq!(row.registry.status, Status::Unassigned);
    assert!(row.has(Flag::Ghost) && row.strong_ghost() && row.has(Flag::Exposed));
    assert_eq!(row.pid, Some(pids[0].min(pids[1])));
    assert_eq!(row.process.as_deref(), Some(LONG_NAME));
    let dual = report
        .sockets
        .iter()
        .find(|r| r.socket.inode == Some(h.socks[3].inode))
        .unwrap();
    assert!(dual.has(Flag::DualStack) && dual.has(Flag::Exposed));
    let lo = report
        .sockets
        .iter()
        .find(|r| r.socket.inode == Some(h.socks[0].inode))
        .unwrap();
    assert!(!lo.has(Flag::Exposed) && !lo.has(Flag::DualStack));
    let lo6 = report
        .sockets
        .iter()
        .find(|r| r.socket.inode == Some(h.socks[7].inode))
        .unwrap();
    assert!(!lo6.has(Flag::Exposed));
    let range = portent_local::host::facts().ephemeral_range.unwrap();
    for r in &report.sockets {
        let eph = (range.0..=range.1).contains(&r.socket.port);
        assert_eq!(r.has(Flag::Ephemeral), eph, "port {}", r.socket.port);
    }
}

#[test]
fn queries_narrow_before_owners_are_read() {
    let ns = Netns::new();
    let mut h = Holder::start(
        Some(&ns),
        &[
            "tcp4/127.0.0.1/797",
            "udp4/127.0.0.1/797",
            "tcp6/::1/0",
            "tcp4/127.0.0.1/0",
            "udp6/::1/0",
        ],
    );
    // Closed sockets are gone.
    let (t, u) = (h.socks[3].port, h.socks[4].port);
    let before = listening(&query(&ns)).unwrap().listeners.len();
    assert_eq!(before, 5);
    h.close(3);
    h.close(4);
    let after = listening(&query(&ns)).unwrap().listeners;
    assert_eq!(after.len(), 3);
    assert!(!after.iter().any(|l| l.port == t || l.port == u));
    let only = |tcp, udp, port| {
        listening(&Query {
            tcp,
            udp,
            port,
            netns: Some(ns.path()),
        })
        .unwrap()
        .listeners
        .iter()
        .map(|l| (l.protocol, l.port))
        .collect::<Vec<_>>()
    };
    let p6 = h.socks[2].port;
    assert_eq!(
        only(true, true, Some(797)),
        [(Transport::Tcp, 797), (Transport::Udp, 797)]
    );
    assert_eq!(only(true, false, Some(797)), [(Transport::Tcp, 797)]);
    assert_eq!(only(false, true, None), [(Transport::Udp, 797)]);
    assert_eq!(only(true, false, Some(p6)), [(Transport::Tcp, p6)]);
    assert!(only(true, true, Some(1)).is_empty());
    let l = listening(&Query {
        port: Some(797),
        ..query(&ns)
    })
    .unwrap();
    assert!(l.listeners.iter().all(|l| l.owners[0].pid == h.pid));
}

#[test]
fn default_namespace_loopback() {
    common::require_root("it reads every process's descriptors");
    let h = Holder::start(None, &["tcp4/127.0.0.1/0", "udp6/::1/0"]);
    let l = listening(&Query::default()).unwrap();
    for (i, protocol) in [(0, Transport::Tcp), (1, Transport::Udp)] {
        let s = &h.socks[i];
        let found = find(&l.listeners, protocol, &s.address, s.port);
        assert_eq!(found.inode, Some(s.inode));
        assert_eq!(found.owners.len(), 1);
        assert_eq!(found.owners[0].pid, h.pid);
        assert_eq!(found.owners[0].fds[..], [s.fd]);
    }
    assert_eq!(l.netns, None);
}

#[test]
fn a_missing_namespace_is_a_typed_error() {
    let err = listening(&Query {
        netns: Some("/nonexistent/portent-netns".into()),
        ..Query::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Netns { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/portent-netns"));
}

/// Finding 1 of issue 13: a FIFO named as the namespace blocked forever in open(2).
#[test]
fn finding_1_a_fifo_or_device_as_namespace_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ns");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) is needed");
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for p in [fifo.clone(), "/dev/zero".into()] {
            let r = listening(&Query {
                netns: Some(p),
                ..Query::default()
            });
            let _ = tx.send(r.map(|_| ()).unwrap_err());
        }
    });
    for kind in ["a FIFO (named pipe)", "a character device"] {
        let err = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("listening --netns on a FIFO hung");
        assert!(matches!(err, Error::NetnsFile(_)), "{err:?}");
        assert!(err.to_string().contains(kind), "{err}");
    }
}

/// Issue 13, finding 6: an owner that exited between the socket dump and the `/proc` pass
/// was shown as hidden, with a note blaming whatever process could not be read (pid 1 in a
/// sandbox). It is shown as exited, and counted apart from hidden owners.
#[test]
fn finding_6_hidepid_just_exited_owner_is_shown_as_exited() {
    let ns = Netns::new();
    let stays = Holder::start(Some(&ns), &["tcp4/127.0.0.1/0"]);
    let leaves = Holder::start(Some(&ns), &["tcp4/127.0.0.1/0", "udp6/::1/0"]);
    let gone: Vec<(u64, u16)> = leaves.socks.iter().map(|s| (s.inode, s.port)).collect();
    let listing = listening_with_pause(&query(&ns), move || drop(leaves)).unwrap();
    let ls = &listing.listeners;
    assert_eq!(ls.len(), 3, "dumped before the exit, so listed: {ls:#?}");
    for (inode, port) in gone {
        let l = ls.iter().find(|l| l.inode == Some(inode)).unwrap();
        assert_eq!(l.port, port);
        assert_eq!(l.owner_status, OwnerStatus::Exited, "{l:#?}");
        assert!(l.owners.is_empty());
    }
    let kept = find(ls, Transport::Tcp, "127.0.0.1", stays.socks[0].port);
    assert_eq!(kept.owner_status, OwnerStatus::Found);
    assert_eq!(kept.owners[0].pid, stays.pid);

    let report = Report::build(
        &listing,
        &Registry::embedded(),
        &portent_local::host::facts(),
        &Filter::default(),
    );
    assert_eq!(report.hidden_owners, 0, "{:?}", report.notes);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n == "2 sockets closed while they were being listed: their owners exited"),
        "{:?}",
        report.notes
    );
    assert!(
        !report.notes.iter().any(|n| n.contains("unknown")),
        "no owner is called unknown: {:?}",
        report.notes
    );
}
