//! The binary protocols' replies: PostgreSQL, MongoDB (and BSON), LDAP, DNS, RDP, SMB (with
//! NTLMSSP's CHALLENGE), MQTT.
//! The first byte picks the parser, so each one gets the whole rest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_probe::binary;

fuzz_target!(|input: &[u8]| {
    let Some((&which, data)) = input.split_first() else {
        return;
    };
    match which % 8 {
        0 => {
            let _ = binary::pg_startup_reply(data);
        }
        1 => {
            let _ = binary::mongo_complete(data);
            if let Some(doc) = binary::mongo_reply_doc(data, 1) {
                let _ = binary::bson_field(doc, "version");
            }
            let _ = binary::bson_field(data, "version");
        }
        2 => {
            let _ = binary::ldap_complete(data);
            let _ = binary::ldap_parse(data);
        }
        3 => {
            let _ = binary::dns_complete(data);
            let id = u16::from_be_bytes([
                data.first().copied().unwrap_or(0),
                data.get(1).copied().unwrap_or(0),
            ]);
            let _ = binary::dns_parse(data, id);
        }
        4 => {
            let _ = binary::tpkt_complete(data);
            let _ = binary::rdp_parse(data);
            let _ = binary::rdp_may_be_xrdp(data);
            let _ = binary::rdp_selects_unrequested(data);
        }
        5 => {
            let _ = binary::nbss_complete(data);
            let _ = binary::smb_parse(data);
            let _ = binary::smb2_session_setup_reply(data);
            if let Some(c) = binary::ntlm_challenge(data) {
                let mut hit = binary::BinaryHit::default();
                binary::smb_name(&mut hit, &c);
            }
        }
        6 => {
            let _ = binary::mqtt_parse(data);
        }
        _ => {
            let _ = binary::bson_field(data, "ok");
        }
    }
});
