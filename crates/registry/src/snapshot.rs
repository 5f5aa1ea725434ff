//! A newer registry, loaded by the user without rebuilding portent.
//!
//! `portent registry update --file FILE.csv` parses and validates the CSV with the same parser
//! the build uses, then stores a compact binary snapshot (a magic header and the records in
//! postcard encoding) in the user's data directory. Later runs read the snapshot instead of
//! the compiled-in tables: decoding it is a copy of strings, not a CSV parse. The snapshot is
//! written to a temporary file and renamed over the old one, so a failed update leaves the
//! current data in place.
//!
//! Both files are read through the shared bounded reader (`portent-input`) with a size cap
//! ([`MAX_CSV_BYTES`], [`MAX_SNAPSHOT_BYTES`]), so a wrong path (`/dev/zero`, a FIFO, a disk
//! image) is refused instead of filling memory or waiting for a writer.
//!
//! An update killed between writing its temporary file and the rename leaves
//! `.registry.bin.PID.tmp` behind; the next `install` or `remove` deletes such files whose
//! process is gone or that are older than [`STALE_TEMP_AGE`] (a live update's own file is
//! left alone).
//!
//! Errors carry their cause in their own message and do not chain it as `source()`, so a
//! caller printing the chain (`anyhow`'s `{:#}`) shows each cause once.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use portent_iana::Packed;

use crate::{DataSource, Registry};

/// File name of the snapshot inside the data directory.
pub const FILE_NAME: &str = "registry.bin";

/// The largest registry CSV `install` accepts: IANA's file is about 1.1 MB.
pub const MAX_CSV_BYTES: u64 = 16 << 20;

/// The largest snapshot `load` reads (a snapshot is smaller than the CSV it came from).
pub const MAX_SNAPSHOT_BYTES: u64 = 64 << 20;

/// A temporary snapshot this old is left over whatever its process id says (ids are reused).
pub const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

const CSV_FILE: portent_input::Input = portent_input::Input::new("registry file", MAX_CSV_BYTES);
const SNAPSHOT_FILE: portent_input::Input =
    portent_input::Input::new("registry snapshot", MAX_SNAPSHOT_BYTES);

const MAGIC: &[u8; 8] = b"PORTREG\0";
const VERSION: u32 = 1;

/// Errors reading, writing or validating a registry snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file cannot be read: missing, not a regular file, or over its cap.
    #[error("{0}")]
    Read(portent_input::InputError),
    #[error("cannot write {path}: {err}")]
    Write { path: PathBuf, err: std::io::Error },
    #[error(
        "{path} is not a portent registry snapshot or is damaged ({reason}); run `portent registry reset` or update again"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: the file was rejected: {err}")]
    Invalid {
        path: PathBuf,
        err: portent_iana::ParseError,
    },
}

/// Encodes a packed registry as a snapshot.
pub fn encode(packed: &Packed) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    // Serializing into a Vec cannot fail for these types.
    out.extend(postcard::to_allocvec(packed).unwrap_or_default());
    out
}

/// Decodes and checks a snapshot.
pub fn decode(bytes: &[u8]) -> Result<Packed, String> {
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| "wrong magic bytes".to_owned())?;
    let (version, body) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| "truncated header".to_owned())?;
    let version = u32::from_le_bytes(*version);
    if version != VERSION {
        return Err(format!(
            "format version {version}, this portent reads {VERSION}"
        ));
    }
    let packed: Packed = postcard::from_bytes(body).map_err(|e| e.to_string())?;
    let records = packed
        .unpack()
        .map_err(|i| format!("record {i} points outside the text"))?;
    portent_iana::validate(&records).map_err(|e| e.to_string())?;
    drop(records);
    Ok(packed)
}

/// Loads the snapshot in `dir`, if there is one.
pub fn load(dir: &Path) -> Result<Option<Registry>, SnapshotError> {
    let path = dir.join(FILE_NAME);
    let bytes = match SNAPSHOT_FILE.read(&path) {
        Ok(b) => b,
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => {
            return Ok(None);
        }
        // A directory this user may not search (another user's home, after `sudo -u`) hides
        // whether a snapshot exists at all: nothing to warn about on every command. A file
        // that is there but unreadable is still an error.
        Err(e)
            if e.io_kind() == Some(std::io::ErrorKind::PermissionDenied)
                && std::fs::symlink_metadata(&path).is_err() =>
        {
            return Ok(None);
        }
        Err(e) => return Err(SnapshotError::Read(e)),
    };
    let corrupt = |reason: String| SnapshotError::Corrupt {
        path: path.clone(),
        reason,
    };
    let packed = decode(&bytes).map_err(corrupt)?;
    Registry::from_packed(packed, DataSource::Snapshot(path.clone()))
        .map(Some)
        .map_err(|i| corrupt(format!("record {i} is malformed")))
}

