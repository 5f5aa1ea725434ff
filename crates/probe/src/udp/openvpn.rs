//! OpenVPN (1194/udp): a `P_CONTROL_HARD_RESET_CLIENT_V2`.
//!
//! Over UDP an OpenVPN control packet is: opcode (high 5 bits) and key id (low 3 bits),
//! the sender's 8-byte session id, an ack array (count, then 4-byte packet ids, then the
//! peer's session id when the count is non-zero) and a 4-byte packet id. We send opcode 7
//! with a random session id, no acks and packet id 0. A server without `tls-auth` or
//! `tls-crypt` answers `P_CONTROL_HARD_RESET_SERVER_V2` (opcode 8) acknowledging packet 0
//! and naming our session id as the remote one; that echo is the check. A server with
//! `tls-auth`/`tls-crypt` drops the unauthenticated packet and stays silent.

use super::{Identity, Reply};

const HARD_RESET_SERVER_V2: u8 = 8;
const ACK_V1: u8 = 5;
const CONTROL_V1: u8 = 4;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    let (Some(&op), Some(ours)) = (reply.first(), sent.get(1..9)) else {
        return Reply::NotOurs;
    };
    let opcode = op >> 3;
    if !matches!(opcode, HARD_RESET_SERVER_V2 | ACK_V1 | CONTROL_V1) {
        return Reply::NotOurs;
    }
    let Some(&acks) = reply.get(9) else {
        return Reply::NotOurs;
    };
    // OpenVPN acknowledges at most 8 packets at once (its reliable layer's ack array size).
    if acks == 0 || acks > 8 {
        return Reply::NotOurs;
    }
    let remote_at = 10 + 4 * usize::from(acks);
    if reply.get(remote_at..remote_at + 8) != Some(ours) {
        return Reply::NotOurs;
    }
    let what = match opcode {
        HARD_RESET_SERVER_V2 => "P_CONTROL_HARD_RESET_SERVER_V2",
        ACK_V1 => "P_ACK_V1",
        _ => "P_CONTROL_V1",
    };
    Reply::Answer(Identity::new("openvpn", 0.95).extra(Some(format!("{what}, no tls-auth"))))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    /// Captured from Debian's OpenVPN 2.6.14 (`--tls-server --dev null`, no tls-auth) on
    /// 127.0.0.1 answering `sent("openvpn-hard-reset")`.
    const OPENVPN_2_6: &str = "\
    402ba8bcd5119fefe20100000000a1c8cfb67d24ab1200000000";

    /// The server's hard reset: opcode 8, key id 0, its session id, one ack (packet 0), our
    /// session id, its packet id 0.
    fn reply(sent: &[u8]) -> Vec<u8> {
        let mut r = vec![0x40, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0, 0, 0, 0];
        r.extend_from_slice(&sent[1..9]);
        r.extend([0, 0, 0, 0]);
        r
    }

    #[test]
    fn hard_reset_reply() {
        let (_, s) = sent("openvpn-hard-reset");
        let id = answer("openvpn-hard-reset", &s, &reply(&s));
        assert_eq!(id.service, "openvpn");
        assert!(
            id.extra
                .unwrap_or_default()
                .starts_with("P_CONTROL_HARD_RESET_SERVER_V2")
        );
    }

    #[test]
    fn other_session_is_not_ours() {
        let (p, s) = sent("openvpn-hard-reset");
        let mut r = reply(&s);
        r[16] ^= 1;
        assert_eq!(super::super::identify(&p, &s, &r), Reply::NotOurs);
        assert_eq!(super::super::identify(&p, &s, &s), Reply::NotOurs);
        never_panics("openvpn-hard-reset", &s, &reply(&s));
    }

    #[test]
    fn openvpn_capture() {
        use super::super::tests::hex;
        let (_, s) = sent("openvpn-hard-reset");
        let id = answer("openvpn-hard-reset", &s, &hex(OPENVPN_2_6));
        assert_eq!(
            id.extra.as_deref(),
            Some("P_CONTROL_HARD_RESET_SERVER_V2, no tls-auth")
        );
        never_panics("openvpn-hard-reset", &s, &hex(OPENVPN_2_6));
    }
}
