//! The live view of this machine's listeners, shared by all requests.
//!
//! Listing sockets costs a netlink dump and a `/proc` scan (milliseconds), far more than
//! rendering a page, so one snapshot serves every request for `ttl`. When it is older, the
//! next request starts one refresh in the background and is answered from the old snapshot
//! (stale while revalidating): under load there is at most one listing in flight and no
//! request waits for one, except the very first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portent_local::listening::{Listing, Query};

/// Where listings come from: the real kernel, or a fake in tests.
pub type Source = Arc<dyn Fn() -> Result<Listing, String> + Send + Sync>;

/// The kernel's listeners, in portent's own network namespace.
pub fn system_source() -> Source {
    Arc::new(|| portent_local::listening::listening(&Query::default()).map_err(|e| e.to_string()))
}

/// One listing and when it was taken.
#[derive(Debug)]
pub struct Snapshot {
    pub listing: Result<Listing, String>,
    pub taken: Instant,
    /// Increases with every refresh, so derived data (the grid image) can be cached per
    /// snapshot.
    pub generation: u64,
}

pub struct Live {
    ttl: Duration,
    source: Source,
    current: Mutex<Option<Arc<Snapshot>>>,
    refreshing: Arc<AtomicBool>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Live {
    pub fn new(source: Source, ttl: Duration) -> Live {
        Live {
            ttl,
            source,
            current: Mutex::new(None),
            refreshing: Arc::new(AtomicBool::new(false)),
        }
    }

    fn stored(&self) -> Option<Arc<Snapshot>> {
        self.current.lock().ok().and_then(|g| g.clone())
    }

    fn store(
        current: &Mutex<Option<Arc<Snapshot>>>,
        listing: Result<Listing, String>,
    ) -> Arc<Snapshot> {
        let mut g = match current.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let generation = g.as_ref().map_or(1, |s| s.generation + 1);
        let snap = Arc::new(Snapshot {
            listing,
            taken: Instant::now(),
            generation,
        });
        *g = Some(snap.clone());
        snap
    }

    /// The current snapshot; takes the first one if there is none yet.
    pub async fn get(self: &Arc<Self>) -> Arc<Snapshot> {
        if let Some(s) = self.stored() {
            if s.taken.elapsed() >= self.ttl && !self.refreshing.swap(true, Ordering::AcqRel) {
                let me = self.clone();
                tokio::task::spawn_blocking(move || {
                    // Cleared on drop, so a refresh that fails in any way never blocks the
                    // next one.
                    struct Clear(Arc<AtomicBool>);
                    impl Drop for Clear {
                        fn drop(&mut self) {
                            self.0.store(false, Ordering::Release);
                        }
                    }
                    let _clear = Clear(me.refreshing.clone());
                    let listing = (me.source)();
                    Live::store(&me.current, listing);
                });
            }
            return s;
        }
        let me = self.clone();
        let listing = tokio::task::spawn_blocking(move || (me.source)())
            .await
            .unwrap_or_else(|e| Err(format!("listing task failed: {e}")));
        Live::store(&self.current, listing)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn empty() -> Listing {
        Listing {
            listeners: vec![],
            hidden: vec![],
            root: false,
            netns: None,
            limits: vec![],
            netns_facts: None,
        }
    }

    #[tokio::test]
    async fn serves_stale_and_refreshes_in_the_background() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let source: Source = Arc::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(empty())
        });
        let live = Arc::new(Live::new(source, Duration::ZERO));
        let first = live.get().await;
        assert_eq!(first.generation, 1);
        // Stale at once (ttl 0): answered from the old snapshot, one refresh started.
        let again = live.get().await;
        assert_eq!(again.generation, 1);
        for _ in 0..200 {
            if live.stored().unwrap().generation == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(live.stored().unwrap().generation, 2);
        assert!(calls.load(Ordering::SeqCst) >= 2);

        let long = Arc::new(Live::new(
            Arc::new(|| Ok(empty())),
            Duration::from_secs(3600),
        ));
        let a = long.get().await;
        let b = long.get().await;
        assert!(Arc::ptr_eq(&a, &b));
    }
}
