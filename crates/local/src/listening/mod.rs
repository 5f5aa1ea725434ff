//! Which sockets listen on this machine, and which processes own them.
//!
//! One function, [`listening`], with one implementation per operating system chosen by `cfg`
//! (`linux.rs`; `portable.rs` on macOS, Windows and the BSDs). Every implementation returns the same plain data,
//! and the OS-independent part (joining sockets to owners, deciding what could not be seen) is
//! [`assemble`], which the tests drive with fakes.
//!
//! Unlike `ss`/`netstat`, nothing is dropped silently: a socket whose owner could not be read
//! is kept with its uid and a reason ([`OwnerStatus`]), and every process whose file
//! descriptors could not be read is listed in [`Listing::hidden`]. Processes that `/proc` does
//! not show at all (mounted with `hidepid=`, or seen missing: see [`ProcHiding`]) cannot be
//! listed one by one; the listing then says so in [`Listing::limits`]. A socket that closed
//! while it was being listed (its owner exited) is kept too, as [`OwnerStatus::Exited`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use smallvec::SmallVec;

pub mod cgroup;
pub mod names;

#[cfg(target_os = "linux")]
pub(crate) mod linux;
#[cfg(target_os = "linux")]
use linux as sys;

#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(not(target_os = "linux"))]
use portable as sys;

// The non-Linux module, compiled and tested on Linux too (CI runs Linux only): its crate has a
// Linux backend, so the adapter is checked against real sockets here.
#[cfg(all(test, target_os = "linux"))]
#[path = "portable.rs"]
mod portable_on_linux;

/// A transport protocol portent lists sockets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// The registry's protocol for this transport.
    pub fn protocol(self) -> portent_registry::Protocol {
        match self {
            Transport::Tcp => portent_registry::Protocol::Tcp,
            Transport::Udp => portent_registry::Protocol::Udp,
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to ask the kernel for. `Query::default()` is every listening TCP socket and every
/// bound, unconnected UDP socket, IPv4 and IPv6, in portent's own network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Listening TCP sockets.
    pub tcp: bool,
    /// Bound, unconnected UDP sockets.
    pub udp: bool,
    /// Only sockets bound to this port. Applied before owners are looked up, so a query for
    /// one port with no listener costs one netlink dump and no `/proc` scan.
    pub port: Option<u16>,
    /// Look inside this network namespace (a path such as `/run/netns/blue` or
    /// `/proc/PID/ns/net`) instead of portent's own. Linux only; needs CAP_SYS_ADMIN.
    pub netns: Option<PathBuf>,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            tcp: true,
            udp: true,
            port: None,
            netns: None,
        }
    }
}

/// Everything found: the sockets, and what could not be seen.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    /// Sorted by port, then protocol, then address.
    pub listeners: Vec<Listener>,
    /// Processes whose open files could not be read; owners among them are unknown.
    pub hidden: Vec<Hidden>,
    /// Whether portent ran with effective uid 0.
    pub root: bool,
    /// The network namespace looked into, when not portent's own.
    pub netns: Option<String>,
    /// What this platform cannot show, as plain sentences (e.g. other users' sockets on macOS
    /// without root); the report adds them to its notes and is not complete when there is
    /// one. On Linux what is missing is listed per process in `hidden`, and this holds only
    /// what cannot be listed that way: processes `/proc` does not show ([`ProcHiding`]).
    pub limits: Vec<String>,
    /// The port settings (ephemeral range, unprivileged start) of the namespace looked into,
    /// read there: they are per namespace. `None` for portent's own; use [`crate::host::facts`].
    #[serde(skip)]
    pub netns_facts: Option<portent_registry::report::HostFacts>,
}

