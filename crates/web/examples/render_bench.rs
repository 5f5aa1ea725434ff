//! In-process cost of a request, without sockets: builds `PortReport`s, then sends port pages
//! and API requests through the router. Usage:
//! `cargo run --release -p portent-web --example render_bench`
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use portent_local::listening::Listing;
use portent_registry::Registry;
use portent_registry::report::PortReport;
use tower::ServiceExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let empty = || {
        Ok(Listing {
            listeners: vec![],
            hidden: vec![],
            root: true,
            netns: None,
            limits: vec![],
            netns_facts: None,
        })
    };
    let state = portent_web::AppState::new(
        Registry::embedded(),
        portent_local::host::facts(),
        Arc::new(empty),
        &portent_web::Config::new(dir.path().to_owned()),
    )
    .unwrap();
    let app = portent_web::router(state, "127.0.0.1:7970".parse().unwrap());
    let reg = Registry::embedded();
    let host = portent_local::host::facts();
    let n = 20_000u32;
    // Spread over the port space with a stride prime to 65536.
    let port = |i: u32| (i.wrapping_mul(7919) % 65536) as u16;
    let t = Instant::now();
    for i in 0..n {
        std::hint::black_box(PortReport::build(&reg, port(i), &host));
    }
    println!("PortReport::build   {:?}/request", t.elapsed() / n);
    for path in ["/ports/", "/api/ports/"] {
        let t = Instant::now();
        for i in 0..n {
            let req = Request::get(format!("{path}{}", port(i)))
                .header("host", "127.0.0.1:7970")
                .body(Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            std::hint::black_box(res.into_body().collect().await.unwrap().to_bytes());
        }
        println!("{path:<19} {:?}/request", t.elapsed() / n);
    }
}
