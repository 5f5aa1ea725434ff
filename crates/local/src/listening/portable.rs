//! Systems other than Linux: macOS, Windows, FreeBSD, OpenBSD and NetBSD.
//!
//! The sockets and their owning pids come from the `listeners` crate, which wraps each
//! system's own interface (libproc's per-process socket info on macOS, `GetExtendedTcpTable` /
//! `GetExtendedUdpTable` on Windows, the `pcblist`/`kern.file` sysctls on the BSDs) and is
//! tested on those systems by its authors. Command line, executable and user come from
//! `sysinfo`. Writing that FFI by hand would give code this project cannot run: its machines
//! and CI are Linux (the cross-target check in `scripts/cross-check` only compiles it).
//!
//! What this backend cannot say, and the Linux one can: socket inodes, descriptor numbers,
//! the uid that created a socket (the first owner's uid stands in), bound devices, IPV6_V6ONLY,
//! and whether a UDP socket is connected. Sockets that the system does not show an
//! unprivileged caller (other users' processes on macOS and the BSDs) are missing, not
//! hidden, so the listing says so in [`Listing::limits`] instead of per process.
//!
//! Linux builds compile this module in tests, where `listeners` uses its Linux backend: the
//! adapter below (state filter, grouping of shared sockets, details) is tested against real
//! sockets there.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::{Details, Error, FdScan, Listing, NO_FD, Process, Query, RawSocket, Transport};

pub fn listening(query: &Query, after_dump: impl FnOnce()) -> Result<Listing, Error> {
    if let Some(path) = &query.netns {
        return Err(Error::Netns {
            path: path.clone(),
            err: std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "network namespaces are a Linux feature",
            ),
        });
    }
    let found = listeners::get_all().map_err(|e| Error::Platform {
        os: os_name(),
        detail: e.to_string(),
    })?;
    after_dump();
    let sockets = group(found, query);
    let mut details = SysDetails::new(sockets.values().flatten());
    let mut raw = Vec::with_capacity(sockets.len());
    let mut scan = FdScan::default();
    for (key, ((protocol, addr), owners)) in (0u64..).zip(sockets) {
        let uid = owners.iter().find_map(|(pid, _)| details.uid(*pid));
        raw.push(RawSocket {
            protocol,
            address: addr.ip(),
            port: addr.port(),
            v6only: None,
            ifindex: 0,
            key,
            key_is_inode: false,
            uid,
        });
        scan.holders
            .extend(owners.into_iter().map(|(pid, _)| (key, pid, NO_FD)));
    }
    let root = is_root();
    let mut listing = super::assemble(raw, scan, &mut details, root, None);
    listing.limits = limits(os_name(), root);
    Ok(listing)
}

/// Socket and owners, keyed by what identifies a socket here (no inode outside Linux).
type Grouped = BTreeMap<(Transport, SocketAddr), Vec<(u32, ProcessName)>>;

/// Keeps listening TCP and bound UDP sockets the query asks for, and gathers the processes
/// reported for the same socket: a shared socket is one row with every owner the system
/// names (each holder on macOS and the BSDs; Windows' tables name one pid per socket).
fn group(found: impl IntoIterator<Item = listeners::Listener>, query: &Query) -> Grouped {
    let mut sockets = Grouped::new();
    for l in found {
        let protocol = match l.protocol {
            listeners::Protocol::TCP if l.state == listeners::SocketState::Listen => Transport::Tcp,
            listeners::Protocol::TCP => continue,
            // UDP has no states; port 0 is a socket not bound yet.
            listeners::Protocol::UDP if l.socket.port() != 0 => Transport::Udp,
            listeners::Protocol::UDP => continue,
        };
        if !wanted(query, protocol, l.socket.port()) {
            continue;
        }
        let owners = sockets.entry((protocol, l.socket)).or_default();
        if !owners.iter().any(|(pid, _)| *pid == l.process.pid) {
            let name = ProcessName {
                name: l.process.name,
                path: l.process.path,
            };
            owners.push((l.process.pid, name));
        }
    }
    sockets
}

fn wanted(query: &Query, protocol: Transport, port: u16) -> bool {
    let by_protocol = match protocol {
        Transport::Tcp => query.tcp,
        Transport::Udp => query.udp,
    };
    by_protocol && query.port.is_none_or(|p| p == port)
}

fn os_name() -> &'static str {
    match std::env::consts::OS {
        "macos" => "macOS",
        "windows" => "Windows",
        "freebsd" => "FreeBSD",
        "openbsd" => "OpenBSD",
        "netbsd" => "NetBSD",
        "linux" => "Linux",
        other => other,
    }
}

#[cfg(unix)]
fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Windows has no root; elevation does not change what the socket tables show.
#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

