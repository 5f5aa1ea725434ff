//! Routes, extractors and the response plumbing: the request guard (Host and Origin, see
//! `guard.rs`) and security headers on every response, capped bodies (413 from
//! `Content-Length` before any of the body is read), a request timeout (408), and clear
//! 400/403/404/405/408/413/421/429/503 pages (or JSON errors under `/api/`) instead of panics.
//! Searches and listing reports run on the blocking threads, a few at a time
//! (`AppState::heavy`), and are bounded: queries in length and words, listings in pages.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query, RawQuery, State,
};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portent_local::listening::{Listing, Transport};
use portent_local::meaning::{Filter, Report};
use portent_registry::report::PortReport;
use portent_registry::{Hit, QueryError, parse_port_number};
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::AppState;
use crate::feedback::{Answer, MAX_COMMENT};
use crate::guard::Guard;
use crate::i18n::Lang;
use crate::pages::{self, Ctx, ListeningParams, LiveBox};

type St = State<Arc<AppState>>;

/// Largest request body accepted (a feedback form with a full comment fits easily).
pub const BODY_LIMIT: usize = 16 * 1024;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Every route, for a server whose listener is bound to `bound` (with its real port, not 0):
/// requests whose `Host` does not name that server are refused (see `guard.rs`).
pub fn router(state: Arc<AppState>, bound: SocketAddr) -> Router {
    let request_timeout = state.limits.request_timeout;
    let front = Arc::new(Front {
        guard: Guard::new(bound, &state.allowed_hosts),
        request_timeout,
    });
    Router::new()
        .route("/", get(root))
        .route("/ports", get(index))
        .route("/ports/at", get(grid_click))
        .route("/ports/grid.png", get(grid_png))
        .route("/ports/grid.json", get(grid_json))
        .route("/ports/{port}", get(port_page))
        .route("/ports/{port}/feedback", post(post_feedback))
        .route("/listening", get(listening_page))
        .route("/hosts", get(hosts_page))
        .route("/hosts/{addr}", get(host_page))
        .route("/fleet", get(fleet_page))
        .route("/fleet/{host}", get(fleet_host_page))
        .route("/api/fleet", get(api_fleet))
        .route("/api/fleet/{host}", get(api_fleet_host))
        .route("/api/hosts", get(api_hosts))
        .route("/api/hosts/{addr}", get(api_host))
        .route("/feedback", get(feedback_page))
        .route("/api/ports/{port}", get(api_port))
        .route("/api/search", get(api_search))
        .route("/api/listening", get(api_listening))
        .route("/api/feedback", get(api_feedback))
        .route("/api/openapi.json", get(openapi))
        .route("/assets/style.css", get(css))
        .route("/assets/app.js", get(js))
        // After every route: it is set on the routes added so far. axum still adds `Allow`.
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A body announced over the limit is refused before any of it is read; one sent
        // without a length stops at the limit (the form extractor then says 413).
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        // Reading the body and answering, all in all (the body is read in the handler).
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        // Outside every route and the fallback, so nothing answers a foreign Host; inside
        // the headers layer, so refusals carry the CSP too.
        .layer(middleware::from_fn_with_state(front, check_request))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Refuses requests the guard turns away, as a page or, for the API and clients asking for
/// JSON, as a JSON error.
/// What the outermost middleware needs.
struct Front {
    guard: Guard,
    request_timeout: std::time::Duration,
}

async fn check_request(
    State(front): State<Arc<Front>>,
    ctx: Ctx,
    req: Request<Body>,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let as_json = parts.uri.path().starts_with("/api/") || wants_json(&parts.headers);
    if let Err(refusal) = front.guard.check(&parts) {
        return if as_json {
            api_error(refusal.status, refusal.message)
        } else {
            error_page(&ctx, refusal.status, &refusal.message)
        };
    }
    let res = next.run(Request::from_parts(parts, body)).await;
    // The timeout and body limit layers answer with a bare status: give it the same body
    // as every other error.
    let status = res.status();
    let bare = !res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    let msg = match status {
        StatusCode::REQUEST_TIMEOUT if bare => format!(
            "The request was not sent and answered in time (the limit is {} s).",
            front.request_timeout.as_secs_f32()
        ),
        StatusCode::PAYLOAD_TOO_LARGE if bare => {
            format!("The request body is larger than {} KiB.", BODY_LIMIT / 1024)
        }
        _ => return res,
    };
    if as_json {
        api_error(status, msg)
    } else {
        error_page(&ctx, status, &msg)
    }
}

async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Nothing to other sites; `same-origin` rather than `no-referrer` because under
    // `no-referrer` browsers send `Origin: null` on our own forms (Fetch: "serializing a
    // request origin"), which the guard could not tell from a foreign page.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let asked = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .and_then(Lang::from_code);
        let lang = asked
            .or_else(|| {
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::from_accept_language)
            })
            .unwrap_or(Lang::En);
        // The switcher links to the same page with other query parameters kept.
        let kept: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("lang=") && !kv.starts_with("thanks="))
            .collect();
        let mut path = parts.uri.path().to_owned();
        if !kept.is_empty() {
            path.push('?');
            path.push_str(&kept.join("&"));
        }
        Ok(Ctx {
            lang,
            explicit: asked.is_some(),
            path,
        })
    }
}

