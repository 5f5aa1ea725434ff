//! UDP replies as a peer sends them, through the parser of every payload in the catalogue.
//! The first byte picks the payload (by index into the names, sorted); the payload is built
//! with every id byte zero, so inputs that start a reply with zeros reach past the id checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_probe::udp::{Catalogue, Reply, identify};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, reply)) = data.split_first() else {
        return;
    };
    let mut payloads: Vec<_> = Catalogue::embedded().payloads().iter().collect();
    payloads.sort_by(|a, b| a.name.cmp(&b.name));
    let payload = payloads[usize::from(pick) % payloads.len()];
    let sent = payload.build(&mut || 0);
    if let Reply::Answer(i) = identify(payload, &sent, reply) {
        assert!((0.0..=1.0).contains(&i.confidence));
        for field in [&i.product, &i.version, &i.extra].into_iter().flatten() {
            assert!(!field.chars().any(char::is_control), "unescaped: {field:?}");
        }
    }
});
