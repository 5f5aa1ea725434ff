//! Systems other than Linux. The signature matches `linux.rs`; the answer is a typed error that
//! names the platform's own tool, so the CLI can say something useful.
//!
//! macOS (`proc_pidinfo`/`proc_pidfdinfo` via libproc), FreeBSD (`sysctl net.inet.tcp.pcblist`
//! plus `kern.file`) and Windows (`GetExtendedTcpTable`/`GetExtendedUdpTable` with
//! `*_OWNER_PID`) are the APIs a port would use; none is wired up yet.

use super::{Error, Listing, Query};

pub fn listening(_query: &Query) -> Result<Listing, Error> {
    let (os, hint) = match std::env::consts::OS {
        "macos" => (
            "macOS",
            "`lsof -nP -iTCP -sTCP:LISTEN` or `netstat -anv -p tcp`",
        ),
        "windows" => (
            "Windows",
            "`netstat -ano` or `Get-NetTCPConnection -State Listen`",
        ),
        "freebsd" => ("FreeBSD", "`sockstat -4 -6 -l`"),
        other => (other, "the platform's netstat or lsof"),
    };
    Err(Error::Unsupported { os, hint })
}
