//! Exact identifications of the binary, client-first protocols against scripted fixtures.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use portent_probe::binary as b;
use portent_probe::{Detection, Detector};

async fn detect(addr: std::net::SocketAddr, expected: Option<&str>) -> Detection {
    let d = Detector::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let out = d.detect(addr, expected).await;
    eprintln!("{}", serde_json::to_string(&out).unwrap());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_sasl() {
    let mut auth = vec![b'R', 0, 0, 0, 23, 0, 0, 0, 10];
    auth.extend_from_slice(b"SCRAM-SHA-256\0\0");
    let addr = steps(vec![
        (b::PG_SSL_REQUEST.to_vec(), b"N".to_vec()),
        (b::pg_startup(), auth),
    ])
    .await;
    for expected in [Some("postgresql"), None] {
        let d = detect(addr, expected).await;
        assert_eq!(d.service, "postgresql");
        assert_eq!(d.product.as_deref(), Some("PostgreSQL DB"));
        assert_eq!(d.extra.as_deref(), Some("asks for SASL (SCRAM)"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_hello_and_build_info() {
    let hello = op_msg_reply(
        0x5057,
        &bson(&[("ismaster", Err(1)), ("maxWireVersion", Err(21))]),
    );
    let info = op_msg_reply(0x5058, &bson(&[("version", Ok("7.0.5")), ("ok", Err(1))]));
    let addr = steps(vec![
        (b::mongo_command(0x5057, "hello"), hello),
        (b::mongo_command(0x5058, "buildInfo"), info),
    ])
    .await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "mongodb");
    assert_eq!(d.version.as_deref(), Some("7.0.5"));
    assert_eq!(d.extra.as_deref(), Some("maxWireVersion 21"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_root_dse() {
    let attr = |name: &str, values: &[&str]| {
        let vals: Vec<u8> = values
            .iter()
            .flat_map(|v| tlv(0x04, v.as_bytes()))
            .collect();
        tlv(
            0x30,
            &[tlv(0x04, name.as_bytes()), tlv(0x31, &vals)].concat(),
        )
    };
    let attrs = [
        attr("namingContexts", &["dc=example,dc=test"]),
        attr("supportedLDAPVersion", &["3"]),
        attr("vendorName", &["Fixture Directory"]),
        attr("vendorVersion", &["2.6.7"]),
    ]
    .concat();
    let entry = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            tlv(0x64, &[tlv(0x04, b""), tlv(0x30, &attrs)].concat()),
        ]
        .concat(),
    );
    let done = tlv(
        0x30,
        &[
            tlv(0x02, &[1]),
            tlv(
                0x65,
                &[tlv(0x0a, &[0]), tlv(0x04, b""), tlv(0x04, b"")].concat(),
            ),
        ]
        .concat(),
    );
    let addr = steps(vec![(b::ldap_rootdse_request(), [entry, done].concat())]).await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "ldap");
    assert_eq!(d.product.as_deref(), Some("Fixture Directory"));
    assert_eq!(d.version.as_deref(), Some("2.6.7"));
    assert_eq!(
        d.extra.as_deref(),
        Some("naming contexts dc=example,dc=test; LDAP versions 3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_version_bind() {
    let mut m = vec![0x70, 0x64, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
    m.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 3, 0, 0, 0, 0, 0, 17, 16]);
    m.extend_from_slice(b"9.18.24-1-Debian");
    let mut resp = (m.len() as u16).to_be_bytes().to_vec();
    resp.extend_from_slice(&m);
    let addr = steps(vec![(b::dns_version_query(0x7064), resp)]).await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "domain");
    assert_eq!(d.product.as_deref(), Some("ISC BIND"));
    assert_eq!(d.version.as_deref(), Some("9.18.24-1"));
    assert_eq!(d.cpe.as_deref(), Some("cpe:/a:isc:bind:9.18.24-1"));
    assert!(
        d.extra
            .as_deref()
            .is_some_and(|e| e.starts_with("Debian; "))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdp_negotiation() {
    let cc = vec![
        3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0x1f, 8, 0, 2, 0, 0, 0,
    ];
    let addr = steps(vec![(b::RDP_CONNECTION_REQUEST.to_vec(), cc)]).await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "ms-wbt-server");
    assert_eq!(d.extra.as_deref(), Some("selected CredSSP (NLA)"));
}

/// An RDP server that answers each X.224 Connection Request by what it asks for
/// (requestedProtocols, byte 15): `answers` maps it to the negotiation block's (type, flags,
/// value). Unknown requests are closed.
async fn rdp_server(answers: &'static [(u8, (u8, u8, u8))]) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    serve(move |mut s| async move {
        let mut req = [0u8; 19];
        if s.read_exact(&mut req).await.is_err() {
            return;
        }
        let Some((_, (kind, flags, value))) = answers.iter().find(|(asked, _)| *asked == req[15])
        else {
            return;
        };
        let cc = [
            3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, *kind, *flags, 8, 0, *value, 0, 0, 0,
        ];
        let _ = s.write_all(&cc).await;
        pause(2000).await;
    })
    .await
}

/// xrdp's answers, as its libxrdp/xrdp_iso.c writes them with the default
/// security_layer=negotiate (and as the zoo's real xrdp gives the first): TLS for TLS|CredSSP,
/// standard RDP security for CredSSP alone, flags 0x01 both times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xrdp_chooses_what_was_not_offered() {
    let addr = rdp_server(&[(3, (2, 1, 1)), (2, (2, 1, 0))]).await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "ms-wbt-server");
    assert_eq!(d.product.as_deref(), Some("xrdp"));
    assert!(
        d.extra.as_deref().unwrap().starts_with("selected TLS; "),
        "{d:?}"
    );
}

/// A server that answers as MS-RDPBCGR says one without CredSSP must (failure
/// SSL_REQUIRED_BY_SERVER to CredSSP alone), or one that does CredSSP (selects it): RDP, not
/// named xrdp, even with the same flags and first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforming_rdp_servers_are_not_called_xrdp() {
    for answers in [
        &[(3u8, (2u8, 1u8, 1u8)), (2, (3, 0, 1))][..],
        &[(3, (2, 1, 1)), (2, (2, 1, 2))][..],
        &[(3, (2, 0x1f, 1)), (2, (2, 0x1f, 0))][..],
        &[(3, (2, 1, 1))][..],
    ] {
        let answers: &'static [(u8, (u8, u8, u8))] = Box::leak(answers.to_vec().into_boxed_slice());
        let addr = rdp_server(answers).await;
        let d = detect(addr, None).await;
        assert_eq!(d.service, "ms-wbt-server", "{answers:?}");
        assert_eq!(d.product.as_deref(), Some("RDP"), "{answers:?}");
    }
}