/// The client's address, for rate limiting (unspecified when not known, as in tests that
/// call the router directly).
struct ClientIp(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<ClientIp, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Serialize)]
struct ApiError {
    error: String,
}

fn api_error(status: StatusCode, msg: impl Into<String>) -> Response {
    json(status, &ApiError { error: msg.into() })
}

fn error_page(ctx: &Ctx, status: StatusCode, msg: &str) -> Response {
    let t = ctx.t();
    let heading = match status {
        StatusCode::NOT_FOUND => t.not_found,
        StatusCode::TOO_MANY_REQUESTS => t.too_many,
        StatusCode::FORBIDDEN => t.forbidden,
        StatusCode::MISDIRECTED_REQUEST => t.misdirected,
        StatusCode::METHOD_NOT_ALLOWED => t.method_not_allowed,
        StatusCode::PAYLOAD_TOO_LARGE => t.too_large,
        s if s.is_server_error() => t.server_error,
        _ => t.bad_request,
    };
    html(
        status,
        pages::error_page(ctx, &format!("{} {heading}", status.as_u16()), msg),
    )
}

async fn not_found(ctx: Ctx, uri: Uri, headers: HeaderMap) -> Response {
    let msg = "There is no page at this address.";
    if uri.path().starts_with("/api/") || wants_json(&headers) {
        api_error(StatusCode::NOT_FOUND, msg)
    } else {
        error_page(&ctx, StatusCode::NOT_FOUND, msg)
    }
}

/// Seconds a client told the server is busy should wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 5;

/// What a connection past the connection limit is answered (see `server.rs`): 503 with
/// `Retry-After` to every request, a page or JSON like the other errors.
pub(crate) fn busy_router() -> Router {
    Router::new()
        .fallback(busy)
        .layer(middleware::from_fn(security_headers))
}

async fn busy(ctx: Ctx, uri: Uri, headers: HeaderMap) -> Response {
    let msg = format!(
        "The server is serving as many connections as it can; try again in {RETRY_AFTER_SECS} \
         seconds."
    );
    let mut res = if uri.path().starts_with("/api/") || wants_json(&headers) {
        api_error(StatusCode::SERVICE_UNAVAILABLE, msg)
    } else {
        error_page(&ctx, StatusCode::SERVICE_UNAVAILABLE, &msg)
    };
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res
}

/// A known address asked with a method it does not take (`POST /ports/797`, `GET` of the
/// feedback route): a page, or JSON under `/api/` and for clients asking for it, like every
/// other error; axum adds the `Allow` header.
async fn method_not_allowed(ctx: Ctx, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    // Any token is a method; a made-up one is not echoed at length.
    let method: String = method.as_str().chars().take(32).collect();
    let msg = format!("This address does not take {method} requests.");
    if uri.path().starts_with("/api/") || wants_json(&headers) {
        api_error(StatusCode::METHOD_NOT_ALLOWED, msg)
    } else {
        error_page(&ctx, StatusCode::METHOD_NOT_ALLOWED, &msg)
    }
}

async fn root(ctx: Ctx) -> Redirect {
    Redirect::to(&ctx.href("/ports"))
}

/// How a `{port}` path segment was understood.
enum PortArg {
    Port(u16),
    /// A service name: its first port, to redirect to.
    Name(u16),
    Bad(StatusCode, String),
}

