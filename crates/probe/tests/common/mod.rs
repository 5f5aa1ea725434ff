//! Fixture servers for the probe tests: each listens on loopback and answers as one protocol
//! (or one kind of hostile peer) would. Written here, in our own code.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use portent_probe::xdr::{XdrReader, XdrWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves `handler` for every connection on `bind` (use "127.0.0.1:0" for any port).
pub async fn serve_on<F, Fut>(bind: &str, handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(bind)
        .await
        .unwrap_or_else(|e| panic!("fixture cannot bind {bind}: {e}"));
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(handler(s));
        }
    });
    addr
}

pub async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_on("127.0.0.1:0", handler).await
}

/// A server that sends `banner` on connect, then answers each request line with `reply`.
pub async fn banner(banner: &'static [u8]) -> SocketAddr {
    serve(move |mut s| async move {
        let _ = s.write_all(banner).await;
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
}

/// Reads until the request's `\r\n\r\n` (or 8 KiB), then writes `response` and closes.
pub async fn http(response: &'static [u8]) -> SocketAddr {
    serve(move |mut s| async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while got.len() < 8192 {
            let Ok(n) = s.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        if got.starts_with(b"GET ") {
            let _ = s.write_all(response).await;
        }
    })
    .await
}

/// Answers each line-oriented request: `reply(line)` returns the bytes to send (None: close).
pub async fn lines(reply: fn(&[u8]) -> Option<Vec<u8>>) -> SocketAddr {
    serve(move |mut s| async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let Ok(n) = s.read(&mut buf).await else {
                return;
            };
            if n == 0 || got.len() > 65536 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
            while let Some(pos) = got.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = got.drain(..=pos).collect();
                match reply(&line) {
                    Some(out) => {
                        if out.is_empty() {
                            continue;
                        }
                        if s.write_all(&out).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                }
            }
        }
    })
    .await
}

/// An ONC RPC server over TCP serving `programs` (number, low version, high version).
/// nibindd's LISTREG answers with `domains`. Anything not RPC-shaped closes the connection.
#[derive(Debug, Clone)]
pub struct RpcFixture {
    pub programs: Vec<(u32, u32, u32)>,
    pub domains: Vec<(&'static str, u32, u32)>,
    pub dump: Vec<(u32, u32, u32, u32)>,
}

pub async fn rpc_on(bind: &str, fx: RpcFixture) -> SocketAddr {
    serve_on(bind, move |s| rpc_conn(s, fx.clone())).await
}

async fn rpc_conn(mut s: TcpStream, fx: RpcFixture) {
    loop {
        let mut mark = [0u8; 4];
        if s.read_exact(&mut mark).await.is_err() {
            return;
        }
        let m = u32::from_be_bytes(mark);
        let len = (m & 0x7fff_ffff) as usize;
        if m & 0x8000_0000 == 0 || len > 4096 {
            return; // fragmented or absurd: not a caller we serve
        }
        let mut body = vec![0u8; len];
        if s.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut r = XdrReader::new(&body);
        let (Some(xid), Some(0), Some(2), Some(prog), Some(vers), Some(procedure)) =
            (r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32())
        else {
            return;
        };
        let mut w = XdrWriter::new();
        w.u32(xid).u32(1).u32(0).u32(0).opaque(&[]);
        match fx.programs.iter().find(|p| p.0 == prog) {
            None => {
                w.u32(1);
            }
            Some(&(_, lo, hi)) if vers < lo || vers > hi => {
                w.u32(2).u32(lo).u32(hi);
            }
            Some(_) => match (prog, procedure) {
                (_, 0) => {
                    w.u32(0);
                }
                (100_000, 4) => {
                    w.u32(0);
                    for &(p, v, prot, port) in &fx.dump {
                        w.u32(1).u32(p).u32(v).u32(prot).u32(port);
                    }
                    w.u32(0);
                }
                (200_100_001, 4) => {
                    w.u32(0).u32(0).u32(fx.domains.len() as u32);
                    for &(tag, tcp, udp) in &fx.domains {
                        w.opaque(tag.as_bytes()).u32(tcp).u32(udp);
                    }
                }
                _ => {
                    w.u32(3);
                }
            },
        }
        let reply = w.into_bytes();
        let mut out = (0x8000_0000u32 | reply.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(&reply);
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// Sleeps without panicking on the runtime's shutdown.
pub async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// A scripted server: for each step, waits for a request starting with the step's prefix
/// (anything else closes the connection), then sends the step's response.
pub async fn steps(script: Vec<(Vec<u8>, Vec<u8>)>) -> SocketAddr {
    let script = std::sync::Arc::new(script);
    serve(move |mut s| {
        let script = script.clone();
        async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            for (prefix, response) in script.iter() {
                while buf.len() < prefix.len().max(1) {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if !buf.starts_with(&prefix[..buf.len().min(prefix.len())]) {
                        return;
                    }
                }
                if !buf.starts_with(prefix) {
                    return;
                }
                buf.clear();
                if s.write_all(response).await.is_err() {
                    return;
                }
            }
            pause(2000).await;
        }
    })
    .await
}

/// BER TLV (short or two-byte long form).
pub fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if body.len() < 128 {
        out.push(body.len() as u8);
    } else {
        out.push(0x82);
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// A BSON document from (key, value) pairs; values: Ok(string) or Err(int32).
pub fn bson(fields: &[(&str, Result<&str, i32>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        match v {
            Ok(s) => {
                body.push(0x02);
                body.extend_from_slice(k.as_bytes());
                body.push(0);
                body.extend_from_slice(&((s.len() + 1) as i32).to_le_bytes());
                body.extend_from_slice(s.as_bytes());
                body.push(0);
            }
            Err(n) => {
                body.push(0x10);
                body.extend_from_slice(k.as_bytes());
                body.push(0);
                body.extend_from_slice(&n.to_le_bytes());
            }
        }
    }
    body.push(0);
    let mut out = ((body.len() + 4) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

/// An OP_MSG reply carrying `doc`, answering request `to`.
pub fn op_msg_reply(to: i32, doc: &[u8]) -> Vec<u8> {
    let mut out = ((16 + 5 + doc.len()) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(&1i32.to_le_bytes());
    out.extend_from_slice(&to.to_le_bytes());
    out.extend_from_slice(&2013i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    out.extend_from_slice(doc);
    out
}

/// A TLS acceptor with a fresh self-signed certificate for `names`, ALPN http/1.1.
pub fn tls_acceptor(names: &[&str]) -> tokio_rustls::TlsAcceptor {
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.key_pair.serialize_der(),
    ));
    let mut cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg))
}

/// A TLS acceptor whose certificate chain is the leaf and `extra` copies of a filler
/// certificate: a chain of any size (rustls sends it as given).
pub fn tls_acceptor_with_chain(extra: usize) -> tokio_rustls::TlsAcceptor {
    let ck = rcgen::generate_simple_self_signed(vec!["big-chain.test".to_string()]).unwrap();
    let filler = rcgen::generate_simple_self_signed(vec!["filler.test".to_string()]).unwrap();
    let mut chain = vec![ck.cert.der().clone()];
    chain.extend(std::iter::repeat_n(filler.cert.der().clone(), extra));
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.key_pair.serialize_der(),
    ));
    let cfg = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(cfg))
}

/// Reads one line (up to 4 KiB) byte by byte, so nothing after it is consumed.
pub async fn read_line(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.len() < 4096 {
        if s.read(&mut b).await.ok()? == 0 {
            return None;
        }
        line.push(b[0]);
        if b[0] == b'\n' {
            return Some(line);
        }
    }
    None
}
