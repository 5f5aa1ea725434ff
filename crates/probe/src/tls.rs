//! TLS on any port with rustls. We identify, we do not trust: the verifier accepts every
//! certificate, and the leaf certificate is parsed with x509-parser for display only.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::{Deserialize, Serialize};

/// What the TLS handshake revealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TlsInfo {
    /// "TLSv1.3" or "TLSv1.2".
    pub version: Option<String>,
    /// The negotiated ALPN protocol ("h2", "http/1.1"), escaped.
    pub alpn: Option<String>,
    pub cipher: Option<String>,
    /// The leaf certificate's subject (RFC 4514 form), escaped.
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// DNS names and IP addresses from subjectAltName, escaped.
    pub sans: Vec<String>,
    /// Validity bounds, RFC 3339 in UTC ("2026-01-01T00:00:00Z").
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// `not_after` as Unix seconds, for comparing runs (an expiry crossing 30 days).
    pub not_after_unix: Option<i64>,
    /// SHA-256 of the leaf certificate (DER), lowercase hex: a changed certificate is a
    /// changed fingerprint.
    pub sha256: Option<String>,
    /// Whether the subject equals the issuer.
    pub self_signed: bool,
}

/// Accepts every certificate: for identification only, never for trust.
#[derive(Debug)]
struct AcceptAll(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration that offers TLS 1.2 and 1.3 and ALPN h2 / http/1.1.
pub(crate) fn client_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAll(provider)))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Reads the negotiated parameters and the leaf certificate from a finished handshake.
pub(crate) fn info(conn: &rustls::ClientConnection) -> TlsInfo {
    let mut out = TlsInfo {
        version: conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        }),
        alpn: conn
            .alpn_protocol()
            .map(|a| crate::escape::escape_bytes(a, 64)),
        cipher: conn
            .negotiated_cipher_suite()
            .map(|c| format!("{:?}", c.suite())),
        ..TlsInfo::default()
    };
    if let Some(leaf) = conn.peer_certificates().and_then(|c| c.first()) {
        cert_details(leaf.as_ref(), &mut out);
    }
    out
}

/// The certificate details a handshake reports for a leaf certificate `der`. An entry point
/// for the fuzz targets in `fuzz/` (the handshake is the only other caller); not part of the
/// API.
#[doc(hidden)]
pub fn cert_info(der: &[u8]) -> TlsInfo {
    let mut out = TlsInfo::default();
    cert_details(der, &mut out);
    out
}

fn cert_details(der: &[u8], out: &mut TlsInfo) {
    use std::fmt::Write as _;
    use x509_parser::prelude::*;
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut hex = String::with_capacity(64);
    for b in digest.as_ref() {
        let _ = write!(hex, "{b:02x}");
    }
    out.sha256 = Some(hex);
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return;
    };
    let clean = |s: String| crate::escape::escape_text(&s, 256);
    out.subject = Some(clean(cert.subject().to_string()));
    out.issuer = Some(clean(cert.issuer().to_string()));
    out.self_signed = cert.subject() == cert.issuer();
    out.not_before = Some(rfc3339(cert.validity().not_before.to_datetime()));
    out.not_after = Some(rfc3339(cert.validity().not_after.to_datetime()));
    out.not_after_unix = Some(cert.validity().not_after.timestamp());
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in san.value.general_names.iter().take(32) {
            match name {
                GeneralName::DNSName(d) => out.sans.push(clean(d.to_string())),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => out
                        .sans
                        .push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        out.sans.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
}

/// A certificate time as RFC 3339 in UTC (`2026-12-05T16:02:44Z`), the form JSON readers
/// parse; the certificate's own times are UTC too.
fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
