//! Service detection: what actually speaks on a TCP port.
//!
//! The engine (see `docs/detection.md`) connects, listens for a banner for a short adaptive
//! while, and meanwhile sends probes, each on its own connection and within a budget of
//! connections per host address shared by that host's ports in detection (`hosts`), ordered
//! by what the registry expects on the port and by likelihood: HTTP, ONC RPC (with NetInfo),
//! TLS (and the service inside it), Redis, memcached, PostgreSQL, MongoDB, LDAP, DNS, RDP,
//! SMB (and, over SMB2, NTLMSSP's CHALLENGE, which tells Samba from Windows), MQTT, AMQP.
//! Every port's work is bounded by a total deadline and a byte cap shared by all of its
//! connections. Peer bytes only ever leave this crate escaped.
//!
//! UDP has no connection to probe over: [`udp`] holds the payload catalogue (`data/udp/`) and
//! the reply parsers, with no I/O of its own; the scan engine sends and receives, and
//! [`udp::detection`] turns an identified reply into the same [`Detection`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), portent_probe::BuildError> {
//! use std::time::Duration;
//! let detector = portent_probe::Detector::builder()
//!     .timeout(Duration::from_secs(5))
//!     .max_bytes(64 * 1024)
//!     .build()?;
//! let d = detector.detect("127.0.0.1:22".parse().unwrap(), None).await;
//! println!("{}: {}", d.service, d.verdict.sentence);
//! # Ok(()) }
//! ```

pub mod binary;
mod budget;
mod engine;
pub mod escape;
mod hosts;
pub mod http;
pub mod rpc;
pub mod signatures;
pub mod tls;
pub mod udp;
pub mod xdr;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use portent_registry::Registry;
use serde::{Deserialize, Serialize};

pub use http::HttpInfo;
pub use rpc::{Mapping, NetInfoDomain};
pub use signatures::{SignatureError, SignatureSet};
pub use tls::TlsInfo;

/// The result of detecting one port.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Detection {
    pub addr: SocketAddr,
    /// Lowercase IANA-style service name (`ssh`, `http`, `https`, `smtp`, `redis`, `netinfo`,
    /// `nibind`, `rpc` for an RPC program we cannot name), or `unknown`.
    pub service: String,
    pub product: Option<String>,
    pub version: Option<String>,
    /// Any other detail (protocol version, host name, HTTP title), escaped.
    pub extra: Option<String>,
    /// Present when the port spoke TLS.
    pub tls: Option<TlsInfo>,
    /// Present when the service spoke HTTP (directly or inside TLS).
    pub http: Option<HttpInfo>,
    /// Present when the port spoke ONC RPC.
    pub rpc: Option<RpcInfo>,
    pub cpe: Option<String>,
    /// 0..1: how sure the identification is (0 for `unknown`).
    pub confidence: f32,
    /// The bytes that decided it (or the first bytes seen), escaped and capped: printable
    /// ASCII, `\xNN` and `\\`, with line breaks and tabs kept as they are (whoever prints it
    /// on a terminal escapes them; JSON escapes them once).
    pub evidence: String,
    /// The identification set against the registry.
    pub verdict: Verdict,
    /// Bytes read from the peer, over all connections (never more than the cap).
    pub bytes_read: usize,
    pub elapsed_ms: u64,
    /// Which probes ran, in order ("banner", "http", "rpc", "tls", ...).
    pub probes: Vec<String>,
    /// Why detection could not complete (connect failed, reset, deadline), if it could not.
    pub error: Option<String>,
}

/// What ONC RPC revealed.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct RpcInfo {
    /// Programs answering on this port, with their supported version ranges.
    pub programs: Vec<RpcProgram>,
    /// The portmapper's registrations (DUMP), when the port is a portmapper.
    pub mappings: Vec<Mapping>,
    /// nibindd's registered NetInfo domains (LISTREG), when the port is nibindd.
    pub netinfo_domains: Vec<NetInfoDomain>,
}

/// One RPC program found on the port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RpcProgram {
    pub program: u32,
    /// Our name for it, when we know it.
    pub name: Option<String>,
    pub low_version: u32,
    pub high_version: u32,
}

