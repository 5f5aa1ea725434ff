//! Property test: the parsers of untrusted bytes never panic, on random input and on valid
//! messages with random corruption. A small xorshift generator keeps it deterministic.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use portent_probe::xdr::XdrWriter;
use portent_probe::{SignatureSet, binary, escape, http, rpc};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn exercise(data: &[u8], sigs: &SignatureSet) {
    let _ = http::parse(data);
    let _ = http::complete(data);
    let _ = rpc::record(data, rpc::MAX_RECORD);
    let _ = rpc::record_complete(data);
    let _ = rpc::parse_reply(data, 1);
    let _ = rpc::parse_dump(data, 512);
    let _ = rpc::parse_listreg(data, 64);
    let _ = binary::pg_startup_reply(data);
    let _ = binary::pg_startup_complete(data);
    let _ = binary::mongo_complete(data);
    if let Some(doc) = binary::mongo_reply_doc(data, 1) {
        let _ = binary::bson_field(doc, "version");
    }
    let _ = binary::bson_field(data, "version");
    let _ = binary::ldap_parse(data);
    let _ = binary::ldap_complete(data);
    let _ = binary::dns_parse(
        data,
        u16::from_be_bytes([
            data.get(2).copied().unwrap_or(0),
            data.get(3).copied().unwrap_or(0),
        ]),
    );
    let _ = binary::dns_complete(data);
    let _ = binary::rdp_parse(data);
    let _ = binary::rdp_may_be_xrdp(data);
    let _ = binary::rdp_selects_unrequested(data);
    let _ = binary::tpkt_complete(data);
    let _ = binary::smb_parse(data);
    let _ = binary::smb2_session_setup_reply(data);
    if let Some(c) = binary::ntlm_challenge(data) {
        let mut hit = binary::BinaryHit::default();
        binary::smb_name(&mut hit, &c);
    }
    let _ = binary::nbss_complete(data);
    let _ = binary::mqtt_parse(data);
    let e = escape::escape_bytes(data, 64);
    assert!(e.bytes().all(|b| (0x20..0x7f).contains(&b)));
    for kind in signatures_kinds() {
        let _ = sigs.find(kind, data);
    }
}

fn signatures_kinds() -> &'static [&'static str] {
    portent_probe::signatures::KINDS
}

#[test]
fn parsers_survive_random_bytes() {
    let sigs = SignatureSet::core().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        exercise(&rng.bytes(300), &sigs);
    }
}

#[test]
fn parsers_survive_corrupted_valid_messages() {
    let sigs = SignatureSet::core().unwrap();
    let mut w = XdrWriter::new();
    w.u32(1).u32(1).u32(0).u32(0).opaque(&[]).u32(0);
    w.u32(0)
        .u32(2)
        .u32(2)
        .opaque(b"local")
        .u32(1033)
        .u32(1033)
        .opaque(b"network")
        .u32(1)
        .u32(2);
    let reply = w.into_bytes();
    let mut framed = (0x8000_0000u32 | reply.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(&reply);
    let seeds: Vec<Vec<u8>> = vec![
        reply,
        framed,
        b"HTTP/1.1 200 OK\r\nServer: nginx/1.2\r\nContent-Length: 5\r\n\r\n<title>x</title>"
            .to_vec(),
        rpc::call(7, rpc::NIBINDD, 1, 4, &[]),
        binary::ldap_rootdse_request(),
        binary::smb2_negotiate(),
        binary::smb2_session_setup_ntlm(),
        // Samba 4.17's CHALLENGE_MESSAGE, as captured in tests/binary.rs.
        b"NTLMSSP\x00\x02\x00\x00\x00\x04\x00\x04\x008\x00\x00\x00\x05\x82\x8a\
          \xa2B\xad^Q\xdd\xa3[\xe8\x00\x00\x00\x00\x00\x00\x00\x00,\x00,\x00<\
          \x00\x00\x00\x06\x01\x00\x00\x00\x00\x00\x0fV\x00M\x00\x02\x00\x04\x00\
          V\x00M\x00\x01\x00\x04\x00V\x00M\x00\x04\x00\x00\x00\x03\x00\x04\x00v\
          \x00m\x00\x07\x00\x08\x00Juu@:\x85\xdd\x01\x00\x00\x00\x00"
            .to_vec(),
        binary::dns_version_query(0x0203),
        binary::mongo_command(1, "hello"),
        b"\x30\x0c\x02\x01\x01\x64\x07\x04\x00\x30\x03\x30\x01\x04".to_vec(),
        b"\x13\x00\x00\x00\x02version\x00\x05\x00\x00\x007.0\x00\x00".to_vec(),
    ];
    assert!(
        seeds
            .iter()
            .filter(|s| s.starts_with(b"NTLMSSP"))
            .all(|s| binary::ntlm_challenge(s).is_some_and(|c| c.nb_computer.is_some()))
    );
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let mut m = seeds[(rng.next() as usize) % seeds.len()].clone();
        for _ in 0..1 + rng.next() % 4 {
            if m.is_empty() {
                break;
            }
            let i = (rng.next() as usize) % m.len();
            match rng.next() % 3 {
                0 => m[i] = rng.next() as u8,
                1 => m.truncate(i),
                _ => m.insert(i, 0xff),
            }
        }
        exercise(&m, &sigs);
    }
}
