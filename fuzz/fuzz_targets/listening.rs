//! A listening snapshot from the kernel's side: a sock_diag dump datagram (as the netlink
//! socket returns it) and the `/proc` texts a listing reads (status, cmdline, cgroup,
//! mountinfo, passwd, fd links, sysctls), assembled into the report `portent listening`
//! prints. The input: the datagram's length (2 bytes, little-endian), the datagram, then the
//! texts separated by NUL NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_local::listening::{
    self, Details, FdScan, Process, Transport, assemble, cgroup, names,
};
use portent_local::meaning::{Filter, Report};
use portent_registry::Registry;
use portent_registry::report::HostFacts;
use std::sync::LazyLock;

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::embedded);

/// Process details made from the fuzzer's texts, through the parsers a real listing uses.
struct Texts<'a> {
    sections: &'a [&'a [u8]],
}

impl Details for Texts<'_> {
    fn process(&mut self, pid: u32) -> Option<Process> {
        let text =
            |i: usize| String::from_utf8_lossy(self.sections.get(i).copied().unwrap_or_default());
        if pid % 7 == 3 {
            return None; // exited
        }
        let cmdline = names::split_cmdline(self.sections.get(1).copied().unwrap_or_default());
        let exe = Some(text(2).into_owned());
        let place = cgroup::classify(&text(3));
        Some(Process {
            name: names::program_name(
                &text(2),
                exe.as_deref(),
                cmdline.first().map(String::as_str),
            )
            .into(),
            exe,
            cmdline,
            uid: portent_local::fuzzing::status_uid(&text(4)),
            user: None,
            unit: place.unit,
            container: place.container,
        })
    }
    fn user(&mut self, uid: u32) -> Option<String> {
        let text = String::from_utf8_lossy(self.sections.get(5).copied().unwrap_or_default());
        names::parse_passwd(&text).get(&uid).cloned()
    }
    fn interface(&mut self, ifindex: u32) -> Option<String> {
        (ifindex == 1).then(|| "lo".to_owned())
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((len, rest)) = input.split_first_chunk::<2>() else {
        return;
    };
    let (reply, texts) = rest.split_at(usize::from(u16::from_le_bytes(*len)).min(rest.len()));
    // Section 0 is the datagram, so the texts are numbered from 1.
    let mut sections: Vec<&[u8]> = vec![reply];
    sections.extend(texts.split_two(b"\0\0"));
    let mut raw = Vec::new();
    for transport in [Transport::Tcp, Transport::Udp] {
        if let Ok((sockets, _done)) = portent_local::fuzzing::sock_diag_datagram(reply, transport) {
            raw.extend(sockets);
        }
    }
    let mountinfo = String::from_utf8_lossy(sections.get(6).copied().unwrap_or_default());
    let hiding = listening::proc_mount_hidepid(&mountinfo)
        .map(|(mode, _gid)| listening::ProcHiding::Mount(mode));
    let links = sections.get(7).copied().unwrap_or_default();
    // Every second socket held by a pid from its inode, others closed or out of view.
    let mut scan = FdScan {
        hiding,
        ..FdScan::default()
    };
    for (i, s) in raw.iter().enumerate() {
        match i % 3 {
            0 => scan.holders.push((s.key, (s.key % 1000) as u32, i as u32)),
            1 => scan.closed.push(s.key),
            _ => {}
        }
    }
    for link in links.split(|&b| b == b'\n') {
        if let Some(inode) = names::socket_inode(link) {
            scan.holders.push((inode, 1, 0));
        }
    }
    let range = String::from_utf8_lossy(sections.get(8).copied().unwrap_or_default());
    let host = HostFacts {
        os: "linux",
        unprivileged_port_start: portent_local::host::parse_port(&range),
        ephemeral_range: portent_local::host::parse_range(&range),
    };
    let root = input.len().is_multiple_of(2);
    let n = raw.len();
    let listing = assemble(
        raw,
        scan,
        &mut Texts {
            sections: &sections,
        },
        root,
        None,
    );
    assert_eq!(listing.listeners.len(), n, "no socket is dropped");
    let report = Report::build(&listing, &REGISTRY, &host, &Filter::default());
    assert_eq!(report.sockets.len(), n);
    let _ = report.counts();
});

/// Splitting on a two-byte separator, which the standard library has no method for.
trait SplitTwo {
    fn split_two<'a>(&'a self, sep: &[u8; 2]) -> Vec<&'a [u8]>;
}

impl SplitTwo for [u8] {
    fn split_two<'a>(&'a self, sep: &[u8; 2]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = self;
        while let Some(i) = rest.windows(2).position(|w| w == sep) {
            out.push(&rest[..i]);
            rest = &rest[i + 2..];
        }
        out.push(rest);
        out
    }
}
