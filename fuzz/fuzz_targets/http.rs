//! An HTTP response as a peer sends it: the completeness check the reader stops on, and the
//! parser of status line, headers and title.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portent_probe::http;

fuzz_target!(|data: &[u8]| {
    let _ = http::complete(data);
    if let Some(info) = http::parse(data) {
        for field in [&info.server, &info.title, &info.location]
            .into_iter()
            .flatten()
        {
            assert!(!field.contains('\x1b'), "unescaped peer text: {field:?}");
        }
    }
});