/// Whether the service found is what the registry expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Matches {
    True,
    /// Not the registered service, but one commonly run on this port by a documented
    /// convention (HTTPS on 8443, SSH on 2222: `crates/registry/data/knowledge/conventions.toml`).
    Conventional,
    False,
    Unknown,
}

/// The identification against the registry. In JSON `matches` is a boolean (null when
/// unknown) and `conventional` is set when the match rests on a documented convention rather
/// than the registry (docs/json.md); documents saved before that, with `matches` as a word,
/// still read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "VerdictJson", from = "VerdictJson")]
pub struct Verdict {
    /// The registry's service for this port on TCP (UDP for a UDP detection), or the
    /// caller's expectation.
    pub expected: Option<String>,
    /// The registry's status for this port on TCP (UDP for a UDP detection): assigned,
    /// reserved or unassigned.
    pub registry_status: String,
    pub matches: Matches,
    /// One sentence: "797/tcp is unassigned; it speaks SSH (OpenSSH 9.6p1): a custom service
    /// on a ghost port".
    pub sentence: String,
}

/// [`Verdict`] as JSON has it.
#[derive(Serialize, Deserialize)]
struct VerdictJson {
    expected: Option<String>,
    registry_status: String,
    matches: MatchesJson,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    conventional: bool,
    sentence: String,
}

/// `matches`: a boolean or null; the words older documents hold are read too.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum MatchesJson {
    Known(Option<bool>),
    Word(Matches),
}

impl From<Verdict> for VerdictJson {
    fn from(v: Verdict) -> VerdictJson {
        let known = match v.matches {
            Matches::True | Matches::Conventional => Some(true),
            Matches::False => Some(false),
            Matches::Unknown => None,
        };
        VerdictJson {
            expected: v.expected,
            registry_status: v.registry_status,
            matches: MatchesJson::Known(known),
            conventional: v.matches == Matches::Conventional,
            sentence: v.sentence,
        }
    }
}

impl From<VerdictJson> for Verdict {
    fn from(j: VerdictJson) -> Verdict {
        let matches = match (j.matches, j.conventional) {
            (MatchesJson::Word(m), _) => m,
            (MatchesJson::Known(Some(true)), true) => Matches::Conventional,
            (MatchesJson::Known(Some(true)), false) => Matches::True,
            (MatchesJson::Known(Some(false)), _) => Matches::False,
            (MatchesJson::Known(None), _) => Matches::Unknown,
        };
        Verdict {
            expected: j.expected,
            registry_status: j.registry_status,
            matches,
            sentence: j.sentence,
        }
    }
}

/// Detection settings and signatures. Cheap to share (`Arc` it) across concurrent ports.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: Config,
    sigs: SignatureSet,
    registry: Registry,
    tls: std::sync::Arc<rustls::ClientConfig>,
    /// Probe connections per host address, shared by the clones (see `hosts`).
    hosts: hosts::Hosts,
}

#[derive(Debug, Clone)]
struct Config {
    timeout: Duration,
    connect_timeout: Duration,
    banner_wait: Duration,
    probe_wait: Duration,
    max_bytes: usize,
    evidence_chars: usize,
    netinfo_listreg: bool,
}

/// Builds a [`Detector`].
#[derive(Debug, Clone)]
pub struct DetectorBuilder {
    cfg: Config,
    files: Vec<PathBuf>,
    extra: Vec<SignatureSet>,
    registry: Option<Registry>,
}

/// Errors from the UDP portmapper query.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    #[error("UDP to {0}: {1}")]
    Io(SocketAddr, std::io::Error),
    #[error("UDP portmapper at {0}: no answer in time")]
    Timeout(SocketAddr),
    #[error("UDP portmapper at {0}: the reply was not a well-formed RPC reply")]
    Malformed(SocketAddr),
    #[error("UDP portmapper at {0} refused DUMP: {1}")]
    Refused(SocketAddr, String),
}

/// Errors building a detector. The cause is part of the message, not also chained as
/// `source()`, so a printer of the chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Signatures(#[from] SignatureError),
    #[error("setting up TLS: {0}")]
    Tls(rustls::Error),
}

