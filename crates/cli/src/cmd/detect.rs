//! Service detection as the CLI uses it (`scan --detect`, `check`): flags to a `Detector`,
//! and the short human forms of a `Detection`. Detection itself lives in `portent-probe`;
//! every string from it is peer text (already escaped there) and still goes through
//! `out::clean` before reaching a terminal.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use portent_probe::{Detection, Detector, Matches};
use portent_registry::Registry;

use crate::args::DetectArgs;
use crate::out::clean;

/// Validates the detection flags and builds the one detector shared by every port.
pub fn detector(args: &DetectArgs, reg: &Registry) -> Result<Detector> {
    let timeout = portent_scan::parse_duration(&args.detect_timeout)?;
    if timeout.is_zero() {
        bail!("--detect-timeout must be more than 0");
    }
    let mut b = Detector::builder()
        .timeout(timeout)
        // Never wait for a connect longer than the whole budget.
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .registry(reg.clone());
    for f in &args.signatures {
        b = b.signature_file(f);
    }
    b.build().context("cannot set up service detection")
}

/// "ssh OpenSSH 9.6p1 (protocol 2.0)": service, product, version and extra, cleaned.
pub fn summary(d: &Detection) -> String {
    let mut s = clean(&d.service, false).into_owned();
    if let Some(p) = &d.product {
        s.push(' ');
        s.push_str(&clean(p, false));
    }
    if let Some(v) = &d.version {
        s.push(' ');
        s.push_str(&clean(v, false));
    }
    if let Some(x) = &d.extra {
        s.push_str(" (");
        s.push_str(&clean(x, false));
        s.push(')');
    }
    s
}

/// "TLSv1.3, ALPN h2, CN=example, self-signed, until ...", or None without TLS.
pub fn tls_line(d: &Detection) -> Option<String> {
    let t = d.tls.as_ref()?;
    let mut parts: Vec<String> = Vec::new();
    if let Some(v) = &t.version {
        parts.push(clean(v, false).into_owned());
    }
    if let Some(a) = &t.alpn {
        parts.push(format!("ALPN {}", clean(a, false)));
    }
    if let Some(s) = &t.subject {
        parts.push(format!("subject {}", clean(s, false)));
    }
    if !t.sans.is_empty() {
        let sans: Vec<String> = t
            .sans
            .iter()
            .map(|s| clean(s, false).into_owned())
            .collect();
        parts.push(format!("SANs {}", sans.join(" ")));
    }
    if t.self_signed {
        parts.push("self-signed".into());
    } else if let Some(i) = &t.issuer {
        parts.push(format!("issuer {}", clean(i, false)));
    }
    if let Some(n) = &t.not_after {
        parts.push(format!("valid until {}", clean(n, false)));
    }
    Some(parts.join(", "))
}

/// Whether the verdict sentence is worth a line of its own in a table: the service is not
/// what the registry expects, or it speaks on a port the registry does not assign.
pub fn notable(d: &Detection) -> bool {
    d.verdict.matches == Matches::False
        || (d.service != "unknown" && d.verdict.registry_status != "assigned")
}

/// nmap's `conf` (0..10) from our confidence (0..1).
pub fn nmap_conf(d: &Detection) -> u8 {
    (d.confidence.clamp(0.0, 1.0) * 10.0).round() as u8
}
