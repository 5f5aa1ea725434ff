//! Entry points for the fuzz targets in `fuzz/`, for code a listing runs that is not public
//! otherwise. Not part of the API: hidden from the docs, and may change at any time.

#[cfg(target_os = "linux")]
use crate::listening::{Error, RawSocket, Transport};

/// Parses one datagram of a sock_diag dump reply (to request number 1) exactly as a listing
/// does: the sockets it lists, and whether it ends the dump.
#[cfg(target_os = "linux")]
pub fn sock_diag_datagram(
    bytes: &[u8],
    transport: Transport,
) -> Result<(Vec<RawSocket>, bool), Error> {
    let mut out = Vec::new();
    let done =
        crate::listening::linux::parse_datagram(bytes, 1, transport, "fuzz", None, &mut out)?;
    Ok((out, done))
}

/// The effective uid in the text of `/proc/PID/status`, as the owner details read it.
#[cfg(target_os = "linux")]
pub fn status_uid(text: &str) -> Option<u32> {
    crate::listening::linux::effective_uid(text)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The fuzz seeds' sock_diag replies (captured from the kernel by `fuzz/make_seeds.py`)
    /// parse into the one loopback socket each holds: the seeds start the fuzzer from a
    /// reply the parser accepts, and every cut of one is an error or fewer sockets, never a
    /// panic.
    #[test]
    fn seed_replies_parse_and_their_cuts_do_not_panic() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/listening");
        for (file, transport, address) in [
            ("tcp4", Transport::Tcp, "127.0.0.1"),
            ("tcp6", Transport::Tcp, "::1"),
            ("udp4", Transport::Udp, "127.0.0.1"),
            ("udp6", Transport::Udp, "::1"),
        ] {
            // The datagram's length, the datagram, then texts (fuzz/fuzz_targets/listening.rs).
            let seed = std::fs::read(dir.join(file)).unwrap();
            let (len, rest) = seed.split_first_chunk::<2>().unwrap();
            let reply = &rest[..usize::from(u16::from_le_bytes(*len))];
            let (sockets, done) = sock_diag_datagram(reply, transport).unwrap();
            assert!(done, "{file}");
            assert_eq!(sockets.len(), 1, "{file}: {sockets:?}");
            assert_eq!(sockets[0].address.to_string(), address);
            assert_eq!(sockets[0].protocol, transport);
            assert_ne!(sockets[0].port, 0);
            for n in 0..reply.len() {
                if let Ok((s, _)) = sock_diag_datagram(&reply[..n], transport) {
                    assert!(s.len() <= 1);
                }
            }
        }
    }
}