impl From<rustls::Error> for BuildError {
    fn from(e: rustls::Error) -> BuildError {
        BuildError::Tls(e)
    }
}

impl Detector {
    pub fn builder() -> DetectorBuilder {
        DetectorBuilder {
            cfg: Config {
                timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(2),
                banner_wait: Duration::from_millis(1500),
                probe_wait: Duration::from_secs(2),
                max_bytes: 64 * 1024,
                evidence_chars: 256,
                netinfo_listreg: true,
            },
            files: Vec::new(),
            extra: Vec::new(),
            registry: None,
        }
    }

    /// Detects the service on `addr` (TCP). `expected` overrides the registry's service for
    /// the port (for the verdict and probe order); `None` asks the registry. Never fails:
    /// connection errors and timeouts are reported in [`Detection::error`].
    pub async fn detect(&self, addr: SocketAddr, expected: Option<&str>) -> Detection {
        engine::detect(self, addr, expected).await
    }

    /// Detects many ports, at most `concurrency` at a time (at least 1), returning results in
    /// the order of `targets`. Each target is `(address, expected service or None)`.
    pub async fn detect_all(
        &self,
        targets: &[(SocketAddr, Option<String>)],
        concurrency: usize,
    ) -> Vec<Detection> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        self.detect_each(targets, concurrency, tx).await;
        let mut out: Vec<Option<Detection>> = vec![None; targets.len()];
        while let Ok((i, d)) = rx.try_recv() {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(d);
            }
        }
        out.into_iter().flatten().collect()
    }

    /// Detects many ports as [`detect_all`](Self::detect_all) does, but sends each result as
    /// soon as it is complete: `(index in targets, detection)`, in completion order. Returns
    /// when every target is done. Dropping the future stops the detections still running
    /// (their tasks are aborted); what was sent stays in the channel, so a caller that stops
    /// early (Ctrl-C) keeps every detection that completed.
    pub async fn detect_each(
        &self,
        targets: &[(SocketAddr, Option<String>)],
        concurrency: usize,
        tx: tokio::sync::mpsc::UnboundedSender<(usize, Detection)>,
    ) {
        let me = std::sync::Arc::new(self.clone());
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (i, (addr, expected)) in targets.iter().cloned().enumerate() {
            let me = me.clone();
            let permits = permits.clone();
            let tx = tx.clone();
            set.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let d = me.detect(addr, expected.as_deref()).await;
                // The receiver may be gone (the caller stopped listening): nothing to do.
                let _ = tx.send((i, d));
            });
        }
        while set.join_next().await.is_some() {}
    }

    /// Asks the portmapper at `addr` over UDP for its registrations (PMAPPROC_DUMP, RFC 1833),
    /// within the detector's timeout; one datagram, read up to `max_bytes`.
    pub async fn portmap_dump_udp(&self, addr: SocketAddr) -> Result<Vec<Mapping>, UdpError> {
        let bind: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = tokio::net::UdpSocket::bind(bind)
            .await
            .map_err(|e| UdpError::Io(addr, e))?;
        sock.connect(addr)
            .await
            .map_err(|e| UdpError::Io(addr, e))?;
        let xid = 0x7564_0000 ^ u32::from(addr.port());
        // UDP carries the bare message: drop TCP's 4-byte record mark.
        let call = rpc::call(xid, rpc::PORTMAPPER, 2, 4, &[]);
        let body = call.get(4..).unwrap_or_default();
        let mut buf = vec![0u8; self.cfg.max_bytes.clamp(512, 65536)];
        let deadline = tokio::time::Instant::now() + self.cfg.timeout;
        // Two tries: a datagram may be lost.
        for attempt in 0..2u32 {
            sock.send(body).await.map_err(|e| UdpError::Io(addr, e))?;
            let wait = (self.cfg.timeout / 2).max(std::time::Duration::from_millis(100));
            let until = (tokio::time::Instant::now() + wait).min(deadline);
            match tokio::time::timeout_at(until, sock.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    let reply = buf.get(..n).unwrap_or_default();
                    return match rpc::parse_reply(reply, xid) {
                        Some(rpc::Reply::Success { results }) => {
                            rpc::parse_dump(&results, 512).ok_or(UdpError::Malformed(addr))
                        }
                        Some(other) => Err(UdpError::Refused(addr, format!("{other:?}"))),
                        None => Err(UdpError::Malformed(addr)),
                    };
                }
                Ok(Err(e)) => return Err(UdpError::Io(addr, e)),
                Err(_) if attempt == 0 => continue,
                Err(_) => break,
            }
        }
        Err(UdpError::Timeout(addr))
    }

    /// The signatures in use.
    pub fn signatures(&self) -> &SignatureSet {
        &self.sigs
    }
}

