//! A newer registry, loaded by the user without rebuilding portent.
//!
//! `portent registry update --file FILE.csv` parses and validates the CSV with the same parser
//! the build uses, then stores a compact binary snapshot (a magic header and the records in
//! postcard encoding) in the user's data directory. Later runs read the snapshot instead of
//! the compiled-in tables: decoding it is a copy of strings, not a CSV parse. The snapshot is
//! written to a temporary file and renamed over the old one, so a failed update leaves the
//! current data in place.
//!
//! Both files are read through a size cap ([`MAX_CSV_BYTES`], [`MAX_SNAPSHOT_BYTES`]), so a
//! wrong path (`/dev/zero`, a FIFO, a disk image) is refused instead of filling memory.
//!
//! Errors carry their cause in their own message and do not chain it as `source()`, so a
//! caller printing the chain (`anyhow`'s `{:#}`) shows each cause once.

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use portent_iana::Packed;

use crate::{DataSource, Registry};

/// File name of the snapshot inside the data directory.
pub const FILE_NAME: &str = "registry.bin";

/// The largest registry CSV `install` accepts: IANA's file is about 1.1 MB.
pub const MAX_CSV_BYTES: u64 = 16 << 20;

/// The largest snapshot `load` reads (a snapshot is smaller than the CSV it came from).
pub const MAX_SNAPSHOT_BYTES: u64 = 64 << 20;

const MAGIC: &[u8; 8] = b"PORTREG\0";
const VERSION: u32 = 1;

/// Errors reading, writing or validating a registry snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error(
        "{path} is larger than {} MiB, the most portent reads from it (IANA's registry CSV is about 1.1 MB); is it the right file?",
        .limit >> 20
    )]
    TooLarge { path: PathBuf, limit: u64 },
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

/// Reads at most `limit` bytes of `path`: reading goes through `take(limit + 1)`, so a device
/// or a FIFO that never ends is refused as well as a large regular file.
fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, SnapshotError> {
    let read_err = |err| SnapshotError::Read {
        path: path.to_owned(),
        err,
    };
    let too_large = || SnapshotError::TooLarge {
        path: path.to_owned(),
        limit,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    let known = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if known.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let hint = known.unwrap_or(0).min(limit);
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
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
    let bytes = match read_capped(&path, MAX_SNAPSHOT_BYTES) {
        Ok(b) => b,
        Err(SnapshotError::Read { err, .. }) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        // A directory this user may not search (another user's home, after `sudo -u`) hides
        // whether a snapshot exists at all: nothing to warn about on every command. A file
        // that is there but unreadable is still an error.
        Err(SnapshotError::Read { err, .. })
            if err.kind() == std::io::ErrorKind::PermissionDenied
                && std::fs::symlink_metadata(&path).is_err() =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
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
/// [`MAX_CSV_BYTES`] are refused.
pub fn install(csv_path: &Path, dir: &Path) -> Result<Installed, SnapshotError> {
    let bytes = read_capped(csv_path, MAX_CSV_BYTES)?;
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

/// Removes the snapshot in `dir`, returning whether there was one.
pub fn remove(dir: &Path) -> Result<bool, SnapshotError> {
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
                "/../../data/iana/service-names-port-numbers.csv"
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
            "/../../data/iana/service-names-port-numbers.csv"
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
            matches!(e, SnapshotError::TooLarge { limit, .. } if limit == MAX_CSV_BYTES),
            "{e}"
        );
        assert!(e.to_string().contains("larger than 16 MiB"), "{e}");

        // A device that never ends: bounded by the cap, not by memory.
        #[cfg(unix)]
        {
            let e = install(Path::new("/dev/zero"), &data).unwrap_err();
            assert!(matches!(e, SnapshotError::TooLarge { .. }), "{e}");
            assert!(
                chain(&e).starts_with("/dev/zero is larger than 16 MiB"),
                "{e}"
            );
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
        assert!(text.starts_with("cannot read "), "{text}");
        assert_eq!(text.matches("os error").count(), 1, "{text}");

        let bad = dir.path().join("bad.csv");
        fs::write(&bad, "not,a,registry\n").unwrap();
        let e = install(&bad, dir.path()).unwrap_err();
        let text = chain(&e);
        assert_eq!(text.matches("header does not match").count(), 1, "{text}");
    }
}