#[test]
fn rdp_negotiation_readers_refuse_short_and_foreign_bytes() {
    let xrdp_first = [
        3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0,
    ];
    assert!(b::rdp_may_be_xrdp(&xrdp_first));
    for n in 0..xrdp_first.len() {
        assert!(!b::rdp_may_be_xrdp(&xrdp_first[..n]), "{n} bytes");
        assert!(!b::rdp_selects_unrequested(&xrdp_first[..n]), "{n} bytes");
    }
    let mut not_cc = xrdp_first;
    not_cc[5] = 0xe0; // a Connection Request echoed back
    assert!(!b::rdp_may_be_xrdp(&not_cc));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smb2_negotiate() {
    let mut smb = b"\xfeSMB".to_vec();
    smb.extend_from_slice(&64u16.to_le_bytes());
    smb.extend_from_slice(&[0; 58]);
    smb[16] = 1; // Flags: SMB2_FLAGS_SERVER_TO_REDIR, a response
    smb.extend_from_slice(&65u16.to_le_bytes());
    smb.extend_from_slice(&1u16.to_le_bytes());
    smb.extend_from_slice(&0x0311u16.to_le_bytes());
    smb.extend_from_slice(&[0; 58]);
    let mut resp = vec![0, 0, 0, smb.len() as u8];
    resp.extend_from_slice(&smb);
    let addr = steps(vec![(b::smb2_negotiate(), resp)]).await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "microsoft-ds");
    assert_eq!(d.version.as_deref(), Some("3.1.1"));
}