/// The plain sentences a listing on `os` carries about what it cannot show.
fn limits(os: &str, root: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !root && os != "Windows" {
        out.push(format!(
            "on {os}, sockets of processes that belong to other users are not shown without \
             root: run with sudo to see them all"
        ));
    }
    out.push(format!(
        "on {os}, UDP rows include connected sockets and the socket's own uid, inode and \
         descriptors are not known (the owner's user is shown)"
    ));
    out
}

/// What `listeners` says about an owner: always present, so an owner is never "exited"
/// just because `sysinfo` could not read it.
#[derive(Debug, Clone)]
struct ProcessName {
    name: String,
    path: String,
}

/// Process details from `sysinfo`, refreshed once for just the owning pids.
struct SysDetails {
    names: HashMap<u32, ProcessName>,
    system: Option<sysinfo::System>,
    users: Option<sysinfo::Users>,
}

impl SysDetails {
    fn new<'a>(owners: impl Iterator<Item = &'a (u32, ProcessName)>) -> SysDetails {
        let names: HashMap<u32, ProcessName> = owners.map(|(pid, n)| (*pid, n.clone())).collect();
        let pids: Vec<sysinfo::Pid> = names.keys().map(|p| sysinfo::Pid::from_u32(*p)).collect();
        // Details are extras: if the system cannot give them, rows keep their names and pids.
        let system = (!pids.is_empty())
            .then(sysinfo::System::new)
            .and_then(Result::ok)
            .map(|mut s| {
                let kind = sysinfo::ProcessRefreshKind::nothing()
                    .with_cmd(sysinfo::UpdateKind::Always)
                    .with_exe(sysinfo::UpdateKind::Always)
                    .with_user(sysinfo::UpdateKind::Always);
                s.refresh_processes_specifics(sysinfo::ProcessesToUpdate::Some(&pids), true, kind);
                s
            });
        let users = sysinfo::Users::new_with_refreshed_list().ok();
        SysDetails {
            names,
            system,
            users,
        }
    }

    fn proc(&self, pid: u32) -> Option<&sysinfo::Process> {
        self.system.as_ref()?.process(sysinfo::Pid::from_u32(pid))
    }

    fn uid(&self, pid: u32) -> Option<u32> {
        numeric_uid(self.proc(pid)?.user_id()?)
    }
}

/// `uid_t` is a `u32` on every Unix this backend serves.
#[cfg(unix)]
fn numeric_uid(uid: &sysinfo::Uid) -> Option<u32> {
    Some(**uid)
}

/// Windows user ids are SIDs, not numbers.
#[cfg(not(unix))]
fn numeric_uid(_uid: &sysinfo::Uid) -> Option<u32> {
    None
}

