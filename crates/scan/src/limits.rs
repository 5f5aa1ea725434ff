//! The open-file limit. Every attempt in flight holds a descriptor; the soft limit is raised
//! to the hard limit at start, and the engine sizes its window to what that gives, keeping a
//! reserve for everything else (stdout, the reactor, the progress bar, a store).

/// Descriptors kept back from the scan.
pub const RESERVE: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (as far as the OS allows) and returns
/// the soft limit in force afterwards.
#[cfg(unix)]
pub fn raise_nofile() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::Resource::NOFILE
            .get()
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}

/// Attempts that may be in flight with `limit` descriptors.
pub fn budget(limit: u64) -> u64 {
    limit.saturating_sub(RESERVE).max(1)
}