/// What an update installed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Installed {
    pub path: PathBuf,
    pub records: usize,
    pub date: String,
}

/// Validates a registry CSV and installs it as the snapshot in `dir`. On any error the
/// existing snapshot (or the compiled-in data) stays in use. Files larger than
/// [`MAX_CSV_BYTES`] are refused. Temporary files of killed updates are removed first.
pub fn install(csv_path: &Path, dir: &Path) -> Result<Installed, SnapshotError> {
    let bytes = CSV_FILE.read(csv_path).map_err(SnapshotError::Read)?;
    let packed =
        portent_iana::parse_and_validate(&bytes).map_err(|err| SnapshotError::Invalid {
            path: csv_path.to_owned(),
            err,
        })?;
    let encoded = encode(&packed);
    let path = dir.join(FILE_NAME);
    let werr = |err| SnapshotError::Write {
        path: path.clone(),
        err,
    };
    fs::create_dir_all(dir).map_err(werr)?;
    remove_stale_temps(dir);
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let result = fs::File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(&encoded)?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(werr(e));
    }
    let records = packed.unpack().unwrap_or_default();
    Ok(Installed {
        path,
        records: records.len(),
        date: portent_iana::data_date(&records).unwrap_or("").to_owned(),
    })
}

/// Deletes `.registry.bin.PID.tmp` files in `dir` left by updates that were killed before
/// their rename: those whose process no longer runs, and any older than [`STALE_TEMP_AGE`].
/// Returns how many were removed. Best effort: a file that cannot be removed stays, and the
/// update goes on (its own temporary file has its own name).
pub fn remove_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let me = std::process::id();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&format!(".{FILE_NAME}.")))
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // A DirEntry's metadata does not follow links: a link named like a temporary file is
        // judged (and removed) as itself.
        let old = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if (old || !process_alive(pid)) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether a process with this id exists (one we may not signal still exists).
