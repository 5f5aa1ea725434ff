//! HTTP-level tests of every route and error, through the router (tower's `oneshot`) with a
//! fake listing, plus the XSS test with a real listener whose command line holds `<script>`,
//! and the request guard: foreign `Host` headers (DNS rebinding) and cross-site POSTs.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, Version, header};
use http_body_util::BodyExt;
use portent_local::listening::{Listener, Listing, Owner, OwnerStatus, Process, Transport};
use portent_registry::Registry;
use portent_registry::report::{HostFacts, PortReport};
use portent_web::{AllowedHost, AppState, Config, live};
use serde_json::Value;
use tower::ServiceExt;

const EVIL: &str = "<script>alert('pwned')</script>\"onmouseover=\"x";

fn host() -> HostFacts {
    HostFacts {
        os: "linux",
        unprivileged_port_start: Some(1024),
        ephemeral_range: Some((32768, 60999)),
    }
}

fn fake_listing() -> Listing {
    Listing {
        listeners: vec![Listener {
            protocol: Transport::Tcp,
            address: "0.0.0.0".parse().unwrap(),
            port: 797,
            v6only: None,
            interface: None,
            inode: Some(4242),
            uid: Some(0),
            user: Some("root".into()),
            owners: vec![Owner {
                pid: 31337,
                fds: vec![3].into(),
                process: Some(Arc::new(Process {
                    name: format!("evil{EVIL}").into(),
                    exe: Some("/usr/bin/evil".into()),
                    cmdline: vec!["/usr/bin/evil".into(), EVIL.into()],
                    uid: Some(0),
                    user: Some("root".into()),
                    unit: None,
                    container: None,
                })),
            }]
            .into(),
            owner_status: OwnerStatus::Found,
        }],
        hidden: vec![],
        root: true,
        netns: None,
        limits: vec![],
        netns_facts: None,
    }
}

fn fake_source() -> live::Source {
    Arc::new(|| Ok(fake_listing()))
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir.to_owned());
    c.feedback_per_window = 3;
    c.feedback_window = Duration::from_secs(3600);
    c
}

/// The address the in-process server pretends to be bound to.
const BOUND: &str = "127.0.0.1:17970";

fn app_with(dir: &std::path::Path, source: live::Source) -> Router {
    app_bound(dir, source, BOUND, &[])
}

