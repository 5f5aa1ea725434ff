//! The probe connections one host address is sent at once, shared by that host's ports in
//! detection.
//!
//! Servers count connections per client address, not per port: ngIRCd turns a sixth away,
//! ZNC accepts 10 unauthenticated ones, OpenSSH starts dropping at 10 (MaxStartups), dropbear
//! at 5. A window per port (4 probes each, before) either wastes a lone unknown port's time
//! (its later probes wait for earlier silent ones) or, made wide, floods a host whose ports
//! are detected together (16 per port made ZNC refuse a two-port scan). So the window is the
//! host's: [`HOST_PROBES`] probe connections per address, split evenly among the ports of
//! that address being detected at the moment. A lone port gets all of them; eight ports of
//! one host get one each. Each port may always have one probe running, so a port never waits
//! on another's probes, and the banner connection of each port is not counted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Probe connections in flight to one host address, all of its ports in detection together.
/// A lone port's probes then start at once but for the last few of the order; with its banner
/// connection that is 11 connections, one more than ZNC's 10 anonymous ones per address (the
/// one over is the last probe of the order, which ZNC closes: HTTP, first, has named it).
pub(crate) const HOST_PROBES: usize = 10;

#[derive(Default)]
struct Use {
    /// Ports of this address in detection now.
    ports: usize,
    /// Probe connections to this address now (banner connections not counted).
    probes: usize,
}

/// Every host address being detected, and what it is being sent. Shared by the clones of a
/// `Detector`.
#[derive(Default, Debug, Clone)]
pub(crate) struct Hosts {
    inner: Arc<Inner>,
}

#[derive(Default, Debug)]
struct Inner {
    map: Mutex<HashMap<IpAddr, Use>>,
    /// Told whenever a probe connection or a port is counted off: a port held back by the
    /// budget looks again (its share may have grown) instead of waiting on its own probes.
    freed: tokio::sync::Notify,
}

impl std::fmt::Debug for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ports, {} probes", self.ports, self.probes)
    }
}

impl Hosts {
    fn with<T>(&self, ip: IpAddr, f: impl FnOnce(&mut Use) -> T) -> T {
        let mut map = self
            .inner
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let u = map.entry(ip).or_default();
        let out = f(u);
        if u.ports == 0 && u.probes == 0 {
            map.remove(&ip);
        }
        out
    }

    /// Completes when a probe connection or a port of any address has been counted off since
    /// the returned future was enabled (`Notified::enable`) or first polled.
    pub(crate) fn freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.freed.notified()
    }

    fn free(&self, ip: IpAddr, f: impl FnOnce(&mut Use)) {
        self.with(ip, f);
        self.inner.freed.notify_waiters();
    }

    /// A port of `ip` enters detection until the guard is dropped.
    pub(crate) fn port(&self, ip: IpAddr) -> PortGuard {
        self.with(ip, |u| u.ports += 1);
        PortGuard {
            hosts: self.clone(),
            ip,
        }
    }

    /// A probe connection for a port of `ip` that has `running` probes of its own in flight,
    /// if the host's budget allows one more: the port's share of [`HOST_PROBES`] (the budget
    /// over the host's ports in detection) and the budget itself, except that a port with
    /// nothing running always gets one.
    pub(crate) fn probe(&self, ip: IpAddr, running: usize) -> Option<ProbeGuard> {
        self.with(ip, |u| {
            let share = (HOST_PROBES / u.ports.max(1)).max(1);
            let ok = running == 0 || (running < share && u.probes < HOST_PROBES);
            ok.then(|| u.probes += 1)
        })
        .map(|()| ProbeGuard {
            hosts: self.clone(),
            ip,
        })
    }
}

/// A port in detection; counted off when dropped.
pub(crate) struct PortGuard {
    hosts: Hosts,
    ip: IpAddr,
}

impl Drop for PortGuard {
    fn drop(&mut self) {
        self.hosts
            .free(self.ip, |u| u.ports = u.ports.saturating_sub(1));
    }
}

/// A probe connection in flight; counted off when dropped (the probe ended or was dropped).
pub(crate) struct ProbeGuard {
    hosts: Hosts,
    ip: IpAddr,
}

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.hosts
            .free(self.ip, |u| u.probes = u.probes.saturating_sub(1));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn a_lone_port_gets_the_whole_budget() {
        let h = Hosts::default();
        let _p = h.port(A);
        let g: Vec<_> = (0..HOST_PROBES).map(|n| h.probe(A, n).unwrap()).collect();
        assert!(h.probe(A, HOST_PROBES).is_none());
        drop(g);
        assert!(h.probe(A, 0).is_some());
    }

    #[test]
    fn ports_of_one_host_share_it_and_other_hosts_do_not_count() {
        let h = Hosts::default();
        let (_p, _q) = (h.port(A), h.port(A));
        let _r = h.port(B);
        let a: Vec<_> = (0..HOST_PROBES / 2)
            .map(|n| h.probe(A, n).unwrap())
            .collect();
        // The first port has its half.
        assert!(h.probe(A, HOST_PROBES / 2).is_none());
        let b: Vec<_> = (0..HOST_PROBES / 2)
            .map(|n| h.probe(A, n).unwrap())
            .collect();
        // The host is full: only a port with nothing running gets one more.
        assert!(h.probe(A, 1).is_none());
        let extra = h.probe(A, 0).unwrap();
        // Another address has its own budget.
        let c: Vec<_> = (0..HOST_PROBES).map(|n| h.probe(B, n).unwrap()).collect();
        drop((a, b, c, extra));
    }

    #[test]
    fn the_map_forgets_an_address_when_done() {
        let h = Hosts::default();
        {
            let _p = h.port(A);
            let _g = h.probe(A, 0).unwrap();
        }
        assert!(h.inner.map.lock().unwrap().is_empty());
    }
}
