//! Exact identifications against fixture servers, one per protocol.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use portent_probe::{Detection, Detector, Matches};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn detector() -> Detector {
    Detector::builder()
        .timeout(Duration::from_secs(4))
        .build()
        .unwrap()
}

fn show(d: &Detection) {
    eprintln!("{}", serde_json::to_string_pretty(d).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_banner_names_openssh() {
    let addr = banner(b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n").await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "ssh");
    assert_eq!(d.product.as_deref(), Some("OpenSSH"));
    assert_eq!(d.version.as_deref(), Some("9.6p1 Debian 3"));
    assert_eq!(d.cpe.as_deref(), Some("cpe:/a:openbsd:openssh:9.6p1"));
    assert_eq!(d.evidence, "SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n");
    assert_eq!(d.probes, ["banner"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_expectation_gives_verdict() {
    let addr = banner(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    let d = detector().detect(addr, Some("ssh")).await;
    assert_eq!(d.verdict.matches, Matches::True);
    let d = detector().detect(addr, Some("http")).await;
    assert_eq!(d.verdict.matches, Matches::False);
    assert!(
        d.verdict
            .sentence
            .contains("it speaks SSH (OpenSSH 9.6): not the expected http"),
        "{}",
        d.verdict.sentence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_server_is_not_karrigell() {
    let addr = http(b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nContent-Type: text/html\r\n\r\n<html><head><title>Directory listing for /</title></head></html>").await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "http");
    assert_eq!(d.product.as_deref(), Some("SimpleHTTPServer"));
    assert_eq!(d.version.as_deref(), Some("0.6"));
    assert!(
        d.extra
            .as_deref()
            .is_some_and(|e| e.contains("Python 3.11.2"))
    );
    let h = d.http.as_ref().unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.title.as_deref(), Some("Directory listing for /"));
    // The probes run side by side on their own connections; HTTP is the first sent.
    assert_eq!(d.probes[..2], ["banner", "http"]);
    assert!(d.elapsed_ms < 1000, "{}", d.elapsed_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_elasticsearch_and_redirect() {
    let addr = http(b"HTTP/1.1 302 Found\r\nServer: elasticsearch\r\nLocation: /_plugin/\r\nContent-Length: 0\r\n\r\n").await;
    let d = detector().detect(addr, None).await;
    assert_eq!(d.service, "http");
    assert_eq!(d.product.as_deref(), Some("Elasticsearch"));
    assert_eq!(
        d.http.as_ref().unwrap().location.as_deref(),
        Some("/_plugin/")
    );
    assert!(
        d.extra
            .as_deref()
            .unwrap()
            .contains("redirects to /_plugin/")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_reports_certificate_and_inner_http() {
    let acceptor = tls_acceptor(&["fixture.test", "127.0.0.1"]);
    let addr = serve(move |s| {
        let acceptor = acceptor.clone();
        async move {
            let Ok(mut t) = acceptor.accept(s).await else { return };
            let mut buf = [0u8; 2048];
            let _ = t.read(&mut buf).await;
            let _ = t.write_all(b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nContent-Length: 27\r\n\r\n<title>secure fixture</title>").await;
            let _ = t.shutdown().await;
        }
    })
    .await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "https");
    assert_eq!(d.product.as_deref(), Some("nginx"));
    assert_eq!(d.version.as_deref(), Some("1.24.0"));
    let tls = d.tls.as_ref().unwrap();
    assert_eq!(tls.version.as_deref(), Some("TLSv1.3"));
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert!(
        tls.sans.contains(&"fixture.test".to_string()),
        "{:?}",
        tls.sans
    );
    assert!(
        tls.sans.contains(&"127.0.0.1".to_string()),
        "{:?}",
        tls.sans
    );
    assert!(tls.subject.is_some() && tls.not_after.is_some());
    assert_eq!(
        d.http.as_ref().unwrap().title.as_deref(),
        Some("secure fixture")
    );
    // The TLS probe runs beside the plaintext ones (all started at once, in their order) and
    // goes on inside the tunnel: its follow-up comes last.
    assert_eq!(
        d.probes[..4],
        ["banner", "http", "rpc", "tls"],
        "{:?}",
        d.probes
    );
    assert_eq!(d.probes.last().map(String::as_str), Some("tls-inner"));
}

/// Finding 7 of issue 13: a server whose certificate chain is larger than the byte cap (64 KiB
/// by default) was reported as "answered in a way we do not recognise". It speaks TLS; the
/// handshake could not finish, and the result says both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_7_tls_chain_over_the_byte_cap_is_reported_as_tls() {
    // About 400 bytes per filler certificate: 200 of them make an 80 KB chain.
    let acceptor = tls_acceptor_with_chain(200);
    let addr = serve(move |s| {
        let acceptor = acceptor.clone();
        async move {
            let _ = acceptor.accept(s).await;
        }
    })
    .await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "unknown");
    assert!(d.probes.contains(&"tls".to_string()), "{:?}", d.probes);
    let extra = d.extra.as_deref().unwrap_or_default();
    assert!(extra.starts_with("TLS; the handshake failed: "), "{extra}");
    // rustls refuses the 80 KB Certificate message (its limit is 64 KiB), or our byte cap
    // ends it first: either way the sentence names TLS and the likely cause.
    assert!(
        d.verdict
            .sentence
            .contains("it speaks TLS, but the handshake failed: "),
        "{}",
        d.verdict.sentence
    );
    assert!(
        d.verdict.sentence.ends_with("(a large certificate chain?)"),
        "{}",
        d.verdict.sentence
    );
    assert!(
        !d.verdict.sentence.contains("do not recognise"),
        "{}",
        d.verdict.sentence
    );
    assert!(
        d.error
            .as_deref()
            .unwrap_or_default()
            .starts_with("TLS handshake failed"),
        "{:?}",
        d.error
    );
    assert!(d.bytes_read <= 64 * 1024, "read {}", d.bytes_read);
}

/// A TLS server that refuses our ClientHello with an alert speaks TLS too: the alert is the
/// handshake error, not an unknown answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alert_to_client_hello_is_reported_as_tls() {
    let addr = serve(|mut s| async move {
        let mut buf = [0u8; 4096];
        // Whatever arrives (a plaintext probe or a ClientHello): a fatal handshake_failure
        // alert, as a TLS server with no cipher in common sends.
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 || s.write_all(b"\x15\x03\x03\x00\x02\x02\x28").await.is_err() {
                return;
            }
        }
    })
    .await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "unknown");
    assert!(
        d.verdict
            .sentence
            .contains("it speaks TLS, but the handshake failed: "),
        "{}",
        d.verdict.sentence
    );
    assert!(
        d.verdict.sentence.contains("alert"),
        "{}",
        d.verdict.sentence
    );
}

/// NetInfo on port 797, where the port pages say it lived. Root (CI) can bind it; failing to
/// bind fails the test rather than skipping it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn netinfo_on_797_is_named_netinfo() {
    let addr = rpc_on(
        "127.0.0.1:797",
        RpcFixture {
            programs: vec![(200_100_000, 2, 2)],
            domains: vec![],
            dump: vec![],
        },
    )
    .await;
    assert_eq!(addr.port(), 797);
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "netinfo");
    assert_eq!(d.product.as_deref(), Some("NetInfo netinfod"));
    assert_eq!(d.version.as_deref(), Some("2"));
    let rpc = d.rpc.as_ref().unwrap();
    assert_eq!(rpc.programs.len(), 1);
    assert_eq!(
        (rpc.programs[0].low_version, rpc.programs[0].high_version),
        (2, 2)
    );
    assert_eq!(d.verdict.matches, Matches::False);
    assert_eq!(
        d.verdict.sentence,
        "797/tcp is unassigned; it speaks NetInfo (netinfod v2): a custom service on a ghost port"
    );
    assert!(d.elapsed_ms < 1500, "{}", d.elapsed_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nibind_lists_domain_tags() {
    let fx = RpcFixture {
        programs: vec![(200_100_001, 1, 1)],
        domains: vec![("local", 1033, 1033), ("network", 1034, 1034)],
        dump: vec![],
    };
    let addr = rpc_on("127.0.0.1:0", fx).await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "nibind");
    assert_eq!(d.version.as_deref(), Some("1"));
    let tags: Vec<&str> = d
        .rpc
        .as_ref()
        .unwrap()
        .netinfo_domains
        .iter()
        .map(|t| t.tag.as_str())
        .collect();
    assert_eq!(tags, ["local", "network"]);
    assert!(
        d.extra
            .as_deref()
            .unwrap()
            .contains("domains local, network")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portmapper_dump_and_unknown_program() {
    let fx = RpcFixture {
        programs: vec![(100_000, 2, 4)],
        domains: vec![],
        dump: vec![
            (100_000, 2, 6, 111),
            (200_100_000, 2, 6, 1033),
            (300_019, 1, 17, 700),
        ],
    };
    let addr = rpc_on("127.0.0.1:0", fx).await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "rpcbind");
    let maps = &d.rpc.as_ref().unwrap().mappings;
    assert_eq!(maps.len(), 3);
    assert_eq!(maps[1].name.as_deref(), Some("netinfo"));
    assert_eq!(maps[2].protocol, "udp");

    let addr = rpc_on(
        "127.0.0.1:0",
        RpcFixture {
            programs: vec![(391_000, 1, 3)],
            domains: vec![],
            dump: vec![],
        },
    )
    .await;
    let d = detector().detect(addr, None).await;
    assert_eq!(d.service, "rpc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_memcached() {
    let redis = lines(|l| {
        if l.starts_with(b"PING") {
            Some(b"+PONG\r\n".to_vec())
        } else if l.starts_with(b"server") {
            Some(
                b"$40\r\n# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n"
                    .to_vec(),
            )
        } else if l.starts_with(b"GET ") || l.starts_with(b"Host:") {
            None
        } else {
            Some(Vec::new())
        }
    })
    .await;
    let d = detector().detect(redis, None).await;
    show(&d);
    assert_eq!(d.service, "redis");
    assert_eq!(d.version.as_deref(), Some("7.0.15"));

    let mc = lines(|l| match l {
        b"version\r\n" => Some(b"VERSION 1.6.21\r\n".to_vec()),
        _ => Some(b"ERROR\r\n".to_vec()),
    })
    .await;
    let d = detector().detect(mc, None).await;
    show(&d);
    assert_eq!(d.service, "memcache");
    assert_eq!(d.product.as_deref(), Some("memcached"));
    assert_eq!(d.version.as_deref(), Some("1.6.21"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greeting_protocols() {
    type Case = (
        &'static [u8],
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );
    let cases: &[Case] = &[
        (
            b"220 mail.example ESMTP Postfix (Debian/GNU)\r\n",
            "smtp",
            Some("Postfix smtpd"),
            None,
        ),
        (
            b"220 (vsFTPd 3.0.3)\r\n",
            "ftp",
            Some("vsftpd"),
            Some("3.0.3"),
        ),
        (
            b"+OK Dovecot (Debian) ready.\r\n",
            "pop3",
            Some("Dovecot pop3d"),
            None,
        ),
        (
            b"* OK [CAPABILITY IMAP4rev1 LITERAL+] Dovecot (Debian) ready.\r\n",
            "imap",
            Some("Dovecot imapd"),
            None,
        ),
        (b"RFB 003.008\n", "rfb", Some("VNC"), None),
        (b"\xff\xfd\x18\xff\xfd\x20", "telnet", None, None),
        (
            b"\x5b\x00\x00\x00\x0a11.4.3-MariaDB-1\x00\x01\x02\x03\x04",
            "mysql",
            Some("MariaDB"),
            Some("11.4.3-MariaDB-1"),
        ),
        (
            b"\x4a\x00\x00\x00\x0a8.0.36\x00\x01\x02\x03\x04",
            "mysql",
            Some("MySQL"),
            Some("8.0.36"),
        ),
    ];
    for (greeting, service, product, version) in cases {
        let addr = banner(greeting).await;
        let d = detector().detect(addr, None).await;
        assert_eq!(d.service, *service, "{}", d.evidence);
        assert_eq!(d.product.as_deref(), *product, "{}", d.evidence);
        assert_eq!(d.version.as_deref(), *version, "{}", d.evidence);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_port_is_unknown_with_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let d = detector().detect(addr, None).await;
    assert_eq!(d.service, "unknown");
    assert_eq!(d.verdict.matches, Matches::Unknown);
    assert!(d.error.as_deref().unwrap().starts_with("connect to"));
}

#[test]
fn extra_signature_file_is_tried_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, "[[signature]]\nservice = \"ssh\"\npattern = '^SSH-2.0-OpenSSH_9'\nproduct = \"Our bastion\"\n").unwrap();
    let d = Detector::builder().signature_file(&path).build().unwrap();
    let hit = d
        .signatures()
        .find("banner", b"SSH-2.0-OpenSSH_9.6\r\n")
        .unwrap();
    assert_eq!(hit.product.as_deref(), Some("Our bastion"));
    assert!(
        Detector::builder()
            .signature_file(dir.path().join("missing.toml"))
            .build()
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_starttls_records_certificate() {
    let acceptor = tls_acceptor(&["mx.fixture.test"]);
    let addr = serve(move |mut s| {
        let acceptor = acceptor.clone();
        async move {
            let _ = s.write_all(b"220 mx.fixture.test ESMTP Postfix (Debian/GNU)\r\n").await;
            while let Some(line) = read_line(&mut s).await {
                if line.starts_with(b"EHLO") {
                    let _ = s.write_all(b"250-mx.fixture.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n").await;
                } else if line.starts_with(b"STARTTLS") {
                    let _ = s.write_all(b"220 2.0.0 Ready to start TLS\r\n").await;
                    let Ok(mut t) = acceptor.accept(s).await else { return };
                    let mut buf = [0u8; 256];
                    let _ = t.read(&mut buf).await;
                    return;
                } else {
                    return;
                }
            }
        }
    })
    .await;
    let d = detector().detect(addr, None).await;
    show(&d);
    assert_eq!(d.service, "smtp");
    assert_eq!(d.product.as_deref(), Some("Postfix smtpd"));
    assert_eq!(d.extra.as_deref(), Some("host mx.fixture.test; STARTTLS"));
    let tls = d.tls.as_ref().unwrap();
    assert_eq!(tls.sans, ["mx.fixture.test"]);
    assert_eq!(d.probes, ["banner", "starttls"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portmapper_dump_over_udp() {
    use portent_probe::xdr::{XdrReader, XdrWriter};
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let mut r = XdrReader::new(&buf[..n]);
            let (Some(xid), Some(0), Some(2), Some(100_000), Some(2), Some(4)) =
                (r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32())
            else {
                continue;
            };
            let mut w = XdrWriter::new();
            w.u32(xid).u32(1).u32(0).u32(0).opaque(&[]).u32(0);
            w.u32(1).u32(100_000).u32(2).u32(17).u32(111);
            w.u32(1).u32(200_100_001).u32(1).u32(17).u32(1021);
            w.u32(0);
            let _ = sock.send_to(&w.into_bytes(), from).await;
        }
    });
    let maps = detector().portmap_dump_udp(addr).await.unwrap();
    assert_eq!(maps.len(), 2);
    assert_eq!(maps[1].name.as_deref(), Some("nibind"));
    assert_eq!((maps[1].protocol.as_str(), maps[1].port), ("udp", 1021));

    // Nobody there: a timeout, not a hang.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let d = Detector::builder()
        .timeout(std::time::Duration::from_millis(400))
        .build()
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(
        d.portmap_dump_udp(silent.local_addr().unwrap())
            .await
            .is_err()
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_ports_concurrently_in_order() {
    let mut targets = Vec::new();
    for i in 0..12 {
        let addr = if i % 2 == 0 {
            banner(b"SSH-2.0-OpenSSH_9.6\r\n").await
        } else {
            http(b"HTTP/1.0 200 OK\r\nServer: nginx/1.24.0\r\n\r\n").await
        };
        targets.push((addr, None));
    }
    let t0 = std::time::Instant::now();
    let out = detector().detect_all(&targets, 6).await;
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert_eq!(out.len(), 12);
    for (i, d) in out.iter().enumerate() {
        assert_eq!(d.addr, targets[i].0);
        assert_eq!(d.service, if i % 2 == 0 { "ssh" } else { "http" });
    }
}

/// `detect_each` sends each result as it completes; dropping its future (what Ctrl-C does in
/// the CLI) stops the detections still running, and the ones sent stay received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detect_each_reports_as_it_goes_and_stops_when_dropped() {
    let ssh = banner(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    let tarpit = serve(|s| async move {
        pause(60_000).await;
        drop(s);
    })
    .await;
    let targets = vec![(tarpit, None), (ssh, None)];
    let slow = Detector::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let t0 = std::time::Instant::now();
    let first = {
        let all = slow.detect_each(&targets, 4, tx);
        tokio::pin!(all);
        tokio::select! {
            () = &mut all => panic!("the tarpit cannot be done yet"),
            first = rx.recv() => first,
        }
        // `all` is dropped here: the tarpit's detection is aborted.
    };
    let (i, d) = first.unwrap();
    assert_eq!(i, 1);
    assert_eq!(d.addr, ssh);
    assert_eq!(d.service, "ssh");
    // Every sender went with the aborted tasks: the channel ends without the tarpit's result.
    let rest = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert!(matches!(rest, Ok(None)), "{rest:?}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

/// A listener that accepts and closes, resets, or stays silent and then closes is nmap's
/// `tcpwrapped`, with no probe error shown as if the service had said it; one that accepts
/// and stays silent until the detection's time runs out is `unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_then_close_is_tcpwrapped() {
    let close = serve(|s| async move { drop(s) }).await;
    let reset = serve(|s| async move {
        // SO_LINGER 0: the close sends a reset instead of a FIN.
        let s = socket2::Socket::from(s.into_std().unwrap());
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    // Silent for longer than the banner wait, closing while the first probe runs (the
    // length portent waits for: docs/detection.md).
    let silent_then_close = serve(|s| async move {
        pause(300).await;
        drop(s);
    })
    .await;
    for (what, addr) in [
        ("close", close),
        ("reset", reset),
        ("silence, then close", silent_then_close),
    ] {
        let d = detector().detect(addr, None).await;
        show(&d);
        assert_eq!(d.service, "tcpwrapped", "{what}");
        assert!((d.confidence - 0.8).abs() < 1e-6, "{what}");
        assert_eq!(d.verdict.matches, Matches::Unknown, "{what}");
        assert!(d.verdict.sentence.contains("(tcpwrapped)"), "{what}");
        assert_eq!(d.error, None, "{what}");
        assert!(d.evidence.is_empty(), "{what}");
    }
    let tarpit = serve(|s| async move {
        pause(10_000).await;
        drop(s);
    })
    .await;
    let d = Detector::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
        .detect(tarpit, None)
        .await;
    assert_eq!(d.service, "unknown");
}

/// Issue 16: an RFC 862 echo service sends back our LDAP SearchRequest (and every other
/// probe): it is an echo, never LDAP (or SMB, or TLS) made from our own bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_service_is_an_echo_not_what_we_sent() {
    let addr = serve(|mut s| async move {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    })
    .await;
    for expected in [None, Some("ldap"), Some("microsoft-ds"), Some("https")] {
        let d = detector().detect(addr, expected).await;
        show(&d);
        assert_eq!(d.service, "echo", "expecting {expected:?}");
        assert!(d.product.is_none());
    }
}

/// Issue 16: a hostile peer on 2049 that answers with an RPC record mark followed by SMB2
/// bytes is not SMB: an SMB reply is an NBSS session message (type 0) with the server's flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_marked_smb_bytes_are_not_smb() {
    let addr = serve(|mut s| async move {
        let mut buf = [0u8; 4096];
        if let Ok(n) = s.read(&mut buf).await
            && n > 0
        {
            let mut reply = b"\x80\x01\x86\xc4".to_vec();
            reply.extend_from_slice(b"\xfeSMB");
            reply.extend_from_slice(&64u16.to_le_bytes());
            reply.extend_from_slice(&[0; 58]);
            reply.extend_from_slice(&65u16.to_le_bytes());
            reply.extend_from_slice(&[0; 64]);
            let _ = s.write_all(&reply).await;
            pause(300).await;
        }
    })
    .await;
    let d = detector().detect(addr, Some("microsoft-ds")).await;
    show(&d);
    assert_ne!(d.service, "microsoft-ds");
    assert!(d.confidence < 0.5, "{}", d.confidence);
}

/// Issue 16: a server with a per-address connection limit (ngIRCd allows five) turns the
/// probes away ("too many connections") while our idle banner connection holds its only
/// slot here. The engine lets the banner connection go and asks again one at a time, so the
/// answer names the product, not the refusal; a server that is always full still says irc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_full_of_our_connections_is_asked_again_one_at_a_time() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const REFUSED: &[u8] =
        b"ERROR :Connection refused, too many connections from your IP address\r\n";
    let slots = |n: usize| {
        let open = Arc::new(AtomicUsize::new(0));
        async move {
            serve(move |mut s| {
                let open = open.clone();
                async move {
                    if open.fetch_add(1, Ordering::SeqCst) >= n {
                        let _ = s.write_all(REFUSED).await;
                    } else {
                        let mut buf = [0u8; 1024];
                        if let Ok(k) = s.read(&mut buf).await
                            && buf[..k].starts_with(b"GET ")
                        {
                            let _ = s
                                .write_all(
                                    b"ERROR :\"Oops, HTTP request received? This is IRC!\"\r\n",
                                )
                                .await;
                        }
                    }
                    drop(s);
                    open.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .await
        }
    };
    let one_slot = slots(1).await;
    let d = detector().detect(one_slot, None).await;
    show(&d);
    assert_eq!(d.service, "irc");
    assert_eq!(d.product.as_deref(), Some("ngircd"));
    assert!(d.evidence.contains("Oops"), "{}", d.evidence);

    let full = slots(0).await;
    let d = detector().detect(full, None).await;
    show(&d);
    assert_eq!(d.service, "irc");
    assert_eq!(d.product, None);
    assert!(
        d.evidence.contains("too many connections"),
        "{}",
        d.evidence
    );
}

/// Probe connections are a budget of the host address (10), shared by its ports in detection:
/// a lone silent port gets more than the old 4 at once, and two silent ports of one host
/// together never get more than the budget (plus one banner connection each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_connections_are_a_budget_per_host() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    async fn silent_pair(open: Arc<AtomicUsize>, most: Arc<AtomicUsize>) -> [SocketAddr; 2] {
        let mut out = Vec::new();
        for _ in 0..2 {
            let (open, most) = (open.clone(), most.clone());
            out.push(
                serve(move |mut s| {
                    let (open, most) = (open.clone(), most.clone());
                    async move {
                        let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        let mut buf = [0u8; 512];
                        // Silent: reads until the prober hangs up.
                        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                        open.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .await,
            );
        }
        [out[0], out[1]]
    }
    use std::net::SocketAddr;
    let d = Detector::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();

    let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let [a, _] = silent_pair(open.clone(), most.clone()).await;
    let one = d.detect(a, None).await;
    assert_eq!(one.service, "unknown", "{one:?}");
    let lone = most.load(Ordering::SeqCst);
    assert!(
        lone > 5 && lone <= 12,
        "a lone port had {lone} connections open at once"
    );

    let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let [a, b] = silent_pair(open.clone(), most.clone()).await;
    let both = d.detect_all(&[(a, None), (b, None)], 2).await;
    assert!(both.iter().all(|x| x.service == "unknown"), "{both:?}");
    // 10 probes and 2 banner connections, and two more for the fixture's lag: it counts a
    // connection closed when it reads the EOF, a moment after the prober let it go and
    // opened the next. Without the host's budget it would be 28 (13 probes per port).
    let two = most.load(Ordering::SeqCst);
    assert!(
        two <= 14,
        "two ports of one host had {two} connections open at once"
    );
}