fn port_arg(state: &AppState, text: &str) -> PortArg {
    match parse_port_number(text) {
        Ok(p) => PortArg::Port(p),
        Err(e @ QueryError::OutOfRange { .. }) => {
            PortArg::Bad(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(_) if text.len() > 64 => PortArg::Bad(
            StatusCode::NOT_FOUND,
            "not a port number or a service name".to_owned(),
        ),
        Err(_) => match state.reg.resolve(text) {
            Ok(r) if r.ports.len() == 1 || r.name.is_some() => PortArg::Name(r.ports[0]),
            Ok(_) => PortArg::Bad(
                StatusCode::NOT_FOUND,
                format!("\"{text}\" names no single port"),
            ),
            Err(e @ QueryError::Protocol { .. }) => {
                PortArg::Bad(StatusCode::BAD_REQUEST, e.to_string())
            }
            Err(e) => PortArg::Bad(StatusCode::NOT_FOUND, e.to_string()),
        },
    }
}

/// The `listening` part of `portent port --json`: the report for this port, or why not.
#[derive(Serialize)]
#[serde(untagged)]
enum LiveJson<'a> {
    Report(Report<'a>),
    Error { error: String },
}

/// The sockets on `port` from the shared listing (a copy of just those rows, so the report
/// can borrow it while the shared snapshot is refreshed).
fn port_listing(listing: &Result<Listing, String>, port: u16) -> Result<Listing, String> {
    let l = listing.as_ref().map_err(Clone::clone)?;
    Ok(Listing {
        listeners: l
            .listeners
            .iter()
            .filter(|s| s.port == port)
            .cloned()
            .collect(),
        hidden: l.hidden.clone(),
        root: l.root,
        netns: l.netns.clone(),
        limits: l.limits.clone(),
        netns_facts: l.netns_facts.clone(),
    })
}

fn live_json<'a>(state: &AppState, one: &'a Result<Listing, String>) -> LiveJson<'a> {
    match one {
        Ok(l) => LiveJson::Report(Report::build(
            l,
            &state.reg,
            &state.host,
            &Filter::default(),
        )),
        Err(e) => LiveJson::Error { error: e.clone() },
    }
}

#[derive(Deserialize)]
struct PortPageParams {
    thanks: Option<String>,
}

async fn port_page(
    State(state): St,
    ctx: Ctx,
    Path(text): Path<String>,
    params: Result<Query<PortPageParams>, QueryRejection>,
) -> Response {
    let port = match port_arg(&state, &text) {
        PortArg::Port(p) => p,
        PortArg::Name(p) => return Redirect::to(&ctx.href(&format!("/ports/{p}"))).into_response(),
        PortArg::Bad(status, msg) => return error_page(&ctx, status, &msg),
    };
    let thanks = params.is_ok_and(|Query(p)| p.thanks.is_some());
    let report = PortReport::build(&state.reg, port, &state.host);
    let snap = state.live.get().await;
    let one = port_listing(&snap.listing, port);
    let live = live_json(&state, &one);
    let live_box = match &live {
        LiveJson::Report(r) => LiveBox::Report(r),
        LiveJson::Error { error } => LiveBox::Error(error),
    };
    // A store that cannot be read only leaves the list out: the port page does not depend
    // on it.
    let seen: Vec<(String, String)> =
        crate::memory::read(&state.store, move |s| s.open_now_on(port))
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
            .into_iter()
            .take(50)
            .map(|(host, run)| (host, portent_store::utc_readable(run.started_ms)))
            .collect();
    html(
        StatusCode::OK,
        pages::port_page(&ctx, &report, &live_box, thanks, &seen),
    )
}

/// How many hosts `/hosts` lists.
const HOSTS_LIMIT: usize = 1000;

async fn hosts_page(State(state): St, ctx: Ctx) -> Response {
    let r = crate::memory::read(&state.store, |s| crate::memory::summaries(s, HOSTS_LIMIT)).await;
    let page = match &r {
        Ok(v) => pages::hosts_page(&ctx, &state.reg, Ok(v.as_deref())),
        Err(e) => pages::hosts_page(&ctx, &state.reg, Err(e)),
    };
    html(StatusCode::OK, page)
}

/// A host as the store names it: an IP address (anything else cannot be stored).
fn host_arg(text: &str) -> Option<String> {
    text.parse::<std::net::IpAddr>().ok().map(|a| a.to_string())
}

async fn host_page(State(state): St, ctx: Ctx, Path(text): Path<String>) -> Response {
    let Some(host) = host_arg(&text) else {
        return error_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "A host is an IP address, as scans store it.",
        );
    };
    let h = host.clone();
    let r = crate::memory::read(&state.store, move |s| s.timeline(&h, None)).await;
    let page = match &r {
        Ok(v) => pages::host_page(&ctx, &host, Ok(v.as_deref())),
        Err(e) => pages::host_page(&ctx, &host, Err(e)),
    };
    html(StatusCode::OK, page)
}

