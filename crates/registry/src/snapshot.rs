//! A newer registry, loaded by the user without rebuilding portent.
//!
//! `portent registry update --file FILE.csv` parses and validates the CSV with the same parser
//! the build uses, then stores a compact binary snapshot (a magic header and the records in
//! postcard encoding) in the user's data directory. Later runs read the snapshot instead of
//! the compiled-in tables: decoding it is a copy of strings, not a CSV parse. The snapshot is
//! written to a temporary file and renamed over the old one, so a failed update leaves the
//! current data in place.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use portent_iana::Packed;

use crate::{DataSource, Registry};

/// File name of the snapshot inside the data directory.
pub const FILE_NAME: &str = "registry.bin";

const MAGIC: &[u8; 8] = b"PORTREG\0";
const VERSION: u32 = 1;

/// Errors reading, writing or validating a registry snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a portent registry snapshot or is damaged ({reason}); run `portent registry reset` or update again"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: the file was rejected: {source}")]
    Invalid {
        path: PathBuf,
        source: portent_iana::ParseError,
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
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SnapshotError::Read { path, source }),
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
/// existing snapshot (or the compiled-in data) stays in use.
pub fn install(csv_path: &Path, dir: &Path) -> Result<Installed, SnapshotError> {
    let bytes = fs::read(csv_path).map_err(|source| SnapshotError::Read {
        path: csv_path.to_owned(),
        source,
    })?;
    let packed =
        portent_iana::parse_and_validate(&bytes).map_err(|source| SnapshotError::Invalid {
            path: csv_path.to_owned(),
            source,
        })?;
    let encoded = encode(&packed);
    let path = dir.join(FILE_NAME);
    let werr = |source| SnapshotError::Write {
        path: path.clone(),
        source,
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
        Err(source) => Err(SnapshotError::Write { path, source }),
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
}
