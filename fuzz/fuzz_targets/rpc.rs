//! ONC RPC replies as a peer sends them: record marking, the reply header, the portmapper's
//! DUMP list and NetInfo's LISTREG domains.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_probe::rpc;

fuzz_target!(|data: &[u8]| {
    let _ = rpc::record_complete(data);
    if let Some(body) = rpc::record(data, rpc::MAX_RECORD) {
        assert!(body.len() <= rpc::MAX_RECORD);
        let _ = rpc::parse_reply(&body, 1);
    }
    let xid = u32::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
        data.get(2).copied().unwrap_or(0),
        data.get(3).copied().unwrap_or(0),
    ]);
    let _ = rpc::parse_reply(data, xid);
    if let Some(maps) = rpc::parse_dump(data, 512) {
        assert!(maps.len() <= 512);
        for m in &maps {
            let _ = rpc::program(m.program);
        }
    }
    if let Some(domains) = rpc::parse_listreg(data, 64) {
        assert!(domains.len() <= 64);
    }
});
