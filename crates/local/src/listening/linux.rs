//! Linux: the kernel's socket-diagnostics netlink interface (`sock_diag`, what `ss` uses) for
//! the sockets, then one pass over `/proc/*/fd` for socket inode -> process.
//!
//! Cost notes, because this is the part that is measured against `ss`:
//! - The kernel is asked for LISTEN (TCP) and CLOSE (unconnected UDP) states only. Asking for
//!   every state walks the whole connection table.
//! - A port filter is applied before the `/proc` pass, and no pass is made when no socket is
//!   left: `portent listening 797` on a quiet port costs four netlink dumps.
//! - The `/proc` pass is `getdents64` on each `/proc/PID/fd` into one reused buffer and one
//!   `readlinkat` per descriptor relative to that directory into a stack buffer: no path is
//!   built and nothing is allocated per descriptor. Details (`cmdline`, `exe`, `cgroup`,
//!   `status`) are read only for the processes that own a listed socket.
//! - Sockets no process holds are dumped once more after the pass (only then, and only the
//!   protocols concerned), to tell a socket whose owner exited meanwhile from one whose owner
//!   is out of view. Not as root, `/proc/self/mountinfo` is read for the `hidepid=` option
//!   that keeps other users' processes out of view.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags, nlas::Nla,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use rustix::fs::{AtFlags, CWD, Mode, OFlags, RawDir};
use rustix::io::Errno;

use super::names::{parse_passwd, program_name, socket_inode, split_cmdline};
use super::{
    Details, Error, FdScan, Hidden, Listing, ProcHiding, Process, Query, RawSocket, Transport,
    proc_mount_hidepid,
};

pub fn listening(query: &Query, after_dump: impl FnOnce()) -> Result<Listing, Error> {
    // The namespace's port settings are read there too: /proc/sys/net shows the values of
    // the reading thread's namespace.
    let (raw, netns_facts) = match &query.netns {
        None => (dump(query)?, None),
        Some(path) => in_netns(path, || Ok((dump(query)?, Some(crate::host::facts()))))?,
    };
    after_dump();
    let root = rustix::process::geteuid().is_root();
    let scan = if raw.is_empty() {
        FdScan::default()
    } else {
        let mut wanted: Vec<u64> = raw.iter().map(|s| s.key).collect();
        wanted.sort_unstable();
        let mut scan = scan_fds(&wanted)?;
        scan.closed = closed_since(query, &raw, &scan)?;
        scan.hiding = hiding(&raw, &scan, root);
        scan
    };
    let netns = query
        .netns
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let mut listing = super::assemble(raw, scan, &mut ProcDetails::default(), root, netns);
    listing.netns_facts = netns_facts;
    Ok(listing)
}

/// The sockets no process held that are gone from a second dump made after the `/proc`
/// pass: their owner exited (or closed them) in between. A socket still there was open the
/// whole time, so its holder was alive during the pass and is only out of view. The second
/// dump is made only when some socket has no owner, and only for the protocols concerned.
fn closed_since(query: &Query, raw: &[RawSocket], scan: &FdScan) -> Result<Vec<u64>, Error> {
    let mut held: Vec<u64> = scan.holders.iter().map(|h| h.0).collect();
    held.sort_unstable();
    let unowned: Vec<&RawSocket> = raw
        .iter()
        .filter(|s| held.binary_search(&s.key).is_err())
        .collect();
    if unowned.is_empty() {
        return Ok(Vec::new());
    }
    let again = Query {
        tcp: unowned.iter().any(|s| s.protocol == Transport::Tcp),
        udp: unowned.iter().any(|s| s.protocol == Transport::Udp),
        port: query.port,
        netns: None,
    };
    let present = match &query.netns {
        None => dump(&again)?,
        Some(path) => in_netns(path, || dump(&again))?,
    };
    let mut present: Vec<u64> = present.iter().map(|s| s.key).collect();
    present.sort_unstable();
    Ok(unowned
        .iter()
        .filter(|s| present.binary_search(&s.key).is_err())
        .map(|s| s.key)
        .collect())
}