async fn api_hosts(State(state): St) -> Response {
    match crate::memory::read(&state.store, |s| crate::memory::summaries(s, HOSTS_LIMIT)).await {
        Ok(v) => json(
            StatusCode::OK,
            &serde_json::json!({ "hosts": v.unwrap_or_default() }),
        ),
        Err(e) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the store: {e}"),
        ),
    }
}

async fn api_host(State(state): St, text: Result<Path<String>, PathRejection>) -> Response {
    let text = match path_text(text) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let Some(host) = host_arg(&text) else {
        return api_error(StatusCode::NOT_FOUND, "a host is an IP address");
    };
    let h = host.clone();
    match crate::memory::read(&state.store, move |s| s.timeline(&h, None)).await {
        Ok(v) => json(
            StatusCode::OK,
            &serde_json::json!({ "host": host, "ports": v.unwrap_or_default() }),
        ),
        Err(e) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the store: {e}"),
        ),
    }
}

/// The fleet from the store, off the async threads. `Ok(None)`: nothing stored yet.
async fn read_fleet(state: &Arc<AppState>) -> Result<Option<crate::fleet::Fleet>, String> {
    let st = Arc::clone(state);
    crate::memory::read(&state.store, move |s| crate::fleet::fleet(s, &st.reg)).await
}

/// One host of the fleet. `Ok(None)`: no such host (or nothing stored).
async fn read_fleet_host(
    state: &Arc<AppState>,
    host: String,
) -> Result<Option<crate::fleet::FleetHostDetail>, String> {
    let st = Arc::clone(state);
    let r = crate::memory::read(&state.store, move |s| {
        match crate::fleet::host(s, &st.reg, &host) {
            Err(
                portent_store::StoreError::NoSuchHost { .. }
                | portent_store::StoreError::AmbiguousHost { .. },
            ) => Ok(None),
            other => other,
        }
    })
    .await;
    r.map(Option::flatten)
}

async fn fleet_page(State(state): St, ctx: Ctx) -> Response {
    let r = read_fleet(&state).await;
    let page = match &r {
        Ok(v) => pages::fleet_page(&ctx, Ok(v.as_ref())),
        Err(e) => pages::fleet_page(&ctx, Err(e)),
    };
    html(StatusCode::OK, page)
}

async fn fleet_host_page(State(state): St, ctx: Ctx, Path(host): Path<String>) -> Response {
    match read_fleet_host(&state, host.clone()).await {
        Ok(Some(d)) => html(StatusCode::OK, pages::fleet_host_page(&ctx, &d)),
        Ok(None) => error_page(
            &ctx,
            StatusCode::NOT_FOUND,
            "No single host of that id, host name or prefix has a listening snapshot in the store.",
        ),
        Err(e) => error_page(
            &ctx,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("cannot read the store: {e}"),
        ),
    }
}

async fn api_fleet(State(state): St) -> Response {
    match read_fleet(&state).await {
        Ok(Some(f)) => json(StatusCode::OK, &f),
        Ok(None) => json(
            StatusCode::OK,
            &crate::fleet::Fleet {
                hosts: Vec::new(),
                totals: crate::fleet::FleetTotals::default(),
            },
        ),
        Err(e) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the store: {e}"),
        ),
    }
}

async fn api_fleet_host(State(state): St, text: Result<Path<String>, PathRejection>) -> Response {
    let host = match path_text(text) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    match read_fleet_host(&state, host).await {
        Ok(Some(d)) => json(StatusCode::OK, &d),
        Ok(None) => api_error(
            StatusCode::NOT_FOUND,
            "no single host of that id, host name or prefix has a listening snapshot in the store",
        ),
        Err(e) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the store: {e}"),
        ),
    }
}

/// `portent port PORT --json`: the report flattened, plus `listening`.
#[derive(Serialize)]
struct PortJson<'a> {
    #[serde(flatten)]
    report: &'a PortReport,
    listening: &'a LiveJson<'a>,
}

/// A path segment that is not UTF-8 once decoded: a JSON 400 like the other API errors.
fn path_text(p: Result<Path<String>, PathRejection>) -> Result<String, Box<Response>> {
    p.map(|Path(t)| t)
        .map_err(|e| Box::new(api_error(StatusCode::BAD_REQUEST, e.body_text())))
}

