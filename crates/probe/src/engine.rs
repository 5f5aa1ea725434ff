//! The probe engine: connect, adaptive banner wait, ordered probes, TLS and the service inside
//! it, the verdict. All waits end at the port's deadline; all reads count against its byte cap.

use std::net::SocketAddr;
use std::time::Duration;

use portent_registry::{Protocol, Status};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::budget::{Budget, Capped, Stop, read_reply, send};
use crate::signatures::Hit;
use crate::{
    Detection, Detector, HttpInfo, Matches, RpcInfo, RpcProgram, TlsInfo, Verdict, http, rpc,
};

type Conn = Capped<TcpStream>;

/// Services that speak first: a banner is worth waiting for.
const SPEAKS_FIRST: &[&str] = &[
    "ssh",
    "smtp",
    "submission",
    "ftp",
    "pop3",
    "imap",
    "telnet",
    "rfb",
    "mysql",
    "nntp",
    "vnc",
];

/// Probes after the banner, in default order of likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Http,
    Rpc,
    Tls,
    Redis,
    Memcache,
    Postgres,
    Mongo,
    Ldap,
    Dns,
    Rdp,
    Smb,
    Mqtt,
    Amqp,
}

impl Probe {
    fn name(self) -> &'static str {
        match self {
            Probe::Http => "http",
            Probe::Rpc => "rpc",
            Probe::Tls => "tls",
            Probe::Redis => "redis",
            Probe::Memcache => "memcache",
            Probe::Postgres => "postgresql",
            Probe::Mongo => "mongodb",
            Probe::Ldap => "ldap",
            Probe::Dns => "dns",
            Probe::Rdp => "rdp",
            Probe::Smb => "smb",
            Probe::Mqtt => "mqtt",
            Probe::Amqp => "amqp",
        }
    }

    /// Whether the registry's name for the port suggests this probe.
    fn expected_by(self, name: &str) -> bool {
        match self {
            Probe::Http => name.contains("http") && !name.ends_with('s') || name.starts_with("www"),
            Probe::Tls => matches!(
                name,
                "https"
                    | "imaps"
                    | "pop3s"
                    | "submissions"
                    | "ldaps"
                    | "ftps"
                    | "ircs"
                    | "nntps"
                    | "telnets"
            ),
            Probe::Rpc => {
                matches!(
                    name,
                    "sunrpc" | "rpcbind" | "nfs" | "netinfo" | "netinfo-local" | "nibind"
                )
            }
            Probe::Redis => name == "redis",
            Probe::Memcache => name.starts_with("memcache"),
            Probe::Postgres => name.starts_with("postgres"),
            Probe::Mongo => name.starts_with("mongodb"),
            Probe::Ldap => name == "ldap",
            Probe::Dns => name == "domain",
            Probe::Rdp => name == "ms-wbt-server",
            Probe::Smb => matches!(name, "microsoft-ds" | "netbios-ssn"),
            Probe::Mqtt => name == "mqtt",
            Probe::Amqp => name == "amqp",
        }
    }
}

const DEFAULT_ORDER: &[Probe] = &[
    Probe::Http,
    Probe::Rpc,
    Probe::Tls,
    Probe::Redis,
    Probe::Memcache,
    Probe::Postgres,
    Probe::Mongo,
    Probe::Ldap,
    Probe::Dns,
    Probe::Rdp,
    Probe::Smb,
    Probe::Mqtt,
    Probe::Amqp,
];

/// What the engine settled on.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) service: String,
    pub(crate) product: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) extra: Option<String>,
    pub(crate) cpe: Option<String>,
    pub(crate) confidence: f32,
    pub(crate) evidence: Vec<u8>,
    pub(crate) http: Option<HttpInfo>,
    pub(crate) rpc: Option<RpcInfo>,
    /// The peer answered our ClientHello in TLS, but the handshake failed: why (escaped).
    pub(crate) tls_failed: Option<String>,
    /// Matched a signature of a server turning us away for load ("too many connections").
    pub(crate) busy: bool,
}

impl Found {
    fn from_hit(h: Hit, evidence: &[u8]) -> Found {
        Found {
            service: h.service,
            product: h.product,
            version: h.version,
            extra: h.extra,
            cpe: h.cpe,
            confidence: h.confidence,
            evidence: evidence.to_vec(),
            busy: h.busy,
            ..Found::default()
        }
    }
}

/// Mutable state for one port.
struct Run<'a> {
    d: &'a Detector,
    addr: SocketAddr,
    budget: Budget,
    rtt: Duration,
    probes: Vec<String>,
    /// First bytes any probe got back, for evidence when nothing matched.
    first_seen: Vec<u8>,
    error: Option<String>,
    tls: Option<TlsInfo>,
    xid: u32,
    /// A reply that was our own request sent back: an echo service (RFC 862) or a
    /// reflector, whatever probe it answered.
    echoed: Option<Vec<u8>>,
    /// A server that turned a connection away for load ("too many connections from your
    /// IP", as ngIRCd says past five): it is kept as the answer of last resort while the
    /// probes are tried again one at a time.
    busy: Option<Found>,
    /// An HTTP response to a probe of another protocol: the answer if nothing says more.
    http_guess: Option<Found>,
}

/// Whether `reply` is `request` coming back (whole, or the start of it when the peer sent it
/// in pieces; at least 4 bytes so a one-byte answer is not taken for an echo).
fn is_echo(request: &[u8], reply: &[u8]) -> bool {
    reply.len() >= request.len().min(4)
        && !reply.is_empty()
        && (request.starts_with(reply) || reply.starts_with(request))
}

fn echo(data: Vec<u8>) -> Found {
    Found {
        service: "echo".to_string(),
        extra: Some("sends back what it is sent".to_string()),
        confidence: 0.9,
        evidence: data.into_iter().take(512).collect(),
        ..Found::default()
    }
}

/// nmap's word for a port that accepts a connection and closes it without a word: a TCP
/// wrapper, a firewall's proxy, or a service that talks only to some addresses.
pub(crate) const TCPWRAPPED: &str = "tcpwrapped";

fn tcpwrapped() -> Found {
    Found {
        service: TCPWRAPPED.to_string(),
        confidence: 0.8,
        ..Found::default()
    }
}