#[test]
fn mqtt_connect_is_well_formed_and_its_client_id_unique() {
    let a = b::mqtt_connect(0x0001_0002);
    let c = b::mqtt_connect(0x0001_0003);
    assert!(a.starts_with(&b::MQTT_CONNECT_PREFIX));
    assert_eq!(&a[b::MQTT_CONNECT_PREFIX.len()..], b"00010002");
    // Remaining length: everything after the two header bytes.
    assert_eq!(usize::from(a[1]), a.len() - 2);
    assert_ne!(a, c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_connack() {
    let addr = steps(vec![(b::MQTT_CONNECT_PREFIX.to_vec(), vec![0x20, 2, 0, 5])]).await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "mqtt");
    assert_eq!(
        d.extra.as_deref(),
        Some("connection refused: not authorised")
    );
}

/// A connection.start as the AMQP 0-9-1 spec lays it out, with a nested table and a boolean
/// before the version, as RabbitMQ sends them.
fn amqp_start() -> Vec<u8> {
    fn long(v: &[u8]) -> Vec<u8> {
        let mut o = (v.len() as u32).to_be_bytes().to_vec();
        o.extend_from_slice(v);
        o
    }
    let mut caps = vec![18];
    caps.extend_from_slice(b"publisher_confirms");
    caps.extend_from_slice(b"t\x01");
    let mut table = Vec::new();
    table.extend_from_slice(b"\x0ccapabilitiesF");
    table.extend(long(&caps));
    table.extend_from_slice(b"\x07productS");
    table.extend(long(b"Acme MQ"));
    table.extend_from_slice(b"\x07versionS");
    table.extend(long(b"1.2.3"));
    let mut payload = vec![0, 10, 0, 10, 0, 9];
    payload.extend(long(&table));
    payload.extend(long(b"PLAIN"));
    payload.extend(long(b"en_US"));
    let mut frame = vec![1, 0, 0];
    frame.extend(long(&payload));
    frame.push(0xce);
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_connection_start() {
    let addr = steps(vec![(b::AMQP_HEADER.to_vec(), amqp_start())]).await;
    let d = detect(addr, Some("amqp")).await;
    assert_eq!(d.service, "amqp");
    assert_eq!(d.product.as_deref(), Some("Acme MQ"));
    assert_eq!(d.version.as_deref(), Some("1.2.3"));
    assert_eq!(d.extra.as_deref(), Some("0-9"));
}

#[test]
fn amqp_echo_and_truncation_are_not_answers() {
    assert!(b::amqp_parse(&b::AMQP_HEADER).is_none());
    let start = amqp_start();
    for n in 0..start.len() {
        assert!(b::amqp_parse(&start[..n]).is_none(), "{n} bytes");
    }
    assert_eq!(
        b::amqp_parse(b"AMQP\x00\x00\x09\x00")
            .unwrap()
            .extra
            .as_deref(),
        Some("speaks AMQP 0-9-0")
    );
}

#[test]
fn mqtt_version_is_read_from_the_publish_after_the_suback() {
    let mut d = vec![0x90, 3, 0, 1, 0, 0x31, 0];
    let body = b"\x00\x13$SYS/broker/versionmosquitto version 2.0.11";
    d[6] = body.len() as u8;
    d.extend_from_slice(body);
    assert_eq!(
        b::mqtt_published(&d),
        Some(&b"mosquitto version 2.0.11"[..])
    );
    for n in 0..d.len() {
        assert!(b::mqtt_published(&d[..n]).is_none(), "{n} bytes");
    }
    // A remaining length that never ends is no packet.
    assert!(b::mqtt_published(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]).is_none());
}

#[test]
fn pgbouncer_is_told_from_postgresql_by_its_errors() {
    let bouncer = b"E\x00\x00\x002SFATAL\x00C08P01\x00M\"trust\" authentication failed\x00\x00";
    let hit = b::pg_startup_reply(bouncer).unwrap();
    assert_eq!(hit.product.as_deref(), Some("PgBouncer"));
    let postgres =
        b"E\x00\x00\x00cSFATAL\x00VFATAL\x00C28000\x00Mno such user\x00Fmiscinit.c\x00L768\x00\x00";
    let hit = b::pg_startup_reply(postgres).unwrap();
    assert_eq!(hit.product.as_deref(), Some("PostgreSQL DB"));
    // Messages with their real lengths (tag, length including itself, body).
    let msg = |tag: u8, body: &[u8]| {
        let mut m = vec![tag];
        m.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        m.extend_from_slice(body);
        m
    };
    let error = msg(
        b'E',
        b"SFATAL\x00VFATAL\x00C28000\x00Mrole \"portent\" does not exist\x00Fmiscinit.c\x00\x00",
    );
    // The non-localized severity (V) exists from PostgreSQL 9.6 on.
    let hit = b::pg_startup_reply(&error).unwrap();
    assert_eq!(hit.version.as_deref(), Some("9.6.0 or later"));
    assert!(b::pg_startup_complete(&error));
    assert!(!b::pg_startup_complete(&error[..error.len() - 3]));
    // After AuthenticationOk (no password needed), the error for an unknown role.
    let mut after_ok = msg(b'R', &[0, 0, 0, 0]);
    assert!(!b::pg_startup_complete(&after_ok));
    after_ok.extend_from_slice(&error);
    assert!(b::pg_startup_complete(&after_ok));
    let hit = b::pg_startup_reply(&after_ok).unwrap();
    assert_eq!(hit.version.as_deref(), Some("9.6.0 or later"));
    // Before 9.6: no V field, no version claimed.
    let old = msg(b'E', b"SFATAL\x00C28000\x00Mno such role\x00\x00");
    assert_eq!(b::pg_startup_reply(&old).unwrap().version, None);
    // An MD5 password request is a whole reply.
    assert!(b::pg_startup_complete(&msg(b'R', b"\x00\x00\x00\x05salt")));
}

/// Hex digits (whitespace ignored) to bytes.
fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| c.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Captured from the zoo's Samba 4.17.12 (Debian 12, standalone server, host name "VM"): the
/// SMB2 NEGOTIATE response to [`b::smb2_negotiate`] (dialect 3.0) ...
const SAMBA_NEGOTIATE: &str = "000000cafe534d424000000000000000000001000100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000004100010000030000766d000000000000000000000000000007000000000080000000800000008000f83075403a85dd01000000000000000080004a0000000000604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265";
/// ... and its SESSION_SETUP response to [`b::smb2_session_setup_ntlm`]: SPNEGO's
/// NegTokenResp around the CHALLENGE_MESSAGE (VERSION 06 01 0000 000000 0f).
const SAMBA_CHALLENGE: &str = "000000ccfe534d4240000000160000c001000100010000000000000001000000000000000000000000000000704cb61d00000000000000000000000000000000000000000900000048008400a18181307fa0030a0101a10c060a2b06010401823702020aa26a04684e544c4d5353500002000000040004003800000005828aa242ad5e51dda35be800000000000000002c002c003c000000060100000000000f56004d000200040056004d000100040056004d00040000000300040076006d00070008004a7575403a85dd0100000000";
/// The same server's answer when the security buffer is a bare NTLMSSP NEGOTIATE_MESSAGE:
/// a bare CHALLENGE_MESSAGE.
const SAMBA_CHALLENGE_RAW: &str = "000000b0fe534d4240000000160000c0010001000100000000000000010000000000000000000000000000002383ca60000000000000000000000000000000000000000009000000480068004e544c4d5353500002000000040004003800000005828aa203b0334a2a4a144900000000000000002c002c003c000000060100000000000f56004d000200040056004d000100040056004d00040000000300040076006d000700080064d398403a85dd0100000000";

/// A CHALLENGE_MESSAGE laid out by hand from MS-NLMP 2.2.1.2 (not a capture): as a Windows
/// Server 2022 domain controller would write it, VERSION 10.0 build 20348 revision 15, and
/// TargetInfo with the NetBIOS and DNS names, a timestamp and MsvAvEOL.
fn windows_like_challenge() -> Vec<u8> {
    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }
    let target = utf16("CORP");
    let mut info = Vec::new();
    for (id, v) in [
        (2u16, utf16("CORP")),
        (1, utf16("DC01")),
        (4, utf16("corp.example")),
        (3, utf16("dc01.corp.example")),
        (5, utf16("corp.example")),
        (7, vec![0; 8]),
        (0, vec![]),
    ] {
        info.extend_from_slice(&id.to_le_bytes());
        info.extend_from_slice(&(v.len() as u16).to_le_bytes());
        info.extend_from_slice(&v);
    }
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&56u32.to_le_bytes());
    m.extend_from_slice(&0xe28a_8215u32.to_le_bytes()); // NegotiateFlags, VERSION included
    m.extend_from_slice(b"\x01\x23\x45\x67\x89\xab\xcd\xef"); // ServerChallenge
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(56 + target.len() as u32).to_le_bytes());
    m.extend_from_slice(&[10, 0]);
    m.extend_from_slice(&20348u16.to_le_bytes());
    m.extend_from_slice(&[0, 0, 0, 15]);
    m.extend_from_slice(&target);
    m.extend_from_slice(&info);
    m
}