/// The router as served on `bound`, with `--allow-host` names `allowed`.
fn app_bound(dir: &std::path::Path, source: live::Source, bound: &str, allowed: &[&str]) -> Router {
    let mut config = config(dir);
    config.allowed_hosts = allowed
        .iter()
        .map(|a| a.parse::<AllowedHost>().unwrap())
        .collect();
    let state = AppState::new(Registry::embedded(), host(), source, &config).unwrap();
    portent_web::router(state, bound.parse().unwrap())
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `req` with `Host: 127.0.0.1:17970` unless it has a Host, as a browser would.
async fn send(app: &Router, mut req: Request<Body>) -> Reply {
    if !req.headers().contains_key(header::HOST) {
        req.headers_mut()
            .insert(header::HOST, BOUND.parse().unwrap());
    }
    send_as_is(app, req).await
}

async fn send_as_is(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn post_form(uri: &str, body: &str, ip: [u8; 4], json: bool) -> Request<Body> {
    let mut b =
        Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if json {
        b = b.header(header::ACCEPT, "application/json");
    }
    let mut req = b.body(Body::from(body.to_owned())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

fn assert_no_raw_script(body: &str) {
    assert!(!body.contains("<script>alert"), "unescaped script in page");
    assert!(
        !body.contains("\"onmouseover"),
        "attribute breakout in page"
    );
}

#[tokio::test]
async fn registry_rows_fold_and_long_texts_sit_behind_more() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    // 797: the four protocols say the same, so one row for all four.
    let b = get(&app, "/ports/797").await.body;
    assert_eq!(b.matches("tcp, udp, sctp, dccp").count(), 1, "{b}");
    assert_eq!(
        b.matches(">788-799<").count() + b.matches("ports 788-799").count(),
        1
    );
    // 80: tcp and udp fold; DNS-SD keys are labelled; the long DNS-SD note is cut, whole
    // behind a "more".
    let b = get(&app, "/ports/80").await.body;
    assert!(b.contains("<td>tcp, udp</td>"), "tcp and udp fold");
    assert!(b.contains("DNS-SD TXT record keys: u=&lt;username&gt;"));
    // One long note behind a "more", and the status glossary.
    assert_eq!(
        b.matches("<details").count(),
        2,
        "one long note and the glossary"
    );
    assert_eq!(
        b.matches("<details class=\"dim\">").count(),
        1,
        "one long note"
    );
    assert!(b.contains("<span class=\"more\">more</span>"));
    // 24: a private-use allocation, not reserved, not a ghost.
    let b = get(&app, "/ports/24").await.body;
    assert!(b.contains("private use: any private mail system"));
    assert!(!b.contains("flag-ghost"));
    // 36412: assigned only on SCTP, and said so.
    let b = get(&app, "/ports/36412").await.body;
    assert!(b.contains("assigned only on SCTP: s1-control"));
}

#[tokio::test]
async fn port_page_has_every_section_and_escapes_the_live_box() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/ports/797").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // Not `no-referrer`: that makes browsers send `Origin: null` on our own forms.
    assert_eq!(r.headers[header::REFERRER_POLICY], "same-origin");
    let b = &r.body;
    for needle in [
        "aria-label=\"breadcrumb\"",
        "<h1>Port 797",
        "id=\"what\"",
        "788-799",                // the registry's unassigned range row
        "Unauthorized Use Known", // IANA's remark, shown as IANA wrote it
        "id=\"history\"",         // our NetInfo note
        "id=\"why\"",
        "id=\"meaning\"",
        "sudo lsof -nP -iTCP:797 -sTCP:LISTEN",
        "Get-NetTCPConnection -LocalPort 797",
        "href=\"/ports/1033\"", // related
        "id=\"faq\"",
        "id=\"live\"",
        "31337",
        "Was this page helpful?",
        "action=\"/ports/797/feedback\"",
    ] {
        assert!(b.contains(needle), "port page lacks {needle:?}");
    }
    assert!(
        b.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&quot;onmouseover=&quot;x")
    );
    assert_no_raw_script(b);
    // Only our own script, by URL; no inline script, no outside resources.
    assert_eq!(b.matches("<script").count(), 1);
    assert!(b.contains("<script src=\"/assets/app.js\" defer></script>"));
    assert!(!b.contains("http://") || !b.contains("src=\"http"));
    assert!(!b.contains(" style=\""));
}

/// Port 0 cannot be listened on (binding 0 picks a free port): its page says so as the CLI
/// does, with no concern level, listener checks or live box, in every language.
#[tokio::test]
async fn port_0_page_says_nothing_can_listen() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/ports/0").await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    for needle in [
        "<h1>Port 0 <span class=\"name\">reserved</span></h1>",
        "Nothing can listen on it",
        "binding port 0 gets a free port from this host&#39;s ephemeral range 32768-60999",
        "<section id=\"why\"><h2>Can it be open?</h2><p><strong>No</strong></p>",
        "nothing can listen on it: a program that binds port 0",
        "<h2>How to see traffic sent to it</h2>",
        "<h3>Linux</h3><pre><code>sudo tcpdump -ni any",
        "<h3>macOS</h3><pre><code>sudo tcpdump -n ",
        "<section id=\"live\" class=\"live\"><h2>Listening on this machine now</h2><p>Nothing can listen on port 0: ",
        "No, and nothing can: a socket bound to port 0 gets a free port, never 0.",
        "The question does not arise: nothing can listen on port 0.",
        "action=\"/ports/0/feedback\"",
    ] {
        assert!(b.contains(needle), "port 0 page lacks {needle:?}");
    }
    for absent in [
        "Concern",
        "concern-",
        "ghost",
        "Why an open one matters",
        "How to check what listens",
        "<h3>Windows</h3>",
        "<h3>From another machine</h3>",
        "data-refresh",
        "id=\"live-table\"",
        "Nothing listens on this port here",
        "Nothing was listening on port 0",
        "No. Here:",
    ] {
        assert!(!b.contains(absent), "port 0 page has {absent:?}");
    }
    // The other languages have their own words for it.
    for (lang, needles) in [
        (
            "de",
            [
                "Kann er offen sein?</h2><p><strong>Nein</strong>",
                "So sehen Sie Verkehr an diesen Port",
                "Auf Port 0 kann nichts lauschen",
            ],
        ),
        (
            "he",
            [
                "האם הוא יכול להיות פתוח?</h2><p><strong>לא</strong>",
                "איך לראות תעבורה שנשלחת אליו",
                "שום תהליך לא יכול להאזין לפורט 0",
            ],
        ),
    ] {
        let r = get(&app, &format!("/ports/0?lang={lang}")).await;
        for needle in needles {
            assert!(r.body.contains(needle), "{lang}: lacks {needle:?}");
        }
        assert!(!r.body.contains("concern-"), "{lang}");
    }
    // Port 1 is an ordinary port again.
    let b = get(&app, "/ports/1").await.body;
    for needle in [
        "<h2>Why an open one matters</h2><p>Concern: <span class=\"concern concern-",
        "<h2>How to check what listens</h2>",
        "<h3>Windows</h3>",
        "<h3>From another machine</h3>",
        "data-refresh=\"5\"",
        "Nothing listens on this port here",
    ] {
        assert!(b.contains(needle), "port 1 page lacks {needle:?}");
    }
    assert!(!b.contains("Can it be open?"));
    // The API is the CLI's JSON, unchanged: listenable false, tcpdump checks.
    let v = get(&app, "/api/ports/0").await.json();
    let report =
        serde_json::to_value(PortReport::build(&Registry::embedded(), 0, &host())).unwrap();
    for (k, want) in report.as_object().unwrap() {
        assert_eq!(&v[k], want, "field {k}");
    }
    assert_eq!(v["assessment"]["listenable"], false);
    assert_eq!(v["check"]["windows"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_ports_give_clear_error_pages() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    for (uri, status, text) in [
        ("/ports/70000", StatusCode::BAD_REQUEST, "not a port number"),
        ("/ports/-1", StatusCode::BAD_REQUEST, "not a port number"),
        (
            "/ports/99999999999999999999",
            StatusCode::BAD_REQUEST,
            "not a port number",
        ),
        (
            "/ports/abc",
            StatusCode::NOT_FOUND,
            "no port or service is named",
        ),
        (
            "/ports/ldap%2Fxyz",
            StatusCode::BAD_REQUEST,
            "not a transport protocol",
        ),
        (
            "/ports/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            StatusCode::BAD_REQUEST,
            "&quot;script&gt;&quot; is not a transport protocol",
        ),
        (
            "/ports/%3Cimg%20src=x%20onerror=alert(1)%3E",
            StatusCode::NOT_FOUND,
            "&lt;img src=x onerror=alert(1)&gt;",
        ),
        ("/nope", StatusCode::NOT_FOUND, "There is no page"),
        (
            "/ports/797/extra",
            StatusCode::NOT_FOUND,
            "There is no page",
        ),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.body);
        assert!(r.body.contains(text), "{uri}: {}", r.body);
        assert!(r.body.contains("<!doctype html>"), "{uri}");
        assert_no_raw_script(&r.body);
        assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
    for (uri, status) in [
        ("/api/ports/70000", StatusCode::BAD_REQUEST),
        ("/api/ports/abc", StatusCode::NOT_FOUND),
        ("/api/search", StatusCode::BAD_REQUEST),
        ("/api/search?q=", StatusCode::BAD_REQUEST),
        ("/api/listening?pid=x", StatusCode::BAD_REQUEST),
        ("/api/listening?protocol=sctp", StatusCode::BAD_REQUEST),
    ] {
        let r = get(&app, uri).await;
        assert_eq!(r.status, status, "{uri}");
        assert!(r.json()["error"].is_string(), "{uri}");
    }
    let long = format!("/ports?q={}", "a".repeat(300));
    assert_eq!(get(&app, &long).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&app, "/listening?pid=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    // Only feedback may change anything: other methods are refused.
    let r = send(
        &app,
        Request::post("/ports/797").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = send(
        &app,
        Request::delete("/api/feedback")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// 405 is a page (or JSON under `/api/` and for `Accept: application/json`) like every other
/// error, not axum's empty body, and keeps the `Allow` header.
#[tokio::test]
async fn wrong_methods_get_error_pages_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let req = |method: &str, uri: &str, json: bool| {
        let mut b = Request::builder().method(method).uri(uri);
        if json {
            b = b.header(header::ACCEPT, "application/json");
        }
        b.body(Body::empty()).unwrap()
    };
    // Pages: the styled error page in the asked language.
    for (method, uri, allow, heading) in [
        ("POST", "/ports/797", "GET,HEAD", "405 Method not allowed"),
        ("DELETE", "/ports", "GET,HEAD", "405 Method not allowed"),
        ("PUT", "/listening", "GET,HEAD", "405 Method not allowed"),
        (
            "GET",
            "/ports/797/feedback",
            "POST",
            "405 Method not allowed",
        ),
        (
            "POST",
            "/ports?lang=de",
            "GET,HEAD",
            "405 Methode nicht erlaubt",
        ),
        (
            "POST",
            "/feedback?lang=he",
            "GET,HEAD",
            "405 שיטת הבקשה אינה מותרת כאן",
        ),
    ] {
        let r = send(&app, req(method, uri, false)).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(r.headers[header::ALLOW], allow, "{method} {uri}");
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{method} {uri}"
        );
        assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
        assert!(r.body.contains("<!doctype html>"), "{method} {uri}");
        assert!(
            r.body.contains(&format!("<h1>{heading}</h1>")),
            "{method} {uri}: {}",
            r.body
        );
        assert!(
            r.body.contains(&format!("does not take {method} requests")),
            "{method} {uri}: {}",
            r.body
        );
        assert!(r.body.contains("href=\"/ports"), "{method} {uri}");
    }
    // The API, and clients asking for JSON: `{"error": ...}`.
    for (method, uri, json, allow) in [
        ("DELETE", "/api/feedback", false, "GET,HEAD"),
        ("POST", "/api/ports/797", false, "GET,HEAD"),
        ("PATCH", "/api/listening", true, "GET,HEAD"),
        ("GET", "/ports/797/feedback", true, "POST"),
    ] {
        let r = send(&app, req(method, uri, json)).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(r.headers[header::ALLOW], allow, "{method} {uri}");
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            r.json()["error"],
            format!("This address does not take {method} requests."),
            "{method} {uri}"
        );
    }
    // A made-up method is named, cut short.
    let long = format!("X{}", "Y".repeat(100));
    let r = send(&app, req(&long, "/ports", false)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        r.body
            .contains(&format!("take X{} requests", "Y".repeat(31))),
        "{}",
        r.body
    );
    // Unknown addresses stay 404 whatever the method; the right method still works.
    assert_eq!(
        send(&app, req("DELETE", "/nope", false)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&app, "/ports/797").await.status, StatusCode::OK);
}

/// Start-up errors name their cause once when printed as the CLI prints them (`{:#}`, the
/// message and then each `source()`).
#[tokio::test]
async fn startup_errors_name_their_cause_once() {
    // A port already in use on 127.0.0.1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let os = std::net::TcpListener::bind(addr).unwrap_err().to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(
        Registry::embedded(),
        host(),
        fake_source(),
        &config(dir.path()),
    )
    .unwrap();
    let e = portent_web::serve(state, addr, |_| panic!("bound {addr} twice"))
        .await
        .unwrap_err();
    assert!(matches!(e, portent_web::Error::Bind { .. }), "{e:?}");
    let text = format!("{:#}", anyhow::Error::from(e));
    assert_eq!(text, format!("cannot listen on {addr}: {os}"));
    assert_eq!(text.matches(&os).count(), 1, "{text}");

    // A data directory that cannot be created (under a regular file).
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let os = std::fs::create_dir_all(file.join("data"))
        .unwrap_err()
        .to_string();
    let e = AppState::new(
        Registry::embedded(),
        host(),
        fake_source(),
        &config(&file.join("data")),
    )
    .unwrap_err();
    let text = format!("{:#}", anyhow::Error::from(e));
    assert_eq!(text.matches(&os).count(), 1, "{text}");
    drop(taken);
}

#[tokio::test]
async fn names_redirect_to_their_port() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/ports/ldap").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/ports/389");
    let r = get(&app, "/?lang=de").await;
    assert_eq!(r.headers[header::LOCATION], "/ports?lang=de");
}

