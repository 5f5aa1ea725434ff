//! Timing: a round-trip estimator per host (RFC 6298's SRTT and RTTVAR, from which each
//! attempt's timeout is derived), a congestion window shared by the scan (slow start, then
//! additive increase; halved at most once per round trip when retries reveal loss, shrunk a
//! little when queueing delay shows a buffer filling), and a pacer for `--rate`. The connect,
//! SYN and UDP scans all pace by these.

use std::time::{Duration, Instant};

/// Smoothed round-trip time and its variation for one host.
#[derive(Debug, Clone, Copy)]
pub struct RttEstimator {
    srtt: Option<f64>,
    rttvar: f64,
    initial: Duration,
    min: Duration,
    max: Duration,
}

impl RttEstimator {
    pub fn new(initial: Duration, min: Duration, max: Duration) -> RttEstimator {
        RttEstimator {
            srtt: None,
            rttvar: 0.0,
            initial,
            min,
            max,
        }
    }

    /// Takes one measured round trip.
    pub fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(s) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (s - r).abs();
                self.srtt = Some(0.875 * s + 0.125 * r);
            }
        }
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt.map(Duration::from_secs_f64)
    }

    /// How long to wait for an answer: SRTT + 4 RTTVAR, within [min, max]; the initial
    /// timeout before any sample.
    pub fn timeout(&self) -> Duration {
        match self.srtt {
            None => self.initial,
            Some(s) => {
                let t = Duration::from_secs_f64(s + 4.0 * self.rttvar);
                t.clamp(self.min, self.max)
            }
        }
    }

    /// The timeout for attempt `n` (0 = first): doubled for retries (not more: a scanner's
    /// retries are for loss, and a filtered port stays silent however long one waits).
    pub fn timeout_for(&self, attempt: u8) -> Duration {
        let t = self.timeout();
        let f = if attempt == 0 { 1 } else { 2 };
        (t * f).min(self.max.max(t))
    }
}

/// How many attempts may be in flight: a congestion window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    cwnd: f64,
    ssthresh: f64,
    min: f64,
    max: f64,
    last_cut: Option<Instant>,
    /// Smoothed round trip over all answers (seconds), for pacing.
    path_rtt: Option<f64>,
}

/// Additive increase per round trip once past slow start.
const CA_GAIN: f64 = 16.0;

impl Window {
    pub fn new(initial: usize, min: usize, max: usize) -> Window {
        let max = max.max(1) as f64;
        Window {
            cwnd: (initial as f64).min(max),
            ssthresh: max,
            min: (min.max(1) as f64).min(max),
            max,
            last_cut: None,
            path_rtt: None,
        }
    }

    /// The time between two attempts that spreads one window over one round trip (with a
    /// gain of 2 in slow start, 1.25 after), as TCP pacing does: sending a whole window at
    /// once overflows the first small buffer on the path. `None` before any answer.
    pub fn pacing_interval(&self) -> Option<Duration> {
        let rtt = self.path_rtt?;
        let gain = if self.cwnd < self.ssthresh { 2.0 } else { 1.25 };
        Some(Duration::from_secs_f64(rtt / (gain * self.cwnd.max(1.0))))
    }

    /// Attempts allowed in flight now.
    pub fn allowed(&self) -> usize {
        self.cwnd as usize
    }

    pub fn max(&self) -> usize {
        self.max as usize
    }

    /// An answer came back after `rtt`: grow.
    pub fn on_answer(&mut self, rtt: Duration) {
        let r = rtt.as_secs_f64();
        self.path_rtt = Some(self.path_rtt.map_or(r, |s| 0.875 * s + 0.125 * r));
        if self.cwnd < self.ssthresh {
            self.cwnd += 1.0;
        } else {
            self.cwnd += CA_GAIN / self.cwnd;
        }
        self.cwnd = self.cwnd.min(self.max);
    }

    /// A UDP round ended in silence. Silence is what most UDP ports give, so it is not a
    /// congestion signal (loss shows as a reply that came only on a retry): grow as for an
    /// answer, without a round-trip sample.
    pub fn on_quiet(&mut self) {
        if self.cwnd < self.ssthresh {
            self.cwnd += 1.0;
        } else {
            self.cwnd += CA_GAIN / self.cwnd;
        }
        self.cwnd = self.cwnd.min(self.max);
    }

    /// A loss was detected: halve, at most once per `srtt` (one loss episode, one cut).
    /// Returns true if the window was cut.
    pub fn on_loss(&mut self, now: Instant, srtt: Duration) -> bool {
        if let Some(t) = self.last_cut
            && now.duration_since(t) < srtt.max(Duration::from_millis(1))
        {
            return false;
        }
        self.ssthresh = (self.cwnd / 2.0).max(self.min);
        self.cwnd = self.ssthresh;
        self.last_cut = Some(now);
        true
    }