/// One listening TCP socket or bound, unconnected UDP socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listener {
    pub protocol: Transport,
    /// Local address; `0.0.0.0` or `::` for a wildcard.
    pub address: IpAddr,
    pub port: u16,
    /// IPv6 sockets: whether IPV6_V6ONLY is set. A `[::]` socket without it also serves IPv4
    /// (dual stack). `None` for IPv4 sockets.
    pub v6only: Option<bool>,
    /// The device the socket is bound to (SO_BINDTODEVICE), if any.
    pub interface: Option<String>,
    /// The socket's inode number (what `/proc/PID/fd/N -> socket:[INODE]` names). Linux only;
    /// `None` on systems whose socket tables do not give one.
    pub inode: Option<u64>,
    /// The uid that created the socket, as the kernel reports it on Linux. Elsewhere the first
    /// owner's uid, or `None` (Windows, or no owner seen).
    pub uid: Option<u32>,
    /// `uid` as a user name, when the password database has one.
    pub user: Option<Arc<str>>,
    /// Every process holding the socket open (fork, SO_REUSEPORT, passed descriptors), by pid.
    pub owners: SmallVec<[Owner; 1]>,
    pub owner_status: OwnerStatus,
}

impl Listener {
    /// Whether a `[::]` socket also accepts IPv4 (IPV6_V6ONLY off).
    pub fn dual_stack(&self) -> bool {
        self.v6only == Some(false) && self.address.is_unspecified()
    }

    /// Who the socket belongs to, for a table cell: the user name, else the uid, else `-`.
    pub fn user_label(&self) -> String {
        match (&self.user, self.uid) {
            (Some(name), _) => name.to_string(),
            (None, Some(uid)) => uid.to_string(),
            (None, None) => "-".to_owned(),
        }
    }

    /// Whether the socket is reachable from other machines: bound to a wildcard or to a
    /// non-loopback address (an IPv4-mapped loopback address counts as loopback), and not
    /// tied to the loopback device (SO_BINDTODEVICE lo: Linux names it `lo` in every
    /// namespace).
    pub fn exposed(&self) -> bool {
        if self.interface.as_deref() == Some("lo") {
            return false;
        }
        match self.address {
            IpAddr::V4(a) => !a.is_loopback(),
            IpAddr::V6(a) => {
                !(a.is_loopback() || a.to_ipv4_mapped().is_some_and(|m| m.is_loopback()))
            }
        }
    }
}

/// Whether a socket's owners are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerStatus {
    /// At least one owning process was found (see [`Listener::owners`]).
    Found,
    /// No owner was found, and some processes' descriptors could not be read: the owner is
    /// probably among them (another user's process when not root; hidepid or a container
    /// even as root).
    Hidden,
    /// Every process in view was read and none holds the socket: a kernel socket (NFS, ...)
    /// or a process in another PID namespace.
    None,
    /// No process held the socket, and it was gone by the end of the listing: its owner
    /// exited (or closed it) while portent looked. Linux only.
    Exited,
}

/// A process holding a socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub pid: u32,
    /// The descriptor numbers referring to the socket in this process; empty where the
    /// platform does not say (everywhere but Linux).
    pub fds: SmallVec<[u32; 2]>,
    /// `None` when the process exited between the socket dump and reading its details.
    /// Shared: a process holding 10,000 sockets is read, and stored, once.
    pub process: Option<Arc<Process>>,
}

/// Facts about an owning process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Process {
    /// The full program name (not the 15-character `comm`): see [`names::program_name`].
    pub name: Arc<str>,
    /// The executable's path, when readable.
    pub exe: Option<String>,
    /// The command line, one string per argument; empty for kernel threads.
    pub cmdline: Vec<String>,
    /// The process's effective uid.
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// The systemd unit (service or scope) the cgroup path names.
    pub unit: Option<String>,
    /// The container the cgroup path names (`docker:0123456789ab`, `podman:...`, ...).
    pub container: Option<String>,
}