#[tokio::test]
async fn api_port_is_the_cli_json() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/api/ports/797").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    let v = r.json();
    // Exactly the report's fields plus `listening`, as `portent port 797 --json` prints.
    let report =
        serde_json::to_value(PortReport::build(&Registry::embedded(), 797, &host())).unwrap();
    let mut expected: Vec<&String> = report.as_object().unwrap().keys().collect();
    let listening = "listening".to_owned();
    expected.push(&listening);
    expected.sort();
    let mut got: Vec<&String> = v.as_object().unwrap().keys().collect();
    got.sort();
    assert_eq!(got, expected);
    for k in report.as_object().unwrap().keys() {
        assert_eq!(v[k], report[k], "field {k}");
    }
    assert_eq!(v["listening"]["sockets"][0]["pid"], 31337);
    assert_eq!(v["listening"]["sockets"][0]["flags"][0], "ghost");
    assert_eq!(
        v["listening"]["sockets"][0]["owners"][0]["process"]["cmdline"][1],
        EVIL
    );
    // A port nothing listens on: an empty report.
    let v = get(&app, "/api/ports/22").await.json();
    assert_eq!(v["listening"]["sockets"].as_array().unwrap().len(), 0);
    assert_eq!(v["registry"][0]["services"][0]["name"], "ssh");
}