    /// A round trip of `rtt` on a path whose shortest seen is `base`, for a sender that paces
    /// by this window but cannot count what is in flight (the SYN scan keeps no per-probe
    /// connection). Queueing delay beyond `max(base, 5 ms)` means the probes are filling a
    /// buffer on the path, which overflows next: shrink by a fifth, at most once per round
    /// trip, before anything is lost. A gentler step than a loss's halving because it comes
    /// earlier: a few steps settle the rate where the queue stops growing. Otherwise grow as
    /// for an answer, and past slow start, while the queue is under a quarter of the path
    /// (at least 1 ms), by an eighth per round trip besides. Returns true on a cut.
    pub fn on_delay(&mut self, rtt: Duration, base: Duration, now: Instant) -> bool {
        let queue = rtt.saturating_sub(base);
        // Slow start ends at the first sign of a queue (a quarter of the path's delay), as
        // HyStart ends TCP's: doubling each round trip overshoots by the time a queue's
        // growth comes back as longer round trips.
        if self.cwnd < self.ssthresh && queue > (base / 4).max(Duration::from_millis(1)) {
            self.ssthresh = self.cwnd;
        }
        if queue <= base.max(Duration::from_millis(5)) {
            self.on_answer(rtt);
            // Past slow start with hardly any queue: grow by an eighth per round trip, so
            // that a cut for a passing burst of delay is made good in a few round trips (the
            // additive step, a few probes per round trip, would take the rest of the scan).
            if self.cwnd >= self.ssthresh && queue <= (base / 4).max(Duration::from_millis(1)) {
                self.cwnd = (self.cwnd + 0.125).min(self.max);
            }
            return false;
        }
        let r = rtt.as_secs_f64();
        self.path_rtt = Some(self.path_rtt.map_or(r, |s| 0.875 * s + 0.125 * r));
        let srtt = Duration::from_secs_f64(self.path_rtt.unwrap_or(r));
        if let Some(t) = self.last_cut
            && now.duration_since(t) < srtt.max(Duration::from_millis(1))
        {
            return false;
        }
        self.ssthresh = (self.cwnd * 0.8).max(self.min);
        self.cwnd = self.ssthresh;
        self.last_cut = Some(now);
        true
    }

    /// A local resource ran out with `in_flight` attempts out: never try more than that again.
    pub fn on_shortage(&mut self, in_flight: usize) {
        let cap = ((in_flight as f64) * 0.9).max(self.min);
        self.max = self.max.min(cap);
        self.cwnd = self.cwnd.min(self.max);
        self.ssthresh = self.ssthresh.min(self.max);
    }
}

/// Spaces attempts at `rate` per second, allowing a burst of 10 ms worth.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    interval: Duration,
    next: Instant,
    burst: Duration,
}

impl Pacer {
    pub fn new(rate: u32, now: Instant) -> Pacer {
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        Pacer {
            interval,
            next: now,
            burst: Duration::from_millis(10).max(interval),
        }
    }

    /// A pacer with a given spacing and burst allowance.
    pub fn with_interval(interval: Duration, burst: Duration, now: Instant) -> Pacer {
        Pacer {
            interval,
            next: now,
            burst: burst.max(interval),
        }
    }