/// Whether `/proc` keeps processes out of portent's view: its mount options (`hidepid=`,
/// unless portent is in the exempt group), else what the pass saw
/// ([`super::others_out_of_view`]). Root sees every process, whatever the options.
fn hiding(raw: &[RawSocket], scan: &FdScan, root: bool) -> Option<ProcHiding> {
    if root {
        return None;
    }
    if let Some((mode, gid)) = read_mountinfo().as_deref().and_then(proc_mount_hidepid) {
        let exempt = gid.is_some_and(|g| {
            let g = rustix::process::Gid::from_raw(g);
            rustix::process::getegid() == g
                || rustix::process::getgroups().is_ok_and(|groups| groups.contains(&g))
        });
        if !exempt {
            return Some(ProcHiding::Mount(mode));
        }
    }
    let euid = rustix::process::geteuid().as_raw();
    super::others_out_of_view(raw, scan, euid, root).then_some(ProcHiding::Inferred)
}

/// `/proc/self/mountinfo`, at most 16 MiB of it (a host with 100,000 mounts), or `None`.
fn read_mountinfo() -> Option<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open("/proc/self/mountinfo")
        .ok()?
        .take(16 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Runs `f` on a thread that has entered the network namespace at `path`. The namespace is
/// per thread, so portent's own stays as it was; the `/proc` pass afterwards sees every
/// process (socket inodes are unique across namespaces).
fn in_netns<T: Send>(path: &Path, f: impl FnOnce() -> Result<T, Error> + Send) -> Result<T, Error> {
    let err = |err: io::Error| Error::Netns {
        path: path.to_owned(),
        err,
    };
    // Through the shared checks: a FIFO or device named as a namespace is refused instead of
    // blocking in open(2); namespace files (nsfs) are regular empty files and pass.
    let file = portent_input::open(path, "network namespace").map_err(|e| match e {
        portent_input::InputError::Io { err: io, .. } => err(io),
        other => Error::NetnsFile(other),
    })?;
    std::thread::scope(|s| {
        s.spawn(|| {
            rustix::thread::move_into_link_name_space(
                file.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| err(e.into()))?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(err(io::Error::other("the namespace thread failed"))))
    })
}

/// The four dumps: TCP LISTEN and UDP unconnected, each for IPv4 and IPv6.
fn dump(query: &Query) -> Result<Vec<RawSocket>, Error> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG).map_err(Error::Netlink)?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(Error::Netlink)?;
    // The kernel fills at most about 32 KiB per datagram; a larger buffer never truncates.
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    let requests = [
        (Transport::Tcp, AF_INET, "tcp4"),
        (Transport::Tcp, AF_INET6, "tcp6"),
        (Transport::Udp, AF_INET, "udp4"),
        (Transport::Udp, AF_INET6, "udp6"),
    ];
    for (seq, (transport, family, what)) in (1u32..).zip(requests) {
        let wanted = match transport {
            Transport::Tcp => query.tcp,
            Transport::Udp => query.udp,
        };
        if wanted {
            dump_one(
                &mut socket,
                &mut buf,
                seq,
                transport,
                family,
                what,
                query.port,
                &mut out,
            )?;
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn dump_one(
    socket: &mut Socket,
    buf: &mut [u8],
    seq: u32,
    transport: Transport,
    family: u8,
    what: &'static str,
    port: Option<u16>,
    out: &mut Vec<RawSocket>,
) -> Result<(), Error> {
    let (protocol, states) = match transport {
        Transport::Tcp => (IPPROTO_TCP, StateFlags::LISTEN),
        // A UDP socket that has not connected(2) reports TCP_CLOSE: that is "listening".
        Transport::Udp => (IPPROTO_UDP, StateFlags::CLOSE),
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions: ExtensionFlags::empty(),
            states,
            socket_id: if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            },
        })
        .into(),
    );
    request.finalize();
    let mut bytes = vec![0u8; request.buffer_len()];
    request.serialize(&mut bytes);
    let dump_err = |err: io::Error| Error::Dump { what, err };
    socket.send(&bytes, 0).map_err(dump_err)?;

    loop {
        let n = loop {
            match socket.recv(&mut &mut buf[..], 0) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(dump_err(e)),
            }
        };
        let Some(chunk) = buf.get(..n) else {
            return Err(malformed(what, "reply longer than the buffer"));
        };
        if parse_datagram(chunk, seq, transport, what, port, out)? {
            return Ok(());
        }
    }
}

