//! The pipeline against a fake network (the scan) and real loopback listeners (detection):
//! detection of an open port starts and finishes while the scan is still running, and a stop
//! during detection or during the scan keeps what was found and marks what was cut short.

#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portent_probe::Detector;
use portent_registry::Registry;
use portent_run::{DetectionConfig, RunConfig, RunEvent, ScanOptions};
use portent_scan::{Attempt, Discovery, Network, PortSet, Reason, State, Targets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// How the fake network answers a port.
#[derive(Clone)]
enum Answer {
    Open,
    /// Refused, but only once `gate` is notified (silent until then, up to the timeout).
    RefusedAfter(Arc<Notify>),
    /// Never answers within the attempt's timeout.
    Silent,
}

struct FakeNet(HashMap<u16, Answer>);

impl Network for FakeNet {
    fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Attempt> + Send {
        let answer = self.0.get(&addr.port()).cloned();
        async move {
            let rtt = Duration::from_millis(1);
            match answer {
                Some(Answer::Open) => Attempt::Open { rtt },
                Some(Answer::RefusedAfter(gate)) => {
                    match tokio::time::timeout(timeout, gate.notified()).await {
                        Ok(()) => Attempt::Refused { rtt },
                        Err(_) => Attempt::Timeout,
                    }
                }
                Some(Answer::Silent) => {
                    tokio::time::sleep(timeout).await;
                    Attempt::Timeout
                }
                None => Attempt::Refused { rtt },
            }
        }
    }
}

/// A loopback SSH server: sends its banner, waits for the client to close.
async fn ssh_server() -> u16 {
    serve(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n").await;
        let mut buf = [0u8; 512];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
}

/// A loopback tarpit: accepts, tells `probed` once a client sent bytes, never answers.
async fn tarpit(probed: Arc<Notify>) -> u16 {
    serve(move |mut s| {
        let probed = Arc::clone(&probed);
        async move {
            let mut buf = [0u8; 512];
            if let Ok(n) = s.read(&mut buf).await
                && n > 0
            {
                probed.notify_one();
            }
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    })
    .await
}

async fn serve<F, Fut>(handler: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = tokio::net::TcpListener::bind((LO, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(handler(s));
        }
    });
    port
}

fn config(ports: &[u16], detect_timeout: Duration, concurrency: usize) -> RunConfig {
    let reg = Registry::embedded();
    let detector = Detector::builder()
        .timeout(detect_timeout)
        .connect_timeout(Duration::from_secs(2))
        .registry(reg.clone())
        .build()
        .unwrap();
    let mut c = RunConfig::new(
        Targets::from_addrs([LO]),
        PortSet::from_ports(ports.iter().copied()),
        reg,
    );
    c.scan = ScanOptions {
        timeout: Some(Duration::from_secs(10)),
        retries: 0,
        discovery: Discovery::Off,
        seed: Some(1),
        ..ScanOptions::default()
    };
    c.detection = Some(DetectionConfig::new(detector, concurrency));
    c
}

/// A compact trace of the events a sink saw.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Port(u16, State),
    Detected(u16, String),
    ScanFinished,
    Finished(bool),
}

fn trace(log: &Mutex<Vec<Seen>>, e: &RunEvent<'_>) {
    let s = match e {
        RunEvent::Port { result, .. } => Seen::Port(result.port, result.state),
        RunEvent::Detected { addr, detection } => {
            Seen::Detected(addr.port(), detection.service.clone())
        }
        RunEvent::ScanFinished { .. } => Seen::ScanFinished,
        RunEvent::Finished { interrupted } => Seen::Finished(*interrupted),
        _ => return,
    };
    log.lock().unwrap().push(s);
}

/// The scan cannot finish until detection of the open port has finished: the fake network
/// answers the other port only once the sink has seen that detection. Without overlap the
/// other port would time out (10 s) and be reported filtered.
#[tokio::test]
async fn detection_finishes_before_the_scan_does() {
    let ssh = ssh_server().await;
    let gate = Arc::new(Notify::new());
    let slow = 1; // tcpmux: any port the fake network owns
    let net = FakeNet(HashMap::from([
        (ssh, Answer::Open),
        (slow, Answer::RefusedAfter(Arc::clone(&gate))),
    ]));
    let log = Mutex::new(Vec::new());
    let mut sink = |e: &RunEvent<'_>| {
        match e {
            RunEvent::Detected { .. } => gate.notify_one(),
            // Open ports are listed, and explained; the rest only counted.
            RunEvent::Port {
                result,
                listed,
                explanation,
                ..
            } => {
                let open = result.state == State::Open;
                assert_eq!((*listed, explanation.is_some()), (open, open));
            }
            _ => {}
        }
        trace(&log, e);
        ControlFlow::Continue(())
    };
    let t0 = Instant::now();
    let record = portent_run::run_on(
        config(&[slow, ssh], Duration::from_secs(5), 4),
        net,
        &mut sink,
        std::future::pending(),
    )
    .await
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    let log = log.into_inner().unwrap();
    let at = |s: &Seen| {
        log.iter()
            .position(|x| x == s)
            .unwrap_or_else(|| panic!("{s:?}: {log:?}"))
    };
    let detected = at(&Seen::Detected(ssh, "ssh".into()));
    assert!(at(&Seen::Port(ssh, State::Open)) < detected, "{log:?}");
    assert!(detected < at(&Seen::Port(slow, State::Closed)), "{log:?}");
    assert!(detected < at(&Seen::ScanFinished), "{log:?}");
    assert_eq!(log.last(), Some(&Seen::Finished(false)));

    assert!(!record.interrupted && !record.stopped && record.scan_complete);
    assert!(record.detect_elapsed.is_some());
    let h = record.host(LO).unwrap();
    assert!(h.complete);
    assert_eq!(h.detections[&ssh].product.as_deref(), Some("OpenSSH"));
    assert!(h.detection_interrupted.is_empty());
    assert_eq!(h.reasons[&(State::Closed, Reason::Reset)], 1);
    assert_eq!((record.totals.open, record.totals.closed), (1, 1));
    // The record is plain data: it serializes.
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(
        json["hosts"][0]["detections"][ssh.to_string()]["service"],
        "ssh"
    );
}

