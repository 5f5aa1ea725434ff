//! A leaf certificate as a TLS peer presents it (DER): the details a detection reports.
//! `cert_info` is a `#[doc(hidden)]` entry point to the code the handshake runs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_probe::tls;

fuzz_target!(|der: &[u8]| {
    let info = tls::cert_info(der);
    // The fingerprint is of any bytes; the rest only of a certificate that parsed.
    assert_eq!(info.sha256.as_ref().map(String::len), Some(64));
    assert!(info.sans.len() <= 32);
    for text in [&info.subject, &info.issuer].into_iter().flatten() {
        assert!(
            !text.contains('\x1b'),
            "unescaped certificate text: {text:?}"
        );
    }
});
