//! Hostile peers: each detection must end within its deadline, read at most its byte cap, and
//! report what it saw as escaped text.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use portent_probe::{Detection, Detector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(3);
const CAP: usize = 16 * 1024;

async fn run(addr: std::net::SocketAddr) -> Detection {
    let d = Detector::builder()
        .timeout(TIMEOUT)
        .max_bytes(CAP)
        .build()
        .unwrap();
    let t0 = Instant::now();
    let out = d.detect(addr, None).await;
    let took = t0.elapsed();
    eprintln!("{took:?} {}", serde_json::to_string(&out).unwrap());
    assert!(
        took <= TIMEOUT + Duration::from_millis(500),
        "took {took:?}"
    );
    assert!(out.bytes_read <= CAP, "read {}", out.bytes_read);
    let json = serde_json::to_string(&out).unwrap();
    // Evidence keeps line breaks and tabs (JSON escapes them once; terminals escape them on
    // print); nothing else outside printable ASCII.
    assert!(
        out.evidence
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) || matches!(b, b'\r' | b'\n' | b'\t')),
        "unescaped byte in {:?}",
        out.evidence
    );
    for field in [
        &out.verdict.sentence,
        out.extra.as_ref().unwrap_or(&String::new()),
    ] {
        assert!(
            field.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "unescaped byte in {field:?}"
        );
    }
    assert!(!json.contains("\\u001b"), "escape reached JSON raw: {json}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tarpit_accepts_and_never_speaks() {
    let addr = serve(|s| async move {
        pause(60_000).await;
        drop(s);
    })
    .await;
    let d = run(addr).await;
    assert_eq!(d.service, "unknown");
    assert_eq!(d.evidence, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_stream_is_capped() {
    let addr = serve(|mut s| async move {
        let chunk = vec![b'A'; 65536];
        while s.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let d = run(addr).await;
    assert_eq!(d.service, "unknown");
    assert!(
        d.evidence.starts_with("AAAA") && d.evidence.ends_with("..."),
        "{}",
        d.evidence
    );
    assert!(d.evidence.len() <= 260);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_per_second_drip() {
    let addr = serve(|mut s| async move {
        for b in b"SSH-2.0-drip\r\n".iter().cycle() {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            pause(1000).await;
        }
    })
    .await;
    let d = run(addr).await;
    assert_eq!(d.service, "unknown");
    assert!(d.evidence.starts_with('S'), "{}", d.evidence);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_answer_to_tls_client_hello() {
    let addr = serve(|mut s| async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0
                || s.write_all(b"\x16\x03\x01\x00\x05garbage\x1b[31m\x00")
                    .await
                    .is_err()
            {
                return;
            }
        }
    })
    .await;
    let d = run(addr).await;
    assert_eq!(d.service, "unknown");
    assert!(d.tls.is_none());
    assert!(d.probes.contains(&"tls".to_string()), "{:?}", d.probes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_right_after_accept() {
    let addr = serve(|s| async move {
        // SO_LINGER 0 then close sends a reset instead of a FIN.
        let s = s.into_std().unwrap();
        let s = socket2::Socket::from(s);
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    let d = run(addr).await;
    // nmap's word for it: the handshake completed, then the peer threw the connection away.
    assert_eq!(d.service, "tcpwrapped");
    assert!(d.elapsed_ms < 1500, "{}", d.elapsed_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_megabyte_line() {
    let addr = serve(|mut s| async move {
        let big = vec![b'x'; 10 * 1024 * 1024];
        let _ = s.write_all(&big).await;
        let _ = s.write_all(b"\n").await;
    })
    .await;
    let d = run(addr).await;
    assert_eq!(d.service, "unknown");
    assert!(d.bytes_read <= 4096 + 8192, "{}", d.bytes_read);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_and_terminal_escapes_are_escaped() {
    let addr = banner(b"\xc3\x28 hello \x1b]0;pwned\x07\x1b[2J\x9b\r\n").await;
    let d = run(addr).await;
    assert_eq!(d.service, "unknown");
    assert_eq!(
        d.evidence,
        "\\xc3( hello \\x1b]0;pwned\\x07\\x1b[2J\\x9b\r\n"
    );
    assert!(
        d.verdict.sentence.contains("did not recognise")
            || d.verdict.sentence.contains("do not recognise")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_http_headers_are_escaped() {
    let addr =
        http(b"HTTP/1.1 200 OK\r\nServer: evil\x1b[2J\xff/1\r\n\r\n<title>\x1b]0;x\x07</title>")
            .await;
    let d = run(addr).await;
    assert_eq!(d.service, "http");
    let h = d.http.unwrap();
    assert_eq!(h.server.as_deref(), Some("evil\\x1b[2J\\xff/1"));
    assert_eq!(h.title.as_deref(), Some("\\x1b]0;x\\x07"));
}