#[tokio::test]
async fn api_search_and_listening() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let v = get(&app, "/api/search?q=netinfo&limit=5").await.json();
    assert_eq!(v["query"], "netinfo");
    let hits = v["hits"].as_array().unwrap();
    assert!(!hits.is_empty() && hits.len() <= 5);
    assert!(hits.iter().any(|h| h["ports"][0]["first"] == 1033));
    assert!(hits[0]["kind"].is_string() && hits[0]["score"].is_number());

    // Out-of-range or unreadable limits are refused, not quietly changed.
    for limit in ["0", "201", "-1", "abc", ""] {
        let r = get(&app, &format!("/api/search?q=port&limit={limit}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "limit={limit}");
        let msg = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            msg.contains("limit must be a whole number from 1 to 200"),
            "{msg}"
        );
    }
    for limit in [1, 200] {
        let r = get(&app, &format!("/api/search?q=port&limit={limit}")).await;
        assert_eq!(r.status, StatusCode::OK, "limit={limit}");
        assert_eq!(r.json()["hits"].as_array().unwrap().len(), limit);
    }
    // Without a limit: the CLI's default (`portent search` shows 25).
    let v = get(&app, "/api/search?q=port").await.json();
    assert_eq!(
        v["hits"].as_array().unwrap().len(),
        portent_registry::DEFAULT_SEARCH_LIMIT
    );
    assert_eq!(portent_registry::DEFAULT_SEARCH_LIMIT, 25);

    let v = get(&app, "/api/listening").await.json();
    assert_eq!(v["sockets"].as_array().unwrap().len(), 1);
    assert_eq!(v["sockets"][0]["port"], 797);
    assert_eq!(v["sockets"][0]["registry"]["status"], "unassigned");
    for k in [
        "hidden",
        "hidden_owners",
        "complete",
        "root",
        "netns",
        "ephemeral_range",
        "notes",
    ] {
        assert!(v.get(k).is_some(), "listening json lacks {k}");
    }
    let v = get(&app, "/api/listening?process=nomatch").await.json();
    assert_eq!(v["sockets"].as_array().unwrap().len(), 0);
    let v = get(&app, "/api/listening?ghosts=1&protocol=tcp")
        .await
        .json();
    assert_eq!(v["sockets"].as_array().unwrap().len(), 1);
    let v = get(&app, "/api/listening?protocol=udp").await.json();
    assert_eq!(v["sockets"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn index_search_and_grid() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/ports").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("src=\"/ports/grid.png\" ismap"));
    assert!(r.body.contains("href=\"/ports/797\"")); // listening here
    let r = get(&app, "/ports?q=netinfo").await;
    assert!(r.body.contains("netinfo-local"));
    assert!(r.body.contains("href=\"/ports/1033\""));
    let r = get(&app, "/ports?q=797").await;
    assert!(
        r.body
            .contains("<li><a href=\"/ports/797\">Port 797</a></li>")
    );
    let r = get(&app, "/ports?q=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_no_raw_script(&r.body);
    assert!(!r.body.contains("<script>alert(1)"));
    let r = get(&app, "/ports?q=zzzzqqqq").await;
    assert!(r.body.contains("Nothing matches."));

    let res = app
        .clone()
        .oneshot(
            Request::get("/ports/grid.png")
                .header(header::HOST, BOUND)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
    let png = res.into_body().collect().await.unwrap().to_bytes();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    // Pixel of port 797 (row 3, column 29) is the "listening" colour index 4.
    let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
    let raw = &png[idat + 4 + 2 + 5..]; // zlib header, first stored block header
    assert_eq!(raw[3 * 257 + 1 + 29], 4);
    assert_eq!(raw[22 + 1], 2); // port 22: assigned

    for (q, port) in [
        ("?0,0", 0),
        ("?58,6", 797),
        ("?511,511", 65535),
        ("?600,600", 65535),
    ] {
        let r = get(&app, &format!("/ports/at{q}")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers[header::LOCATION],
            format!("/ports/{port}").as_str()
        );
    }
    let r = get(&app, "/ports/at?junk").await;
    assert_eq!(r.headers[header::LOCATION], "/ports");
}

/// The fake listing, with the same listener on each of `ports`.
fn listing_on(ports: &[u16]) -> live::Source {
    let ports = ports.to_vec();
    Arc::new(move || {
        let one = fake_listing().listeners.remove(0);
        let mut l = fake_listing();
        l.listeners = ports
            .iter()
            .map(|&port| Listener {
                port,
                ..one.clone()
            })
            .collect();
        Ok(l)
    })
}

/// Issue 15: the port page in the CLI's order (facts, then what listens now, then the
/// registry), the status glossary folded away, and one search box on every page.
#[tokio::test]
async fn port_page_order_glossary_and_one_search_box() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let b = get(&app, "/ports/797").await.body;
    let at = |needle: &str| {
        b.find(needle)
            .unwrap_or_else(|| panic!("port page lacks {needle:?}"))
    };
    assert!(at("class=\"lead\"") < at("id=\"what\""));
    assert!(at("id=\"what\"") < at("id=\"live\""));
    assert!(at("id=\"live\"") < at("id=\"registry\""));
    assert!(at("id=\"registry\"") < at("id=\"history\""));
    assert!(at("id=\"live\"") < at("id=\"why\""));
    // The live box holds the listener (pid 31337) near the top.
    assert!(at("id=\"live\"") < at("31337") && at("31337") < at("id=\"registry\""));
    // The glossary: closed by default, the statuses that apply named in its summary.
    assert!(b.contains(
        "<section id=\"meaning\"><details class=\"glossary\"><summary>What the status means <span class=\"dim\">(unassigned)</span></summary><dl class=\"meanings\">"
    ));
    assert!(!b.contains("<details class=\"glossary\" open"));
    assert!(b.contains("<div class=\"applies\"><dt>unassigned (applies here)</dt>"));
    let glossary = &b[at("id=\"meaning\"")..];
    let glossary = &glossary[..glossary.find("</details>").unwrap()];
    assert_eq!(glossary.matches("<dt>").count(), 5, "{glossary}");

    for path in [
        "/ports",
        "/ports?q=ssh",
        "/ports?q=zzzzqqqq",
        "/ports/797",
        "/ports/0",
        "/ports/22?lang=he",
        "/listening",
        "/hosts",
        "/feedback",
        "/nowhere",
        "/ports/70000",
    ] {
        for lang in ["", "?lang=de"] {
            let uri = if lang.is_empty() || path.contains('?') {
                path.to_owned()
            } else {
                format!("{path}{lang}")
            };
            let b = get(&app, &uri).await.body;
            assert_eq!(b.matches("type=\"search\"").count(), 1, "{uri}");
            assert_eq!(b.matches("role=\"search\"").count(), 1, "{uri}");
        }
    }
    // The index keeps its own big box (pre-filled), the header none.
    let b = get(&app, "/ports?q=ssh").await.body;
    assert!(b.contains("<form class=\"search big\""));
    assert!(b.contains("id=\"q\" value=\"ssh\""));
}

/// Issue 15: the grid marks listeners with a ring (not colour alone) titled with the port,
/// its status and names; rows are labelled with their first port; the script's data for
/// every cell's title is served.
#[tokio::test]
async fn grid_marks_titles_and_axis() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), listing_on(&[797, 22]));
    let b = get(&app, "/ports").await.body;
    // 22: column 22, row 0; 797: column 29, row 3 (2 px per port, centre of the cell).
    assert!(b.contains(
        "<a class=\"mark\" href=\"/ports/22\"><title>Port 22: assigned, ssh; listening here</title><circle cx=\"45\" cy=\"1\" r=\"6\"></circle></a>"
    ), "{b}");
    assert!(b.contains(
        "<a class=\"mark\" href=\"/ports/797\"><title>Port 797: unassigned; listening here</title><circle cx=\"59\" cy=\"7\" r=\"6\"></circle></a>"
    ));
    assert_eq!(b.matches("<a class=\"mark\"").count(), 2);
    assert!(b.contains("<span class=\"sw sw-4 ring\"></span>listening here"));
    // Row labels: the first port of every 16th row, each a link.
    let axis = &b[b.find("<ol class=\"axis-y\"").unwrap()..];
    let axis = &axis[..axis.find("</ol>").unwrap()];
    assert_eq!(axis.matches("<li>").count(), 16);
    for first in [0u32, 4096, 32768, 61440] {
        assert!(
            axis.contains(&format!("<a href=\"/ports/{first}\">{first}</a>")),
            "{axis}"
        );
    }
    assert!(b.contains("data-words=\"unassigned|reserved|assigned|dynamic|listening here\""));
    // In German, the titles are German.
    let b = get(&app, "/ports?lang=de").await.body;
    assert!(b.contains("<title>Port 22: vergeben, ssh; hier aktiv</title>"));
    assert!(b.contains(
        "href=\"/ports/797?lang=de\"><title>Port 797: nicht vergeben; hier aktiv</title>"
    ));
    // The data behind every cell's title.
    let r = get(&app, "/ports/grid.json").await;
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    let v = r.json();
    let cells = v["cells"].as_str().unwrap();
    assert_eq!(cells.len(), 65536);
    assert_eq!(&cells[22..23], "2", "22 assigned");
    assert_eq!(&cells[797..798], "0", "797 unassigned");
    assert_eq!(&cells[0..1], "1", "0 reserved");
    assert_eq!(&cells[50000..50001], "3", "dynamic");
    assert_eq!(v["names"]["22"], "ssh");
    assert_eq!(v["names"]["6000"], "x11");
    assert!(v["names"].get("797").is_none());
    assert_eq!(v["listening"], serde_json::json!([22, 797]));
}

/// Issue 15: separate ports are listed as such (AnyDesk's note is about 6568 and 7070, not
/// the range between), ranges stay ranges, and registry names without a port are found.
#[tokio::test]
async fn search_lists_ports_ranges_and_portless_names() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let b = get(&app, "/ports?q=anydesk").await.body;
    assert!(
        b.contains("Ports <a href=\"/ports/6568\">6568</a>, <a href=\"/ports/7070\">7070</a> <strong>arcp (7070) and canit-store (6568)</strong>"),
        "{b}"
    );
    assert!(!b.contains("6568..7070") && !b.contains("6568-7070"));
    // A range note and a registry range are ranges.
    let b = get(&app, "/ports?q=kubernetes+nodeport").await.body;
    assert!(b.contains(">30000-32767</a>"), "{b}");
    let b = get(&app, "/ports?q=x11").await.body;
    assert!(b.contains("Ports <a href=\"/ports/6000\">6000-6063</a> <strong>x11</strong>"));
    // argus is registered without a port: listed, saying so, with no port link.
    let b = get(&app, "/ports?q=argus").await.body;
    let results = &b[b.find("id=\"results\"").unwrap()..];
    assert!(
        results.contains("<li><span class=\"noport\">no port number</span> <strong>argus</strong>"),
        "{results}"
    );
    let b = get(&app, "/ports?q=argus&lang=de").await.body;
    assert!(b.contains("<span class=\"noport\">ohne Portnummer</span> <strong>argus</strong>"));
    // The API answers as `portent search --json` does: the name, no ports.
    let v = get(&app, "/api/search?q=argus").await.json();
    let hit = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "argus")
        .expect("argus in the API");
    assert_eq!(hit["ports"], serde_json::json!([]));
}