async fn api_port(State(state): St, text: Result<Path<String>, PathRejection>) -> Response {
    let text = match path_text(text) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let port = match port_arg(&state, &text) {
        PortArg::Port(p) | PortArg::Name(p) => p,
        PortArg::Bad(status, msg) => return api_error(status, msg),
    };
    let report = PortReport::build(&state.reg, port, &state.host);
    let snap = state.live.get().await;
    let one = port_listing(&snap.listing, port);
    let live = live_json(&state, &one);
    json(
        StatusCode::OK,
        &PortJson {
            report: &report,
            listening: &live,
        },
    )
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    /// Read as text so a bad value gets its own message (the index page ignores it).
    limit: Option<String>,
}

/// `portent search --json`.
#[derive(Serialize)]
struct SearchJson<'a> {
    query: &'a str,
    hits: &'a [Hit],
}

/// Longest search text, in characters.
pub const MAX_QUERY: usize = 200;

/// Most words in a search: every word is matched against every registry row and note, so
/// a search costs in proportion to its words (100 one-letter words took 70 ms, `ssh` 2 ms).
pub const MAX_WORDS: usize = 10;

/// Most hits `/api/search` returns at once.
const MAX_LIMIT: usize = 200;

/// White space between search words: Unicode's, as the registry's search splits words (so
/// the words counted are the words searched). The OpenAPI document's pattern for `q` lists
/// the same characters (not `\s`, which Python and its test generators read differently).
fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The search text, trimmed, or why it is refused: empty, longer than [`MAX_QUERY`]
/// characters, or more than [`MAX_WORDS`] words.
fn check_query(q: &str) -> Result<&str, String> {
    // Counted before trimming, as the OpenAPI document's maxLength counts.
    if q.chars().count() > MAX_QUERY {
        return Err(format!("q is longer than {MAX_QUERY} characters"));
    }
    let q = q.trim_matches(is_space);
    if q.is_empty() {
        return Err("missing q: the text to search for".to_owned());
    }
    if q.split(is_space).filter(|w| !w.is_empty()).count() > MAX_WORDS {
        return Err(format!(
            "q has more than {MAX_WORDS} words: search for fewer, more telling words"
        ));
    }
    Ok(q)
}

/// `limit` of `/api/search`: absent means the CLI's default; anything but 1 to
/// [`MAX_LIMIT`] is refused rather than quietly changed.
fn search_limit(text: Option<&str>) -> Result<usize, String> {
    let Some(text) = text else {
        return Ok(portent_registry::DEFAULT_SEARCH_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "limit must be a whole number from 1 to {MAX_LIMIT} (default {}), not \"{}\"",
            portent_registry::DEFAULT_SEARCH_LIMIT,
            shown(text)
        )),
    }
}

/// The registry's search, on a blocking thread ([`heavy`]).
async fn search(state: &Arc<AppState>, q: &str, limit: usize) -> Result<Vec<Hit>, String> {
    let q = q.to_owned();
    heavy(state, move |st| st.reg.search(&q, limit)).await
}

async fn api_search(
    State(state): St,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return api_error(StatusCode::BAD_REQUEST, "bad query string");
    };
    let text = params.q.unwrap_or_default();
    let q = match check_query(&text) {
        Ok(q) => q,
        Err(msg) => return api_error(StatusCode::BAD_REQUEST, msg),
    };
    let limit = match search_limit(params.limit.as_deref()) {
        Ok(n) => n,
        Err(msg) => return api_error(StatusCode::BAD_REQUEST, msg),
    };
    match search(&state, q, limit).await {
        Ok(hits) => json(
            StatusCode::OK,
            &SearchJson {
                query: q,
                hits: &hits,
            },
        ),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn index(
    State(state): St,
    ctx: Ctx,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return error_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            "The query string could not be read.",
        );
    };
    // An empty search box is the plain index.
    let q = match params.q.as_deref().map(check_query) {
        None => None,
        Some(Ok(q)) => Some(q),
        Some(Err(_))
            if params
                .q
                .as_deref()
                .is_some_and(|q| q.trim_matches(is_space).is_empty()) =>
        {
            None
        }
        Some(Err(msg)) => {
            let mut msg = msg.replacen("q ", "The search text ", 1);
            msg.push('.');
            return error_page(&ctx, StatusCode::BAD_REQUEST, &msg);
        }
    };
    let direct = q.and_then(|q| parse_port_number(q).ok());
    let hits = match q {
        Some(q) => match search(&state, q, 50).await {
            Ok(h) => h,
            Err(e) => return error_page(&ctx, StatusCode::INTERNAL_SERVER_ERROR, &e),
        },
        None => Vec::new(),
    };
    let snap = state.live.get().await;
    let mut ports: Vec<u16> = match &snap.listing {
        Ok(l) => l.listeners.iter().map(|s| s.port).collect(),
        Err(_) => Vec::new(),
    };
    ports.sort_unstable();
    ports.dedup();
    let mut curated: Vec<(u16, &'static str)> = portent_registry::notes()
        .iter()
        .filter_map(|n| n.ports.first().map(|&p| (p, n.title)))
        .collect();
    curated.sort_unstable();
    // A marker on the grid for each listening port, titled with its status and names.
    let marks: Vec<pages::GridMark> = ports
        .iter()
        .map(|&port| pages::GridMark {
            port,
            cell: crate::grid::cell_of(&state.cells, port),
            names: state.grid_names.get(&port).cloned().unwrap_or_default(),
        })
        .collect();
    html(
        StatusCode::OK,
        pages::index_page(&ctx, q, direct, &hits, &marks, &curated),
    )
}

