//! A peer's first bytes (a banner, or a reply to a probe) against the built-in signatures,
//! and the escaping every peer byte goes through before it is shown.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use portent_probe::{SignatureSet, escape, signatures};

static CORE: LazyLock<SignatureSet> =
    LazyLock::new(|| SignatureSet::core().expect("the built-in signatures parse"));

fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fuzz_target!(|data: &[u8]| {
    for kind in signatures::KINDS {
        if let Some(hit) = CORE.find(kind, data) {
            // Captured peer bytes reach the product, version and extra fields escaped.
            for field in [&hit.product, &hit.version, &hit.extra]
                .into_iter()
                .flatten()
            {
                assert!(!field.contains('\x1b'), "{field:?}");
            }
        }
    }
    assert!(printable(&escape::escape_bytes(data, 64)));
    let text = String::from_utf8_lossy(data);
    assert!(!escape::escape_text(&text, 64).contains('\x1b'));
});
