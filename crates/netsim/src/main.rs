//! `portent-netsim`: runs the delay line between two existing TUN devices, for the benchmark
//! and for trying things by hand. It stops by itself after `--seconds`.
//!
//! ```sh
//! ip netns add s; ip netns add t
//! ip -n s tuntap add dev tun0 mode tun; ip -n s addr add 198.19.0.1/24 dev tun0; ip -n s link set tun0 up
//! ip -n t tuntap add dev tun0 mode tun; ip -n t addr add 198.19.0.2/24 dev tun0; ip -n t link set tun0 up
//! portent-netsim delay-line --a s:tun0 --b t:tun0 --rtt 20ms --loss 0.01 --seconds 300 &
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use portent_netsim::{DelayLine, PathConfig, PortRule, open_tun};

#[derive(Debug, Parser)]
#[command(name = "portent-netsim", version, about)]
enum Cli {
    /// Forward packets between two TUN devices with delay and loss.
    DelayLine(Args),
    /// Listen on TCP ports (IPv4 and IPv6) and accept and drop connections: a known open set
    /// for tests and benchmarks (run it inside a namespace with `ip netns exec`).
    Listen(ListenArgs),
}

#[derive(Debug, clap::Args)]
struct ListenArgs {
    /// Ports, comma-separated.
    #[arg(long, value_delimiter = ',')]
    ports: Vec<u16>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

fn listen(args: &ListenArgs) -> Result<()> {
    use socket2::{Domain, Socket, Type};
    for &p in &args.ports {
        for v6 in [false, true] {
            let (domain, addr): (Domain, std::net::SocketAddr) = if v6 {
                (Domain::IPV6, std::net::SocketAddr::from(([0u16; 8], p)))
            } else {
                (Domain::IPV4, std::net::SocketAddr::from(([0u8; 4], p)))
            };
            let s = Socket::new(domain, Type::STREAM, None)?;
            if v6 {
                s.set_only_v6(true)?;
            }
            s.set_reuse_address(true)?;
            s.bind(&addr.into())
                .with_context(|| format!("cannot listen on {addr}"))?;
            s.listen(4096)?;
            let l: std::net::TcpListener = s.into();
            std::thread::spawn(move || {
                for c in l.incoming() {
                    drop(c);
                }
            });
        }
    }
    eprintln!(
        "portent-netsim: listening on {} ports for {} s",
        args.ports.len(),
        args.seconds
    );
    std::thread::sleep(Duration::from_secs(args.seconds));
    Ok(())
}

#[derive(Debug, clap::Args)]
struct Args {
    /// The scanner's side: NAMESPACE:DEVICE.
    #[arg(long)]
    a: String,
    /// The target's side: NAMESPACE:DEVICE.
    #[arg(long)]
    b: String,
    /// Round-trip time added by the path (split evenly between the directions).
    #[arg(long, default_value = "20ms")]
    rtt: String,
    /// Probability of losing a packet, each direction.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Per-port loss, PORT=PROBABILITY (1.0 makes the port silent); repeatable.
    #[arg(long = "port-loss", value_name = "PORT=P")]
    port_loss: Vec<String>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
}

fn duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (n, mul) = if let Some(v) = t.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else {
        (t, 1e-3)
    };
    let v: f64 = n
        .parse()
        .with_context(|| format!("bad duration '{text}'"))?;
    if !(0.0..=60.0).contains(&(v * mul)) {
        bail!("duration '{text}' out of range");
    }
    Ok(Duration::from_secs_f64(v * mul))
}

fn side(s: &str) -> Result<(&str, &str)> {
    s.split_once(':')
        .with_context(|| format!("'{s}' is not NAMESPACE:DEVICE"))
}

fn main() -> Result<()> {
    let args = match Cli::parse() {
        Cli::DelayLine(a) => a,
        Cli::Listen(a) => return listen(&a),
    };
    let rtt = duration(&args.rtt)?;
    if !(0.0..=1.0).contains(&args.loss) {
        bail!("--loss must be between 0 and 1");
    }
    let mut ports = Vec::new();
    for r in &args.port_loss {
        let (p, l) = r
            .split_once('=')
            .with_context(|| format!("'{r}' is not PORT=PROBABILITY"))?;
        ports.push(PortRule {
            port: p.parse().with_context(|| format!("bad port in '{r}'"))?,
            loss: l
                .parse()
                .with_context(|| format!("bad probability in '{r}'"))?,
            extra_delay: Duration::ZERO,
        });
    }
    let (ans, adev) = side(&args.a)?;
    let (bns, bdev) = side(&args.b)?;
    let a = open_tun(ans, adev)?;
    let b = open_tun(bns, bdev)?;
    let line = DelayLine::start(
        a,
        b,
        PathConfig {
            one_way: rtt / 2,
            loss: args.loss,
            ports,
            ..PathConfig::default()
        },
    );
    eprintln!(
        "portent-netsim: {} <-> {}, rtt {rtt:?}, loss {}, for {} s",
        args.a, args.b, args.loss, args.seconds
    );
    let end = Instant::now() + Duration::from_secs(args.seconds);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    let c = &line.counters;
    eprintln!(
        "portent-netsim: forwarded {} / {}, dropped {} / {}",
        c[0].forwarded.load(std::sync::atomic::Ordering::Relaxed),
        c[1].forwarded.load(std::sync::atomic::Ordering::Relaxed),
        c[0].dropped.load(std::sync::atomic::Ordering::Relaxed),
        c[1].dropped.load(std::sync::atomic::Ordering::Relaxed),
    );
    Ok(())
}
