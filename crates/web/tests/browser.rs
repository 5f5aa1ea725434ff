//! End-to-end tests in a real headless Chromium, driven through chromedriver (W3C WebDriver)
//! by a small blocking client below; everything stays on 127.0.0.1.
//!
//! The browser is required: if chromium or chromedriver is missing or cannot start, these
//! tests fail with a message saying so (scripts/test installs the Debian packages `chromium`
//! and `chromium-driver`). Screenshots are saved under `target/screenshots/`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portent_registry::Registry;
use serde_json::{Value, json};

/// Debian's Chromium and its driver (scripts/test installs them), or other binaries named by
/// `PORTENT_CHROMIUM` and `PORTENT_CHROMEDRIVER`.
fn chromium() -> String {
    std::env::var("PORTENT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn chromedriver() -> String {
    std::env::var("PORTENT_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned())
}

/// One browser at a time: the tests share two cores with everything else.
static ONE_BROWSER: std::sync::Mutex<()> = std::sync::Mutex::new(());
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed (by its own handle, so by pid) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to 127.0.0.1:port, bounded by a read timeout.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(90)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    // Read the head, then exactly Content-Length bytes: chromedriver keeps the connection
    // open whatever the request says.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::other(
                "connection closed before the HTTP head ended",
            ));
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let length = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    });
    let mut body = raw[split + 4..].to_vec();
    match length {
        Some(n) => {
            while body.len() < n {
                let k = s.read(&mut buf)?;
                if k == 0 {
                    break;
                }
                body.extend_from_slice(&buf[..k]);
            }
            body.truncate(n);
        }
        None => {
            s.read_to_end(&mut body)?;
        }
    }
    Ok((status, body))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = s.bytes().filter_map(val).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | (d << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}

/// A WebDriver session in headless Chromium.
struct Browser {
    port: u16,
    session: String,
    _driver: Guard,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let (chromium, chromedriver) = (chromium(), chromedriver());
        for bin in [&chromium, &chromedriver] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: the browser tests need Debian's chromium and chromium-driver \
                 (scripts/test installs them)"
            );
        }
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {chromedriver}: {e}"));
        let driver = Guard(driver);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, body)) = http(port, "GET", "/status", None) {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                if v["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1200,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let (status, body) =
            http(port, "POST", "/session", Some(&caps)).expect("chromedriver did not answer");
        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            status, 200,
            "chromium could not be started by chromedriver: {v}"
        );
        let session = v["value"]["sessionId"]
            .as_str()
            .expect("no session id")
            .to_owned();
        Browser {
            port,
            session,
            _driver: driver,
            _profile: profile,
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let (status, raw) = http(self.port, method, &full, body.as_ref()).unwrap();
        let v: Value = serde_json::from_slice(&raw).unwrap_or_default();
        assert_eq!(status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None).as_str().unwrap().to_owned()
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Polls `script` until it returns true (bounded).
    fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.js(script) != true {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot of the viewport under target/screenshots/ and returns its width and
    /// height in pixels, after checking it is a PNG with something in it.
    fn screenshot(&self, name: &str) -> (u32, u32) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name}: screenshot is not a PNG"
        );
        assert!(
            png.len() > 2000,
            "{name}: screenshot of {} bytes",
            png.len()
        );
        assert_eq!(&png[12..16], b"IHDR", "{name}: no PNG header chunk");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let (w, h) = (be(&png[16..20]), be(&png[20..24]));
        assert!(w > 0 && h > 0, "{name}: empty picture");
        let path = screenshots_dir().join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        let written = std::fs::metadata(&path).unwrap().len();
        assert_eq!(written, png.len() as u64, "{name}: not written whole");
        (w, h)
    }

    /// The viewport as a device of `width` x `height` CSS pixels (Chrome's device emulation,
    /// through chromedriver's DevTools endpoint: a window cannot be made that narrow).
    fn viewport(&self, width: u32, height: u32) {
        self.resize(width.max(800), height);
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600
                }}),
            ),
        );
    }

    /// Moves the pointer to `dx`, `dy` from the centre of the element `css`.
    fn hover(&self, css: &str, dx: i64, dy: i64) {
        let e = self.find(css);
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerMove", "duration": 0, "x": dx, "y": dy,
                    "origin": {ELEMENT: e}}]}]})),
        );
    }

    fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

