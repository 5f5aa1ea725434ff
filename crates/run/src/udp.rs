//! The UDP half of a run: the payload catalogue (`portent_probe::udp`) handed to the scan
//! engine as its payload source, and each validated reply turned into a [`Detection`].
//!
//! Why here: the engine (`portent-scan`) must not know the catalogue (it would pull the
//! parsers into every scan), and the catalogue must not know the engine; the run is where
//! both meet. Identification costs nothing on the wire: the reply that made the port `open`
//! is the one the catalogue's parser reads, so UDP ports are identified whether or not TCP
//! detection (`--detect`) is on.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use portent_probe::Detection;
use portent_probe::udp::{Catalogue, Reply, accepts, detection, identify};
use portent_registry::Registry;
use portent_scan::{UdpPayloads, UdpProbe};

/// The catalogue as the engine's [`UdpPayloads`]: every payload for a port, with fresh ids
/// for each round (so a late reply to an earlier round does not pass for this one).
#[derive(Debug)]
pub struct CataloguePayloads {
    catalogue: Arc<Catalogue>,
    rng: Mutex<fastrand::Rng>,
}

impl CataloguePayloads {
    pub fn new(catalogue: Arc<Catalogue>) -> CataloguePayloads {
        CataloguePayloads {
            catalogue,
            // Seeded from the OS: transaction ids an off-path sender cannot guess from the
            // clock.
            rng: Mutex::new(fastrand::Rng::new()),
        }
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }
}

impl UdpPayloads for CataloguePayloads {
    fn probes(&self, port: u16) -> Vec<UdpProbe> {
        // The lock is held for a few random bytes; a poisoned lock still has a usable Rng.
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        self.catalogue
            .indices_for_port(port)
            .into_iter()
            .filter_map(|id| {
                let p = self.catalogue.payloads().get(id)?;
                Some(UdpProbe {
                    id,
                    bytes: p.build(&mut || rng.u8(..)),
                })
            })
            .collect()
    }

    fn any_source_port(&self, port: u16) -> bool {
        self.catalogue.any_source_port(port)
    }

    fn accepts(&self, _port: u16, probe: &UdpProbe, reply: &[u8]) -> bool {
        self.catalogue
            .payloads()
            .get(probe.id)
            .is_some_and(|p| accepts(p, &probe.bytes, reply))
    }
}

/// The detection for one validated reply, or `None` when the probe id is not the catalogue's
/// (an empty datagram) or the parser no longer takes it.
pub fn identify_reply(
    catalogue: &Catalogue,
    registry: &Registry,
    addr: SocketAddr,
    probe_id: usize,
    sent: &[u8],
    reply: &[u8],
    rtt: Duration,
) -> Option<Detection> {
    let payload = catalogue.payloads().get(probe_id)?;
    match identify(payload, sent, reply) {
        Reply::Answer(ident) => Some(detection(
            addr,
            addr.port(),
            payload,
            reply,
            ident,
            registry,
            u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX),
        )),
        Reply::NotOurs => None,
    }
}

/// Keeps the better of two detections of one port: the higher confidence, and on a tie the
/// one that names a product.
pub fn better(old: Option<Detection>, new: Detection) -> Detection {
    match old {
        Some(o)
            if o.confidence > new.confidence
                || (o.confidence == new.confidence && o.product.is_some()) =>
        {
            let mut o = o;
            for p in new.probes {
                if !o.probes.contains(&p) {
                    o.probes.push(p);
                }
            }
            o
        }
        Some(o) => {
            let mut n = new;
            for p in o.probes {
                if !n.probes.contains(&p) {
                    n.probes.push(p);
                }
            }
            n
        }
        None => new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_carry_catalogue_indices_and_fresh_ids() {
        let cat = Arc::new(Catalogue::embedded().clone());
        let src = CataloguePayloads::new(Arc::clone(&cat));
        let a = src.probes(53);
        let b = src.probes(53);
        assert!(a.len() >= 2, "{a:?}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.id, y.id);
            let p = &cat.payloads()[x.id];
            assert!(p.ports.contains(&53), "{}", p.name);
            assert_eq!(x.bytes.len(), p.bytes.len());
        }
        // The DNS query ids (two random bytes each) differ between rounds.
        assert!(a.iter().zip(&b).any(|(x, y)| x.bytes != y.bytes));
        // A port without payloads of its own gets the generic ones.
        let g = src.probes(40000);
        assert!(!g.is_empty());
        assert!(g.iter().all(|p| cat.payloads()[p.id].generic));
    }

    #[test]
    fn a_reply_is_identified_and_a_stranger_is_not() {
        let cat = Arc::new(Catalogue::embedded().clone());
        let src = CataloguePayloads::new(Arc::clone(&cat));
        let probe = src
            .probes(11211)
            .into_iter()
            .find(|p| cat.payloads()[p.id].protocol == "memcached")
            .expect("a memcached payload");
        // memcached's UDP frame: the request id echoed, sequence 0 of 1, then the answer.
        let mut reply = probe.bytes[..2].to_vec();
        reply.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
        reply.extend_from_slice(b"VERSION 1.6.18\r\n");
        assert!(src.accepts(11211, &probe, &reply));
        let addr: SocketAddr = "127.0.0.1:11211".parse().expect("addr");
        let reg = Registry::embedded();
        let d = identify_reply(
            &cat,
            &reg,
            addr,
            probe.id,
            &probe.bytes,
            &reply,
            Duration::from_millis(2),
        )
        .expect("identified");
        assert_eq!(d.service, "memcache");
        assert_eq!(d.version.as_deref(), Some("1.6.18"));
        let mut stranger = reply.clone();
        stranger[0] ^= 0xff;
        assert!(!src.accepts(11211, &probe, &stranger));
        assert!(
            identify_reply(&cat, &reg, addr, usize::MAX, &[], &reply, Duration::ZERO).is_none()
        );
    }

    #[test]
    fn the_better_detection_is_kept() {
        let cat = Catalogue::embedded();
        let reg = Registry::embedded();
        let addr: SocketAddr = "127.0.0.1:7".parse().expect("addr");
        let base = |confidence: f32, product: Option<&str>, probe: &str| Detection {
            confidence,
            product: product.map(str::to_owned),
            probes: vec![probe.to_owned()],
            ..identify_any(cat, &reg, addr)
        };
        let kept = better(Some(base(0.5, None, "udp:a")), base(0.95, None, "udp:b"));
        assert_eq!(kept.confidence, 0.95);
        assert_eq!(kept.probes, ["udp:b", "udp:a"]);
        let kept = better(
            Some(base(0.9, Some("x"), "udp:a")),
            base(0.9, None, "udp:b"),
        );
        assert_eq!(kept.product.as_deref(), Some("x"));
    }

    /// Any real detection, to fill the fields a test does not care about.
    fn identify_any(cat: &Catalogue, reg: &Registry, addr: SocketAddr) -> Detection {
        let src = CataloguePayloads::new(Arc::new(cat.clone()));
        let probe = src.probes(7).into_iter().next().expect("a probe for 7");
        let reply = probe.bytes.clone();
        identify_reply(
            cat,
            reg,
            addr,
            probe.id,
            &probe.bytes,
            &reply,
            Duration::ZERO,
        )
        .expect("an echo is identified")
    }
}