impl Process {
    /// The executable's path when the command line does not account for it: the file was
    /// deleted after the process started, or no word of the command line names it (a
    /// program started under another name with `exec -a`, a classic disguise). Daemons that
    /// rewrite their title (`sshd: /usr/sbin/sshd -D`) and interpreters reached through a
    /// link (`python3` running `python3.11`) still name it, and are not flagged.
    pub fn unexplained_exe(&self) -> Option<&str> {
        let exe = self.exe.as_deref()?;
        if exe.ends_with(" (deleted)") {
            return Some(exe);
        }
        let base = exe.rsplit('/').next().unwrap_or(exe);
        if base.is_empty() {
            return None;
        }
        let named = self
            .cmdline
            .iter()
            .flat_map(|a| a.split([' ', '/', ':']))
            .any(|w| w == base || (w.len() >= 3 && (base.starts_with(w) || w.starts_with(base))));
        (!named && !self.cmdline.is_empty()).then_some(exe)
    }
}

/// A process whose file descriptors could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hidden {
    pub pid: u32,
    /// The owner of `/proc/PID`, when that could be read.
    pub uid: Option<u32>,
    /// Why: "permission denied", or the error the kernel gave.
    pub reason: String,
}

/// Why the sockets could not be listed at all. Each message names the operation and says
/// the OS error itself (the error is not chained, so it is printed once).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open a sock_diag netlink socket: {0}")]
    Netlink(std::io::Error),
    #[error("the kernel refused the {what} socket dump: {err}")]
    Dump {
        what: &'static str,
        err: std::io::Error,
    },
    #[error("malformed sock_diag reply to the {what} dump: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("cannot read /proc: {0}")]
    Proc(std::io::Error),
    #[error("cannot enter network namespace {path}: {err}")]
    Netns { path: PathBuf, err: std::io::Error },
    /// The namespace path is not a regular file (a FIFO, a device, a directory): refused
    /// before it is opened for setns.
    #[error("{0}")]
    NetnsFile(portent_input::InputError),
    #[error("cannot list sockets on {os}: {detail}")]
    Platform { os: &'static str, detail: String },
}

/// Lists listening sockets and their owners as `query` asks.
pub fn listening(query: &Query) -> Result<Listing, Error> {
    sys::listening(query, || {})
}

/// [`listening`], with `after_dump` run between reading the socket table and looking for the
/// owners: the tests use it to make an owner exit at exactly that moment.
#[doc(hidden)]
pub fn listening_with_pause(query: &Query, after_dump: impl FnOnce()) -> Result<Listing, Error> {
    sys::listening(query, after_dump)
}

/// A `/proc` that does not show every process to portent, so that an unowned socket may be
/// held by a process it cannot see. Never set for root, which `hidepid=` does not restrict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcHiding {
    /// `/proc` is mounted with this `hidepid=` mode, and portent is neither root nor in the
    /// mount's exempt group (`gid=`).
    Mount(HidePid),
    /// The mount options do not say so, but no process of another user is in view while a
    /// socket of another user has no owner (a `/proc` of another PID namespace, or hidepid
    /// on a mount portent cannot see the options of).
    Inferred,
}

/// The non-default `hidepid=` modes of a `/proc` mount (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HidePid {
    /// `hidepid=1`: other users' `/proc/PID` directories are listed but cannot be read.
    NoAccess,
    /// `hidepid=2`: other users' processes are not listed at all.
    Invisible,
    /// `hidepid=4`: only processes portent could trace are listed.
    Ptraceable,
}

impl HidePid {
    /// Parses the value of a `hidepid=` mount option: the kernel shows the name since
    /// Linux 5.8 and the number before. `None` for `0`/`off` and for values it does not know.
    pub fn parse(value: &str) -> Option<HidePid> {
        match value {
            "1" | "noaccess" => Some(HidePid::NoAccess),
            "2" | "invisible" => Some(HidePid::Invisible),
            "4" | "ptraceable" => Some(HidePid::Ptraceable),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HidePid::NoAccess => "noaccess",
            HidePid::Invisible => "invisible",
            HidePid::Ptraceable => "ptraceable",
        }
    }
}

