//! NTP replies: the server mode answer to a client request (RFC 5905 section 7.3: version,
//! stratum, reference id; our transmit timestamp comes back as the origin timestamp), and
//! the mode 6 READVAR answer (the control protocol of RFC 1305 appendix B, described again
//! in draft-ietf-ntp-mode-6-cmds), whose `version=` variable names ntpd or ntpsec.

use super::{Identity, Reply, be16, echoes, text};

/// Longest mode 6 data we read (a response carries at most 468 bytes per datagram).
const MAX_CONTROL_DATA: usize = 468;

pub(super) fn identify(sent: &[u8], reply: &[u8]) -> Reply {
    match sent.first().map(|b| b & 7) {
        Some(3) => client(sent, reply),
        Some(6) => control(sent, reply),
        _ => Reply::NotOurs,
    }
}

/// A reference id as text: four ASCII letters for stratum 0/1 (a kiss code or clock kind),
/// an IPv4 address for higher strata (RFC 5905: for IPv6 it is a hash, shown as hex).
fn refid(stratum: u8, id: &[u8]) -> String {
    if stratum <= 1 {
        let trimmed: Vec<u8> = id.iter().copied().take_while(|b| *b != 0).collect();
        crate::escape::escape_bytes(&trimmed, 16)
    } else {
        match id {
            [a, b, c, d] => format!("{a}.{b}.{c}.{d}"),
            _ => String::new(),
        }
    }
}

fn client(sent: &[u8], reply: &[u8]) -> Reply {
    // A server reply is 48 bytes or more (extension fields, MAC), mode 4, and carries our
    // transmit timestamp (bytes 40..48) as its origin timestamp (bytes 24..32).
    let (Some(&first), Some(origin), Some(ours)) =
        (reply.first(), reply.get(24..32), sent.get(40..48))
    else {
        return Reply::NotOurs;
    };
    if reply.len() < 48 || first & 7 != 4 || origin != ours {
        return Reply::NotOurs;
    }
    let version = (first >> 3) & 7;
    let stratum = reply.get(1).copied().unwrap_or(0);
    let id = reply.get(12..16).unwrap_or_default();
    let mut notes = vec![format!("NTPv{version}"), format!("stratum {stratum}")];
    let rid = refid(stratum, id);
    if !rid.is_empty() {
        notes.push(if stratum == 0 {
            format!("kiss code {rid}")
        } else {
            format!("refid {rid}")
        });
    }
    if first >> 6 == 3 {
        notes.push("unsynchronised".to_string());
    }
    Reply::Answer(Identity::new("ntp", 0.9).extra(Some(notes.join(", "))))
}

fn control(sent: &[u8], reply: &[u8]) -> Reply {
    // Header (12 bytes): LI/VN/mode, R/E/M/opcode, sequence, status, association id, offset,
    // count. A response has R set, our opcode and our sequence.
    let (Some(&first), Some(&op)) = (reply.first(), reply.get(1)) else {
        return Reply::NotOurs;
    };
    let sent_op = sent.get(1).copied().unwrap_or(0);
    if reply.len() < 12
        || first & 7 != 6
        || op & 0x80 == 0
        || op & 0x1f != sent_op & 0x1f
        || !echoes(sent, reply, 2, 2)
    {
        return Reply::NotOurs;
    }
    let mut ident = Identity::new("ntp", 0.85);
    if op & 0x40 != 0 {
        let code = be16(reply, 4).map_or(0, |s| s >> 8);
        return Reply::Answer(ident.extra(Some(format!(
            "mode 6 control queries answered with error {code}"
        ))));
    }
    let count = be16(reply, 10).map_or(0, usize::from).min(MAX_CONTROL_DATA);
    let data = reply
        .get(12..12 + count)
        .unwrap_or_else(|| reply.get(12..).unwrap_or_default());
    let mut notes = Vec::new();
    if let Some(v) = variable(data, b"version") {
        let (product, version) = product(&v);
        ident.confidence = if product.is_some() { 0.95 } else { 0.9 };
        ident = ident.product(product).version(version);
        notes.push(format!("version=\"{v}\""));
    }
    for name in [&b"system"[..], b"processor", b"stratum"] {
        if let Some(v) = variable(data, name) {
            notes.push(format!("{}={v}", String::from_utf8_lossy(name)));
        }
    }
    Reply::Answer(ident.extra((!notes.is_empty()).then(|| notes.join(", "))))
}