/// The server on 127.0.0.1:0 in its own runtime thread; returns its address.
fn start_server(data: &std::path::Path) -> SocketAddr {
    let state = portent_web::AppState::new(
        Registry::embedded(),
        portent_local::host::facts(),
        portent_web::live::system_source(),
        &portent_web::Config::new(data.to_owned()),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let _ = portent_web::serve(state, "127.0.0.1:0".parse().unwrap(), |a| {
                let _ = tx.send(a);
            })
            .await;
        });
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("server did not start")
}

/// A loopback listener with a hostile command line, so the listening page has a row to show.
fn hostile_listener() -> (Guard, u16) {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import socket,sys\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()",
            "<script>document.title='pwned'</script>",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Guard(child), line.trim().parse().unwrap())
}

#[test]
fn pages_in_headless_chromium() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let data = tempfile::tempdir().unwrap();
    let (_listener, lport) = hostile_listener();
    let addr = start_server(data.path());
    let base = format!("http://{addr}");
    let b = Browser::start();

    // The port page.
    b.go(&format!("{base}/ports/797"));
    let title = b.js("return document.title;");
    assert!(title.as_str().unwrap().starts_with("Port 797"), "{title}");
    assert_eq!(
        b.js("return document.querySelectorAll('nav.crumbs li').length;"),
        2
    );
    // The stylesheet applied under the CSP (the header is dark), so assets load.
    assert_eq!(
        b.js("return getComputedStyle(document.querySelector('header.top')).backgroundColor;"),
        "rgb(21, 32, 51)"
    );
    b.screenshot("port-797");

    // Feedback through the buttons (the script posts it without a reload).
    b.type_into("#comment", "clear page <b>thanks</b>");
    b.click("#feedback-form button[value=yes]");
    b.wait_for(
        "return !document.getElementById('feedback-thanks').classList.contains('hidden');",
        "the feedback thanks",
    );
    b.screenshot("port-797-feedback");
    let (_, summary) = http(addr.port(), "GET", "/api/feedback", None).unwrap();
    let v: Value = serde_json::from_slice(&summary).unwrap();
    assert_eq!(v["total"]["yes"], 1);
    assert_eq!(v["comments"][0]["comment"], "clear page <b>thanks</b>");

    // The same form sent the old way (a navigation, no script): the browser's same-origin
    // Origin header passes the server's cross-site check.
    b.go(&format!("{base}/ports/22"));
    b.js("var f = document.getElementById('feedback-form'); \
          var i = document.createElement('input'); i.type = 'hidden'; i.name = 'answer'; \
          i.value = 'partly'; f.appendChild(i); \
          HTMLFormElement.prototype.submit.call(f); return true;");
    b.wait_for(
        "return location.pathname === '/ports/22' && location.search.indexOf('thanks=1') >= 0;",
        "the plain form post to come back",
    );
    // A form on another origin (a data: page, Origin: null, Sec-Fetch-Site: cross-site)
    // posting to the server: refused with the 403 page, nothing stored.
    let form = format!(
        "data:text/html,<form method=post action='{base}/ports/797/feedback'>\
         <input name=answer value=no></form>"
    );
    b.go(&form);
    b.js("document.forms[0].submit(); return true;");
    b.wait_for(
        "return document.title.indexOf('403') === 0;",
        "the cross-site post to be refused",
    );
    let (_, summary) = http(addr.port(), "GET", "/api/feedback", None).unwrap();
    let v: Value = serde_json::from_slice(&summary).unwrap();
    assert_eq!(
        v["total"],
        json!({"yes": 1, "partly": 1, "no": 0}),
        "only our own pages' posts are stored"
    );
    // `localhost` with the port is one of the server's own names.
    b.go(&format!("http://localhost:{}/ports/797", addr.port()));
    let title = b.js("return document.title;");
    assert!(title.as_str().unwrap().starts_with("Port 797"), "{title}");

    // The index: the grid image loads, and a click on a cell opens that port's page.
    b.go(&format!("{base}/ports"));
    b.wait_for(
        "var i = document.getElementById('grid-img'); return i.complete && i.naturalWidth === 256;",
        "the grid image",
    );
    b.screenshot("index-grid");
    b.click("#grid-img");
    b.wait_for(
        "return location.pathname.indexOf('/ports/') === 0 && location.pathname !== '/ports/';",
        "the grid click",
    );
    let path = b.js("return location.pathname;");
    // WebDriver clicks the centre of the image's visible part: the middle column (give or
    // take one for rounding), in whichever row is at the centre of what is in view.
    let port: i64 = path
        .as_str()
        .unwrap()
        .trim_start_matches("/ports/")
        .parse()
        .unwrap();
    assert!(
        (127..=128).contains(&(port % 256)),
        "grid click opened {path}"
    );
    let title = b.js("return document.title;");
    assert!(
        title.as_str().unwrap().starts_with(&format!("Port {port}")),
        "{title}"
    );

    // Search from the index.
    b.go(&format!("{base}/ports"));
    b.type_into("#q", "netinfo\n");
    b.wait_for(
        "return location.search.indexOf('q=netinfo') >= 0;",
        "the search results",
    );
    let text = b.js("return document.getElementById('results').textContent;");
    assert!(text.as_str().unwrap().contains("netinfo-local"), "{text}");
    b.screenshot("search-netinfo");
    b.click("#results a[href='/ports/1033']");
    b.wait_for(
        "return location.pathname === '/ports/1033';",
        "the search hit to open",
    );

    // The listening page shows the hostile listener escaped, and nothing ran.
    b.go(&format!("{base}/listening"));
    let cell = b.js("return document.getElementById('live-table').textContent;");
    assert!(
        cell.as_str()
            .unwrap()
            .contains("<script>document.title='pwned'</script>")
    );
    assert!(cell.as_str().unwrap().contains(&lport.to_string()));
    assert_ne!(b.js("return document.title;"), "pwned");
    b.screenshot("listening");
    // The live table refreshes in place (the script swaps #live-table every 3 s).
    b.js("document.getElementById('live-table').setAttribute('data-old', '1'); return true;");
    b.wait_for(
        "return !document.getElementById('live-table').hasAttribute('data-old');",
        "the live table to refresh",
    );
    assert_ne!(b.js("return document.title;"), "pwned");

    // Hebrew, right to left, through the language switcher; links keep the language.
    b.go(&format!("{base}/ports/797"));
    b.click("nav.langs a[hreflang=he]");
    b.wait_for(
        "return document.documentElement.dir === 'rtl';",
        "the Hebrew page",
    );
    assert_eq!(b.js("return document.documentElement.lang;"), "he");
    let q = b.js("return document.querySelector('#feedback h2').textContent;");
    assert_eq!(q, "האם הדף הזה עזר לך?");
    b.screenshot("port-797-he");

    // A phone-sized window: the page still fits its width (tables scroll inside their box).
    b.resize(390, 844);
    b.go(&format!("{base}/ports/797"));
    let overflow =
        b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "page wider than a phone by {overflow}px"
    );
    b.screenshot("port-797-phone");

    assert!(url_is_loopback(&b.url()));
}

