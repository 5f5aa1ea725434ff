//! The `/hosts` pages and the port page's "seen open on" list: what the store remembers.
//! The store is blocking, so every read runs on tokio's blocking pool; a SQLite store that
//! does not exist yet is "nothing stored", and is not created by a page view.

use portent_store::{Location, Store, StoreError};

/// Runs `f` on the store, off the async threads. `Ok(None)`: nothing stored yet.
pub(crate) async fn read<T, F>(loc: &Location, f: F) -> Result<Option<T>, String>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
{
    if let Location::Sqlite(path) = loc
        && !path.is_file()
    {
        return Ok(None);
    }
    let loc = loc.clone();
    match tokio::task::spawn_blocking(move || {
        let mut store = Store::open_location(&loc)?;
        f(&mut store)
    })
    .await
    {
        Ok(Ok(v)) => Ok(Some(v)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the store read failed: {e}")),
    }
}

/// One host as `/hosts` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct HostSummary {
    pub host: String,
    /// The newest run that covered the host.
    pub run: portent_store::Run,
    /// Ports that run found open.
    pub open: Vec<portent_store::PortRow>,
    /// When that run is a named scan merged from shards: which are done and which missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<portent_store::Shards>,
}

/// Every stored host with its newest run's open ports (at most `limit` hosts).
pub(crate) fn summaries(store: &mut Store, limit: usize) -> Result<Vec<HostSummary>, StoreError> {
    let mut out = Vec::new();
    // Many hosts share a run: its shards are read once.
    let mut shards_of: std::collections::HashMap<String, Option<portent_store::Shards>> =
        std::collections::HashMap::new();
    for (host, run) in store.hosts()?.into_iter().take(limit) {
        let open = store
            .ports(&run.id)?
            .into_iter()
            .filter(|p| p.host == host && p.state == "open")
            .collect();
        let shards = match shards_of.get(&run.id) {
            Some(s) => s.clone(),
            None => {
                let s = store.shards(&run.id)?;
                shards_of.insert(run.id.clone(), s.clone());
                s
            }
        };
        out.push(HostSummary {
            host,
            run,
            open,
            shards,
        });
    }
    Ok(out)
}

/// Whether an open TCP port is a ghost, as `scan` says it: a system port that neither TCP
/// nor UDP provides for, with no common use in our notes.
pub(crate) fn ghost(reg: &portent_registry::Registry, port: u16) -> bool {
    use portent_registry::Protocol;
    port < 1024
        && !reg.status(port, Protocol::Tcp).provides_for_listener()
        && !reg.status(port, Protocol::Udp).provides_for_listener()
        && portent_registry::known_use(port, Protocol::Tcp).is_none()
}