/// Stopped while a detection hangs after a complete scan: the finished detection is kept,
/// the hanging one is marked interrupted, and the run returns at once.
#[tokio::test]
async fn stop_during_detection_marks_the_port_cut_short() {
    let ssh = ssh_server().await;
    let probed = Arc::new(Notify::new());
    let pit = tarpit(Arc::clone(&probed)).await;
    let net = FakeNet(HashMap::from([(ssh, Answer::Open), (pit, Answer::Open)]));
    let log = Mutex::new(Vec::new());
    let sink = |e: &RunEvent<'_>| {
        trace(&log, e);
        ControlFlow::Continue(())
    };
    // Stop once the tarpit is being detected and the SSH port is done.
    let ssh_done = Arc::new(Notify::new());
    let stop = {
        let (probed, ssh_done) = (Arc::clone(&probed), Arc::clone(&ssh_done));
        async move {
            probed.notified().await;
            ssh_done.notified().await;
        }
    };
    let mut sink2 = |e: &RunEvent<'_>| {
        if let RunEvent::Detected { addr, .. } = e
            && addr.port() == ssh
        {
            ssh_done.notify_one();
        }
        sink(e)
    };
    let t0 = Instant::now();
    let record = portent_run::run_on(
        config(&[ssh, pit], Duration::from_secs(30), 4),
        net,
        &mut sink2,
        stop,
    )
    .await
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(record.interrupted && record.scan_complete);
    assert!(record.interrupted_in_detection());
    let h = record.host(LO).unwrap();
    assert!(h.complete);
    assert_eq!(h.detections[&ssh].service, "ssh");
    assert!(!h.detections.contains_key(&pit));
    assert_eq!(
        h.detection_interrupted.iter().copied().collect::<Vec<_>>(),
        [pit]
    );
    assert_eq!((record.detected(), record.detections_interrupted()), (1, 1));
    assert_eq!(
        log.into_inner().unwrap().last(),
        Some(&Seen::Finished(true))
    );
}

/// Stopped during the scan: the open port found so far is kept, its detection (held in a
/// tarpit) is marked interrupted, the host is incomplete, and detection time is not reported
/// (the run counts as interrupted in the scan).
#[tokio::test]
async fn stop_during_the_scan_keeps_results_so_far() {
    let probed = Arc::new(Notify::new());
    let pit = tarpit(Arc::clone(&probed)).await;
    let net = FakeNet(HashMap::from([(pit, Answer::Open), (2, Answer::Silent)]));
    let mut sink = |_: &RunEvent<'_>| ControlFlow::Continue(());
    let stop = {
        let probed = Arc::clone(&probed);
        async move { probed.notified().await }
    };
    let t0 = Instant::now();
    let record = portent_run::run_on(
        config(&[2, pit], Duration::from_secs(30), 1),
        net,
        &mut sink,
        stop,
    )
    .await
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    assert!(record.interrupted && !record.scan_complete);
    assert!(!record.interrupted_in_detection());
    assert_eq!(record.detect_elapsed, None);
    let h = record.host(LO).unwrap();
    assert!(!h.complete);
    assert_eq!(h.listed.len(), 1);
    assert_eq!(record.totals.open, 1);
    assert!(h.detections.is_empty());
    assert!(h.detection_interrupted.contains(&pit));
}