/// Issue 15: every kind of page at a desktop width (1280 px) and a phone width (390 px),
/// screenshots of each; at 390 px the page never scrolls sideways, wide tables and the grid
/// scroll inside their own boxes, and long commands wrap. Also the port page's order, the
/// folded glossary, and the grid's rings and hover titles.
#[test]
fn layout_at_desktop_and_phone_widths() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let data = tempfile::tempdir().unwrap();
    let (_listener, lport) = hostile_listener();
    let addr = start_server(data.path());
    let base = format!("http://{addr}");
    let b = Browser::start();
    let pages = [
        ("port-797", "/ports/797"),
        ("port-797-de", "/ports/797?lang=de"),
        ("port-797-he", "/ports/797?lang=he"),
        ("port-0", "/ports/0"),
        ("index", "/ports"),
        ("search-anydesk", "/ports?q=anydesk"),
        ("listening", "/listening"),
        ("feedback", "/feedback"),
    ];
    for (width, height) in [(1280u32, 900u32), (390, 844)] {
        b.viewport(width, height);
        for (name, path) in pages {
            b.go(&format!("{base}{path}"));
            b.wait_for(
                "return document.readyState === 'complete';",
                "the page to load",
            );
            assert_eq!(
                b.js("return window.innerWidth;"),
                width,
                "{path}: viewport width"
            );
            let (w, _) = b.screenshot(&format!("w{width}-{name}"));
            assert_eq!(w, width, "{name}: screenshot width");
            // One search box.
            assert_eq!(
                b.js("return document.querySelectorAll('input[type=search]').length;"),
                1,
                "{path}"
            );
            // No sideways scrolling of the page.
            let overflow = b.js("return document.documentElement.scrollWidth - window.innerWidth;");
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{path} at {width} px: the page is wider than the window by {overflow} px"
            );
            // Every element that is wider than the window is inside a box that scrolls.
            let escapes = b.js(
                "var out = []; var vw = window.innerWidth; \
                 document.querySelectorAll('main *').forEach(function (e) { \
                   var r = e.getBoundingClientRect(); \
                   if (r.width === 0 || r.right <= vw + 1) return; \
                   var p = e.parentElement, inside = false; \
                   while (p && p !== document.body) { \
                     var o = getComputedStyle(p).overflowX; \
                     if ((o === 'auto' || o === 'scroll') && p.getBoundingClientRect().right <= vw + 1) { inside = true; break; } \
                     if (o === 'hidden') { inside = true; break; } \
                     p = p.parentElement; } \
                   if (!inside) out.push(e.tagName + '.' + e.className); }); \
                 return out.slice(0, 5);",
            );
            assert_eq!(
                escapes,
                json!([]),
                "{path} at {width} px: wider than the window"
            );
            // Commands wrap inside their boxes instead of being cut.
            let cut = b.js(
                "return Array.prototype.filter.call(document.querySelectorAll('pre'), \
                 function (p) { return p.scrollWidth > p.clientWidth + 1; }).length;",
            );
            assert_eq!(cut, 0, "{path} at {width} px: a command box is cut");
        }
    }

    // At 390 px the registry and listeners tables scroll inside their wrappers.
    b.go(&format!("{base}/ports/797"));
    let scrolls = b.js(
        "return Array.prototype.map.call(document.querySelectorAll('main .scroll'), function (s) { \
           return [getComputedStyle(s).overflowX, s.scrollWidth > s.clientWidth, \
                   s.getBoundingClientRect().right <= window.innerWidth]; });",
    );
    let scrolls = scrolls.as_array().unwrap();
    assert!(!scrolls.is_empty());
    for s in scrolls {
        assert_eq!(s[0], "auto", "{s}");
        assert_eq!(s[2], true, "the wrapper fits the window: {s}");
    }
    assert!(
        scrolls.iter().any(|s| s[1] == true),
        "no table is wider than its box at 390 px: {scrolls:?}"
    );
    // The Windows remote check, long, wraps onto more than one line.
    let lines = b.js(
        "var p = Array.prototype.find.call(document.querySelectorAll('#check pre'), \
           function (p) { return p.textContent.indexOf('Test-NetConnection') === 0; }); \
         var lh = parseFloat(getComputedStyle(p).lineHeight) || 16; \
         return Math.round(p.querySelector('code').getBoundingClientRect().height / lh);",
    );
    assert!(
        lines.as_i64().unwrap() >= 2,
        "Test-NetConnection in {lines} line(s)"
    );
    // The listening section is above the registry; the glossary is closed and opens.
    assert_eq!(
        b.js(
            "return document.getElementById('live').getBoundingClientRect().top < \
              document.getElementById('registry').getBoundingClientRect().top;"
        ),
        true
    );
    assert_eq!(
        b.js("return document.querySelector('#meaning details').open;"),
        false
    );
    assert_eq!(
        b.js("return document.querySelector('#meaning dl').checkVisibility();"),
        false
    );
    b.click("#meaning summary");
    assert_eq!(
        b.js("return document.querySelector('#meaning details').open;"),
        true
    );
    b.screenshot("w390-port-797-glossary");
    // The grid scrolls inside its box at 390 px.
    b.go(&format!("{base}/ports"));
    assert_eq!(
        b.js("var g = document.querySelector('.gridbox'); return g.scrollWidth > g.clientWidth;"),
        true
    );

    // At 1280 px: the listener's ring on the grid, titled, and a title on every cell.
    b.viewport(1280, 900);
    b.go(&format!("{base}/ports"));
    let title = b.js(&format!(
        "var a = document.querySelector('#grid-marks a[href=\"/ports/{lport}\"]'); \
         return a ? a.querySelector('title').textContent : null;"
    ));
    assert!(
        title.as_str().is_some_and(
            |t| t.starts_with(&format!("Port {lport}: ")) && t.ends_with("; listening here")
        ),
        "ring of the listener on {lport}: {title}"
    );
    assert_eq!(
        b.js("return document.querySelectorAll('.axis-y li').length;"),
        16
    );
    b.js("document.getElementById('grid-img').scrollIntoView({block: 'center'}); return true;");
    // Port 22: column 22, row 0 of the 514 px box (1 px border, 2 px per port).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        b.hover("#grid-img", 46 - 257, 2 - 257);
        let t = b.js("return document.getElementById('grid-img').title;");
        if t == "Port 22: assigned, ssh" {
            break;
        }
        assert!(Instant::now() < deadline, "grid title for port 22: {t}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        b.js("return document.getElementById('grid-tip').textContent;"),
        "Port 22: assigned, ssh"
    );
    b.screenshot("w1280-index-hover");
    assert!(url_is_loopback(&b.url()));
}

fn url_is_loopback(url: &str) -> bool {
    url.starts_with("http://127.0.0.1:")
}