#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// Without a way to ask, every process is taken to be alive: only age removes files.
#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// Removes the snapshot in `dir`, returning whether there was one.
pub fn remove(dir: &Path) -> Result<bool, SnapshotError> {
    remove_stale_temps(dir);
    let path = dir.join(FILE_NAME);
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(SnapshotError::Write { path, err }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let reg = Registry::embedded();
        let packed = Packed {
            strings: reg.strings.to_owned(),
            records: reg.packed.to_vec(),
        };
        let bytes = encode(&packed);
        let back = decode(&bytes).unwrap();
        assert_eq!(back, packed);
        let mut bad = packed.clone();
        bad.records[5].text[1] = (u32::MAX - 3, 10);
        assert!(decode(&encode(&bad)).unwrap_err().contains("record 5"));
        assert!(decode(b"nope").is_err());
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
        let mut wrong = bytes.clone();
        wrong[8] = 9;
        assert!(decode(&wrong).unwrap_err().contains("version 9"));
    }

    #[test]
    fn install_rejects_bad_file_and_keeps_current() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.csv");
        fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/iana/service-names-port-numbers.csv"
            ),
            &good,
        )
        .unwrap();
        let data = dir.path().join("data");
        let done = install(&good, &data).unwrap();
        assert_eq!(done.records, Registry::embedded().len());
        let before = fs::read(data.join(FILE_NAME)).unwrap();

        let bad = dir.path().join("bad.csv");
        fs::write(&bad, "Service Name,Port Number\nssh,22\n").unwrap();
        assert!(matches!(
            install(&bad, &data),
            Err(SnapshotError::Invalid { .. })
        ));
        assert_eq!(fs::read(data.join(FILE_NAME)).unwrap(), before);

        let loaded = load(&data).unwrap().unwrap();
        assert_eq!(
            loaded.lookup(22, crate::Protocol::Tcp).service_names(),
            ["ssh"]
        );
        assert_eq!(
            loaded.lookup(797, crate::Protocol::Tcp).status,
            crate::Status::Unassigned
        );
        assert!(remove(&data).unwrap());
        assert!(load(&data).unwrap().is_none());
    }

    /// The whole message a caller prints with `anyhow`'s `{:#}`: the error and its sources.
    fn chain(e: &SnapshotError) -> String {
        let mut s = e.to_string();
        let mut cur = std::error::Error::source(e);
        while let Some(c) = cur {
            s.push_str(&format!(": {c}"));
            cur = c.source();
        }
        s
    }

    #[test]
    fn install_refuses_oversized_files_and_keeps_current() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let good = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/iana/service-names-port-numbers.csv"
        );
        install(Path::new(good), &data).unwrap();
        let before = fs::read(data.join(FILE_NAME)).unwrap();

        // A regular file one byte over the cap (sparse: no 16 MiB written).
        let big = dir.path().join("big.csv");
        fs::File::create(&big)
            .unwrap()
            .set_len(MAX_CSV_BYTES + 1)
            .unwrap();
        let e = install(&big, &data).unwrap_err();
        assert!(
            matches!(e, SnapshotError::Read(portent_input::InputError::TooLarge { limit, .. }) if limit == MAX_CSV_BYTES),
            "{e}"
        );
        assert!(e.to_string().contains("larger than 16 MiB"), "{e}");

        // A device that never ends is refused before it is read; a FIFO with no writer is
        // refused without waiting for one.
        #[cfg(unix)]
        {
            let e = install(Path::new("/dev/zero"), &data).unwrap_err();
            assert!(
                chain(&e).starts_with(
                    "the registry file /dev/zero is a character device, not a regular file"
                ),
                "{e}"
            );
            let fifo = dir.path().join("fifo.csv");
            assert!(
                std::process::Command::new("mkfifo")
                    .arg(&fifo)
                    .status()
                    .unwrap()
                    .success()
            );
            let e = install(&fifo, &data).unwrap_err();
            assert!(chain(&e).contains("is a FIFO (named pipe)"), "{e}");
        }
        assert_eq!(fs::read(data.join(FILE_NAME)).unwrap(), before);

        // Exactly at the cap is read (and then rejected as a CSV, not for its size).
        let full = dir.path().join("full.csv");
        fs::File::create(&full)
            .unwrap()
            .set_len(MAX_CSV_BYTES)
            .unwrap();
        assert!(matches!(
            install(&full, &data),
            Err(SnapshotError::Invalid { .. })
        ));
        assert_eq!(fs::read(data.join(FILE_NAME)).unwrap(), before);
    }

    #[test]
    fn errors_state_their_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = install(&dir.path().join("missing.csv"), dir.path()).unwrap_err();
        let text = chain(&e);
        assert!(text.starts_with("cannot read the registry file "), "{text}");
        assert_eq!(text.matches("os error").count(), 1, "{text}");

        let bad = dir.path().join("bad.csv");
        fs::write(&bad, "not,a,registry\n").unwrap();
        let e = install(&bad, dir.path()).unwrap_err();
        let text = chain(&e);
        assert_eq!(text.matches("header does not match").count(), 1, "{text}");
    }

    /// Finding 7 of issue 13: temporary snapshots of killed updates were left behind.
    #[cfg(unix)]
    #[test]
    fn finding_7_stale_temp_files_are_removed_on_the_next_update() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(&data).unwrap();
        // A process that has exited: its id is free (until reused, which the age rule covers).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let tmp = |pid: u32| data.join(format!(".{FILE_NAME}.{pid}.tmp"));
        fs::write(tmp(dead), b"half a snapshot").unwrap();
        // A live process (this test's parent, which outlives it) whose file is fresh: an
        // update in progress elsewhere, left alone.
        let live = std::os::unix::process::parent_id();
        fs::write(tmp(live), b"in progress").unwrap();
        // A live id, but the file is two hours old: the id was reused; removed.
        let reused = 1;
        fs::write(tmp(reused), b"old").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        fs::File::options()
            .write(true)
            .open(tmp(reused))
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        // Files that only look similar are not ours to remove.
        fs::write(data.join(".registry.bin.x.tmp"), b"").unwrap();
        fs::write(data.join("notes.tmp"), b"").unwrap();

        let good = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/iana/service-names-port-numbers.csv"
        );
        install(Path::new(good), &data).unwrap();
        let mut left: Vec<String> = fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            ".registry.bin.x.tmp".to_string(),
            format!(".registry.bin.{live}.tmp"),
            FILE_NAME.to_string(),
            "notes.tmp".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
        // `reset` cleans too.
        fs::write(tmp(dead), b"again").unwrap();
        assert!(remove(&data).unwrap());
        assert!(!tmp(dead).exists());
    }
}