/// The data behind the grid's hover titles (status digit and names of every port, the
/// listening ports); read by the page's script.
async fn grid_json(State(state): St) -> Response {
    let snap = state.live.get().await;
    let mut ports: Vec<u16> = match &snap.listing {
        Ok(l) => l.listeners.iter().map(|s| s.port).collect(),
        Err(_) => Vec::new(),
    };
    ports.sort_unstable();
    ports.dedup();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        crate::grid::data_json(&state.cells, &state.grid_names_json, &ports),
    )
        .into_response()
}

/// A click on the server-side image map: `?x,y` in CSS pixels of the 512x512 picture.
async fn grid_click(ctx: Ctx, RawQuery(q): RawQuery) -> Redirect {
    let port = q.as_deref().and_then(|q| {
        let (x, y) = q.split_once(',')?;
        let x: u32 = x.trim().parse().ok()?;
        let y: u32 = y.trim().parse().ok()?;
        let (cx, cy) = ((x / 2).min(255), (y / 2).min(255));
        u16::try_from(cy * 256 + cx).ok()
    });
    match port {
        Some(p) => Redirect::to(&ctx.href(&format!("/ports/{p}"))),
        None => Redirect::to(&ctx.href("/ports")),
    }
}

async fn grid_png(State(state): St) -> Response {
    let snap = state.live.get().await;
    let cached = state.grid_png.lock().ok().and_then(|g| {
        g.as_ref()
            .filter(|(gen_, _)| *gen_ == snap.generation)
            .map(|(_, b)| b.clone())
    });
    let bytes = match cached {
        Some(b) => b,
        None => {
            let ports: Vec<u16> = match &snap.listing {
                Ok(l) => l.listeners.iter().map(|s| s.port).collect(),
                Err(_) => Vec::new(),
            };
            let b = Bytes::from(crate::grid::png(&state.cells, &ports));
            if let Ok(mut g) = state.grid_png.lock() {
                *g = Some((snap.generation, b.clone()));
            }
            b
        }
    };
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response()
}

/// Most rows one answer of `/api/listening` or `/listening` holds (`limit`'s maximum and
/// default); the rest are on the next pages.
pub const MAX_PAGE: usize = 1000;

/// Largest `offset` (as the OpenAPI document says; more sockets than that cannot be).
const MAX_OFFSET: usize = u32::MAX as usize;

/// A checkbox filter (`ghosts`, `dynamic`, `exposed`): on, off, or refused.
fn flag(name: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("" | "0" | "off" | "false" | "no") => Ok(false),
        Some("1" | "on" | "true" | "yes") => Ok(true),
        Some(other) => Err(format!(
            "{name} must be 1, on, true or yes (or 0, off, false, no to leave it off), not \"{}\"",
            shown(other)
        )),
    }
}

/// A whole number in plain digits (no sign, no spaces), at most `max`.
fn count_param(
    name: &str,
    value: Option<&str>,
    default: usize,
    max: usize,
) -> Result<usize, String> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.parse::<usize>() {
        Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) && n <= max => Ok(n),
        _ => Err(format!(
            "{name} must be a whole number from 0 to {max}, not \"{}\"",
            shown(text)
        )),
    }
}

/// What a query string value is shown as in a message.
fn shown(text: &str) -> String {
    text.chars().take(20).collect()
}

