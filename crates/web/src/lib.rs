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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portent_registry::Registry;
use portent_registry::report::HostFacts;

pub mod feedback;
pub mod grid;
pub mod guard;
pub mod html;
pub mod i18n;
pub mod limit;
pub mod live;
mod memory;
mod pages;
mod routes;

pub use guard::AllowedHost;
pub use routes::router;

/// How to run the server. Build with [`Config::new`] and adjust the fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the feedback database lives (the user's data directory).
    pub data_dir: PathBuf,
    /// How long one listing of this machine's sockets serves requests.
    pub live_ttl: Duration,
    /// Feedback posts allowed per client address per `feedback_window`.
    pub feedback_per_window: u32,
    pub feedback_window: Duration,
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
            feedback_window: Duration::from_secs(60),
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
    pub(crate) allowed_hosts: Vec<AllowedHost>,
    pub(crate) store: portent_store::Location,
    /// Status class of every port, for the grid.
    pub(crate) cells: Vec<u8>,
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
        Ok(Arc::new(AppState {
            cells: grid::classify(&reg),
            reg,
            host,
            live: Arc::new(live::Live::new(source, config.live_ttl)),
            feedback,
            limit: limit::RateLimit::new(config.feedback_per_window, config.feedback_window),
            allowed_hosts: config.allowed_hosts.clone(),
            store: config.store.clone(),
            grid_png: Mutex::new(None),
        }))
    }
}

/// Binds `addr` and serves until Ctrl-C. `on_ready` is called with the bound address (the
/// real port when `addr` asked for port 0).
pub async fn serve(
    state: Arc<AppState>,
    addr: SocketAddr,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| Error::Bind { addr, err })?;
    let local = listener.local_addr().map_err(Error::Serve)?;
    on_ready(local);
    let app = router(state, local).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(Error::Serve)
}