impl DetectorBuilder {
    /// Total time for one port, all probes included (default 5 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.cfg.timeout = t;
        self
    }
    /// Time allowed for each TCP connect (default 2 s; never past the total).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.cfg.connect_timeout = t;
        self
    }
    /// Longest banner wait, used when the registry expects a service that speaks first
    /// (default 1.5 s). Other ports wait 150 ms plus eight round trips, up to this.
    pub fn banner_wait(mut self, t: Duration) -> Self {
        self.cfg.banner_wait = t;
        self
    }
    /// Longest wait for a reply to one probe (default 2 s; adaptive below that).
    pub fn probe_wait(mut self, t: Duration) -> Self {
        self.cfg.probe_wait = t;
        self
    }
    /// Most bytes read from one port over all its connections (default 64 KiB).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.cfg.max_bytes = n;
        self
    }
    /// Longest evidence string, in characters after escaping (default 256).
    pub fn evidence_chars(mut self, n: usize) -> Self {
        self.cfg.evidence_chars = n;
        self
    }
    /// Whether to ask nibindd for its registered domains (read-only LISTREG; default on).
    pub fn netinfo_listreg(mut self, on: bool) -> Self {
        self.cfg.netinfo_listreg = on;
        self
    }
    /// Loads an extra signature file (tried before the built-in set) at `build`.
    pub fn signature_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }
    /// Adds signatures already parsed (tried before the built-in set).
    pub fn signatures(mut self, set: SignatureSet) -> Self {
        self.extra.push(set);
        self
    }
    /// Uses this registry for expectations (default: the embedded one).
    pub fn registry(mut self, r: Registry) -> Self {
        self.registry = Some(r);
        self
    }

    pub fn build(self) -> Result<Detector, BuildError> {
        let mut sigs = SignatureSet::default();
        for f in &self.files {
            sigs.extend(SignatureSet::load(f)?);
        }
        for s in self.extra {
            sigs.extend(s);
        }
        sigs.extend(SignatureSet::core()?);
        Ok(Detector {
            cfg: self.cfg,
            sigs,
            registry: self.registry.unwrap_or_else(Registry::embedded),
            tls: tls::client_config()?,
            hosts: hosts::Hosts::default(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod verdict_json_tests {
    use super::*;

    fn verdict(m: Matches) -> Verdict {
        Verdict {
            expected: Some("https".into()),
            registry_status: "assigned".into(),
            matches: m,
            sentence: "s".into(),
        }
    }

    #[test]
    fn matches_is_a_boolean_and_old_words_still_read() {
        for (m, json, conventional) in [
            (Matches::True, serde_json::json!(true), false),
            (Matches::Conventional, serde_json::json!(true), true),
            (Matches::False, serde_json::json!(false), false),
            (Matches::Unknown, serde_json::Value::Null, false),
        ] {
            let v = serde_json::to_value(verdict(m)).unwrap();
            assert_eq!(v["matches"], json, "{m:?}");
            assert_eq!(v.get("conventional").is_some(), conventional, "{v}");
            let back: Verdict = serde_json::from_value(v).unwrap();
            assert_eq!(back.matches, m);
        }
        // A document saved before: `matches` as a word.
        for (word, m) in [
            ("true", Matches::True),
            ("conventional", Matches::Conventional),
            ("false", Matches::False),
            ("unknown", Matches::Unknown),
        ] {
            let v = serde_json::json!({
                "expected": null, "registry_status": "unassigned",
                "matches": word, "sentence": "s"
            });
            let back: Verdict = serde_json::from_value(v).unwrap();
            assert_eq!(back.matches, m, "{word}");
        }
    }
}