/// An SMB2 SESSION_SETUP response (MS-SMB2 2.2.6, STATUS_MORE_PROCESSING_REQUIRED) holding
/// `token` as its security buffer, behind the direct-TCP header.
fn session_setup_response(token: &[u8]) -> Vec<u8> {
    let mut m = b"\xfeSMB".to_vec();
    m.extend_from_slice(&64u16.to_le_bytes());
    m.extend_from_slice(&[0; 2]);
    m.extend_from_slice(&0xc000_0016u32.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes()); // SESSION_SETUP
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&1u32.to_le_bytes()); // SERVER_TO_REDIR
    m.extend_from_slice(&[0; 44]);
    m.extend_from_slice(&9u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&72u16.to_le_bytes());
    m.extend_from_slice(&(token.len() as u16).to_le_bytes());
    m.extend_from_slice(token);
    let mut out = vec![0];
    out.extend_from_slice(&(m.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&m);
    out
}

#[test]
fn ntlm_challenge_from_real_samba() {
    for capture in [SAMBA_CHALLENGE, SAMBA_CHALLENGE_RAW] {
        let c = b::smb2_session_setup_reply(&unhex(capture)).unwrap();
        assert_eq!(c.version, Some(b::SAMBA_NTLM_VERSION));
        assert_eq!(c.nb_computer.as_deref(), Some("VM"));
        assert_eq!(c.nb_domain.as_deref(), Some("VM"));
        assert_eq!(c.dns_computer.as_deref(), Some("vm"));
        assert_eq!(c.dns_domain, None);
        let mut hit = b::smb_parse(&unhex(SAMBA_NEGOTIATE)).unwrap();
        assert_eq!(hit.version.as_deref(), Some("3.0"));
        b::smb_name(&mut hit, &c);
        assert_eq!(hit.product.as_deref(), Some("Samba smbd"));
        assert_eq!(hit.version, None);
        assert_eq!(hit.cpe.as_deref(), Some("cpe:/a:samba:samba"));
        assert_eq!(
            hit.extra.as_deref(),
            Some("dialect 3.0; host: VM; domain: VM")
        );
    }
}