impl Details for SysDetails {
    fn process(&mut self, pid: u32) -> Option<Process> {
        let known = self.names.get(&pid)?;
        let info = self.proc(pid);
        let exe = info
            .and_then(|p| p.exe())
            .map(|p| p.to_string_lossy().into_owned())
            .or_else(|| (!known.path.is_empty()).then(|| known.path.clone()));
        let cmdline: Vec<String> = info
            .map(|p| {
                p.cmd()
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let sid = info.and_then(|p| p.user_id());
        let user = sid
            .and_then(|id| self.users.as_ref()?.get_user_by_id(id))
            .map(|u| u.name().to_owned());
        Some(Process {
            name: known.name.as_str().into(),
            exe,
            cmdline,
            uid: sid.and_then(numeric_uid),
            user,
            unit: None,
            container: None,
        })
    }

    fn user(&mut self, uid: u32) -> Option<String> {
        let users = self.users.as_ref()?;
        users
            .iter()
            .find(|u| numeric_uid(u.id()) == Some(uid))
            .map(|u| u.name().to_owned())
    }

    fn interface(&mut self, _ifindex: u32) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::listening::OwnerStatus;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn only(protocol: Transport, port: u16) -> Query {
        Query {
            tcp: protocol == Transport::Tcp,
            udp: protocol == Transport::Udp,
            port: Some(port),
            netns: None,
        }
    }

    /// Real sockets of this test process, found through the crate and the adapter: a TCP
    /// listener with an accepted connection (only the listener is a row), a bound UDP socket,
    /// and a listener that was closed (gone).
    #[test]
    fn finds_this_process_sockets_and_only_listeners() {
        let me = std::process::id();
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let tport = tcp.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", tport)).unwrap();
        let (_served, _) = tcp.accept().unwrap();
        let cport = client.local_addr().unwrap().port();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let uport = udp.local_addr().unwrap().port();
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap().port();
        drop(closed);

        let l = listening(&only(Transport::Tcp, tport), || {}).unwrap();
        assert_eq!(l.listeners.len(), 1, "{l:#?}");
        let s = &l.listeners[0];
        assert_eq!(
            (s.protocol, s.address.to_string(), s.port),
            (Transport::Tcp, "127.0.0.1".to_owned(), tport)
        );
        assert_eq!(s.owner_status, OwnerStatus::Found);
        assert_eq!(s.owners.len(), 1);
        assert_eq!(s.owners[0].pid, me);
        assert!(s.owners[0].fds.is_empty());
        assert_eq!(s.inode, None);
        let p = s.owners[0].process.as_ref().unwrap();
        let exe = std::env::current_exe().unwrap();
        let exe_name = exe.file_name().unwrap().to_string_lossy().into_owned();
        // The name the system gives may be cut (comm: 15 characters); it is a prefix.
        assert!(exe_name.starts_with(&*p.name), "{} vs {exe_name}", p.name);
        assert_eq!(p.exe.as_deref(), Some(exe.to_string_lossy().as_ref()));
        assert_eq!(
            p.cmdline.first().map(String::as_str),
            std::env::args().next().as_deref()
        );
        let my_uid = rustix::process::getuid().as_raw();
        assert_eq!(p.uid, Some(my_uid));
        assert_eq!(s.uid, Some(my_uid));
        assert!(s.user.is_some() || my_uid != 0, "uid 0 has a name");

        // The connected client socket is not a listener, not even on its own port.
        assert!(
            listening(&only(Transport::Tcp, cport), || {})
                .unwrap()
                .listeners
                .is_empty()
        );
        // A closed listener is gone.
        assert!(
            listening(&only(Transport::Tcp, gone), || {})
                .unwrap()
                .listeners
                .is_empty()
        );

        let l = listening(&only(Transport::Udp, uport), || {}).unwrap();
        assert_eq!(l.listeners.len(), 1, "{l:#?}");
        assert_eq!(l.listeners[0].protocol, Transport::Udp);
        assert_eq!(l.listeners[0].owners[0].pid, me);
        // UDP was asked for only: the TCP listener is not there.
        assert!(
            listening(&only(Transport::Udp, tport), || {})
                .unwrap()
                .listeners
                .is_empty()
        );
        assert!(!l.limits.is_empty());
    }

    fn found(
        pid: u32,
        addr: &str,
        protocol: listeners::Protocol,
        state: listeners::SocketState,
    ) -> listeners::Listener {
        listeners::Listener {
            process: listeners::Process {
                pid,
                name: format!("p{pid}"),
                path: String::new(),
            },
            socket: addr.parse().unwrap(),
            protocol,
            state,
        }
    }

    /// What the system reports, grouped: a socket two processes hold is one row with both;
    /// connections, unbound UDP and unwanted protocols or ports are left out.
    #[test]
    fn grouping_keeps_listeners_and_every_owner() {
        use listeners::Protocol::{TCP, UDP};
        use listeners::SocketState::{Established, Listen, Unknown};
        let reported = vec![
            found(20, "0.0.0.0:797", TCP, Listen),
            found(10, "0.0.0.0:797", TCP, Listen),
            found(10, "0.0.0.0:797", TCP, Listen),
            found(10, "[::]:797", TCP, Listen),
            found(11, "10.0.0.1:50000", TCP, Established),
            found(12, "0.0.0.0:0", UDP, Unknown),
            found(13, "127.0.0.1:770", UDP, Unknown),
        ];
        let g = group(reported.clone(), &Query::default());
        let rows: Vec<(Transport, String, Vec<u32>)> = g
            .iter()
            .map(|((t, a), o)| (*t, a.to_string(), o.iter().map(|(p, _)| *p).collect()))
            .collect();
        assert_eq!(
            rows,
            [
                (Transport::Tcp, "0.0.0.0:797".to_owned(), vec![20, 10]),
                (Transport::Tcp, "[::]:797".to_owned(), vec![10]),
                (Transport::Udp, "127.0.0.1:770".to_owned(), vec![13]),
            ]
        );
        let udp_770 = Query {
            tcp: false,
            port: Some(770),
            ..Query::default()
        };
        assert_eq!(group(reported.clone(), &udp_770).len(), 1);
        let tcp_only = Query {
            udp: false,
            ..Query::default()
        };
        assert_eq!(group(reported, &tcp_only).len(), 2);
    }

    #[test]
    fn netns_is_refused_with_a_reason() {
        let q = Query {
            netns: Some("/run/netns/x".into()),
            ..Query::default()
        };
        let err = listening(&q, || {}).unwrap_err();
        assert!(err.to_string().contains("Linux feature"), "{err}");
    }

    #[test]
    fn limits_say_root_only_where_it_matters() {
        assert_eq!(limits("macOS", false).len(), 2);
        assert!(limits("macOS", false)[0].contains("sudo"));
        assert_eq!(limits("macOS", true).len(), 1);
        assert_eq!(limits("Windows", false).len(), 1);
    }
}