/// Parses one datagram of a sock_diag dump reply to request `seq`, adding the sockets on
/// `port` (every port when `None`) to `out`. `Ok(true)` when the datagram ends the dump.
/// The bytes come from the kernel, but are parsed as untrusted: a malformed reply is an
/// error, never a panic (`fuzz/` feeds this arbitrary bytes).
pub(crate) fn parse_datagram(
    mut chunk: &[u8],
    seq: u32,
    transport: Transport,
    what: &'static str,
    port: Option<u16>,
    out: &mut Vec<RawSocket>,
) -> Result<bool, Error> {
    if chunk.is_empty() {
        return Err(malformed(what, "empty reply"));
    }
    while !chunk.is_empty() {
        let msg = NetlinkMessage::<SockDiagMessage>::deserialize(chunk)
            .map_err(|e| malformed(what, &e.to_string()))?;
        let len = msg.header.length as usize;
        if len < 16 || len > chunk.len() {
            return Err(malformed(what, "bad message length"));
        }
        if msg.header.sequence_number != seq {
            // A stale reply to an earlier request: skip it.
            chunk = chunk.get(align4(len)..).unwrap_or_default();
            continue;
        }
        match msg.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                if let Some(s) = raw_socket(&r, transport)
                    && port.is_none_or(|p| p == s.port)
                {
                    out.push(s);
                }
            }
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(e) if e.code.is_some() => {
                return Err(Error::Dump {
                    what,
                    err: e.to_io(),
                });
            }
            _ => {}
        }
        chunk = chunk.get(align4(len)..).unwrap_or_default();
    }
    Ok(false)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn malformed(what: &'static str, detail: &str) -> Error {
    Error::Malformed {
        what,
        detail: detail.to_owned(),
    }
}