#[test]
fn ntlm_challenge_windows_like() {
    let m = windows_like_challenge();
    let c = b::ntlm_challenge(&m).unwrap();
    assert_eq!(c.version, Some([10, 0, 0x7c, 0x4f, 0, 0, 0, 15]));
    assert_eq!(c.dns_tree.as_deref(), Some("corp.example"));
    let c2 = b::smb2_session_setup_reply(&session_setup_response(&m)).unwrap();
    assert_eq!(c, c2);
    let mut hit = b::BinaryHit {
        extra: Some("dialect 3.0".into()),
        version: Some("3.0".into()),
        ..b::BinaryHit::default()
    };
    b::smb_name(&mut hit, &c);
    assert_eq!(hit.product.as_deref(), Some("Windows"));
    assert_eq!(hit.version.as_deref(), Some("10.0.20348"));
    assert_eq!(
        hit.extra.as_deref(),
        Some(
            "dialect 3.0; host: DC01; domain: CORP; DNS host: dc01.corp.example; \
             DNS domain: corp.example"
        )
    );
}

#[test]
fn ntlm_version_neither_samba_nor_windows_is_only_reported() {
    let mut m = windows_like_challenge();
    m[48..56].copy_from_slice(&[6, 1, 0, 0, 0, 0, 0, 10]);
    let c = b::ntlm_challenge(&m).unwrap();
    let mut hit = b::BinaryHit {
        product: Some("SMB".into()),
        version: Some("3.0".into()),
        ..b::BinaryHit::default()
    };
    b::smb_name(&mut hit, &c);
    assert_eq!(hit.product.as_deref(), Some("SMB"));
    assert_eq!(hit.version.as_deref(), Some("3.0"));
    assert!(
        hit.extra
            .unwrap()
            .starts_with("NTLM version 6.1.0 revision 10; host: DC01")
    );
    // Without the VERSION flag there is no version to read.
    let mut m = windows_like_challenge();
    m[23] &= !0x02;
    assert_eq!(b::ntlm_challenge(&m).unwrap().version, None);
}

