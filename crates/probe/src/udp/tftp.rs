//! TFTP (RFC 1350): our read request for a file that should not exist is answered with an
//! ERROR packet (opcode 5) or, if the file exists after all, DATA block 1 (opcode 3). The
//! server sends it from a new port (its transfer id), not from port 69: whoever receives for
//! the scan must accept it from the target's address on any port for this payload.

use super::{Identity, Reply, be16, text};

const ERRORS: [&str; 8] = [
    "not defined",
    "file not found",
    "access violation",
    "disk full",
    "illegal operation",
    "unknown transfer id",
    "file already exists",
    "no such user",
];

pub(super) fn identify(_sent: &[u8], reply: &[u8]) -> Reply {
    match be16(reply, 0) {
        Some(5) => {
            let Some(code) = be16(reply, 2) else {
                return Reply::NotOurs;
            };
            let msg = reply.get(4..).unwrap_or_default();
            // The message is NUL-terminated netascii; a reply without the NUL or with an
            // error code past RFC 2347's 8 is too unlike TFTP to claim.
            let Some(end) = msg.iter().position(|b| *b == 0) else {
                return Reply::NotOurs;
            };
            if code > 8 {
                return Reply::NotOurs;
            }
            let meaning = ERRORS
                .get(usize::from(code))
                .copied()
                .unwrap_or("option refused");
            let said = text(msg.get(..end).unwrap_or_default())
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            Reply::Answer(
                Identity::new("tftp", 0.9).extra(Some(format!("ERROR {code} ({meaning}){said}"))),
            )
        }
        Some(3) if be16(reply, 2) == Some(1) && reply.len() <= 4 + 65464 => {
            Reply::Answer(Identity::new("tftp", 0.85).extra(Some(format!(
                "DATA block 1 ({} bytes): the probe file exists",
                reply.len() - 4
            ))))
        }
        _ => Reply::NotOurs,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    #[test]
    fn error_and_data() {
        let (_, q) = sent("tftp-rrq");
        let i = answer("tftp-rrq", &q, b"\x00\x05\x00\x01File not found\x00");
        assert_eq!(i.service, "tftp");
        assert_eq!(
            i.extra.as_deref(),
            Some("ERROR 1 (file not found): File not found")
        );
        let i = answer("tftp-rrq", &q, b"\x00\x03\x00\x01hello");
        assert!(i.extra.unwrap_or_default().contains("DATA block 1"));
    }

    #[test]
    fn other_packets_are_not_ours() {
        let (p, q) = sent("tftp-rrq");
        for r in [
            &q[..],
            b"\x00\x05\x00\x01no terminator",
            b"\x00\x04\x00\x01",
            b"\x00\x03\x00\x02x",
        ] {
            assert_eq!(super::super::identify(&p, &q, r), Reply::NotOurs, "{r:?}");
        }
    }

    /// Captured from Debian 12's tftpd-hpa 5.2+20150808-1.4: the ERROR came from port
    /// 42973, not 69.
    #[test]
    fn captured_tftpd_hpa() {
        let (_, q) = sent("tftp-rrq");
        let r = super::super::tests::hex("0005000146696c65206e6f7420666f756e6400");
        let i = answer("tftp-rrq", &q, &r);
        assert_eq!(
            i.extra.as_deref(),
            Some("ERROR 1 (file not found): File not found")
        );
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("tftp-rrq");
        never_panics("tftp-rrq", &q, b"\x00\x05\x00\x01File not found\x00");
    }
}