fn raw_socket(r: &InetResponse, transport: Transport) -> Option<RawSocket> {
    let id = &r.header.socket_id;
    let address: IpAddr = id.source_address;
    let v6only = address.is_ipv6().then(|| {
        r.nlas
            .iter()
            .find_map(|n| match n {
                Nla::SkV6Only(v) => Some(*v),
                _ => None,
            })
            .unwrap_or(false)
    });
    Some(RawSocket {
        protocol: transport,
        address,
        port: id.source_port,
        v6only,
        ifindex: id.interface_id,
        key: u64::from(r.header.inode),
        key_is_inode: true,
        uid: Some(r.header.uid),
    })
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// One pass over every process's descriptors, keeping only the sockets in `wanted`.
fn scan_fds(wanted: &[u64]) -> Result<FdScan, Error> {
    let proc_dir = rustix::fs::openat(CWD, "/proc", DIR_FLAGS, Mode::empty())
        .map_err(|e| Error::Proc(e.into()))?;
    let mut dirbuf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut pids: Vec<u32> = Vec::new();
    {
        let mut dir = RawDir::new(&proc_dir, dirbuf.spare_capacity_mut());
        while let Some(entry) = dir.next() {
            let entry = entry.map_err(|e| Error::Proc(e.into()))?;
            if let Some(pid) = parse_u32(entry.file_name().to_bytes()) {
                pids.push(pid);
            }
        }
    }
    let mut scan = FdScan::default();
    let mut path = String::with_capacity(24);
    for pid in pids {
        path.clear();
        let _ = write!(path, "{pid}/fd");
        let fd_dir = match rustix::fs::openat(&proc_dir, path.as_str(), DIR_FLAGS, Mode::empty()) {
            Ok(d) => d,
            // Exited since the listing: nothing to see, not an error.
            Err(Errno::NOENT | Errno::SRCH) => continue,
            Err(e) => {
                scan.hidden.push(hidden(&proc_dir, pid, e));
                continue;
            }
        };
        if let Err(e) = scan_one(&fd_dir, pid, wanted, &mut dirbuf, &mut scan) {
            scan.hidden.push(hidden(&proc_dir, pid, e));
        }
    }
    Ok(scan)
}

fn scan_one(
    fd_dir: &OwnedFd,
    pid: u32,
    wanted: &[u64],
    dirbuf: &mut Vec<u8>,
    scan: &mut FdScan,
) -> Result<(), Errno> {
    let mut link = [0u8; 64];
    let mut dir = RawDir::new(fd_dir, dirbuf.spare_capacity_mut());
    while let Some(entry) = dir.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(Errno::NOENT | Errno::SRCH) => return Ok(()),
            Err(e) => return Err(e),
        };
        let name = entry.file_name();
        let Some(fd) = parse_u32(name.to_bytes()) else {
            continue; // "." and ".."
        };
        match rustix::fs::readlinkat_raw(fd_dir, name, &mut link[..]) {
            Ok(n) => {
                if let Some(inode) = link.get(..n).and_then(socket_inode)
                    && wanted.binary_search(&inode).is_ok()
                {
                    scan.holders.push((inode, pid, fd));
                }
            }
            // Closed since the directory was read, or the process exited.
            Err(Errno::NOENT | Errno::SRCH) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn hidden(proc_dir: &OwnedFd, pid: u32, e: Errno) -> Hidden {
    let uid = rustix::fs::statat(proc_dir, pid.to_string(), AtFlags::empty())
        .ok()
        .map(|st| st.st_uid);
    let reason = if e == Errno::ACCESS || e == Errno::PERM {
        "permission denied".to_owned()
    } else {
        io::Error::from(e).to_string()
    };
    Hidden { pid, uid, reason }
}

fn parse_u32(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Reads `/proc/PID/*`, `/etc/passwd` and `/sys/class/net` on demand, each at most once.
#[derive(Debug, Default)]
struct ProcDetails {
    passwd: Option<HashMap<u32, String>>,
    interfaces: Option<HashMap<u32, String>>,
}

impl Details for ProcDetails {
    fn process(&mut self, pid: u32) -> Option<Process> {
        let base = format!("/proc/{pid}");
        // `comm` and `status` are readable for every process; failing to read them means
        // the process has exited.
        let comm = std::fs::read_to_string(format!("{base}/comm")).ok()?;
        let status = std::fs::read_to_string(format!("{base}/status")).ok()?;
        let uid = effective_uid(&status);
        let cmdline = std::fs::read(format!("{base}/cmdline"))
            .map(|b| split_cmdline(&b))
            .unwrap_or_default();
        let exe = std::fs::read_link(format!("{base}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let placement = std::fs::read_to_string(format!("{base}/cgroup"))
            .map(|t| super::cgroup::classify(&t))
            .unwrap_or_default();
        Some(Process {
            name: program_name(&comm, exe.as_deref(), cmdline.first().map(String::as_str)).into(),
            exe,
            cmdline,
            uid,
            user: uid.and_then(|u| self.user(u)),
            unit: placement.unit,
            container: placement.container,
        })
    }

    fn user(&mut self, uid: u32) -> Option<String> {
        self.passwd
            .get_or_insert_with(|| {
                std::fs::read_to_string("/etc/passwd")
                    .map(|t| parse_passwd(&t))
                    .unwrap_or_default()
            })
            .get(&uid)
            .cloned()
    }

    fn interface(&mut self, ifindex: u32) -> Option<String> {
        self.interfaces
            .get_or_insert_with(read_interfaces)
            .get(&ifindex)
            .cloned()
    }
}

/// The effective uid from `/proc/PID/status` (`Uid: real effective saved fs`).
pub(crate) fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn read_interfaces() -> HashMap<u32, String> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/sys/class/net") else {
        return map;
    };
    for entry in dir.flatten() {
        let index = std::fs::read_to_string(entry.path().join("ifindex"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        if let Some(i) = index {
            map.insert(i, entry.file_name().to_string_lossy().into_owned());
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_uid() {
        assert_eq!(
            effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\n"),
            Some(0)
        );
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"123"), Some(123));
        assert_eq!(parse_u32(b"."), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"99999999999"), None);
    }
}
