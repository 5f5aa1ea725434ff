//! ONC RPC (RFC 5531) over TCP: call encoding with record marking, bounds-checked reply
//! parsing, the portmapper DUMP (RFC 1833), version discovery by deliberately wrong versions,
//! and NetInfo's nibindd LISTREG. Our own program table, from the programs' public definitions.

use serde::{Deserialize, Serialize};

use crate::xdr::{XdrReader, XdrWriter};

/// Program number of the portmapper / rpcbind.
pub const PORTMAPPER: u32 = 100_000;
/// NetInfo's database server, netinfod (version 2).
pub const NETINFOD: u32 = 200_100_000;
/// NetInfo's binder, nibindd (version 1).
pub const NIBINDD: u32 = 200_100_001;
/// nibindd's procedure that lists registered domains (read-only).
pub const NIBIND_LISTREG: u32 = 4;

/// A version number no program uses, to make servers answer PROG_MISMATCH with their range.
pub const WRONG_VERSION: u32 = 0x7fff_fff0;

/// One entry of our program table.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    pub number: u32,
    /// The service name we report (IANA-style where one exists).
    pub service: &'static str,
    /// A human product name.
    pub product: &'static str,
}

/// Programs we know by number. Probed in this order after the ones the registry expects.
pub const PROGRAMS: &[Program] = &[
    Program {
        number: NETINFOD,
        service: "netinfo",
        product: "NetInfo netinfod",
    },
    Program {
        number: NIBINDD,
        service: "nibind",
        product: "NetInfo nibindd",
    },
    Program {
        number: PORTMAPPER,
        service: "rpcbind",
        product: "portmapper",
    },
    Program {
        number: 100_003,
        service: "nfs",
        product: "NFS",
    },
    Program {
        number: 100_005,
        service: "mountd",
        product: "NFS mountd",
    },
    Program {
        number: 100_021,
        service: "nlockmgr",
        product: "NFS lock manager",
    },
    Program {
        number: 100_024,
        service: "status",
        product: "NFS status monitor",
    },
    Program {
        number: 100_227,
        service: "nfs_acl",
        product: "NFS ACL",
    },
    Program {
        number: 100_011,
        service: "rquotad",
        product: "rquotad",
    },
    Program {
        number: 100_004,
        service: "ypserv",
        product: "NIS ypserv",
    },
    Program {
        number: 100_007,
        service: "ypbind",
        product: "NIS ypbind",
    },
    Program {
        number: 100_009,
        service: "yppasswdd",
        product: "NIS yppasswdd",
    },
    Program {
        number: 100_001,
        service: "rstatd",
        product: "rstatd",
    },
    Program {
        number: 100_002,
        service: "rusersd",
        product: "rusersd",
    },
    Program {
        number: 100_008,
        service: "walld",
        product: "rwalld",
    },
];

/// Looks a program up in our table.
pub fn program(number: u32) -> Option<&'static Program> {
    PROGRAMS.iter().find(|p| p.number == number)
}

/// An RPC CALL with AUTH_NONE credentials, wrapped in one last TCP record fragment.
pub fn call(xid: u32, prog: u32, vers: u32, procedure: u32, args: &[u8]) -> Vec<u8> {
    let mut w = XdrWriter::new();
    w.u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(procedure);
    w.u32(0).u32(0); // cred: AUTH_NONE, empty
    w.u32(0).u32(0); // verf: AUTH_NONE, empty
    let mut body = w.into_bytes();
    body.extend_from_slice(args);
    let mark = 0x8000_0000u32 | u32::try_from(body.len()).unwrap_or(0x7fff_ffff);
    let mut out = mark.to_be_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// Joins the record fragments at the start of `data`. `None` while the record is incomplete
/// or malformed (a fragment longer than `max`).
pub fn record(data: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let h = data.get(pos..pos.checked_add(4)?)?;
        let mark = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let len = usize::try_from(mark & 0x7fff_ffff).ok()?;
        if len > max || out.len() + len > max {
            return None;
        }
        let body = data.get(pos + 4..pos + 4 + len)?;
        out.extend_from_slice(body);
        pos += 4 + len;
        if mark & 0x8000_0000 != 0 {
            return Some(out);
        }
    }
}

/// Whether `data` holds a whole record, or a first fragment header that is not plausibly RPC
/// (then waiting for more is pointless).
pub fn record_complete(data: &[u8]) -> bool {
    record(data, MAX_RECORD).is_some()
        || data.len() >= 4
            && (u32::from_be_bytes([data[0], data[1], data[2], data[3]]) & 0x7fff_ffff) as usize
                > MAX_RECORD
}