impl ProcHiding {
    /// The sentence for [`Listing::limits`].
    pub fn sentence(self) -> String {
        let run_as_root = "run as root to see owners of other users' sockets";
        match self {
            ProcHiding::Mount(HidePid::NoAccess) => format!(
                "/proc is mounted with hidepid=noaccess, so other users' processes cannot be \
                 read by a non-root user: {run_as_root}"
            ),
            ProcHiding::Mount(HidePid::Invisible) => format!(
                "/proc is mounted with hidepid=invisible, which hides other users' processes \
                 from a non-root user: {run_as_root}"
            ),
            ProcHiding::Mount(HidePid::Ptraceable) => format!(
                "/proc is mounted with hidepid=ptraceable, which hides every process portent \
                 may not trace: {run_as_root}"
            ),
            ProcHiding::Inferred => format!(
                "no process of another user is visible in /proc (hidepid, or a /proc of another \
                 PID namespace), yet other users' sockets have no owner: {run_as_root}"
            ),
        }
    }
}

/// The `hidepid=` mode and exempt group (`gid=`) of the `/proc` mount, from the text of
/// `/proc/self/mountinfo` (proc(5)). When several mounts sit on `/proc`, the last one listed
/// is the one on top, the one a path under `/proc` reaches.
pub fn proc_mount_hidepid(mountinfo: &str) -> Option<(HidePid, Option<u32>)> {
    let mut found = None;
    for line in mountinfo.lines() {
        // ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS
        let Some((mount, fs)) = line.split_once(" - ") else {
            continue;
        };
        if mount.split(' ').nth(4) != Some("/proc") {
            continue;
        }
        let mut fs = fs.split(' ');
        if fs.next() != Some("proc") {
            found = None; // something else mounted over /proc
            continue;
        }
        let options = fs.nth(1).unwrap_or_default();
        let mut hidepid = None;
        let mut gid = None;
        for option in options.split(',') {
            if let Some(v) = option.strip_prefix("hidepid=") {
                hidepid = HidePid::parse(v);
            } else if let Some(v) = option.strip_prefix("gid=") {
                gid = v.parse().ok();
            }
        }
        found = hidepid.map(|h| (h, gid));
    }
    found
}

/// Whether processes out of view may hold the unowned sockets, when the mount options did not
/// say so: portent is not root, every process it saw was readable, and a socket created by
/// another uid has no owner and was still open at the end. On an ordinary system a non-root
/// reader sees other users' processes (and cannot read them, so they are in
/// [`FdScan::hidden`]); seeing none means they are hidden from it.
pub fn others_out_of_view(raw: &[RawSocket], scan: &FdScan, euid: u32, root: bool) -> bool {
    if root || !scan.hidden.is_empty() {
        return false;
    }
    let mut held: Vec<u64> = scan.holders.iter().map(|h| h.0).collect();
    held.sort_unstable();
    raw.iter().any(|s| {
        s.uid.is_some_and(|u| u != euid)
            && held.binary_search(&s.key).is_err()
            && !scan.closed.contains(&s.key)
    })
}

/// A socket as the kernel's socket table gives it, before owners are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSocket {
    pub protocol: Transport,
    pub address: IpAddr,
    pub port: u16,
    pub v6only: Option<bool>,
    /// Bound device index; 0 for none.
    pub ifindex: u32,
    /// Joins the socket to [`FdScan::holders`]: the inode on Linux, a number the platform
    /// code assigns elsewhere.
    pub key: u64,
    /// Whether `key` is the socket's inode (reported) or only a join key (not reported).
    /// A flag, not a second `Option<u64>`: 10,000 of these are held while the listing is
    /// assembled, and the record stays 16 bytes smaller.
    pub key_is_inode: bool,
    pub uid: Option<u32>,
}

/// The fd of a holder whose descriptor number the platform does not give.
pub const NO_FD: u32 = u32::MAX;

