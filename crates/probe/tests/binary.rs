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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_connack() {
    let addr = steps(vec![(b::MQTT_CONNECT.to_vec(), vec![0x20, 2, 0, 5])]).await;
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