    /// Changes the spacing from now on.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
        self.burst = self.burst.max(interval);
    }

    /// Says whether a token is due, without taking it; if not, when it will be.
    pub fn ready(&self, now: Instant) -> Result<(), Instant> {
        if self.next > now {
            Err(self.next)
        } else {
            Ok(())
        }
    }

    /// Takes a token if one is due; otherwise says when the next one is.
    pub fn take(&mut self, now: Instant) -> Result<(), Instant> {
        self.ready(now)?;
        let floor = now.checked_sub(self.burst).unwrap_or(now);
        self.next = self.next.max(floor) + self.interval;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rtt_estimator_follows_rfc6298() {
        let ms = Duration::from_millis;
        let mut e = RttEstimator::new(ms(1000), ms(100), ms(3000));
        assert_eq!(e.timeout(), ms(1000));
        e.sample(ms(200));
        // srtt 200, rttvar 100: 200 + 400.
        assert_eq!(e.timeout(), ms(600));
        for _ in 0..50 {
            e.sample(ms(200));
        }
        assert!(e.timeout() < ms(210), "{:?}", e.timeout());
        assert_eq!(e.timeout_for(1), e.timeout() * 2);
        let mut fast = RttEstimator::new(ms(1000), ms(100), ms(3000));
        fast.sample(Duration::from_micros(50));
        assert_eq!(fast.timeout(), ms(100), "clamped to the minimum");
        assert_eq!(
            fast.timeout_for(10),
            ms(200),
            "retries wait twice as long, no more"
        );
    }

    #[test]
    fn window_slow_starts_and_halves_once_per_rtt() {
        let mut w = Window::new(10, 4, 1000);
        assert_eq!(w.pacing_interval(), None);
        for _ in 0..100 {
            w.on_answer(Duration::from_millis(20));
        }
        // 110 in flight per 20 ms, slow-start gain 2: one every ~91 us.
        let iv = w.pacing_interval().unwrap();
        assert!(
            (Duration::from_micros(85)..Duration::from_micros(95)).contains(&iv),
            "{iv:?}"
        );
        assert_eq!(w.allowed(), 110);
        let t0 = Instant::now();
        assert!(w.on_loss(t0, Duration::from_millis(50)));
        assert_eq!(w.allowed(), 55);
        assert!(!w.on_loss(t0 + Duration::from_millis(10), Duration::from_millis(50)));
        assert_eq!(w.allowed(), 55);
        assert!(w.on_loss(t0 + Duration::from_millis(60), Duration::from_millis(50)));
        assert_eq!(w.allowed(), 27);
        // Congestion avoidance: slower growth.
        for _ in 0..27 {
            w.on_answer(Duration::from_millis(20));
        }
        assert!(w.allowed() < 27 + 20);
        w.on_shortage(20);
        assert_eq!(w.allowed(), 18);
        assert_eq!(w.max(), 18);
    }

    #[test]
    fn queueing_delay_shrinks_the_window_gently_once_per_round_trip() {
        let ms = Duration::from_millis;
        let mut w = Window::new(1000, 8, 100_000);
        let t0 = Instant::now();
        // 20 ms path: a little queueing grows the window in slow start (+1 an answer).
        assert!(!w.on_delay(ms(23), ms(20), t0));
        assert_eq!(w.allowed(), 1001);
        // 18 ms of queueing ends slow start (more than a quarter of the path) but is
        // tolerated: additive growth, a fraction an answer.
        assert!(!w.on_delay(ms(38), ms(20), t0));
        assert_eq!(w.allowed(), 1001);
        assert!(!w.on_delay(ms(23), ms(20), t0));
        assert_eq!(w.allowed(), 1001, "no longer slow start");
        // 30 ms of queueing: a cut by a fifth.
        assert!(w.on_delay(ms(50), ms(20), t0));
        assert_eq!(w.allowed(), 800);
        // Not again within a round trip; then again.
        assert!(!w.on_delay(ms(50), ms(20), t0 + ms(5)));
        assert_eq!(w.allowed(), 800);
        assert!(w.on_delay(ms(50), ms(20), t0 + ms(60)));
        assert_eq!(w.allowed(), 640);
        // Past slow start, with 5 ms of queueing or less: an eighth of an attempt more per
        // answer (an eighth more per round trip); with more, the additive step only.
        for _ in 0..80 {
            assert!(!w.on_delay(ms(25), ms(20), t0 + ms(70)));
        }
        assert_eq!(w.allowed(), 652, "640.6 + 80 x (0.125 + 16 / ~646)");
        for _ in 0..80 {
            assert!(!w.on_delay(ms(30), ms(20), t0 + ms(70)));
        }
        assert_eq!(w.allowed(), 654, "652.6 + 80 x 16 / ~653 only");
        // A microsecond path tolerates 5 ms of queueing.
        let mut lo = Window::new(1000, 8, 100_000);
        assert!(!lo.on_delay(ms(4), Duration::from_micros(50), t0));
        assert!(lo.on_delay(ms(6), Duration::from_micros(50), t0));
    }

    #[test]
    fn quiet_rounds_grow_the_window_without_a_pacing_sample() {
        let mut w = Window::new(512, 8, 8192);
        for _ in 0..10_000 {
            w.on_quiet();
        }
        assert_eq!(w.allowed(), 8192);
        assert_eq!(
            w.pacing_interval(),
            None,
            "silence says nothing about the round trip"
        );
    }

    #[test]
    fn pacer_spaces_attempts() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1000, t0);
        let mut n = 0;
        while p.take(t0).is_ok() {
            n += 1;
        }
        assert!((1..=11).contains(&n), "{n}");
        let later = t0 + Duration::from_millis(100);
        let mut m = 0;
        while p.take(later).is_ok() {
            m += 1;
        }
        assert!((9..=12).contains(&m), "burst after idle is bounded: {m}");
    }
}
