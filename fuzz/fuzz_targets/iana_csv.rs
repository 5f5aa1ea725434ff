//! A registry CSV as `registry update --file` reads it: parsed, validated (which a small
//! input fails: it wants IANA's thousands of rows, so the rest runs on every parsed input),
//! packed, stored as a snapshot and read back, and indexed as the lookups use it. The same
//! bytes are also read as a snapshot file, as a crafted `registry.bin` would be.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_iana::{ProtoIndex, Protocol};
use portent_registry::snapshot;

fuzz_target!(|data: &[u8]| {
    let _ = snapshot::decode(data);
    let Ok(packed) = portent_iana::parse_csv(data) else {
        return;
    };
    let records = packed.unpack().expect("freshly packed records unpack");
    let valid = portent_iana::validate(&records).is_ok();
    // A snapshot is validated as it is read: what passed reads back the same, the rest not.
    match snapshot::decode(&snapshot::encode(&packed)) {
        Ok(again) => assert!(valid && again == packed),
        Err(e) => assert!(!valid, "a valid registry's snapshot did not read back: {e}"),
    }
    let _ = portent_iana::data_date(&records);
    let names = portent_iana::name_index(&records);
    // Every named record once, in name order.
    assert_eq!(
        names.len(),
        records.iter().filter(|r| !r.service.is_empty()).count()
    );
    assert!(names.windows(2).all(|w| {
        let (a, b) = (
            records[w[0] as usize].service,
            records[w[1] as usize].service,
        );
        portent_iana::cmp_names(a, b).then(w[0].cmp(&w[1])).is_lt()
    }));
    for protocol in Protocol::ALL {
        let index = ProtoIndex::build(&records, protocol);
        assert_eq!(index.starts.len(), index.ends.len());
    }
    for r in &records {
        let _ = r.status();
        let _ = r.history();
    }
});