/// What one pass over every process's descriptors found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdScan {
    /// (socket key, pid, fd) for every descriptor referring to a wanted socket; the fd is
    /// [`NO_FD`] where the platform does not name it (a sentinel rather than an `Option`,
    /// which would make each entry 24 bytes instead of 16). Flat, not a map of vectors:
    /// 10,000 sockets cost one allocation.
    pub holders: Vec<(u64, u32, u32)>,
    /// Processes whose descriptors could not be read.
    pub hidden: Vec<Hidden>,
    /// Keys of the sockets no process held that were gone when checked again after the pass:
    /// closed while portent looked, their owner exited ([`OwnerStatus::Exited`]).
    pub closed: Vec<u64>,
    /// Set when `/proc` may not show every process: then a socket without an owner is
    /// [`OwnerStatus::Hidden`] even when no process was unreadable.
    pub hiding: Option<ProcHiding>,
}

/// Details looked up once the owners are known. The Linux implementation reads `/proc` and
/// `/etc/passwd`; tests pass fakes.
pub trait Details {
    /// Facts about a process; `None` when it has exited.
    fn process(&mut self, pid: u32) -> Option<Process>;
    /// A user name for a uid.
    fn user(&mut self, uid: u32) -> Option<String>;
    /// A network interface name for an index.
    fn interface(&mut self, ifindex: u32) -> Option<String>;
}