/// Issue 15: our own sentences are translated (lead, range, status, assessment, FAQ);
/// curated notes stay English and are marked so.
#[tokio::test]
async fn port_page_content_in_german_and_hebrew() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let en = get(&app, "/ports/797").await.body;
    assert!(en.contains("<p class=\"lead\">Port 797 lies in the system range (0-1023). In the IANA registry: TCP unassigned;"));
    for marked in [
        "<div class=\"note\" lang=\"en\"",
        "<tbody lang=\"en\"",
        "<dd lang=\"en\"",
        "<li lang=\"en\"",
    ] {
        assert!(
            !en.contains(marked),
            "nothing marked on an English page: {marked}"
        );
    }
    for (lang, needles, absent) in [
        (
            "de",
            vec![
                "<html lang=\"de\" dir=\"ltr\">",
                "<p class=\"lead\">Port 797 liegt im Systembereich (0-1023). Im IANA-Register: TCP nicht vergeben; UDP nicht vergeben; SCTP nicht vergeben; DCCP nicht vergeben. Weder TCP noch UDP ist vergeben",
                "<span class=\"flag flag-ghost\">Geist</span>",
                "Systemports (0-1023): Systemports (0-1023, auch „well-known“ genannt) werden in einem IETF-Verfahren vergeben",
                "das Binden erfordert auf diesem Rechner root oder CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start = 1024)",
                "außerhalb des ephemeren Bereichs dieses Rechners (32768-60999)",
                "<span class=\"concern concern-high\">hoch</span>",
                "Port 797 ist auf TCP und UDP ein nicht vergebener Systemport",
                "Das Binden dieses Ports erfordert hier besondere Rechte",
                "<li lang=\"en\">Historically: ",
                "<div class=\"applies\"><dt>nicht vergeben (trifft hier zu)</dt><dd>Für das Protokoll ist kein Dienst eingetragen.",
                "<dt>Ist Port 797 einem Dienst zugewiesen?</dt><dd>Nein. Das Register führt auf Port 797 keinen Dienst für TCP (nicht vergeben) oder UDP (nicht vergeben).</dd>",
                "<dt>Braucht ein Programm root-Rechte, um auf Port 797 zu lauschen?</dt><dd>Ja. Hier:",
                "<dt>Lauscht auf diesem Rechner etwas auf Port 797?</dt><dd>Ja: 1 Socket(s), gehalten von ",
                "<div class=\"note\" lang=\"en\"><h3>",
                "<tbody lang=\"en\">",
                "<dt>Wofür ist Port 797 sonst bekannt?</dt><dd lang=\"en\">",
            ],
            vec![
                "lies in the",
                "Is port 797 assigned",
                "is an unassigned system port",
            ],
        ),
        (
            "he",
            vec![
                "<html lang=\"he\" dir=\"rtl\">",
                "<p class=\"lead\">פורט 797 נמצא בטווח המערכת (\u{2066}0-\u{2060}1023\u{2069}). במרשם של IANA:\u{200f} TCP לא מוקצה;",
                "<span class=\"flag flag-ghost\">רוח רפאים</span>",
                "פורטי מערכת (\u{2066}0-\u{2060}1023\u{2069}): פורטי מערכת (\u{2066}0-\u{2060}1023\u{2069}, נקראים גם well-known)",
                "<span class=\"concern concern-high\">גבוהה</span>",
                "פורט 797 הוא ב-TCP וב-UDP פורט מערכת שאינו מוקצה",
                "<div class=\"applies\"><dt>לא מוקצה (חל כאן)</dt><dd>לא רשום שירות עבור הפרוטוקול.",
                "<dt>האם פורט 797 מוקצה לשירות?</dt><dd>לא. במרשם אין שירות בפורט 797",
                "<div class=\"note\" lang=\"en\"><h3>",
            ],
            vec![
                "lies in the",
                "Is port 797 assigned",
                "is an unassigned system port",
            ],
        ),
    ] {
        let b = get(&app, &format!("/ports/797?lang={lang}")).await.body;
        for needle in needles {
            assert!(b.contains(needle), "{lang}: lacks {needle:?}");
        }
        for a in absent {
            assert!(!b.contains(a), "{lang}: still has {a:?}");
        }
    }
    // IANA's remark on unauthorized use, with the party it names.
    let en = get(&app, "/ports/90").await.body;
    assert!(
        en.contains(
            "IANA&#39;s registry notes use of this port by Pointcast without an assignment"
        )
    );
    let b = get(&app, "/ports/90?lang=de").await.body;
    assert!(
        b.contains(
            "Das IANA-Register vermerkt eine Nutzung dieses Ports durch Pointcast ohne Vergabe"
        ),
        "{b}"
    );
    // An assigned port and a dynamic one.
    let b = get(&app, "/ports/22?lang=de").await.body;
    assert!(b.contains("TCP vergeben an ssh"));
    assert!(b.contains("Das Register erwartet auf Port 22 ssh"));
    assert!(b.contains("<dt>Ist Port 22 einem Dienst zugewiesen?</dt><dd>Ja. Das IANA-Register führt ssh auf Port 22 (TCP vergeben, UDP vergeben).</dd>"));
    let b = get(&app, "/ports/50000?lang=he").await.body;
    // Number ranges stay left to right, on one line, inside the right-to-left text.
    let range = |a: u16, b: u16| format!("\u{2066}{a}-\u{2060}{b}\u{2069}");
    for needle in [
        format!("פורט 50000 נמצא בטווח הדינמי ({})", range(49152, 65535)),
        format!("פורטים דינמיים ({}) לעולם אינם מוקצים", range(49152, 65535)),
        format!("בתוך הטווח הזמני של המחשב הזה ({})", range(32768, 60999)),
    ] {
        assert!(b.contains(&needle), "he lacks {needle:?}");
    }
}

#[tokio::test]
async fn listening_page_filters_and_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/listening").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("flag-ghost strong"));
    assert!(r.body.contains("flag-exposed"));
    assert!(r.body.contains("data-refresh"));
    assert!(r.body.contains("&lt;script&gt;"));
    assert_no_raw_script(&r.body);
    let r = get(
        &app,
        "/listening?process=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
    )
    .await;
    assert!(
        r.body
            .contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"")
    );
    assert!(r.body.contains("Nothing matches."));
    assert_no_raw_script(&r.body);
    // A long command line is cut in the table and whole (escaped) in the tooltip.
    let long = Arc::new(|| {
        let mut l = fake_listing();
        let p = l.listeners[0].owners[0].process.as_mut().unwrap();
        Arc::make_mut(p).cmdline.push("y".repeat(300));
        Ok(l)
    });
    let dir2 = tempfile::tempdir().unwrap();
    let r = get(&app_with(dir2.path(), long), "/listening").await;
    assert!(
        r.body
            .contains("<span title=\"/usr/bin/evil &lt;script&gt;")
    );
    assert!(r.body.contains("yyy\u{2026}</span>"));
    assert_no_raw_script(&r.body);
    let r = get(&app, "/listening?exposed=1&ghosts=1").await;
    assert!(r.body.contains("31337"));
}

#[tokio::test]
async fn listing_errors_are_shown_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), Arc::new(|| Err("no netlink <here>".to_owned())));
    let r = get(&app, "/ports/797").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("unknown: no netlink &lt;here&gt;"));
    let r = get(&app, "/api/ports/797").await;
    assert_eq!(r.json()["listening"]["error"], "no netlink <here>");
    assert_eq!(
        get(&app, "/api/listening").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(get(&app, "/listening").await.status, StatusCode::OK);
}

