//! ONC RPC replies over UDP, read with the TCP detector's RPC code (`crate::rpc`): the reply
//! must carry our xid. DUMP gives the portmapper's registrations, GETPORT proves a
//! portmapper, and a NULL call tells which program answers (success or PROG_MISMATCH with
//! its version range) or only that some RPC server does (PROG_UNAVAIL).

use super::{Identity, Reply, be32};
use crate::rpc::{self, Reply as RpcReply};
use crate::{RpcInfo, RpcProgram};

/// Most DUMP entries kept (a busy NFS server registers a few dozen).
const MAX_MAPPINGS: usize = 512;

/// The call we sent: xid, program, version, procedure.
fn call(sent: &[u8]) -> Option<(u32, u32, u32, u32)> {
    Some((
        be32(sent, 0)?,
        be32(sent, 12)?,
        be32(sent, 16)?,
        be32(sent, 20)?,
    ))
}

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let Some((xid, prog, vers, procedure)) = call(sent) else {
        return Reply::NotOurs;
    };
    let Some(answer) = rpc::parse_reply(reply, xid) else {
        return Reply::NotOurs;
    };
    let known = rpc::program(prog);
    let program = |low, high| RpcProgram {
        program: prog,
        name: known.map(|p| p.service.to_string()),
        low_version: low,
        high_version: high,
    };
    let named = |confidence: f32| {
        Identity::new(known.map_or("rpc", |p| p.service), confidence)
            .product(known.map(|p| p.product.to_string()))
    };
    let ident = match answer {
        RpcReply::Success { results } if prog == rpc::PORTMAPPER && procedure == 4 => {
            match rpc::parse_dump(&results, MAX_MAPPINGS) {
                Some(mappings) => {
                    let n = mappings.len();
                    let mut i = named(0.98).extra(Some(format!("{n} registrations")));
                    i.rpc = Some(RpcInfo {
                        programs: vec![program(vers, vers)],
                        mappings,
                        ..RpcInfo::default()
                    });
                    i
                }
                None => named(0.8).extra(Some("DUMP results malformed".to_string())),
            }
        }
        RpcReply::Success { results } if prog == rpc::PORTMAPPER && procedure == 3 => {
            let port = be32(&results, 0);
            let mut i =
                named(0.95).extra(port.map(|p| format!("GETPORT: the portmapper is on udp/{p}")));
            i.rpc = Some(RpcInfo {
                programs: vec![program(vers, vers)],
                ..RpcInfo::default()
            });
            i
        }
        RpcReply::Success { .. } => with_program(named(0.95), program(vers, vers), "NULL answered"),
        RpcReply::ProgMismatch { low, high } => with_program(
            named(0.9),
            program(low, high),
            &format!("versions {low} to {high}"),
        ),
        RpcReply::ProcUnavail | RpcReply::GarbageArgs | RpcReply::SystemErr => {
            with_program(named(0.85), program(vers, vers), &format!("{answer:?}"))
        }
        // The server is RPC but has not got this program (or refuses us): it says no more.
        RpcReply::ProgUnavail => {
            Identity::new("rpc", 0.6).extra(Some(format!("program {prog} unavailable here")))
        }
        RpcReply::RpcMismatch { low, high } => {
            Identity::new("rpc", 0.6).extra(Some(format!("RPC versions {low} to {high} only")))
        }
        RpcReply::AuthError { stat } => {
            Identity::new("rpc", 0.6).extra(Some(format!("authentication error {stat}")))
        }
    };
    Reply::Answer(ident)
}