#[test]
fn ntlm_challenge_truncated_or_garbage() {
    let m = windows_like_challenge();
    // Every truncation: TargetInfo then lies outside the message, or the header is cut.
    for cut in 0..m.len() {
        assert_eq!(b::ntlm_challenge(&m[..cut]), None, "cut at {cut}");
    }
    let real = unhex(SAMBA_CHALLENGE);
    for cut in 0..real.len() {
        assert_eq!(
            b::smb2_session_setup_reply(&real[..cut]),
            None,
            "cut at {cut}"
        );
    }
    // TargetInfo's offset and length pointing past the end, or wrapping.
    let mut far = m.clone();
    far[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(b::ntlm_challenge(&far), None);
    let mut long = m.clone();
    long[40..42].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_eq!(b::ntlm_challenge(&long), None);
    // An AV pair whose length runs past TargetInfo stops the walk; what came before stays.
    let mut pair = m.clone();
    let info_at = 56 + 8;
    let second = info_at + 4 + 8; // after NbDomainName "CORP"
    pair[second + 2..second + 4].copy_from_slice(&0xfff0u16.to_le_bytes());
    let c = b::ntlm_challenge(&pair).unwrap();
    assert_eq!(c.nb_domain.as_deref(), Some("CORP"));
    assert_eq!(c.nb_computer, None);
    // Not a CHALLENGE: a NEGOTIATE, another signature, our own request reflected.
    assert_eq!(b::ntlm_challenge(&b::ntlmssp_negotiate()), None);
    assert_eq!(b::ntlm_challenge(b"NTLMSSQ\0\x02\0\0\0"), None);
    assert_eq!(
        b::smb2_session_setup_reply(&b::smb2_session_setup_ntlm()),
        None
    );
    assert_eq!(b::smb2_session_setup_reply(&[0xff; 64]), None);
    // A success status or a wrong command is not the challenge leg.
    let mut ok = session_setup_response(&m);
    ok[12..16].copy_from_slice(&[0; 4]);
    assert_eq!(b::smb2_session_setup_reply(&ok), None);
    // Names: control characters dropped, unpaired surrogates replaced, 64 characters at most.
    let mut names = m.clone();
    let v = info_at + 4;
    names[v..v + 2].copy_from_slice(&0xd800u16.to_le_bytes());
    names[v + 2..v + 4].copy_from_slice(&0x0007u16.to_le_bytes());
    assert_eq!(
        b::ntlm_challenge(&names).unwrap().nb_domain.as_deref(),
        Some("\u{fffd}RP")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_named_over_the_wire() {
    let addr = steps(vec![
        (b::smb2_negotiate(), unhex(SAMBA_NEGOTIATE)),
        (b::smb2_session_setup_ntlm(), unhex(SAMBA_CHALLENGE)),
    ])
    .await;
    let d = detect(addr, Some("microsoft-ds")).await;
    assert_eq!(d.service, "microsoft-ds");
    assert_eq!(d.product.as_deref(), Some("Samba smbd"));
    assert_eq!(d.version, None);
    assert_eq!(d.cpe.as_deref(), Some("cpe:/a:samba:samba"));
    assert_eq!(
        d.extra.as_deref(),
        Some("dialect 3.0; host: VM; domain: VM")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_named_over_the_wire() {
    let addr = steps(vec![
        (b::smb2_negotiate(), unhex(SAMBA_NEGOTIATE)),
        (
            b::smb2_session_setup_ntlm(),
            session_setup_response(&windows_like_challenge()),
        ),
    ])
    .await;
    let d = detect(addr, None).await;
    assert_eq!(d.service, "microsoft-ds");
    assert_eq!(d.product.as_deref(), Some("Windows"));
    assert_eq!(d.version.as_deref(), Some("10.0.20348"));
}