/// The listing request, checked: the report filter, the protocol, the page.
struct ListingAsk {
    filter: Filter,
    protocol: Option<Transport>,
    page: pages::Page,
}

fn listing_ask(params: &ListeningParams) -> Result<ListingAsk, String> {
    let protocol = match params.protocol.as_deref().unwrap_or("") {
        "" => None,
        "tcp" => Some(Transport::Tcp),
        "udp" => Some(Transport::Udp),
        other => {
            return Err(format!(
                "\"{}\" is not a protocol: expected tcp or udp",
                shown(other)
            ));
        }
    };
    let limit = count_param("limit", params.limit.as_deref(), MAX_PAGE, MAX_PAGE)?;
    if limit == 0 {
        return Err(format!(
            "limit must be a whole number from 1 to {MAX_PAGE}, not 0"
        ));
    }
    Ok(ListingAsk {
        filter: Filter {
            ghosts: flag("ghosts", params.ghosts.as_deref())?,
            dynamic: flag("dynamic", params.dynamic.as_deref())?,
            exposed: flag("exposed", params.exposed.as_deref())?,
            pid: params.pid,
            process: params
                .process
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.chars().take(MAX_QUERY).collect()),
            ports: Vec::new(),
        },
        protocol,
        page: pages::Page {
            offset: count_param("offset", params.offset.as_deref(), 0, MAX_OFFSET)?,
            limit,
        },
    })
}

/// The shared listing narrowed to one protocol (the other filters apply when the report is
/// built); borrowed when there is none.
fn with_protocol(listing: &Listing, only: Option<Transport>) -> std::borrow::Cow<'_, Listing> {
    let Some(p) = only else {
        return std::borrow::Cow::Borrowed(listing);
    };
    std::borrow::Cow::Owned(Listing {
        listeners: listing
            .listeners
            .iter()
            .filter(|s| s.protocol == p)
            .cloned()
            .collect(),
        hidden: listing.hidden.clone(),
        root: listing.root,
        netns: listing.netns.clone(),
        limits: listing.limits.clone(),
        netns_facts: listing.netns_facts.clone(),
    })
}

/// `path` asked again for the rows after `page` when `total` has more: the query string
/// kept but for `offset` and `limit`.
fn next_page(path: &str, query: Option<&str>, page: pages::Page, total: usize) -> Option<String> {
    let end = page.range(total).end;
    if end >= total {
        return None;
    }
    let mut q: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("offset=") && !kv.starts_with("limit="))
        .filter(|kv| *kv != "offset" && *kv != "limit")
        .collect();
    let tail = format!("offset={end}&limit={}", page.limit);
    q.push(&tail);
    Some(format!("{path}?{}", q.join("&")))
}

/// Runs `f` on a blocking thread, at most [`crate::HEAVY_AT_ONCE`] at a time: searches and
/// listing reports, whose cost grows with the input, stay off the async threads.
async fn heavy<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Result<T, String> {
    let _slot = state
        .heavy
        .acquire()
        .await
        .map_err(|e| format!("the server is stopping: {e}"))?;
    let st = state.clone();
    tokio::task::spawn_blocking(move || f(&st))
        .await
        .map_err(|e| format!("the task failed: {e}"))
}