pub(crate) async fn detect(d: &Detector, addr: SocketAddr, expected: Option<&str>) -> Detection {
    let started = Instant::now();
    // This port shares its host's probe connections with the host's other ports in detection.
    let _port = d.hosts.port(addr.ip());
    let entry = d.registry.lookup(addr.port(), Protocol::Tcp);
    let expected_names: Vec<String> = match expected {
        Some(e) => vec![e.to_ascii_lowercase()],
        None => entry
            .service_names()
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect(),
    };
    let mut run = Run {
        d,
        addr,
        budget: Budget::new(d.cfg.timeout, d.cfg.max_bytes),
        rtt: Duration::ZERO,
        probes: Vec::new(),
        first_seen: Vec::new(),
        error: None,
        tls: None,
        xid: 0x7072_0000 ^ u32::from(addr.port()),
        echoed: None,
        busy: None,
        http_guess: None,
    };
    let found = run.go(&expected_names).await;
    let udp_status = d.registry.status(addr.port(), Protocol::Udp);
    // Nothing ever said, and the peer closed on us: it let us connect and no further (the
    // accept-then-silence-then-close case; the immediate close is caught in `go`).
    let found = found
        .or_else(|| (run.first_seen.is_empty() && run.budget.silent_closes() > 0).then(tcpwrapped));
    if found.as_ref().is_some_and(|f| f.service == TCPWRAPPED) {
        // The closes are the finding, not a failure of the probes.
        run.error = None;
    }
    let found = found.unwrap_or_else(|| Found {
        service: "unknown".to_string(),
        evidence: run.first_seen.clone(),
        ..Found::default()
    });
    let verdict = verdict(
        addr.port(),
        entry.status,
        udp_status,
        &expected_names,
        expected.is_some(),
        &found,
        run.tls.is_some(),
    );
    if run.error.is_none() && found.service == "unknown" && run.budget.time_left().is_zero() {
        run.error = Some("the time limit (--detect-timeout) ran out".to_string());
    }
    Detection {
        addr,
        service: found.service,
        product: found.product,
        version: found.version,
        extra: found.extra,
        tls: run.tls,
        http: found.http,
        rpc: found.rpc,
        cpe: found.cpe,
        confidence: found.confidence,
        evidence: crate::escape::evidence_text(&found.evidence, d.cfg.evidence_chars),
        verdict,
        bytes_read: run.budget.used(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        probes: run.probes,
        error: run.error,
    }
}

/// What a wave of probes found, and what it saw on the way.
struct Wave {
    found: Option<Found>,
    busy: Option<Found>,
    http_guess: Option<Found>,
    probes: Vec<String>,
    first_seen: Vec<u8>,
    error: Option<String>,
    tls: Option<TlsInfo>,
}

impl Wave {
    /// Adds what a later source saw: the first bytes and the first error stay, a TLS
    /// session's details are taken where there are any.
    fn take_notes(&mut self, first_seen: Vec<u8>, error: Option<String>, tls: Option<TlsInfo>) {
        if self.first_seen.is_empty() {
            self.first_seen = first_seen;
        }
        if self.error.is_none() {
            self.error = error;
        }
        if tls.is_some() {
            self.tls = tls;
        }
    }
}

/// No limit of the port's own on its probes in flight: the host's budget
/// (`hosts::HOST_PROBES`, split among the host's ports in detection) is the limit.
const PROBES_IN_FLIGHT: usize = usize::MAX;

/// Probes started at once, before the port's whole share of the host's budget: HTTP, ONC RPC,
/// TLS and Redis in the default order, which answer or are answered within milliseconds on
/// most services (and TLS runs beside HTTP, so that a TLS port's 400 to plain HTTP is not
/// taken for the answer).
const FIRST_PROBES: usize = 4;

/// How long the first probes may be silent before the others start: this plus eight connect
/// round trips.
const OPEN_AFTER_MS: u64 = 20;

impl<'a> Run<'a> {
    async fn connect(&mut self) -> Option<Conn> {
        let until = self.budget.until(self.d.cfg.connect_timeout);
        let t0 = Instant::now();
        match tokio::time::timeout_at(until, TcpStream::connect(self.addr)).await {
            Ok(Ok(s)) => {
                if self.rtt.is_zero() {
                    self.rtt = t0.elapsed();
                }
                let _ = s.set_nodelay(true);
                Some(Capped::new(s, self.budget.clone()))
            }
            Ok(Err(e)) => {
                // A reset, not a refusal: the handshake completed (the scan saw it open) and
                // the peer threw the connection away at once.
                if e.kind() == std::io::ErrorKind::ConnectionReset {
                    self.budget.note_silent_close();
                }
                self.error
                    .get_or_insert_with(|| format!("connect to {}: {e}", self.addr));
                None
            }
            Err(_) => {
                self.error
                    .get_or_insert_with(|| format!("connect to {}: timed out", self.addr));
                None
            }
        }
    }

    /// Adaptive: a short wait scaled by the connect round trip, capped by the setting.
    fn short_wait(&self, base_ms: u64) -> Duration {
        (Duration::from_millis(base_ms) + self.rtt * 8).min(self.d.cfg.probe_wait)
    }

    fn probe_wait(&self) -> Duration {
        self.short_wait(400)
    }

    fn note_seen(&mut self, data: &[u8]) {
        if self.first_seen.is_empty() && !data.is_empty() {
            self.first_seen = data.iter().take(1024).copied().collect();
        }
    }

    async fn go(&mut self, expected: &[String]) -> Option<Found> {
        let mut conn = self.connect().await?;
        let speaks_first = expected.iter().any(|e| SPEAKS_FIRST.contains(&e.as_str()));
        let wait = if speaks_first {
            self.d.cfg.banner_wait
        } else {
            self.short_wait(150).min(self.d.cfg.banner_wait)
        };
        self.probes.push("banner".to_string());

        let mut order: Vec<Probe> = DEFAULT_ORDER
            .iter()
            .copied()
            .filter(|p| expected.iter().any(|e| p.expected_by(e)))
            .collect();
        if self.addr.port() == 111 && !order.contains(&Probe::Rpc) {
            order.insert(0, Probe::Rpc);
        }
        for p in DEFAULT_ORDER {
            if !order.contains(p) {
                order.push(*p);
            }
        }

        // The banner is awaited on the first connection while the probes start on their
        // own connections, shortly after (a greeting on loopback takes a few milliseconds,
        // so a server that speaks first is matched on its banner before any probe is
        // sent; where the registry says the service speaks first, the probes wait out the
        // whole banner wait). Whatever answers first and decides it ends the others.
        let delay = if speaks_first {
            wait
        } else {
            self.short_wait(25).min(wait)
        };
        let mut banner = Vec::new();
        let mut stop = None;
        let mut wave_done: Option<Wave> = None;
        {
            let budget = self.budget.clone();
            let idle = self.short_wait(250);
            let read = async {
                let s = read_reply(
                    &mut conn,
                    &budget,
                    &mut banner,
                    wait,
                    idle,
                    4096,
                    banner_complete,
                )
                .await;
                (s, !banner.is_empty())
            };
            let template = self.sub(1);
            let wave = async {
                tokio::time::sleep(delay).await;
                template
                    .wave(order.clone(), expected, PROBES_IN_FLIGHT)
                    .await
            };
            tokio::pin!(read);
            tokio::pin!(wave);
            loop {
                tokio::select! {
                    (s, said) = &mut read, if stop.is_none() => {
                        stop = Some(s);
                        // Anything said, or a close: the banner decides.
                        if said || s != Stop::Quiet {
                            break;
                        }
                    }
                    w = &mut wave, if wave_done.is_none() => {
                        // Found, or turned away for load (the silent banner connection holds
                        // one of the server's slots: it is let go at once, below).
                        let decided = w.found.is_some() || w.busy.is_some();
                        wave_done = Some(w);
                        if decided {
                            break;
                        }
                    }
                }
                if stop.is_some() && wave_done.is_some() {
                    break;
                }
            }
        }
        let wave = wave_done.map(|w| self.absorb(w));
        if !banner.is_empty() {
            if stop.is_none() {
                // A probe decided while the greeting was still arriving: the greeting is what
                // the service is (a probe's reply may be this same greeting, cut short), so
                // it is read to its end.
                let idle = self.short_wait(250);
                let more = 4096usize.saturating_sub(banner.len());
                stop = Some(
                    read_reply(
                        &mut conn,
                        &self.budget,
                        &mut banner,
                        idle,
                        idle,
                        more,
                        banner_complete,
                    )
                    .await,
                );
            }
            self.note_seen_first(&banner);
            if let Some(hit) = self.d.sigs.find("banner", &banner) {
                let mut found = Found::from_hit(hit, &banner);
                if !matches!(stop, Some(Stop::Eof | Stop::Error))
                    && self.starttls(&mut conn, &found.service).await
                {
                    let mut extra: Vec<String> = found.extra.take().into_iter().collect();
                    extra.push("STARTTLS".to_string());
                    found.extra = Some(extra.join("; "));
                }
                return Some(found);
            }
            // Turned away for load on the very first connection: ask again, one at a time.
            if let Some(busy) = self.reply_sig(&banner).filter(|f| f.busy) {
                self.busy.get_or_insert(busy);
                drop(conn);
                return self.after_busy(order, expected).await;
            }
            // A peer that speaks first in a way we do not know: what the probes made of
            // its greeting (a PostgreSQL "S", say) is not trusted. Report what it said.
            let _ = wave;
            return None;
        }
        if matches!(stop, Some(Stop::Eof | Stop::Error)) {
            // Accepted, then closed (or reset) before a word: nmap's `tcpwrapped`. Probing on
            // would only collect more of the same.
            return Some(tcpwrapped());
        }
        if let Some(Some(found)) = wave {
            return Some(found);
        }
        if self.busy.is_some() && !self.budget.exhausted() {
            // The idle banner connection holds one of the server's slots: let it go.
            drop(conn);
            return self.after_busy(order, expected).await;
        }

        // Nothing yet. The banner connection, silent so far, was kept aside while the probes
        // ran: it tells a late greeting, or a peer that closes without a word (tcpwrapped),
        // from a service that ignores us. A peer silent for longer than that before it
        // closes is `unknown`: waiting as long as nmap does (6 s) would cost every silent
        // service.
        let closes = self.budget.silent_closes();
        if let Some(f) = self.late(conn, Duration::from_millis(20)).await {
            return Some(f);
        }
        if let Some(g) = self.http_guess.take() {
            return Some(g);
        }
        let closed_silently = self.budget.silent_closes() > closes;
        if self.first_seen.is_empty() && !self.budget.exhausted() {
            // Silent on every connection: either it ignores us, or it serves one connection
            // at a time and the banner connection, now closed, held it (Monit's httpd closes
            // the idle one and then answers the next). The probes get a second chance.
            let w = self.sub(2).wave(order, expected, PROBES_IN_FLIGHT).await;
            if let Some(f) = self.absorb(w) {
                return Some(f);
            }
        }
        // A close without a word that the second chance did not explain: nmap's tcpwrapped.
        if closed_silently && self.first_seen.is_empty() {
            return Some(tcpwrapped());
        }
        None
    }

    /// A server turned a connection away for load: the probes again, one connection at a
    /// time. What it said when busy (which names the service) is the answer if they learn
    /// nothing more.
    async fn after_busy(&mut self, order: Vec<Probe>, expected: &[String]) -> Option<Found> {
        // A moment for the server to see our closed connections and free their slots; a
        // loaded server may take longer, so a second round waits longer.
        for (k, pause) in [(3, 50), (4, 250)] {
            tokio::time::sleep(self.short_wait(pause)).await;
            let busy = self.busy.take();
            let w = self.sub(k).wave(order.clone(), expected, 1).await;
            let found = self.absorb(w);
            if found.is_some() {
                return found;
            }
            // Turned away again: try once more. Anything else: nothing more to learn.
            let again = self.busy.is_some();
            self.busy = busy;
            if !again || self.budget.exhausted() {
                break;
            }
        }
        self.busy.take()
    }

    /// A run for probes of their own: the same budget and round trip, fresh notes, and RPC
    /// transaction ids of its own (`k` spaces them apart).
    fn sub(&self, k: u32) -> Run<'a> {
        Run {
            d: self.d,
            addr: self.addr,
            budget: self.budget.clone(),
            rtt: self.rtt,
            probes: Vec::new(),
            first_seen: Vec::new(),
            error: None,
            tls: None,
            xid: self.xid.wrapping_add(k << 16),
            echoed: None,
            busy: None,
            http_guess: None,
        }
    }

    /// One probe on a connection of its own.
    async fn one(mut self, p: Probe, expected: &[String]) -> (Run<'a>, Option<Found>) {
        self.probes.push(p.name().to_string());
        let Some(conn) = self.connect().await else {
            return (self, None);
        };
        let found = match p {
            Probe::Http => self.http(conn).await,
            Probe::Rpc => self.rpc(conn, expected).await,
            Probe::Tls => self.tls(conn).await,
            Probe::Redis => self.redis(conn).await,
            Probe::Memcache => self.simple(conn, b"version\r\n").await,
            other => self.binary(conn, other).await,
        };
        // SMB on the NetBIOS session port is that port's service (IANA's netbios-ssn, nmap's
        // name there too); elsewhere SMB over TCP is microsoft-ds.
        let found = found.map(|mut f| {
            if p == Probe::Smb && expected.iter().any(|e| e == "netbios-ssn") {
                f.service = "netbios-ssn".to_string();
            }
            f
        });
        // Our own bytes back are an echo, whatever a parser made of them.
        if let Some(data) = self.echoed.take() {
            return (self, Some(echo(data)));
        }
        if found.as_ref().is_some_and(|f| f.busy) {
            self.busy = found;
            return (self, None);
        }
        if found.is_none() && p != Probe::Http {
            // A web server answers any bytes with a status line and headers. That names the
            // service only if the HTTP probe's own answer does not say more (Monit serves one
            // connection at a time, so its 400 to another probe may be all it says).
            self.http_guess = self.http_found(&self.first_seen);
        }
        (self, found)
    }

    /// Runs the probes of `order`, at most `in_flight` at once and as many as the host's
    /// budget gives this port (`hosts`), each on its own connection (so they cannot disturb each other), until one identifies the service.
    /// Which probe wins does not depend on timing: a validated reply is the service's, and
    /// where two probes can both succeed (plain HTTP answered by a TLS port, as nginx does
    /// with a 400) the TLS probe, when running, is awaited and preferred.
    async fn wave(self, order: Vec<Probe>, expected: &[String], in_flight: usize) -> Wave {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut pending: std::collections::VecDeque<(usize, Probe)> =
            order.into_iter().enumerate().collect();
        let mut running = FuturesUnordered::new();
        let mut started: Vec<Probe> = Vec::new();
        let mut done: Vec<(usize, Run<'a>)> = Vec::new();
        let mut found: Option<(Probe, Found)> = None;
        let mut error = None;
        let mut k = 0u32;
        // The first `FIRST_PROBES` start at once; the rest of the host's share only once
        // they have been silent for a moment (most services answer one of them within a
        // few milliseconds, and are then sent no more connections).
        let open_at = tokio::time::Instant::now() + self.short_wait(OPEN_AFTER_MS);
        let mut opened = in_flight <= FIRST_PROBES;
        let mut turned_away: Option<tokio::time::Instant> = None;
        loop {
            // A TLS alert (content type 21, version 3.x) in answer to a plaintext probe says
            // the port wants TLS: the TLS probe goes next, and nothing else starts while it
            // runs.
            let wants_tls = done
                .iter()
                .any(|(_, r)| r.first_seen.starts_with(&[0x15, 0x03]));
            if wants_tls
                && let Some(at) = pending.iter().position(|(_, p)| *p == Probe::Tls)
                && let Some(t) = pending.remove(at)
            {
                pending.push_front(t);
            }
            let tls_running = started.contains(&Probe::Tls)
                && !done
                    .iter()
                    .any(|(_, r)| r.probes.first().is_some_and(|n| n == "tls"));
            // Enabled before the budget is asked, so that a slot freed in between is not
            // missed.
            let freed = self.d.hosts.freed();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let mut held = false;
            let cap = if opened { in_flight } else { FIRST_PROBES };
            while running.len() < cap
                && found.is_none()
                && !(wants_tls && tls_running)
                && !pending.is_empty()
            {
                if self.budget.exhausted() {
                    // Say which limit ended it, in the words of the options that set them.
                    error = Some(if self.budget.time_left().is_zero() {
                        "the time limit (--detect-timeout) ran out before every probe was tried"
                    } else {
                        "the byte limit ran out before every probe was tried: the service sent a lot"
                    });
                    break;
                }
                // The host's budget, shared with its other ports in detection: a port with
                // nothing running always gets a connection.
                let Some(slot) = self.d.hosts.probe(self.addr.ip(), running.len()) else {
                    held = true;
                    break;
                };
                let Some((i, p)) = pending.pop_front() else {
                    break;
                };
                k += 1;
                started.push(p);
                let sub = self.sub(k);
                running.push(async move {
                    let (run, f) = sub.one(p, expected).await;
                    drop(slot);
                    (i, p, run, f)
                });
            }
            let next = tokio::select! {
                next = running.next() => next,
                // Held back by the host's budget: a slot freed elsewhere (another port's
                // probe ended, or a port finished) is looked at at once.
                () = &mut freed, if held => continue,
                () = tokio::time::sleep_until(open_at), if !opened && !pending.is_empty() => {
                    opened = true;
                    continue;
                }
                () = tokio::time::sleep_until(turned_away.unwrap_or(open_at)),
                    if turned_away.is_some() => break,
            };
            let Some((i, p, run, f)) = next else {
                break;
            };
            done.push((i, run));
            match (f, &found) {
                (Some(f), None) => found = Some((p, f)),
                (Some(f), Some((fp, h)))
                    if p == Probe::Tls && *fp != Probe::Tls && h.service == "http" =>
                {
                    found = Some((p, f))
                }
                _ => {}
            }
            // Turned away for load: probes started after would be turned away too. None
            // starts any more; those running (accepted before the server was full) get a
            // moment to answer, then the wave ends and lets the server's slots go; the probes
            // run again one at a time (`after_busy`).
            // (One at a time, as after a busy reply, the others are still tried in turn.)
            if found.is_none()
                && in_flight > 1
                && turned_away.is_none()
                && done.last().is_some_and(|(_, r)| r.busy.is_some())
            {
                turned_away = Some(tokio::time::Instant::now() + self.short_wait(20));
                pending.clear();
            }
            if let Some((fp, f)) = &found {
                let tls_running = started.contains(&Probe::Tls)
                    && !done
                        .iter()
                        .any(|(_, r)| r.probes.first().is_some_and(|n| n == "tls"));
                // A plain HTTP error (400: nginx and Apache answer plain HTTP on a TLS port
                // so) may be a TLS port's: the running TLS probe is awaited. A page served
                // in plain text is no TLS port's answer.
                let maybe_tls_port = *fp != Probe::Tls
                    && f.service == "http"
                    && f.http.as_ref().is_none_or(|h| h.status >= 400);
                if !(maybe_tls_port && tls_running) {
                    break;
                }
            }
        }
        done.sort_by_key(|(i, _)| *i);
        let mut w = Wave {
            found: found.map(|(_, f)| f),
            busy: None,
            http_guess: None,
            probes: started.iter().map(|p| p.name().to_string()).collect(),
            first_seen: Vec::new(),
            error: error.map(str::to_string),
            tls: None,
        };
        for (_, r) in done {
            w.busy = w.busy.take().or(r.busy);
            w.http_guess = w.http_guess.take().or(r.http_guess);
            w.take_notes(r.first_seen, r.error, r.tls);
            // Follow-ups a probe made (starttls, tls-inner) after its own name.
            w.probes.extend(r.probes.into_iter().skip(1));
        }
        w
    }

    /// Takes a wave's notes into this run; returns what it found.
    fn absorb(&mut self, w: Wave) -> Option<Found> {
        self.probes.extend(w.probes);
        if self.busy.is_none() {
            self.busy = w.busy;
        }
        if self.http_guess.is_none() {
            self.http_guess = w.http_guess;
        }
        let mut notes = Wave {
            found: None,
            busy: None,
            http_guess: None,
            probes: Vec::new(),
            first_seen: std::mem::take(&mut self.first_seen),
            error: self.error.take(),
            tls: self.tls.take(),
        };
        notes.take_notes(w.first_seen, w.error, w.tls);
        (self.first_seen, self.error, self.tls) = (notes.first_seen, notes.error, notes.tls);
        w.found
    }

    /// The banner was said before any probe's reply: it is the first thing seen.
    fn note_seen_first(&mut self, data: &[u8]) {
        self.first_seen = data.iter().take(1024).copied().collect();
    }

    /// What the silent banner connection did while the probes ran, waiting up to `wait` for
    /// it: a greeting that came late is matched as a banner; a close without a word is
    /// counted for `tcpwrapped`.
    async fn late(&mut self, mut conn: Conn, wait: Duration) -> Option<Found> {
        let mut data = Vec::new();
        read_reply(
            &mut conn,
            &self.budget,
            &mut data,
            wait,
            self.short_wait(250),
            4096,
            banner_complete,
        )
        .await;
        if data.is_empty() {
            return None;
        }
        self.note_seen(&data);
        self.d
            .sigs
            .find("banner", &data)
            .map(|hit| Found::from_hit(hit, &data))
    }

    /// A reply that is not what the probe wanted may still match a `reply` signature.
    fn reply_sig(&self, data: &[u8]) -> Option<Found> {
        self.d
            .sigs
            .find("reply", data)
            .or_else(|| self.d.sigs.find("banner", data))
            .map(|h| Found::from_hit(h, data))
    }

    /// An HTTP response, named by its Server header where a signature knows it.
    fn http_found(&self, data: &[u8]) -> Option<Found> {
        let info = http::parse(data)?;
        let mut found = Found {
            service: "http".to_string(),
            confidence: 0.9,
            evidence: data.iter().take(512).copied().collect(),
            ..Found::default()
        };
        if let Some(hit) = info
            .server_raw
            .as_deref()
            .and_then(|raw| self.d.sigs.find("http-server", raw))
        {
            // A Server header can say more than "http": Squid is a proxy (http-proxy).
            if !hit.service.is_empty() {
                found.service = hit.service;
            }
            found.product = hit.product;
            found.version = hit.version;
            found.cpe = hit.cpe;
            found.extra = hit.extra;
            found.confidence = 0.95;
        }
        let mut extra: Vec<String> = found.extra.take().into_iter().collect();
        extra.push(format!("{} {}", info.status, info.reason));
        if let Some(t) = &info.title {
            extra.push(format!("title \"{t}\""));
        }
        if let Some(l) = &info.location {
            extra.push(format!("redirects to {l}"));
        }
        found.extra = Some(extra.join("; "));
        found.http = Some(info);
        Some(found)
    }

    async fn http<S: AsyncRead + AsyncWrite + Unpin>(&mut self, mut s: S) -> Option<Found> {
        self.http_on(&mut s).await
    }

    async fn http_on<S: AsyncRead + AsyncWrite + Unpin>(&mut self, s: &mut S) -> Option<Found> {
        let host = match self.addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let request = http::request(&host);
        let data = self
            .send_read(s, &request, 16 * 1024, 300, http::complete)
            .await?;
        if self.echoed.is_some() {
            return None;
        }
        self.http_found(&data).or_else(|| self.reply_sig(&data))
    }

    async fn simple(&mut self, mut s: Conn, request: &[u8]) -> Option<Found> {
        let data = self
            .send_read(&mut s, request, 4096, 200, |d| d.ends_with(b"\n"))
            .await?;
        self.reply_sig(&data)
    }

    /// Sends `request`, reads until `done` (or `limit` bytes, or a quiet spell of about
    /// `idle_ms` once data arrived), notes what was seen and returns the reply; `None` if the
    /// request could not be sent.
    async fn send_read<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        s: &mut S,
        request: &[u8],
        limit: usize,
        idle_ms: u64,
        done: fn(&[u8]) -> bool,
    ) -> Option<Vec<u8>> {
        if !send(s, &self.budget, request).await {
            return None;
        }
        let mut data = Vec::new();
        read_reply(
            s,
            &self.budget,
            &mut data,
            self.probe_wait(),
            self.short_wait(idle_ms),
            limit,
            done,
        )
        .await;
        self.note_seen(&data);
        if is_echo(request, &data) {
            self.echoed = Some(data.clone());
        }
        Some(data)
    }

    /// Sends `request`, reads until `done`, returns the reply (empty if it could not be sent).
    async fn exchange(
        &mut self,
        s: &mut Conn,
        request: &[u8],
        limit: usize,
        done: fn(&[u8]) -> bool,
    ) -> Vec<u8> {
        self.send_read(s, request, limit, 300, done)
            .await
            .unwrap_or_default()
    }

    async fn binary(&mut self, mut s: Conn, p: Probe) -> Option<Found> {
        use crate::binary as b;
        let (hit, data) = match p {
            Probe::Postgres => {
                let r = self
                    .exchange(&mut s, &b::PG_SSL_REQUEST, 1, |d| !d.is_empty())
                    .await;
                match r.as_slice() {
                    b"N" => {
                        let d = self
                            .exchange(&mut s, &b::pg_startup(), 4096, b::pg_startup_complete)
                            .await;
                        (b::pg_startup_reply(&d), d)
                    }
                    b"S" => (
                        Some(b::BinaryHit {
                            service: "postgresql",
                            product: Some("PostgreSQL DB".into()),
                            extra: Some("offers TLS (SSLRequest answered S)".into()),
                            confidence: 0.85,
                            ..b::BinaryHit::default()
                        }),
                        r,
                    ),
                    _ => (None, r),
                }
            }
            Probe::Mongo => {
                let d = self
                    .exchange(
                        &mut s,
                        &b::mongo_command(0x5057, "hello"),
                        16384,
                        b::mongo_complete,
                    )
                    .await;
                let hit = b::mongo_reply_doc(&d, 0x5057)
                    .filter(|doc| b::bson_field(doc, "maxWireVersion").is_some())
                    .map(|doc| {
                        let wire = b::bson_field(doc, "maxWireVersion").unwrap_or_default();
                        b::BinaryHit {
                            service: "mongodb",
                            product: Some("MongoDB".into()),
                            extra: Some(format!("maxWireVersion {wire}")),
                            confidence: 0.95,
                            ..b::BinaryHit::default()
                        }
                    });
                match hit {
                    Some(mut h) => {
                        let bi = self
                            .exchange(
                                &mut s,
                                &b::mongo_command(0x5058, "buildInfo"),
                                16384,
                                b::mongo_complete,
                            )
                            .await;
                        h.version = b::mongo_reply_doc(&bi, 0x5058)
                            .and_then(|doc| b::bson_field(doc, "version"));
                        (Some(h), d)
                    }
                    None => (None, d),
                }
            }
            Probe::Ldap => {
                let d = self
                    .exchange(&mut s, &b::ldap_rootdse_request(), 16384, b::ldap_complete)
                    .await;
                let hit = b::ldap_parse(&d).map(|(attrs, _)| {
                    let get = |k: &str| {
                        attrs
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(k))
                            .map(|(_, v)| v.join(", "))
                    };
                    let mut extra = Vec::new();
                    if let Some(n) = get("namingContexts") {
                        extra.push(format!("naming contexts {n}"));
                    }
                    if let Some(v) = get("supportedLDAPVersion") {
                        extra.push(format!("LDAP versions {v}"));
                    }
                    b::BinaryHit {
                        service: "ldap",
                        product: get("vendorName").or_else(|| {
                            get("objectClass")
                                .filter(|c| c.contains("OpenLDAProotDSE"))
                                .map(|_| "OpenLDAP".to_string())
                        }),
                        version: get("vendorVersion"),
                        extra: (!extra.is_empty()).then(|| extra.join("; ")),
                        cpe: None,
                        confidence: 0.95,
                    }
                });
                (hit, d)
            }
            Probe::Dns => {
                let d = self
                    .exchange(&mut s, &b::dns_version_query(0x7064), 4096, b::dns_complete)
                    .await;
                (b::dns_parse(&d, 0x7064), d)
            }
            Probe::Rdp => {
                let d = self
                    .exchange(&mut s, &b::RDP_CONNECTION_REQUEST, 1024, b::tpkt_complete)
                    .await;
                let mut hit = b::rdp_parse(&d);
                // xrdp and Windows answer the first request alike; a second connection asking
                // for CredSSP alone tells them apart (binary::rdp_selects_unrequested).
                if hit.is_some()
                    && b::rdp_may_be_xrdp(&d)
                    && let Some(mut s2) = self.connect().await
                {
                    let d2 = self
                        .exchange(&mut s2, &b::RDP_HYBRID_ONLY_REQUEST, 1024, b::tpkt_complete)
                        .await;
                    if b::rdp_selects_unrequested(&d2) {
                        hit = hit.map(b::xrdp);
                    }
                }
                (hit, d)
            }
            Probe::Smb => {
                let mut d = self
                    .exchange(&mut s, &b::smb2_negotiate(), 8192, b::nbss_complete)
                    .await;
                let mut hit = b::smb_parse(&d);
                // SMB2 answered (SMB1-only servers have no dialect here): NTLMSSP's
                // CHALLENGE, on the same connection, tells Samba from Windows and names the
                // host. No AUTHENTICATE follows; the connection is dropped.
                if let Some(h) = hit.as_mut().filter(|h| h.version.is_some()) {
                    let r = self
                        .exchange(
                            &mut s,
                            &b::smb2_session_setup_ntlm(),
                            8192,
                            b::nbss_complete,
                        )
                        .await;
                    if let Some(c) = b::smb2_session_setup_reply(&r) {
                        b::smb_name(h, &c);
                    }
                    d.extend_from_slice(&r);
                }
                (hit, d)
            }
            Probe::Mqtt => {
                // A client id of its own per connection (see `mqtt_connect`): the process
                // and a count.
                static CONNECTS: std::sync::atomic::AtomicU32 =
                    std::sync::atomic::AtomicU32::new(0);
                let n = CONNECTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let id = (std::process::id() << 16) ^ n;
                let d = self
                    .exchange(&mut s, &b::mqtt_connect(id), 64, |d| d.len() >= 4)
                    .await;
                let mut hit = b::mqtt_parse(&d);
                // Accepted without credentials: ask for the broker's version, which
                // Mosquitto publishes ("mosquitto version 2.0.11").
                if let Some(h) = hit.as_mut().filter(|_| d.get(3) == Some(&0)) {
                    let v = self
                        .exchange(&mut s, &b::MQTT_SUBSCRIBE_VERSION, 1024, |d| {
                            b::mqtt_published(d).is_some()
                        })
                        .await;
                    let said = b::mqtt_published(&v).map(|p| {
                        String::from_utf8_lossy(p)
                            .chars()
                            .filter(|c| !c.is_control())
                            .take(80)
                            .collect::<String>()
                    });
                    match said
                        .as_deref()
                        .and_then(|p| p.strip_prefix("mosquitto version "))
                    {
                        Some(ver) if !ver.is_empty() => {
                            h.product = Some("Mosquitto".into());
                            h.version = Some(ver.to_string());
                        }
                        _ => {
                            if let Some(p) = said.filter(|p| !p.is_empty()) {
                                let e = h.extra.take().unwrap_or_default();
                                h.extra = Some(format!("{e}; broker version \"{p}\""));
                            }
                        }
                    }
                }
                if hit.is_some() {
                    let _ = send(&mut s, &self.budget, &b::MQTT_DISCONNECT).await;
                }
                (hit, d)
            }
            Probe::Amqp => {
                let d = self
                    .exchange(&mut s, &b::AMQP_HEADER, 4096, b::amqp_complete)
                    .await;
                (b::amqp_parse(&d), d)
            }
            _ => return None,
        };
        match hit {
            Some(h) => Some(Found {
                service: h.service.to_string(),
                cpe: h.cpe.or_else(|| {
                    h.product
                        .as_deref()
                        .and_then(|p| b::product_cpe(p, h.version.as_deref()))
                }),
                product: h.product,
                version: h.version,
                extra: h.extra,
                confidence: h.confidence,
                evidence: data.iter().take(512).copied().collect(),
                ..Found::default()
            }),
            None => self.reply_sig(&data),
        }
    }

    async fn redis(&mut self, mut s: Conn) -> Option<Found> {
        let data = self
            .send_read(&mut s, b"*1\r\n$4\r\nPING\r\n", 1024, 200, |d| {
                d.ends_with(b"\r\n")
            })
            .await?;
        let first = self.reply_sig(&data)?;
        if first.service != "redis" || !data.starts_with(b"+PONG") {
            return Some(first);
        }
        // INFO server names the version; a bulk string "$<len>\r\n...".
        if send(
            &mut s,
            &self.budget,
            b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n",
        )
        .await
        {
            let mut info = Vec::new();
            read_reply(
                &mut s,
                &self.budget,
                &mut info,
                self.probe_wait(),
                self.short_wait(200),
                8192,
                |d| http::find(d, b"redis_version:").is_some() && d.ends_with(b"\r\n"),
            )
            .await;
            if let Some(hit) = self.d.sigs.find("reply", &info)
                && hit.service == "redis"
                && hit.version.is_some()
            {
                return Some(Found::from_hit(hit, &info));
            }
        }
        Some(first)
    }

    async fn call<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        s: &mut S,
        prog: u32,
        vers: u32,
        procedure: u32,
    ) -> Result<rpc::Reply, Vec<u8>> {
        self.xid = self.xid.wrapping_add(1);
        let xid = self.xid;
        if !send(s, &self.budget, &rpc::call(xid, prog, vers, procedure, &[])).await {
            return Err(Vec::new());
        }
        let mut data = Vec::new();
        read_reply(
            s,
            &self.budget,
            &mut data,
            self.probe_wait(),
            self.short_wait(300),
            rpc::MAX_RECORD + 64,
            rpc::record_complete,
        )
        .await;
        rpc::record(&data, rpc::MAX_RECORD)
            .and_then(|body| rpc::parse_reply(&body, xid))
            .ok_or(data)
    }

    async fn rpc(&mut self, mut s: Conn, expected: &[String]) -> Option<Found> {
        let first = match self.call(&mut s, rpc::PORTMAPPER, 2, 0).await {
            Ok(r) => r,
            Err(data) => {
                self.note_seen(&data);
                return self.reply_sig(&data);
            }
        };
        let mut info = RpcInfo::default();
        let mut evidence = format!("RPC NULL to program 100000 v2: {first:?}");
        if matches!(first, rpc::Reply::Success { .. }) {
            // Version 2 answered; a deliberately wrong version asks for the whole range
            // (rpcbind serves 2 to 4, the old portmap 2 only).
            let (low_version, high_version) = match self
                .call(&mut s, rpc::PORTMAPPER, rpc::WRONG_VERSION, 0)
                .await
            {
                Ok(rpc::Reply::ProgMismatch { low, high }) if low <= 2 && 2 <= high => (low, high),
                _ => (2, 2),
            };
            info.programs.push(RpcProgram {
                program: rpc::PORTMAPPER,
                name: Some("rpcbind".into()),
                low_version,
                high_version,
            });
            if let Ok(rpc::Reply::Success { results }) =
                self.call(&mut s, rpc::PORTMAPPER, 2, 4).await
            {
                info.mappings = rpc::parse_dump(&results, 512).unwrap_or_default();
            }
        }
        // Which programs answer here, and which versions: a deliberately wrong version makes
        // a server that has the program answer PROG_MISMATCH with its range.
        let mut table: Vec<&rpc::Program> = rpc::PROGRAMS
            .iter()
            .filter(|p| expected.iter().any(|e| e == p.service))
            .collect();
        for p in rpc::PROGRAMS {
            if !table.iter().any(|t| t.number == p.number) {
                table.push(p);
            }
        }
        for p in table {
            if p.number == rpc::PORTMAPPER || self.budget.exhausted() {
                continue;
            }
            match self.call(&mut s, p.number, rpc::WRONG_VERSION, 0).await {
                Ok(rpc::Reply::ProgMismatch { low, high }) => {
                    info.programs.push(RpcProgram {
                        program: p.number,
                        name: Some(p.service.to_string()),
                        low_version: low,
                        high_version: high,
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let named = info
            .programs
            .iter()
            .find(|p| p.program != rpc::PORTMAPPER)
            .or(info.programs.first())
            .cloned();
        let mut found = Found {
            confidence: 0.95,
            ..Found::default()
        };
        match named
            .as_ref()
            .and_then(|p| rpc::program(p.program).map(|t| (p, t)))
        {
            Some((p, t)) => {
                found.service = t.service.to_string();
                found.product = Some(t.product.to_string());
                // Versions as nmap writes an RPC program's: "2-4", or "2" alone; the program
                // number in `extra` ("RPC #100000").
                found.version = Some(if p.low_version == p.high_version {
                    p.high_version.to_string()
                } else {
                    format!("{}-{}", p.low_version, p.high_version)
                });
                found.extra = Some(format!("RPC #{}", p.program));
                evidence.push_str(&format!(
                    "; program {} answers versions {}..{}",
                    p.program, p.low_version, p.high_version
                ));
                if p.program == rpc::NIBINDD
                    && self.d.cfg.netinfo_listreg
                    && let Ok(rpc::Reply::Success { results }) = self
                        .call(&mut s, rpc::NIBINDD, 1, rpc::NIBIND_LISTREG)
                        .await
                {
                    info.netinfo_domains = rpc::parse_listreg(&results, 64).unwrap_or_default();
                }
            }
            None => {
                found.service = "rpc".to_string();
                found.confidence = 0.8;
                found.extra = Some("ONC RPC; program not in our table".to_string());
            }
        }
        let mut extra: Vec<String> = found.extra.take().into_iter().collect();
        let others: Vec<String> = info
            .programs
            .iter()
            .filter(|p| Some(p.program) != named.as_ref().map(|n| n.program))
            .map(|p| {
                format!(
                    "{} v{}-{}",
                    p.name.as_deref().unwrap_or("?"),
                    p.low_version,
                    p.high_version
                )
            })
            .collect();
        if !others.is_empty() {
            extra.push(format!("also {}", others.join(", ")));
        }
        if !info.netinfo_domains.is_empty() {
            let tags: Vec<&str> = info
                .netinfo_domains
                .iter()
                .map(|d| d.tag.as_str())
                .collect();
            extra.push(format!("domains {}", tags.join(", ")));
        }
        if !info.mappings.is_empty() {
            extra.push(format!("{} registrations", info.mappings.len()));
        }
        if !extra.is_empty() {
            found.extra = Some(extra.join("; "));
        }
        found.evidence = evidence.into_bytes();
        found.rpc = Some(info);
        Some(found)
    }

    /// Upgrades a mail or FTP session with STARTTLS (RFC 3207, RFC 9051, RFC 2595, RFC 4217)
    /// when offered, and records the TLS details. Reads stay within the port's budget.
    async fn starttls(&mut self, conn: &mut Conn, service: &str) -> bool {
        let steps: &[(&[u8], &[u8], &[u8])] = match service {
            // (command, reply must contain, ...) the last step's reply must start positively.
            "smtp" => &[
                (b"EHLO portent.invalid\r\n", b"STARTTLS", b"250 "),
                (b"STARTTLS\r\n", b"220", b"\n"),
            ],
            "imap" => &[
                (b"a1 CAPABILITY\r\n", b"STARTTLS", b"a1 "),
                (b"a2 STARTTLS\r\n", b"a2 OK", b"\n"),
            ],
            "pop3" => &[(b"STLS\r\n", b"+OK", b"\n")],
            "ftp" => &[(b"AUTH TLS\r\n", b"234", b"\n")],
            _ => return false,
        };
        for (command, want, end) in steps {
            if !send(conn, &self.budget, command).await {
                return false;
            }
            let mut reply = Vec::new();
            let end = *end;
            read_reply(
                conn,
                &self.budget,
                &mut reply,
                self.probe_wait(),
                self.short_wait(300),
                8192,
                |d| {
                    // A complete reply: its last line holds the terminator (e.g. "250 " for the
                    // final EHLO line), and ends with a newline.
                    d.ends_with(b"\n")
                        && d.split(|&b| b == b'\n')
                            .rev()
                            .nth(1)
                            .is_some_and(|l| http::find(l, end).is_some() || end == b"\n")
                },
            )
            .await;
            if http::find(&reply, want).is_none() {
                return false;
            }
        }
        let connector = tokio_rustls::TlsConnector::from(self.d.tls.clone());
        let name = rustls::pki_types::ServerName::IpAddress(self.addr.ip().into());
        let until = self.budget.until(self.probe_wait() * 2);
        match tokio::time::timeout_at(until, connector.connect(name, conn)).await {
            Ok(Ok(t)) => {
                self.tls = Some(crate::tls::info(t.get_ref().1));
                self.probes.push("starttls".to_string());
                true
            }
            _ => false,
        }
    }

    async fn tls(&mut self, s: Conn) -> Option<Found> {
        let connector = tokio_rustls::TlsConnector::from(self.d.tls.clone());
        let name = rustls::pki_types::ServerName::IpAddress(self.addr.ip().into());
        let until = self.budget.until(self.probe_wait() * 2);
        // The first bytes the server sends tell whether it speaks TLS even when the handshake
        // cannot finish (a certificate chain over the byte cap, an alert).
        let mut peek = Peek::new(s);
        let handshake = tokio::time::timeout_at(until, connector.connect(name, &mut peek)).await;
        let mut tls = match handshake {
            Ok(Ok(t)) => t,
            failed => {
                let error = match failed {
                    Ok(Err(e)) => Some(e),
                    _ => None,
                };
                let why = if self.budget.bytes_left() == 0 {
                    format!(
                        "the server sent more than the byte limit ({} bytes) before the handshake \
                         finished (a large certificate chain?)",
                        self.budget.max_bytes
                    )
                } else {
                    match &error {
                        Some(e) if handshake_too_large(e) => "a handshake message is larger \
                            than the 64 KiB a TLS client accepts (a large certificate chain?)"
                            .to_string(),
                        Some(e) => crate::escape::escape_text(&e.to_string(), 200),
                        None => "it did not finish in time".to_string(),
                    }
                };
                if peek.spoke_tls() {
                    self.error
                        .get_or_insert_with(|| format!("TLS handshake failed: {why}"));
                    return Some(Found {
                        service: "unknown".to_string(),
                        extra: Some(format!("TLS; the handshake failed: {why}")),
                        confidence: 0.5,
                        tls_failed: Some(why),
                        ..Found::default()
                    });
                }
                // Nothing came back before the peer closed: a close without a word. The error
                // is the probe's, never evidence of what the service said.
                let closed = error.as_ref().is_some_and(|e| {
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    )
                });
                if closed && peek.len == 0 {
                    self.budget.note_silent_close();
                } else if error.is_some() {
                    self.error
                        .get_or_insert_with(|| format!("TLS handshake failed: {why}"));
                }
                return None;
            }
        };
        let info = crate::tls::info(tls.get_ref().1);
        let alpn_h2 = info.alpn.as_deref() == Some("h2");
        self.tls = Some(info);
        self.probes.push("tls-inner".to_string());
        let mut inner = if alpn_h2 {
            Some(Found {
                service: "http".to_string(),
                extra: Some("HTTP/2 (ALPN h2)".to_string()),
                confidence: 0.9,
                ..Found::default()
            })
        } else {
            let mut banner = Vec::new();
            read_reply(
                &mut tls,
                &self.budget,
                &mut banner,
                self.short_wait(200),
                self.short_wait(200),
                4096,
                banner_complete,
            )
            .await;
            if banner.is_empty() {
                self.http_on(&mut tls).await
            } else {
                self.note_seen(&banner);
                self.d
                    .sigs
                    .find("banner", &banner)
                    .map(|h| Found::from_hit(h, &banner))
            }
        };
        let mut found = inner.take().unwrap_or_else(|| Found {
            service: "unknown".to_string(),
            extra: Some("TLS; the service inside did not identify itself".to_string()),
            confidence: 0.5,
            ..Found::default()
        });
        found.service = tls_name(&found.service).to_string();
        Some(found)
    }
}

/// rustls refuses a handshake message over 64 KiB (RFC 8446 allows 16 MiB; every client caps
/// it): the usual cause is a certificate chain padded or grown past that.
fn handshake_too_large(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| {
            matches!(
                r,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge)
            )
        })
}

/// A stream that keeps the first bytes read through it: enough of a TLS record header and the
/// first handshake message's type to know a TLS server answered.
struct Peek<S> {
    inner: S,
    head: [u8; 6],
    len: usize,
}

impl<S> Peek<S> {
    fn new(inner: S) -> Peek<S> {
        Peek {
            inner,
            head: [0; 6],
            len: 0,
        }
    }

    /// A handshake record (22) of TLS 1.x starting with a ServerHello (2), or an alert
    /// record (21) of TLS 1.x of the alert's two bytes.
    fn spoke_tls(&self) -> bool {
        matches!(
            self.head.get(..self.len),
            Some([0x16, 0x03, 0..=0x04, _, _, 0x02] | [0x15, 0x03, 0..=0x04, 0x00, 0x02, ..])
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Peek<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let me = &mut *self;
        for &b in buf.filled().get(before..).unwrap_or_default() {
            if me.len == me.head.len() {
                break;
            }
            me.head[me.len] = b;
            me.len += 1;
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Peek<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The service's name when it runs inside TLS.
fn tls_name(inner: &str) -> &str {
    match inner {
        "http" => "https",
        "imap" => "imaps",
        "pop3" => "pop3s",
        "smtp" => "submissions",
        "ftp" => "ftps",
        "ldap" => "ldaps",
        "telnet" => "telnets",
        other => other,
    }
}

/// A banner is complete at a line end, or (binary greetings) when a MySQL-style packet is whole.
fn banner_complete(d: &[u8]) -> bool {
    if d.ends_with(b"\n") || d.len() == 12 && d.starts_with(b"RFB ") {
        return true;
    }
    // An SSH server's identification line is all its banner says; what follows it in the
    // same breath is its binary KEXINIT (dropbear sends both at once), which never ends a
    // line: waiting for the stream to go idle cost 250 ms.
    if d.starts_with(b"SSH-") && d.contains(&b'\n') {
        return true;
    }
    if d.len() >= 4 && d[3] == 0 {
        let len = usize::from(d[0]) | usize::from(d[1]) << 8 | usize::from(d[2]) << 16;
        return d.len() >= len + 4;
    }
    d.starts_with(&[0xff]) && d.len() >= 3
}

/// Names the registry may use for a service we report.
fn equivalent(found: &str, registry: &str) -> bool {
    if found.eq_ignore_ascii_case(registry) {
        return true;
    }
    let aliases: &[&str] = match found {
        "http" => &[
            "www",
            "www-http",
            "http-alt",
            "http-proxy",
            "webcache",
            "http-mgmt",
        ],
        "https" => &["https-alt", "ssl-https"],
        "rpcbind" => &["sunrpc", "portmapper"],
        "netinfo" | "nibind" => &["netinfo-local", "netinfo"],
        "smtp" => &["submission", "smtps", "urd"],
        "submissions" => &["smtps", "urd"],
        "memcache" => &["memcached"],
        "rfb" => &["vnc"],
        // QUIC and DTLS are how HTTP/3 and CoAP over DTLS arrive on UDP; the registry names
        // the application (443/udp https, 5684/udp coaps), the probe the transport.
        "quic" => &["https"],
        "dtls" => &["https", "coaps"],
        "stun" => &["turn", "stun-behavior"],
        _ => &[],
    };
    aliases.iter().any(|a| a.eq_ignore_ascii_case(registry))
}

/// "SSH (OpenSSH 9.6p1)"
fn describe(f: &Found) -> String {
    let label = match f.service.as_str() {
        "netinfo" | "nibind" => "NetInfo".to_string(),
        "rpc" => "ONC RPC".to_string(),
        "rpcbind" => "ONC RPC portmapper".to_string(),
        "memcache" => "memcached".to_string(),
        "rfb" => "VNC (RFB)".to_string(),
        "mysql" => "MySQL protocol".to_string(),
        "redis" => "Redis protocol".to_string(),
        "submissions" => "SMTP over TLS".to_string(),
        "ms-wbt-server" => "RDP".to_string(),
        "microsoft-ds" | "netbios-ssn" => "SMB".to_string(),
        "domain" => "DNS".to_string(),
        "postgresql" => "PostgreSQL protocol".to_string(),
        "mongodb" => "MongoDB protocol".to_string(),
        s => s.to_ascii_uppercase(),
    };
    // An RPC program's versions read "v2" or "v2-4" in a sentence ("2-4" in `version`, as
    // nmap writes them).
    let version = f.version.as_deref().map(|v| match &f.rpc {
        Some(_) => format!("v{v}"),
        None => v.to_string(),
    });
    let version = version.as_deref();
    let detail: Vec<&str> = match f.service.as_str() {
        "netinfo" => ["netinfod"].into_iter().chain(version).collect(),
        "nibind" => ["nibindd"].into_iter().chain(version).collect(),
        _ => [f.product.as_deref(), version]
            .into_iter()
            .flatten()
            .filter(|p| !p.eq_ignore_ascii_case(&label))
            .collect(),
    };
    if detail.is_empty() {
        label
    } else {
        format!("{label} ({})", detail.join(" "))
    }
}

fn verdict(
    port: u16,
    tcp: Status,
    udp: Status,
    expected: &[String],
    caller_expected: bool,
    f: &Found,
    tls: bool,
) -> Verdict {
    verdict_on(
        Protocol::Tcp,
        port,
        tcp,
        udp,
        expected,
        caller_expected,
        f,
        tls,
    )
}

/// The verdict for a service found on `port` over `proto`: `own` is the registry's status
/// for that protocol (what the sentence names), `other` the other protocol's (a port is a
/// ghost only when neither provides for a listener). UDP detection (`crate::udp`) uses it
/// with `Protocol::Udp`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn verdict_on(
    proto: Protocol,
    port: u16,
    own: Status,
    other: Status,
    expected: &[String],
    caller_expected: bool,
    f: &Found,
    tls: bool,
) -> Verdict {
    let (tcp, udp) = (own, other);
    let status = own.as_str();
    let label = proto.as_str();
    let head = match (expected.first(), caller_expected) {
        (Some(e), true) => format!("{port}/{label} is expected to run {e}"),
        (Some(e), false) => format!("{port}/{label} is assigned to {e}"),
        (None, _) => format!("{port}/{label} is {status}"),
    };
    let wrapped = f.service == TCPWRAPPED;
    let unknown = f.service == "unknown" || wrapped;
    // A convention only answers for the registry: a caller who named what should run here
    // gets a plain yes or no.
    let convention = (!caller_expected)
        .then(|| {
            portent_registry::conventions_for(port).find(|c| equivalent(&f.service, c.service))
        })
        .flatten();
    let matches = if unknown {
        Matches::Unknown
    } else if expected.iter().any(|e| equivalent(&f.service, e)) {
        Matches::True
    } else if convention.is_some() {
        Matches::Conventional
    } else {
        Matches::False
    };
    // A private-use allocation (24, 35...) provides for a site's own service: not a ghost.
    let ghost = !tcp.provides_for_listener() && !udp.provides_for_listener();
    let sentence = if unknown {
        let what = if wrapped {
            "it accepts connections and closes them without a word (tcpwrapped): access \
             control such as a TCP wrapper or a firewall, or a service that talks only to some \
             addresses"
                .to_string()
        } else if let Some(why) = &f.tls_failed {
            format!("it speaks TLS, but the handshake failed: {why}")
        } else if tls {
            "it speaks TLS, but the service inside did not identify itself".to_string()
        } else if f.evidence.is_empty() {
            "nothing we recognise answered".to_string()
        } else {
            "it answered in a way we do not recognise".to_string()
        };
        format!("{head}; {what}")
    } else {
        let tail = match (matches, convention) {
            (Matches::True, _) => ", as registered".to_string(),
            (Matches::Conventional, Some(c)) => format!(", as is common on this port: {}", c.why),
            _ => String::new(),
        };
        let tail = match matches {
            Matches::True | Matches::Conventional => tail,
            _ if expected.is_empty() && ghost => ": a custom service on a ghost port".to_string(),
            _ if expected.is_empty() => {
                ": a service the registry does not list for this port".to_string()
            }
            _ => format!(
                ": not the expected {}",
                expected.first().map_or("service", String::as_str)
            ),
        };
        format!("{head}; it speaks {}{tail}", describe(f))
    };
    Verdict {
        expected: expected.first().cloned(),
        registry_status: status.to_string(),
        matches,
        sentence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh() -> Found {
        Found {
            service: "ssh".into(),
            product: Some("OpenSSH".into()),
            version: Some("9.6".into()),
            confidence: 0.98,
            ..Found::default()
        }
    }

    #[test]
    fn ghost_port_sentence() {
        let v = verdict(
            797,
            Status::Unassigned,
            Status::Unassigned,
            &[],
            false,
            &ssh(),
            false,
        );
        assert_eq!(
            v.sentence,
            "797/tcp is unassigned; it speaks SSH (OpenSSH 9.6): a custom service on a ghost port"
        );
        assert_eq!(v.matches, Matches::False);
        assert_eq!(v.expected, None);
    }

    #[test]
    fn registered_and_mismatched_sentences() {
        let v = verdict(
            22,
            Status::Assigned,
            Status::Assigned,
            &["ssh".into()],
            false,
            &ssh(),
            false,
        );
        assert_eq!(
            v.sentence,
            "22/tcp is assigned to ssh; it speaks SSH (OpenSSH 9.6), as registered"
        );
        assert_eq!(v.matches, Matches::True);
        let v = verdict(
            80,
            Status::Assigned,
            Status::Assigned,
            &["http".into()],
            false,
            &ssh(),
            false,
        );
        assert_eq!(
            v.sentence,
            "80/tcp is assigned to http; it speaks SSH (OpenSSH 9.6): not the expected http"
        );
        let unknown = Found {
            service: "unknown".into(),
            ..Found::default()
        };
        let v = verdict(
            80,
            Status::Assigned,
            Status::Assigned,
            &["http".into()],
            false,
            &unknown,
            false,
        );
        assert_eq!(v.matches, Matches::Unknown);
        assert_eq!(
            v.sentence,
            "80/tcp is assigned to http; nothing we recognise answered"
        );
    }

    #[test]
    fn documented_conventions_are_not_mismatches() {
        // SSH on 2222 (registered to EtherNet-IP-1): Vagrant's forward, not a surprise.
        let v = verdict(
            2222,
            Status::Assigned,
            Status::Assigned,
            &["EtherNet-IP-1".into()],
            false,
            &ssh(),
            false,
        );
        assert_eq!(v.matches, Matches::Conventional);
        assert!(
            v.sentence.ends_with(
                "it speaks SSH (OpenSSH 9.6), as is common on this port: Vagrant forwards a guest's SSH port 22 to 2222 on the host by default"
            ),
            "{}",
            v.sentence
        );
        // The same service elsewhere is still a mismatch, and a caller's own expectation
        // is answered plainly.
        let v = verdict(
            2223,
            Status::Assigned,
            Status::Assigned,
            &["rockwell-csp2".into()],
            false,
            &ssh(),
            false,
        );
        assert_eq!(v.matches, Matches::False);
        let v = verdict(
            2222,
            Status::Assigned,
            Status::Assigned,
            &["http".into()],
            true,
            &ssh(),
            false,
        );
        assert_eq!(v.matches, Matches::False);
        let https = Found {
            service: "https".into(),
            ..Found::default()
        };
        let v = verdict(
            8443,
            Status::Assigned,
            Status::Assigned,
            &["pcsync-https".into()],
            false,
            &https,
            true,
        );
        assert_eq!(v.matches, Matches::Conventional, "{}", v.sentence);
    }

    #[test]
    fn aliases_match() {
        assert!(equivalent("http", "www-http"));
        assert!(equivalent("rpcbind", "sunrpc"));
        assert!(equivalent("netinfo", "netinfo-local"));
        assert!(!equivalent("ssh", "http"));
    }
}