/// The value of `name` in mode 6 variable text (`name=value, name="value", ...`), escaped.
fn variable(data: &[u8], name: &[u8]) -> Option<String> {
    let mut pos = 0;
    while pos < data.len() {
        let rest = data.get(pos..)?;
        let rest = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\r' | b'\n' | b','))
            .and_then(|s| rest.get(s..))?;
        let eq = rest.iter().position(|b| *b == b'=' || *b == b',');
        let key_end = eq.unwrap_or(rest.len());
        let key = rest.get(..key_end)?;
        let after = rest.get(key_end..)?;
        let (value, used) = if after.first() == Some(&b'=') {
            let v = after.get(1..)?;
            if v.first() == Some(&b'"') {
                let body = v.get(1..)?;
                let end = body.iter().position(|b| *b == b'"').unwrap_or(body.len());
                (body.get(..end)?, 1 + 1 + end + 1)
            } else {
                let end = v.iter().position(|b| *b == b',').unwrap_or(v.len());
                (v.get(..end)?, 1 + end)
            }
        } else {
            (&[][..], 0)
        };
        if key.eq_ignore_ascii_case(name) {
            return text(value);
        }
        pos = data.len() - rest.len() + key_end + used.max(1);
    }
    None
}

/// "ntpd 4.2.8p15@1.3728-o ..." -> ntpd 4.2.8p15; "ntpd ntpsec-1.2.2 ..." -> ntpsec 1.2.2.
fn product(version: &str) -> (Option<String>, Option<String>) {
    let mut words = version.split_whitespace();
    let (Some(first), second) = (words.next(), words.next()) else {
        return (None, None);
    };
    match (first, second) {
        ("ntpd", Some(s)) if s.starts_with("ntpsec-") => (
            Some("ntpsec".to_string()),
            s.strip_prefix("ntpsec-").map(str::to_string),
        ),
        ("ntpd", Some(s)) => (
            Some("ntpd".to_string()),
            s.split('@').next().map(str::to_string),
        ),
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{answer, never_panics, sent};
    use super::*;

    /// A server reply built from RFC 5905 section 7.3: mode 4, stratum 2, refid 192.0.2.1,
    /// our transmit timestamp as origin.
    fn server_reply(q: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 48];
        r[0] = 0x24;
        r[1] = 2;
        r[12..16].copy_from_slice(&[192, 0, 2, 1]);
        r[24..32].copy_from_slice(&q[40..48]);
        r[40..48].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        r
    }

    #[test]
    fn client_mode_reply() {
        let (_, q) = sent("ntp-client");
        let i = answer("ntp-client", &q, &server_reply(&q));
        assert_eq!(i.service, "ntp");
        assert_eq!(
            i.extra.as_deref(),
            Some("NTPv4, stratum 2, refid 192.0.2.1")
        );
    }

    #[test]
    fn client_mode_wrong_origin_is_not_ours() {
        let (p, q) = sent("ntp-client");
        let mut r = server_reply(&q);
        r[24] ^= 0xff;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
        // Our own request reflected is mode 3, not a server.
        assert_eq!(super::super::identify(&p, &q, &q), Reply::NotOurs);
    }

    fn readvar_reply(q: &[u8], data: &[u8]) -> Vec<u8> {
        let mut r = vec![0x16, 0x82, q[2], q[3], 0x06, 0x15, 0, 0, 0, 0];
        r.extend_from_slice(&u16::try_from(data.len()).expect("short").to_be_bytes());
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn readvar_versions() {
        let (_, q) = sent("ntp-readvar");
        let i = answer(
            "ntp-readvar",
            &q,
            &readvar_reply(
                &q,
                b"version=\"ntpd 4.2.8p15@1.3728-o Wed Sep 23 11:46:38 UTC 2020 (1)\",\r\nprocessor=\"x86_64\", system=\"Linux/6.1.0\", leap=00, stratum=2",
            ),
        );
        assert_eq!(i.product.as_deref(), Some("ntpd"));
        assert_eq!(i.version.as_deref(), Some("4.2.8p15"));
        let extra = i.extra.unwrap_or_default();
        assert!(
            extra.contains("stratum=2") && extra.contains("system=Linux/6.1.0"),
            "{extra}"
        );
        let i = answer(
            "ntp-readvar",
            &q,
            &readvar_reply(
                &q,
                b"version=\"ntpd ntpsec-1.2.2 2023-05-17T22:27:50Z\", leap=00",
            ),
        );
        assert_eq!(i.product.as_deref(), Some("ntpsec"));
        assert_eq!(i.version.as_deref(), Some("1.2.2"));
    }

    #[test]
    fn readvar_wrong_sequence_is_not_ours() {
        let (p, q) = sent("ntp-readvar");
        let mut r = readvar_reply(&q, b"version=\"ntpd 4\"");
        r[3] ^= 1;
        assert_eq!(super::super::identify(&p, &q, &r), Reply::NotOurs);
    }

    /// Captured from Debian 12's chrony 4.3 (`local stratum 8`, in a network namespace).
    /// chrony does not answer mode 6 at all.
    #[test]
    fn captured_chrony() {
        let (_, q) = sent("ntp-client");
        let r = super::super::tests::hex(
            "240800e600000000000000007f7f0101eebe2a51c6017bbca1c8cfb67d24ab12eebe2a52e9a32825eebe2a52e9a64294",
        );
        let i = answer("ntp-client", &q, &r);
        assert_eq!(
            i.extra.as_deref(),
            Some("NTPv4, stratum 8, refid 127.127.1.1")
        );
    }

    /// Captured from Debian 12's ntpsec 1.2.2+dfsg1-1+deb12u1 (no servers configured, so
    /// unsynchronised; in a network namespace, without the right to set the clock).
    #[test]
    fn captured_ntpsec() {
        let (_, q) = sent("ntp-readvar");
        let r = super::super::tests::hex(concat!(
            "d682a1c8c01600000000015a6c6561703d332c207374726174756d3d31362c20707265636973696f6e3d",
            "2d32342c20726f6f7464656c61793d302e3030302c20726f6f74646973703d302e3034352c0d0a726566",
            "69643d494e49542c2072656674696d653d307830303030303030302e30303030303030302c2074633d30",
            "2c20706565723d302c206f66667365743d302e3030303030302c0d0a6672657175656e63793d302e3030",
            "303030302c207379735f6a69747465723d302e3030303030302c20636c6b5f6a69747465723d302e3030",
            "303036302c0d0a636c6f636b3d307865656265326235362e63346137656664652c2070726f636573736f",
            "723d227838365f3634222c0d0a73797374656d3d224c696e75782f362e31382e34342d66632d76313235",
            "32222c2076657273696f6e3d226e747064206e74707365632d312e322e32222c0d0a636c6b5f77616e64",
            "65723d302e3030303030302c206d696e74633d300d0a0000",
        ));
        let i = answer("ntp-readvar", &q, &r);
        assert_eq!(
            (i.product.as_deref(), i.version.as_deref()),
            (Some("ntpsec"), Some("1.2.2"))
        );
        assert_eq!(
            i.extra.as_deref(),
            Some(
                "version=\"ntpd ntpsec-1.2.2\", system=Linux/6.18.44-fc-v1252, processor=x86_64, stratum=16"
            )
        );
        let (_, q) = sent("ntp-client");
        let r = super::super::tests::hex(
            "e40000e80000000000000002494e49540000000000000000a1c8cfb67d24ab12eebe2b56c4aee3a1eebe2b56c4affa7e",
        );
        let i = answer("ntp-client", &q, &r);
        assert_eq!(
            i.extra.as_deref(),
            Some("NTPv4, stratum 0, kiss code INIT, unsynchronised")
        );
    }

    #[test]
    fn garbage_never_panics() {
        let (_, q) = sent("ntp-client");
        never_panics("ntp-client", &q, &server_reply(&q));
        let (_, q) = sent("ntp-readvar");
        never_panics(
            "ntp-readvar",
            &q,
            &readvar_reply(&q, b"version=\"ntpd x\", a=\"b"),
        );
    }
}
