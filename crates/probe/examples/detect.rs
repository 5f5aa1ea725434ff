//! Runs detection against one address and prints the result as JSON.
//!
//! `cargo run -p portent-probe --example detect -- 127.0.0.1:797 [expected-service]`
//!
//! Only point it at hosts you are allowed to probe.

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: std::net::SocketAddr = args
        .next()
        .ok_or("usage: detect ADDR:PORT [expected]")?
        .parse()?;
    let expected = args.next();
    let detector = portent_probe::Detector::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let d = rt.block_on(detector.detect(addr, expected.as_deref()));
    println!("{}", serde_json::to_string_pretty(&d)?);
    println!("{}", d.verdict.sentence);
    Ok(())
}