#[tokio::test]
async fn languages_by_query_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/ports/797?lang=he").await;
    assert!(r.body.contains("<html lang=\"he\" dir=\"rtl\">"));
    assert!(r.body.contains("האם הדף הזה עזר לך?"));
    assert!(r.body.contains("href=\"/ports?lang=he\"")); // links keep the language
    // Registry data stays as IANA wrote it.
    assert!(r.body.contains("Unassigned"));
    let req = Request::get("/ports/797")
        .header(header::ACCEPT_LANGUAGE, "fr-CH, de;q=0.8, en;q=0.5")
        .body(Body::empty())
        .unwrap();
    let r = send(&app, req).await;
    assert!(r.body.contains("<html lang=\"de\" dir=\"ltr\">"));
    assert!(r.body.contains("War diese Seite hilfreich?"));
    let r = get(&app, "/ports/797?lang=xx").await;
    assert!(r.body.contains("<html lang=\"en\""));
    let r = get(&app, "/ports/70000?lang=de").await;
    assert!(r.body.contains("400 Ungültige Anfrage"));
}

#[tokio::test]
async fn assets_are_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let r = get(&app, "/assets/style.css").await;
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(!r.body.contains("@import") && !r.body.contains("url(http"));
    let r = get(&app, "/assets/app.js").await;
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(!r.body.contains("innerHTML") && !r.body.contains("eval("));
    let v = get(&app, "/api/openapi.json").await.json();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn feedback_is_validated_limited_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = app_with(dir.path(), fake_source());
        let r = send(
            &app,
            post_form(
                "/ports/797/feedback",
                "answer=yes&comment=%3Cb%3Enice%3C%2Fb%3E&lang=he",
                [127, 0, 0, 2],
                false,
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers[header::LOCATION],
            "/ports/797?thanks=1&lang=he#feedback"
        );
        let r = send(
            &app,
            post_form("/ports/797/feedback", "answer=no", [127, 0, 0, 2], true),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["saved"], true);
        // Bad input: a clear 400, nothing stored.
        for body in ["answer=maybe", "comment=x", ""] {
            let r = send(
                &app,
                post_form("/ports/797/feedback", body, [127, 0, 0, 3], false),
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        }
        let long = format!("answer=yes&comment={}", "x".repeat(1001));
        let r = send(
            &app,
            post_form("/ports/797/feedback", &long, [127, 0, 0, 3], true),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let huge = format!("answer=yes&comment={}", "x".repeat(64 * 1024));
        let r = send(
            &app,
            post_form("/ports/797/feedback", &huge, [127, 0, 0, 3], false),
        )
        .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(r.body.contains("413 Request too large"), "{}", r.body);
        let r = send(
            &app,
            post_form("/ports/70000/feedback", "answer=yes", [127, 0, 0, 3], false),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // Rate limit: 3 per window per client in this config; another client is unaffected.
        let r = send(
            &app,
            post_form("/ports/22/feedback", "answer=partly", [127, 0, 0, 2], false),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = send(
            &app,
            post_form("/ports/22/feedback", "answer=partly", [127, 0, 0, 2], false),
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        let r = send(
            &app,
            post_form("/ports/22/feedback", "answer=partly", [127, 0, 0, 4], false),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = get(&app, "/ports/797?thanks=1").await;
        assert!(r.body.contains("Thank you, your answer was saved."));
    }
    // A new server on the same data directory: everything is still there.
    let app = app_with(dir.path(), fake_source());
    let v = get(&app, "/api/feedback").await.json();
    assert_eq!(v["total"]["yes"], 1);
    assert_eq!(v["total"]["no"], 1);
    assert_eq!(v["total"]["partly"], 2);
    let mut keys: Vec<&String> = v["total"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["no", "partly", "yes"]); // no "port" in the total
    assert_eq!(v["ports"][0]["port"], 22);
    let r = get(&app, "/feedback").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("4 answers: 1 yes, 2 partly, 1 no."));
    assert!(r.body.contains("&lt;b&gt;nice&lt;/b&gt;"));
    assert!(!r.body.contains("<b>nice"));
}

fn get_as(uri: &str, host: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, host)
        .body(Body::empty())
        .unwrap()
}

/// Whether a reply gives away anything of the listing (the fake process's pid or command).
fn leaks_listing(r: &Reply) -> bool {
    r.body.contains("31337") || r.body.contains("evil") || r.body.contains("pwned")
}

#[tokio::test]
async fn foreign_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    // What a DNS-rebinding page on attacker.example sends after re-pointing its name.
    let r = send(&app, get_as("/ports/797", "attacker.example:17970")).await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
    assert!(r.body.contains("<!doctype html>"));
    assert!(r.body.contains("421 Misdirected request"), "{}", r.body);
    assert!(r.body.contains("&quot;attacker.example:17970&quot;"));
    assert!(r.body.contains("--allow-host"));
    assert!(!leaks_listing(&r), "{}", r.body);
    assert!(r.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let r = send(&app, get_as("/api/listening", "attacker.example:17970")).await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("DNS rebinding")
    );
    assert!(!leaks_listing(&r), "{}", r.body);
    let r = send(&app, get_as("/ports/797?lang=de", "attacker.example")).await;
    assert!(r.body.contains("421 Fehlgeleitete Anfrage"));
    for (uri, host) in [
        ("/api/ports/797", "attacker.example"),
        ("/api/feedback", "ATTACKER.example:17970"),
        ("/nope", "attacker.example"), // 421 before the 404: nothing answers
        ("/assets/app.js", "attacker.example"),
        ("/listening", "localhost:17971"), // our name, another port
        ("/listening", "127.0.0.1:80"),
        ("/listening", "192.168.1.5:17970"), // not the bound address
        ("/listening", "localhost.attacker.example:17970"),
        ("/listening", "2130706433:17970"),
        ("/listening", "user@127.0.0.1:17970"),
        ("/listening", ""),
    ] {
        let r = send(&app, get_as(uri, host)).await;
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{uri} {host:?}");
        assert!(!leaks_listing(&r), "{uri} {host:?}");
    }
    // An absolute request line names the host too; it must be ours as well.
    let r = send(
        &app,
        get_as("http://attacker.example:17970/api/listening", BOUND),
    )
    .await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
    // HTTP/1.1 without Host, or with two: 400. HTTP/1.0 without Host is still answered.
    let r = send_as_is(
        &app,
        Request::get("/api/listening").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("no Host header")
    );
    let mut req = get_as("/listening", BOUND);
    req.headers_mut()
        .append(header::HOST, "attacker.example".parse().unwrap());
    let r = send_as_is(&app, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("more than one Host header"));
    let r = send_as_is(
        &app,
        Request::get("/api/listening")
            .version(Version::HTTP_10)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn own_names_are_accepted_with_or_without_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    for host in [
        "localhost",
        "localhost:17970",
        "LOCALHOST.:17970",
        "127.0.0.1",
        "127.0.0.1:17970",
        "127.0.0.2:17970",
        "[::1]",
        "[::1]:17970",
    ] {
        let r = send(&app, get_as("/api/listening", host)).await;
        assert_eq!(r.status, StatusCode::OK, "{host}: {}", r.body);
        assert_eq!(r.json()["sockets"][0]["pid"], 31337, "{host}");
        let r = send(&app, get_as("/ports/797", host)).await;
        assert_eq!(r.status, StatusCode::OK, "{host}");
    }
    // HTTP/2 carries the host in the URI (`:authority`), without a Host header.
    let r = send_as_is(
        &app,
        Request::get("http://127.0.0.1:17970/api/feedback")
            .version(Version::HTTP_2)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Bound to [::1], the same names work.
    let dir = tempfile::tempdir().unwrap();
    let app = app_bound(dir.path(), fake_source(), "[::1]:17970", &[]);
    for host in ["[::1]:17970", "localhost:17970", "127.0.0.1:17970"] {
        let r = send(&app, get_as("/api/listening", host)).await;
        assert_eq!(r.status, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn allowed_hosts_and_bound_addresses() {
    // --allow-host: that name (any case) and that address, nothing else.
    let dir = tempfile::tempdir().unwrap();
    let app = app_bound(
        dir.path(),
        fake_source(),
        BOUND,
        &["portent.lan", "203.0.113.9"],
    );
    for (host, status) in [
        ("portent.lan:17970", StatusCode::OK),
        ("PORTENT.lan", StatusCode::OK),
        ("203.0.113.9:17970", StatusCode::OK),
        ("localhost:17970", StatusCode::OK),
        ("portent.lan:8080", StatusCode::MISDIRECTED_REQUEST),
        ("other.lan:17970", StatusCode::MISDIRECTED_REQUEST),
        ("sub.portent.lan:17970", StatusCode::MISDIRECTED_REQUEST),
    ] {
        let r = send(&app, get_as("/api/listening", host)).await;
        assert_eq!(r.status, status, "{host}");
    }
    // Bound to a LAN address on purpose: that address and the loopback names.
    let dir = tempfile::tempdir().unwrap();
    let app = app_bound(dir.path(), fake_source(), "192.168.1.5:17970", &[]);
    for (host, status) in [
        ("192.168.1.5:17970", StatusCode::OK),
        ("192.168.1.5", StatusCode::OK),
        ("localhost:17970", StatusCode::OK),
        ("192.168.1.6:17970", StatusCode::MISDIRECTED_REQUEST),
        ("mybox.lan:17970", StatusCode::MISDIRECTED_REQUEST),
    ] {
        let r = send(&app, get_as("/api/listening", host)).await;
        assert_eq!(r.status, status, "{host}");
    }
}

#[tokio::test]
async fn wildcard_bound_accepts_addresses_and_only_allowed_names() {
    for bound in ["0.0.0.0:17970", "[::]:17970"] {
        let dir = tempfile::tempdir().unwrap();
        let app = app_bound(dir.path(), fake_source(), bound, &[]);
        for (host, status) in [
            ("192.168.1.5:17970", StatusCode::OK), // any address of the machine
            ("10.0.0.7", StatusCode::OK),
            ("[2001:db8::1]:17970", StatusCode::OK),
            ("[::1]:17970", StatusCode::OK),
            ("localhost:17970", StatusCode::OK),
            ("192.168.1.5:17971", StatusCode::MISDIRECTED_REQUEST),
            ("mybox.lan:17970", StatusCode::MISDIRECTED_REQUEST), // names must be allowed
            ("attacker.example:17970", StatusCode::MISDIRECTED_REQUEST),
        ] {
            let r = send(&app, get_as("/api/listening", host)).await;
            assert_eq!(r.status, status, "{bound} {host}");
        }
        let dir = tempfile::tempdir().unwrap();
        let app = app_bound(dir.path(), fake_source(), bound, &["mybox.lan"]);
        let r = send(&app, get_as("/listening", "mybox.lan:17970")).await;
        assert_eq!(r.status, StatusCode::OK, "{bound}");
        let r = send(&app, get_as("/listening", "attacker.example:17970")).await;
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{bound}");
    }
}

/// A feedback POST with the given headers (name, value), from `ip`.
fn post_with(headers: &[(&str, &str)], ip: u8, json: bool) -> Request<Body> {
    let mut req = post_form("/ports/797/feedback", "answer=yes", [127, 0, 0, ip], json);
    for (k, v) in headers {
        req.headers_mut().insert(
            header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    req
}

#[tokio::test]
async fn cross_site_posts_are_refused_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    for (i, headers) in [
        vec![("origin", "http://evil.example")],
        vec![
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        vec![("origin", "http://127.0.0.1:17971")], // another server on this machine
        vec![("origin", "http://localhost:17970")], // our port, but not the Host used
        vec![("origin", "https://127.0.0.1:17970")],
        vec![("origin", "null")],
        vec![("origin", "null"), ("sec-fetch-site", "cross-site")], // a data: or sandboxed page
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("origin", "http://127.0.0.1:17970"),
            ("sec-fetch-site", "cross-site"),
        ],
    ]
    .into_iter()
    .enumerate()
    {
        // Each from another client, so the rate limit (3 here) never decides.
        let ip = 10 + u8::try_from(i).unwrap();
        let r = send(&app, post_with(&headers, ip, false)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.body.contains("403 Forbidden"), "{}", r.body);
        assert!(r.body.contains("only from its own pages"), "{}", r.body);
        let r = send(&app, post_with(&headers, ip, true)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.json()["error"].is_string());
    }
    // And a POST to a foreign Host is turned away before the Origin is even looked at.
    let r = send(
        &app,
        post_with(
            &[
                ("host", "attacker.example:17970"),
                ("origin", "http://attacker.example:17970"),
            ],
            30,
            true,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
    let v = get(&app, "/api/feedback").await.json();
    assert_eq!(
        v["total"],
        serde_json::json!({"yes": 0, "partly": 0, "no": 0})
    );
    assert_eq!(v["ports"].as_array().unwrap().len(), 0);

    // Our own pages (what a browser sends from a form or fetch on the page), and clients
    // that send no Origin at all (curl, old browsers): stored.
    for (ip, headers) in [
        (40, vec![("origin", "http://127.0.0.1:17970")]),
        (
            41,
            vec![
                ("origin", "http://127.0.0.1:17970"),
                ("sec-fetch-site", "same-origin"),
            ],
        ),
        (
            42,
            vec![
                ("host", "localhost:17970"),
                ("origin", "http://localhost:17970"),
            ],
        ),
        (
            43,
            vec![("host", "[::1]:17970"), ("origin", "http://[::1]:17970")],
        ),
        (44, vec![("sec-fetch-site", "none")]),
        (45, vec![]),
        // Our own form when the browser withholds the origin (a no-referrer setting).
        (
            46,
            vec![("origin", "null"), ("sec-fetch-site", "same-origin")],
        ),
    ] {
        let r = send(&app, post_with(&headers, ip, false)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{headers:?}: {}", r.body);
    }
    let v = get(&app, "/api/feedback").await.json();
    assert_eq!(v["total"]["yes"], 7);
}

/// A real process listening on loopback whose command line contains `<script>`: the port
/// page, the listening page and the API show it, escaped.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn real_listener_with_hostile_command_line_is_escaped() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
            "<script>alert('xss')</script>",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test (scripts/test installs it)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), live::system_source());
    let page = get(&app, &format!("/ports/{port}")).await;
    let listing = get(&app, "/listening").await;
    let api = get(&app, &format!("/api/ports/{port}")).await;
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&child.id().to_string()),
        "the live box should show the listener's pid: {}",
        page.body
    );
    for body in [&page.body, &listing.body] {
        assert!(body.contains("&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;"));
        assert!(!body.contains("<script>alert"));
    }
    let v = api.json();
    assert_eq!(v["listening"]["sockets"][0]["port"], port);
    assert_eq!(
        v["listening"]["sockets"][0]["owners"][0]["process"]["cmdline"][3],
        "<script>alert('xss')</script>"
    );
}

#[tokio::test]
async fn hosts_pages_show_what_the_store_remembers() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    // Nothing stored yet: said so, and the page view creates no store.
    let b = get(&app, "/hosts").await.body;
    assert!(b.contains("Nothing is stored yet"), "{b}");
    assert!(!dir.path().join("store.sqlite").exists());

    let mut s =
        portent_store::Store::open(&dir.path().join("store.sqlite").to_string_lossy()).unwrap();
    let id = s
        .begin(&portent_store::NewRun {
            kind: portent_store::RunKind::Scan,
            started_ms: 1_796_400_000_000,
            targets: vec!["198.18.0.2".into()],
            ports: "1-1024".into(),
            options: serde_json::json!({}),
            host_identifier: "t".into(),
            host_id: None,
            machine_id: None,
        })
        .unwrap();
    s.save_hosts(
        &id,
        &[portent_store::HostRow {
            host: "198.18.0.2".into(),
            hostname: None,
            status: "up".into(),
        }],
    )
    .unwrap();
    let open = |port: u16| portent_store::PortRow {
        host: "198.18.0.2".into(),
        protocol: "tcp".into(),
        port,
        state: "open".into(),
        reason: "syn-ack".into(),
        ..portent_store::PortRow::default()
    };
    s.save_ports(&id, &[open(22), open(797)]).unwrap();
    s.finish(
        &id,
        &portent_store::Finish {
            finished_ms: 1_796_400_001_000,
            complete: true,
            ..portent_store::Finish::default()
        },
    )
    .unwrap();
    drop(s);

    let b = get(&app, "/hosts").await.body;
    assert!(b.contains("href=\"/hosts/198.18.0.2\""), "{b}");
    assert!(b.contains("href=\"/ports/797\""));
    // One ghost (797); 22 is ssh.
    assert!(b.contains("<td>1</td></tr>"), "{b}");
    let b = get(&app, "/hosts/198.18.0.2").await.body;
    assert!(b.contains("797/tcp") && b.contains("opened"), "{b}");
    let b = get(&app, "/ports/797").await.body;
    assert!(b.contains("Seen open on stored hosts"));
    assert!(b.contains("href=\"/hosts/198.18.0.2\""));
    let b = get(&app, "/ports/798").await.body;
    assert!(!b.contains("Seen open on stored hosts"));
    let r = get(&app, "/api/hosts").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["hosts"][0]["host"], "198.18.0.2");
    assert_eq!(v["hosts"][0]["open"].as_array().unwrap().len(), 2);
    let r = get(&app, "/api/hosts/198.18.0.2").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["ports"].as_array().unwrap().len(), 2);
    // A named scan with a shard missing: the hosts page and its JSON say which.
    let mut s =
        portent_store::Store::open(&dir.path().join("store.sqlite").to_string_lossy()).unwrap();
    let run = portent_store::NewRun {
        kind: portent_store::RunKind::Scan,
        started_ms: 1_796_400_100_000,
        targets: vec!["198.18.0.3".into()],
        ports: "1-1024".into(),
        options: serde_json::json!({}),
        host_identifier: "t".into(),
        host_id: None,
        machine_id: None,
    };
    let claim = |index| portent_store::ShardClaim {
        name: "nightly".into(),
        index,
        count: 2,
        plan: "00aa".into(),
    };
    let named = s.claim_shard(&run, &claim(1)).unwrap();
    s.save_hosts(
        &named,
        &[portent_store::HostRow {
            host: "198.18.0.3".into(),
            hostname: None,
            status: "up".into(),
        }],
    )
    .unwrap();
    s.finish_shard(
        &named,
        &portent_store::ShardDone {
            index: 1,
            finished_ms: 1_796_400_101_000,
            complete: true,
            ..portent_store::ShardDone::default()
        },
        &[],
    )
    .unwrap();
    drop(s);
    let b = get(&app, "/hosts").await.body;
    assert!(b.contains("1 of 2 shards done; missing: 2/2"), "{b}");
    let v: serde_json::Value = serde_json::from_str(&get(&app, "/api/hosts").await.body).unwrap();
    let named = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "198.18.0.3")
        .unwrap();
    assert_eq!(named["shards"]["missing"], serde_json::json!(["2/2"]));
    assert_eq!(
        get(&app, "/hosts/%3Cscript%3E").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/api/hosts/x").await.status,
        StatusCode::NOT_FOUND
    );
}

/// Two hosts with one host name stay apart by their machine ids; a host id that is markup is
/// escaped on the page and percent-encoded in its link; an ambiguous host name is a 404.
#[tokio::test]
async fn fleet_pages_keep_hosts_of_one_name_apart() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), fake_source());
    let b = get(&app, "/fleet").await.body;
    assert!(b.contains("Nothing is stored yet"), "{b}");
    let mut s =
        portent_store::Store::open(&dir.path().join("store.sqlite").to_string_lossy()).unwrap();
    let mut at = 1_796_400_000_000;
    let mut snap = |s: &mut portent_store::Store, id: &str, mid: &str, ports: &[u16]| {
        at += 1000;
        let run = s
            .begin(&portent_store::NewRun {
                kind: portent_store::RunKind::Listening,
                started_ms: at,
                targets: vec!["local".into()],
                ports: String::new(),
                options: serde_json::json!({}),
                host_identifier: "web".into(),
                host_id: Some(id.into()),
                machine_id: Some(mid.into()),
            })
            .unwrap();
        let rows: Vec<portent_store::SocketRow> = ports
            .iter()
            .map(|&port| portent_store::SocketRow {
                protocol: "tcp".into(),
                address: "0.0.0.0".into(),
                port,
                executable: "/usr/sbin/x".into(),
                user: "root".into(),
                pid: Some(1),
                process: Some("x".into()),
            })
            .collect();
        s.save_sockets(&run, &rows).unwrap();
        s.finish(
            &run,
            &portent_store::Finish {
                finished_ms: at + 10,
                complete: true,
                ..portent_store::Finish::default()
            },
        )
        .unwrap();
    };
    let (a, b_) = ("a".repeat(32), "b".repeat(32));
    snap(&mut s, "web@aaaaaaaaaaaa", &a, &[22]);
    snap(&mut s, "web@bbbbbbbbbbbb", &b_, &[22, 797]);
    snap(&mut s, "web@aaaaaaaaaaaa", &a, &[22, 80]);
    snap(&mut s, "<i>x</i>", &a, &[443]);
    drop(s);
    let r = get(&app, "/api/fleet").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let ids: Vec<&str> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["<i>x</i>", "web@aaaaaaaaaaaa", "web@bbbbbbbbbbbb"]);
    let a_host = &v["hosts"][1];
    assert_eq!(a_host["added"], 1);
    assert_eq!(a_host["changes"][0]["port"], 80);
    assert_eq!(a_host["machine_id"], a.as_str());
    assert_eq!(v["hosts"][2]["ghosts"], 1);
    assert!(v["hosts"][2]["previous"].is_null());
    let page = get(&app, "/fleet").await.body;
    assert!(page.contains("&lt;i&gt;x&lt;/i&gt;") && !page.contains("<i>x</i>"));
    assert!(
        page.contains("href=\"/fleet/%3Ci%3Ex%3C%2Fi%3E\""),
        "{page}"
    );
    assert!(page.contains("web (machine-id aaaaaaaaaaaa…)"));
    assert_eq!(
        get(&app, "/fleet/%3Ci%3Ex%3C%2Fi%3E").await.status,
        StatusCode::OK
    );
    // "web" is the host name of two hosts: not one host.
    assert_eq!(get(&app, "/fleet/web").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&app, "/api/fleet/web").await.status,
        StatusCode::NOT_FOUND
    );
    let r = get(&app, "/api/fleet/web@b").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["sockets"].as_array().unwrap().len(), 2);
}
