//! `portent serve`: the port encyclopedia as web pages and a JSON API.
//!
//! Every page is generated from the same library data the CLI prints (the registry, our notes,
//! [`portent_registry::report::PortReport`], [`portent_local::meaning::Report`]); the JSON API
//! returns exactly the CLI's `--json` documents. Pages are plain server-rendered HTML that
//! works without JavaScript; a small embedded script only enhances (live refresh, grid
//! clicks, feedback without a reload). Assets are compiled in: no CDN, fonts or outside
//! scripts, so it works offline and under a strict Content-Security-Policy.
//!
//! The server changes nothing but the feedback database. It answers only requests addressed
//! to it by one of its own names, and takes changes only from its own pages ([`guard`]):
//! the pages show every process's command line, so another web site must not read them
//! through DNS rebinding or post feedback through a visitor's browser.
//!
//! A few idle or hostile clients cannot take it offline ([`server`]: a connection limit,
//! header, request and idle timeouts, an early 413), feedback is rate limited per address,
//! per network and in all ([`limit`]), and every answer is bounded: search queries in length
//! and words, run off the async threads; `/api/listening` in pages.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portent_registry::Registry;
use portent_registry::report::HostFacts;

pub mod feedback;
pub mod fleet;
pub mod grid;
pub mod guard;
pub mod html;
pub mod i18n;
pub mod limit;
pub mod live;
mod memory;
mod pages;
mod routes;
pub mod server;
mod words;

pub use guard::AllowedHost;
pub use routes::router;
pub use server::Limits;

/// How to run the server. Build with [`Config::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the feedback database lives (the user's data directory).
    pub data_dir: PathBuf,
    /// How long one listing of this machine's sockets serves requests.
    pub live_ttl: Duration,
    /// Feedback posts allowed per client address per `feedback_window`.
    pub feedback_per_window: u32,
    /// Feedback posts allowed per network (/24, /64, or loopback) per `feedback_window`.
    pub feedback_per_network: u32,
    /// Feedback posts the whole server takes per `feedback_window`.
    pub feedback_global: u32,
    pub feedback_window: Duration,
    /// Timeouts and the connection limit ([`server`]).
    pub limits: Limits,
    /// Names (or addresses) besides the server's own that a request's `Host` may carry
    /// (`--allow-host`); see [`guard`].
    pub allowed_hosts: Vec<AllowedHost>,
    /// The store of remembered runs the `/hosts` pages read (the CLI's `--store`); by
    /// default `store.sqlite` in the data directory.
    pub store: portent_store::Location,
}

impl Config {
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            live_ttl: Duration::from_secs(2),
            feedback_per_window: 10,
            feedback_per_network: 30,
            feedback_global: 300,
            feedback_window: Duration::from_secs(60),
            limits: Limits::default(),
            allowed_hosts: Vec::new(),
            store: portent_store::Location::Sqlite(data_dir.join(portent_store::DEFAULT_FILE)),
            data_dir,
        }
    }
}

/// Why the server could not start. As everywhere in the workspace, the cause is part of the
/// message (in a field named `err`) and not chained as `source()`: the CLI prints the chain,
/// which would show it twice.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Feedback(#[from] feedback::Error),
    #[error("cannot listen on {addr}: {err}")]
    Bind {
        addr: SocketAddr,
        err: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Shared by every request.
pub struct AppState {
    pub(crate) reg: Registry,
    pub(crate) host: HostFacts,
    pub(crate) live: Arc<live::Live>,
    pub(crate) feedback: feedback::Store,
    pub(crate) limit: limit::RateLimit,
    pub(crate) limits: Limits,
    /// Searches and listing reports running at once on the blocking threads; more wait.
    pub(crate) heavy: tokio::sync::Semaphore,
    pub(crate) allowed_hosts: Vec<AllowedHost>,
    pub(crate) store: portent_store::Location,
    /// Status class of every port, for the grid.
    pub(crate) cells: Vec<u8>,
    /// Service names per port and the same as a JSON object, for the grid's titles.
    pub(crate) grid_names: std::collections::BTreeMap<u16, Vec<&'static str>>,
    pub(crate) grid_names_json: String,
    /// The grid PNG for one live snapshot generation.
    pub(crate) grid_png: Mutex<Option<(u64, axum::body::Bytes)>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// Opens the feedback store and prepares the shared data.
    pub fn new(
        reg: Registry,
        host: HostFacts,
        source: live::Source,
        config: &Config,
    ) -> Result<Arc<AppState>, Error> {
        let feedback = feedback::Store::open(&config.data_dir)?;
        let grid_names = grid::names(&reg);
        Ok(Arc::new(AppState {
            grid_names_json: grid::names_json(&grid_names),
            grid_names,
            cells: grid::classify(&reg),
            reg,
            host,
            live: Arc::new(live::Live::new(source, config.live_ttl)),
            feedback,
            limit: limit::RateLimit::new(limit::Budget {
                per_address: config.feedback_per_window,
                per_network: config.feedback_per_network,
                global: config.feedback_global,
                window: config.feedback_window,
            }),
            limits: config.limits,
            heavy: tokio::sync::Semaphore::new(HEAVY_AT_ONCE),
            allowed_hosts: config.allowed_hosts.clone(),
            store: config.store.clone(),
            grid_png: Mutex::new(None),
        }))
    }
}

impl AppState {
    /// How many client addresses and networks the feedback rate limit remembers.
    pub fn feedback_clients_tracked(&self) -> (usize, usize) {
        self.limit.tracked()
    }
}

/// Searches and listing reports computed at once (each on a blocking thread).
const HEAVY_AT_ONCE: usize = 4;

/// Binds `addr` and serves until Ctrl-C. `on_ready` is called with the bound address (the
/// real port when `addr` asked for port 0).
pub async fn serve(
    state: Arc<AppState>,
    addr: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    serve_until(state, addr, on_ready, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// As [`serve`], until `shutdown` resolves. Raises the soft descriptor limit to the hard one
/// and keeps the connection limit within it ([`server::connection_budget`]).
pub async fn serve_until(
    state: Arc<AppState>,
    addr: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Error> {
    let nofile = server::raise_nofile();
    let mut limits = state.limits;
    limits.max_connections = server::connection_budget(nofile, limits.max_connections);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| Error::Bind { addr, err })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    on_ready(local);
    let app = router(state, local);
    server::run(listener, app, routes::busy_router(), limits, shutdown).await;
    Ok(())
}
