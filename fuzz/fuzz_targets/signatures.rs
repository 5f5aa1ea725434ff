//! A user's signature file (`--signatures FILE`, TOML) and a peer reply matched against it.
//! The input is the file, then a NUL byte, then the reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_probe::{SignatureSet, signatures};

fuzz_target!(|input: &[u8]| {
    let (file, reply) = match input.iter().position(|&b| b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &b""[..]),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    let Ok(set) = SignatureSet::parse(text, "fuzz.toml") else {
        return;
    };
    for kind in signatures::KINDS {
        if let Some(hit) = set.find(kind, reply) {
            assert_eq!(&hit.service, &hit.service.to_lowercase());
            assert!((0.0..=1.0).contains(&hit.confidence));
        }
    }
});