async fn listening_page(
    State(state): St,
    ctx: Ctx,
    uri: Uri,
    params: Result<Query<ListeningParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return error_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            "The filters could not be read (pid must be a whole number from 0 to 4294967295).",
        );
    };
    let ask = match listing_ask(&params) {
        Ok(a) => a,
        Err(msg) => return error_page(&ctx, StatusCode::BAD_REQUEST, &msg),
    };
    let snap = state.live.get().await;
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let c = ctx.clone();
    let r = heavy(&state, move |st| {
        let ctx = c;
        let l = match &snap.listing {
            Ok(l) => with_protocol(l, ask.protocol),
            Err(e) => {
                return pages::listening_page(&ctx, Err(e), &params, ask.page, None);
            }
        };
        let rep = Report::build(&l, &st.reg, &st.host, &ask.filter);
        let next = next_page(&path, query.as_deref(), ask.page, rep.sockets.len());
        pages::listening_page(&ctx, Ok(&rep), &params, ask.page, next.as_deref())
    })
    .await;
    match r {
        Ok(page) => html(StatusCode::OK, page),
        Err(e) => error_page(&ctx, StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

/// `portent listening --json`, one page of its sockets: the report's fields with `sockets`
/// cut to the page, plus where the page is and how to get the next one.
#[derive(Serialize)]
struct ListingPage<'a> {
    #[serde(flatten)]
    report: &'a Report<'a>,
    /// Sockets matching the filters, over all pages.
    total: usize,
    /// Index of this page's first socket among them.
    offset: usize,
    /// The request for the next page; null on the last.
    next: Option<String>,
}

async fn api_listening(
    State(state): St,
    uri: Uri,
    params: Result<Query<ListeningParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad query string (pid must be a whole number from 0 to 4294967295)",
        );
    };
    let ask = match listing_ask(&params) {
        Ok(a) => a,
        Err(msg) => return api_error(StatusCode::BAD_REQUEST, msg),
    };
    let snap = state.live.get().await;
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let r = heavy(&state, move |st| {
        let l = match &snap.listing {
            Ok(l) => with_protocol(l, ask.protocol),
            Err(e) => {
                return api_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot list sockets: {e}"),
                );
            }
        };
        let mut rep = Report::build(&l, &st.reg, &st.host, &ask.filter);
        let total = rep.sockets.len();
        let range = ask.page.range(total);
        let next = next_page(&path, query.as_deref(), ask.page, total);
        rep.sockets.truncate(range.end);
        rep.sockets.drain(..range.start);
        let mut res = json(
            StatusCode::OK,
            &ListingPage {
                report: &rep,
                total,
                offset: range.start,
                next: next.clone(),
            },
        );
        if let Some(link) =
            next.and_then(|n| HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok())
        {
            res.headers_mut().insert(header::LINK, link);
        }
        res
    })
    .await;
    r.unwrap_or_else(|e| api_error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

#[derive(Deserialize)]
struct FeedbackForm {
    answer: String,
    comment: Option<String>,
    lang: Option<String>,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

async fn post_feedback(
    State(state): St,
    ctx: Ctx,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(text): Path<String>,
    form: Result<axum::Form<FeedbackForm>, FormRejection>,
) -> Response {
    let as_json = wants_json(&headers);
    let fail = |status: StatusCode, msg: &str| {
        if as_json {
            api_error(status, msg)
        } else {
            error_page(&ctx, status, msg)
        }
    };
    let PortArg::Port(port) = port_arg(&state, &text) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "feedback needs a port number from 0 to 65535",
        );
    };
    let form = match form {
        Ok(axum::Form(f)) => f,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large.",
            );
        }
        Err(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "The form could not be read: choose one of the three answers.",
            );
        }
    };
    let Some(answer) = Answer::parse(&form.answer) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The answer must be yes, partly or no.",
        );
    };
    let comment = form.comment.unwrap_or_default();
    // Counted before trimming, as the OpenAPI document's maxLength counts.
    if comment.chars().count() > MAX_COMMENT {
        return fail(
            StatusCode::BAD_REQUEST,
            &format!("The comment is longer than {MAX_COMMENT} characters."),
        );
    }
    let comment = comment.trim();
    let lang = match form.lang.as_deref() {
        None => ctx.lang,
        Some(code) => match Lang::from_code(code) {
            Some(l) => l,
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "The language must be en, de or he.",
                );
            }
        },
    };
    if let Err(refused) = state.limit.check(ip) {
        return fail(StatusCode::TOO_MANY_REQUESTS, refused.message());
    }
    let comment = comment.to_owned();
    let st = state.clone();
    let saved =
        tokio::task::spawn_blocking(move || st.feedback.add(port, answer, &comment, lang.code()))
            .await;
    match saved {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return fail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
    if as_json {
        #[derive(Serialize)]
        struct Saved {
            saved: bool,
        }
        return json(StatusCode::OK, &Saved { saved: true });
    }
    let back = format!("/ports/{port}?thanks=1&lang={}#feedback", lang.code());
    Redirect::to(&back).into_response()
}

async fn feedback_page(State(state): St, ctx: Ctx) -> Response {
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.feedback.summary()).await {
        Ok(Ok(s)) => html(StatusCode::OK, pages::feedback_page(&ctx, &s)),
        Ok(Err(e)) => error_page(&ctx, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => error_page(&ctx, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn api_feedback(State(state): St) -> Response {
    let st = state.clone();
    match tokio::task::spawn_blocking(move || st.feedback.summary()).await {
        Ok(Ok(s)) => json(StatusCode::OK, &s),
        Ok(Err(e)) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/app.js");
const OPENAPI: &str = include_str!("../assets/openapi.json");

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn openapi() -> Response {
    asset("application/json", OPENAPI)
}