/// Largest record we accept.
pub const MAX_RECORD: usize = 64 * 1024;

/// What an RPC server said to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reply {
    /// SUCCESS; the procedure's results follow.
    Success {
        results: Vec<u8>,
    },
    ProgUnavail,
    ProgMismatch {
        low: u32,
        high: u32,
    },
    ProcUnavail,
    GarbageArgs,
    SystemErr,
    /// MSG_DENIED with RPC_MISMATCH (the server speaks another RPC version).
    RpcMismatch {
        low: u32,
        high: u32,
    },
    /// MSG_DENIED with AUTH_ERROR.
    AuthError {
        stat: u32,
    },
}

/// Parses a reply record body (no record mark). `None` unless it is a well-formed reply to `xid`.
pub fn parse_reply(body: &[u8], xid: u32) -> Option<Reply> {
    let mut r = XdrReader::new(body);
    if r.u32()? != xid || r.u32()? != 1 {
        return None;
    }
    match r.u32()? {
        0 => {
            let _flavor = r.u32()?;
            r.opaque(400)?;
            Some(match r.u32()? {
                0 => {
                    let rest = body.len() - r.remaining();
                    Reply::Success {
                        results: body.get(rest..)?.to_vec(),
                    }
                }
                1 => Reply::ProgUnavail,
                2 => Reply::ProgMismatch {
                    low: r.u32()?,
                    high: r.u32()?,
                },
                3 => Reply::ProcUnavail,
                4 => Reply::GarbageArgs,
                5 => Reply::SystemErr,
                _ => return None,
            })
        }
        1 => match r.u32()? {
            0 => Some(Reply::RpcMismatch {
                low: r.u32()?,
                high: r.u32()?,
            }),
            1 => Some(Reply::AuthError { stat: r.u32()? }),
            _ => None,
        },
        _ => None,
    }
}

/// One portmapper mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub program: u32,
    pub version: u32,
    /// "tcp", "udp" or the protocol number.
    pub protocol: String,
    pub port: u32,
    /// Our name for the program, when we know it.
    pub name: Option<String>,
}

/// Parses the results of PMAPPROC_DUMP (a linked list of mappings), at most `max` entries.
pub fn parse_dump(results: &[u8], max: usize) -> Option<Vec<Mapping>> {
    let mut r = XdrReader::new(results);
    let mut out = Vec::new();
    while r.u32()? == 1 {
        if out.len() >= max {
            break;
        }
        let (program, version, prot, port) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let protocol = match prot {
            6 => "tcp".to_string(),
            17 => "udp".to_string(),
            n => n.to_string(),
        };
        let name = program_name(program);
        out.push(Mapping {
            program,
            version,
            protocol,
            port,
            name,
        });
    }
    Some(out)
}

fn program_name(n: u32) -> Option<String> {
    program(n).map(|p| p.service.to_string())
}

/// A domain nibindd serves: its tag and netinfod's ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInfoDomain {
    pub tag: String,
    pub tcp_port: u32,
    pub udp_port: u32,
}

/// Parses NIBIND_LISTREG results: an ni_status, then (when 0, NI_OK) an array of
/// registrations { tag string, tcp port, udp port }. At most `max` entries; tags escaped.
pub fn parse_listreg(results: &[u8], max: usize) -> Option<Vec<NetInfoDomain>> {
    let mut r = XdrReader::new(results);
    if r.u32()? != 0 {
        return Some(Vec::new());
    }
    let n = r.u32()?;
    let mut out = Vec::new();
    for _ in 0..n {
        if out.len() >= max {
            break;
        }
        let tag = crate::escape::escape_bytes(r.opaque(1024)?, 128);
        out.push(NetInfoDomain {
            tag,
            tcp_port: r.u32()?,
            udp_port: r.u32()?,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_layout() {
        let c = call(0x1234, NETINFOD, 2, 0, &[]);
        assert_eq!(&c[..4], &[0x80, 0, 0, 40]);
        assert_eq!(c.len(), 44);
        let body = record(&c, MAX_RECORD).unwrap();
        assert_eq!(&body[12..16], &NETINFOD.to_be_bytes());
    }

    #[test]
    fn mismatch_reply() {
        let mut w = XdrWriter::new();
        w.u32(9).u32(1).u32(0).u32(0).u32(0).u32(2).u32(2).u32(2);
        assert_eq!(
            parse_reply(&w.into_bytes(), 9),
            Some(Reply::ProgMismatch { low: 2, high: 2 })
        );
    }
}