fn with_program(mut ident: Identity, p: RpcProgram, note: &str) -> Identity {
    let label = p.name.clone().unwrap_or_else(|| p.program.to_string());
    ident.extra = Some(format!("program {} ({label}): {note}", p.program));
    ident.rpc = Some(RpcInfo {
        programs: vec![p],
        ..RpcInfo::default()
    });
    ident
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, hex, never_panics, sent};
    use super::*;
    use crate::xdr::XdrWriter;

    /// An accepted reply (RFC 5531 section 9) to `q` with `stat` and `rest`.
    fn accepted(q: &[u8], stat: u32, rest: &[u32]) -> Vec<u8> {
        let mut w = XdrWriter::new();
        w.u32(be32(q, 0).expect("xid"))
            .u32(1)
            .u32(0)
            .u32(0)
            .u32(0)
            .u32(stat);
        for v in rest {
            w.u32(*v);
        }
        w.into_bytes()
    }

    /// A DUMP reply built from RFC 1833: the portmapper alone, v4/3/2 on tcp and udp 111.
    fn dump(q: &[u8]) -> Vec<u8> {
        let mut rest = Vec::new();
        for (v, p) in [(4, 6), (3, 6), (2, 6), (4, 17), (3, 17), (2, 17)] {
            rest.extend_from_slice(&[1, 100_000, v, p, 111]);
        }
        rest.push(0);
        accepted(q, 0, &rest)
    }

    #[test]
    fn dump_lists_mappings() {
        let (_, q) = sent("rpc-portmap-dump");
        let i = answer("rpc-portmap-dump", &q, &dump(&q));
        assert_eq!(i.service, "rpcbind");
        let rpc = i.rpc.expect("rpc info");
        assert_eq!(rpc.mappings.len(), 6);
        assert_eq!(rpc.mappings[3].protocol, "udp");
        assert_eq!(rpc.mappings[3].port, 111);
    }

    #[test]
    fn getport_and_null_calls() {
        let (_, q) = sent("rpc-portmap-getport");
        let i = answer("rpc-portmap-getport", &q, &accepted(&q, 0, &[111]));
        assert_eq!(i.service, "rpcbind");
        assert_eq!(
            i.extra.as_deref(),
            Some("GETPORT: the portmapper is on udp/111")
        );

        let (_, q) = sent("rpc-null-nibindd");
        let i = answer("rpc-null-nibindd", &q, &accepted(&q, 0, &[]));
        assert_eq!(i.service, "nibind");
        let p = &i.rpc.expect("rpc").programs[0];
        assert_eq!(
            (p.program, p.low_version, p.high_version),
            (200_100_001, 1, 1)
        );

        let (_, q) = sent("rpc-null-nfs");
        let i = answer("rpc-null-nfs", &q, &accepted(&q, 2, &[3, 4]));
        assert_eq!(i.service, "nfs");
        let p = &i.rpc.expect("rpc").programs[0];
        assert_eq!((p.low_version, p.high_version), (3, 4));

        let (_, q) = sent("rpc-null-netinfod");
        let i = answer("rpc-null-netinfod", &q, &accepted(&q, 1, &[]));
        assert_eq!(i.service, "rpc");
        assert!(i.confidence < 0.9);
    }

    #[test]
    fn wrong_xid_or_a_call_is_not_ours() {
        let (p, q) = sent("rpc-portmap-dump");
        let mut r = dump(&q);
        r[0] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        assert_eq!(
            super::super::identify(&p, &q, &q),
            Reply::NotOurs,
            "a reflected call"
        );
        assert_eq!(super::super::identify(&p, &q, &hex("00")), Reply::NotOurs);
    }

    /// Captured from Debian 12's rpcbind 1.2.6-6+b1 (`rpcbind -f -w`, in a network
    /// namespace): DUMP, GETPORT, and a NULL call for NFS, which rpcbind does not have.
    #[test]
    fn captured_rpcbind() {
        let (_, q) = sent("rpc-portmap-dump");
        let r = hex(
            "a1c8cfb6000000010000000000000000000000000000000000000001000186a000000004000000060000006f00000001000186a000000003000000060000006f00000001000186a000000002000000060000006f00000001000186a000000004000000110000006f00000001000186a000000003000000110000006f00000001000186a000000002000000110000006f00000000",
        );
        let i = answer("rpc-portmap-dump", &q, &r);
        assert_eq!(i.rpc.expect("rpc").mappings.len(), 6);
        let (_, q) = sent("rpc-portmap-getport");
        let r = hex("a1c8cfb600000001000000000000000000000000000000000000006f");
        let i = answer("rpc-portmap-getport", &q, &r);
        assert_eq!(
            i.extra.as_deref(),
            Some("GETPORT: the portmapper is on udp/111")
        );
        let (_, q) = sent("rpc-null-nfs");
        let r = hex("a1c8cfb60000000100000000000000000000000000000001");
        let i = answer("rpc-null-nfs", &q, &r);
        assert_eq!(
            (i.service.as_str(), i.extra.as_deref()),
            ("rpc", Some("program 100003 unavailable here"))
        );
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("rpc-portmap-dump");
        never_panics("rpc-portmap-dump", &q, &dump(&q));
    }
}