/// A sink that breaks stops the run; the record says so (not interrupted).
#[tokio::test]
async fn a_sink_can_stop_the_run() {
    let net = FakeNet(HashMap::from([(2, Answer::Silent)]));
    let mut c = config(&[1, 2, 3], Duration::from_secs(1), 1);
    c.detection = None;
    let mut sink = |e: &RunEvent<'_>| match e {
        RunEvent::Port { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    let record = portent_run::run_on(c, net, &mut sink, std::future::pending())
        .await
        .unwrap();
    assert!(record.stopped && !record.interrupted && !record.scan_complete);
    assert!(record.totals.total() >= 1);
}

/// At most `concurrency` detections run at once: with three tarpits and a bound of two, only
/// two are ever contacted; the third waits for a slot and is reported interrupted with them.
#[tokio::test]
async fn detection_concurrency_is_bounded() {
    let contacted = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let two = Arc::new(Notify::new());
    let mut pits = Vec::new();
    for _ in 0..3 {
        let (contacted, two) = (Arc::clone(&contacted), Arc::clone(&two));
        let l = tokio::net::TcpListener::bind((LO, 0)).await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                let mut c = contacted.lock().unwrap();
                c.insert(port);
                if c.len() == 2 {
                    two.notify_one();
                }
                held.push(s);
            }
        });
        pits.push(port);
    }
    let net = FakeNet(pits.iter().map(|&p| (p, Answer::Open)).collect());
    let mut sink = |_: &RunEvent<'_>| ControlFlow::Continue(());
    let stop = async move {
        two.notified().await;
        // Time for a third detection to start, if the bound did not hold.
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let record = portent_run::run_on(
        config(&pits, Duration::from_secs(30), 2),
        net,
        &mut sink,
        stop,
    )
    .await
    .unwrap();
    assert_eq!(contacted.lock().unwrap().len(), 2);
    assert!(record.interrupted_in_detection());
    assert_eq!(record.detections_interrupted(), 3);
}

/// With checkpoints on, a checkpoint never passes an open port whose detection has not
/// finished: every listed open port a checkpoint counts has had its `Detected` event first.
/// The tarpit's detection takes its whole timeout (0.8 s) while the other ports finish at
/// once, so a checkpoint released early would count it undetected.
#[tokio::test]
async fn checkpoints_wait_for_the_detections_before_them() {
    let ssh = ssh_server().await;
    let pit = tarpit(Arc::new(Notify::new())).await;
    let answers: HashMap<u16, Answer> = HashMap::from([(ssh, Answer::Open), (pit, Answer::Open)]);
    let mut ports = vec![ssh, pit];
    // The rest refused at once (the fake network refuses what it has no answer for).
    ports.extend((1..=200u16).filter(|p| *p != ssh && *p != pit));
    let mut c = config(&ports, Duration::from_millis(800), 4);
    c.scan.checkpoints = Some(Duration::ZERO);
    c.validate().unwrap();
    // Each checkpoint: the Detected events seen before it, and its listed open count.
    let seen: Mutex<Vec<(usize, u64, u64)>> = Mutex::default();
    let detected = Mutex::new(0usize);
    let mut sink = |e: &RunEvent<'_>| {
        match e {
            RunEvent::Detected { .. } => *detected.lock().unwrap() += 1,
            RunEvent::Checkpoint(cp) => {
                let open: u64 = cp
                    .counts
                    .iter()
                    .filter(|r| r.state == State::Open)
                    .map(|r| r.listed)
                    .sum();
                let all: u64 = cp.counts.iter().map(|r| r.listed + r.unlisted).sum();
                seen.lock()
                    .unwrap()
                    .push((*detected.lock().unwrap(), open, all));
            }
            _ => {}
        }
        ControlFlow::Continue(())
    };
    let record = portent_run::run_on(c, FakeNet(answers), &mut sink, std::future::pending())
        .await
        .unwrap();
    assert!(record.scan_complete && !record.interrupted);
    let seen = seen.into_inner().unwrap();
    assert!(!seen.is_empty());
    for &(detected, open, _) in &seen {
        assert!(
            open as usize <= detected,
            "a checkpoint passed an undetected port: {seen:?}"
        );
    }
    // The last one covers every port, after both detections.
    assert_eq!(seen.last(), Some(&(2, 2, ports.len() as u64)), "{seen:?}");
    // The checkpoints that came while the tarpit was being detected stopped before it.
    assert!(seen.iter().any(|&(d, _, all)| d < 2 && all > 0), "{seen:?}");
}

/// Checkpoints are the connect scan's: refused with UDP or -sS, and a resume needs them.
#[test]
fn checkpoints_are_refused_where_they_are_not_kept() {
    let mut c = config(&[22], Duration::from_secs(1), 1);
    c.scan.checkpoints = Some(Duration::from_secs(1));
    // The SYN scan keeps them (after each chunk of its walk).
    c.scan.syn = true;
    c.validate().unwrap();
    c.scan.syn = false;
    c.udp_ports = PortSet::from_ports([53]);
    assert!(c.validate().unwrap_err().to_string().contains("UDP"));
    c.udp_ports = PortSet::empty();
    c.scan.checkpoints = None;
    c.scan.resume = Some(portent_scan::checkpoint::WalkPoint::START);
    assert!(c.validate().is_err());
    c.scan.checkpoints = Some(Duration::from_secs(1));
    c.validate().unwrap();
}