/// Joins sockets to the processes holding them, and sorts the result.
pub fn assemble(
    mut raw: Vec<RawSocket>,
    scan: FdScan,
    details: &mut impl Details,
    root: bool,
    netns: Option<String>,
) -> Listing {
    // Sorted while the records are small.
    raw.sort_unstable_by(|a, b| {
        (a.port, a.protocol, a.address, a.key).cmp(&(b.port, b.protocol, b.address, b.key))
    });
    let mut holders = scan.holders;
    holders.sort_unstable();
    let mut closed = scan.closed;
    closed.sort_unstable();
    let out_of_view = !scan.hidden.is_empty() || scan.hiding.is_some();
    let mut processes: HashMap<u32, Option<Arc<Process>>> = HashMap::new();
    let mut users: HashMap<u32, Option<Arc<str>>> = HashMap::new();
    let listeners: Vec<Listener> = raw
        .into_iter()
        .map(|s| {
            let mut owners: SmallVec<[Owner; 1]> = SmallVec::new();
            let first = holders.partition_point(|h| h.0 < s.key);
            let held = holders
                .get(first..)
                .unwrap_or_default()
                .iter()
                .take_while(|h| h.0 == s.key);
            for &(_, pid, fd) in held {
                let fd = (fd != NO_FD).then_some(fd);
                if let Some(o) = owners.iter_mut().find(|o| o.pid == pid) {
                    o.fds.extend(fd);
                    continue;
                }
                let process = processes
                    .entry(pid)
                    .or_insert_with(|| details.process(pid).map(Arc::new))
                    .clone();
                owners.push(Owner {
                    pid,
                    fds: fd.into_iter().collect(),
                    process,
                });
            }
            owners.sort_by_key(|o| o.pid);
            let owner_status = if !owners.is_empty() {
                OwnerStatus::Found
            } else if closed.binary_search(&s.key).is_ok() {
                OwnerStatus::Exited
            } else if out_of_view {
                OwnerStatus::Hidden
            } else {
                OwnerStatus::None
            };
            Listener {
                protocol: s.protocol,
                address: s.address,
                port: s.port,
                v6only: s.v6only,
                interface: (s.ifindex != 0).then(|| {
                    details
                        .interface(s.ifindex)
                        .unwrap_or_else(|| format!("if{}", s.ifindex))
                }),
                inode: s.key_is_inode.then_some(s.key),
                uid: s.uid,
                user: s.uid.and_then(|uid| {
                    users
                        .entry(uid)
                        .or_insert_with(|| details.user(uid).map(Arc::from))
                        .clone()
                }),
                owners,
                owner_status,
            }
        })
        .collect();
    let mut hidden = scan.hidden;
    hidden.sort_by_key(|h| h.pid);
    Listing {
        listeners,
        hidden,
        root,
        netns,
        limits: scan.hiding.map(ProcHiding::sentence).into_iter().collect(),
        netns_facts: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    struct Fake;
    impl Details for Fake {
        fn process(&mut self, pid: u32) -> Option<Process> {
            // pid 3 "exited" before its details were read.
            (pid != 3).then(|| Process {
                name: format!("p{pid}").into(),
                uid: Some(1000),
                ..Process::default()
            })
        }
        fn user(&mut self, uid: u32) -> Option<String> {
            (uid == 0).then(|| "root".to_owned())
        }
        fn interface(&mut self, ifindex: u32) -> Option<String> {
            (ifindex == 2).then(|| "eth0".to_owned())
        }
    }

    fn raw(protocol: Transport, address: IpAddr, port: u16, inode: u64) -> RawSocket {
        RawSocket {
            protocol,
            address,
            port,
            v6only: address.is_ipv6().then_some(false),
            ifindex: 0,
            key: inode,
            key_is_inode: true,
            uid: Some(0),
        }
    }

    #[test]
    fn joins_sorts_and_keeps_unowned_sockets() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut sockets = vec![
            raw(Transport::Udp, any6, 53, 10),
            raw(Transport::Tcp, lo, 797, 11),
            raw(Transport::Tcp, any4, 53, 12),
            raw(Transport::Tcp, any4, 22, 13),
        ];
        sockets[0].ifindex = 2;
        // A forked server: two processes, and one of them holds two descriptors.
        let mut scan = FdScan {
            holders: vec![(13, 7, 3), (13, 5, 3), (11, 3, 4), (13, 7, 9)],
            ..FdScan::default()
        };
        let l = assemble(sockets, scan.clone(), &mut Fake, true, None);
        let keys: Vec<_> = l.listeners.iter().map(|s| (s.port, s.protocol)).collect();
        assert_eq!(
            keys,
            [
                (22, Transport::Tcp),
                (53, Transport::Tcp),
                (53, Transport::Udp),
                (797, Transport::Tcp)
            ]
        );
        let ssh = &l.listeners[0];
        assert_eq!(ssh.owners.len(), 2);
        assert_eq!((ssh.owners[0].pid, &ssh.owners[0].fds[..]), (5, &[3][..]));
        assert_eq!(
            (ssh.owners[1].pid, &ssh.owners[1].fds[..]),
            (7, &[3, 9][..])
        );
        assert_eq!(ssh.owner_status, OwnerStatus::Found);
        assert_eq!(ssh.user.as_deref(), Some("root"));
        // Exited between dump and details: kept, with its pid and no details.
        let ghost = &l.listeners[3];
        assert_eq!(ghost.owners[0].pid, 3);
        assert_eq!(ghost.owners[0].process, None);
        // Nobody holds it and nothing was hidden: None, not dropped.
        assert_eq!(l.listeners[1].owner_status, OwnerStatus::None);
        assert_eq!(l.listeners[2].interface.as_deref(), Some("eth0"));
        assert!(l.listeners[2].dual_stack());

        // With a hidden process, an unowned socket is Hidden instead.
        scan.hidden.push(Hidden {
            pid: 99,
            uid: Some(1000),
            reason: "permission denied".into(),
        });
        let l = assemble(
            vec![raw(Transport::Tcp, any4, 1, 1)],
            scan,
            &mut Fake,
            false,
            None,
        );
        assert_eq!(l.listeners[0].owner_status, OwnerStatus::Hidden);
        assert_eq!(l.hidden.len(), 1);
    }

    #[test]
    fn finding_6_hidepid_mount_options_are_read_from_mountinfo() {
        let plain = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                     27 1 8:1 / / rw - ext4 /dev/sda1 rw\n";
        assert_eq!(proc_mount_hidepid(plain), None);
        // A private namespace with a second proc mounted over the first: the last one counts.
        let stacked =
            format!("{plain}134 22 0:41 / /proc rw,relatime - proc proc rw,hidepid=invisible\n");
        assert_eq!(
            proc_mount_hidepid(&stacked),
            Some((HidePid::Invisible, None))
        );
        // Kernels before 5.8 show numbers; gid= names the group that sees everything.
        let old = "5 1 0:4 / /proc rw,nosuid shared:12 - proc proc rw,gid=27,hidepid=2\n";
        assert_eq!(
            proc_mount_hidepid(old),
            Some((HidePid::Invisible, Some(27)))
        );
        let noaccess = "5 1 0:4 / /proc rw - proc proc rw,hidepid=1\n";
        assert_eq!(
            proc_mount_hidepid(noaccess),
            Some((HidePid::NoAccess, None))
        );
        let ptraceable = "5 1 0:4 / /proc rw - proc none rw,hidepid=ptraceable,subset=pid\n";
        assert_eq!(
            proc_mount_hidepid(ptraceable),
            Some((HidePid::Ptraceable, None))
        );
        // hidepid under another path (a container's /proc seen from outside) is not ours,
        // and hidepid=off or a later plain mount on top means nothing is hidden.
        assert_eq!(
            proc_mount_hidepid("9 1 0:5 / /srv/c/proc rw - proc proc rw,hidepid=2\n"),
            None
        );
        let off = format!("{stacked}140 134 0:50 / /proc rw - proc proc rw,hidepid=off\n");
        assert_eq!(proc_mount_hidepid(&off), None);
        let tmpfs = format!("{stacked}141 134 0:51 / /proc rw - tmpfs none rw\n");
        assert_eq!(proc_mount_hidepid(&tmpfs), None);
        assert_eq!(proc_mount_hidepid(""), None);
        assert_eq!(proc_mount_hidepid("garbage - \n - - -\n/proc"), None);
    }

    #[test]
    fn finding_6_hidepid_unowned_sockets_of_other_users_mean_processes_out_of_view() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let mut mine = raw(Transport::Tcp, any4, 8080, 1);
        mine.uid = Some(1000);
        let roots = raw(Transport::Tcp, any4, 22, 2);
        let scan = FdScan {
            holders: vec![(1, 10, 3)],
            ..FdScan::default()
        };
        // Not root, nothing unreadable, root's socket without an owner: out of view.
        assert!(others_out_of_view(
            &[mine.clone(), roots.clone()],
            &scan,
            1000,
            false
        ));
        // Root sees every process; a reader that met unreadable processes lists them.
        assert!(!others_out_of_view(
            &[mine.clone(), roots.clone()],
            &scan,
            1000,
            true
        ));
        let mut unreadable = scan.clone();
        unreadable.hidden.push(Hidden {
            pid: 1,
            uid: Some(0),
            reason: "permission denied".into(),
        });
        assert!(!others_out_of_view(
            &[mine.clone(), roots.clone()],
            &unreadable,
            1000,
            false
        ));
        // Only our own sockets, or another user's that closed meanwhile: nothing to infer.
        assert!(!others_out_of_view(&[mine.clone()], &scan, 1000, false));
        let mut closed = scan.clone();
        closed.closed.push(2);
        assert!(!others_out_of_view(&[mine, roots], &closed, 1000, false));
    }

    #[test]
    fn finding_6_hidepid_and_exited_owners_in_the_assembled_listing() {
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let sockets = || {
            vec![
                raw(Transport::Tcp, any4, 22, 1),
                raw(Transport::Tcp, any4, 80, 2),
                raw(Transport::Tcp, any4, 443, 3),
            ]
        };
        // 22 has no owner in view, 80's owner exited before the pass, 443 is held.
        let scan = FdScan {
            holders: vec![(3, 5, 4)],
            closed: vec![2],
            ..FdScan::default()
        };
        let l = assemble(sockets(), scan.clone(), &mut Fake, false, None);
        let status: Vec<_> = l.listeners.iter().map(|s| s.owner_status).collect();
        assert_eq!(
            status,
            [OwnerStatus::None, OwnerStatus::Exited, OwnerStatus::Found]
        );
        assert!(l.limits.is_empty());

        // The same with /proc hiding other users' processes: 22 is hidden, and why is said.
        let hidden = FdScan {
            hiding: Some(ProcHiding::Mount(HidePid::Invisible)),
            ..scan
        };
        let l = assemble(sockets(), hidden, &mut Fake, false, None);
        let status: Vec<_> = l.listeners.iter().map(|s| s.owner_status).collect();
        assert_eq!(
            status,
            [OwnerStatus::Hidden, OwnerStatus::Exited, OwnerStatus::Found]
        );
        assert_eq!(
            l.limits,
            [
                "/proc is mounted with hidepid=invisible, which hides other users' processes \
              from a non-root user: run as root to see owners of other users' sockets"
            ]
        );
        let r = crate::meaning::Report::build(
            &l,
            &portent_registry::Registry::embedded(),
            &portent_registry::report::HostFacts::default(),
            &crate::meaning::Filter::default(),
        );
        assert!(!r.complete);
        assert_eq!(r.hidden_owners, 1);
        assert_eq!(
            r.notes,
            [
                "the owner of 1 socket is unknown; /proc is mounted with hidepid=invisible, \
                 which hides other users' processes from a non-root user: run as root to see \
                 owners of other users' sockets",
                "1 socket closed while it was being listed: its owner exited"
            ]
        );
    }

    #[test]
    fn exe_not_named_by_the_command_line_is_pointed_out() {
        let p = |exe: &str, cmd: &[&str]| Process {
            exe: Some(exe.to_owned()),
            cmdline: cmd.iter().map(|s| (*s).to_owned()).collect(),
            ..Process::default()
        };
        let shown = |exe: &str, cmd: &[&str]| p(exe, cmd).unexplained_exe().map(str::to_owned);
        assert_eq!(
            shown("/usr/sbin/sshd", &["sshd: /usr/sbin/sshd -D [listener]"]),
            None
        );
        assert_eq!(
            shown("/usr/bin/python3.11", &["/usr/bin/python3", "x.py"]),
            None
        );
        assert_eq!(
            shown("/usr/sbin/nginx", &["nginx: master process nginx"]),
            None
        );
        assert_eq!(
            shown("/tmp/.x/miner", &["m", "[kworker/0:1]"]).as_deref(),
            Some("/tmp/.x/miner")
        );
        assert_eq!(
            shown("/usr/bin/nc (deleted)", &["nc", "-l", "797"]).as_deref(),
            Some("/usr/bin/nc (deleted)")
        );
        // Kernel threads have no command line and no exe: nothing to say.
        assert_eq!(Process::default().unexplained_exe(), None);
    }

    #[test]
    fn exposure() {
        let l = |a: &str| Listener {
            protocol: Transport::Tcp,
            address: a.parse().unwrap(),
            port: 1,
            v6only: None,
            interface: None,
            inode: Some(1),
            uid: Some(0),
            user: None,
            owners: SmallVec::new(),
            owner_status: OwnerStatus::None,
        };
        assert!(!l("127.0.0.1").exposed());
        assert!(!l("127.8.9.1").exposed());
        assert!(!l("::1").exposed());
        assert!(!l("::ffff:127.0.0.1").exposed());
        assert!(l("0.0.0.0").exposed());
        assert!(l("::").exposed());
        assert!(l("192.0.2.1").exposed());
        assert!(l("fe80::1").exposed());
        let mut on_lo = l("0.0.0.0");
        on_lo.interface = Some("lo".into());
        assert!(!on_lo.exposed());
        on_lo.interface = Some("eth0".into());
        assert!(on_lo.exposed());
    }
}
